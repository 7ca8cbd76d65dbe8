// replicas.cpp: reads on read replicas (StoreBuilder::read_replicas), with read-your-writes.
//
// A read goes to the next replica in turn. When this Store has written anything (a counted
// lease of the primary pool came back since the last look), it first reads the primary's WAL
// insert position (pg_current_wal_insert_lsn(): past the commit record of every write that
// came back before the look, even with synchronous_commit off, where pg_current_wal_lsn()
// can still be short of it), then waits on the replica, up to replica_wait, until
// pg_last_wal_replay_lsn() has reached it; past the wait, or when the replica cannot be
// reached, the read runs on the primary. So a read sees every write of this Store that
// finished before the read began.
//
// Reads of the global log (read_all, the head) need more: an appended event has a position
// only once a tick has committed (docs/global-log.md), which a standby cannot run. For them
// the look on the primary first runs rillflow.run_sequencer(), which returns once the log
// covers every event committed before it, so the WAL position taken next includes the tick.
#include <thread>

#include "run.hpp"

namespace rillflow::detail {
namespace {

// The primary's WAL position this Store's reads must see ("" when it wrote nothing); for a
// read of the global log, one that includes the ticks of its appended events.
std::string written_lsn(StoreState& store, ReadKind kind) {
    std::lock_guard<std::mutex> lock(store.lsn_mutex);
    const bool log = kind == ReadKind::Log;
    const std::uint64_t returned = store.pool->returned_count();
    std::uint64_t& seen_at = log ? store.log_lsn_seen_at : store.lsn_seen_at;
    std::string& lsn = log ? store.log_lsn : store.written_lsn;
    if (returned == seen_at) return lsn;
    Lease lease = store.pool->acquire();
    lease.uncounted();
    Result r =
        lease->exec(log ? "SELECT rillflow.run_sequencer(), "
                          "pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text"
                        : "SELECT 0, pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text");
    if (r.size() != 1)
        throw SqlError(sqlstate::internal_error, "pg_current_wal_insert_lsn returned no row");
    lsn = std::string(r.value(0, 1));
    seen_at = returned;
    return lsn;
}

// Whether the replica has replayed `lsn`, waiting up to `wait`. A server that is not in
// recovery (a "replica" that is a primary) has everything.
bool replayed(Connection& c, const std::string& lsn, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        Result r = c.exec(
            "SELECT NOT pg_catalog.pg_is_in_recovery() OR "
            "pg_catalog.pg_last_wal_replay_lsn() OPERATOR(pg_catalog.>=) $1::pg_catalog.pg_lsn",
            {lsn});
        if (single(r, "pg_last_wal_replay_lsn") == "t") return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace

Lease acquire_for_read(StoreState& store, ReadKind kind, ReadTenant for_tenant) {
    std::string tenant;
    if (for_tenant == ReadTenant::ForCall) {
        tenant = tenant_for_call(store);
        // A tenant this Store has not used yet is looked up, or created, on the primary
        // (a standby cannot run ensure_tenant); that lease counts as a write, so the read
        // below waits for the replica to have the new store.
        if (store.strategy == TenantStrategy::SchemaPerTenant && !tenant.empty()) {
            bool known;
            {
                std::lock_guard<std::mutex> lock(store.tenants->mutex);
                known = store.tenants->known.count(tenant) != 0;
            }
            if (!known) {
                Lease primary = store.pool->acquire();
                ensure_known_tenant(store, *primary, tenant);
            }
        }
    }
    if (!store.replicas.empty()) {
        const std::string lsn = written_lsn(store, kind);
        const std::size_t n = store.replicas.size();
        const std::size_t first = store.next_replica.fetch_add(1) % n;
        for (std::size_t i = 0; i < n; ++i) {
            try {
                Lease lease = store.replicas[(first + i) % n]->acquire();
                if (lsn.empty() || replayed(*lease, lsn, store.replica_wait)) {
                    if (for_tenant == ReadTenant::ForCall) lease->use_tenant(tenant);
                    return lease;
                }
                break;  // behind: the primary has this Store's writes
            } catch (const ConnectionError&) {
                // this replica is down: the next one, then the primary
            }
        }
    }
    Lease lease = store.pool->acquire();
    lease.uncounted();
    if (for_tenant == ReadTenant::ForCall) lease->use_tenant(tenant);
    return lease;
}

}  // namespace rillflow::detail
