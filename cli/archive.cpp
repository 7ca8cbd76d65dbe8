// cli/archive.cpp: `rillflow archive run|status|backend` (hot and cold events,
// docs/archiving.md); `streams archive|reactivate` are in streams.cpp.
#include <cctype>
#include <chrono>
#include <iostream>
#include <string>

#include "context.hpp"
#include "output.hpp"
#include "progress.hpp"

namespace rillflow::cli {

namespace {

// "30d", "12h", "90m", "45s", "2w" or a number of seconds.
std::chrono::seconds parse_idle_for(const std::string& text) {
    std::size_t used = 0;
    long long n = -1;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        n = -1;
    }
    const std::string unit = text.substr(used);
    long long scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1;
    else if (unit == "m")
        scale = 60;
    else if (unit == "h")
        scale = 3600;
    else if (unit == "d")
        scale = 86400;
    else if (unit == "w")
        scale = 7 * 86400;
    if (n < 0 || scale == 0) {
        throw UsageError("--idle-for must be a number with s, m, h, d or w (e.g. 30d), not \"" +
                         text + "\"");
    }
    return std::chrono::seconds(n * scale);
}

const char* backend_name(ArchiveBackend b) {
    return b == ArchiveBackend::Partitioned ? "partitioned" : "dual_table";
}

}  // namespace

void add_archive_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* archive = app.add_subcommand(
        "archive", "Hot and cold events: archive idle streams, the metrics, the backend");
    archive->require_subcommand(1);

    // archive run --idle-for 30d [--batch 1000]
    {
        struct Args {
            std::string idle_for;
            int batch = 1000;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = archive->add_subcommand(
            "run",
            "Archive every stream with no append for --idle-for, --batch streams per transaction");
        cmd->add_option("--idle-for", a->idle_for,
                        "How long a stream has had no append: 30d, 12h, 90m, 45s")
            ->required();
        cmd->add_option("--batch", a->batch, "Streams per batch (one transaction; default 1000)")
            ->check(CLI::Range(1, 100000));
        commands.add(cmd, [&ctx, a] {
            const std::chrono::seconds idle = parse_idle_for(a->idle_for);
            const Events events = ctx.store().events();
            long long total = 0;
            int batches = 0;
            const auto started = std::chrono::steady_clock::now();
            {
                Progress progress(ctx, "archive run");
                for (;;) {
                    const int n = events.archive_streams(idle, a->batch);
                    if (n == 0) break;
                    total += n;
                    ++batches;
                    const double secs =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                            .count();
                    progress.update(
                        "archived " + std::to_string(total) + " streams in " +
                        std::to_string(batches) + " batches (" +
                        std::to_string(static_cast<long long>(secs > 0 ? total / secs : 0)) +
                        " streams/s)");
                }
            }
            if (ctx.json)
                print_json({{"archived_streams", total}, {"batches", batches}});
            else
                print_line("archived " + std::to_string(total) + " streams in " +
                           std::to_string(batches) + " batches");
            return 0;
        });
    }

    // archive status: each store's backend and metrics (one store with --tenant)
    {
        CLI::App* cmd = archive->add_subcommand(
            "status",
            "Each store's archive backend and metrics (only the named store with --tenant)");
        commands.add(cmd, [&ctx] {
            std::vector<std::string> tenants;
            if (ctx.one_store_named) {
                tenants.push_back(ctx.tenant);
            } else {
                tenants.emplace_back("");
                for (const TenantInfo& t : ctx.store().list_tenants()) tenants.push_back(t.name);
            }
            Json doc = Json::array();
            for (const std::string& t : tenants) {
                const Events events = ctx.store().for_tenant(t).events();
                const ArchiveBackend backend = events.archive_backend();
                Json metrics = Json::object();
                for (const ArchiveMetric& m : events.archive_metrics()) metrics[m.name] = m.value;
                if (ctx.json) {
                    doc.push_back(
                        {{"tenant", t}, {"backend", backend_name(backend)}, {"metrics", metrics}});
                    continue;
                }
                print_line((t.empty() ? std::string("(default store)") : "tenant " + t) + ": " +
                           backend_name(backend));
                for (const auto& [name, value] : metrics.items())
                    print_line("  " + name + " " + value.dump());
            }
            if (ctx.json) print_json(doc);
            return 0;
        });
    }

    // archive backend dual-table|partitioned
    {
        auto name = std::make_shared<std::string>();
        CLI::App* cmd = archive->add_subcommand(
            "backend",
            "Switch the store's archive backend, its events in place (the store's owner only)");
        cmd->add_option("backend", *name, "dual-table or partitioned")
            ->required()
            ->check(CLI::IsMember({"dual-table", "partitioned"}));
        commands.add(cmd, [&ctx, name] {
            const ArchiveBackend backend =
                *name == "partitioned" ? ArchiveBackend::Partitioned : ArchiveBackend::DualTable;
            const bool changed = ctx.store().events().set_archive_backend(backend);
            if (ctx.json)
                print_json({{"backend", backend_name(backend)}, {"changed", changed}});
            else
                print_line(std::string(changed ? "switched to " : "already ") +
                           backend_name(backend));
            return 0;
        });
    }
}

}  // namespace rillflow::cli
