// daemon/state.hpp (private): what the daemon's files share: its state (the store, the
// settings, the projections with their leases and counters, the hot flag) and the helpers
// more than one of them calls. Each file does one thing with it:
//   builder.cpp   the settings, checked, and the projections registered (build())
//   daemon.cpp    the daemon's loop: ticks on notifications and polls, heartbeats alongside
//   batch.cpp     one batch of one projection (lease, apply, fence, commit, failures)
//   cluster.cpp   heartbeats, hot/cold, handing leases over
//   listener.cpp  the LISTEN connection that wakes the loop
//   metrics.cpp   counters, health JSON and Prometheus text
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "rillflow/projection_daemon.hpp"

namespace rillflow::detail {

struct StoreState;

/// One projection the daemon runs.
struct DaemonProjection {
    std::string name;
    std::shared_ptr<ProjectionHandler> handler;  // null: run_projection in the database
    std::optional<std::int64_t> token;           // the lease token while held
    ProjectionCounters counters;
};

/// ProjectionDaemon's state (its Impl).
struct DaemonState {
    Store store;
    std::shared_ptr<StoreState> state;  // the store's, for statements on a pooled connection
    std::string url;
    std::string owner;
    std::string hostname;
    std::chrono::milliseconds lease_ttl{30000};
    std::chrono::milliseconds poll_interval{1000};
    bool use_notify = true;
    std::function<void(const std::string&)> log;
    std::optional<ClusterOptions> cluster;
    bool all_in_database = false;

    mutable std::mutex mutex;  // guards projections' counters and tokens, cluster_token
    std::map<std::string, DaemonProjection> projections;
    std::atomic<bool> hot{true};
    std::int64_t cluster_token = 0;

    explicit DaemonState(Store s);

    /// One line of the daemon's log (the builder's logger, else stderr).
    void say(const std::string& line) const;
    /// The projection called `name`; the caller holds `mutex`. @throws NotFound
    DaemonProjection& find(std::string_view name);
    /// The worker-kind projections of the store, added as they appear (run_in_database("")).
    void discover_worker_projections();
};

/// This host's name ("localhost" when it has none).
std::string host_name();

/// One batch of a projection run by a C++ handler (batch.cpp).
TickResult tick_external(DaemonState& d, DaemonProjection& p);
/// One batch of a worker-kind projection, run in the database (batch.cpp).
TickResult tick_in_database(DaemonState& d, DaemonProjection& p);

}  // namespace rillflow::detail
