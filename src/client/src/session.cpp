// session.cpp: the unit of work. Loads go through the identity map; writes and appends are
// staged and applied by save_changes() in one transaction, in the order they were staged.
#include "rillflow/session.hpp"

#include <map>
#include <set>
#include <tuple>

#include "pool.hpp"
#include "rillflow/errors.hpp"

namespace rillflow {

using nlohmann::json;

namespace {

struct Key {
    std::string collection;
    Uuid id;
    friend bool operator<(const Key& a, const Key& b) {
        return std::tie(a.collection, a.id) < std::tie(b.collection, b.id);
    }
};

enum class OpKind { Store, Remove, Patch, Append };

struct Op {
    OpKind kind = OpKind::Store;
    Key key;
    std::optional<std::int64_t> expected;  // documents: the explicit expected version
    std::shared_ptr<void> object;          // Store
    json (*to_json)(const void*) = nullptr;
    json fields;  // Patch
    // Append
    Expected stream_expected = Expected::Any();
    std::vector<EventData> events;
    AppendOptions options;
};

// `base` with `over`'s keys on top; either may be null.
json merge_headers(const json& base, const json& over) {
    if (base.is_null()) return over;
    if (over.is_null()) return base;
    json out = base;
    for (const auto& [key, value] : over.items()) out[key] = value;
    return out;
}

}  // namespace

struct Session::State {
    // What the session knows of one document.
    struct Tracked {
        Entry entry;                          // entry.object null: known only by version
        std::optional<std::int64_t> version;  // 0: known not to exist
        std::optional<json> snapshot;         // track_changes: the object's JSON as last read
                                              // or written
    };
    std::shared_ptr<detail::StoreState> store;
    SessionOptions options;
    std::map<Key, Tracked> known;
    std::vector<Op> ops;
};

Session::Session(std::shared_ptr<detail::StoreState> store, SessionOptions options)
    : state_(std::make_unique<State>()) {
    if (!options.advisory_locks()) options.advisory_locks(store->session_advisory_locks);
    if (!options.headers()) options.headers(store->session_headers);
    if (!options.headers()->is_null() && !options.headers()->is_object()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "session headers must be a JSON object, not " +
                                  std::string(options.headers()->type_name()));
    }
    state_->store = std::move(store);
    state_->options = std::move(options);
}

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

const SessionOptions& Session::options() const noexcept { return state_->options; }

const Session::Entry* Session::find(const std::string& collection, const Uuid& id,
                                    std::type_index type) const {
    auto it = state_->known.find(Key{collection, id});
    if (it == state_->known.end() || !it->second.entry.object) return nullptr;
    if (it->second.entry.type != type) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "document " + id.to_string() + " in collection \"" + collection +
                                  "\" is already in this session as another C++ type",
                              {}, "Load and store each document as one type per session.");
    }
    return &it->second.entry;
}

bool Session::known_missing(const std::string& collection, const Uuid& id) const {
    auto it = state_->known.find(Key{collection, id});
    return it != state_->known.end() && !it->second.entry.object && it->second.version == 0;
}

void Session::remember(const std::string& collection, const Uuid& id, std::shared_ptr<void> object,
                       std::type_index type, json (*to_json)(const void*), std::int64_t version) {
    State::Tracked& t = state_->known[Key{collection, id}];
    t.entry = Entry{std::move(object), type, to_json};
    t.version = version;
    // The object's own serialisation, not the server's JSON: a type that drops or defaults
    // fields must not look changed just for having been read.
    if (state_->options.track_changes()) t.snapshot = to_json(t.entry.object.get());
}

void Session::remember_missing(const std::string& collection, const Uuid& id) {
    State::Tracked& t = state_->known[Key{collection, id}];
    t = State::Tracked{};
    t.version = 0;
}

std::optional<std::int64_t> Session::version(const std::string& collection, const Uuid& id) const {
    auto it = state_->known.find(Key{collection, id});
    if (it == state_->known.end() || !it->second.version || *it->second.version == 0) {
        return std::nullopt;
    }
    return it->second.version;
}

// Reads run in a short transaction when the session has its own tenant (SET LOCAL ends with
// it, so the pooled connection keeps its setting), else on a pooled connection directly.
Documents Session::reader(std::unique_ptr<Transaction>& tx, const std::string& collection) {
    const auto& tenant = state_->options.tenant();
    if (!tenant) return Documents(state_->store, nullptr, collection);
    tx.reset(new Transaction(state_->store, Isolation::ReadCommitted));
    tx->exec("SELECT pg_catalog.set_config('rillflow.tenant', $1, true)", {*tenant});
    return tx->docs(collection);
}

std::optional<Document<json>> Session::fetch(const std::string& collection, const Uuid& id) {
    std::unique_ptr<Transaction> tx;
    auto doc = reader(tx, collection).get_json(id);
    if (tx) tx->commit();
    return doc;
}

std::vector<Document<json>> Session::fetch_many(const std::string& collection,
                                                const std::vector<Uuid>& ids) {
    std::unique_ptr<Transaction> tx;
    auto docs = reader(tx, collection).get_many_json(ids);
    if (tx) tx->commit();
    return docs;
}

std::vector<Document<json>> Session::fetch_query(const std::string& collection,
                                                 const QuerySpec& spec) {
    std::unique_ptr<Transaction> tx;
    auto docs = reader(tx, collection).query_documents_json(spec);
    if (tx) tx->commit();
    return docs;
}

void Session::stage_store(const std::string& collection, const Uuid& id,
                          std::shared_ptr<void> object, std::type_index type,
                          json (*to_json)(const void*),
                          std::optional<std::int64_t> expected_version) {
    State::Tracked& t = state_->known[Key{collection, id}];
    if (t.entry.object && t.entry.type != type) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "document " + id.to_string() + " in collection \"" + collection +
                                  "\" is already in this session as another C++ type",
                              {}, "Load and store each document as one type per session.");
    }
    t.entry = Entry{object, type, to_json};
    Op op;
    op.kind = OpKind::Store;
    op.key = Key{collection, id};
    op.expected = expected_version;
    op.object = std::move(object);
    op.to_json = to_json;
    state_->ops.push_back(std::move(op));
}

void Session::remove(const std::string& collection, const Uuid& id,
                     std::optional<std::int64_t> expected_version) {
    Op op;
    op.kind = OpKind::Remove;
    op.key = Key{collection, id};
    op.expected = expected_version;
    state_->ops.push_back(std::move(op));
}

void Session::patch(const std::string& collection, const Uuid& id, json fields,
                    std::optional<std::int64_t> expected_version) {
    if (!fields.is_object() || fields.empty()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "Session::patch: fields must be a non-empty JSON object of "
                              "dotted path -> value");
    }
    Op op;
    op.kind = OpKind::Patch;
    op.key = Key{collection, id};
    op.expected = expected_version;
    op.fields = std::move(fields);
    state_->ops.push_back(std::move(op));
}

void Session::enqueue_events(const Uuid& stream, Expected expected, std::vector<EventData> events,
                             AppendOptions options) {
    if (events.empty())
        throw InvalidArgument(sqlstate::invalid_parameter_value, "enqueue_events: no events given");
    if (!options.headers.is_null() && !options.headers.is_object()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "enqueue_events: the headers must be a JSON object");
    }
    Op op;
    op.kind = OpKind::Append;
    op.key = Key{{}, stream};
    op.stream_expected = expected;
    op.events = std::move(events);
    op.options = std::move(options);
    state_->ops.push_back(std::move(op));
}

void Session::enqueue_event(const Uuid& stream, EventData event, Expected expected) {
    std::vector<EventData> events;
    events.push_back(std::move(event));
    enqueue_events(stream, expected, std::move(events));
}

void Session::enqueue_event(const Uuid& stream, std::string type, json body, Expected expected) {
    EventData event;
    event.type = std::move(type);
    event.body = std::move(body);
    enqueue_event(stream, std::move(event), expected);
}

std::size_t Session::pending() const noexcept { return state_->ops.size(); }

void Session::discard_changes() {
    state_->ops.clear();
    for (auto& [key, tracked] : state_->known) {
        if (tracked.snapshot && tracked.entry.object) {
            tracked.snapshot = tracked.entry.to_json(tracked.entry.object.get());
        }
    }
}

void Session::save_changes() {
    State& s = *state_;
    std::vector<Op> ops = s.ops;
    if (s.options.track_changes()) {
        // Every tracked object whose JSON moved from its snapshot, after the staged ops and
        // unless one of them names it (what was staged for it wins).
        std::set<Key> named;
        for (const Op& op : s.ops) {
            if (op.kind != OpKind::Append) named.insert(op.key);
        }
        for (const auto& [key, tracked] : s.known) {
            if (!tracked.entry.object || !tracked.snapshot || named.count(key)) continue;
            if (tracked.entry.to_json(tracked.entry.object.get()) == *tracked.snapshot) continue;
            Op op;
            op.kind = OpKind::Store;
            op.key = key;
            op.object = tracked.entry.object;
            op.to_json = tracked.entry.to_json;
            ops.push_back(std::move(op));
        }
    }
    if (ops.empty()) return;

    // The versions as this save goes: known ones first, then what each write returns. They
    // become the session's only after the commit.
    std::map<Key, std::optional<std::int64_t>> versions;
    auto known_version = [&](const Key& key) -> std::optional<std::int64_t> {
        auto w = versions.find(key);
        if (w != versions.end()) return w->second;
        auto k = s.known.find(key);
        if (k != s.known.end()) return k->second.version;
        return std::nullopt;
    };

    Transaction tx(s.store, s.options.isolation());
    if (s.options.tenant()) {
        tx.exec("SELECT pg_catalog.set_config('rillflow.tenant', $1, true)", {*s.options.tenant()});
    }
    if (s.options.advisory_locks()) {
        tx.exec("SELECT pg_catalog.set_config('rillflow.stream_advisory_locks', $1, true)",
                {*s.options.advisory_locks() ? "on" : "off"});
    }
    const json& session_headers = *s.options.headers();
    std::map<Key, json> written;  // the JSON each Store op wrote, for the snapshots
    for (const Op& op : ops) {
        if (op.kind == OpKind::Append) {
            AppendOptions options = op.options;
            options.headers = merge_headers(session_headers, op.options.headers);
            tx.events().append_with(op.key.id, op.stream_expected, op.events, options);
            continue;
        }
        Documents docs = tx.docs(op.key.collection);
        std::optional<std::int64_t> expected = op.expected ? op.expected : known_version(op.key);
        // A document known not to exist: a write must create it, a delete expects nothing.
        if (op.kind != OpKind::Store && !op.expected && expected == 0) expected.reset();
        switch (op.kind) {
            case OpKind::Store: {
                json data = op.to_json(op.object.get());
                versions[op.key] = docs.put(op.key.id, data, expected);
                written[op.key] = std::move(data);
                break;
            }
            case OpKind::Patch:
                versions[op.key] = docs.patch_fields(op.key.id, op.fields, expected);
                break;
            case OpKind::Remove:
                // Nothing to delete is no error: the document is gone either way.
                docs.remove(op.key.id, expected);
                versions[op.key] = 0;
                break;
            case OpKind::Append:
                break;
        }
    }
    tx.commit();

    for (const auto& [key, version] : versions) {
        State::Tracked& t = s.known[key];
        t.version = version;
        if (version == 0) {  // removed: a later load finds nothing
            t.entry = Entry{};
            t.snapshot.reset();
        }
    }
    if (s.options.track_changes()) {
        for (auto& [key, data] : written) {
            State::Tracked& t = s.known[key];
            if (t.entry.object) t.snapshot = std::move(data);
        }
    }
    s.ops.clear();
}

}  // namespace rillflow
