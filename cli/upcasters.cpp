// cli/upcasters.cpp: `rillflow upcasters list|path`: the store's upcasting steps.
#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

namespace {

Json step_json(const UpcasterStep& s) {
    Json j = {{"event_type", s.event_type},
              {"from_version", s.from_version},
              {"to_type", s.to_type},
              {"to_version", s.to_version},
              {"fn", s.fn}};
    if (!s.owner.empty()) j["owner"] = s.owner;
    return j;
}

std::string step_line(const UpcasterStep& s) {
    return s.event_type + " v" + std::to_string(s.from_version) + " -> " + s.to_type + " v" +
           std::to_string(s.to_version) + "  " + s.fn +
           (s.owner.empty() ? "" : "  (" + s.owner + ")");
}

}  // namespace

void add_upcasters_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* upcasters = app.add_subcommand("upcasters", "The store's upcasting steps");
    upcasters->require_subcommand(1);

    // upcasters list
    {
        CLI::App* cmd = upcasters->add_subcommand("list", "List the upcasting steps");
        commands.add(cmd, [&ctx] {
            std::vector<UpcasterStep> steps = Upcasters(ctx.store()).list();
            if (ctx.json) {
                Json list = Json::array();
                for (const auto& s : steps) list.push_back(step_json(s));
                print_json({{"upcasters", list}});
            } else if (steps.empty()) {
                print_line("no upcasters");
            } else {
                for (const auto& s : steps) print_line(step_line(s));
            }
            return 0;
        });
    }

    // upcasters path --from-type T --from-version N --to-type T --to-version N
    {
        struct Args {
            std::string from_type, to_type;
            int from_version = 1, to_version = 1;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = upcasters->add_subcommand(
            "path", "The steps from one (type, version) to another (RF004 when there is none)");
        cmd->add_option("--from-type", a->from_type, "The stored type")->required();
        cmd->add_option("--from-version", a->from_version, "The stored event_version")
            ->required()
            ->check(at_least(1));
        cmd->add_option("--to-type", a->to_type, "The type read")->required();
        cmd->add_option("--to-version", a->to_version, "The event_version read")
            ->required()
            ->check(at_least(1));
        commands.add(cmd, [&ctx, a] {
            std::vector<UpcasterStep> steps =
                Upcasters(ctx.store())
                    .path(a->from_type, a->from_version, a->to_type, a->to_version);
            if (ctx.json) {
                Json list = Json::array();
                for (const auto& s : steps) list.push_back(step_json(s));
                print_json({{"steps", list}});
            } else if (steps.empty()) {
                print_line("no steps: already at " + a->to_type + " v" +
                           std::to_string(a->to_version));
            } else {
                int n = 0;
                for (const auto& s : steps) print_line(std::to_string(++n) + ". " + step_line(s));
            }
            return 0;
        });
    }
}

}  // namespace rillflow::cli
