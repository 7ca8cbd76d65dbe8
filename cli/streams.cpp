// cli/streams.cpp: `rillflow streams resolve|read|version|archive|reactivate`.
#include <optional>

#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

namespace {

Json ref_json(const StreamRef& ref) {
    Json j;
    j["stream_id"] = ref.id.to_string();
    if (ref.alias) j["alias"] = *ref.alias;
    return j;
}

}  // namespace

void add_streams_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* streams = app.add_subcommand("streams", "Resolve aliases, read streams");
    streams->require_subcommand(1);

    // streams resolve <alias>
    {
        auto alias = std::make_shared<std::string>();
        CLI::App* cmd = streams->add_subcommand(
            "resolve", "Print the stream id of an alias, creating it on first use");
        cmd->add_option("alias", *alias, "The alias, e.g. order-42")->required();
        commands.add(cmd, [&ctx, alias] {
            Uuid id = ctx.store().resolve_stream_alias(*alias);
            if (ctx.json)
                print_json({{"alias", *alias}, {"stream_id", id.to_string()}});
            else
                print_line(id.to_string());
            return 0;
        });
    }

    // streams read <id-or-alias> [--from N] [--max N]
    {
        struct Args {
            std::string stream;
            std::int64_t from = 1;
            std::optional<int> max;
            bool archived = false;
        };
        auto args = std::make_shared<Args>();
        CLI::App* cmd = streams->add_subcommand("read", "Print a stream's events in version order");
        cmd->add_option("stream", args->stream, "Stream id, or an alias")->required();
        cmd->add_option("--from", args->from, "First version to read (default 1)")
            ->check(at_least(1));
        cmd->add_option("--max", args->max, "Read at most N events (default: all)")
            ->check(at_least(1));
        cmd->add_flag(
            "--archived", args->archived,
            "Include archived events (default: the server's rillflow.include_archived_by_default)");
        commands.add(cmd, [&ctx, args] {
            StreamRef ref = ctx.stream(args->stream);
            const Events events_api =
                args->archived ? ctx.store().events().with_archived() : ctx.store().events();
            auto events = events_api.read_stream(ref.id, args->from, args->max);
            if (ctx.json) {
                Json doc = ref_json(ref);
                doc["events"] = Json::array();
                for (const auto& e : events) doc["events"].push_back(to_json(e));
                print_json(doc);
            } else {
                for (const auto& e : events) print_line(to_line(e));
            }
            return 0;
        });
    }

    // streams version <id-or-alias>
    {
        auto stream = std::make_shared<std::string>();
        CLI::App* cmd = streams->add_subcommand(
            "version", "Print a stream's current version (none when it does not exist)");
        cmd->add_option("stream", *stream, "Stream id, or an alias")->required();
        commands.add(cmd, [&ctx, stream] {
            StreamRef ref = ctx.stream(*stream);
            std::optional<std::int64_t> version = ctx.store().events().stream_version(ref.id);
            if (ctx.json) {
                Json doc = ref_json(ref);
                doc["version"] = version ? Json(*version) : Json(nullptr);
                print_json(doc);
            } else {
                print_line(version ? std::to_string(*version) : "none");
            }
            return 0;
        });
    }

    // streams archive <id-or-alias>, streams reactivate <id-or-alias>
    for (const bool to_cold : {true, false}) {
        auto stream = std::make_shared<std::string>();
        CLI::App* cmd = streams->add_subcommand(
            to_cold ? "archive" : "reactivate",
            to_cold ? "Move a stream's events to the archive (positions and versions stay)"
                    : "Move an archived stream's events back to the hot table");
        cmd->add_option("stream", *stream, "Stream id, or an alias")->required();
        commands.add(cmd, [&ctx, stream, to_cold] {
            StreamRef ref = ctx.stream(*stream);
            const Events events = ctx.store().events();
            const bool changed =
                to_cold ? events.archive_stream(ref.id) : events.reactivate_stream(ref.id);
            if (ctx.json) {
                Json doc = ref_json(ref);
                doc[to_cold ? "archived" : "reactivated"] = changed;
                print_json(doc);
            } else {
                print_line(std::string(changed ? "" : "already ") +
                           (to_cold ? "archived " : "hot ") + ref.id.to_string());
            }
            return 0;
        });
    }
}

}  // namespace rillflow::cli
