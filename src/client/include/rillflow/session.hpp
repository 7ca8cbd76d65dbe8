// rillflow/session.hpp: a unit of work over documents and events, with an identity map.
//
// A Session loads and queries documents (each id once: getting it again returns the same
// object), stages writes of documents and appends of events (or, with track_changes, finds the
// loaded objects that changed), and save_changes() applies them all in one transaction, each
// document write checked against the version the session knows. A conflict rolls back
// everything, documents and events alike.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/documents.hpp"
#include "rillflow/errors.hpp"
#include "rillflow/events.hpp"
#include "rillflow/export.hpp"
#include "rillflow/transaction.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
}

/// @brief How a session works; unset options take the Store builder's session defaults.
class RILLFLOW_EXPORT SessionOptions {
  public:
    /// @brief Act on this tenant's store for the whole session (SET LOCAL in each of its
    /// transactions; the pool's connections keep their own setting). "" is the default store.
    SessionOptions& tenant(std::string name) {
        tenant_ = std::move(name);
        return *this;
    }
    /// @brief Appends take per-stream advisory locks (`rillflow.stream_advisory_locks`).
    SessionOptions& advisory_locks(bool on) {
        advisory_locks_ = on;
        return *this;
    }
    /// @brief Headers merged into every enqueued append's headers (the append's own keys win);
    /// replaces the builder's session_defaults().
    SessionOptions& headers(nlohmann::json headers) {
        headers_ = std::move(headers);
        return *this;
    }
    /// @brief The causation id of every enqueued append that has none; replaces the
    /// builder's session_defaults().
    SessionOptions& causation_id(const Uuid& id) {
        causation_id_ = id;
        return *this;
    }
    /// @brief The correlation id of every enqueued append that has none; replaces the
    /// builder's session_defaults().
    SessionOptions& correlation_id(const Uuid& id) {
        correlation_id_ = id;
        return *this;
    }
    /// @brief The isolation level of save_changes()'s transaction (default read committed).
    SessionOptions& isolation(Isolation level) {
        isolation_ = level;
        return *this;
    }
    /// @brief Track changes: save_changes() also writes every loaded or queried object whose
    /// JSON differs from what it was when the session got it (expecting the version it was
    /// read at), with no store() call. Costs one serialisation per object at load and at save.
    SessionOptions& track_changes(bool on) {
        track_changes_ = on;
        return *this;
    }

    /// @brief The tenant, when set.
    const std::optional<std::string>& tenant() const noexcept { return tenant_; }
    /// @brief The advisory-lock choice, when set.
    std::optional<bool> advisory_locks() const noexcept { return advisory_locks_; }
    /// @brief The headers, when set.
    const std::optional<nlohmann::json>& headers() const noexcept { return headers_; }
    /// @brief The causation id, when set.
    const std::optional<Uuid>& causation_id() const noexcept { return causation_id_; }
    /// @brief The correlation id, when set.
    const std::optional<Uuid>& correlation_id() const noexcept { return correlation_id_; }
    /// @brief The isolation level.
    Isolation isolation() const noexcept { return isolation_; }
    /// @brief Whether changes to loaded objects are found and saved.
    bool track_changes() const noexcept { return track_changes_; }

  private:
    std::optional<std::string> tenant_;
    std::optional<bool> advisory_locks_;
    std::optional<nlohmann::json> headers_;
    std::optional<Uuid> causation_id_, correlation_id_;
    Isolation isolation_ = Isolation::ReadCommitted;
    bool track_changes_ = false;
};

template <typename T>
class SessionQuery;
template <typename T>
class AggregateRepository;
template <typename T>
class SessionAggregates;

/// @brief A unit of work, from Store::session(). Movable, not copyable; use it from one
/// thread at a time. Nothing is written before save_changes().
class RILLFLOW_EXPORT Session {
  public:
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();

    // ---- loading (the identity map) ------------------------------------------------------
    /// @brief The document as a shared T, or nullptr when it does not exist. Loading the same
    /// (collection, id) again returns the same object (or nullptr) without a round trip.
    /// @throws InvalidArgument when the id was loaded or stored as another type.
    template <typename T>
    std::shared_ptr<T> load(const std::string& collection, const Uuid& id) {
        if (auto hit = find(collection, id, typeid(T))) {
            return std::static_pointer_cast<T>(hit->object);
        }
        if (known_missing(collection, id)) return nullptr;
        std::optional<Document<nlohmann::json>> doc = fetch(collection, id);
        if (!doc) {
            remember_missing(collection, id);
            return nullptr;
        }
        auto object = std::make_shared<T>(doc->value.template get<T>());
        remember(collection, id, object, doc->version);
        return object;
    }
    /// @brief load() from the default collection.
    template <typename T>
    std::shared_ptr<T> load(const Uuid& id) {
        return load<T>(std::string(kDefaultCollection), id);
    }
    /// @brief load() of many ids in one round trip for those not in the map yet; missing
    /// documents are left out; the rest keep the order of `ids`.
    template <typename T>
    std::vector<std::shared_ptr<T>> load_many(const std::string& collection,
                                              const std::vector<Uuid>& ids) {
        std::vector<Uuid> wanted;
        for (const Uuid& id : ids) {
            if (!find(collection, id, typeid(T)) && !known_missing(collection, id)) {
                wanted.push_back(id);
            }
        }
        if (!wanted.empty()) {
            std::vector<Document<nlohmann::json>> docs = fetch_many(collection, wanted);
            for (auto& doc : docs) {
                remember(collection, doc.id, std::make_shared<T>(doc.value.template get<T>()),
                         doc.version);
            }
            for (const Uuid& id : wanted) {
                if (!find(collection, id, typeid(T))) remember_missing(collection, id);
            }
        }
        std::vector<std::shared_ptr<T>> out;
        for (const Uuid& id : ids) {
            if (auto hit = find(collection, id, typeid(T))) {
                out.push_back(std::static_pointer_cast<T>(hit->object));
            }
        }
        return out;
    }
    /// @brief A query on `collection` whose documents go through the identity map: one the
    /// session already holds comes back as that same object (the session's copy wins over the
    /// database's), the others are remembered with their versions, so a later store() of one
    /// expects the version it was read at. Build it as Documents::query() (filter, order_by,
    /// paging); rows are always whole documents.
    template <typename T>
    [[nodiscard]] SessionQuery<T> query(const std::string& collection);
    /// @brief query() on the default collection.
    template <typename T>
    [[nodiscard]] SessionQuery<T> query() {
        return query<T>(std::string(kDefaultCollection));
    }

    /// @brief The version the session knows for a document (loaded, or written by
    /// save_changes()), if any.
    [[nodiscard]] std::optional<std::int64_t> version(const std::string& collection,
                                                      const Uuid& id) const;
    /// @brief version() in the default collection.
    [[nodiscard]] std::optional<std::int64_t> version(const Uuid& id) const {
        return version(std::string(kDefaultCollection), id);
    }

    // ---- staging ---------------------------------------------------------------------------
    /// @brief Stages a write of `object` (serialised at save_changes(), so later changes to it
    /// count) and puts it in the identity map. The write expects `expected_version` when given,
    /// else the version the session knows (the loaded one, 0 when a load found nothing, or the
    /// one an earlier write of the same save gave), else nothing (last writer wins).
    template <typename T>
    void store(const std::string& collection, const Uuid& id, std::shared_ptr<T> object,
               std::optional<std::int64_t> expected_version = std::nullopt) {
        if (!object)
            throw InvalidArgument(sqlstate::null_value_not_allowed,
                                  "Session::store: the object is null");
        std::shared_ptr<void> erased = object;
        stage_store(collection, id, std::move(erased), typeid(T), &to_json_of<T>, expected_version);
    }
    /// @brief store() of a copy of `value`; returns the object now in the identity map.
    template <typename T>
    std::shared_ptr<T> store(const std::string& collection, const Uuid& id, T value,
                             std::optional<std::int64_t> expected_version = std::nullopt) {
        auto object = std::make_shared<T>(std::move(value));
        store(collection, id, object, expected_version);
        return object;
    }
    /// @brief store() in the default collection.
    template <typename T>
    void store(const Uuid& id, std::shared_ptr<T> object,
               std::optional<std::int64_t> expected_version = std::nullopt) {
        store(std::string(kDefaultCollection), id, std::move(object), expected_version);
    }
    /// @brief store() of a copy, in the default collection.
    template <typename T>
    std::shared_ptr<T> store(const Uuid& id, T value,
                             std::optional<std::int64_t> expected_version = std::nullopt) {
        return store(std::string(kDefaultCollection), id, std::move(value), expected_version);
    }

    /// @brief Stages a hard delete (expecting the known version, as store() does); the
    /// document leaves the identity map at save_changes().
    void remove(const std::string& collection, const Uuid& id,
                std::optional<std::int64_t> expected_version = std::nullopt);
    /// @brief remove() in the default collection.
    void remove(const Uuid& id, std::optional<std::int64_t> expected_version = std::nullopt) {
        remove(std::string(kDefaultCollection), id, expected_version);
    }
    /// @brief Stages doc_patch_fields (`fields`: dotted path -> value), expecting the known
    /// version as store() does. A loaded object is not changed by it: load it again in a
    /// new session to see the result.
    void patch(const std::string& collection, const Uuid& id, nlohmann::json fields,
               std::optional<std::int64_t> expected_version = std::nullopt);
    /// @brief patch() in the default collection.
    void patch(const Uuid& id, nlohmann::json fields,
               std::optional<std::int64_t> expected_version = std::nullopt) {
        patch(std::string(kDefaultCollection), id, std::move(fields), expected_version);
    }

    /// @brief Commits of `repo`'s aggregates staged in this session (evolution.hpp): each
    /// commit() loads and validates at once and enqueues its append, which save_changes()
    /// writes with everything else. Include rillflow/evolution.hpp to use it.
    template <typename T>
    SessionAggregates<T> aggregates(const AggregateRepository<T>& repo);

    /// @brief Stages an append of `events` to `stream` (with the session's default headers,
    /// causation and correlation ids where `options` has none).
    void enqueue_events(const Uuid& stream, Expected expected, std::vector<EventData> events,
                        AppendOptions options = AppendOptions{});
    /// @brief Stages an append of one event.
    void enqueue_event(const Uuid& stream, EventData event, Expected expected = Expected::Any());
    /// @brief Stages an append of one event of this type and body.
    void enqueue_event(const Uuid& stream, std::string type, nlohmann::json body,
                       Expected expected = Expected::Any());

    /// @brief Document writes and appends staged and not saved yet (changed objects that
    /// track_changes() would save are not counted: they are found at save_changes()).
    [[nodiscard]] std::size_t pending() const noexcept;
    /// @brief Drops everything staged (the identity map stays); with track_changes, the
    /// objects as they are now count as unchanged.
    void discard_changes();

    /// @brief Writes everything staged, in the order staged, in one transaction (with the
    /// session's tenant, advisory-lock setting and isolation), and with track_changes() every
    /// changed object after them; then updates the identity map's versions and clears what
    /// was staged. On any error nothing is written, the versions the
    /// session knows and the staged changes are as before, and the error is thrown.
    /// @throws DocumentVersionConflict, VersionConflict, IdempotencyConflict, ...
    void save_changes();

    /// @brief The options in effect (the Store's defaults filled in).
    [[nodiscard]] const SessionOptions& options() const noexcept;

    /// @brief Act on `tenant`'s store for the whole session, as SessionOptions::tenant() does;
    /// only before the session's first operation (a load, query, staged change or
    /// save_changes()), when its tenant is fixed: under TenantStrategy::SchemaPerTenant, the
    /// resolver's unless set here.
    /// @throws SqlError (55000) after the first operation.
    void set_tenant(std::string tenant);
    /// @brief The tenant the session acts on: set, or fixed by its first operation.
    [[nodiscard]] const std::optional<std::string>& tenant() const noexcept;

  private:
    friend class Store;
    template <typename T>
    friend class SessionQuery;
    struct State;
    // Fixes the session's tenant at its first operation (see set_tenant()).
    void begin_use();
    struct Entry {
        std::shared_ptr<void> object;
        std::type_index type = typeid(void);
        nlohmann::json (*to_json)(const void*) = nullptr;
    };
    Session(std::shared_ptr<detail::StoreState> store, SessionOptions options);

    template <typename T>
    static nlohmann::json to_json_of(const void* object) {
        return nlohmann::json(*static_cast<const T*>(object));
    }

    const Entry* find(const std::string& collection, const Uuid& id, std::type_index type) const;
    bool known_missing(const std::string& collection, const Uuid& id) const;
    void remember(const std::string& collection, const Uuid& id, std::shared_ptr<void> object,
                  std::type_index type, nlohmann::json (*to_json)(const void*),
                  std::int64_t version);
    template <typename T>
    void remember(const std::string& collection, const Uuid& id, std::shared_ptr<T> object,
                  std::int64_t version) {
        remember(collection, id, std::shared_ptr<void>(std::move(object)), typeid(T),
                 &to_json_of<T>, version);
    }
    void remember_missing(const std::string& collection, const Uuid& id);
    void stage_store(const std::string& collection, const Uuid& id, std::shared_ptr<void> object,
                     std::type_index type, nlohmann::json (*to_json)(const void*),
                     std::optional<std::int64_t> expected_version);
    Documents reader(std::unique_ptr<Transaction>& tx, const std::string& collection);
    std::optional<Document<nlohmann::json>> fetch(const std::string& collection, const Uuid& id);
    std::vector<Document<nlohmann::json>> fetch_many(const std::string& collection,
                                                     const std::vector<Uuid>& ids);
    std::vector<Document<nlohmann::json>> fetch_query(const std::string& collection,
                                                      const QuerySpec& spec);
    // A fetched document as a T: the session's object when it holds one, else a new one
    // it remembers.
    template <typename T>
    std::shared_ptr<T> adopt(const std::string& collection, Document<nlohmann::json>& doc) {
        if (auto hit = find(collection, doc.id, typeid(T))) {
            return std::static_pointer_cast<T>(hit->object);
        }
        auto object = std::make_shared<T>(doc.value.template get<T>());
        remember(collection, doc.id, object, doc.version);
        return object;
    }

    std::unique_ptr<State> state_;
};

/// @brief A query through a Session's identity map, from Session::query<T>(). Holds a
/// reference to the session: use it while the session lives.
template <typename T>
class SessionQuery : public QueryBuilder<SessionQuery<T>> {
  public:
    /// @brief Every matching document, as the session's objects.
    std::vector<std::shared_ptr<T>> fetch_all() const {
        std::vector<std::shared_ptr<T>> out;
        for (auto& doc : session_.fetch_query(collection_, this->spec_)) {
            out.push_back(session_.template adopt<T>(collection_, doc));
        }
        return out;
    }
    /// @brief The first matching document (in the query's order), or nullptr.
    std::shared_ptr<T> fetch_one() const {
        QuerySpec one = this->spec_;
        one.limit(1);
        auto docs = session_.fetch_query(collection_, one);
        if (docs.empty()) return nullptr;
        return session_.template adopt<T>(collection_, docs.front());
    }

  private:
    friend class Session;
    SessionQuery(Session& session, std::string collection)
        : session_(session), collection_(std::move(collection)) {}
    Session& session_;
    std::string collection_;
};

template <typename T>
SessionQuery<T> Session::query(const std::string& collection) {
    return SessionQuery<T>(*this, collection);
}

}  // namespace rillflow
