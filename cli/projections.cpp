// cli/projections.cpp: the `rillflow projections` commands: admin of every projection, the
// dead-letter queue, the daemon cluster, and `run-loop`, which runs the store's in-database
// (worker-kind) projections from outside the server (for servers without the background
// worker) as a node of an optional hot/cold cluster, with the health endpoint. C++ handlers
// are compiled into applications that link the client's ProjectionDaemon instead.
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rillflow/health_server.hpp>

#include "context.hpp"
#include "output.hpp"
#include "progress.hpp"

namespace rillflow::cli {

namespace {

// The projections run-once and run-until-idle run: `name` alone, or (empty) every in-database
// projection that is running.
std::vector<std::string> worker_projections(const Projections& p, const std::string& name) {
    if (!name.empty()) return {name};
    std::vector<std::string> names;
    for (const auto& s : p.list())
        if (s.kind == "worker" && s.status == "running") names.push_back(s.name);
    return names;
}

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

Json status_json(const ProjectionStatus& s) {
    Json j = Json::parse(s.row.dump());
    if (!j.contains("name")) j["name"] = s.name;
    return j;
}

void print_status(const Context& ctx, const std::vector<ProjectionStatus>& list) {
    if (ctx.json) {
        Json arr = Json::array();
        for (const auto& s : list) arr.push_back(status_json(s));
        print_json({{"projections", arr}});
        return;
    }
    for (const auto& s : list)
        print_line(s.name + "  " + s.kind + "  " + s.status + "  checkpoint " +
                   std::to_string(s.checkpoint) + "  lag " + std::to_string(s.lag));
}

}  // namespace

void add_projections_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* proj = app.add_subcommand("projections", "Projections, their DLQ and daemons");
    proj->require_subcommand(1);

    auto simple = [&](const char* name, const char* help, auto fn) {
        auto n = std::make_shared<std::string>();
        CLI::App* cmd = proj->add_subcommand(name, help);
        cmd->add_option("name", *n, "The projection")->required();
        commands.add(cmd, [&ctx, n, fn, name] {
            fn(ctx.store().projections(), *n);
            if (ctx.json)
                print_json({{"projection", *n}, {"done", name}});
            else
                print_line(std::string(name) + ": " + *n);
            return 0;
        });
    };

    {
        CLI::App* cmd = proj->add_subcommand("list", "List the projections");
        commands.add(cmd, [&ctx] {
            print_status(ctx, ctx.store().projections().list());
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        CLI::App* cmd = proj->add_subcommand("status", "One projection's state");
        cmd->add_option("name", *n, "The projection")->required();
        commands.add(cmd, [&ctx, n] {
            ProjectionStatus s = ctx.store().projections().status(*n);
            if (ctx.json)
                print_json(status_json(s));
            else
                print_json(status_json(s));
            return 0;
        });
    }
    simple("pause", "Stop ticking a projection",
           [](const Projections& p, const std::string& n) { p.pause(n); });
    simple("resume", "Tick a projection again",
           [](const Projections& p, const std::string& n) { p.resume(n); });
    {
        struct Args {
            std::string name;
            bool wait = false;
            int timeout = 600;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = proj->add_subcommand(
            "rebuild", "Clear (reset function) and replay a projection from 0");
        cmd->add_option("name", a->name, "The projection")->required();
        cmd->add_flag("--wait", a->wait,
                      "Wait until it has replayed up to the head (a worker-kind projection is "
                      "replayed here, in batches; progress on a terminal)");
        cmd->add_option("--timeout", a->timeout, "With --wait: give up after this many seconds")
            ->check(at_least(1));
        commands.add(cmd, [&ctx, a] {
            Projections p = ctx.store().projections();
            p.rebuild(a->name);
            Json out = {{"projection", a->name}, {"done", "rebuild"}};
            if (a->wait) {
                Progress progress(ctx, "rebuild " + a->name);
                const auto deadline =
                    std::chrono::steady_clock::now() + std::chrono::seconds(a->timeout);
                ProjectionStatus s = p.status(a->name);
                const std::int64_t target = s.head;
                while (s.checkpoint < target && s.status != "failed") {
                    if (std::chrono::steady_clock::now() > deadline) {
                        progress.done();
                        invalid("57014",
                                "projection \"" + a->name + "\" did not replay to position " +
                                    std::to_string(target) + " within " +
                                    std::to_string(a->timeout) + " s (checkpoint " +
                                    std::to_string(s.checkpoint) + ")",
                                "It goes on in the background; see `projections status`.");
                    }
                    if (s.kind == "worker") {
                        if (p.run_once(a->name, 10) == 0)
                            std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    } else {
                        std::this_thread::sleep_for(std::chrono::milliseconds(200));
                    }
                    s = p.status(a->name);
                    progress.count(s.checkpoint, target, "positions");
                }
                progress.done();
                out["checkpoint"] = s.checkpoint;
                out["status"] = s.status;
            }
            if (ctx.json)
                print_json(out);
            else
                print_line("rebuild: " + a->name +
                           (a->wait ? " (checkpoint " + out["checkpoint"].dump() + ")" : ""));
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        auto pos = std::make_shared<long long>(0);
        CLI::App* cmd = proj->add_subcommand("reset-checkpoint", "Move a projection's checkpoint");
        cmd->add_option("name", *n, "The projection")->required();
        // `reset-checkpoint NAME 0` (the seed's spelling) or `--position 0`: exactly one
        auto* positional =
            cmd->add_option("position", *pos, "The new checkpoint")->check(at_least(0));
        auto* named = cmd->add_option("--position", *pos, "The new checkpoint")->check(at_least(0));
        positional->excludes(named);
        cmd->callback([positional, named] {
            if (positional->count() == 0 && named->count() == 0)
                throw CLI::RequiredError("position (or --position)");
        });
        commands.add(cmd, [&ctx, n, pos] {
            ctx.store().projections().reset(*n, *pos);
            if (ctx.json)
                print_json({{"projection", *n}, {"checkpoint", *pos}});
            else
                print_line("reset " + *n + " to " + std::to_string(*pos));
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        auto batches = std::make_shared<int>(1);
        CLI::App* cmd =
            proj->add_subcommand("run-once", "Run batches of in-database projections, once");
        cmd->add_option("--name", *n, "Only this projection (default: every running worker one)");
        cmd->add_option("--max-batches", *batches, "At most this many batches each")
            ->check(at_least(1));
        commands.add(cmd, [&ctx, n, batches] {
            Projections p = ctx.store().projections();
            const std::vector<std::string> names = worker_projections(p, *n);
            Json each = Json::object();
            std::int64_t applied = 0;
            for (const auto& name : names) {
                std::int64_t one = p.run_once(name, *batches);
                each[name] = one;
                applied += one;
            }
            if (ctx.json) {
                if (!n->empty())
                    print_json({{"projection", *n}, {"applied", applied}});
                else
                    print_json({{"projections", each}, {"applied", applied}});
            } else {
                print_line("applied " + std::to_string(applied));
            }
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        CLI::App* cmd =
            proj->add_subcommand("run-until-idle", "Run in-database projections until idle");
        cmd->add_option("--name", *n, "Only this projection (default: all)");
        commands.add(cmd, [&ctx, n] {
            // Batches until each projection has nothing left (as run_projections_until_idle
            // does in one statement), so that a terminal can see the progress.
            Projections p = ctx.store().projections();
            const std::vector<std::string> names = worker_projections(p, *n);
            Progress progress(ctx, "run-until-idle");
            std::int64_t applied = 0;
            for (std::size_t i = 0; i < names.size(); ++i) {
                std::int64_t checkpoint = p.status(names[i]).checkpoint;
                for (;;) {
                    const std::int64_t one = p.run_once(names[i], 10);
                    applied += one;
                    progress.update(names[i] + " (" + std::to_string(i + 1) + "/" +
                                    std::to_string(names.size()) + "), " + std::to_string(applied) +
                                    " events applied");
                    if (one > 0) continue;
                    // Nothing applied: idle, unless the batch moved past a dead letter.
                    const std::int64_t now = p.status(names[i]).checkpoint;
                    if (now == checkpoint) break;
                    checkpoint = now;
                }
            }
            progress.done();
            if (ctx.json)
                print_json({{"applied", applied}});
            else
                print_line("applied " + std::to_string(applied));
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        auto limit = std::make_shared<int>(100);
        CLI::App* cmd = proj->add_subcommand("dlq-list", "A projection's dead-lettered events");
        cmd->add_option("name", *n, "The projection")->required();
        cmd->add_option("--limit", *limit, "At most this many")->check(at_least(1));
        commands.add(cmd, [&ctx, n, limit] {
            auto rows = ctx.store().projections().dlq_list(*n, *limit);
            Json arr = Json::array();
            for (const auto& r : rows) arr.push_back(Json::parse(r.dump()));
            if (ctx.json) {
                print_json({{"projection", *n}, {"dead_letters", arr}});
            } else {
                for (const auto& r : rows)
                    print_line(r.value("id", nlohmann::json()).dump() + "  position " +
                               r.value("position", nlohmann::json()).dump() + "  " +
                               r.value("sqlstate", nlohmann::json()).dump() + "  " +
                               r.value("message", nlohmann::json()).dump());
            }
            return 0;
        });
    }
    for (const char* verb : {"dlq-requeue", "dlq-delete"}) {
        auto n = std::make_shared<std::string>();
        auto id = std::make_shared<long long>(0);
        const bool requeue = std::string(verb) == "dlq-requeue";
        CLI::App* cmd =
            proj->add_subcommand(verb, requeue ? "Re-apply a dead-lettered event on the next tick"
                                               : "Delete a dead-lettered event");
        cmd->add_option("name", *n, "The projection")->required();
        cmd->add_option("--id", *id, "The dead letter's id")->required()->check(at_least(1));
        commands.add(cmd, [&ctx, n, id, requeue, verb] {
            if (requeue)
                ctx.store().projections().dlq_requeue(*n, *id);
            else
                ctx.store().projections().dlq_delete(*n, *id);
            if (ctx.json)
                print_json({{"projection", *n}, {"id", *id}, {"done", verb}});
            else
                print_line(std::string(verb) + ": " + *n + " #" + std::to_string(*id));
            return 0;
        });
    }
    {
        auto n = std::make_shared<std::string>();
        CLI::App* cmd = proj->add_subcommand("metrics", "A projection's metrics");
        cmd->add_option("name", *n, "The projection")->required();
        commands.add(cmd, [&ctx, n] {
            print_json(Json::parse(ctx.store().projections().metrics(*n).dump()));
            return 0;
        });
    }
    {
        struct Args {
            std::string cluster;
            int standbys = 0;
            bool unset = false;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = proj->add_subcommand(
            "cluster-standbys",
            "Store a cluster's min_cold_standbys in the database (its daemons' health uses it)");
        cmd->add_option("--cluster,--cluster-name", a->cluster, "The cluster")->required();
        auto* n = cmd->add_option("--min-cold-standbys", a->standbys,
                                  "Alive cold standbys a healthy cluster has")
                      ->check(CLI::Range(0, 1000));
        auto* u = cmd->add_flag("--unset", a->unset,
                                "Unset it: each daemon goes by its own --min-cold-standbys");
        n->excludes(u);
        cmd->callback([n, u] {
            if (n->count() == 0 && u->count() == 0)
                throw CLI::RequiredError("--min-cold-standbys (or --unset)");
        });
        commands.add(cmd, [&ctx, a] {
            std::optional<int> value;
            if (!a->unset) value = a->standbys;
            ctx.store().projections().set_min_cold_standbys(a->cluster, value);
            if (ctx.json)
                print_json({{"cluster", a->cluster},
                            {"min_cold_standbys", value ? Json(*value) : Json()}});
            else
                print_line(a->cluster + ": min_cold_standbys " +
                           (value ? std::to_string(*value) : std::string("unset")));
            return 0;
        });
    }
    {
        auto c = std::make_shared<std::string>();
        CLI::App* cmd = proj->add_subcommand(
            "cluster-status", "The nodes of a daemon cluster (without --cluster: every cluster)");
        cmd->add_option("--cluster,--cluster-name", *c, "The cluster");
        commands.add(cmd, [&ctx, c] {
            if (c->empty()) {
                Json arr = Json::array();
                for (const auto& s : ctx.store().projections().list_clusters()) {
                    arr.push_back(
                        {{"cluster", s.cluster},
                         {"hot_node", s.hot_node ? Json(*s.hot_node) : Json()},
                         {"lease_seconds", s.lease_seconds ? Json(*s.lease_seconds) : Json()},
                         {"token", s.token},
                         {"nodes", s.nodes}});
                    if (!ctx.json)
                        print_line(s.cluster + "  hot " + s.hot_node.value_or("(none)") + "  " +
                                   std::to_string(s.nodes) + " nodes  token " +
                                   std::to_string(s.token));
                }
                if (ctx.json) print_json({{"clusters", arr}});
                return 0;
            }
            auto nodes = ctx.store().projections().cluster_status(*c);
            Json arr = Json::array();
            for (const auto& n : nodes) {
                Json j = {{"node", n.node},
                          {"role", n.role},
                          {"alive", n.alive},
                          {"hostname", n.hostname ? Json(*n.hostname) : Json()},
                          {"pid", n.pid ? Json(*n.pid) : Json()},
                          {"heartbeat_age_seconds", n.heartbeat_age_seconds},
                          {"lease_seconds", n.lease_seconds ? Json(*n.lease_seconds) : Json()},
                          {"token", n.token ? Json(*n.token) : Json()}};
                arr.push_back(j);
                if (!ctx.json)
                    print_line(n.node + "  " + n.role + (n.alive ? "  alive" : "  dead") +
                               "  heartbeat " + std::to_string(n.heartbeat_age_seconds) + "s ago");
            }
            if (ctx.json) print_json({{"cluster", *c}, {"nodes", arr}});
            return 0;
        });
    }
    for (const char* verb : {"promote", "demote"}) {
        auto c = std::make_shared<std::string>();
        auto node = std::make_shared<std::string>();
        const bool promote = std::string(verb) == "promote";
        CLI::App* cmd = proj->add_subcommand(
            verb, promote ? "Make a node the hot one now" : "Take the hot lease from a node");
        cmd->add_option("--cluster,--cluster-name", *c, "The cluster")->required();
        auto* positional = cmd->add_option("node", *node, "The node id");
        auto* named = cmd->add_option("--node", *node, "The node id");
        positional->excludes(named);
        if (promote)
            cmd->callback([positional, named] {
                if (positional->count() == 0 && named->count() == 0)
                    throw CLI::RequiredError("node (or --node)");
            });
        commands.add(cmd, [&ctx, c, node, promote] {
            Projections p = ctx.store().projections();
            if (!promote && node->empty()) {
                // demote whoever is hot
                for (const auto& n : p.cluster_status(*c))
                    if (n.role == "hot") *node = n.node;
                if (node->empty()) {
                    if (ctx.json)
                        print_json({{"cluster", *c}, {"node", nullptr}, {"was_hot", false}});
                    else
                        print_line("no node of " + *c + " is hot");
                    return 0;
                }
            }
            if (promote) {
                std::int64_t token = p.cluster_promote(*c, *node);
                if (ctx.json)
                    print_json({{"cluster", *c}, {"hot", *node}, {"token", token}});
                else
                    print_line(*node + " is hot (token " + std::to_string(token) + ")");
            } else {
                bool was_hot = p.cluster_demote(*c, *node);
                if (ctx.json)
                    print_json({{"cluster", *c}, {"node", *node}, {"was_hot", was_hot}});
                else
                    print_line(*node + (was_hot ? " demoted" : " was not hot"));
            }
            return 0;
        });
    }
    {
        struct RunLoop {
            std::string name, mode = "none", cluster, node, health;
            double heartbeat = 1, ttl = 5, grace = 0, poll = 1;
            int standbys = 0;
            bool use_notify = true;
        };
        auto o = std::make_shared<RunLoop>();
        CLI::App* cmd = proj->add_subcommand(
            "run-loop", "Run in-database projections from here until SIGINT/SIGTERM");
        cmd->add_option("--name", o->name, "Only this projection (default: every worker-kind one)");
        cmd->add_option("--cluster-mode", o->mode, "none or hotcold")
            ->check(CLI::IsMember({"none", "hotcold"}));
        cmd->add_option("--cluster,--cluster-name", o->cluster, "The hot/cold cluster");
        cmd->add_option("--node-id", o->node, "This node's id (default: host-pid)");
        cmd->add_option("--use-notify", o->use_notify,
                        "true: wake on the worker's NOTIFY as well as polling; false: poll only")
            ->check(CLI::IsMember({"true", "false"}));
        cmd->add_option("--heartbeat-secs", o->heartbeat, "Heartbeat interval")
            ->check(CLI::PositiveNumber);
        cmd->add_option("--lease-ttl-secs", o->ttl, "Hot lease TTL")->check(CLI::PositiveNumber);
        cmd->add_option("--lease-grace-secs", o->grace, "Grace after expiry")
            ->check(CLI::NonNegativeNumber);
        cmd->add_option("--min-cold-standbys", o->standbys, "Standbys a healthy cluster has")
            ->check(at_least(0));
        cmd->add_option("--poll-secs", o->poll, "Longest wait without a notification")
            ->check(CLI::PositiveNumber);
        cmd->add_option("--health-bind", o->health, "Serve GET / and /metrics on ADDR:PORT");
        commands.add(cmd, [&ctx, o] {
            if (o->mode == "hotcold" && o->cluster.empty())
                throw UsageError("--cluster-mode hotcold needs --cluster-name");
            if (o->mode == "none" && !o->cluster.empty())
                throw UsageError("--cluster-name needs --cluster-mode hotcold");
            auto ms = [](double s) {
                return std::chrono::milliseconds(static_cast<long long>(s * 1000));
            };
            auto b = ProjectionDaemon::builder(ctx.store())
                         .poll_interval(ms(o->poll))
                         .use_notify(o->use_notify);
            b.run_in_database(o->name);
            if (o->mode == "hotcold") {
                ClusterOptions c;
                c.name = o->cluster;
                c.node_id = o->node;
                c.heartbeat = ms(o->heartbeat);
                c.lease_ttl = ms(o->ttl);
                c.lease_grace = ms(o->grace);
                c.min_cold_standbys = o->standbys;
                b.cluster(c);
            } else if (!o->node.empty()) {
                b.owner(o->node);
            }
            ProjectionDaemon daemon = b.build();
            std::unique_ptr<HealthServer> server;
            if (!o->health.empty()) server = std::make_unique<HealthServer>(daemon, o->health);
            std::signal(SIGINT, on_signal);
            std::signal(SIGTERM, on_signal);
            // One write: std::cerr is unbuffered, and a reader of this line (a supervisor, a test)
            // must never see it cut before the port.
            std::string banner = "rillflow: running projections as " + daemon.owner();
            if (server) banner += ", health on port " + std::to_string(server->port());
            std::cerr << banner + "\n" << std::flush;
            daemon.run_loop(g_stop);
            return 0;
        });
    }
}

}  // namespace rillflow::cli
