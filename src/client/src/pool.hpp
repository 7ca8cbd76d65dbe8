// pool.hpp (private): a thread-safe pool of connections, and the Lease handle that returns a
// borrowed connection to the pool when it dies (or discards it when it is broken).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "connection.hpp"
#include "rillflow/store.hpp"

namespace rillflow::detail {

class Pool;
struct BreadcrumbRing;

/// A borrowed connection. Movable, not copyable; gives the connection back on destruction.
class Lease {
  public:
    Lease() = default;
    Lease(std::shared_ptr<Pool> pool, std::unique_ptr<Connection> connection) noexcept
        : pool_(std::move(pool)), connection_(std::move(connection)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    Connection& operator*() const noexcept { return *connection_; }
    Connection* operator->() const noexcept { return connection_.get(); }
    explicit operator bool() const noexcept { return connection_ != nullptr; }

    /// Gives the connection back now (idempotent).
    void release() noexcept;
    /// This lease wrote nothing: its return does not count as a possible write (the
    /// read-your-writes probe of read replicas, reads that fell back to the primary).
    void uncounted() noexcept { counted_ = false; }

  private:
    std::shared_ptr<Pool> pool_;
    std::unique_ptr<Connection> connection_;
    bool counted_ = true;
};

struct PoolConfig {
    std::shared_ptr<const ConnectOptions> connect;
    std::size_t max_connections = 10;
    std::chrono::milliseconds acquire_timeout{30000};
};

class Pool : public std::enable_shared_from_this<Pool> {
  public:
    explicit Pool(PoolConfig config) : config_(std::move(config)) {}
    ~Pool() = default;
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// Borrows an idle connection (checked to be alive), opens a new one when below the limit,
    /// or waits up to acquire_timeout for one to come back. Throws ConnectionError.
    Lease acquire();
    /// Takes a connection back: kept when reusable, closed otherwise.
    void give_back(std::unique_ptr<Connection> connection) noexcept;
    PoolStats stats() const;
    /// How this pool opens connections (the daemon's LISTEN connection uses the same).
    const PoolConfig& config() const noexcept { return config_; }
    /// How many counted leases have come back: each may have committed a write.
    std::uint64_t returned_count() const noexcept { return returned_count_.load(); }
    /// Counts a lease's return (Lease::release).
    void note_returned() noexcept { returned_count_.fetch_add(1); }

  private:
    void forget_one() noexcept;

    const PoolConfig config_;
    mutable std::mutex mutex_;
    std::condition_variable returned_;
    std::vector<std::unique_ptr<Connection>> idle_;  // most recently used last
    std::size_t open_ = 0;                           // idle + borrowed + being opened
    std::atomic<std::uint64_t> returned_count_{0};
};

/// The tenants a Store has seen exist (or created), shared by its views (Store::for_tenant),
/// so a new tenant's store is looked up or created once.
struct TenantCache {
    std::mutex mutex;
    std::set<std::string> known;
    std::optional<bool> may_create;  // EXECUTE on rillflow.ensure_tenant, asked once
};

/// What every copy of a Store shares.
struct StoreState {
    std::shared_ptr<Pool> pool;
    std::optional<std::string> tenant;
    TenantStrategy strategy = TenantStrategy::Single;
    TenantResolver resolver;                  // SchemaPerTenant: the current request's tenant
    bool create_missing_tenants = true;       // SchemaPerTenant: ensure_tenant on first use
    std::optional<std::string> fixed_tenant;  // a view's tenant (Store::for_tenant, a Session)
    std::shared_ptr<TenantCache> tenants = std::make_shared<TenantCache>();
    // Session defaults from the builder.
    nlohmann::json session_headers;  // null: none
    std::optional<Uuid> session_causation_id, session_correlation_id;
    bool session_advisory_locks = false;
    // Spans (null: none) and breadcrumbs (null: off) of every call (trace.hpp).
    std::shared_ptr<Tracer> tracer;
    std::shared_ptr<BreadcrumbRing> breadcrumbs;
    // Client-side upcasters, applied after the server's on every read of events.
    std::shared_ptr<const UpcasterRegistry> upcasters;
    // Compiled queries registered through this Store: name -> {"collection", "spec"}. A
    // query is compiled on its first run and whenever the server no longer knows it.
    std::mutex compiled_mutex;
    std::map<std::string, nlohmann::json> compiled;
    // Read replicas (StoreBuilder::read_replicas): reads go to them in turn, writes to `pool`.
    std::vector<std::shared_ptr<Pool>> replicas;
    std::atomic<std::size_t> next_replica{0};
    std::chrono::milliseconds replica_wait{1000};
    // Read-your-writes: the primary's WAL position after this Store's last write, read when
    // pool->returned_count() has moved since (lsn_seen_at); empty: nothing written yet.
    std::mutex lsn_mutex;
    std::uint64_t lsn_seen_at = 0;
    std::string written_lsn;
    // The same for reads of the global log, taken after a run_sequencer() on the primary.
    std::uint64_t log_lsn_seen_at = 0;
    std::string log_lsn;
};

/// A view of `store` that acts on `tenant`'s store: the same pool, cache and settings.
std::shared_ptr<StoreState> with_tenant(const std::shared_ptr<StoreState>& store,
                                        std::string tenant);

/// The tenant a call on `store` acts on now ("" the default store): a view's tenant, else
/// (SchemaPerTenant) the resolver's, else the builder's. Under SchemaPerTenant, no tenant is
/// TenantNotFound ("tenant required", as rillflow.tenant_required says on the server).
std::string tenant_for_call(const StoreState& store);

/// Under SchemaPerTenant, makes sure `tenant` has a store the first time this Store uses it:
/// ensure_tenant when create_missing_tenants and the role may, else a look-up
/// (TenantNotFound when it has none). Then remembered.
void ensure_known_tenant(const StoreState& store, Connection& connection,
                         const std::string& tenant);

/// A pooled connection set to the tenant the call acts on (see tenant_for_call); every call
/// on a store borrows its connection here.
Lease acquire(const StoreState& store);

/// The connection of an open Transaction; shared with the Events handles it gave out.
struct TxState {
    Lease lease;
    bool active = false;
    int savepoints = 0;  // set so far: each gets a name of its own
};

}  // namespace rillflow::detail
