// cli/tenants.cpp: `rillflow tenants ensure|list|status|drop|grant|revoke`; archive and
// restore are in tenant_archive.cpp.
#include "context.hpp"
#include "output.hpp"

namespace rillflow::cli {

namespace {

// "-" for what the server did not say (a count this role may not see).
template <typename T>
std::string opt_text(const std::optional<T>& value) {
    return value ? std::to_string(*value) : std::string("-");
}

template <typename T>
Json opt_json(const std::optional<T>& value) {
    return value ? Json(*value) : Json(nullptr);
}

Json tenant_json(const TenantInfo& t) {
    return {{"name", t.name},
            {"schema_name", t.schema_name},
            {"created_at", format_timestamp(t.created_at)},
            {"schema_version", opt_json(t.schema_version)},
            {"drift", opt_json(t.drift)},
            {"streams", opt_json(t.streams)},
            {"events", opt_json(t.events)},
            {"documents", opt_json(t.documents)},
            {"projections", opt_json(t.projections)},
            {"size_bytes", opt_json(t.size_bytes)}};
}

std::string tenant_line(const TenantInfo& t) {
    return t.name + "  " + t.schema_name + "  " + format_timestamp(t.created_at) + "  v" +
           opt_text(t.schema_version) + (t.drift && *t.drift ? "  DRIFT" : "") + "  streams " +
           opt_text(t.streams) + "  events " + opt_text(t.events) + "  documents " +
           opt_text(t.documents) + "  projections " + opt_text(t.projections) + "  " +
           opt_text(t.size_bytes) + " bytes";
}

}  // namespace

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
        CLI::App* cmd = tenants->add_subcommand(
            "list", "List the tenants, with their schema versions, drift, counts and sizes");
        commands.add(cmd, [&ctx] {
            std::vector<TenantInfo> tenants = ctx.store().list_tenants();
            if (ctx.json) {
                Json list = Json::array();
                for (const auto& t : tenants) list.push_back(tenant_json(t));
                print_json({{"tenants", list}});
            } else {
                for (const auto& t : tenants) print_line(tenant_line(t));
            }
            return 0;
        });
    }

    // tenants status <name>
    {
        auto name = std::make_shared<std::string>();
        CLI::App* cmd = tenants->add_subcommand(
            "status", "Whether a tenant exists, its schema version, drift, counts and size");
        cmd->add_option("name", *name, "The tenant ('' for the default store)")->required();
        commands.add(cmd, [&ctx, name] {
            TenantStatus s = ctx.store().tenant_status(*name);
            if (ctx.json) {
                Json doc = tenant_json(s);
                doc["exists"] = s.exists;
                if (!s.exists) doc.erase("created_at");
                print_json(doc);
            } else if (!s.exists) {
                print_line("tenant " + *name + " does not exist");
            } else {
                print_line("tenant          " + (name->empty() ? "(default store)" : *name));
                print_line("schema          " + s.schema_name);
                if (!name->empty()) print_line("created at      " + format_timestamp(s.created_at));
                print_line("schema version  " + opt_text(s.schema_version));
                print_line("drift           " + std::string(!s.drift   ? "?"
                                                            : *s.drift ? "yes"
                                                                       : "no"));
                print_line("streams         " + opt_text(s.streams));
                print_line("events          " + opt_text(s.events));
                print_line("documents       " + opt_text(s.documents));
                print_line("projections     " + opt_text(s.projections));
                print_line("size on disk    " + opt_text(s.size_bytes) + " bytes");
            }
            return s.exists ? 0 : 1;
        });
    }

    // tenants drop <name> [--force]
    {
        struct Args {
            std::string name;
            bool force = false;
        };
        auto a = std::make_shared<Args>();
        CLI::App* cmd = tenants->add_subcommand(
            "drop", "Drop a tenant and its store (one that holds data only with --force)");
        cmd->add_option("name", a->name, "The tenant")->required();
        cmd->add_flag("--force", a->force,
                      "Drop it even though it holds events, documents or projections");
        commands.add(cmd, [&ctx, a] {
            ctx.store().drop_tenant(a->name, a->force);
            if (ctx.json)
                print_json({{"tenant", a->name}, {"dropped", true}});
            else
                print_line("dropped tenant " + a->name);
            return 0;
        });
    }

    add_tenant_archive_commands(*tenants, ctx, commands);
}

}  // namespace rillflow::cli
