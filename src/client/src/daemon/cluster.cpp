// daemon/cluster.cpp: a daemon as one node of a hot/cold cluster: heartbeats (which renew the
// hot lease and tell the node whether it is hot), and handing its projection leases over when
// it stops being hot.
#include "daemon/cluster.hpp"

#include <unistd.h>

#include <utility>
#include <vector>

#include "daemon/state.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"

namespace rillflow {

namespace detail {

HeartbeatThread::HeartbeatThread(std::chrono::milliseconds every, std::function<void()> beat) {
    thread_ = std::thread([this, every, beat = std::move(beat)] {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!wake_.wait_for(lock, every, [this] { return stop_; })) {
            lock.unlock();
            beat();
            lock.lock();
        }
    });
}

HeartbeatThread::~HeartbeatThread() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

}  // namespace detail

bool ProjectionDaemon::is_hot() const noexcept { return impl_->hot.load(); }

bool ProjectionDaemon::heartbeat_once() {
    if (!impl_->cluster) return true;
    const ClusterOptions& c = *impl_->cluster;
    try {
        Result r = detail::exec_in_store(
            *impl_->state, detail::kClusterHeartbeat,
            {c.name, c.node_id, detail::interval_text(c.lease_ttl),
             detail::interval_text(c.lease_grace), impl_->hostname, static_cast<int>(getpid())});
        Heartbeat h = detail::heartbeat(r);
        {
            std::lock_guard<std::mutex> guard(impl_->mutex);
            impl_->cluster_token = h.token;
        }
        const bool was = impl_->hot.exchange(h.hot);
        if (was != h.hot)
            impl_->say(h.hot ? "hot (token " + std::to_string(h.token) + ")"
                             : "cold (hot node: " + h.hot_node.value_or("none") + ")");
        return h.hot;
    } catch (const Error& e) {
        // Without a heartbeat the node cannot know it still holds the lease: it stops ticking.
        if (impl_->hot.exchange(false)) impl_->say("cold: heartbeat failed: " + e.message());
        return false;
    }
}

void ProjectionDaemon::release_leases() {
    std::vector<std::pair<std::string, std::int64_t>> held;
    {
        std::lock_guard<std::mutex> guard(impl_->mutex);
        for (auto& [name, p] : impl_->projections) {
            if (p.token) held.emplace_back(name, *p.token);
            p.token.reset();
        }
    }
    for (const auto& [name, token] : held) {
        try {
            detail::exec_in_store(*impl_->state,
                                  "SELECT rillflow.projection_release($1::text, $2::bigint)",
                                  {name, token});
        } catch (const Error& e) {
            impl_->say("projection " + name + ": release failed: " + e.message());
        }
    }
}

}  // namespace rillflow
