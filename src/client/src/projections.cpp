// projections.cpp: the projection admin API and the daemon cluster calls, each one statement
// of the SQL API with bound parameters.
#include "rillflow/projections.hpp"

#include <algorithm>

#include "pool.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"
#include "rillflow/store.hpp"
#include "run.hpp"
#include "value.hpp"

namespace rillflow {
namespace detail {

std::string interval_text(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " milliseconds";
}

namespace {

std::optional<std::string> json_string(const nlohmann::json& row, const char* key) {
    auto it = row.find(key);
    if (it == row.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    return it->dump();
}

std::int64_t json_int(const nlohmann::json& row, const char* key) {
    auto it = row.find(key);
    if (it == row.end() || !it->is_number()) return 0;
    return it->get<std::int64_t>();
}

}  // namespace

ProjectionStatus to_status(const nlohmann::json& row) {
    ProjectionStatus s;
    s.name = json_string(row, "name").value_or("");
    s.kind = json_string(row, "kind").value_or("");
    s.status = json_string(row, "status").value_or("");
    s.checkpoint = json_int(row, "checkpoint");
    s.head = json_int(row, "head");
    s.lag = row.contains("lag") ? json_int(row, "lag")
                                : std::max<std::int64_t>(0, s.head - s.checkpoint);
    s.lease_owner = json_string(row, "lease_owner");
    s.last_error = json_string(row, "last_error");
    s.row = row;
    return s;
}

std::vector<nlohmann::json> json_rows(const Result& r) {
    std::vector<nlohmann::json> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        const std::string_view text = r.value(i, 0);
        out.push_back(nlohmann::json::parse(text.begin(), text.end()));
    }
    return out;
}

std::vector<ClusterNode> cluster_nodes(const Result& r) {
    std::vector<ClusterNode> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        ClusterNode n;
        n.node = std::string(r.value(i, 0));
        n.role = std::string(r.value(i, 1));
        n.alive = r.value(i, 2) == "t";
        if (!r.is_null(i, 3)) n.hostname = std::string(r.value(i, 3));
        if (!r.is_null(i, 4)) n.pid = static_cast<int>(to_int64(r.value(i, 4)));
        n.heartbeat_age_seconds = std::stod(std::string(r.value(i, 5)));
        if (!r.is_null(i, 6)) n.lease_seconds = std::stod(std::string(r.value(i, 6)));
        if (!r.is_null(i, 7)) n.token = to_int64(r.value(i, 7));
        out.push_back(std::move(n));
    }
    return out;
}

Heartbeat heartbeat(const Result& r) {
    if (r.size() != 1) {
        throw SqlError(sqlstate::internal_error, "rillflow.cluster_heartbeat returned " +
                                                     std::to_string(r.size()) +
                                                     " rows, expected one");
    }
    Heartbeat h;
    h.hot = r.value(0, 0) == "t";
    h.token = to_int64(r.value(0, 1));
    if (!r.is_null(0, 2)) h.hot_node = std::string(r.value(0, 2));
    return h;
}

Result exec_in_store(StoreState& store, std::string_view sql, const Params& params) {
    Lease lease = acquire(store);
    return lease->exec(sql, params);
}

// A read: on a read replica when the Store has them (replicas.cpp).
Result read_in_store(StoreState& store, std::string_view sql, const Params& params) {
    Lease lease = acquire_for_read(store);
    return lease->exec(sql, params);
}

}  // namespace detail

namespace {

using detail::exec_in_store;
using detail::read_in_store;

}  // namespace

Projections Store::projections() const { return Projections(state_); }

std::vector<ProjectionStatus> Projections::list() const {
    Result r =
        read_in_store(*store_, "SELECT to_jsonb(p) FROM rillflow.list_projections() AS p", {});
    std::vector<ProjectionStatus> out;
    for (const auto& row : detail::json_rows(r)) out.push_back(detail::to_status(row));
    return out;
}

ProjectionStatus Projections::status(std::string_view name) const {
    Result r = read_in_store(
        *store_, "SELECT to_jsonb(p) FROM rillflow.projection_status($1::text) AS p", {name});
    auto rows = detail::json_rows(r);
    if (rows.empty()) {
        throw NotFound(sqlstate::not_found, "projection \"" + std::string(name) + "\" not found");
    }
    ProjectionStatus st = detail::to_status(rows.front());
    st.name = std::string(name);
    return st;
}

std::vector<ClusterSummary> Projections::list_clusters() const {
    Result r = exec_in_store(*store_,
                             "SELECT cluster, hot_node, extract(epoch FROM lease_expires_at - "
                             "clock_timestamp())::float8, "
                             "token, nodes FROM rillflow.list_clusters()",
                             {});
    std::vector<ClusterSummary> out;
    for (std::size_t i = 0; i < r.size(); ++i) {
        ClusterSummary c;
        c.cluster = std::string(r.value(i, 0));
        if (!r.is_null(i, 1)) c.hot_node = std::string(r.value(i, 1));
        if (!r.is_null(i, 2)) c.lease_seconds = std::stod(std::string(r.value(i, 2)));
        c.token = detail::to_int64(r.value(i, 3));
        c.nodes = detail::to_int64(r.value(i, 4));
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<HotColdCluster> Projections::cluster_hotcold() const {
    Result r = exec_in_store(
        *store_,
        "SELECT cluster, hot_node, to_char(lease_expires_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), token, min_cold_standbys, node, role, alive, "
        "heartbeat_age_ms, to_char(node_lease_expires_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM rillflow.cluster_hotcold()",
        {});
    std::vector<HotColdCluster> out;
    auto opt = [&](std::size_t i, int col) -> std::optional<std::string> {
        if (r.is_null(i, col)) return std::nullopt;
        return std::string(r.value(i, col));
    };
    for (std::size_t i = 0; i < r.size(); ++i) {
        const std::string name(r.value(i, 0));
        if (out.empty() || out.back().cluster != name) {
            HotColdCluster c;
            c.cluster = name;
            c.hot_node = opt(i, 1);
            c.lease_expires_at = opt(i, 2);
            c.token = detail::to_int64(r.value(i, 3));
            if (!r.is_null(i, 4))
                c.min_cold_standbys = static_cast<int>(detail::to_int64(r.value(i, 4)));
            out.push_back(std::move(c));
        }
        if (r.is_null(i, 5)) continue;  // a cluster without nodes
        HotColdNode n;
        n.node_id = std::string(r.value(i, 5));
        n.role = std::string(r.value(i, 6));
        n.alive = r.value(i, 7) == "t";
        n.heartbeat_age_ms = detail::to_int64(r.value(i, 8));
        n.lease_expires_at = opt(i, 9);
        out.back().nodes.push_back(std::move(n));
    }
    return out;
}

void Projections::set_min_cold_standbys(std::string_view cluster, std::optional<int> count) const {
    exec_in_store(*store_, "SELECT rillflow.cluster_set_min_cold_standbys($1::text, $2::integer)",
                  {cluster, count});
}

void Projections::pause(std::string_view name) const {
    exec_in_store(*store_, "SELECT rillflow.pause_projection($1::text)", {name});
}

void Projections::resume(std::string_view name) const {
    exec_in_store(*store_, "SELECT rillflow.resume_projection($1::text)", {name});
}

void Projections::reset(std::string_view name, std::int64_t position) const {
    exec_in_store(*store_, "SELECT rillflow.reset_projection($1::text, $2::bigint)",
                  {name, position});
}

void Projections::rebuild(std::string_view name) const {
    exec_in_store(*store_, "SELECT rillflow.rebuild_projection($1::text)", {name});
}

std::int64_t Projections::run_once(std::string_view name, int max_batches) const {
    Result r = exec_in_store(*store_, "SELECT rillflow.run_projection($1::text, $2::integer)",
                             {name, max_batches});
    return detail::to_int64(detail::single(r, "run_projection"));
}

std::int64_t Projections::run_until_idle(std::optional<std::string> name) const {
    Result r =
        exec_in_store(*store_, "SELECT rillflow.run_projections_until_idle($1::text)", {name});
    return detail::to_int64(detail::single(r, "run_projections_until_idle"));
}

std::vector<nlohmann::json> Projections::dlq_list(std::string_view name, int limit) const {
    Result r = exec_in_store(
        *store_, "SELECT to_jsonb(d) FROM rillflow.dlq_list($1::text, $2::integer) AS d",
        {name, limit});
    return detail::json_rows(r);
}

void Projections::dlq_requeue(std::string_view name, std::int64_t id) const {
    exec_in_store(*store_, "SELECT rillflow.dlq_requeue($1::text, $2::bigint)", {name, id});
}

void Projections::dlq_delete(std::string_view name, std::int64_t id) const {
    exec_in_store(*store_, "SELECT rillflow.dlq_delete($1::text, $2::bigint)", {name, id});
}

nlohmann::json Projections::metrics(std::string_view name) const {
    Result r = exec_in_store(
        *store_, "SELECT to_jsonb(m) FROM rillflow.projection_metrics($1::text) AS m", {name});
    auto rows = detail::json_rows(r);
    if (rows.size() == 1) return rows.front();
    return rows;
}

void Projections::create_external(std::string_view name,
                                  const ExternalProjectionOptions& options) const {
    std::optional<std::string> types;
    if (!options.event_types.empty()) types = detail::text_array(options.event_types);
    exec_in_store(*store_,
                  "SELECT rillflow.create_external_projection($1::text, $2::text[], $3::integer, "
                  "$4::bigint)",
                  {name, types, options.batch_size, options.start_from});
}

std::vector<ClusterNode> Projections::cluster_status(std::string_view cluster) const {
    Result r = exec_in_store(*store_, detail::kClusterStatus, {cluster});
    return detail::cluster_nodes(r);
}

Heartbeat Projections::cluster_heartbeat(std::string_view cluster, std::string_view node,
                                         std::chrono::milliseconds lease_ttl,
                                         std::chrono::milliseconds grace) const {
    Result r = exec_in_store(*store_, detail::kClusterHeartbeat,
                             {cluster, node, detail::interval_text(lease_ttl),
                              detail::interval_text(grace), Param::null(), Param::null()});
    return detail::heartbeat(r);
}

std::int64_t Projections::cluster_promote(std::string_view cluster, std::string_view node) const {
    Result r = exec_in_store(*store_, "SELECT rillflow.cluster_promote($1::text, $2::text)",
                             {cluster, node});
    return detail::to_int64(detail::single(r, "cluster_promote"));
}

bool Projections::cluster_demote(std::string_view cluster, std::string_view node) const {
    Result r = exec_in_store(*store_, "SELECT rillflow.cluster_demote($1::text, $2::text)",
                             {cluster, node});
    return detail::single(r, "cluster_demote") == "t";
}

void Projections::cluster_leave(std::string_view cluster, std::string_view node) const {
    exec_in_store(*store_, "SELECT rillflow.cluster_leave($1::text, $2::text)", {cluster, node});
}

}  // namespace rillflow
