// cli/schema.cpp: `rillflow schema-plan`, `schema-sync` and `health schema`: the stores' schema
// against the store steps and the shape of each store's version (docs/upgrades.md).
//
// Which stores: --all-tenants every store; --tenant T (the global option) that tenant's;
// --schema S (also global) the store in schema S ("public", the seed's default, and
// "rillflow_default" are the default store); none of them the default store.

#include <iostream>

#include "context.hpp"
#include "output.hpp"
#include "progress.hpp"

namespace rillflow::cli {

namespace {

struct ScopeOptions {
    bool all_tenants = false;
};

void add_scope_options(CLI::App* cmd, ScopeOptions& o) {
    cmd->add_flag("--all-tenants", o.all_tenants,
                  "Every store: the default store and each tenant's");
}

// --tenant and --schema (global options) name one store, as ctx.tenant; main.cpp refuses both.
StoreScope scope_of(const ScopeOptions& o, const Context& ctx) {
    if (o.all_tenants && (!ctx.tenant.empty() || ctx.one_store_named))
        throw UsageError("give --all-tenants, or one store with --tenant or --schema, not both");
    if (o.all_tenants) return StoreScope::all();
    return StoreScope::tenant(ctx.tenant);  // "" is the default store
}

std::string store_label(const std::string& store, const std::optional<std::string>& tenant) {
    return tenant ? store + " (tenant " + *tenant + ")" : store + " (default store)";
}

Json optional_json(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }

}  // namespace

void add_schema_commands(CLI::App& app, Context& ctx, Commands& commands) {
    // schema-plan
    {
        auto o = std::make_shared<ScopeOptions>();
        CLI::App* cmd = app.add_subcommand(
            "schema-plan", "Show what schema-sync would run on the stores, without running it");
        add_scope_options(cmd, *o);
        commands.add(cmd, [&ctx, o] {
            std::vector<SchemaPlanStep> plan = ctx.store().schema().plan(scope_of(*o, ctx));
            if (ctx.json) {
                Json steps = Json::array();
                for (const auto& s : plan)
                    steps.push_back({{"store", s.store},
                                     {"tenant", optional_json(s.tenant)},
                                     {"step", s.step},
                                     {"ddl", optional_json(s.ddl)}});
                print_json({{"plan", steps}});
            } else if (plan.empty()) {
                print_line("nothing to do: every store has the newest version's shape");
            } else {
                for (const auto& s : plan) {
                    print_line("-- " + store_label(s.store, s.tenant) + ": " + s.step);
                    print_line(s.ddl ? *s.ddl + ";"
                                     : "-- (left to a person: schema-sync will not)");
                }
            }
            return 0;
        });
    }

    // schema-sync: with --all-tenants, each store in a transaction of its own, so a store that
    // fails (or a long one) holds nothing of the others.
    {
        auto o = std::make_shared<ScopeOptions>();
        CLI::App* cmd = app.add_subcommand(
            "schema-sync", "Repair drift and apply the store steps each store lacks");
        add_scope_options(cmd, *o);
        commands.add(cmd, [&ctx, o] {
            StoreScope scope = scope_of(*o, ctx);
            std::vector<StoreScope> each;
            if (scope.sql_argument()) {
                each.push_back(scope);
            } else {
                for (const auto& h : ctx.store().schema().health(StoreScope::all()))
                    each.push_back(StoreScope::tenant(h.tenant.value_or("")));
            }
            Progress progress(ctx, "schema-sync");
            Json rows = Json::array();
            bool left = false;
            std::size_t done = 0;
            for (const auto& one : each) {
                for (const auto& r : ctx.store().schema().sync(one)) {
                    left = left || !r.unrepaired.empty();
                    if (ctx.json) {
                        rows.push_back({{"store", r.store},
                                        {"tenant", optional_json(r.tenant)},
                                        {"schema_version", r.schema_version},
                                        {"steps_applied", r.steps_applied},
                                        {"repaired", r.repaired},
                                        {"unrepaired", r.unrepaired}});
                    } else {
                        print_line(store_label(r.store, r.tenant) + ": version " +
                                   std::to_string(r.schema_version) + ", " +
                                   std::to_string(r.steps_applied) + " steps applied, " +
                                   std::to_string(r.repaired) + " repaired");
                        for (const auto& u : r.unrepaired) print_line("  left to a person: " + u);
                    }
                }
                ++done;
                progress.count(static_cast<std::int64_t>(done),
                               static_cast<std::int64_t>(each.size()), "stores");
            }
            progress.done();
            if (ctx.json) print_json({{"stores", rows}});
            return left ? 1 : 0;
        });
    }

    // health schema
    {
        CLI::App* health = app.add_subcommand("health", "Check the stores");
        health->require_subcommand(1);
        auto o = std::make_shared<ScopeOptions>();
        CLI::App* cmd = health->add_subcommand(
            "schema", "Compare each store with the shape of its version; exit 1 unless all ok");
        add_scope_options(cmd, *o);
        commands.add(cmd, [&ctx, o] {
            std::vector<StoreHealth> stores = ctx.store().schema().health(scope_of(*o, ctx));
            bool all_ok = true;
            Json rows = Json::array();
            for (const auto& h : stores) {
                all_ok = all_ok && h.ok();
                if (ctx.json) {
                    Json problems = Json::array();
                    for (const auto& p : h.problems)
                        problems.push_back({{"kind", p.kind},
                                            {"object", p.object},
                                            {"problem", p.problem},
                                            {"expected", p.expected},
                                            {"actual", p.actual},
                                            {"repairable", p.repairable}});
                    rows.push_back({{"store", h.store},
                                    {"tenant", optional_json(h.tenant)},
                                    {"schema_version", h.schema_version},
                                    {"status", h.status},
                                    {"problems", problems}});
                    continue;
                }
                print_line(store_label(h.store, h.tenant) + ": " + h.status + " (version " +
                           std::to_string(h.schema_version) + ")");
                for (const auto& p : h.problems)
                    print_line(
                        "  " + p.problem + " " + p.kind + " " +
                        (p.object.empty() ? std::string("(schema)") : p.object) +
                        (p.repairable ? "  [schema-sync repairs it]" : "  [left to a person]"));
            }
            if (ctx.json) print_json({{"stores", rows}, {"ok", all_ok}});
            return all_ok ? 0 : 1;
        });
    }
}

}  // namespace rillflow::cli
