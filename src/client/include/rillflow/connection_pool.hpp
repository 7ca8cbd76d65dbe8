// rillflow/connection_pool.hpp: your own SQL on the Store's pooled connections
// (Store::pool()). A PooledConnection is borrowed from the pool, set to the tenant the Store
// acts on like every call of the client, and given back when it is destroyed.
#pragma once

#include <memory>
#include <string_view>

#include "rillflow/export.hpp"
#include "rillflow/sql.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
class Lease;
}  // namespace detail

struct PoolStats;

/// @brief One borrowed connection of a Store's pool. Movable, not copyable; gives the
/// connection back when destroyed (or at release()). A connection left inside a transaction
/// (a BEGIN without COMMIT or ROLLBACK) or broken is closed rather than given back. Leave the
/// session as you found it: a plain SET (search_path, rillflow.tenant, ...) stays with the
/// connection for the next borrower; use SET LOCAL inside a transaction.
class RILLFLOW_EXPORT PooledConnection {
  public:
    PooledConnection(PooledConnection&&) noexcept;
    PooledConnection& operator=(PooledConnection&&) noexcept;
    PooledConnection(const PooledConnection&) = delete;
    PooledConnection& operator=(const PooledConnection&) = delete;
    ~PooledConnection();

    /// @brief Runs one statement with bound text parameters ($1, $2, ...).
    /// @throws the rillflow::Error of its SQLSTATE; SqlError (25000) after release().
    Result exec(std::string_view sql, const Params& params = {});
    /// @brief The server process id of the connection.
    [[nodiscard]] int backend_pid() const;
    /// @brief Gives the connection back now (idempotent).
    void release() noexcept;

  private:
    friend class ConnectionPool;
    explicit PooledConnection(std::unique_ptr<detail::Lease> lease);
    std::unique_ptr<detail::Lease> lease_;
};

/// @brief A Store's connection pool (Store::pool()). Cheap to copy; thread-safe.
class RILLFLOW_EXPORT ConnectionPool {
  public:
    /// @brief Borrows a connection, waiting up to the Store's acquire_timeout when all are in
    /// use. @throws ConnectionError; TenantNotFound as any call of the Store.
    [[nodiscard]] PooledConnection acquire() const;
    /// @brief A snapshot of the pool.
    [[nodiscard]] PoolStats stats() const;

  private:
    friend class Store;
    explicit ConnectionPool(std::shared_ptr<detail::StoreState> store) : store_(std::move(store)) {}
    std::shared_ptr<detail::StoreState> store_;
};

}  // namespace rillflow
