// cli/observe.cpp: `rillflow trace mermaid` (a correlation's causation chain as Mermaid) and
// `rillflow metrics` (rillflow.metrics(), as Prometheus text or JSON). docs/observability.md.
#include <fstream>
#include <iostream>
#include <sstream>

#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

void add_observe_commands(CLI::App& app, Context& ctx, Commands& commands) {
    // trace mermaid --correlation-id X [--output file.mmd] [--max-events N]
    {
        CLI::App* trace = app.add_subcommand("trace", "Trace what happened to events");
        trace->require_subcommand(1);
        struct Args {
            std::string correlation, output;
            int max_events = 1000;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = trace->add_subcommand(
            "mermaid", "A correlation's causation chain and the projections that applied it");
        cmd->add_option("--correlation-id", a->correlation, "The correlation id")->required();
        cmd->add_option("--output", a->output, "Write the diagram to this file (e.g. trace.mmd)");
        cmd->add_option("--max-events", a->max_events, "At most this many events")
            ->check(at_least(1));
        commands.add(cmd, [&ctx, a] {
            Uuid id;
            try {
                id = Uuid::parse(a->correlation);
            } catch (const Error&) {
                invalid("22P02", "invalid correlation id '" + a->correlation + "'",
                        "A correlation id is a uuid.");
            }
            std::string diagram = trace_mermaid(ctx.store(), id, a->max_events);
            if (!a->output.empty()) {
                std::ofstream f(a->output);
                if (!(f << diagram))
                    invalid("58030", "could not write " + a->output, "Check the path and rights.");
                if (ctx.json)
                    print_json({{"output", a->output}, {"bytes", diagram.size()}});
                else
                    print_line("wrote " + a->output);
            } else if (ctx.json) {
                print_json({{"mermaid", diagram}});
            } else {
                std::cout << diagram;
            }
            return 0;
        });
    }

    // metrics
    {
        CLI::App* cmd =
            app.add_subcommand("metrics", "rillflow.metrics(): the log, projections and worker");
        commands.add(cmd, [&ctx] {
            std::vector<Metric> metrics = read_metrics(ctx.store());
            if (ctx.json) {
                Json rows = Json::array();
                for (const auto& m : metrics)
                    rows.push_back(
                        {{"name", m.name}, {"labels", m.labels}, {"value", m.value}, {"help", m.help}});
                print_json({{"metrics", rows}});
                return 0;
            }
            for (const auto& m : metrics) {
                std::string labels;
                for (const auto& [k, v] : m.labels.items())
                    labels += (labels.empty() ? "" : ",") + k + "=" +
                              (v.is_string() ? v.get<std::string>() : v.dump());
                std::ostringstream value;
                value << m.value;
                print_line(m.name + "{" + labels + "} " + value.str());
            }
            return 0;
        });
    }
}

}  // namespace rillflow::cli
