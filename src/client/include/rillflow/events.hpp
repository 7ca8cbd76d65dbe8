// rillflow/events.hpp: appending to streams and reading streams and the global log.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/export.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
struct TxState;
}  // namespace detail

/// @brief The state a stream must be in for an append to go ahead (SQL `expected_version`).
class RILLFLOW_EXPORT Expected {
  public:
    /// @brief Any state, never a conflict (SQL NULL).
    static Expected Any() noexcept { return Expected(std::nullopt); }
    /// @brief The stream must not exist yet (SQL 0).
    static Expected NoStream() noexcept { return Expected(0); }
    /// @brief The stream must exist (SQL -1).
    static Expected StreamExists() noexcept { return Expected(-1); }
    /// @brief The stream must be exactly at `version` (SQL n; the server rejects n < -1).
    static Expected Exact(std::int64_t version) noexcept { return Expected(version); }

    /// @brief The value sent as `expected_version`; std::nullopt means NULL.
    std::optional<std::int64_t> sql_value() const noexcept { return value_; }
    /// @brief True for Any().
    bool is_any() const noexcept { return !value_.has_value(); }
    /// @brief "any", "no_stream", "stream_exists" or "exact(n)".
    std::string to_string() const;

    friend bool operator==(const Expected& a, const Expected& b) noexcept {
        return a.value_ == b.value_;
    }
    friend bool operator!=(const Expected& a, const Expected& b) noexcept { return !(a == b); }

  private:
    explicit Expected(std::optional<std::int64_t> value) noexcept : value_(value) {}
    std::optional<std::int64_t> value_;
};

/// @brief One event to append.
// NOLINTNEXTLINE(bugprone-exception-escape): reported through nlohmann::json's noexcept moves
struct EventData {
    /// @brief The event type, e.g. "OrderPlaced".
    std::string type{};
    /// @brief The event body (any JSON value; usually an object).
    nlohmann::json body{};
    /// @brief Per-event headers: a JSON object, or null for none. They win over call headers.
    nlohmann::json headers{};
    /// @brief Schema version of the body, for upcasting.
    int event_version = 1;
    /// @brief The event's id; the server generates one when empty.
    std::optional<Uuid> event_id{};
};

/// @brief Options of one append call, applied to every event of the call.
// NOLINTNEXTLINE(bugprone-exception-escape): reported through nlohmann::json's noexcept moves
struct AppendOptions {
    /// @brief A JSON object merged into every event's headers (the event's own keys win);
    /// null for none.
    nlohmann::json headers{};
    /// @brief When set, a repeated key appends nothing and throws IdempotencyConflict.
    std::optional<std::string> idempotency_key{};
    /// @brief Set on every event of the call.
    std::optional<Uuid> causation_id{};
    /// @brief Set on every event of the call.
    std::optional<Uuid> correlation_id{};
    /// @brief The stream's category, given on its first append (InvalidArgument when the
    /// stream exists without it or with another one); subscriptions and read_all filter on it.
    std::optional<std::string> category{};
};

/// @brief One stored event: every column of `rillflow.event_envelope`.
struct EventEnvelope {
    /// @brief Place in the store's global log; empty while the event is not sequenced yet
    /// (possible in read_stream, never in read_all).
    std::optional<std::int64_t> position{};
    /// @brief The stream.
    Uuid stream_id{};
    /// @brief 1, 2, 3... within the stream.
    std::int64_t version = 0;
    /// @brief The event type.
    std::string type{};
    /// @brief Schema version of the body.
    int event_version = 1;
    /// @brief The event body.
    nlohmann::json body{};
    /// @brief Call headers merged with the event's headers; an empty object when none.
    nlohmann::json headers{};
    /// @brief The event's id.
    Uuid event_id{};
    /// @brief Empty when not given at append.
    std::optional<Uuid> causation_id{};
    /// @brief Empty when not given at append.
    std::optional<Uuid> correlation_id{};
    /// @brief The appending transaction's time (microsecond precision).
    std::chrono::system_clock::time_point created_at{};
};

class AppendBuilder;

/// @brief Where a store keeps its archived (cold) events (docs/archiving.md).
enum class ArchiveBackend {
    /// @brief A second table, events_archive, of the same shape (the default).
    DualTable,
    /// @brief The events table partitioned by retention class into events_hot and
    /// events_archive (tenants' stores only).
    Partitioned,
};

/// @brief One of a store's six archive metrics (rillflow.archive_metrics()).
struct ArchiveMetric {
    /// @brief e.g. "archive_streams_marked_total".
    std::string name;
    double value = 0;
    std::string help;
};

/// @brief The event API of a store. Cheap to copy. Obtained from Store::events() (each call
/// borrows a pooled connection; thread-safe) or Transaction::events() (each call runs in that
/// transaction; use it from one thread, like the transaction).
class RILLFLOW_EXPORT Events {
  public:
    /// @brief Appends `events` to `stream` if it is in the `expected` state.
    /// @return The stream's new version.
    /// @throws VersionConflict, IdempotencyConflict, InvalidArgument, TenantNotFound, ...
    std::int64_t append(const Uuid& stream, Expected expected,
                        const std::vector<EventData>& events) const;

    /// @brief Like append(), with call-wide headers, idempotency key and causation ids.
    std::int64_t append_with(const Uuid& stream, Expected expected,
                             const std::vector<EventData>& events,
                             const AppendOptions& options) const;

    /// @brief A fluent append: `builder(s).headers(h).expected(e).push(ev).send()`.
    [[nodiscard]] AppendBuilder builder(const Uuid& stream) const;

    /// @brief The stream's events from `from_version` (>= 1) on, at most `max_count` (> 0) of
    /// them; a stream that does not exist reads as empty. Bodies come upcast: by the server's
    /// chains, then by the store's UpcasterRegistry (StoreBuilder::upcasters).
    [[nodiscard]] std::vector<EventEnvelope> read_stream(const Uuid& stream,
                                                         std::int64_t from_version = 1,
                                                         std::optional<int> max_count = {}) const;

    /// @brief read_stream() of the events as stored: no upcasting, server or client.
    [[nodiscard]] std::vector<EventEnvelope> read_stream_raw(
        const Uuid& stream, std::int64_t from_version = 1, std::optional<int> max_count = {}) const;

    /// @brief The global log after `after_position`, at most `max_count` (1..100000) events,
    /// only the given types when `event_types` is not empty and only streams of the given
    /// categories when `categories` is not empty. Pass the last position read as the next
    /// `after_position`: nothing is skipped or repeated.
    [[nodiscard]] std::vector<EventEnvelope> read_all(
        std::int64_t after_position = 0, int max_count = 1000,
        const std::vector<std::string>& event_types = {},
        const std::vector<std::string>& categories = {}) const;

    /// @brief The stream's current version; std::nullopt when the stream does not exist.
    [[nodiscard]] std::optional<std::int64_t> stream_version(const Uuid& stream) const;

    /// @brief A copy whose appends first take a transaction-scoped advisory lock on their
    /// stream (`rillflow.stream_advisory_locks`, pg_advisory_xact_lock): concurrent writers of
    /// one stream queue in the lock manager, in arrival order, before they touch the stream's
    /// row, instead of piling up on its row lock. It orders writers; it does not change what
    /// conflicts (expected versions still decide). In a Transaction the setting stays on for
    /// the rest of the transaction.
    [[nodiscard]] Events with_advisory_locks(bool on = true) const;

    /// @brief These events, whose reads (read_stream, read_stream_raw, read_all) include
    /// archived events. Without it a read returns what the server's
    /// rillflow.include_archived_by_default says (off: hot events only;
    /// StoreBuilder::include_archived_by_default). Cheap.
    [[nodiscard]] Events with_archived() const;

    /// @brief Moves the stream's events to the archive now; positions and versions stay.
    /// @return false when it was archived already.
    /// @throws NotFound when the stream does not exist; SqlError 42501 without write access.
    bool archive_stream(const Uuid& stream) const;

    /// @brief Moves an archived stream's events back to the hot table.
    /// @return false when it was not archived. @throws NotFound, SqlError 42501.
    bool reactivate_stream(const Uuid& stream) const;

    /// @brief Archives up to `max_streams` (1..100000) streams with no append for `idle_for`,
    /// the longest idle first, in one batch; streams another transaction holds are skipped.
    /// @return how many; call again until 0 to archive them all.
    int archive_streams(std::chrono::seconds idle_for, int max_streams = 1000) const;

    /// @brief The store's archive backend.
    [[nodiscard]] ArchiveBackend archive_backend() const;

    /// @brief Switches the store's archive backend, its events in place (a catalog change,
    /// no copy). Only the store's owner may (SqlError 42501); the default store stays on
    /// DualTable (SqlError 0A000). @return false when the store had it already.
    bool set_archive_backend(ArchiveBackend backend) const;

    /// @brief The store's six archive metrics.
    [[nodiscard]] std::vector<ArchiveMetric> archive_metrics() const;

  private:
    friend class Store;
    friend class Transaction;
    Events(std::shared_ptr<detail::StoreState> store, std::shared_ptr<detail::TxState> tx)
        : store_(std::move(store)), tx_(std::move(tx)) {}
    std::vector<EventEnvelope> upcast(std::vector<EventEnvelope> events) const;

    std::shared_ptr<detail::StoreState> store_;
    std::shared_ptr<detail::TxState> tx_;  // null: borrow a pooled connection per call
    bool advisory_locks_ = false;          // with_advisory_locks()
    bool with_archived_ = false;           // reads include archived events
};

/// @brief A fluent append, from Events::builder(). Each setter returns the builder.
class RILLFLOW_EXPORT AppendBuilder {
  public:
    /// @brief Call-wide headers (a JSON object) merged into every event's headers.
    AppendBuilder& headers(nlohmann::json headers);
    /// @brief The idempotency key of this append.
    AppendBuilder& idempotency_key(std::string key);
    /// @brief The causation id of every event.
    AppendBuilder& causation_id(const Uuid& id);
    /// @brief The correlation id of every event.
    AppendBuilder& correlation_id(const Uuid& id);
    /// @brief The stream's category (on its first append).
    AppendBuilder& category(std::string category);
    /// @brief The state the stream must be in; Expected::Any() unless set.
    AppendBuilder& expected(Expected expected);
    /// @brief Adds one event.
    AppendBuilder& push(EventData event);
    /// @brief Adds one event of this type and body.
    AppendBuilder& push(std::string type, nlohmann::json body);
    /// @brief Appends the events pushed so far. @return The stream's new version.
    std::int64_t send() const;

  private:
    friend class Events;
    AppendBuilder(Events events, const Uuid& stream)
        : events_(std::move(events)), stream_(stream) {}

    Events events_;
    Uuid stream_;
    Expected expected_ = Expected::Any();
    std::vector<EventData> batch_;
    AppendOptions options_;
};

}  // namespace rillflow
