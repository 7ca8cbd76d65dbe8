// rillflow/projections.hpp: the projection admin API (in-database and external projections,
// the dead-letter queue) and the daemon cluster calls, each one statement of the SQL API.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/export.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
}

/// @brief One projection as `list_projections()` / `projection_status(name)` report it. The
/// common fields are typed; `row` holds every column the server returned (as JSON), so
/// columns added by later versions are not lost.
struct ProjectionStatus {
    /// @brief The projection's name.
    std::string name{};
    /// @brief "worker" (run in the database) or "external" (run by a daemon).
    std::string kind{};
    /// @brief "running", "paused" or "failed".
    std::string status{};
    /// @brief The last position applied.
    std::int64_t checkpoint = 0;
    /// @brief The store's log head when the status was read (0 when not reported).
    std::int64_t head = 0;
    /// @brief head - checkpoint (0 when not reported).
    std::int64_t lag = 0;
    /// @brief Who holds the lease, if anyone.
    std::optional<std::string> lease_owner{};
    /// @brief The last error's message, if any.
    std::optional<std::string> last_error{};
    /// @brief Every column of the server's row.
    nlohmann::json row = nlohmann::json::object();
};

/// @brief How an external projection is registered (`create_external_projection`).
struct ExternalProjectionOptions {
    /// @brief Only these event types; all types when empty.
    std::vector<std::string> event_types{};
    /// @brief The most events per batch (1..100000).
    int batch_size = 500;
    /// @brief Start after this position.
    std::int64_t start_from = 0;
};

/// @brief One daemon cluster, from `list_clusters()`.
struct ClusterSummary {
    std::string cluster{};
    /// @brief The hot node while its lease is live.
    std::optional<std::string> hot_node{};
    /// @brief Seconds until the hot lease expires (negative: expired), if one was ever taken.
    std::optional<double> lease_seconds{};
    std::int64_t token = 0;
    std::int64_t nodes = 0;
};

/// @brief One node of a daemon cluster, from `cluster_status(cluster)`.
struct ClusterNode {
    /// @brief The node's id.
    std::string node{};
    /// @brief "hot" while it holds a live lease, else "cold".
    std::string role{};
    /// @brief Heard from within its lease TTL + grace.
    bool alive = false;
    /// @brief Host and process, as the node reported them.
    std::optional<std::string> hostname{};
    /// @brief Host and process, as the node reported them.
    std::optional<int> pid{};
    /// @brief Seconds since its last heartbeat.
    double heartbeat_age_seconds = 0;
    /// @brief Seconds until its lease expires (negative: expired); empty unless it holds it.
    std::optional<double> lease_seconds{};
    /// @brief The cluster's fencing token; empty unless it holds the lease.
    std::optional<std::int64_t> token{};
};

/// @brief One node of a cluster in `cluster_hotcold()`.
struct HotColdNode {
    std::string node_id{};
    /// @brief "hot" while it holds a live lease, else "cold".
    std::string role{};
    /// @brief Heard from within its lease TTL + grace.
    bool alive = false;
    /// @brief Milliseconds since its last heartbeat.
    std::int64_t heartbeat_age_ms = 0;
    /// @brief When its hot lease expires (UTC, ISO 8601); empty unless it holds the lease.
    std::optional<std::string> lease_expires_at{};
};

/// @brief One daemon cluster with its nodes, from `cluster_hotcold()`.
struct HotColdCluster {
    std::string cluster{};
    /// @brief The hot node while its lease is live.
    std::optional<std::string> hot_node{};
    /// @brief When the hot lease expires (UTC, ISO 8601), if one was ever taken.
    std::optional<std::string> lease_expires_at{};
    std::int64_t token = 0;
    /// @brief The cluster's stored min_cold_standbys; empty when not set.
    std::optional<int> min_cold_standbys{};
    std::vector<HotColdNode> nodes{};
};

/// @brief The answer of one `cluster_heartbeat`.
struct Heartbeat {
    /// @brief This node holds the hot lease now.
    bool hot = false;
    /// @brief The cluster's fencing token (the hot node's).
    std::int64_t token = 0;
    /// @brief The hot node, if any.
    std::optional<std::string> hot_node{};
};

/// @brief The projection admin API of a store. Cheap to copy; thread-safe (each call borrows a
/// pooled connection). Every call acts on the store's tenant.
class RILLFLOW_EXPORT Projections {
  public:
    /// @brief Every projection of the store, by name.
    [[nodiscard]] std::vector<ProjectionStatus> list() const;
    /// @brief One projection. @throws NotFound
    [[nodiscard]] ProjectionStatus status(std::string_view name) const;
    /// @brief Stops ticking it (the worker and daemons skip it). @throws NotFound
    void pause(std::string_view name) const;
    /// @brief Ticks it again (clears a failed state). @throws NotFound
    void resume(std::string_view name) const;
    /// @brief Moves its checkpoint to `position`: the next tick applies the events after it.
    void reset(std::string_view name, std::int64_t position) const;
    /// @brief Calls its reset function (if any) and replays it from 0.
    void rebuild(std::string_view name) const;
    /// @brief Runs up to `max_batches` batches of a worker-kind projection now, in the
    /// database. @return The events applied.
    std::int64_t run_once(std::string_view name, int max_batches = 1) const;
    /// @brief Runs one worker-kind projection (or all, when `name` is empty) until it has
    /// nothing left to do. @return The events applied.
    std::int64_t run_until_idle(std::optional<std::string> name = {}) const;
    /// @brief Its dead-letter queue, oldest first, at most `limit` rows (each row as JSON).
    [[nodiscard]] std::vector<nlohmann::json> dlq_list(std::string_view name,
                                                       int limit = 100) const;
    /// @brief Puts a dead-lettered event back: it is applied again on the next tick.
    void dlq_requeue(std::string_view name, std::int64_t id) const;
    /// @brief Deletes a dead-lettered event.
    void dlq_delete(std::string_view name, std::int64_t id) const;
    /// @brief `projection_metrics(name)` as JSON (one object).
    [[nodiscard]] nlohmann::json metrics(std::string_view name) const;
    /// @brief Registers a projection run by a daemon (`create_external_projection`);
    /// idempotent for the same definition.
    void create_external(std::string_view name,
                         const ExternalProjectionOptions& options = {}) const;

    /// @brief The nodes of a daemon cluster. @throws NotFound for an unknown cluster.
    [[nodiscard]] std::vector<ClusterNode> cluster_status(std::string_view cluster) const;
    /// @brief One heartbeat of `node` (see `cluster_heartbeat` in the SQL reference).
    Heartbeat cluster_heartbeat(std::string_view cluster, std::string_view node,
                                std::chrono::milliseconds lease_ttl,
                                std::chrono::milliseconds grace = {}) const;
    /// @brief Makes `node` hot now. @return The new fencing token.
    std::int64_t cluster_promote(std::string_view cluster, std::string_view node) const;
    /// @brief Every daemon cluster of the store (`list_clusters()`).
    [[nodiscard]] std::vector<ClusterSummary> list_clusters() const;
    /// @brief Every daemon cluster of the store with its nodes, heartbeat ages, leases and
    /// stored min_cold_standbys (`cluster_hotcold()`).
    [[nodiscard]] std::vector<HotColdCluster> cluster_hotcold() const;
    /// @brief Stores the cluster's min_cold_standbys (std::nullopt unsets it); the cluster
    /// need not have nodes yet. @throws InvalidArgument for a bad name or a count < 0.
    void set_min_cold_standbys(std::string_view cluster, std::optional<int> count) const;
    /// @brief Takes the hot lease from `node`. @return True when it was hot.
    bool cluster_demote(std::string_view cluster, std::string_view node) const;
    /// @brief Removes `node` from the cluster (giving up the lease).
    void cluster_leave(std::string_view cluster, std::string_view node) const;

  private:
    friend class Store;
    explicit Projections(std::shared_ptr<detail::StoreState> store) : store_(std::move(store)) {}

    std::shared_ptr<detail::StoreState> store_;
};

}  // namespace rillflow
