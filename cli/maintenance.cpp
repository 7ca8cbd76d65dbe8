// cli/maintenance.cpp: `rillflow maintenance run`: what the background worker does, for
// servers without it (docs/managed-postgresql.md), once or every N seconds.
#include <chrono>
#include <thread>

#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

void add_maintenance_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* maintenance = app.add_subcommand(
        "maintenance", "Run the worker's work where it does not run (no shared_preload_libraries)");
    maintenance->require_subcommand(1);

    struct Args {
        int max_batches = 10;
        int every = 0;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = maintenance->add_subcommand(
        "run", "Run every store's projections and snapshotter (rillflow.run_maintenance), once or every N seconds");
    cmd->add_option("--max-batches", a->max_batches, "Batches per projection and run (default 10)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--every", a->every,
                    "Run again every N seconds until stopped (default: once)")
        ->check(CLI::Range(0, 86400));
    commands.add(cmd, [&ctx, a] {
        for (;;) {
            std::vector<MaintenanceResult> results = ctx.store().run_maintenance(a->max_batches);
            bool failed = false;
            Json list = Json::array();
            for (const auto& m : results) {
                failed = failed || m.error.has_value();
                const std::string store = m.tenant ? *m.tenant : std::string("(default store)");
                if (ctx.json) {
                    list.push_back({{"tenant", m.tenant ? Json(*m.tenant) : Json(nullptr)},
                                    {"projections", m.projections},
                                    {"events_applied", m.events_applied},
                                    {"snapshots", m.snapshots},
                                    {"error", m.error ? Json(*m.error) : Json(nullptr)}});
                } else if (m.error) {
                    print_line(store + ": failed: " + *m.error);
                } else {
                    print_line(store + ": " + std::to_string(m.projections) + " projections, " +
                               std::to_string(m.events_applied) + " events applied, " +
                               std::to_string(m.snapshots) + " streams snapshotted");
                }
            }
            if (ctx.json) print_json(list, a->every > 0);
            if (a->every == 0) return failed ? 1 : 0;
            std::this_thread::sleep_for(std::chrono::seconds(a->every));
        }
    });
}

}  // namespace rillflow::cli
