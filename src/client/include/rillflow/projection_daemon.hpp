// rillflow/projection_daemon.hpp: external projections with C++ handlers, run by a daemon
// that uses the same SQL lease / checkpoint / dead-letter primitives as the in-database
// worker, optionally as one node of a hot/cold cluster.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rillflow/events.hpp"
#include "rillflow/export.hpp"
#include "rillflow/projections.hpp"
#include "rillflow/store.hpp"
#include "rillflow/transaction.hpp"

namespace rillflow {

namespace detail {
struct DaemonState;
}

/// @brief The C++ side of an external projection: apply() is called once per event, inside
/// the transaction that also commits the projection's checkpoint, so read-model writes made
/// through `tx` take effect exactly once. Throwing rolls back this event's writes (a
/// savepoint); the daemon then records the failure (retried with backoff, then
/// dead-lettered, as the SQL runtime decides).
class RILLFLOW_EXPORT ProjectionHandler {
  public:
    virtual ~ProjectionHandler();
    /// @brief Applies one event. Write the read model through `tx`; do not commit or roll it
    /// back. Called from the daemon's ticking thread, one event at a time.
    virtual void apply(const EventEnvelope& event, Transaction& tx) = 0;
};

/// @brief A handler as a function, for ProjectionDaemonBuilder::add().
using ProjectionFunction = std::function<void(const EventEnvelope&, Transaction&)>;

/// @brief Hot/cold cluster settings (`--cluster-mode hotcold`). Exactly one node of a cluster
/// is hot (ticks projections); the others are cold and take over when the hot node's lease
/// expires (+ grace).
struct ClusterOptions {
    /// @brief The cluster's name (letters, digits, `_ . : @ -`, at most 128).
    std::string name{};
    /// @brief This node's id; "<hostname>-<pid>" when empty.
    std::string node_id{};
    /// @brief How often the node sends a heartbeat (renewing the lease when hot).
    std::chrono::milliseconds heartbeat{std::chrono::seconds(1)};
    /// @brief How long a heartbeat keeps the hot lease.
    std::chrono::milliseconds lease_ttl{std::chrono::seconds(5)};
    /// @brief How long past expiry a cold node waits before it takes the lease.
    std::chrono::milliseconds lease_grace{0};
    /// @brief The cold standbys the cluster should have; fewer makes it unhealthy.
    int min_cold_standbys = 0;
};

/// @brief What one tick of one projection did.
struct TickResult {
    /// @brief Events applied and committed.
    std::int64_t applied = 0;
    /// @brief The lease was held (or taken) and a batch was read.
    bool leased = false;
    /// @brief An event's handler failed: "retry" or "dead_lettered" (the SQL runtime's word).
    std::optional<std::string> failure{};
    /// @brief The commit was refused with RF006: another owner has the lease now.
    bool lease_lost = false;
    /// @brief The checkpoint after the tick.
    std::int64_t checkpoint = 0;
};

/// @brief The daemon's own counters for one projection (since it started).
struct ProjectionCounters {
    std::string name{};
    /// @brief "external" (a C++ handler) or "worker" (run_projection in the database).
    std::string kind{};
    std::int64_t events_applied = 0;
    std::int64_t batches = 0;
    std::int64_t failures = 0;
    std::int64_t dead_lettered = 0;
    std::int64_t lease_lost = 0;
    std::int64_t checkpoint = 0;
    double last_tick_seconds = 0;
};

class ProjectionDaemon;

/// @brief Configures a ProjectionDaemon: `ProjectionDaemon::builder(store).batch_size(500)
/// .register_handler("name", handler).build()`. (`register` is a C++ keyword, hence
/// register_handler(), with add() as a shorter synonym.)
class RILLFLOW_EXPORT ProjectionDaemonBuilder {
  public:
    explicit ProjectionDaemonBuilder(Store store);

    /// @brief Act on the store in this schema ("rillflow_default" or "rillflow_tenant_x").
    ProjectionDaemonBuilder& schema(std::string schema);
    /// @brief Act on this tenant's store (SET LOCAL rillflow.tenant in every transaction).
    ProjectionDaemonBuilder& tenant(std::string tenant);
    /// @brief The batch size projections are registered with (default 500).
    ProjectionDaemonBuilder& batch_size(int n);
    /// @brief How long a projection lease lasts between batches (default 30 s).
    ProjectionDaemonBuilder& lease_ttl(std::chrono::milliseconds ttl);
    /// @brief The longest run_loop() waits without a notification (default 1 s).
    ProjectionDaemonBuilder& poll_interval(std::chrono::milliseconds interval);
    /// @brief Whether run_loop() LISTENs for the worker's NOTIFY rillflow_events (default true);
    /// false: it only polls, every poll interval (for poolers that drop LISTEN, such as
    /// PgBouncer in transaction mode).
    ProjectionDaemonBuilder& use_notify(bool listen);
    /// @brief The lease owner name (default: the cluster node id, else "<hostname>-<pid>").
    ProjectionDaemonBuilder& owner(std::string owner);
    /// @brief Where the daemon's log lines go (default: stderr).
    ProjectionDaemonBuilder& logger(std::function<void(const std::string&)> log);
    /// @brief Join a hot/cold cluster: only the hot node ticks.
    ProjectionDaemonBuilder& cluster(ClusterOptions options);

    /// @brief Runs `handler` as the external projection `name` (registered at build() with
    /// create_external_projection; only these event types when not empty).
    ProjectionDaemonBuilder& register_handler(std::string name,
                                              std::shared_ptr<ProjectionHandler> handler,
                                              std::vector<std::string> event_types = {});
    /// @brief Same as register_handler().
    ProjectionDaemonBuilder& add(std::string name, std::shared_ptr<ProjectionHandler> handler,
                                 std::vector<std::string> event_types = {});
    /// @brief A handler given as a function.
    ProjectionDaemonBuilder& add(std::string name, ProjectionFunction handler,
                                 std::vector<std::string> event_types = {});
    /// @brief Also drive an in-database (worker-kind) projection with run_projection(), for
    /// servers without the background worker. An empty name means every worker-kind
    /// projection of the store (listed at each tick).
    ProjectionDaemonBuilder& run_in_database(std::string name = {});

    /// @brief Registers the external projections and builds the daemon.
    /// @throws InvalidArgument for bad settings; the server's errors from registration.
    [[nodiscard]] ProjectionDaemon build() const;

  private:
    friend class ProjectionDaemon;
    struct Entry {
        std::string name;
        std::shared_ptr<ProjectionHandler> handler;  // null: worker-kind, run in the database
        std::vector<std::string> event_types;
    };
    Store store_;
    std::optional<std::string> tenant_;
    std::optional<std::string> schema_;
    int batch_size_ = 500;
    std::chrono::milliseconds lease_ttl_{std::chrono::seconds(30)};
    std::chrono::milliseconds poll_interval_{std::chrono::seconds(1)};
    bool use_notify_ = true;
    std::string owner_;
    std::function<void(const std::string&)> log_;
    std::optional<ClusterOptions> cluster_;
    std::vector<Entry> entries_;
    bool all_in_database_ = false;
};

/// @brief Runs external projections. Movable, not copyable. tick_once(), run_until_idle()
/// and run_loop() run on the calling thread (one at a time); stats(), health_json(),
/// prometheus_metrics() and is_hot() may be called from any thread meanwhile.
class RILLFLOW_EXPORT ProjectionDaemon {
  public:
    /// @brief Starts configuring a daemon on `store`.
    [[nodiscard]] static ProjectionDaemonBuilder builder(Store store);

    ProjectionDaemon(ProjectionDaemon&&) noexcept;
    ProjectionDaemon& operator=(ProjectionDaemon&&) noexcept;
    ProjectionDaemon(const ProjectionDaemon&) = delete;
    ProjectionDaemon& operator=(const ProjectionDaemon&) = delete;
    ~ProjectionDaemon();

    /// @brief One batch of one projection: take (or keep) its lease, read after its checkpoint,
    /// apply each event in a savepoint, commit the checkpoint with the writes. Does nothing
    /// on a cold cluster node. @throws NotFound when the daemon does not run `name`.
    TickResult tick_once(std::string_view name);
    /// @brief Ticks every projection until none has anything left to do now (events whose
    /// retry is not yet due wait). @return The events applied.
    std::int64_t run_until_idle();
    /// @brief Runs until `stop` is true: ticks on every notification on `rillflow_events`
    /// (a dedicated LISTEN connection) and at least every poll interval; in a cluster, sends
    /// heartbeats on a thread of its own and ticks only while hot. On the way out it gives
    /// up its leases and leaves the cluster.
    void run_loop(std::atomic<bool>& stop);

    /// @brief One cluster heartbeat now (run_loop sends them itself). @return True when hot.
    /// Without a cluster: always true.
    bool heartbeat_once();
    /// @brief True when this node may tick: no cluster, or the hot node at the last heartbeat.
    [[nodiscard]] bool is_hot() const noexcept;
    /// @brief Gives up every projection lease this daemon holds (on losing the hot role).
    void release_leases();

    /// @brief The lease owner / node id.
    [[nodiscard]] const std::string& owner() const noexcept;
    /// @brief The cluster settings, if in a cluster.
    [[nodiscard]] const std::optional<ClusterOptions>& cluster() const noexcept;
    /// @brief The projections this daemon runs.
    [[nodiscard]] std::vector<std::string> names() const;
    /// @brief Its own counters per projection.
    [[nodiscard]] std::vector<ProjectionCounters> stats() const;
    /// @brief The store it runs on.
    [[nodiscard]] const Store& store() const noexcept;

    /// @brief `GET /`: JSON with the node, its projections (status, checkpoint, lag, DLQ size,
    /// counters) and, in a cluster, every node with role, heartbeat age and lease, the
    /// standby count and min_cold_standbys, and `healthy`.
    [[nodiscard]] nlohmann::json health_json() const;
    /// @brief `GET /metrics`: the Prometheus text exposition of the same, followed by the
    /// database's `rillflow.metrics()` under the same names.
    [[nodiscard]] std::string prometheus_metrics() const;

  private:
    void append_database_metrics(std::ostream& out) const;
    friend class ProjectionDaemonBuilder;
    using Impl = detail::DaemonState;
    explicit ProjectionDaemon(std::unique_ptr<Impl> impl);
    static std::string connection_url(const Store& store);
    static std::shared_ptr<detail::StoreState> state_of(const Store& store);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rillflow
