// cli/main.cpp: the rillflow command-line tool. A thin layer over the C++ client: every
// command is one or two client calls, printed for people or, with --json, as one JSON
// document.
//
// Exit codes: 0 done; 1 the server (or the CLI, for the same reasons) refused the request,
// with `error: SQLSTATE: message` on stderr; 2 the command line is wrong; 3 the database
// could not be reached.
#include <iostream>

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
    app.add_flag("--json", ctx.json, "Print one JSON document instead of text");

    Commands commands;
    add_streams_commands(app, ctx, commands);
    add_events_commands(app, ctx, commands);
    add_tenants_commands(app, ctx, commands);
    add_docs_commands(app, ctx, commands);
    add_projections_commands(app, ctx, commands);
    add_subscriptions_commands(app, ctx, commands);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);  // prints help, the version, or the mistake
        return code == 0 ? 0 : kExitUsage;
    }

    const Action* action = commands.parsed();
    if (action == nullptr) {
        std::cerr << app.help();
        return kExitUsage;
    }
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
