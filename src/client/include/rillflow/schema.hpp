// rillflow/schema.hpp: the stores' schema admin API (docs/upgrades.md): what schema_sync would
// run, running it, and how each store compares with the shape of its version.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/export.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
}

/// @brief Which stores a schema call acts on.
class StoreScope {
  public:
    /// @brief Every store: the default store and each tenant's.
    static StoreScope all() { return StoreScope(std::nullopt); }
    /// @brief The default store.
    static StoreScope default_store() { return StoreScope(std::string()); }
    /// @brief One tenant's store ("" is the default store).
    static StoreScope tenant(std::string name) { return StoreScope(std::move(name)); }
    /// @brief NULL (every store), "" (the default store) or the tenant, as the SQL API takes it.
    [[nodiscard]] const std::optional<std::string>& sql_argument() const noexcept {
        return tenant_;
    }

  private:
    explicit StoreScope(std::optional<std::string> tenant) : tenant_(std::move(tenant)) {}
    std::optional<std::string> tenant_;
};

/// @brief One row of `schema_plan`: a repair, a step, or something only a person can decide.
struct SchemaPlanStep {
    /// @brief The store's schema.
    std::string store{};
    /// @brief Its tenant; empty for the default store.
    std::optional<std::string> tenant{};
    /// @brief "step N: name", "repair: <problem> <kind> <object>" or "manual: ...".
    std::string step{};
    /// @brief The DDL sync would run; empty for a manual one.
    std::optional<std::string> ddl{};
};

/// @brief One row of `schema_sync`.
struct SchemaSyncResult {
    std::string store{};
    std::optional<std::string> tenant{};
    /// @brief The store's version after the sync.
    int schema_version = 0;
    int steps_applied = 0;
    int repaired = 0;
    /// @brief What was left to a person (and, syncing every store, a store that failed).
    std::vector<std::string> unrepaired{};
};

/// @brief One difference between a store and the shape of its version.
struct SchemaProblem {
    /// @brief relation, column, constraint, index, trigger, public_access, schema or steps.
    std::string kind{};
    /// @brief "table", "table.column", "table.constraint", ...
    std::string object{};
    /// @brief missing, changed, unexpected or behind.
    std::string problem{};
    nlohmann::json expected{};
    nlohmann::json actual{};
    /// @brief Whether schema_sync repairs it.
    bool repairable = false;
};

/// @brief One row of `schema_health`.
struct StoreHealth {
    std::string store{};
    std::optional<std::string> tenant{};
    int schema_version = 0;
    /// @brief ok, behind (steps to apply, no drift), drift or missing (the schema has gone).
    std::string status{};
    std::vector<SchemaProblem> problems{};
    [[nodiscard]] bool ok() const noexcept { return status == "ok"; }
};

/// @brief The stores' schema admin API; from Store::schema(). Each call is one statement.
class RILLFLOW_EXPORT SchemaAdmin {
  public:
    /// @brief What sync would run, without running it. @throws TenantNotFound, InvalidArgument.
    [[nodiscard]] std::vector<SchemaPlanStep> plan(const StoreScope& scope) const;
    /// @brief Repairs drift and applies the steps each store lacks. Only the stores' owner, its
    /// members and superusers may (SqlError 42501). Syncing every store, one store's failure is
    /// reported in its row; otherwise it is thrown.
    std::vector<SchemaSyncResult> sync(const StoreScope& scope) const;
    /// @brief Each store compared with the shape of its version.
    [[nodiscard]] std::vector<StoreHealth> health(const StoreScope& scope) const;

  private:
    friend class Store;
    explicit SchemaAdmin(std::shared_ptr<detail::StoreState> store) : store_(std::move(store)) {}

    std::shared_ptr<detail::StoreState> store_;
};

}  // namespace rillflow
