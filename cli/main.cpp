// cli/main.cpp: the rillflow command-line tool. A thin layer over the C++ client: every
// command is one or two client calls, printed for people or, with --json, as one JSON
// document.
//
// Exit codes: 0 done; 1 the server (or the CLI, for the same reasons) refused the request,
// with `error: SQLSTATE: message` on stderr; 2 the command line is wrong; 3 the database
// could not be reached.
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "context.hpp"

#ifndef RILLFLOW_VERSION
#define RILLFLOW_VERSION "unknown"
#endif

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnection = 3;

int report(const rillflow::Error& e, int code) {
    std::cerr << "error: " << e.sqlstate() << ": " << e.message() << '\n';
    if (!e.detail().empty()) std::cerr << "detail: " << e.detail() << '\n';
    if (!e.hint().empty()) std::cerr << "hint: " << e.hint() << '\n';
    return code;
}

// The first argument that is neither an option nor the value of one of `valued` (the global
// options that take a value): the command, when the line has one.
std::optional<std::string> first_word(int argc, char** argv,
                                      const std::vector<std::string>& valued) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.empty() || a[0] != '-') return a;
        if (a.find('=') == std::string::npos &&
            std::find(valued.begin(), valued.end(), a) != valued.end())
            ++i;  // its value
    }
    return std::nullopt;
}

// --schema as the tenant it names ("" for the default store); the seed's default is public.
std::string tenant_of_schema(const std::string& schema, bool tenant_given) {
    if (tenant_given) throw CLI::ValidationError("--schema", "give --tenant or --schema, not both");
    if (schema == "public" || schema == "rillflow_default") return "";
    const std::string prefix = "rillflow_tenant_";
    if (schema.compare(0, prefix.size(), prefix) == 0 && schema.size() > prefix.size())
        return schema.substr(prefix.size());
    throw CLI::ValidationError("--schema", "schema \"" + schema +
                                               "\" is not a rillflow store (public, "
                                               "rillflow_default or rillflow_tenant_<tenant>)");
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rillflow::cli;

    CLI::App app{"rillflow: an event store in PostgreSQL", "rillflow"};
    app.set_version_flag("--version", RILLFLOW_VERSION);
    // Global options may come after the subcommand too: `rillflow streams read x --json`.
    app.fallthrough();
    app.require_subcommand(1);

    Context ctx;
    app.add_option("--database-url", ctx.database_url,
                   "The database: a libpq URL or key=value string")
        ->envname("DATABASE_URL");
    app.add_option("--tenant", ctx.tenant,
                   "Act on this tenant's store (default: the default store)")
        ->envname("RILLFLOW_TENANT");
    std::string schema;
    app.add_option("--schema", schema,
                   "Act on the store in this schema: public or rillflow_default (the default "
                   "store), rillflow_tenant_<tenant>");
    app.add_flag("--json", ctx.json, "Print one JSON document instead of text");

    Commands commands;
    add_streams_commands(app, ctx, commands);
    add_events_commands(app, ctx, commands);
    add_tenants_commands(app, ctx, commands);
    add_docs_commands(app, ctx, commands);
    add_projections_commands(app, ctx, commands);
    add_maintenance_commands(app, ctx, commands);
    add_subscriptions_commands(app, ctx, commands);
    add_upcasters_commands(app, ctx, commands);
    add_snapshots_commands(app, ctx, commands);
    add_schema_commands(app, ctx, commands);
    add_observe_commands(app, ctx, commands);
    add_archive_commands(app, ctx, commands);

    // An unknown command is named, with the known ones (CLI11 would only say that a
    // subcommand is required, or that an argument was not expected).
    std::vector<std::string> known;
    for (const CLI::App* sub : app.get_subcommands({})) known.push_back(sub->get_name());
    if (std::optional<std::string> word =
            first_word(argc, argv, {"--database-url", "--tenant", "--schema"});
        !word || std::find(known.begin(), known.end(), *word) == known.end()) {
        bool asks_help = false;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            asks_help = asks_help || a == "-h" || a == "--help" || a == "--version";
        }
        if (!asks_help) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            if (word)
                std::cerr << "error: unknown command '" << *word << "'; the commands are: " << list
                          << "\n";
            else
                std::cerr << "error: a command is required; the commands are: " << list << "\n";
            std::cerr << "Run with --help for more information.\n";
            return kExitUsage;
        }
    }

    try {
        app.parse(argc, argv);
        if (!schema.empty()) ctx.tenant = tenant_of_schema(schema, app.count("--tenant") > 0);
        ctx.one_store_named = !schema.empty() || app.count("--tenant") > 0;
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);  // prints help, the version, or the mistake
        return code == 0 ? 0 : kExitUsage;
    }

    const Action* action = commands.parsed();
    if (action == nullptr) {
        std::cerr << app.help();
        return kExitUsage;
    }
    // One span per command (OTEL_EXPORTER_OTLP_ENDPOINT set), the parent of its calls' spans;
    // not for run-loop or a tail --follow, which run until stopped (their batches and polls
    // are spans of their own).
    std::string command_path;
    for (const CLI::App* sub = &app; sub != nullptr;) {
        const CLI::App* next = nullptr;
        for (const CLI::App* s : sub->get_subcommands()) next = s;
        if (next) command_path += (command_path.empty() ? "" : " ") + next->get_name();
        sub = next;
    }
    std::optional<rillflow::TraceScope> span;
    bool follows = command_path.find("run-loop") != std::string::npos;
    for (int i = 1; i < argc; ++i) follows = follows || std::string(argv[i]) == "--follow";
    if (!follows) span.emplace(rillflow::Tracer::from_env(), "rillflow cli " + command_path);
    try {
        return (*action)();
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.what() << '\n';
        return kExitUsage;
    } catch (const rillflow::ConnectionError& e) {
        return report(e, kExitConnection);
    } catch (const rillflow::Error& e) {
        return report(e, kExitError);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return kExitError;
    }
}
