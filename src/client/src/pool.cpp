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

namespace rillflow::detail {

std::shared_ptr<StoreState> with_tenant(const std::shared_ptr<StoreState>& store,
                                        std::string tenant) {
    auto view = std::make_shared<StoreState>();
    view->pool = store->pool;
    view->tenant = store->tenant;
    view->strategy = store->strategy;
    view->resolver = store->resolver;
    view->create_missing_tenants = store->create_missing_tenants;
    view->fixed_tenant = std::move(tenant);
    view->tenants = store->tenants;
    view->session_headers = store->session_headers;
    view->session_advisory_locks = store->session_advisory_locks;
    view->upcasters = store->upcasters;
    // The same replicas, and what the Store has seen of its own writes (the same primary
    // pool, so its returned_count still says when to look again).
    view->replicas = store->replicas;
    view->replica_wait = store->replica_wait;
    {
        std::lock_guard<std::mutex> lock(store->lsn_mutex);
        view->lsn_seen_at = store->lsn_seen_at;
        view->written_lsn = store->written_lsn;
        view->log_lsn_seen_at = store->log_lsn_seen_at;
        view->log_lsn = store->log_lsn;
    }
    return view;
}

std::string tenant_for_call(const StoreState& store) {
    if (store.fixed_tenant) return *store.fixed_tenant;
    if (store.strategy == TenantStrategy::Single) return store.tenant.value_or("");
    std::string tenant = store.resolver ? store.resolver() : std::string();
    if (tenant.empty()) {
        throw TenantNotFound(
            sqlstate::tenant_not_found, "tenant required",
            "The store's tenant strategy is SchemaPerTenant and the tenant resolver gave no "
            "tenant for this call.",
            "Set the current request's tenant where the resolver reads it, or use "
            "Store::for_tenant() or SessionOptions::tenant().");
    }
    return tenant;
}

void ensure_known_tenant(const StoreState& store, Connection& connection,
                         const std::string& tenant) {
    if (store.strategy != TenantStrategy::SchemaPerTenant || tenant.empty()) return;
    TenantCache& cache = *store.tenants;
    std::optional<bool> may_create;
    {
        std::lock_guard<std::mutex> lock(cache.mutex);
        if (cache.known.count(tenant) != 0) return;
        may_create = cache.may_create;
    }
    // Outside the lock: two threads meeting a new tenant both ask, and ensure_tenant is
    // idempotent and safe under concurrent callers.
    if (store.create_missing_tenants && !may_create) {
        Result r = connection.exec(
            "SELECT pg_catalog.has_function_privilege('rillflow.ensure_tenant(text)', "
            "'EXECUTE')");
        may_create = r.size() == 1 && r.value(0, 0) == "t";
        std::lock_guard<std::mutex> lock(cache.mutex);
        cache.may_create = may_create;
    }
    if (store.create_missing_tenants && *may_create) {
        connection.exec("SELECT rillflow.ensure_tenant($1::text)", {tenant});
    } else {
        Result r = connection.exec("SELECT s.\"exists\" FROM rillflow.tenant_status($1::text) s",
                                   {tenant});
        if (r.size() != 1 || r.value(0, 0) != "t") {
            throw TenantNotFound(
                sqlstate::tenant_not_found, "tenant \"" + tenant + "\" does not exist",
                "This role may not create tenants (EXECUTE on "
                "rillflow.ensure_tenant), so the store was not created.",
                "Create it with rillflow.ensure_tenant('" + tenant + "') as a role that may.");
        }
    }
    std::lock_guard<std::mutex> lock(cache.mutex);
    cache.known.insert(tenant);
}

Lease acquire(const StoreState& store) {
    std::string tenant = tenant_for_call(store);
    Lease lease = store.pool->acquire();
    ensure_known_tenant(store, *lease, tenant);
    lease->use_tenant(tenant);
    return lease;
}

}  // namespace rillflow::detail
