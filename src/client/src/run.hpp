// run.hpp (private): running a statement on a transaction's connection or on a pooled one,
// and reading JSON and times out of results.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pool.hpp"
#include "rillflow/errors.hpp"
#include "rillflow/sql.hpp"
#include "rillflow/uuid.hpp"
#include "value.hpp"

namespace rillflow::detail {

/// Runs `f(Connection&)` on the transaction's connection when `tx` is set (it must still be
/// active), else on a connection borrowed for this call.
template <typename F>
auto run_on(const std::shared_ptr<StoreState>& store, const std::shared_ptr<TxState>& tx, F&& f) {
    if (tx) {
        if (!tx->active) {
            throw SqlError(sqlstate::invalid_transaction_state,
                           "the transaction of this handle has ended",
                           "It was committed, rolled back or moved from.");
        }
        return f(*tx->lease);
    }
    Lease lease = acquire(*store);
    return f(*lease);
}

/// What a read reads: documents and registries, or the global log (whose positions come
/// from ticks on the primary: replicas.cpp).
enum class ReadKind { Data, Log };

/// Whether a read acts on a tenant's store (set on the connection as acquire() does) or on
/// none (list_tenants, tenant_status: the whole database).
enum class ReadTenant { ForCall, None };

/// A connection for a read outside a transaction: a read replica that has replayed this
/// Store's writes (replicas.cpp), else the primary; set, like acquire(), to the tenant the
/// call acts on (a tenant new to this Store is looked up or created on the primary first).
Lease acquire_for_read(StoreState& store, ReadKind kind = ReadKind::Data,
                       ReadTenant tenant = ReadTenant::ForCall);

/// Runs the read `f(Connection&)` on the transaction's connection when `tx` is set, else on a
/// read replica when the Store has them (acquire_for_read), else on a pooled connection.
template <typename F>
auto run_read(const std::shared_ptr<StoreState>& store, const std::shared_ptr<TxState>& tx, F&& f) {
    if (tx || store->replicas.empty()) return run_on(store, tx, std::forward<F>(f));
    Lease lease = acquire_for_read(*store);
    return f(*lease);
}

/// The JSON value of a jsonb column; null for SQL NULL.
inline nlohmann::json json_at(const Result& r, std::size_t row, std::size_t column) {
    if (r.is_null(row, column)) return nullptr;
    const std::string_view text = r.value(row, column);
    return nlohmann::json::parse(text.begin(), text.end());
}

/// A time sent as microseconds since the Unix epoch (`extract(epoch ...) * 1000000`).
inline std::chrono::system_clock::time_point time_at(const Result& r, std::size_t row,
                                                     std::size_t column) {
    if (r.is_null(row, column)) return {};
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::microseconds(to_int64(r.value(row, column)))));
}

/// A uuid[] literal, sent as one bound parameter.
inline std::string uuid_array(const std::vector<Uuid>& ids) {
    std::string out = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) out += ',';
        out += ids[i].to_string();
    }
    out += '}';
    return out;
}

}  // namespace rillflow::detail
