// projection_daemon.cpp: the external projection daemon. Every batch is the SQL runtime's
// protocol seen from outside the database:
//   1. projection_acquire (its own short statement: the lease outlives the batch),
//   2. one transaction: read_all after the checkpoint, each event applied by the C++ handler,
//      cluster_fence (in a cluster), projection_commit - so the read-model writes and the
//      checkpoint commit together or not at all,
//   3. a handler failure rolls that attempt back; the batch runs again with a savepoint per
//      event, the failing event goes to projection_fail, which decides retry or dead letter;
//      RF006 at commit means the lease was lost.
#include "rillflow/projection_daemon.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "pg_conn.hpp"
#include "pool.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"
#include "value.hpp"

namespace rillflow {

ProjectionHandler::~ProjectionHandler() = default;

namespace {

using Clock = std::chrono::steady_clock;

std::string host_name() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

std::string default_owner() { return host_name() + "-" + std::to_string(getpid()); }

// The characters cluster_heartbeat accepts in a node name; others become '-'.
std::string node_name(std::string s) {
    for (char& c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '@' ||
                        c == '-';
        if (!ok) c = '-';
    }
    if (s.size() > 128) s.resize(128);
    return s;
}

class FunctionHandler : public ProjectionHandler {
  public:
    explicit FunctionHandler(ProjectionFunction f) : f_(std::move(f)) {}
    void apply(const EventEnvelope& event, Transaction& tx) override { f_(event, tx); }

  private:
    ProjectionFunction f_;
};

// A dedicated connection that LISTENs on rillflow_events. Waiting never throws: a lost
// connection is reopened at the next wait, and until then the poll interval is the wake-up.
class Listener {
  public:
    explicit Listener(std::string url) : url_(std::move(url)) {}

    // Waits up to `timeout` for a notification; true when one (or more) arrived.
    bool wait(std::chrono::milliseconds timeout) {
        if (!ensure_open()) {
            std::this_thread::sleep_for(timeout);
            return false;
        }
        if (drain()) return true;
        pollfd fd{PQsocket(conn_.get()), POLLIN, 0};
        const int rc = poll(&fd, 1, static_cast<int>(timeout.count()));
        if (rc <= 0) return false;
        if (PQconsumeInput(conn_.get()) == 0) {
            conn_.close();
            return false;
        }
        return drain();
    }

  private:
    bool ensure_open() {
        if (conn_.ok()) return true;
        conn_ = detail::PgConn::open(url_);
        if (!conn_.ok()) {
            conn_.close();
            return false;
        }
        detail::PgResult r(PQexec(conn_.get(), "LISTEN rillflow_events"));
        const bool ok = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
        if (!ok) conn_.close();
        return ok;
    }
    bool drain() {
        bool any = false;
        PQconsumeInput(conn_.get());
        while (PGnotify* n = PQnotifies(conn_.get())) {
            any = true;
            PQfreemem(n);
        }
        return any;
    }

    std::string url_;
    detail::PgConn conn_;
};

std::string prom_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string fmt_double(double v) {
    std::ostringstream os;
    os.precision(6);
    os << std::fixed << v;
    return os.str();
}

}  // namespace

// ---- state ---------------------------------------------------------------------------------

struct ProjectionDaemon::Impl {
    struct Projection {
        std::string name;
        std::shared_ptr<ProjectionHandler> handler;  // null: run_projection in the database
        std::optional<std::int64_t> token;           // the lease token while held
        ProjectionCounters counters;
    };

    Store store;
    std::string url;
    std::string owner;
    std::string hostname = host_name();
    std::chrono::milliseconds lease_ttl{30000};
    std::chrono::milliseconds poll_interval{1000};
    std::function<void(const std::string&)> log;
    std::optional<ClusterOptions> cluster;
    bool all_in_database = false;

    mutable std::mutex mutex;  // guards projections' counters and tokens, cluster_token
    std::map<std::string, Projection> projections;
    std::atomic<bool> hot{true};
    std::int64_t cluster_token = 0;

    explicit Impl(Store s) : store(std::move(s)) {}

    void say(const std::string& line) const {
        if (log)
            log(line);
        else
            std::cerr << "rillflow daemon " << owner << ": " << line << std::endl;
    }

    Projection& find(std::string_view name) {
        auto it = projections.find(std::string(name));
        if (it == projections.end()) {
            throw NotFound("RF004",
                           "projection \"" + std::string(name) + "\" is not run by this daemon", "",
                           "Register a handler for it with register_handler().");
        }
        return it->second;
    }

    // The worker-kind projections of the store, added as they appear (run_in_database("")).
    void discover_worker_projections() {
        if (!all_in_database) return;
        Result r = detail::exec_in_store(
            *store_state(), "SELECT name FROM rillflow.list_projections() WHERE kind = 'worker'",
            {});
        std::lock_guard<std::mutex> guard(mutex);
        for (std::size_t i = 0; i < r.size(); ++i) {
            std::string name(r.value(i, 0));
            if (projections.count(name) != 0) continue;
            Projection p;
            p.name = name;
            p.counters.name = name;
            p.counters.kind = "worker";
            projections.emplace(name, std::move(p));
        }
    }

    std::shared_ptr<detail::StoreState> state;
    detail::StoreState* store_state() const { return state.get(); }

    TickResult tick_in_database(Projection& p);
    TickResult tick_external(Projection& p);
};

// ---- builder --------------------------------------------------------------------------------

ProjectionDaemonBuilder::ProjectionDaemonBuilder(Store store) : store_(std::move(store)) {}

ProjectionDaemonBuilder& ProjectionDaemonBuilder::schema(std::string schema) {
    schema_ = std::move(schema);
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::tenant(std::string tenant) {
    tenant_ = std::move(tenant);
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::batch_size(int n) {
    batch_size_ = n;
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::lease_ttl(std::chrono::milliseconds ttl) {
    lease_ttl_ = ttl;
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::poll_interval(std::chrono::milliseconds i) {
    poll_interval_ = i;
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::owner(std::string owner) {
    owner_ = std::move(owner);
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::logger(
    std::function<void(const std::string&)> log) {
    log_ = std::move(log);
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::cluster(ClusterOptions options) {
    cluster_ = std::move(options);
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::register_handler(
    std::string name, std::shared_ptr<ProjectionHandler> handler,
    std::vector<std::string> event_types) {
    if (!handler)
        throw InvalidArgument("22004", "the handler of projection \"" + name + "\" is null");
    entries_.push_back({std::move(name), std::move(handler), std::move(event_types)});
    return *this;
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::add(std::string name,
                                                      std::shared_ptr<ProjectionHandler> handler,
                                                      std::vector<std::string> event_types) {
    return register_handler(std::move(name), std::move(handler), std::move(event_types));
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::add(std::string name, ProjectionFunction handler,
                                                      std::vector<std::string> event_types) {
    if (!handler)
        throw InvalidArgument("22004", "the handler of projection \"" + name + "\" is empty");
    return register_handler(std::move(name), std::make_shared<FunctionHandler>(std::move(handler)),
                            std::move(event_types));
}
ProjectionDaemonBuilder& ProjectionDaemonBuilder::run_in_database(std::string name) {
    if (name.empty())
        all_in_database_ = true;
    else
        entries_.push_back({std::move(name), nullptr, {}});
    return *this;
}

ProjectionDaemon ProjectionDaemonBuilder::build() const {
    if (batch_size_ < 1 || batch_size_ > 100000)
        throw InvalidArgument(
            "22023", "batch_size must be between 1 and 100000, not " + std::to_string(batch_size_));
    if (lease_ttl_.count() < 100)
        throw InvalidArgument("22023", "lease_ttl must be at least 100 milliseconds");
    if (poll_interval_.count() < 1)
        throw InvalidArgument("22023", "poll_interval must be positive");
    if (cluster_) {
        if (cluster_->heartbeat.count() < 1 || cluster_->heartbeat >= cluster_->lease_ttl)
            throw InvalidArgument("22023",
                                  "the heartbeat interval must be positive and shorter "
                                  "than the cluster lease TTL");
        if (cluster_->min_cold_standbys < 0)
            throw InvalidArgument("22023", "min_cold_standbys must not be negative");
    }
    if (entries_.empty() && !all_in_database_)
        throw InvalidArgument("22023", "the daemon has no projection to run", "",
                              "Add one with register_handler() or run_in_database().");

    const std::string url = ProjectionDaemon::connection_url(store_);
    // A tenant or schema other than the store's: a store of its own on that tenant, so every
    // statement (autocommit ones too) acts on it.
    std::optional<std::string> tenant = tenant_;
    if (schema_) {
        if (*schema_ == "rillflow_default") {
            tenant = std::string();
        } else {
            Result r = detail::exec_in_store(
                *ProjectionDaemon::state_of(store_),
                "SELECT name FROM rillflow.tenants WHERE schema_name = $1::name", {*schema_});
            if (r.empty())
                throw TenantNotFound("RF005",
                                     "no tenant has the store schema \"" + *schema_ + "\"");
            tenant = std::string(r.value(0, 0));
        }
    }
    Store store = store_;
    if (tenant && store_.tenant().value_or("") != *tenant) {
        auto b = Store::builder(url).max_connections(4);
        if (!tenant->empty()) b.tenant(*tenant);
        store = b.build();
    }

    auto impl = std::make_unique<ProjectionDaemon::Impl>(store);
    impl->state = ProjectionDaemon::state_of(store);
    impl->url = url;
    impl->log = log_;
    impl->cluster = cluster_;
    impl->poll_interval = poll_interval_;
    impl->all_in_database = all_in_database_;
    impl->lease_ttl = lease_ttl_;
    if (cluster_) {
        if (impl->cluster->node_id.empty()) impl->cluster->node_id = node_name(default_owner());
        // The projection leases of a node must not outlive its hot lease by much, or a node
        // taking over waits for them: unless set, they last as long as the hot lease.
        if (lease_ttl_ == std::chrono::milliseconds(30000)) impl->lease_ttl = cluster_->lease_ttl;
        impl->hot = false;
    }
    impl->owner = !owner_.empty() ? owner_ : cluster_ ? impl->cluster->node_id : default_owner();

    Projections admin = store.projections();
    for (const Entry& e : entries_) {
        if (impl->projections.count(e.name) != 0)
            throw InvalidArgument("22023", "projection \"" + e.name + "\" is registered twice");
        if (e.handler) {
            ExternalProjectionOptions options;
            options.event_types = e.event_types;
            options.batch_size = batch_size_;
            admin.create_external(e.name, options);
        } else {
            admin.status(e.name);  // must exist (RF004 otherwise)
        }
        ProjectionDaemon::Impl::Projection p;
        p.name = e.name;
        p.handler = e.handler;
        p.counters.name = e.name;
        p.counters.kind = e.handler ? "external" : "worker";
        impl->projections.emplace(e.name, std::move(p));
    }
    return ProjectionDaemon(std::move(impl));
}

// ---- the daemon -----------------------------------------------------------------------------

ProjectionDaemonBuilder ProjectionDaemon::builder(Store store) {
    return ProjectionDaemonBuilder(std::move(store));
}

ProjectionDaemon::ProjectionDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProjectionDaemon::ProjectionDaemon(ProjectionDaemon&&) noexcept = default;
ProjectionDaemon& ProjectionDaemon::operator=(ProjectionDaemon&&) noexcept = default;
ProjectionDaemon::~ProjectionDaemon() = default;

std::string ProjectionDaemon::connection_url(const Store& store) {
    return store.state_->pool->config().connect->url;
}
std::shared_ptr<detail::StoreState> ProjectionDaemon::state_of(const Store& store) {
    return store.state_;
}

const std::string& ProjectionDaemon::owner() const noexcept { return impl_->owner; }
const std::optional<ClusterOptions>& ProjectionDaemon::cluster() const noexcept {
    return impl_->cluster;
}
const Store& ProjectionDaemon::store() const noexcept { return impl_->store; }
bool ProjectionDaemon::is_hot() const noexcept { return impl_->hot.load(); }

std::vector<std::string> ProjectionDaemon::names() const {
    std::lock_guard<std::mutex> guard(impl_->mutex);
    std::vector<std::string> out;
    for (const auto& [name, p] : impl_->projections) out.push_back(name);
    return out;
}

std::vector<ProjectionCounters> ProjectionDaemon::stats() const {
    std::lock_guard<std::mutex> guard(impl_->mutex);
    std::vector<ProjectionCounters> out;
    for (const auto& [name, p] : impl_->projections) out.push_back(p.counters);
    return out;
}

TickResult ProjectionDaemon::tick_once(std::string_view name) {
    Impl::Projection* p = nullptr;
    {
        std::lock_guard<std::mutex> guard(impl_->mutex);
        p = &impl_->find(name);
    }
    if (!impl_->hot.load()) return {};
    const auto started = Clock::now();
    TickResult result = p->handler ? impl_->tick_external(*p) : impl_->tick_in_database(*p);
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

// A worker-kind projection: the SQL runtime does the whole batch in one statement.
TickResult ProjectionDaemon::Impl::tick_in_database(Projection& p) {
    TickResult result;
    Result r =
        detail::exec_in_store(*state, "SELECT rillflow.run_projection($1::text, 1)", {p.name});
    result.applied = detail::to_int64(detail::single(r, "run_projection"));
    result.leased = result.applied > 0;
    if (result.leased) {
        Result s = detail::exec_in_store(
            *state, "SELECT checkpoint FROM rillflow.projection_status($1::text)", {p.name});
        if (!s.empty()) result.checkpoint = detail::to_int64(s.value(0, 0));
    }
    return result;
}

TickResult ProjectionDaemon::Impl::tick_external(Projection& p) {
    TickResult result;
    // 1. The lease, in its own statement: it lasts across batches until it expires. The
    //    statement also sequences what was appended since the last tick (with no
    //    background worker, nobody else would before the read below).
    Result lease =
        detail::exec_in_store(*state,
                              "SELECT token, checkpoint, batch_size, to_json(event_types) "
                              "FROM rillflow.projection_acquire($1::text, $2::text, $3::interval)",
                              {p.name, owner, detail::interval_text(lease_ttl)});
    if (lease.empty()) {
        std::lock_guard<std::mutex> guard(mutex);
        p.token.reset();
        return result;  // another owner holds it, it is paused, or a retry is not due
    }
    const std::int64_t token = detail::to_int64(lease.value(0, 0));
    const std::int64_t checkpoint = detail::to_int64(lease.value(0, 1));
    const int batch = static_cast<int>(detail::to_int64(lease.value(0, 2)));
    std::vector<std::string> types;
    if (!lease.is_null(0, 3)) {
        const std::string_view text = lease.value(0, 3);
        for (const auto& t : nlohmann::json::parse(text.begin(), text.end()))
            types.push_back(t.get<std::string>());
    }
    {
        std::lock_guard<std::mutex> guard(mutex);
        p.token = token;
    }
    result.checkpoint = checkpoint;

    // 2. The batch: events, read-model writes, fence and checkpoint in one transaction.
    //    First without savepoints (one statement per event for a one-statement handler);
    //    only when a handler fails is that attempt rolled back and the batch run again with
    //    a savepoint per event, which keeps the events before the failing one and charges
    //    the failing one alone. A savepoint per event always would cost two more round
    //    trips per event.
    struct Failure {
        std::int64_t position;
        std::string sqlstate, message, detail, context;
    };
    std::optional<Failure> failure;
    std::int64_t last = checkpoint;
    std::int64_t applied = 0;
    std::optional<Transaction> txo;
    for (bool careful : {false, true}) {
        txo.emplace(store.transaction());
        Transaction& tx = *txo;
        std::vector<EventEnvelope> events = tx.events().read_all(checkpoint, batch, types);
        if (events.empty()) return result;
        result.leased = true;
        last = checkpoint;
        applied = 0;
        bool retry_carefully = false;
        for (const EventEnvelope& e : events) {
            std::optional<Savepoint> savepoint;
            if (careful) savepoint.emplace(tx.savepoint());
            try {
                p.handler->apply(e, tx);
                if (savepoint) savepoint->release();
                last = *e.position;
                ++applied;
            } catch (const std::exception& ex) {
                if (!careful) {
                    retry_carefully = true;
                    break;
                }
                Failure f;
                f.position = *e.position;
                if (const auto* err = dynamic_cast<const Error*>(&ex)) {
                    f.sqlstate = err->sqlstate();
                    f.message = err->message();
                    f.detail = err->detail();
                } else {
                    f.sqlstate = "XX000";  // not an SQL error: the C++ handler threw
                    f.message = ex.what();
                }
                f.context = "C++ handler of external projection " + p.name +
                            ", event at position " + std::to_string(f.position) + " (" + e.type +
                            ") on " + owner;
                savepoint->rollback();
                failure = std::move(f);
                break;
            }
        }
        if (!retry_carefully) break;
        tx.rollback();
    }
    Transaction& tx = *txo;
    try {
        if (cluster) {
            std::int64_t ctoken = 0;
            {
                std::lock_guard<std::mutex> guard(mutex);
                ctoken = cluster_token;
            }
            try {
                tx.exec("SELECT rillflow.cluster_fence($1::text, $2::text, $3::bigint)",
                        {cluster->name, cluster->node_id, ctoken});
            } catch (const LeaseLost& e) {
                // No longer the hot node: the projection lease is still this node's, to be
                // released (release_leases) so the new hot node need not wait for it.
                if (tx.active()) tx.rollback();
                hot = false;
                say("projection " + p.name +
                    ": not the hot node any more, batch rolled back: " + e.message());
                result.lease_lost = true;
                result.applied = 0;
                return result;
            }
        }
        tx.exec("SELECT rillflow.projection_commit($1::text, $2::bigint, $3::bigint, $4::integer)",
                {p.name, token, last, applied});
        if (failure) {
            Result r = tx.exec(
                "SELECT rillflow.projection_fail($1::text, $2::bigint, $3::bigint, $4::text, "
                "$5::text, $6::text, $7::text)",
                {p.name, token, failure->position, failure->sqlstate, failure->message,
                 failure->detail.empty() ? Param::null() : Param(failure->detail),
                 failure->context});
            result.failure = std::string(detail::single(r, "projection_fail"));
            if (*result.failure == "dead_lettered") last = failure->position;
            say("projection " + p.name + ": event at position " +
                std::to_string(failure->position) + " failed (" + failure->sqlstate + ": " +
                failure->message + "): " + *result.failure);
        }
        tx.commit();
    } catch (const LeaseLost& e) {
        if (tx.active()) tx.rollback();
        say("projection " + p.name + ": lease lost, batch rolled back: " + e.message());
        std::lock_guard<std::mutex> guard(mutex);
        p.token.reset();
        result.lease_lost = true;
        result.applied = 0;
        result.checkpoint = checkpoint;
        return result;
    }
    result.applied = applied;
    result.checkpoint = last;
    return result;
}

std::int64_t ProjectionDaemon::run_until_idle() {
    std::int64_t total = 0;
    for (;;) {
        impl_->discover_worker_projections();
        bool progress = false;
        for (const std::string& name : names()) {
            if (!impl_->hot.load()) return total;
            TickResult r = tick_once(name);
            total += r.applied;
            if (r.applied > 0 || (r.failure && *r.failure == "dead_lettered")) progress = true;
        }
        if (!progress) return total;
    }
}

bool ProjectionDaemon::heartbeat_once() {
    if (!impl_->cluster) return true;
    const ClusterOptions& c = *impl_->cluster;
    try {
        Result r = detail::exec_in_store(
            *impl_->state, detail::kClusterHeartbeat,
            {c.name, c.node_id, detail::interval_text(c.lease_ttl),
             detail::interval_text(c.lease_grace), impl_->hostname, static_cast<int>(getpid())});
        Heartbeat h = detail::heartbeat(r);
        {
            std::lock_guard<std::mutex> guard(impl_->mutex);
            impl_->cluster_token = h.token;
        }
        const bool was = impl_->hot.exchange(h.hot);
        if (was != h.hot)
            impl_->say(h.hot ? "hot (token " + std::to_string(h.token) + ")"
                             : "cold (hot node: " + h.hot_node.value_or("none") + ")");
        return h.hot;
    } catch (const Error& e) {
        // Without a heartbeat the node cannot know it still holds the lease: it stops ticking.
        if (impl_->hot.exchange(false)) impl_->say("cold: heartbeat failed: " + e.message());
        return false;
    }
}

void ProjectionDaemon::release_leases() {
    std::vector<std::pair<std::string, std::int64_t>> held;
    {
        std::lock_guard<std::mutex> guard(impl_->mutex);
        for (auto& [name, p] : impl_->projections) {
            if (p.token) held.emplace_back(name, *p.token);
            p.token.reset();
        }
    }
    for (const auto& [name, token] : held) {
        try {
            detail::exec_in_store(*impl_->state,
                                  "SELECT rillflow.projection_release($1::text, $2::bigint)",
                                  {name, token});
        } catch (const Error& e) {
            impl_->say("projection " + name + ": release failed: " + e.message());
        }
    }
}

void ProjectionDaemon::run_loop(std::atomic<bool>& stop) {
    std::mutex m;
    std::condition_variable cv;
    std::atomic<bool> hb_stop{false};
    std::thread heartbeats;
    if (impl_->cluster) {
        heartbeat_once();
        heartbeats = std::thread([&] {
            const auto every = impl_->cluster->heartbeat;
            std::unique_lock<std::mutex> lock(m);
            while (!hb_stop.load()) {
                if (cv.wait_for(lock, every, [&] { return hb_stop.load(); })) break;
                lock.unlock();
                heartbeat_once();
                lock.lock();
            }
        });
    }

    Listener listener(impl_->url);
    const auto slice = std::min(impl_->poll_interval, std::chrono::milliseconds(200));
    auto next_poll = Clock::now();
    bool was_hot = false;
    while (!stop.load()) {
        const bool hot = impl_->hot.load();
        if (!hot && was_hot) release_leases();  // lost the hot role: hand the leases over
        const bool became_hot = hot && !was_hot;
        was_hot = hot;
        const bool notified = listener.wait(slice);
        if (!hot) continue;
        if (notified || became_hot || Clock::now() >= next_poll) {
            try {
                run_until_idle();
            } catch (const ConnectionError& e) {
                impl_->say("tick failed, retrying at the next poll: " + e.message());
            } catch (const Error& e) {
                impl_->say("tick failed: " + std::string(e.what()));
            }
            next_poll = Clock::now() + impl_->poll_interval;
        }
    }

    if (heartbeats.joinable()) {
        hb_stop = true;
        cv.notify_all();
        heartbeats.join();
    }
    release_leases();
    if (impl_->cluster) {
        try {
            impl_->store.projections().cluster_leave(impl_->cluster->name, impl_->cluster->node_id);
        } catch (const Error& e) {
            impl_->say("leaving the cluster failed: " + e.message());
        }
    }
}

// ---- health and metrics ---------------------------------------------------------------------

nlohmann::json ProjectionDaemon::health_json() const {
    nlohmann::json doc;
    doc["node"] = impl_->owner;
    doc["hostname"] = impl_->hostname;
    doc["pid"] = static_cast<int>(getpid());
    doc["hot"] = is_hot();
    bool healthy = true;
    Projections admin = impl_->store.projections();
    nlohmann::json projections = nlohmann::json::array();
    for (const ProjectionCounters& c : stats()) {
        nlohmann::json p = {{"name", c.name},
                            {"kind", c.kind},
                            {"events_applied", c.events_applied},
                            {"batches", c.batches},
                            {"failures", c.failures},
                            {"dead_lettered", c.dead_lettered},
                            {"lease_lost", c.lease_lost},
                            {"last_tick_seconds", c.last_tick_seconds}};
        try {
            ProjectionStatus s = admin.status(c.name);
            p["status"] = s.status;
            p["checkpoint"] = s.checkpoint;
            p["head"] = s.head;
            p["lag"] = s.lag;
            p["lease_owner"] = s.lease_owner ? nlohmann::json(*s.lease_owner) : nlohmann::json();
            p["dlq_size"] = admin.metrics(c.name).value("dlq_size", std::int64_t{0});
            if (s.status == "failed") healthy = false;
        } catch (const Error& e) {
            p["error"] = e.what();
            healthy = false;
        }
        projections.push_back(std::move(p));
    }
    doc["projections"] = std::move(projections);
    if (impl_->cluster) {
        const ClusterOptions& c = *impl_->cluster;
        nlohmann::json cl = {{"name", c.name},
                             {"min_cold_standbys", c.min_cold_standbys},
                             {"heartbeat_seconds", c.heartbeat.count() / 1000.0},
                             {"lease_ttl_seconds", c.lease_ttl.count() / 1000.0},
                             {"lease_grace_seconds", c.lease_grace.count() / 1000.0}};
        int standbys = 0;
        int hot_nodes = 0;
        nlohmann::json nodes = nlohmann::json::array();
        try {
            for (const ClusterNode& n : admin.cluster_status(c.name)) {
                if (n.role == "hot") ++hot_nodes;
                if (n.role == "cold" && n.alive) ++standbys;
                nodes.push_back({{"node", n.node},
                                 {"role", n.role},
                                 {"alive", n.alive},
                                 {"hostname", n.hostname ? nlohmann::json(*n.hostname) : nullptr},
                                 {"pid", n.pid ? nlohmann::json(*n.pid) : nullptr},
                                 {"heartbeat_age_seconds", n.heartbeat_age_seconds},
                                 {"lease_seconds",
                                  n.lease_seconds ? nlohmann::json(*n.lease_seconds) : nullptr},
                                 {"token", n.token ? nlohmann::json(*n.token) : nullptr}});
            }
        } catch (const Error& e) {
            cl["error"] = e.what();
        }
        cl["nodes"] = std::move(nodes);
        cl["standby_nodes"] = standbys;
        cl["healthy"] = hot_nodes == 1 && standbys >= c.min_cold_standbys;
        healthy = healthy && cl["healthy"].get<bool>();
        doc["cluster"] = std::move(cl);
    }
    doc["healthy"] = healthy;
    return doc;
}

std::string ProjectionDaemon::prometheus_metrics() const {
    const nlohmann::json h = health_json();
    std::ostringstream out;
    auto family = [&](const char* name, const char* type, const char* help) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    };
    auto per_projection = [&](const char* name, const char* type, const char* help,
                              const char* key) {
        family(name, type, help);
        for (const auto& p : h["projections"]) {
            if (!p.contains(key) || !p[key].is_number()) continue;
            out << name << "{projection=\"" << prom_escape(p["name"].get<std::string>())
                << "\",kind=\"" << prom_escape(p["kind"].get<std::string>()) << "\"} "
                << (p[key].is_number_float() ? fmt_double(p[key].get<double>())
                                             : std::to_string(p[key].get<std::int64_t>()))
                << '\n';
        }
    };
    per_projection("rillflow_projection_events_processed_total", "counter",
                   "Events this daemon applied and committed.", "events_applied");
    per_projection("rillflow_projection_batches_total", "counter", "Batches this daemon ran.",
                   "batches");
    per_projection("rillflow_projection_failures_total", "counter",
                   "Events whose handler failed in this daemon.", "failures");
    per_projection("rillflow_projection_lease_lost_total", "counter",
                   "Batches rolled back because the lease was lost (RF006).", "lease_lost");
    per_projection("rillflow_projection_lag", "gauge", "Events between checkpoint and head.",
                   "lag");
    per_projection("rillflow_projection_checkpoint", "gauge", "The last position applied.",
                   "checkpoint");
    per_projection("rillflow_projection_dlq_size", "gauge", "Events in the dead-letter queue.",
                   "dlq_size");
    per_projection("rillflow_projection_tick_duration_seconds", "gauge",
                   "Duration of the last tick.", "last_tick_seconds");

    const std::string node = prom_escape(h["node"].get<std::string>());
    family("daemon_node_hot", "gauge", "1 when this node is the hot one (ticks projections).");
    out << "daemon_node_hot{node=\"" << node << "\"} " << (h["hot"].get<bool>() ? 1 : 0) << '\n';
    if (h.contains("cluster")) {
        const auto& cl = h["cluster"];
        const std::string cname = prom_escape(cl["name"].get<std::string>());
        family("daemon_cluster_healthy", "gauge",
               "1 when the cluster has one hot node and enough cold standbys.");
        out << "daemon_cluster_healthy{cluster=\"" << cname << "\"} "
            << (cl["healthy"].get<bool>() ? 1 : 0) << '\n';
        family("daemon_cluster_standby_nodes", "gauge", "Alive cold nodes.");
        out << "daemon_cluster_standby_nodes{cluster=\"" << cname << "\"} "
            << cl["standby_nodes"].get<int>() << '\n';
        family("daemon_cluster_required_standbys", "gauge", "min_cold_standbys.");
        out << "daemon_cluster_required_standbys{cluster=\"" << cname << "\"} "
            << cl["min_cold_standbys"].get<int>() << '\n';
        family("daemon_node_heartbeat_age_seconds", "gauge",
               "Seconds since each node's last heartbeat.");
        for (const auto& n : cl["nodes"])
            out << "daemon_node_heartbeat_age_seconds{cluster=\"" << cname << "\",node=\""
                << prom_escape(n["node"].get<std::string>()) << "\",role=\""
                << n["role"].get<std::string>() << "\"} "
                << fmt_double(n["heartbeat_age_seconds"].get<double>()) << '\n';
        family("daemon_node_lease_seconds", "gauge",
               "Seconds until the hot node's lease expires (negative: expired).");
        for (const auto& n : cl["nodes"]) {
            if (n["lease_seconds"].is_null()) continue;
            out << "daemon_node_lease_seconds{cluster=\"" << cname << "\",node=\""
                << prom_escape(n["node"].get<std::string>()) << "\"} "
                << fmt_double(n["lease_seconds"].get<double>()) << '\n';
        }
    }
    return out.str();
}

}  // namespace rillflow
