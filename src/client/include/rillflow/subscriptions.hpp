// rillflow/subscriptions.hpp: subscriptions to the global log (filtered, checkpointed), their
// consumer groups, and the Subscription handle a consumer polls, acks and runs with. Each call
// is one statement of the SQL API (docs/subscriptions.md).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/events.hpp"
#include "rillflow/export.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
class Listener;
}  // namespace detail

class Transaction;
class Subscription;

/// @brief What a subscription lets through; the filters AND together, an empty one lets
/// everything through.
// NOLINTNEXTLINE(bugprone-exception-escape): reported through nlohmann::json's noexcept moves
struct SubscriptionFilter {
    /// @brief Only these event types.
    std::vector<std::string> event_types{};
    /// @brief Only streams of these categories (the alias prefix, or given on the first append).
    std::vector<std::string> categories{};
    /// @brief Only these streams.
    std::vector<Uuid> stream_ids{};
    /// @brief Only events whose headers contain this JSON object; null for any.
    nlohmann::json headers{};
    /// @brief Start after this position (0: the beginning of the log).
    std::int64_t start_from = 0;
};

/// @brief When a Subscription acks what it handed out.
enum class AckMode {
    /// @brief After the handler returns (run()), or at the next poll()/next() call: at least
    /// once.
    Auto,
    /// @brief Only when the caller calls ack() or ack_in_tx() (with its side effects, exactly
    /// once for writes in the same database).
    Manual,
};

/// @brief How a consumer subscribes (Subscriptions::subscribe()).
struct SubscriptionOptions {
    /// @brief A consumer group (competing consumers sharing one checkpoint); empty: the
    /// subscription's single consumer, which holds its lease alone.
    std::optional<std::string> group{};
    /// @brief This consumer's id (letters, digits and _ . : @ -); empty: one made from the
    /// host name, process id and a counter.
    std::string consumer{};
    /// @brief The most events per poll (1..10000).
    int batch_size = 100;
    /// @brief Auto or Manual acks.
    AckMode ack_mode = AckMode::Manual;
    /// @brief Sets the group's max_in_flight when given (needs a group).
    std::optional<int> max_in_flight{};
    /// @brief How long a delivered event is this consumer's before it is delivered again.
    std::chrono::milliseconds lease{30000};
    /// @brief The longest run() and next() wait between polls when no NOTIFY arrives.
    std::chrono::milliseconds poll_interval{1000};
};

/// @brief A subscription, from list() and status(). `row` holds every column the server
/// returned, so columns added later are not lost.
struct SubscriptionInfo {
    /// @brief Its name.
    std::string name{};
    /// @brief Its filters.
    SubscriptionFilter filter{};
    /// @brief The single consumer's checkpoint (status() only).
    std::int64_t checkpoint = 0;
    /// @brief The log's head when read (status() only).
    std::int64_t head = 0;
    /// @brief head - checkpoint (status() only).
    std::int64_t lag = 0;
    /// @brief Its consumer groups.
    std::int64_t groups = 0;
    /// @brief Every column of the server's row.
    nlohmann::json row = nlohmann::json::object();
};

/// @brief A consumer group, from groups() and group_status().
struct GroupStatus {
    /// @brief The group's name (empty for the single consumer).
    std::string group{};
    /// @brief The highest position with everything at or below it acked (or dead-lettered).
    std::int64_t checkpoint = 0;
    /// @brief The log's head when read.
    std::int64_t head = 0;
    /// @brief head - checkpoint.
    std::int64_t lag = 0;
    /// @brief Events delivered and not acked, with a live lease.
    std::int64_t in_flight = 0;
    /// @brief The group's bound on in_flight, if set.
    std::optional<int> max_in_flight{};
    /// @brief A stream's events go to one consumer at a time, in stream order.
    bool ordered = false;
    /// @brief Deliveries before an event is dead-lettered.
    int max_deliveries = 0;
    /// @brief Every column of the server's row (group_status() has the consumers, with when
    /// each was last seen).
    nlohmann::json row = nlohmann::json::object();
};

/// @brief The subscription API of a store. Cheap to copy; thread-safe (each call borrows a
/// pooled connection). Every call acts on the store's tenant.
class RILLFLOW_EXPORT Subscriptions {
  public:
    /// @brief Creates a subscription. @throws SqlError (42710) when it exists; InvalidArgument.
    void create(std::string_view name, const SubscriptionFilter& filter = {}) const;
    /// @brief Drops it with its groups and dead letters. @throws NotFound
    void drop(std::string_view name) const;
    /// @brief Every subscription of the store, by name.
    [[nodiscard]] std::vector<SubscriptionInfo> list() const;
    /// @brief One subscription, with its single consumer's checkpoint and lag. @throws NotFound
    [[nodiscard]] SubscriptionInfo status(std::string_view name) const;
    /// @brief Its consumer groups. @throws NotFound
    [[nodiscard]] std::vector<GroupStatus> groups(std::string_view name) const;
    /// @brief One group (empty `group`: the single consumer). @throws NotFound
    [[nodiscard]] GroupStatus group_status(std::string_view name, std::string_view group) const;
    /// @brief Bounds the events the group has out at once; std::nullopt unsets the bound.
    void set_group_max_in_flight(std::string_view name, std::string_view group,
                                 std::optional<int> value) const;
    /// @brief Sets a group's ordering and max deliveries; std::nullopt leaves one as it is.
    void configure_group(std::string_view name, std::string_view group, std::optional<bool> ordered,
                         std::optional<int> max_deliveries = {}) const;
    /// @brief The group's dead letters (each row as JSON), oldest position first.
    [[nodiscard]] std::vector<nlohmann::json> dlq_list(std::string_view name,
                                                       std::optional<std::string> group = {}) const;
    /// @brief Delivers dead letters again (all when `positions` is empty). @return How many.
    int dlq_requeue(std::string_view name, std::optional<std::string> group = {},
                    const std::vector<std::int64_t>& positions = {}) const;
    /// @brief Deletes dead letters (all when `positions` is empty). @return How many.
    int dlq_delete(std::string_view name, std::optional<std::string> group = {},
                   const std::vector<std::int64_t>& positions = {}) const;
    /// @brief The rillflow.subscription_lag view: one JSON row per subscription and group.
    [[nodiscard]] std::vector<nlohmann::json> lag() const;

    /// @brief A consumer of `name`, which is created with `filter` unless it exists (an
    /// existing subscription keeps its own filter).
    [[nodiscard]] Subscription subscribe(std::string_view name, const SubscriptionFilter& filter,
                                         SubscriptionOptions options = {}) const;

  private:
    friend class Store;
    explicit Subscriptions(std::shared_ptr<detail::StoreState> store) : store_(std::move(store)) {}

    std::shared_ptr<detail::StoreState> store_;
};

/// @brief One consumer of a subscription (alone, or in a group). Movable, not copyable; use it
/// from one thread. Polls and acks borrow pooled connections; run() and next() also keep a
/// LISTEN connection of their own for wake-ups.
class RILLFLOW_EXPORT Subscription {
  public:
    /// @brief The handler of run().
    using Handler = std::function<void(const EventEnvelope&)>;

    Subscription(Subscription&&) noexcept;
    Subscription& operator=(Subscription&&) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    /// @brief Closes the LISTEN connection; what is not acked is delivered again once its lease
    /// runs out.
    ~Subscription();

    /// @brief The next event, waiting up to `timeout` (LISTEN, then poll); std::nullopt when
    /// none came. Events are polled batch_size at a time and handed out one by one; with
    /// AckMode::Auto, the ones handed out are acked together before the next poll.
    [[nodiscard]] std::optional<EventEnvelope> next(std::chrono::milliseconds timeout);
    /// @brief At most `max_count` events now (none: nothing is due). With AckMode::Auto, the
    /// events of the previous poll are acked first.
    [[nodiscard]] std::vector<EventEnvelope> poll(int max_count);
    /// @brief Polls and hands each event to `handler` until `stop_token` is set, waking on the
    /// worker's NOTIFY (at least every poll_interval). With AckMode::Auto, each batch is acked
    /// after the handler returned for all of it; when the handler throws, the events before
    /// are acked, the failed one and the rest of the batch are nacked, and the exception is
    /// rethrown. A batch is always handled to its end; `stop_token` is read between batches. With
    /// AckMode::Manual the handler acks (ack(), ack_in_tx()).
    void run(const Handler& handler, const std::atomic<bool>& stop_token);
    /// @brief Acks one event. @throws LeaseLost (RF006) when this consumer's lease on it ran
    /// out or another consumer has it.
    void ack(std::int64_t position);
    /// @brief Acks events, all or none. @throws LeaseLost
    void ack(const std::vector<std::int64_t>& positions);
    /// @brief Acks in `tx`: done when it commits, delivered again if it rolls back.
    /// @throws LeaseLost (the transaction can then only roll back)
    void ack_in_tx(Transaction& tx, std::int64_t position);
    /// @brief Gives an event back, to be delivered again after `retry_after`. @throws LeaseLost
    void nack(std::int64_t position,
              std::chrono::milliseconds retry_after = std::chrono::milliseconds(0));

    /// @brief The subscription's name.
    [[nodiscard]] const std::string& name() const noexcept;
    /// @brief This consumer's id.
    [[nodiscard]] const std::string& consumer() const noexcept;
    /// @brief Its group, if any.
    [[nodiscard]] const std::optional<std::string>& group() const noexcept;

  private:
    friend class Subscriptions;
    Subscription(std::shared_ptr<detail::StoreState> store, std::string name,
                 SubscriptionOptions options);
    void ack_pending();
    bool wait_for_events(std::chrono::milliseconds timeout);

    std::shared_ptr<detail::StoreState> store_;
    std::string name_;
    SubscriptionOptions options_;
    std::deque<EventEnvelope> buffer_;
    std::vector<std::int64_t> pending_acks_;  // AckMode::Auto: acked at the next call
    std::unique_ptr<detail::Listener> listener_;
};

}  // namespace rillflow
