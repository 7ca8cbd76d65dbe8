// connection_pool.cpp: Store::pool(), your own SQL on a pooled connection.
#include "rillflow/connection_pool.hpp"

#include "pool.hpp"
#include "rillflow/errors.hpp"

namespace rillflow {

PooledConnection::PooledConnection(std::unique_ptr<detail::Lease> lease)
    : lease_(std::move(lease)) {}
PooledConnection::PooledConnection(PooledConnection&&) noexcept = default;
PooledConnection& PooledConnection::operator=(PooledConnection&&) noexcept = default;
PooledConnection::~PooledConnection() = default;

Result PooledConnection::exec(std::string_view sql, const Params& params) {
    if (!lease_ || !*lease_) {
        throw SqlError(sqlstate::invalid_transaction_state,
                       "this PooledConnection was given back to the pool", "",
                       "Borrow another one with Store::pool().acquire().");
    }
    return (*lease_)->exec(sql, params);
}

int PooledConnection::backend_pid() const {
    if (!lease_ || !*lease_) {
        throw SqlError(sqlstate::invalid_transaction_state,
                       "this PooledConnection was given back to the pool");
    }
    return (*lease_)->backend_pid();
}

void PooledConnection::release() noexcept {
    if (lease_) lease_->release();
}

PooledConnection ConnectionPool::acquire() const {
    return PooledConnection(std::make_unique<detail::Lease>(detail::acquire(*store_)));
}

PoolStats ConnectionPool::stats() const { return store_->pool->stats(); }

}  // namespace rillflow
