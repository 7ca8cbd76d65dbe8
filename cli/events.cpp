// cli/events.cpp: `rillflow events append|tail`.
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

namespace {

nlohmann::json parse_json(const std::string& text, const std::string& what) {
    return cli::parse_json(text, what, "--body '{\"sku\": \"A1\"}'");
}

std::optional<Uuid> parse_uuid(const std::string& text, const std::string& what) {
    if (text.empty()) return std::nullopt;
    if (auto id = Uuid::try_parse(text)) return id;
    invalid(sqlstate::invalid_text_representation, what + " is not a uuid: \"" + text + "\"");
}

Expected parse_expected(const std::string& text) {
    if (text == "any") return Expected::Any();
    if (text == "no-stream") return Expected::NoStream();
    if (text == "exists") return Expected::StreamExists();
    // CLI11's check already made sure it is an integer.
    return Expected::Exact(std::stoll(text));
}

// One element of --events: {"type", "body", "headers"?, "event_version"?, "event_id"?}.
EventData parse_event(const nlohmann::json& j, size_t i) {
    std::string where = "events[" + std::to_string(i) + "]";
    if (!j.is_object()) invalid(sqlstate::invalid_parameter_value, where + " is not a JSON object");
    EventData ev;
    for (const auto& [key, value] : j.items()) {
        if (key == "type") {
            if (!value.is_string() || value.get<std::string>().empty())
                invalid(sqlstate::invalid_parameter_value,
                        where + ".type must be a non-empty string");
            ev.type = value.get<std::string>();
        } else if (key == "body") {
            ev.body = value;
        } else if (key == "headers") {
            if (!value.is_object() && !value.is_null())
                invalid(sqlstate::invalid_parameter_value,
                        where + ".headers must be a JSON object");
            ev.headers = value;
        } else if (key == "event_version") {
            if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
                value.get<std::int64_t>() > 2147483647)
                invalid(sqlstate::invalid_parameter_value,
                        where + ".event_version must be a positive integer");
            ev.event_version = value.get<int>();
        } else if (key == "event_id") {
            if (!value.is_string())
                invalid(sqlstate::invalid_text_representation,
                        where + ".event_id must be a uuid string");
            ev.event_id = parse_uuid(value.get<std::string>(), where + ".event_id");
        } else {
            invalid(sqlstate::invalid_parameter_value,
                    where + " has an unknown key \"" + key + "\"",
                    "An event has only type, body, headers, event_version and event_id.");
        }
    }
    if (!j.contains("type")) invalid(sqlstate::invalid_parameter_value, where + " has no \"type\"");
    if (!j.contains("body")) invalid(sqlstate::invalid_parameter_value, where + " has no \"body\"");
    return ev;
}

std::vector<EventData> parse_events(const std::string& text) {
    std::string input = text;
    if (text == "-") input.assign(std::istreambuf_iterator<char>(std::cin), {});
    nlohmann::json j = parse_json(input, "--events");
    if (!j.is_array())
        invalid(sqlstate::invalid_parameter_value, "--events must be a JSON array of events");
    if (j.empty()) invalid(sqlstate::invalid_parameter_value, "--events must not be empty");
    std::vector<EventData> events;
    for (size_t i = 0; i < j.size(); i++) events.push_back(parse_event(j[i], i));
    return events;
}

// --follow stops at the first SIGINT or SIGTERM; a second one ends the process at once.
std::atomic<bool> stop_requested{false};
extern "C" void on_stop_signal(int sig) {
    stop_requested = true;
    std::signal(sig, SIG_DFL);
}

}  // namespace

void add_events_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* events = app.add_subcommand("events", "Append events, follow the global log");
    events->require_subcommand(1);

    // events append <stream> (--type T --body JSON | --events JSON|-) [options]
    {
        struct Args {
            std::string stream, type, body, events, expected = "any", idempotency_key, headers,
                                                    causation_id, correlation_id;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd =
            events->add_subcommand("append", "Append one event, or a batch, to a stream");
        cmd->add_option("stream", a->stream, "Stream id, or an alias")->required();
        auto* type = cmd->add_option("--type", a->type, "Event type (one event)");
        auto* body = cmd->add_option("--body", a->body, "Event body as JSON (one event)");
        auto* batch = cmd->add_option(
            "--events", a->events,
            "A JSON array of {type, body, headers?, event_version?, event_id?}; - reads stdin");
        type->needs(body);
        body->needs(type);
        batch->excludes(type)->excludes(body);
        cmd->add_option("--expected", a->expected,
                        "any (default), no-stream, exists, or the exact current version")
            ->check(CLI::Validator(
                [](std::string& v) -> std::string {
                    if (v == "any" || v == "no-stream" || v == "exists") return {};
                    size_t used = 0;
                    try {
                        (void)std::stoll(v, &used);
                    } catch (const std::exception&) {
                        used = 0;
                    }
                    if (used != 0 && used == v.size()) return {};
                    return "--expected must be any, no-stream, exists or a version, not " + v;
                },
                "any|no-stream|exists|VERSION"));
        cmd->add_option("--idempotency-key", a->idempotency_key,
                        "Append at most once under this key");
        cmd->add_option("--headers", a->headers, "A JSON object merged into every event's headers");
        cmd->add_option("--causation-id", a->causation_id, "Causation id (uuid) of every event");
        cmd->add_option("--correlation-id", a->correlation_id,
                        "Correlation id (uuid) of every event");
        commands.add(cmd, [&ctx, a] {
            std::vector<EventData> batch_events;
            if (!a->events.empty()) {
                batch_events = parse_events(a->events);
            } else if (!a->type.empty()) {
                batch_events.push_back(EventData{a->type, parse_json(a->body, "--body")});
            } else {
                throw UsageError("give --type and --body, or --events");
            }
            AppendOptions options;
            if (!a->headers.empty()) options.headers = parse_json(a->headers, "--headers");
            if (!a->idempotency_key.empty()) options.idempotency_key = a->idempotency_key;
            options.causation_id = parse_uuid(a->causation_id, "--causation-id");
            options.correlation_id = parse_uuid(a->correlation_id, "--correlation-id");

            StreamRef ref = ctx.stream(a->stream);
            std::int64_t version = ctx.store().events().append_with(
                ref.id, parse_expected(a->expected), batch_events, options);
            auto n = static_cast<std::int64_t>(batch_events.size());
            if (ctx.json) {
                Json doc{{"stream_id", ref.id.to_string()},
                         {"version", version},
                         {"first_version", version - n + 1},
                         {"count", n}};
                if (ref.alias) doc["alias"] = *ref.alias;
                print_json(doc);
            } else {
                print_line("appended " + std::to_string(n) + (n == 1 ? " event" : " events") +
                           " to " + ref.id.to_string() +
                           (ref.alias ? " (" + *ref.alias + ")" : "") + ": version " +
                           std::to_string(version));
            }
            return 0;
        });
    }

    // events tail [--after N] [--max N] [--types a,b] [--follow]
    {
        struct Args {
            std::int64_t after = 0;
            std::optional<std::int64_t> max;
            std::vector<std::string> types;
            bool follow = false;
            int interval_ms = 200;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = events->add_subcommand(
            "tail", "Print the global log after a position; --follow keeps printing new events");
        cmd->add_option("--after", a->after, "Start after this position (default 0: the start)")
            ->check(at_least(0));
        cmd->add_option("--max", a->max,
                        "Print at most N events (default 1000; with --follow: no limit)")
            ->check(at_least(1));
        cmd->add_option("--types", a->types, "Only these event types (comma-separated)")
            ->delimiter(',');
        cmd->add_flag("--follow,-f", a->follow, "Keep polling for new events until interrupted");
        cmd->add_option("--interval", a->interval_ms,
                        "With --follow: milliseconds between polls when idle (default 200)")
            ->check(CLI::Range(1, 60000));
        commands.add(cmd, [&ctx, a] {
            const Store& store = ctx.store();
            Events events = store.events();
            std::int64_t after = a->after;
            std::optional<std::int64_t> left = a->max;
            if (!a->follow && !left) left = 1000;

            auto page_size = [&] {
                std::int64_t n = 1000;
                if (left && *left < n) n = *left;
                return static_cast<int>(n);
            };
            if (!a->follow) {
                Json list = Json::array();
                while (*left > 0) {
                    int want = page_size();
                    auto page = events.read_all(after, want, a->types);
                    for (const auto& e : page) {
                        if (ctx.json)
                            list.push_back(to_json(e));
                        else
                            print_line(to_line(e));
                    }
                    if (!page.empty()) after = *page.back().position;
                    *left -= static_cast<std::int64_t>(page.size());
                    if (page.size() < static_cast<size_t>(want)) break;  // the head
                }
                if (ctx.json)
                    print_json({{"after", a->after}, {"last_position", after}, {"events", list}});
                return 0;
            }

            // --follow: JSON Lines, one event per line, flushed as they come.
            stop_requested = false;
            std::signal(SIGINT, on_stop_signal);
            std::signal(SIGTERM, on_stop_signal);
            while (!stop_requested && (!left || *left > 0)) {
                auto page = events.read_all(after, page_size(), a->types);
                for (const auto& e : page) {
                    if (ctx.json)
                        print_json(to_json(e), true);
                    else
                        print_line(to_line(e));
                }
                std::cout.flush();
                if (!page.empty()) after = *page.back().position;
                if (left) *left -= static_cast<std::int64_t>(page.size());
                if (!page.empty()) continue;
                auto until =
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(a->interval_ms);
                while (!stop_requested && std::chrono::steady_clock::now() < until)
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            std::signal(SIGINT, SIG_DFL);
            std::signal(SIGTERM, SIG_DFL);
            return 0;
        });
    }
}

}  // namespace rillflow::cli
