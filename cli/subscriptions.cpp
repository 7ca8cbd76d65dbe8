// cli/subscriptions.cpp: the `rillflow subscriptions` commands: create, drop, list, status,
// tail (poll, print and ack), consumer groups and their settings, acks by hand, the dead
// letters and the lag of every subscription.
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>

#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

// The consumer id of CLI commands unless --consumer is given: one for every run, so a tail
// run again (or an ack by hand after it) acts as the same consumer and holds the same lease.
constexpr const char* kCliConsumer = "rillflow-cli";

Json info_json(const SubscriptionInfo& s) { return Json::parse(s.row.dump()); }
Json group_json(const GroupStatus& g) { return Json::parse(g.row.dump()); }

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
    return out;
}

std::optional<std::string> opt_group(const std::string& g) {
    return g.empty() ? std::nullopt : std::optional<std::string>(g);
}

}  // namespace

void add_subscriptions_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* subs = app.add_subcommand("subscriptions", "Subscriptions, consumer groups, acks");
    subs->require_subcommand(1);

    {
        struct Args {
            std::string name;
            std::vector<std::string> types, categories, streams;
            std::string headers;
            std::int64_t start_from = 0;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = subs->add_subcommand("create", "Create a filtered subscription");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("--event-type,--types", a->types,
                        "Only these event types (repeat or comma-separate)")
            ->delimiter(',');
        cmd->add_option("--category", a->categories, "Only streams of these categories")
            ->delimiter(',');
        cmd->add_option("--stream", a->streams, "Only these streams (uuid or alias)")
            ->delimiter(',');
        cmd->add_option("--headers", a->headers,
                        "Only events whose headers contain this JSON object");
        cmd->add_option("--start-from", a->start_from, "Start after this position (default 0)")
            ->check(at_least(0));
        commands.add(cmd, [&ctx, a] {
            SubscriptionFilter f;
            f.event_types = a->types;
            f.categories = a->categories;
            for (const auto& s : a->streams) f.stream_ids.push_back(ctx.stream(s).id);
            if (!a->headers.empty())
                f.headers = parse_json(a->headers, "--headers", "{\"source\": \"web\"}");
            f.start_from = a->start_from;
            ctx.store().subscriptions().create(a->name, f);
            if (ctx.json)
                print_json({{"subscription", a->name}, {"created", true}});
            else
                print_line("created subscription " + a->name);
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        CLI::App* cmd =
            subs->add_subcommand("drop", "Drop a subscription, its groups and dead letters");
        cmd->add_option("name", *n, "The subscription")->required();
        commands.add(cmd, [&ctx, n] {
            ctx.store().subscriptions().drop(*n);
            if (ctx.json)
                print_json({{"subscription", *n}, {"dropped", true}});
            else
                print_line("dropped subscription " + *n);
            return 0;
        });
    }
    {
        CLI::App* cmd = subs->add_subcommand("list", "List the subscriptions");
        commands.add(cmd, [&ctx] {
            auto list = ctx.store().subscriptions().list();
            if (ctx.json) {
                Json arr = Json::array();
                for (const auto& s : list) arr.push_back(info_json(s));
                print_json({{"subscriptions", arr}});
                return 0;
            }
            for (const auto& s : list) {
                std::string line = s.name;
                if (!s.filter.event_types.empty()) line += "  types " + join(s.filter.event_types);
                if (!s.filter.categories.empty())
                    line += "  categories " + join(s.filter.categories);
                if (!s.filter.stream_ids.empty())
                    line += "  streams " + std::to_string(s.filter.stream_ids.size());
                if (!s.filter.headers.is_null()) line += "  headers " + s.filter.headers.dump();
                line += "  start_from " + std::to_string(s.filter.start_from) + "  groups " +
                        std::to_string(s.groups);
                print_line(line);
            }
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        CLI::App* cmd =
            subs->add_subcommand("status", "A subscription's filters, checkpoint and lag");
        cmd->add_option("name", *n, "The subscription")->required();
        commands.add(cmd, [&ctx, n] {
            print_json(info_json(ctx.store().subscriptions().status(*n)));
            return 0;
        });
    }
    {
        struct Args {
            std::string name, group, consumer = kCliConsumer;
            std::optional<std::int64_t> limit;
            bool follow = false, no_ack = false;
            int interval_ms = 1000;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = subs->add_subcommand(
            "tail", "Poll the subscription, print the events and ack them; --follow keeps going");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("--group", a->group, "Poll as a consumer of this group");
        cmd->add_option("--consumer", a->consumer, "The consumer id (default rillflow-cli)");
        cmd->add_option("--limit", a->limit, "Print at most N events")->check(at_least(1));
        cmd->add_flag("--follow,-f", a->follow, "Wait for new events until interrupted (LISTEN)");
        cmd->add_flag("--no-ack", a->no_ack,
                      "Leave the events in flight: delivered again when their lease runs out");
        cmd->add_option("--interval", a->interval_ms,
                        "With --follow: the longest wait between polls in ms (default 1000)")
            ->check(CLI::Range(1, 60000));
        commands.add(cmd, [&ctx, a] {
            SubscriptionOptions o;
            o.group = opt_group(a->group);
            o.consumer = a->consumer;
            o.poll_interval = std::chrono::milliseconds(a->interval_ms);
            o.batch_size = 1;  // next() takes no more than it prints
            Subscriptions subs = ctx.store().subscriptions();
            (void)subs.status(a->name);  // RF004 before anything else
            Subscription s = subs.subscribe(a->name, {}, o);
            std::optional<std::int64_t> left = a->limit;
            Json list = Json::array();
            g_stop = false;
            if (a->follow) {
                std::signal(SIGINT, on_signal);
                std::signal(SIGTERM, on_signal);
            }
            while (!g_stop && (!left || *left > 0)) {
                int want = 100;
                if (left && *left < want) want = static_cast<int>(*left);
                auto batch = s.poll(want);
                std::vector<std::int64_t> positions;
                for (const auto& e : batch) {
                    if (ctx.json && !a->follow)
                        list.push_back(to_json(e));
                    else if (ctx.json)
                        print_json(to_json(e), true);
                    else
                        print_line(to_line(e));
                    positions.push_back(*e.position);
                }
                std::cout.flush();
                if (!a->no_ack && !positions.empty()) s.ack(positions);
                if (left) *left -= static_cast<std::int64_t>(batch.size());
                if (!batch.empty()) continue;
                if (!a->follow) break;
                // Idle: wait for the worker's NOTIFY (at most --interval) for one event.
                if (auto e = s.next(std::chrono::milliseconds(a->interval_ms))) {
                    if (ctx.json)
                        print_json(to_json(*e), true);
                    else
                        print_line(to_line(*e));
                    std::cout.flush();
                    if (!a->no_ack) s.ack(*e->position);
                    if (left) --*left;
                }
            }
            if (a->follow) {
                std::signal(SIGINT, SIG_DFL);
                std::signal(SIGTERM, SIG_DFL);
            }
            if (ctx.json && !a->follow) print_json({{"subscription", a->name}, {"events", list}});
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        CLI::App* cmd = subs->add_subcommand("groups", "A subscription's consumer groups");
        cmd->add_option("name", *n, "The subscription")->required();
        commands.add(cmd, [&ctx, n] {
            auto groups = ctx.store().subscriptions().groups(*n);
            if (ctx.json) {
                Json arr = Json::array();
                for (const auto& g : groups) arr.push_back(group_json(g));
                print_json({{"subscription", *n}, {"groups", arr}});
                return 0;
            }
            for (const auto& g : groups)
                print_line(g.group + "  checkpoint " + std::to_string(g.checkpoint) + "  lag " +
                           std::to_string(g.lag) + "  in_flight " + std::to_string(g.in_flight) +
                           (g.max_in_flight ? "/" + std::to_string(*g.max_in_flight) : "") +
                           (g.ordered ? "  ordered" : ""));
            return 0;
        });
    }
    {
        struct Args {
            std::string name, group;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd =
            subs->add_subcommand("group-status", "A consumer group's state and consumers");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("--group", a->group, "The group (default: the single consumer)");
        commands.add(cmd, [&ctx, a] {
            print_json(group_json(ctx.store().subscriptions().group_status(a->name, a->group)));
            return 0;
        });
    }
    {
        struct Args {
            std::string name, group;
            std::optional<int> value;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = subs->add_subcommand("set-group-max-in-flight",
                                             "Bound the events a group has out at once");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("--group", a->group, "The group")->required();
        cmd->add_option("--value", a->value, "The bound (leave out to unset it)")
            ->check(at_least(1));
        commands.add(cmd, [&ctx, a] {
            ctx.store().subscriptions().set_group_max_in_flight(a->name, a->group, a->value);
            if (ctx.json)
                print_json({{"subscription", a->name},
                            {"group", a->group},
                            {"max_in_flight", a->value ? Json(*a->value) : Json()}});
            else
                print_line("group " + a->group + " max_in_flight " +
                           (a->value ? std::to_string(*a->value) : std::string("unset")));
            return 0;
        });
    }
    {
        struct Args {
            std::string name, group;
            std::optional<bool> ordered;
            std::optional<int> max_deliveries;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd =
            subs->add_subcommand("configure-group", "Set a group's ordering and max deliveries");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("--group", a->group, "The group")->required();
        cmd->add_option("--ordered", a->ordered, "true: a stream's events one at a time, in order");
        cmd->add_option("--max-deliveries", a->max_deliveries,
                        "Deliveries before an event is dead-lettered")
            ->check(at_least(1));
        commands.add(cmd, [&ctx, a] {
            ctx.store().subscriptions().configure_group(a->name, a->group, a->ordered,
                                                        a->max_deliveries);
            print_json(group_json(ctx.store().subscriptions().group_status(a->name, a->group)));
            return 0;
        });
    }
    {
        struct Args {
            std::string name, group, consumer = kCliConsumer;
            std::vector<std::int64_t> positions;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = subs->add_subcommand("ack", "Ack delivered events by hand");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("positions", a->positions, "The positions")->required();
        cmd->add_option("--group", a->group, "The group");
        cmd->add_option("--consumer", a->consumer, "The consumer they were delivered to");
        commands.add(cmd, [&ctx, a] {
            SubscriptionOptions o;
            o.group = opt_group(a->group);
            o.consumer = a->consumer;
            Subscriptions subs = ctx.store().subscriptions();
            (void)subs.status(a->name);
            subs.subscribe(a->name, {}, o).ack(a->positions);
            if (ctx.json)
                print_json({{"subscription", a->name}, {"acked", a->positions}});
            else
                print_line("acked " + std::to_string(a->positions.size()));
            return 0;
        });
    }
    {
        struct Args {
            std::string name, group;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = subs->add_subcommand("dlq-list", "A group's dead-lettered events");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("--group", a->group, "The group (default: the single consumer)");
        commands.add(cmd, [&ctx, a] {
            auto rows = ctx.store().subscriptions().dlq_list(a->name, opt_group(a->group));
            if (ctx.json) {
                print_json({{"subscription", a->name}, {"dead_letters", rows}});
                return 0;
            }
            for (const auto& r : rows)
                print_line(std::to_string(r["position"].get<std::int64_t>()) + "  " +
                           r["type"].get<std::string>() + "  deliveries " +
                           std::to_string(r["deliveries"].get<int>()));
            return 0;
        });
    }
    for (const char* verb : {"dlq-requeue", "dlq-delete"}) {
        struct Args {
            std::string name, group;
            std::vector<std::int64_t> positions;
        };
        auto a = std::make_shared<Args>();
        const bool requeue = std::string(verb) == "dlq-requeue";
        CLI::App* cmd = subs->add_subcommand(
            verb, requeue ? "Deliver dead letters again" : "Delete dead letters");
        cmd->add_option("name", a->name, "The subscription")->required();
        cmd->add_option("--group", a->group, "The group (default: the single consumer)");
        cmd->add_option("--position", a->positions, "Only these positions (default: all)")
            ->delimiter(',');
        commands.add(cmd, [&ctx, a, requeue] {
            Subscriptions subs = ctx.store().subscriptions();
            const int n = requeue ? subs.dlq_requeue(a->name, opt_group(a->group), a->positions)
                                  : subs.dlq_delete(a->name, opt_group(a->group), a->positions);
            if (ctx.json)
                print_json({{"subscription", a->name}, {requeue ? "requeued" : "deleted", n}});
            else
                print_line(std::string(requeue ? "requeued " : "deleted ") + std::to_string(n));
            return 0;
        });
    }
    {
        CLI::App* cmd = subs->add_subcommand("lag", "The lag of every subscription and group");
        commands.add(cmd, [&ctx] {
            auto rows = ctx.store().subscriptions().lag();
            if (ctx.json) {
                print_json({{"lag", rows}});
                return 0;
            }
            for (const auto& r : rows)
                print_line(r["subscription"].get<std::string>() +
                           (r["group_name"].is_string() ? "/" + r["group_name"].get<std::string>()
                                                        : std::string()) +
                           "  checkpoint " + std::to_string(r["checkpoint"].get<std::int64_t>()) +
                           "  lag " + std::to_string(r["lag"].get<std::int64_t>()));
            return 0;
        });
    }
}

}  // namespace rillflow::cli
