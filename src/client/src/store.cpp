// store.cpp: building a Store, and the store-wide calls (aliases, tenants, the log head).
#include "rillflow/store.hpp"

#include <cstdlib>

#include "pool.hpp"
#include "rillflow/errors.hpp"
#include "run.hpp"
#include "trace.hpp"
#include "value.hpp"

namespace rillflow {

StoreBuilder::StoreBuilder(std::string url) : url_(std::move(url)) {}

StoreBuilder& StoreBuilder::max_connections(std::size_t n) {
    max_connections_ = n;
    return *this;
}

StoreBuilder& StoreBuilder::connect_timeout(std::chrono::milliseconds timeout) {
    connect_timeout_ = timeout;
    return *this;
}

StoreBuilder& StoreBuilder::acquire_timeout(std::chrono::milliseconds timeout) {
    acquire_timeout_ = timeout;
    return *this;
}

StoreBuilder& StoreBuilder::tenant(std::string name) {
    tenant_ = std::move(name);
    return *this;
}

StoreBuilder& StoreBuilder::tenant_strategy(TenantStrategy strategy, TenantResolver resolver) {
    strategy_ = strategy;
    resolver_ = std::move(resolver);
    return *this;
}

StoreBuilder& StoreBuilder::create_missing_tenants(bool on) {
    create_missing_tenants_ = on;
    return *this;
}

StoreBuilder& StoreBuilder::notice_handler(NoticeHandler handler) {
    notice_handler_ = std::move(handler);
    return *this;
}

StoreBuilder& StoreBuilder::session_defaults(nlohmann::json headers) {
    session_headers_ = std::move(headers);
    return *this;
}

StoreBuilder& StoreBuilder::session_defaults(SessionDefaults defaults) {
    session_headers_ = std::move(defaults.headers);
    session_causation_id_ = defaults.causation_id;
    session_correlation_id_ = defaults.correlation_id;
    return *this;
}

StoreBuilder& StoreBuilder::tracer(std::shared_ptr<Tracer> tracer) {
    tracer_ = std::move(tracer);
    return *this;
}

StoreBuilder& StoreBuilder::breadcrumbs(bool on, std::size_t capacity) {
    breadcrumbs_ = on ? capacity : 0;
    return *this;
}

StoreBuilder& StoreBuilder::upcasters(std::shared_ptr<const UpcasterRegistry> registry) {
    upcasters_ = std::move(registry);
    return *this;
}

StoreBuilder& StoreBuilder::archive_backend(ArchiveBackend backend) {
    archive_backend_ = backend;
    return *this;
}

StoreBuilder& StoreBuilder::archive_redirect_enabled(bool on) {
    archive_redirect_ = on;
    return *this;
}

StoreBuilder& StoreBuilder::include_archived_by_default(bool on) {
    include_archived_ = on;
    return *this;
}

StoreBuilder& StoreBuilder::session_advisory_locks(bool on) {
    session_advisory_locks_ = on;
    return *this;
}

StoreBuilder& StoreBuilder::read_replicas(std::vector<std::string> urls) {
    replica_urls_ = std::move(urls);
    return *this;
}

StoreBuilder& StoreBuilder::replica_wait(std::chrono::milliseconds wait) {
    replica_wait_ = wait;
    return *this;
}

Store StoreBuilder::build() const {
    if (max_connections_ == 0) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "max_connections must be at least 1");
    }
    if (connect_timeout_.count() <= 0) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "connect_timeout must be positive");
    }
    if (acquire_timeout_.count() <= 0) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "acquire_timeout must be positive");
    }
    if (replica_wait_.count() < 0) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "replica_wait must not be negative");
    }
    for (const std::string& url : replica_urls_) {
        if (url.empty()) {
            throw InvalidArgument(sqlstate::invalid_parameter_value,
                                  "read_replicas: a replica URL must not be empty");
        }
    }
    if (!session_headers_.is_null() && !session_headers_.is_object()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "session_defaults: the headers must be a JSON object, not " +
                                  std::string(session_headers_.type_name()));
    }
    if (strategy_ == TenantStrategy::SchemaPerTenant && tenant_) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "tenant() and TenantStrategy::SchemaPerTenant do not go together",
                              "Under SchemaPerTenant each call's tenant comes from the resolver.",
                              "Use Store::for_tenant() for a Store fixed to one tenant.");
    }
    if (archive_backend_ && strategy_ == TenantStrategy::SchemaPerTenant) {
        throw InvalidArgument(
            sqlstate::invalid_parameter_value,
            "archive_backend() and TenantStrategy::SchemaPerTenant do not go together",
            "The backend is switched once, for the builder's store, at build().",
            "Switch each tenant's store with "
            "Store::for_tenant(t).events().set_archive_backend().");
    }
    auto connect = std::make_shared<detail::ConnectOptions>();
    connect->url = url_;
    connect->connect_timeout = connect_timeout_;
    connect->tenant = tenant_;
    connect->tenant_required = strategy_ == TenantStrategy::SchemaPerTenant;
    connect->notice_handler = notice_handler_;
    if (archive_redirect_)
        connect->settings.emplace_back("rillflow.archive_redirect",
                                       *archive_redirect_ ? "on" : "off");
    if (include_archived_)
        connect->settings.emplace_back("rillflow.include_archived_by_default",
                                       *include_archived_ ? "on" : "off");

    detail::PoolConfig config;
    config.connect = std::move(connect);
    config.max_connections = max_connections_;
    config.acquire_timeout = acquire_timeout_;

    auto state = std::make_shared<detail::StoreState>();
    state->pool = std::make_shared<detail::Pool>(std::move(config));
    state->tenant = tenant_;
    state->strategy = strategy_;
    state->resolver = resolver_;
    state->create_missing_tenants = create_missing_tenants_;
    state->session_headers = session_headers_;
    state->session_causation_id = session_causation_id_;
    state->session_correlation_id = session_correlation_id_;
    state->session_advisory_locks = session_advisory_locks_;
    state->tracer = tracer_ ? *tracer_ : Tracer::from_env();
    std::size_t crumbs = 0;
    if (breadcrumbs_) {
        crumbs = *breadcrumbs_;
    } else if (const char* env = std::getenv("RILLFLOW_BREADCRUMBS");
               env && std::string_view(env) == "1") {
        crumbs = 256;
    }
    if (crumbs > 0) state->breadcrumbs = std::make_shared<detail::BreadcrumbRing>(crumbs);
    // Replicas open their connections on first use: one that is down sends reads to the
    // primary rather than failing the build.
    for (const std::string& url : replica_urls_) {
        auto replica_connect =
            std::make_shared<detail::ConnectOptions>(*state->pool->config().connect);
        replica_connect->url = url;
        detail::PoolConfig replica_config;
        replica_config.connect = std::move(replica_connect);
        replica_config.max_connections = max_connections_;
        replica_config.acquire_timeout = acquire_timeout_;
        state->replicas.push_back(std::make_shared<detail::Pool>(std::move(replica_config)));
    }
    state->replica_wait = replica_wait_;
    state->upcasters = upcasters_;
    // Open the first connection now, so a wrong URL fails here and not at the first call.
    state->pool->acquire().release();
    state->lsn_seen_at = state->log_lsn_seen_at = state->pool->returned_count();
    Store store(std::move(state));
    if (archive_backend_) (void)store.events().set_archive_backend(*archive_backend_);
    return store;
}

StoreBuilder Store::builder(std::string url) { return StoreBuilder(std::move(url)); }

Store Store::connect(std::string url) { return builder(std::move(url)).build(); }

Events Store::events() const { return Events(state_, nullptr); }

Documents Store::docs(std::string collection) const {
    return Documents(state_, nullptr, std::move(collection));
}

Session Store::session(SessionOptions options) const { return Session(state_, std::move(options)); }

Transaction Store::transaction(Isolation isolation) const { return Transaction(state_, isolation); }

Uuid Store::resolve_stream_alias(std::string_view alias) const {
    auto lease = detail::acquire(*state_);
    Result r = lease->exec("SELECT rillflow.resolve_stream_alias($1::text)", {alias});
    return detail::to_uuid(detail::single(r, "resolve_stream_alias"));
}

bool Store::ensure_tenant(std::string_view name) const {
    auto lease = state_->pool->acquire();
    Result r = lease->exec("SELECT rillflow.ensure_tenant($1::text)", {name});
    return detail::single(r, "ensure_tenant") == "t";
}

namespace {
// The level's name in rillflow.grant_tenant / revoke_tenant.
std::string_view access_name(TenantAccess level) {
    switch (level) {
        case TenantAccess::Read:
            return "read";
        case TenantAccess::Write:
            return "write";
        case TenantAccess::Admin:
            return "admin";
    }
    return "read";
}
}  // namespace

// The role is passed by name and quoted on the server, so a name that needs quoting is
// still the role it names (an unknown one is 42704 from regrole's input).
void Store::grant_tenant(std::string_view tenant, std::string_view role, TenantAccess level) const {
    auto lease = state_->pool->acquire();
    lease->exec(
        "SELECT rillflow.grant_tenant($1::text, pg_catalog.quote_ident($2::text)::regrole, "
        "$3::text)",
        {tenant, role, access_name(level)});
}

void Store::revoke_tenant(std::string_view tenant, std::string_view role,
                          TenantAccess level) const {
    auto lease = state_->pool->acquire();
    lease->exec(
        "SELECT rillflow.revoke_tenant($1::text, pg_catalog.quote_ident($2::text)::regrole, "
        "$3::text)",
        {tenant, role, access_name(level)});
}

namespace {

// The columns of list_tenants / tenant_status after the first `skip`, into `t`.
constexpr char kTenantColumns[] =
    "schema_name, (extract(epoch FROM created_at) * 1000000)::bigint, schema_version, drift, "
    "streams, events, documents, projections, size_bytes";

std::optional<std::int64_t> opt_int64(const Result& r, std::size_t row, int col) {
    if (r.is_null(row, col)) return std::nullopt;
    return detail::to_int64(r.value(row, col));
}

void read_tenant(const Result& r, std::size_t row, int col, TenantInfo& t) {
    t.schema_name = std::string(r.value(row, col));
    if (!r.is_null(row, col + 1)) {
        t.created_at = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::microseconds(detail::to_int64(r.value(row, col + 1)))));
    }
    if (!r.is_null(row, col + 2))
        t.schema_version = static_cast<int>(detail::to_int64(r.value(row, col + 2)));
    if (!r.is_null(row, col + 3)) t.drift = r.value(row, col + 3) == "t";
    t.streams = opt_int64(r, row, col + 4);
    t.events = opt_int64(r, row, col + 5);
    t.documents = opt_int64(r, row, col + 6);
    t.projections = opt_int64(r, row, col + 7);
    t.size_bytes = opt_int64(r, row, col + 8);
}

}  // namespace

std::vector<TenantInfo> Store::list_tenants() const {
    auto lease =
        detail::acquire_for_read(*state_, detail::ReadKind::Data, detail::ReadTenant::None);
    Result r = lease->exec(std::string("SELECT name, ") + kTenantColumns +
                           " FROM rillflow.list_tenants()");
    std::vector<TenantInfo> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        TenantInfo t;
        t.name = std::string(r.value(i, 0));
        read_tenant(r, i, 1, t);
        out.push_back(std::move(t));
    }
    return out;
}

TenantStatus Store::tenant_status(std::string_view tenant) const {
    auto lease =
        detail::acquire_for_read(*state_, detail::ReadKind::Data, detail::ReadTenant::None);
    Result r = lease->exec(std::string("SELECT \"exists\", ") + kTenantColumns +
                               " FROM rillflow.tenant_status($1::text)",
                           {tenant});
    TenantStatus s;
    s.name = std::string(tenant);
    if (r.size() != 1) {
        throw SqlError(
            sqlstate::internal_error,
            "rillflow.tenant_status returned " + std::to_string(r.size()) + " rows, expected one");
    }
    s.exists = r.value(0, 0) == "t";
    read_tenant(r, 0, 1, s);
    return s;
}

void Store::drop_tenant(std::string_view tenant, bool force) const {
    auto lease = state_->pool->acquire();
    lease->exec("SELECT rillflow.drop_tenant($1::text, $2::boolean)",
                {tenant, std::string_view(force ? "true" : "false")});
    std::lock_guard<std::mutex> lock(state_->tenants->mutex);
    state_->tenants->known.erase(std::string(tenant));
}

Store Store::for_tenant(std::string tenant) const {
    return Store(detail::with_tenant(state_, std::move(tenant)));
}

TenantStrategy Store::tenant_strategy() const noexcept { return state_->strategy; }

std::int64_t Store::head_position() const {
    auto lease = detail::acquire_for_read(*state_, detail::ReadKind::Log);
    Result r = lease->exec("SELECT rillflow.head_position()");
    return detail::to_int64(detail::single(r, "head_position"));
}

std::string Store::current_store() const {
    auto lease = detail::acquire_for_read(*state_);
    Result r = lease->exec("SELECT rillflow.current_store()");
    return std::string(detail::single(r, "current_store"));
}

std::vector<MaintenanceResult> Store::run_maintenance(int max_batches) const {
    auto lease = state_->pool->acquire();
    Result r = lease->exec(
        "SELECT tenant, projections, events_applied, snapshots, error FROM "
        "rillflow.run_maintenance($1::integer)",
        {max_batches});
    std::vector<MaintenanceResult> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        MaintenanceResult m;
        if (!r.is_null(i, 0)) m.tenant = std::string(r.value(i, 0));
        m.projections = static_cast<int>(detail::to_int64(r.value(i, 1)));
        m.events_applied = detail::to_int64(r.value(i, 2));
        m.snapshots = static_cast<int>(detail::to_int64(r.value(i, 3)));
        if (!r.is_null(i, 4)) m.error = std::string(r.value(i, 4));
        out.push_back(std::move(m));
    }
    return out;
}

const std::optional<std::string>& Store::tenant() const noexcept { return state_->tenant; }

PoolStats Store::pool_stats() const { return state_->pool->stats(); }

ConnectionPool Store::pool() const { return ConnectionPool(state_); }

Breadcrumbs Store::breadcrumbs() const { return Breadcrumbs(state_->breadcrumbs); }

std::shared_ptr<Tracer> Store::tracer() const { return state_->tracer; }

}  // namespace rillflow
