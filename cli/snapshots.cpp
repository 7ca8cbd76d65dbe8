// cli/snapshots.cpp: `rillflow snapshots compact-once|run-until-idle`: the snapshotter of the
// store's SQL aggregates (rillflow.run_snapshotter), as the worker runs it.
#include "context.hpp"
#include "output.hpp"
#include "progress.hpp"

namespace rillflow::cli {

void add_snapshots_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* snapshots =
        app.add_subcommand("snapshots", "Snapshot aggregates' streams past a threshold");
    snapshots->require_subcommand(1);

    for (bool until_idle : {false, true}) {
        struct Args {
            int threshold = 200;
            int batch = 200;
            std::optional<std::string> aggregate;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = snapshots->add_subcommand(
            until_idle ? "run-until-idle" : "compact-once",
            until_idle ? "Run the snapshotter until a run finds nothing"
                       : "One run of the snapshotter: at most --batch streams");
        cmd->add_option("--threshold", a->threshold,
                        "Snapshot streams at least this many events past their last snapshot")
            ->check(at_least(1));
        cmd->add_option("--batch", a->batch, "Streams per run (one transaction)")
            ->check(CLI::Range(1, 100000));
        cmd->add_option("--aggregate", a->aggregate, "Only this aggregate");
        commands.add(cmd, [&ctx, a, until_idle] {
            SqlAggregates aggregates(ctx.store());
            long long total = 0;
            int runs = 0;
            Progress progress(until_idle && !ctx.json, "snapshots run-until-idle");
            for (;;) {
                const int n = aggregates.run_snapshotter(a->threshold, a->batch, a->aggregate);
                total += n;
                ++runs;
                progress.update("snapshotted " + std::to_string(total) + " streams in " +
                                std::to_string(runs) + " runs");
                if (!until_idle || n == 0) break;
            }
            progress.done();
            if (ctx.json)
                print_json({{"snapshotted", total}, {"runs", runs}});
            else
                print_line("snapshotted " + std::to_string(total) + " streams");
            return 0;
        });
    }
}

}  // namespace rillflow::cli
