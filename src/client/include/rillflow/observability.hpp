// rillflow/observability.hpp: the database's metrics and a correlation's causation chain
// (docs/observability.md), each one statement of the SQL API on the given store.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/export.hpp"
#include "rillflow/store.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

/// @brief One row of `rillflow.metrics()`.
struct Metric {
    /// @brief rillflow_log_head, rillflow_projection_lag, ...
    std::string name{};
    /// @brief store, tenant, projection, ... (string values).
    nlohmann::json labels = nlohmann::json::object();
    double value = 0;
    std::string help{};
};

/// @brief Every metric of the database the store's role may read (`rillflow.metrics()`).
RILLFLOW_EXPORT std::vector<Metric> read_metrics(const Store& store);

/// @brief The causation chain of `correlation_id` in the store, and the projections that applied
/// it, as a Mermaid sequence diagram (`rillflow.trace_mermaid`); at most `max_events` events.
RILLFLOW_EXPORT std::string trace_mermaid(const Store& store, const Uuid& correlation_id,
                                          int max_events = 1000);

}  // namespace rillflow
