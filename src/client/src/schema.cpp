// schema.cpp: SchemaAdmin, one statement of the SQL API per call (docs/upgrades.md).
#include "rillflow/schema.hpp"

#include "projection_sql.hpp"
#include "rillflow/store.hpp"

namespace rillflow {

namespace {

using detail::exec_in_store;

std::optional<std::string> optional_string(const nlohmann::json& row, const char* key) {
    auto it = row.find(key);
    if (it == row.end() || it->is_null()) return std::nullopt;
    return it->get<std::string>();
}

Param scope_param(const StoreScope& scope) {
    return scope.sql_argument() ? Param(*scope.sql_argument()) : Param::null();
}

}  // namespace

SchemaAdmin Store::schema() const { return SchemaAdmin(state_); }

std::vector<SchemaPlanStep> SchemaAdmin::plan(const StoreScope& scope) const {
    Result r = exec_in_store(*store_, "SELECT to_jsonb(p) FROM rillflow.schema_plan($1::text) p",
                             {scope_param(scope)});
    std::vector<SchemaPlanStep> out;
    for (const auto& row : detail::json_rows(r)) {
        SchemaPlanStep s;
        s.store = row.at("store").get<std::string>();
        s.tenant = optional_string(row, "tenant_name");
        s.step = row.at("step").get<std::string>();
        s.ddl = optional_string(row, "ddl");
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<SchemaSyncResult> SchemaAdmin::sync(const StoreScope& scope) const {
    Result r = exec_in_store(*store_, "SELECT to_jsonb(s) FROM rillflow.schema_sync($1::text) s",
                             {scope_param(scope)});
    std::vector<SchemaSyncResult> out;
    for (const auto& row : detail::json_rows(r)) {
        SchemaSyncResult s;
        s.store = row.at("store").get<std::string>();
        s.tenant = optional_string(row, "tenant_name");
        s.schema_version = row.at("schema_version").get<int>();
        s.steps_applied = row.at("steps_applied").get<int>();
        s.repaired = row.at("repaired").get<int>();
        for (const auto& u : row.at("unrepaired")) s.unrepaired.push_back(u.get<std::string>());
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<StoreHealth> SchemaAdmin::health(const StoreScope& scope) const {
    Result r = exec_in_store(*store_, "SELECT to_jsonb(h) FROM rillflow.schema_health($1::text) h",
                             {scope_param(scope)});
    std::vector<StoreHealth> out;
    for (const auto& row : detail::json_rows(r)) {
        StoreHealth h;
        h.store = row.at("store").get<std::string>();
        h.tenant = optional_string(row, "tenant_name");
        h.schema_version = row.at("schema_version").get<int>();
        h.status = row.at("status").get<std::string>();
        for (const auto& p : row.at("problems")) {
            SchemaProblem problem;
            problem.kind = p.at("kind").get<std::string>();
            problem.object = p.at("object").get<std::string>();
            problem.problem = p.at("problem").get<std::string>();
            problem.expected = p.value("expected", nlohmann::json());
            problem.actual = p.value("actual", nlohmann::json());
            problem.repairable = p.value("repairable", false);
            h.problems.push_back(std::move(problem));
        }
        out.push_back(std::move(h));
    }
    return out;
}

}  // namespace rillflow
