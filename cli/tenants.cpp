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
            // The client has no call for this yet: the SQL API's list_tenants() directly.
            Transaction tx = ctx.store().transaction();
            Result r = tx.exec(
                "SELECT name, schema_name, to_char(created_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM rillflow.list_tenants() ORDER BY name");
            tx.commit();
            if (ctx.json) {
                Json list = Json::array();
                for (size_t i = 0; i < r.size(); i++)
                    list.push_back({{"name", r.value(i, 0)},
                                    {"schema_name", r.value(i, 1)},
                                    {"created_at", r.value(i, 2)}});
                print_json({{"tenants", list}});
            } else {
                for (size_t i = 0; i < r.size(); i++)
                    print_line(std::string(r.value(i, 0)) + "  " + std::string(r.value(i, 1)) +
                               "  " + std::string(r.value(i, 2)));
            }
            return 0;
        });
    }
}

}  // namespace rillflow::cli
