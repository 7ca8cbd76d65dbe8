// projection_sql.hpp (private): statements and result readers shared by the projection admin
// API (projections.cpp) and the daemon (daemon/*.cpp).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/projections.hpp"
#include "rillflow/sql.hpp"

namespace rillflow::detail {

struct StoreState;

// Ages and lease times as seconds, computed by the server so no clock skew enters.
inline constexpr const char* kClusterStatus =
    "SELECT node, role, alive, hostname, pid, extract(epoch FROM heartbeat_age)::float8, "
    "extract(epoch FROM lease_expires_at - clock_timestamp())::float8, token "
    "FROM rillflow.cluster_status($1::text)";

inline constexpr const char* kClusterHeartbeat =
    "SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat($1::text, $2::text, "
    "$3::interval, $4::interval, $5::text, $6::integer)";

/// A duration as interval text ("1500 milliseconds").
std::string interval_text(std::chrono::milliseconds d);
/// A status row (to_jsonb of list_projections / projection_status) as ProjectionStatus.
ProjectionStatus to_status(const nlohmann::json& row);
/// Column 0 of each row parsed as JSON.
std::vector<nlohmann::json> json_rows(const Result& r);
/// Runs one statement on a connection borrowed for it.
Result exec_in_store(StoreState& store, std::string_view sql, const Params& params);
/// The rows of kClusterStatus.
std::vector<ClusterNode> cluster_nodes(const Result& r);
/// The row of kClusterHeartbeat.
Heartbeat heartbeat(const Result& r);

}  // namespace rillflow::detail
