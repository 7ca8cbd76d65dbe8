// pool.cpp: the connection pool. Connections are opened outside the lock, handed out most
// recently used first, checked for life before reuse, and closed when they come back broken.
#include "pool.hpp"

#include "rillflow/errors.hpp"

namespace rillflow::detail {

Lease& Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        pool_ = std::move(other.pool_);
        connection_ = std::move(other.connection_);
        counted_ = other.counted_;
    }
    return *this;
}

void Lease::release() noexcept {
    if (connection_ && pool_) {
        pool_->give_back(std::move(connection_));
        if (counted_) pool_->note_returned();
    }
    connection_.reset();
    pool_.reset();
}

Lease Pool::acquire() {
    const auto deadline = std::chrono::steady_clock::now() + config_.acquire_timeout;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        while (!idle_.empty()) {
            std::unique_ptr<Connection> connection = std::move(idle_.back());
            idle_.pop_back();
            lock.unlock();
            if (connection->alive()) return Lease(shared_from_this(), std::move(connection));
            connection.reset();  // the server closed it while it sat idle
            lock.lock();
            --open_;
        }
        if (open_ < config_.max_connections) {
            ++open_;  // reserve the slot, then connect without holding the lock
            lock.unlock();
            try {
                auto connection = std::make_unique<Connection>(config_.connect);
                return Lease(shared_from_this(), std::move(connection));
            } catch (...) {
                forget_one();
                throw;
            }
        }
        if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
            open_ >= config_.max_connections) {
            throw ConnectionError(
                sqlstate::connection_exception,
                "timed out after " + std::to_string(config_.acquire_timeout.count()) +
                    " ms waiting for a free connection",
                "All " + std::to_string(config_.max_connections) +
                    " connections of the pool are in use.",
                "Raise max_connections or return connections sooner (end transactions).");
        }
    }
}

void Pool::give_back(std::unique_ptr<Connection> connection) noexcept {
    if (!connection) return;
    if (connection->reusable()) {
        try {
            std::lock_guard<std::mutex> lock(mutex_);
            idle_.push_back(std::move(connection));
        } catch (...) {
            // push_back could not allocate: close the connection instead.
        }
        if (!connection) {
            returned_.notify_one();
            return;
        }
    }
    connection.reset();  // closes it, outside the lock
    forget_one();
}

void Pool::forget_one() noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --open_;
    }
    returned_.notify_one();
}

PoolStats Pool::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    PoolStats stats;
    stats.max_connections = config_.max_connections;
    stats.open = open_;
    stats.idle = idle_.size();
    return stats;
}

}  // namespace rillflow::detail
