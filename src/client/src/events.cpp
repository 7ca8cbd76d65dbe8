// events.cpp: the event API, each call one statement of the SQL API with bound parameters.
#include "rillflow/events.hpp"

#include <string_view>

#include "envelope.hpp"
#include "pool.hpp"
#include "rillflow/errors.hpp"
#include "rillflow/evolution.hpp"
#include "run.hpp"
#include "trace.hpp"
#include "value.hpp"

namespace rillflow {
namespace {

constexpr const char* kAppend =
    "SELECT rillflow.append_events($1::uuid, $2::jsonb, $3::bigint, $4::text, $5::jsonb, "
    "$6::uuid, $7::uuid, $8::text)";

// The same, after SET LOCAL rillflow.stream_advisory_locks in the statement's own
// transaction (or the open one): the materialised CTE runs before the append.
constexpr const char* kAppendLocked =
    "WITH locks AS MATERIALIZED (SELECT pg_catalog.set_config('rillflow.stream_advisory_locks', "
    "'on', true)) SELECT rillflow.append_events($1::uuid, $2::jsonb, $3::bigint, $4::text, "
    "$5::jsonb, $6::uuid, $7::uuid, $8::text) FROM locks";

constexpr const char* kReadStream =
    RILLFLOW_ENVELOPE_COLUMNS "FROM rillflow.read_stream($1::uuid, $2::bigint, $3::integer) AS e";
constexpr const char* kReadStreamRaw = RILLFLOW_ENVELOPE_COLUMNS
    "FROM rillflow.read_stream($1::uuid, $2::bigint, $3::integer, raw => true) AS e";
constexpr const char* kReadAll = RILLFLOW_ENVELOPE_COLUMNS
    "FROM rillflow.read_all($1::bigint, $2::integer, $3::text[], $4::text[]) AS e";
// with_archived(): the same reads with the archived events
constexpr const char* kReadStreamArchived = RILLFLOW_ENVELOPE_COLUMNS
    "FROM rillflow.read_stream($1::uuid, $2::bigint, $3::integer, include_archived => true) AS e";
constexpr const char* kReadStreamRawArchived = RILLFLOW_ENVELOPE_COLUMNS
    "FROM rillflow.read_stream($1::uuid, $2::bigint, $3::integer, raw => true, "
    "include_archived => true) AS e";
constexpr const char* kReadAllArchived = RILLFLOW_ENVELOPE_COLUMNS
    "FROM rillflow.read_all($1::bigint, $2::integer, $3::text[], $4::text[], "
    "include_archived => true) AS e";

// Runs `f` on the transaction's connection, or on a connection borrowed for this call.
template <typename F>
auto run(const std::shared_ptr<detail::StoreState>& store,
         const std::shared_ptr<detail::TxState>& tx, F&& f) {
    if (tx) {
        if (!tx->active) {
            throw SqlError(sqlstate::invalid_transaction_state,
                           "the transaction of this Events handle has ended");
        }
        return f(*tx->lease);
    }
    detail::Lease lease = detail::acquire(*store);
    return f(*lease);
}

// A read: like run, but outside a transaction on a read replica when the Store has them.
template <typename F>
auto read(const std::shared_ptr<detail::StoreState>& store,
          const std::shared_ptr<detail::TxState>& tx, F&& f,
          detail::ReadKind kind = detail::ReadKind::Data) {
    if (tx || store->replicas.empty()) return run(store, tx, std::forward<F>(f));
    detail::Lease lease = detail::acquire_for_read(*store, kind);
    return f(*lease);
}

nlohmann::json events_json(const std::vector<EventData>& events) {
    nlohmann::json array = nlohmann::json::array();
    for (const EventData& e : events) {
        nlohmann::json item = {{"type", e.type}, {"body", e.body}};
        if (!e.headers.is_null()) item["headers"] = e.headers;
        if (e.event_version != 1) item["event_version"] = e.event_version;
        if (e.event_id) item["event_id"] = e.event_id->to_string();
        array.push_back(std::move(item));
    }
    return array;
}

}  // namespace

namespace detail {
namespace {

std::optional<Uuid> optional_uuid(const Result& r, std::size_t row, std::size_t column) {
    if (r.is_null(row, column)) return std::nullopt;
    return detail::to_uuid(r.value(row, column));
}

nlohmann::json json_value(const Result& r, std::size_t row, std::size_t column) {
    if (r.is_null(row, column)) return nullptr;
    const std::string_view text = r.value(row, column);
    return nlohmann::json::parse(text.begin(), text.end());
}

}  // namespace

std::vector<EventEnvelope> envelopes(const Result& r) {
    std::vector<EventEnvelope> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        EventEnvelope e;
        if (!r.is_null(i, 0)) e.position = detail::to_int64(r.value(i, 0));
        e.stream_id = detail::to_uuid(r.value(i, 1));
        e.version = detail::to_int64(r.value(i, 2));
        e.type = std::string(r.value(i, 3));
        e.event_version = r.is_null(i, 4) ? 1 : static_cast<int>(detail::to_int64(r.value(i, 4)));
        e.body = json_value(r, i, 5);
        e.headers = r.is_null(i, 6) ? nlohmann::json::object() : json_value(r, i, 6);
        e.event_id = detail::to_uuid(r.value(i, 7));
        e.causation_id = optional_uuid(r, i, 8);
        e.correlation_id = optional_uuid(r, i, 9);
        if (!r.is_null(i, 10)) {
            e.created_at = std::chrono::system_clock::time_point(
                std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    std::chrono::microseconds(detail::to_int64(r.value(i, 10)))));
        }
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace detail

std::string Expected::to_string() const {
    if (!value_) return "any";
    if (*value_ == 0) return "no_stream";
    if (*value_ == -1) return "stream_exists";
    return "exact(" + std::to_string(*value_) + ")";
}

std::int64_t Events::append(const Uuid& stream, Expected expected,
                            const std::vector<EventData>& events) const {
    return append_with(stream, expected, events, AppendOptions{});
}

std::int64_t Events::append_with(const Uuid& stream, Expected expected,
                                 const std::vector<EventData>& events,
                                 const AppendOptions& options) const {
    detail::Operation op(*store_, "append");
    op.stream(stream);
    op.events(events);
    op.ids(options.causation_id, options.correlation_id);
    // The append's span goes with its events (W3C traceparent), so whoever handles them
    // (a projection, a subscription) links back to it; the caller's own traceparent wins.
    const nlohmann::json* headers = &options.headers;
    nlohmann::json traced;  // the headers with the traceparent, when tracing
    if (auto traceparent = op.traceparent()) {
        traced = options.headers.is_null() ? nlohmann::json::object() : options.headers;
        if (traced.is_object() && !traced.contains("traceparent"))
            traced["traceparent"] = *traceparent;
        headers = &traced;
    }
    const Params params = {
        stream,
        events_json(events),
        expected.sql_value(),
        options.idempotency_key,
        headers->is_null() ? Param::null() : Param(*headers),
        options.causation_id,
        options.correlation_id,
        options.category,
    };
    const char* sql = advisory_locks_ ? kAppendLocked : kAppend;
    return run(store_, tx_, [&](detail::Connection& c) {
        return detail::to_int64(detail::single(c.exec(sql, params), "append_events"));
    });
}

Events Events::with_advisory_locks(bool on) const {
    Events copy = *this;
    copy.advisory_locks_ = on;
    return copy;
}

AppendBuilder Events::builder(const Uuid& stream) const { return AppendBuilder(*this, stream); }

// The client's upcasters after the server's (evolution.hpp).
std::vector<EventEnvelope> Events::upcast(std::vector<EventEnvelope> events) const {
    if (store_->upcasters && store_->upcasters->size() > 0) {
        store_->upcasters->apply(events, Store(store_));
    }
    return events;
}

std::vector<EventEnvelope> Events::read_stream(const Uuid& stream, std::int64_t from_version,
                                               std::optional<int> max_count) const {
    detail::Operation op(*store_, "read_stream");
    op.stream(stream);
    const Params params = {stream, from_version, max_count};
    std::vector<EventEnvelope> out = upcast(read(store_, tx_, [&](detail::Connection& c) {
        return detail::envelopes(
            c.exec(with_archived_ ? kReadStreamArchived : kReadStream, params));
    }));
    op.events(out);
    return out;
}

std::vector<EventEnvelope> Events::read_stream_raw(const Uuid& stream, std::int64_t from_version,
                                                   std::optional<int> max_count) const {
    detail::Operation op(*store_, "read_stream");
    op.stream(stream);
    const Params params = {stream, from_version, max_count};
    std::vector<EventEnvelope> out = read(store_, tx_, [&](detail::Connection& c) {
        return detail::envelopes(
            c.exec(with_archived_ ? kReadStreamRawArchived : kReadStreamRaw, params));
    });
    op.events(out);
    return out;
}

std::vector<EventEnvelope> Events::read_all(std::int64_t after_position, int max_count,
                                            const std::vector<std::string>& event_types,
                                            const std::vector<std::string>& categories) const {
    const Params params = {
        after_position, max_count,
        event_types.empty() ? Param::null() : Param(detail::text_array(event_types)),
        categories.empty() ? Param::null() : Param(detail::text_array(categories))};
    detail::Operation op(*store_, "read_all");
    std::vector<EventEnvelope> out = upcast(read(
        store_, tx_,
        [&](detail::Connection& c) {
            return detail::envelopes(c.exec(with_archived_ ? kReadAllArchived : kReadAll, params));
        },
        detail::ReadKind::Log));
    op.events(out);
    return out;
}

std::optional<std::int64_t> Events::stream_version(const Uuid& stream) const {
    return read(store_, tx_, [&](detail::Connection& c) -> std::optional<std::int64_t> {
        Result r = c.exec("SELECT rillflow.stream_version($1::uuid)", {stream});
        const std::string_view value = detail::single(r, "stream_version");
        if (r.is_null(0, 0)) return std::nullopt;
        return detail::to_int64(value);
    });
}

Events Events::with_archived() const {
    Events copy = *this;
    copy.with_archived_ = true;
    return copy;
}

bool Events::archive_stream(const Uuid& stream) const {
    return run(store_, tx_, [&](detail::Connection& c) {
        return detail::single(c.exec("SELECT rillflow.archive_stream($1::uuid)", {stream}),
                              "archive_stream") == "t";
    });
}

bool Events::reactivate_stream(const Uuid& stream) const {
    return run(store_, tx_, [&](detail::Connection& c) {
        return detail::single(c.exec("SELECT rillflow.reactivate_stream($1::uuid)", {stream}),
                              "reactivate_stream") == "t";
    });
}

int Events::archive_streams(std::chrono::seconds idle_for, int max_streams) const {
    if (idle_for.count() < 0) {
        throw InvalidArgument(sqlstate::invalid_parameter_value, "idle_for must not be negative");
    }
    const std::string interval = std::to_string(idle_for.count()) + " seconds";
    return run(store_, tx_, [&](detail::Connection& c) {
        return static_cast<int>(detail::to_int64(
            detail::single(c.exec("SELECT rillflow.archive_streams($1::interval, $2::integer)",
                                  {interval, max_streams}),
                           "archive_streams")));
    });
}

ArchiveBackend Events::archive_backend() const {
    return read(store_, tx_, [&](detail::Connection& c) {
        return detail::single(c.exec("SELECT rillflow.archive_backend()"), "archive_backend") ==
                       "partitioned"
                   ? ArchiveBackend::Partitioned
                   : ArchiveBackend::DualTable;
    });
}

bool Events::set_archive_backend(ArchiveBackend backend) const {
    const char* name = backend == ArchiveBackend::Partitioned ? "partitioned" : "dual_table";
    return run(store_, tx_, [&](detail::Connection& c) {
        return detail::single(c.exec("SELECT rillflow.set_archive_backend($1::text)", {name}),
                              "set_archive_backend") == "t";
    });
}

std::vector<ArchiveMetric> Events::archive_metrics() const {
    return read(store_, tx_, [&](detail::Connection& c) {
        Result r = c.exec("SELECT name, value, help FROM rillflow.archive_metrics()");
        std::vector<ArchiveMetric> out;
        for (std::size_t i = 0; i < r.size(); ++i) {
            out.push_back({std::string(r.value(i, 0)), std::stod(std::string(r.value(i, 1))),
                           std::string(r.value(i, 2))});
        }
        return out;
    });
}

AppendBuilder& AppendBuilder::headers(nlohmann::json headers) {
    options_.headers = std::move(headers);
    return *this;
}

AppendBuilder& AppendBuilder::idempotency_key(std::string key) {
    options_.idempotency_key = std::move(key);
    return *this;
}

AppendBuilder& AppendBuilder::causation_id(const Uuid& id) {
    options_.causation_id = id;
    return *this;
}

AppendBuilder& AppendBuilder::correlation_id(const Uuid& id) {
    options_.correlation_id = id;
    return *this;
}

AppendBuilder& AppendBuilder::category(std::string category) {
    options_.category = std::move(category);
    return *this;
}

AppendBuilder& AppendBuilder::expected(Expected expected) {
    expected_ = expected;
    return *this;
}

AppendBuilder& AppendBuilder::push(EventData event) {
    batch_.push_back(std::move(event));
    return *this;
}

AppendBuilder& AppendBuilder::push(std::string type, nlohmann::json body) {
    EventData event;
    event.type = std::move(type);
    event.body = std::move(body);
    batch_.push_back(std::move(event));
    return *this;
}

std::int64_t AppendBuilder::send() const {
    return events_.append_with(stream_, expected_, batch_, options_);
}

}  // namespace rillflow
