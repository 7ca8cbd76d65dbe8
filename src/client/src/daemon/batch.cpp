// daemon/batch.cpp: one batch of one projection. For a C++ handler every batch is the SQL
// runtime's protocol seen from outside the database:
//   1. projection_acquire (its own short statement: the lease outlives the batch),
//   2. one transaction: read_all after the checkpoint, each event applied by the C++ handler,
//      cluster_fence (in a cluster), projection_commit - so the read-model writes and the
//      checkpoint commit together or not at all,
//   3. a handler failure rolls that attempt back; the batch runs again with a savepoint per
//      event, the failing event goes to projection_fail, which decides retry or dead letter;
//      RF006 at commit means the lease was lost.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/state.hpp"
#include "pool.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"
#include "trace.hpp"
#include "value.hpp"

namespace rillflow {
namespace detail {
namespace {

// A projection's lease, from projection_acquire, and what the batch may read under it.
struct BatchLease {
    std::int64_t token = 0;
    std::int64_t checkpoint = 0;
    int batch_size = 0;
    std::vector<std::string> event_types;
};

// An event whose handler failed, as projection_fail records it.
struct Failure {
    std::int64_t position = 0;
    std::string sqlstate, message, detail, context;
};

// What one pass over a batch's events did.
struct Pass {
    std::int64_t last = 0;  // the position of the last event applied (the checkpoint: none)
    std::int64_t applied = 0;
    std::optional<Failure> failure;  // a careful pass: the event whose handler failed
    bool retry_carefully = false;    // a fast pass: a handler failed, run the batch again
};

// 1. The lease, in its own statement: it lasts across batches until it expires. The
//    statement also sequences what was appended since the last tick (with no
//    background worker, nobody else would before the read below). Empty when another owner
//    holds it, it is paused, or a retry is not due.
std::optional<BatchLease> acquire(DaemonState& d, DaemonProjection& p) {
    Result r = exec_in_store(*d.state,
                             "SELECT token, checkpoint, batch_size, to_json(event_types) "
                             "FROM rillflow.projection_acquire($1::text, $2::text, $3::interval)",
                             {p.name, d.owner, interval_text(d.lease_ttl)});
    if (r.empty()) {
        std::lock_guard<std::mutex> guard(d.mutex);
        p.token.reset();
        return std::nullopt;
    }
    BatchLease lease;
    lease.token = to_int64(r.value(0, 0));
    lease.checkpoint = to_int64(r.value(0, 1));
    lease.batch_size = static_cast<int>(to_int64(r.value(0, 2)));
    if (!r.is_null(0, 3)) {
        const std::string_view text = r.value(0, 3);
        for (const auto& t : nlohmann::json::parse(text.begin(), text.end()))
            lease.event_types.push_back(t.get<std::string>());
    }
    std::lock_guard<std::mutex> guard(d.mutex);
    p.token = lease.token;
    return lease;
}

// The failure of the handler of `p` on `e`, as projection_fail records it.
Failure failure_of(const DaemonState& d, const DaemonProjection& p, const EventEnvelope& e,
                   const std::exception& ex) {
    Failure f;
    f.position = *e.position;
    if (const auto* err = dynamic_cast<const Error*>(&ex)) {
        f.sqlstate = err->sqlstate();
        f.message = err->message();
        f.detail = err->detail();
    } else {
        f.sqlstate = sqlstate::internal_error;  // not an SQL error: the C++ handler threw
        f.message = ex.what();
    }
    f.context = "C++ handler of external projection " + p.name + ", event at position " +
                std::to_string(f.position) + " (" + e.type + ") on " + d.owner;
    return f;
}

// 2. One pass over the batch's events in `tx`. A fast pass (one statement per event for a
//    one-statement handler) stops at the first failing handler; a careful pass sets a
//    savepoint per event, which keeps the events before the failing one and charges the
//    failing one alone.
Pass apply_events(const DaemonState& d, DaemonProjection& p, Transaction& tx,
                  const std::vector<EventEnvelope>& events, std::int64_t checkpoint, bool careful) {
    Pass pass;
    pass.last = checkpoint;
    for (const EventEnvelope& e : events) {
        std::optional<Savepoint> savepoint;
        if (careful) savepoint.emplace(tx.savepoint());
        try {
            p.handler->apply(e, tx);
            if (savepoint) savepoint->release();
            pass.last = *e.position;
            ++pass.applied;
        } catch (const std::exception& ex) {
            if (!careful) {
                pass.retry_carefully = true;
                break;
            }
            Failure f = failure_of(d, p, e, ex);
            savepoint->rollback();
            pass.failure = std::move(f);
            break;
        }
    }
    return pass;
}

// In a cluster a batch commits only while its node is hot: cluster_fence checks the
// cluster's fencing token in the batch's transaction. False (the batch rolled back) when the
// node is not hot any more.
bool fence(DaemonState& d, const DaemonProjection& p, Transaction& tx) {
    std::int64_t token = 0;
    {
        std::lock_guard<std::mutex> guard(d.mutex);
        token = d.cluster_token;
    }
    try {
        tx.exec("SELECT rillflow.cluster_fence($1::text, $2::text, $3::bigint)",
                {d.cluster->name, d.cluster->node_id, token});
        return true;
    } catch (const LeaseLost& e) {
        // No longer the hot node: the projection lease is still this node's, to be
        // released (release_leases) so the new hot node need not wait for it.
        if (tx.active()) tx.rollback();
        d.hot = false;
        d.say("projection " + p.name +
              ": not the hot node any more, batch rolled back: " + e.message());
        return false;
    }
}

// 3. The end of the batch, in its transaction: the fence, the checkpoint, the failure (if
//    any) and the commit. RF006 from any of them rolls the batch back.
TickResult finish(DaemonState& d, DaemonProjection& p, Transaction& tx, const BatchLease& lease,
                  Pass pass, TickResult result) {
    try {
        if (d.cluster && !fence(d, p, tx)) {
            result.lease_lost = true;
            result.applied = 0;
            return result;
        }
        tx.exec("SELECT rillflow.projection_commit($1::text, $2::bigint, $3::bigint, $4::integer)",
                {p.name, lease.token, pass.last, pass.applied});
        if (pass.failure) {
            const Failure& f = *pass.failure;
            Result r = tx.exec(
                "SELECT rillflow.projection_fail($1::text, $2::bigint, $3::bigint, $4::text, "
                "$5::text, $6::text, $7::text)",
                {p.name, lease.token, f.position, f.sqlstate, f.message,
                 f.detail.empty() ? Param::null() : Param(f.detail), f.context});
            result.failure = std::string(single(r, "projection_fail"));
            if (*result.failure == "dead_lettered") pass.last = f.position;
            d.say("projection " + p.name + ": event at position " + std::to_string(f.position) +
                  " failed (" + f.sqlstate + ": " + f.message + "): " + *result.failure);
        }
        tx.commit();
    } catch (const LeaseLost& e) {
        if (tx.active()) tx.rollback();
        d.say("projection " + p.name + ": lease lost, batch rolled back: " + e.message());
        std::lock_guard<std::mutex> guard(d.mutex);
        p.token.reset();
        result.lease_lost = true;
        result.applied = 0;
        result.checkpoint = lease.checkpoint;
        return result;
    }
    result.applied = pass.applied;
    result.checkpoint = pass.last;
    return result;
}

// A batch's span (kept only when the batch applied something), linked to the appends of its
// events (their traceparent headers).
void start_batch_span(Operation& op, const DaemonProjection& p, const char* kind) {
    op.span().attribute("rillflow.projection", p.name);
    op.span().attribute("rillflow.projection.kind", kind);
}

void end_batch_span(Operation& op, const TickResult& result) {
    if (!result.leased || result.applied == 0) {
        op.discard();
        return;
    }
    op.count(result.applied);
    op.span().attribute("rillflow.checkpoint", result.checkpoint);
    if (result.failure) op.span().attribute("rillflow.failure", *result.failure);
}

}  // namespace

TickResult tick_external(DaemonState& d, DaemonProjection& p) {
    TickResult result;
    Operation op(*d.state, "projection.batch", SpanKind::Consumer);
    start_batch_span(op, p, "external");
    const std::optional<BatchLease> lease = acquire(d, p);
    if (!lease) {
        op.discard();
        return result;
    }
    result.checkpoint = lease->checkpoint;

    // The batch: events, read-model writes, fence and checkpoint in one transaction. First
    // without savepoints; only when a handler fails is that attempt rolled back and the batch
    // run again with a savepoint per event. A savepoint per event always would cost two more
    // round trips per event.
    std::optional<Transaction> tx;
    Pass pass;
    for (bool careful : {false, true}) {
        tx.emplace(d.store.transaction());
        const std::vector<EventEnvelope> events =
            // archived events too: archiving never makes a projection skip one
            tx->events().with_archived().read_all(lease->checkpoint, lease->batch_size,
                                                  lease->event_types);
        if (events.empty()) {
            op.discard();
            return result;
        }
        if (!careful) op.span().link_events(events);
        result.leased = true;
        pass = apply_events(d, p, *tx, events, lease->checkpoint, careful);
        if (!pass.retry_carefully) break;
        tx->rollback();
    }
    result = finish(d, p, *tx, *lease, std::move(pass), std::move(result));
    end_batch_span(op, result);
    return result;
}

// A worker-kind projection: the SQL runtime does the whole batch in one statement.
TickResult tick_in_database(DaemonState& d, DaemonProjection& p) {
    TickResult result;
    Operation op(*d.state, "projection.batch", SpanKind::Consumer);
    start_batch_span(op, p, "in_database");
    // Tracing: the checkpoint before, to find the batch's events and their appends after.
    std::optional<std::int64_t> before;
    if (op.tracing()) {
        Result s = exec_in_store(
            *d.state, "SELECT checkpoint FROM rillflow.projection_status($1::text)", {p.name});
        if (!s.empty()) before = to_int64(s.value(0, 0));
    }
    Result r = exec_in_store(*d.state, "SELECT rillflow.run_projection($1::text, 1)", {p.name});
    result.applied = to_int64(single(r, "run_projection"));
    result.leased = result.applied > 0;
    if (result.leased) {
        Result s = exec_in_store(
            *d.state, "SELECT checkpoint FROM rillflow.projection_status($1::text)", {p.name});
        if (!s.empty()) result.checkpoint = to_int64(s.value(0, 0));
    }
    if (before && result.leased && result.checkpoint > *before) {
        // Only the headers: the batch's positions, at most 1000 of them.
        Result h = exec_in_store(
            *d.state,
            "SELECT DISTINCT e.headers->>'traceparent' FROM rillflow.read_all($1::bigint, "
            "LEAST($2::bigint - $1::bigint, 1000)::integer) e WHERE e.position <= $2::bigint "
            "AND e.headers ? 'traceparent'",
            {*before, result.checkpoint});
        for (std::size_t i = 0; i < h.size(); ++i) {
            if (auto ctx = SpanContext::from_traceparent(h.value(i, 0))) op.span().link(*ctx);
        }
    }
    end_batch_span(op, result);
    return result;
}

}  // namespace detail

TickResult ProjectionDaemon::tick_once(std::string_view name) {
    using Clock = std::chrono::steady_clock;
    detail::DaemonProjection* p = nullptr;
    {
        std::lock_guard<std::mutex> guard(impl_->mutex);
        p = &impl_->find(name);
    }
    if (!impl_->hot.load()) return {};
    const auto started = Clock::now();
    TickResult result =
        p->handler ? detail::tick_external(*impl_, *p) : detail::tick_in_database(*impl_, *p);
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::lock_guard<std::mutex> guard(impl_->mutex);
    ProjectionCounters& c = p->counters;
    c.events_applied += result.applied;
    if (result.leased) ++c.batches;
    if (result.failure) ++c.failures;
    if (result.failure && *result.failure == "dead_lettered") ++c.dead_lettered;
    if (result.lease_lost) ++c.lease_lost;
    if (result.leased) c.checkpoint = result.checkpoint;
    c.last_tick_seconds = seconds;
    return result;
}

}  // namespace rillflow
