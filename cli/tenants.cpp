// cli/tenants.cpp: `rillflow tenants ensure|list`.
#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

void add_tenants_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* tenants = app.add_subcommand("tenants", "Create and list tenants' stores");
    tenants->require_subcommand(1);

    // tenants ensure <name>
    {
        auto name = std::make_shared<std::string>();
        CLI::App* cmd =
            tenants->add_subcommand("ensure", "Create a tenant's store unless it exists");
        cmd->add_option("name", *name, "a-z, 0-9 and _, starting with a letter, at most 40")
            ->required();
        commands.add(cmd, [&ctx, name] {
            bool created = ctx.store().ensure_tenant(*name);
            if (ctx.json)
                print_json({{"tenant", *name}, {"created", created}});
            else
                print_line((created ? "created tenant " : "tenant exists: ") + *name);
            return 0;
        });
    }

    // tenants list
    {
        CLI::App* cmd = tenants->add_subcommand("list", "List the tenants");
        commands.add(cmd, [&ctx] {
            std::vector<TenantInfo> tenants = ctx.store().list_tenants();
            if (ctx.json) {
                Json list = Json::array();
                for (const auto& t : tenants)
                    list.push_back({{"name", t.name},
                                    {"schema_name", t.schema_name},
                                    {"created_at", format_timestamp(t.created_at)}});
                print_json({{"tenants", list}});
            } else {
                for (const auto& t : tenants)
                    print_line(t.name + "  " + t.schema_name + "  " +
                               format_timestamp(t.created_at));
            }
            return 0;
        });
    }
}

}  // namespace rillflow::cli
