// evolution.cpp: client upcasters, the server's upcaster registry, the SQL behind
// AggregateRepository<T>, and the snapshotter.
#include "rillflow/evolution.hpp"

#include <exception>
#include <regex>

#include "pool.hpp"
#include "value.hpp"

namespace rillflow {

using nlohmann::json;

namespace {

template <typename S>
void check_step(const S& step) {
    if (step.from_type.empty()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value, "an upcaster needs a from_type");
    }
    if (step.from_version < 1 || step.to_version <= step.from_version) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "an upcaster must go from version >= 1 to a higher one, not " +
                                  std::to_string(step.from_version) + " -> " +
                                  std::to_string(step.to_version));
    }
    if (!step.fn) {
        throw InvalidArgument(sqlstate::null_value_not_allowed, "an upcaster needs a function");
    }
}

std::string where(const EventEnvelope& e) {
    std::string s = e.position ? "position " + std::to_string(*e.position) + " (" : "(";
    return s + "stream " + e.stream_id.to_string() + ", version " + std::to_string(e.version) +
           "), type " + e.type + " event_version " + std::to_string(e.event_version);
}

// The step's failure, naming the event and the step; an Error keeps its SQLSTATE.
[[noreturn]] void step_failed(const EventEnvelope& e, const std::string& from_type, int from,
                              const std::string& to_type, int to) {
    const std::string prefix = "could not upcast the event at " + where(e) + ": client upcaster (" +
                               from_type + " v" + std::to_string(from) + " -> " + to_type + " v" +
                               std::to_string(to) + ") failed: ";
    try {
        throw;
    } catch (const Error& err) {
        throw_error(err.sqlstate(), prefix + err.message(), err.detail(), err.hint());
    } catch (const std::exception& err) {
        throw SqlError("22000", prefix + err.what());
    }
}

}  // namespace

UpcasterRegistry& UpcasterRegistry::add(Upcaster step) {
    check_step(step);
    if (step.to_type.empty()) step.to_type = step.from_type;
    auto key = std::make_pair(step.from_type, step.from_version);
    if (steps_.count(key)) {
        throw InvalidArgument("42710", "an upcaster from " + step.from_type + " v" +
                                           std::to_string(step.from_version) + " exists already");
    }
    steps_.emplace(std::move(key), Step(std::move(step)));
    return *this;
}

UpcasterRegistry& UpcasterRegistry::add(AsyncUpcaster step) {
    check_step(step);
    if (step.to_type.empty()) step.to_type = step.from_type;
    auto key = std::make_pair(step.from_type, step.from_version);
    if (steps_.count(key)) {
        throw InvalidArgument("42710", "an upcaster from " + step.from_type + " v" +
                                           std::to_string(step.from_version) + " exists already");
    }
    steps_.emplace(std::move(key), Step(std::move(step)));
    return *this;
}

const UpcasterRegistry::Step* UpcasterRegistry::find(const std::string& type, int version) const {
    auto it = steps_.find(std::make_pair(type, version));
    return it == steps_.end() ? nullptr : &it->second;
}

void UpcasterRegistry::apply(EventEnvelope& event, const Store& store) const {
    std::vector<EventEnvelope> one{std::move(event)};
    apply(one, store);
    event = std::move(one.front());
}

// In rounds: every event's next step is run, the async ones started together and then
// awaited, until no event has a step left (versions go up, so it ends).
void UpcasterRegistry::apply(std::vector<EventEnvelope>& events, const Store& store) const {
    if (steps_.empty()) return;
    for (;;) {
        std::vector<std::pair<std::size_t, std::future<json>>> pending;
        bool any = false;
        for (std::size_t i = 0; i < events.size(); ++i) {
            EventEnvelope& e = events[i];
            const Step* step = find(e.type, e.event_version);
            if (!step) continue;
            any = true;
            if (const auto* sync = std::get_if<Upcaster>(step)) {
                try {
                    e.body = sync->upcast(e.body);
                } catch (...) {
                    step_failed(e, sync->from_type, sync->from_version, sync->to_type,
                                sync->to_version);
                }
                e.type = sync->to_type;
                e.event_version = sync->to_version;
            } else {
                const auto& async = std::get<AsyncUpcaster>(*step);
                try {
                    pending.emplace_back(i, async.upcast(e, store));
                } catch (...) {
                    step_failed(e, async.from_type, async.from_version, async.to_type,
                                async.to_version);
                }
            }
        }
        for (auto& [i, future] : pending) {
            EventEnvelope& e = events[i];
            const auto& async = std::get<AsyncUpcaster>(*find(e.type, e.event_version));
            try {
                e.body = future.get();
            } catch (...) {
                step_failed(e, async.from_type, async.from_version, async.to_type,
                            async.to_version);
            }
            e.type = async.to_type;
            e.event_version = async.to_version;
        }
        if (!any) return;
    }
}

namespace {

std::vector<UpcasterStep> steps(const Result& r, bool with_owner) {
    std::vector<UpcasterStep> out;
    for (std::size_t i = 0; i < r.size(); ++i) {
        UpcasterStep s;
        s.event_type = std::string(r.value(i, 0));
        s.from_version = static_cast<int>(detail::to_int64(r.value(i, 1)));
        s.to_type = std::string(r.value(i, 2));
        s.to_version = static_cast<int>(detail::to_int64(r.value(i, 3)));
        s.fn = std::string(r.value(i, 4));
        if (with_owner) s.owner = std::string(r.value(i, 5));
        out.push_back(std::move(s));
    }
    return out;
}

template <typename F>
auto in_transaction(const Store& store, F&& f) {
    Transaction tx = store.transaction();
    auto out = f(tx);
    tx.commit();
    return out;
}

}  // namespace

bool Upcasters::register_sql(const std::string& event_type, int from_version, int to_version,
                             const std::string& fn,
                             const std::optional<std::string>& to_type) const {
    return in_transaction(store_, [&](Transaction& tx) {
        Result r = tx.exec(
            "SELECT rillflow.register_upcaster($1::text, $2::integer, $3::integer, "
            "$4::regprocedure, $5::text)",
            {event_type, from_version, to_version, fn, to_type});
        return r.value(0, 0) == "t";
    });
}

void Upcasters::drop(const std::string& event_type, int from_version) const {
    in_transaction(store_, [&](Transaction& tx) {
        tx.exec("SELECT rillflow.drop_upcaster($1::text, $2::integer)", {event_type, from_version});
        return 0;
    });
}

std::vector<UpcasterStep> Upcasters::list() const {
    return in_transaction(store_, [&](Transaction& tx) {
        return steps(tx.exec("SELECT event_type, from_version, to_type, to_version, fn::text, "
                             "owner::text FROM rillflow.list_upcasters()"),
                     true);
    });
}

std::vector<UpcasterStep> Upcasters::path(const std::string& from_type, int from_version,
                                          const std::string& to_type, int to_version) const {
    return in_transaction(store_, [&](Transaction& tx) {
        return steps(tx.exec("SELECT event_type, from_version, to_type, to_version, fn::text "
                             "FROM rillflow.upcaster_path($1::text, $2::integer, $3::text, "
                             "$4::integer) ORDER BY step",
                             {from_type, from_version, to_type, to_version}),
                     false);
    });
}

namespace {

AggregateState aggregate_state(const Result& r) {
    AggregateState out;
    const std::string_view state = r.value(0, 0);
    out.state = json::parse(state.begin(), state.end());
    out.version = detail::to_int64(r.value(0, 1));
    return out;
}

json events_array(const std::vector<EventData>& events) {
    json array = json::array();
    for (const EventData& e : events) {
        json item = {{"type", e.type}, {"body", e.body}};
        if (!e.headers.is_null()) item["headers"] = e.headers;
        if (e.event_version != 1) item["event_version"] = e.event_version;
        if (e.event_id) item["event_id"] = e.event_id->to_string();
        array.push_back(std::move(item));
    }
    return array;
}

}  // namespace

AggregateState SqlAggregates::load(const std::string& name, const Uuid& id) const {
    return in_transaction(store_, [&](Transaction& tx) {
        return aggregate_state(tx.exec(
            "SELECT state, version FROM rillflow.aggregate_load($1::text, $2::uuid)", {name, id}));
    });
}

AggregateState SqlAggregates::commit(const std::string& name, const Uuid& id,
                                     const std::vector<EventData>& events, Expected expected,
                                     const std::optional<std::string>& validator) const {
    return in_transaction(store_, [&](Transaction& tx) {
        return aggregate_state(tx.exec(
            "SELECT state, version FROM rillflow.aggregate_commit($1::text, $2::uuid, $3::jsonb, "
            "$4::bigint, $5::regprocedure)",
            {name, id, events_array(events), expected.sql_value(), validator}));
    });
}

int SqlAggregates::run_snapshotter(int threshold, int batch,
                                   const std::optional<std::string>& aggregate) const {
    return in_transaction(store_, [&](Transaction& tx) {
        return static_cast<int>(detail::to_int64(
            tx.exec("SELECT rillflow.run_snapshotter($1::integer, $2::integer, $3::text)",
                    {threshold, batch, aggregate})
                .value(0, 0)));
    });
}

namespace detail {

std::optional<std::pair<std::int64_t, json>> AggregateIo::load_snapshot(Transaction& tx,
                                                                        const Uuid& id,
                                                                        const std::string& name,
                                                                        int state_version) {
    Result r = tx.exec(
        "SELECT version, state FROM rillflow.snapshot_load($1::uuid, $2::text, $3::integer)",
        {id, name, state_version});
    if (r.size() == 0) return std::nullopt;
    const std::string_view state = r.value(0, 1);
    return std::make_pair(to_int64(r.value(0, 0)), json::parse(state.begin(), state.end()));
}

void AggregateIo::save_snapshot(Transaction& tx, const Uuid& id, const std::string& name,
                                std::int64_t version, const json& state, int state_version) {
    tx.exec("SELECT rillflow.snapshot_save($1::uuid, $2::text, $3::bigint, $4::jsonb, $5::integer)",
            {id, name, version, state, state_version});
}

void AggregateIo::track(Transaction& tx, const std::string& name, const Uuid& id) {
    tx.exec("SELECT rillflow.aggregate_track($1::text, $2::uuid)", {name, id});
}

std::vector<EventEnvelope> AggregateIo::read(Transaction& tx, const Store& store, const Uuid& id,
                                             std::int64_t from_version) {
    (void)store;  // tx.events() applies the store's client upcasters
    // an aggregate folds its whole stream, archived or not
    return tx.events().with_archived().read_stream(id, from_version);
}

std::vector<EventEnvelope> AggregateIo::pending(const Uuid& id, std::int64_t base,
                                                const std::vector<EventData>& events) {
    std::vector<EventEnvelope> out;
    out.reserve(events.size());
    std::int64_t version = base;
    for (const EventData& d : events) {
        EventEnvelope e;
        e.stream_id = id;
        e.version = ++version;
        e.type = d.type;
        e.event_version = d.event_version;
        e.body = d.body;
        e.headers = d.headers.is_null() ? json::object() : d.headers;
        if (d.event_id) e.event_id = *d.event_id;
        e.created_at = std::chrono::system_clock::now();
        out.push_back(std::move(e));
    }
    return out;
}

void AggregateIo::conflict(const Uuid& id, const Expected& expected, std::int64_t actual) {
    throw VersionConflict(sqlstate::version_conflict,
                          "version conflict on stream " + id.to_string() + ": expected " +
                              expected.to_string() + ", but it is at " + std::to_string(actual),
                          {}, "Load the aggregate again and retry the command.");
}

void AggregateIo::rejected(const std::string& name, const Uuid& id) {
    throw SqlError("23514",
                   "a validator rejected the new state of aggregate \"" + name + "\" on stream " +
                       id.to_string(),
                   "Nothing was appended.");
}

void AggregateIo::check_expected(const Uuid& id, const Expected& expected, std::int64_t actual) {
    const std::optional<std::int64_t> want = expected.sql_value();
    if (!want) return;
    const bool ok = *want == -1 ? actual > 0 : *want == actual;
    if (!ok) conflict(id, expected, actual);
}

void AggregateIo::check_name(const std::string& name) {
    static const std::regex rule("[A-Za-z][A-Za-z0-9_-]{0,62}");
    if (!std::regex_match(name, rule)) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "invalid aggregate name '" + name.substr(0, 64) + "'", {},
                              "An aggregate name is 1 to 63 characters of letters, digits, _ "
                              "and -, starting with a letter.");
    }
}

std::vector<Uuid> AggregateIo::candidates(Transaction& tx, const std::string& name, int threshold,
                                          int batch, int state_version) {
    Result r = tx.exec(
        "SELECT stream_id FROM rillflow.snapshot_candidates($1::text, $2::integer, $3::integer, "
        "$4::integer)",
        {name, threshold, batch, state_version});
    std::vector<Uuid> out;
    for (std::size_t i = 0; i < r.size(); ++i) out.push_back(to_uuid(r.value(i, 0)));
    return out;
}

}  // namespace detail

SnapshotFolder::~SnapshotFolder() = default;

Snapshotter::Snapshotter(Store store, std::shared_ptr<const SnapshotFolder> folder,
                         SnapshotterConfig config)
    : store_(std::move(store)), folder_(std::move(folder)), config_(config) {
    if (!folder_) {
        throw InvalidArgument(sqlstate::null_value_not_allowed, "a snapshotter needs a folder");
    }
    if (config_.threshold_events < 1 || config_.batch_size < 1) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "threshold_events and batch_size must be at least 1");
    }
    detail::AggregateIo::check_name(folder_->name());
}

int Snapshotter::compact_once() const {
    Transaction tx = store_.transaction();
    const std::vector<Uuid> ids =
        detail::AggregateIo::candidates(tx, folder_->name(), config_.threshold_events,
                                        config_.batch_size, folder_->state_version());
    for (const Uuid& id : ids) {
        auto [state, version] = folder_->fold(tx, id);
        if (version > 0) {
            detail::AggregateIo::save_snapshot(tx, id, folder_->name(), version, state,
                                               folder_->state_version());
        }
    }
    tx.commit();
    return static_cast<int>(ids.size());
}

std::int64_t Snapshotter::run_until_idle() const {
    std::int64_t total = 0;
    for (;;) {
        const int n = compact_once();
        total += n;
        if (n == 0) return total;
    }
}

}  // namespace rillflow
