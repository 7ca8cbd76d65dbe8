// session.cpp: the unit of work. Loads go through the identity map; writes and appends are
// staged and applied by save_changes() in one transaction, in the order they were staged.
#include "rillflow/session.hpp"

#include <map>
#include <set>
#include <tuple>
#include <variant>

#include "pool.hpp"
#include "rillflow/errors.hpp"
#include "trace.hpp"

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

// A staged change, one type per kind; save_changes() applies them in the order staged.
struct DocumentOp {
    Key key;
    std::optional<std::int64_t> expected;  // the explicit expected version
};
struct StoreOp : DocumentOp {
    std::shared_ptr<void> object;
    json (*to_json)(const void*) = nullptr;
};
struct RemoveOp : DocumentOp {};
struct PatchOp : DocumentOp {
    json fields;
};
struct AppendOp {
    Uuid stream;
    Expected expected = Expected::Any();
    std::vector<EventData> events;
    AppendOptions options;
};
using Op = std::variant<StoreOp, RemoveOp, PatchOp, AppendOp>;

// A visitor made of lambdas, one per alternative.
template <typename... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

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
    bool started = false;  // the first operation fixed the tenant
};

Session::Session(std::shared_ptr<detail::StoreState> store, SessionOptions options)
    : state_(std::make_unique<State>()) {
    if (!options.advisory_locks()) options.advisory_locks(store->session_advisory_locks);
    if (!options.headers()) options.headers(store->session_headers);
    if (!options.causation_id() && store->session_causation_id)
        options.causation_id(*store->session_causation_id);
    if (!options.correlation_id() && store->session_correlation_id)
        options.correlation_id(*store->session_correlation_id);
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

void Session::set_tenant(std::string tenant) {
    if (state_->started) {
        throw SqlError("55000", "the session's tenant can be set only before its first operation",
                       "The session has loaded, queried or staged something already, in tenant \"" +
                           state_->options.tenant().value_or("") + "\" (\"\" the default store).",
                       "Set the tenant right after Store::session(), or start a new session.");
    }
    state_->options.tenant(std::move(tenant));
}

const std::optional<std::string>& Session::tenant() const noexcept {
    return state_->options.tenant();
}

// The session's tenant: set, or its store's for this call (a view's, or the resolver's under
// SchemaPerTenant). From here on its transactions run on a view of the store fixed to it, so
// the tenant cache and the connection's setting follow it too.
void Session::begin_use() {
    if (state_->started) return;
    const detail::StoreState& store = *state_->store;
    std::optional<std::string> tenant = state_->options.tenant();
    if (!tenant && (store.strategy == TenantStrategy::SchemaPerTenant || store.fixed_tenant))
        tenant = detail::tenant_for_call(store);
    if (tenant) {
        state_->options.tenant(*tenant);
        state_->store = detail::with_tenant(state_->store, *tenant);
    }
    state_->started = true;
}

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
    begin_use();
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
    begin_use();
    State::Tracked& t = state_->known[Key{collection, id}];
    if (t.entry.object && t.entry.type != type) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "document " + id.to_string() + " in collection \"" + collection +
                                  "\" is already in this session as another C++ type",
                              {}, "Load and store each document as one type per session.");
    }
    t.entry = Entry{object, type, to_json};
    state_->ops.push_back(
        StoreOp{{Key{collection, id}, expected_version}, std::move(object), to_json});
}

void Session::remove(const std::string& collection, const Uuid& id,
                     std::optional<std::int64_t> expected_version) {
    begin_use();
    state_->ops.push_back(RemoveOp{{Key{collection, id}, expected_version}});
}

void Session::patch(const std::string& collection, const Uuid& id, json fields,
                    std::optional<std::int64_t> expected_version) {
    begin_use();
    if (!fields.is_object() || fields.empty()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "Session::patch: fields must be a non-empty JSON object of "
                              "dotted path -> value");
    }
    state_->ops.push_back(PatchOp{{Key{collection, id}, expected_version}, std::move(fields)});
}

void Session::enqueue_events(const Uuid& stream, Expected expected, std::vector<EventData> events,
                             AppendOptions options) {
    begin_use();
    if (events.empty())
        throw InvalidArgument(sqlstate::invalid_parameter_value, "enqueue_events: no events given");
    if (!options.headers.is_null() && !options.headers.is_object()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "enqueue_events: the headers must be a JSON object");
    }
    state_->ops.push_back(AppendOp{stream, expected, std::move(events), std::move(options)});
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
    begin_use();
    State& s = *state_;
    std::vector<Op> ops = s.ops;
    if (s.options.track_changes()) {
        // Every tracked object whose JSON moved from its snapshot, after the staged ops and
        // unless one of them names it (what was staged for it wins).
        std::set<Key> named;
        for (const Op& op : s.ops) {
            std::visit(Overloaded{[&](const DocumentOp& d) { named.insert(d.key); },
                                  [](const AppendOp&) {}},
                       op);
        }
        for (const auto& [key, tracked] : s.known) {
            if (!tracked.entry.object || !tracked.snapshot || named.count(key)) continue;
            if (tracked.entry.to_json(tracked.entry.object.get()) == *tracked.snapshot) continue;
            ops.push_back(
                StoreOp{{key, std::nullopt}, tracked.entry.object, tracked.entry.to_json});
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

    // One span for the save; the appends and writes in it are its children.
    detail::Operation op(*s.store, "session.save", detail::SpanKind::Internal);
    op.count(static_cast<std::int64_t>(ops.size()), "rillflow.operation_count");
    op.ids(s.options.causation_id(), s.options.correlation_id());
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
    // What a document write expects: its own expected version, else the one the session
    // knows. A document known not to exist: a write must create it, a delete expects nothing.
    auto expected_of = [&](const DocumentOp& op, bool creates) -> std::optional<std::int64_t> {
        if (op.expected) return op.expected;
        std::optional<std::int64_t> known = known_version(op.key);
        if (!creates && known == 0) return std::nullopt;
        return known;
    };
    for (const Op& op : ops) {
        std::visit(Overloaded{
                       [&](const AppendOp& a) {
                           AppendOptions options = a.options;
                           options.headers = merge_headers(session_headers, a.options.headers);
                           if (!options.causation_id)
                               options.causation_id = s.options.causation_id();
                           if (!options.correlation_id)
                               options.correlation_id = s.options.correlation_id();
                           tx.events().append_with(a.stream, a.expected, a.events, options);
                       },
                       [&](const StoreOp& o) {
                           const auto expected = expected_of(o, true);
                           json data = o.to_json(o.object.get());
                           versions[o.key] =
                               tx.docs(o.key.collection).put(o.key.id, data, expected);
                           written[o.key] = std::move(data);
                       },
                       [&](const PatchOp& o) {
                           const auto expected = expected_of(o, false);
                           versions[o.key] =
                               tx.docs(o.key.collection).patch_fields(o.key.id, o.fields, expected);
                       },
                       [&](const RemoveOp& o) {
                           // Nothing to delete is no error: the document is gone either way.
                           tx.docs(o.key.collection).remove(o.key.id, expected_of(o, false));
                           versions[o.key] = 0;
                       },
                   },
                   op);
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
