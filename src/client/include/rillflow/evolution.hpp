// rillflow/evolution.hpp: event evolution on the client: upcasters applied after the server's
// chains, aggregates folded in C++ with validators and snapshots, and the snapshotter.
//
// The server upcasts first (rillflow.register_upcaster, docs/event-evolution.md): a client
// registry only adds steps the server does not know, for bodies that need C++ (or another
// service) to upcast. AggregateRepository<T> folds a stream into a C++ aggregate; snapshots go
// to the same per-store table as the SQL aggregates' (snapshot_save / snapshot_load).
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/errors.hpp"
#include "rillflow/events.hpp"
#include "rillflow/export.hpp"
#include "rillflow/session.hpp"
#include "rillflow/store.hpp"
#include "rillflow/transaction.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

/// @brief One upcasting step run in the client: events of (from_type, from_version) become
/// (to_type, to_version) with the body `upcast` returns.
struct Upcaster {
    /// @brief The type it takes.
    std::string from_type;
    /// @brief The event_version it takes.
    int from_version = 1;
    /// @brief The type it gives; the same as from_type unless it renames.
    std::string to_type;
    /// @brief The event_version it gives; above from_version.
    int to_version = 2;
    /// @brief The new body from the old one.
    std::function<nlohmann::json(const nlohmann::json& body)> fn;

    /// @brief Calls fn.
    nlohmann::json upcast(const nlohmann::json& body) const { return fn(body); }
};

/// @brief An upcasting step that may query (another table, another service): it gets the
/// whole envelope and the Store (each query borrows a pooled connection, so the pool needs a
/// connection to spare beyond the reading one) and returns a future. The steps of a page of
/// events are started together, then awaited.
struct AsyncUpcaster {
    /// @brief The type it takes.
    std::string from_type;
    /// @brief The event_version it takes.
    int from_version = 1;
    /// @brief The type it gives; the same as from_type unless it renames.
    std::string to_type;
    /// @brief The event_version it gives; above from_version.
    int to_version = 2;
    /// @brief The new body, some time later.
    std::function<std::future<nlohmann::json>(const EventEnvelope& event, const Store& store)> fn;

    /// @brief Calls fn.
    std::future<nlohmann::json> upcast(const EventEnvelope& event, const Store& store) const {
        return fn(event, store);
    }
};

/// @brief The client's upcasting steps, one out of each (type, version), applied after the
/// server's chains on every client read path (Events::read_stream and read_all, aggregates, the
/// projection daemon's handlers). Give it to StoreBuilder::upcasters(); a registry is not
/// changed once the store is built.
class RILLFLOW_EXPORT UpcasterRegistry {
  public:
    /// @brief Adds a step. @throws InvalidArgument when a step leaves the same (type, version)
    /// already, or to_version is not above from_version.
    UpcasterRegistry& add(Upcaster step);
    /// @brief Adds a step that may query.
    UpcasterRegistry& add(AsyncUpcaster step);

    /// @brief Upcasts `events` in place, each to the newest version its chain reaches. A step
    /// that throws is an error naming the event and the step (the step's exception, rethrown
    /// as Error with SQLSTATE 22000 unless it is an Error already).
    void apply(std::vector<EventEnvelope>& events, const Store& store) const;
    /// @brief apply() on one event.
    void apply(EventEnvelope& event, const Store& store) const;
    /// @brief How many steps.
    [[nodiscard]] std::size_t size() const noexcept { return steps_.size(); }

  private:
    using Step = std::variant<Upcaster, AsyncUpcaster>;
    const Step* find(const std::string& type, int version) const;
    std::map<std::pair<std::string, int>, Step> steps_;
};

/// @brief The upcasting registry of a store as the server holds it (SQL register_upcaster).
struct UpcasterStep {
    /// @brief The type the step takes.
    std::string event_type;
    /// @brief The version it takes.
    int from_version = 1;
    /// @brief The type it gives.
    std::string to_type;
    /// @brief The version it gives.
    int to_version = 2;
    /// @brief The SQL function, as regprocedure text.
    std::string fn;
    /// @brief The role it runs as (empty in upcaster_path rows).
    std::string owner;
};

/// @brief The server's upcaster registry of the store: list and path (SQL list_upcasters,
/// upcaster_path, register_upcaster, drop_upcaster).
class RILLFLOW_EXPORT Upcasters {
  public:
    /// @brief A store's registry. Each call borrows a pooled connection.
    explicit Upcasters(Store store) : store_(std::move(store)) {}
    /// @brief Registers an SQL function as a step. @return true when registered now.
    bool register_sql(const std::string& event_type, int from_version, int to_version,
                      const std::string& fn, const std::optional<std::string>& to_type = {}) const;
    /// @brief Drops the step out of (type, version). @throws NotFound.
    void drop(const std::string& event_type, int from_version) const;
    /// @brief The steps, by type and version.
    [[nodiscard]] std::vector<UpcasterStep> list() const;
    /// @brief The steps from one (type, version) to another. @throws NotFound (RF004) when the
    /// chain does not pass through it.
    [[nodiscard]] std::vector<UpcasterStep> path(const std::string& from_type, int from_version,
                                                 const std::string& to_type, int to_version) const;

  private:
    Store store_;
};

/// @brief An SQL aggregate's state (SQL aggregate_load, aggregate_commit).
struct AggregateState {
    /// @brief The folded state.
    nlohmann::json state;
    /// @brief The stream's version it is at (0: no stream).
    std::int64_t version = 0;
};

/// @brief The aggregates folded in SQL (create_aggregate): load, commit, and the snapshotter
/// the background worker also runs (docs/aggregates.md). Each call borrows a pooled connection.
class RILLFLOW_EXPORT SqlAggregates {
  public:
    /// @brief The SQL aggregates of `store`.
    explicit SqlAggregates(Store store) : store_(std::move(store)) {}
    /// @brief The newest snapshot plus the events after it, folded. @throws NotFound.
    [[nodiscard]] AggregateState load(const std::string& name, const Uuid& id) const;
    /// @brief Folds `events` onto the state, lets `validator` (an SQL function, regprocedure
    /// text) reject the new state, then appends them. @throws VersionConflict, the validator's
    /// error.
    AggregateState commit(const std::string& name, const Uuid& id,
                          const std::vector<EventData>& events, Expected expected = Expected::Any(),
                          const std::optional<std::string>& validator = {}) const;
    /// @brief One run of the snapshotter (SQL run_snapshotter). @return Streams snapshotted.
    int run_snapshotter(int threshold = 200, int batch = 200,
                        const std::optional<std::string>& aggregate = {}) const;

  private:
    Store store_;
};

namespace detail {
// What an aggregate repository needs of its store, outside the template.
struct RILLFLOW_EXPORT AggregateIo {
    // The newest snapshot at or below the stream's version: (version, state).
    static std::optional<std::pair<std::int64_t, nlohmann::json>> load_snapshot(
        Transaction& tx, const Uuid& id, const std::string& name, int state_version);
    static void save_snapshot(Transaction& tx, const Uuid& id, const std::string& name,
                              std::int64_t version, const nlohmann::json& state, int state_version);
    static void track(Transaction& tx, const std::string& name, const Uuid& id);
    // Events of the stream from a version on, upcast (server chains, then the client's).
    static std::vector<EventEnvelope> read(Transaction& tx, const Store& store, const Uuid& id,
                                           std::int64_t from_version);
    // The new events as envelopes at the versions they will take, for folding before the append.
    static std::vector<EventEnvelope> pending(const Uuid& id, std::int64_t base,
                                              const std::vector<EventData>& events);
    [[noreturn]] static void conflict(const Uuid& id, const Expected& expected,
                                      std::int64_t actual);
    [[noreturn]] static void rejected(const std::string& name, const Uuid& id);
    static void check_expected(const Uuid& id, const Expected& expected, std::int64_t actual);
    static void check_name(const std::string& name);
    static std::vector<Uuid> candidates(Transaction& tx, const std::string& name, int threshold,
                                        int batch, int state_version);
};

template <typename T, typename = void>
struct is_aggregate : std::false_type {};
template <typename T>
struct is_aggregate<
    T, std::void_t<decltype(std::declval<T&>().apply(std::declval<const EventEnvelope&>())),
                   decltype(static_cast<std::int64_t>(std::declval<const T&>().version()))>>
    : std::is_default_constructible<T> {};
}  // namespace detail

/// @brief Whether T is an Aggregate: default-constructible, `apply(const EventEnvelope&)`
/// folds one event (and moves version() to its stream version), `version()` is the stream
/// version of the last event applied (0 for a new aggregate). Snapshots also need
/// nlohmann::json conversions of T that keep its version.
template <typename T>
inline constexpr bool is_aggregate_v = detail::is_aggregate<T>::value;

template <typename T>
class SessionAggregates;

/// @brief Loads and commits aggregates of type T, one per stream, under a name (the
/// snapshots' `aggregate`, and what the snapshotter scans). Cheap to copy.
template <typename T>
class AggregateRepository {
    static_assert(is_aggregate_v<T>,
                  "T must be default-constructible, with apply(const EventEnvelope&) and "
                  "version()");

  public:
    /// @brief A validator: gets the state after the new events (T as JSON, or {"version": n}
    /// when T has no JSON conversion); returns false (or throws) to reject them.
    using Validator = std::function<bool(const nlohmann::json& state)>;

    /// @brief Aggregates named `name` (the aggregate name rule: 1 to 63 letters, digits, _ and
    /// -, starting with a letter) in `store`; `state_version` keys their snapshots (raise it
    /// when T's JSON changes, so old snapshots are ignored).
    AggregateRepository(Store store, std::string name, int state_version = 1)
        : store_(std::move(store)), name_(std::move(name)), state_version_(state_version) {
        detail::AggregateIo::check_name(name_);
    }

    /// @brief Adds a validator; commit() calls each, in order, before anything is written.
    AggregateRepository& with_validator(Validator fn) {
        validators_.push_back(std::move(fn));
        return *this;
    }

    /// @brief The aggregate name.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// @brief The snapshots' state version.
    [[nodiscard]] int state_version() const noexcept { return state_version_; }
    /// @brief The store.
    [[nodiscard]] const Store& store() const noexcept { return store_; }

    /// @brief Folds the whole stream (no snapshot): T{} for a stream that does not exist.
    [[nodiscard]] T load(const Uuid& id) const {
        Transaction tx = store_.transaction();
        T agg = fold(tx, id, false);
        tx.commit();
        return agg;
    }

    /// @brief The newest snapshot plus the events after it (T{} plus every event without one).
    [[nodiscard]] T load_with_snapshot(const Uuid& id) const {
        Transaction tx = store_.transaction();
        T agg = fold(tx, id, true);
        tx.commit();
        return agg;
    }

    /// @brief Loads (with its snapshot), checks `expected` against the aggregate's version
    /// (VersionConflict), folds `events` onto a copy, runs the validators on the state after
    /// them (a rejection writes nothing: SqlError 23514, or the validator's own exception),
    /// then appends them expecting the loaded version, in one transaction that also keeps the
    /// stream for the snapshotter. @return The stream's new version.
    std::int64_t commit(const Uuid& id, Expected expected,
                        const std::vector<EventData>& events) const {
        Transaction tx = store_.transaction();
        T agg = fold(tx, id, true);
        detail::AggregateIo::check_expected(id, expected, agg.version());
        const std::int64_t version = commit_in(tx, id, agg, events);
        tx.commit();
        return version;
    }

    /// @brief Commits `events` onto `agg` (as loaded by the caller: the append expects its
    /// version), applies them to it, and saves a snapshot in the same transaction when the
    /// stream crosses a multiple of `every_n`. @return The stream's new version.
    std::int64_t commit_and_snapshot(const Uuid& id, T& agg, const std::vector<EventData>& events,
                                     int every_n) const {
        if (every_n < 1) {
            throw InvalidArgument("22023",
                                  "every_n must be at least 1, not " + std::to_string(every_n));
        }
        Transaction tx = store_.transaction();
        T next = agg;
        const std::int64_t before = next.version();
        const std::int64_t version = commit_in(tx, id, next, events);
        if (before / every_n != version / every_n) {
            detail::AggregateIo::save_snapshot(tx, id, name_, next.version(), state_of(next),
                                               state_version_);
        }
        tx.commit();
        agg = std::move(next);
        return version;
    }

    /// @brief Folds T in `tx` (used by the snapshotter and the session).
    T fold(Transaction& tx, const Uuid& id, bool with_snapshot) const {
        T agg{};
        std::int64_t from = 1;
        if (with_snapshot) {
            if (auto snap = detail::AggregateIo::load_snapshot(tx, id, name_, state_version_)) {
                agg = from_state(snap->second);
                from = snap->first + 1;
            }
        }
        for (const EventEnvelope& e : detail::AggregateIo::read(tx, store_, id, from)) {
            agg.apply(e);
        }
        return agg;
    }

    /// @brief T as JSON, for snapshots and validators.
    static nlohmann::json state_of(const T& agg) {
        if constexpr (std::is_constructible_v<nlohmann::json, const T&>) {
            return nlohmann::json(agg);
        } else {
            return nlohmann::json{{"version", agg.version()}};
        }
    }

    /// @brief The validators on the state of `agg` after `events` (already applied).
    void validate(const Uuid& id, const T& agg) const {
        if (validators_.empty()) return;
        const nlohmann::json state = state_of(agg);
        for (const Validator& v : validators_) {
            if (!v(state)) detail::AggregateIo::rejected(name_, id);
        }
    }

  private:
    template <typename U>
    friend class SessionAggregates;

    static T from_state(const nlohmann::json& state) {
        if constexpr (std::is_constructible_v<nlohmann::json, const T&>) {
            return state.template get<T>();
        } else {
            return T{};
        }
    }

    // Fold `events` onto `agg`, validate, append expecting agg's version, keep the stream.
    std::int64_t commit_in(Transaction& tx, const Uuid& id, T& agg,
                           const std::vector<EventData>& events) const {
        const std::int64_t base = agg.version();
        for (const EventEnvelope& e : detail::AggregateIo::pending(id, base, events)) agg.apply(e);
        validate(id, agg);
        const Expected expected = base == 0 ? Expected::NoStream() : Expected::Exact(base);
        const std::int64_t version = tx.events().append(id, expected, events);
        detail::AggregateIo::track(tx, name_, id);
        return version;
    }

    Store store_;
    std::string name_;
    int state_version_ = 1;
    std::vector<Validator> validators_;
};

/// @brief Aggregate commits staged in a Session, from Session::aggregates(repo): commit()
/// loads, validates and enqueues the append (expecting the loaded version), and
/// save_changes() writes it with the session's other changes, in its transaction.
template <typename T>
class SessionAggregates {
  public:
    /// @brief The aggregate as the session will leave it: loaded with its snapshot, with the
    /// events this session staged for it applied.
    [[nodiscard]] T load(const Uuid& id) const { return repo_.load_with_snapshot(id); }

    /// @brief Loads, checks `expected`, folds and validates now; stages the append.
    /// @return The version the stream will be at after save_changes().
    std::int64_t commit(const Uuid& id, Expected expected, std::vector<EventData> events) {
        T agg = repo_.load_with_snapshot(id);
        detail::AggregateIo::check_expected(id, expected, agg.version());
        const std::int64_t base = agg.version();
        for (const EventEnvelope& e : detail::AggregateIo::pending(id, base, events)) agg.apply(e);
        repo_.validate(id, agg);
        const std::int64_t version = base + static_cast<std::int64_t>(events.size());
        session_->enqueue_events(id, base == 0 ? Expected::NoStream() : Expected::Exact(base),
                                 std::move(events));
        return version;
    }

  private:
    friend class Session;
    SessionAggregates(Session* session, AggregateRepository<T> repo)
        : session_(session), repo_(std::move(repo)) {}
    Session* session_;
    AggregateRepository<T> repo_;
};

template <typename T>
SessionAggregates<T> Session::aggregates(const AggregateRepository<T>& repo) {
    return SessionAggregates<T>(this, repo);
}

/// @brief How the snapshotter works.
struct SnapshotterConfig {
    /// @brief Snapshot streams at least this many events past their last snapshot.
    int threshold_events = 200;
    /// @brief Streams per compact_once() (one transaction).
    int batch_size = 200;
};

/// @brief What the snapshotter folds: an aggregate name, its state version, and how to fold
/// one stream into the JSON of a snapshot.
class RILLFLOW_EXPORT SnapshotFolder {
  public:
    virtual ~SnapshotFolder();
    /// @brief The aggregate name.
    [[nodiscard]] virtual std::string name() const = 0;
    /// @brief The snapshots' state version.
    [[nodiscard]] virtual int state_version() const = 0;
    /// @brief The state and version of a stream, folded in `tx`.
    virtual std::pair<nlohmann::json, std::int64_t> fold(Transaction& tx, const Uuid& id) const = 0;
};

/// @brief A SnapshotFolder for a C++ aggregate T (which needs JSON conversions).
template <typename T>
class AggregateFolder : public SnapshotFolder {
  public:
    /// @brief Folds with `repo` (its name and state version).
    explicit AggregateFolder(AggregateRepository<T> repo) : repo_(std::move(repo)) {}
    std::string name() const override { return repo_.name(); }
    int state_version() const override { return repo_.state_version(); }
    std::pair<nlohmann::json, std::int64_t> fold(Transaction& tx, const Uuid& id) const override {
        T agg = repo_.fold(tx, id, true);
        return {AggregateRepository<T>::state_of(agg), agg.version()};
    }

  private:
    AggregateRepository<T> repo_;
};

/// @brief Snapshots the streams of one aggregate that are `threshold_events` past their last
/// snapshot (the server's snapshot_candidates: two snapshotters never take the same stream).
class RILLFLOW_EXPORT Snapshotter {
  public:
    /// @brief A snapshotter of `folder`'s aggregate in `store`.
    Snapshotter(Store store, std::shared_ptr<const SnapshotFolder> folder,
                SnapshotterConfig config = {});
    /// @brief One batch, in one transaction. @return The streams snapshotted.
    int compact_once() const;
    /// @brief Batches until one finds nothing. @return The streams snapshotted.
    std::int64_t run_until_idle() const;

  private:
    Store store_;
    std::shared_ptr<const SnapshotFolder> folder_;
    SnapshotterConfig config_;
};

}  // namespace rillflow
