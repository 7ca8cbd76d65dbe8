// daemon/daemon.cpp: the daemon itself: its state, the projections it runs, and its loop,
// which ticks them on every notification and at least every poll interval, and (in a
// cluster) only while hot, with heartbeats sent on a thread of their own.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <thread>

#include "daemon/cluster.hpp"
#include "daemon/listener.hpp"
#include "daemon/state.hpp"
#include "pool.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"

namespace rillflow {

ProjectionHandler::~ProjectionHandler() = default;

// ---- state ---------------------------------------------------------------------------------

namespace detail {

std::string host_name() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

DaemonState::DaemonState(Store s) : store(std::move(s)), hostname(host_name()) {}

void DaemonState::say(const std::string& line) const {
    if (log)
        log(line);
    else
        std::cerr << "rillflow daemon " << owner << ": " << line << std::endl;
}

DaemonProjection& DaemonState::find(std::string_view name) {
    auto it = projections.find(std::string(name));
    if (it == projections.end()) {
        throw NotFound(sqlstate::not_found,
                       "projection \"" + std::string(name) + "\" is not run by this daemon", "",
                       "Register a handler for it with register_handler().");
    }
    return it->second;
}

void DaemonState::discover_worker_projections() {
    if (!all_in_database) return;
    Result r = exec_in_store(
        *state, "SELECT name FROM rillflow.list_projections() WHERE kind = 'worker'", {});
    std::lock_guard<std::mutex> guard(mutex);
    for (std::size_t i = 0; i < r.size(); ++i) {
        std::string name(r.value(i, 0));
        if (projections.count(name) != 0) continue;
        DaemonProjection p;
        p.name = name;
        p.counters.name = name;
        p.counters.kind = "worker";
        projections.emplace(name, std::move(p));
    }
}

}  // namespace detail

// ---- the daemon -----------------------------------------------------------------------------

ProjectionDaemonBuilder ProjectionDaemon::builder(Store store) {
    return ProjectionDaemonBuilder(std::move(store));
}

ProjectionDaemon::ProjectionDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProjectionDaemon::ProjectionDaemon(ProjectionDaemon&&) noexcept = default;
ProjectionDaemon& ProjectionDaemon::operator=(ProjectionDaemon&&) noexcept = default;
ProjectionDaemon::~ProjectionDaemon() = default;

std::string ProjectionDaemon::connection_url(const Store& store) {
    return store.state_->pool->config().connect->url;
}
std::shared_ptr<detail::StoreState> ProjectionDaemon::state_of(const Store& store) {
    return store.state_;
}

const std::string& ProjectionDaemon::owner() const noexcept { return impl_->owner; }
const std::optional<ClusterOptions>& ProjectionDaemon::cluster() const noexcept {
    return impl_->cluster;
}
const Store& ProjectionDaemon::store() const noexcept { return impl_->store; }

std::vector<std::string> ProjectionDaemon::names() const {
    std::lock_guard<std::mutex> guard(impl_->mutex);
    std::vector<std::string> out;
    for (const auto& [name, p] : impl_->projections) out.push_back(name);
    return out;
}

std::int64_t ProjectionDaemon::run_until_idle() {
    std::int64_t total = 0;
    for (;;) {
        impl_->discover_worker_projections();
        bool progress = false;
        for (const std::string& name : names()) {
            if (!impl_->hot.load()) return total;
            TickResult r = tick_once(name);
            total += r.applied;
            if (r.applied > 0 || (r.failure && *r.failure == "dead_lettered")) progress = true;
        }
        if (!progress) return total;
    }
}

void ProjectionDaemon::run_loop(std::atomic<bool>& stop) {
    using Clock = std::chrono::steady_clock;
    {
        // Joined when this scope is left, whichever way: an exception of a type the loop
        // does not catch reaches the caller instead of std::terminate.
        std::optional<detail::HeartbeatThread> heartbeats;
        if (impl_->cluster) {
            heartbeat_once();
            heartbeats.emplace(impl_->cluster->heartbeat, [this] { heartbeat_once(); });
        }

        std::optional<detail::Listener> listener;
        if (impl_->use_notify) listener.emplace(impl_->url);
        const auto slice = std::min(impl_->poll_interval, std::chrono::milliseconds(200));
        auto next_poll = Clock::now();
        bool was_hot = false;
        while (!stop.load()) {
            const bool hot = impl_->hot.load();
            if (!hot && was_hot) release_leases();  // lost the hot role: hand the leases over
            const bool became_hot = hot && !was_hot;
            was_hot = hot;
            bool notified = false;
            if (listener)
                notified = listener->wait(slice);
            else
                std::this_thread::sleep_for(slice);
            if (!hot) continue;
            if (notified || became_hot || Clock::now() >= next_poll) {
                try {
                    run_until_idle();
                } catch (const ConnectionError& e) {
                    impl_->say("tick failed, retrying at the next poll: " + e.message());
                } catch (const Error& e) {
                    impl_->say("tick failed: " + std::string(e.what()));
                }
                next_poll = Clock::now() + impl_->poll_interval;
            }
        }
    }

    release_leases();
    if (impl_->cluster) {
        try {
            impl_->store.projections().cluster_leave(impl_->cluster->name, impl_->cluster->node_id);
        } catch (const Error& e) {
            impl_->say("leaving the cluster failed: " + e.message());
        }
    }
}

}  // namespace rillflow
