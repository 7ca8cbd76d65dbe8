// cli/tenants.cpp: `rillflow tenants ensure|list|grant|revoke`.
#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

void add_tenants_commands(CLI::App& app, Context& ctx, Commands& commands) {
    CLI::App* tenants =
        app.add_subcommand("tenants", "Create and list tenants' stores, grant access to them");
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

    // tenants grant|revoke --tenant T --role R --level read|write|admin
    for (bool grant : {true, false}) {
        struct Args {
            std::string tenant, role, level;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = tenants->add_subcommand(
            grant ? "grant" : "revoke",
            grant ? "Give a role a level (and the levels below it) on a tenant's store"
                  : "Take a level (and the levels above it) on a tenant's store from a role");
        cmd->add_option("--tenant", a->tenant, "The tenant ('' for the default store)")->required();
        cmd->add_option("--role", a->role, "The role")->required();
        cmd->add_option("--level", a->level, "read, write or admin")->required();
        commands.add(cmd, [&ctx, a, grant] {
            TenantAccess level = TenantAccess::Read;
            if (a->level == "read")
                level = TenantAccess::Read;
            else if (a->level == "write")
                level = TenantAccess::Write;
            else if (a->level == "admin")
                level = TenantAccess::Admin;
            else
                invalid("22023", "invalid access level '" + a->level + "'",
                        "The level is read, write or admin.");
            if (grant)
                ctx.store().grant_tenant(a->tenant, a->role, level);
            else
                ctx.store().revoke_tenant(a->tenant, a->role, level);
            if (ctx.json)
                print_json({{"tenant", a->tenant},
                            {"role", a->role},
                            {"level", a->level},
                            {grant ? "granted" : "revoked", true}});
            else
                print_line(std::string(grant ? "granted " : "revoked ") + a->level + " on tenant " +
                           (a->tenant.empty() ? "(default store)" : a->tenant) +
                           (grant ? " to " : " from ") + a->role);
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
