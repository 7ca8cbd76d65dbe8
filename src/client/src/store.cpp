// store.cpp: building a Store, and the store-wide calls (aliases, tenants, the log head).
#include "rillflow/store.hpp"

#include "pool.hpp"
#include "rillflow/errors.hpp"
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

StoreBuilder& StoreBuilder::notice_handler(NoticeHandler handler) {
    notice_handler_ = std::move(handler);
    return *this;
}

StoreBuilder& StoreBuilder::session_defaults(nlohmann::json headers) {
    session_headers_ = std::move(headers);
    return *this;
}

StoreBuilder& StoreBuilder::upcasters(std::shared_ptr<const UpcasterRegistry> registry) {
    upcasters_ = std::move(registry);
    return *this;
}

StoreBuilder& StoreBuilder::session_advisory_locks(bool on) {
    session_advisory_locks_ = on;
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
    if (!session_headers_.is_null() && !session_headers_.is_object()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "session_defaults: the headers must be a JSON object, not " +
                                  std::string(session_headers_.type_name()));
    }
    auto connect = std::make_shared<detail::ConnectOptions>();
    connect->url = url_;
    connect->connect_timeout = connect_timeout_;
    connect->tenant = tenant_;
    connect->notice_handler = notice_handler_;

    detail::PoolConfig config;
    config.connect = std::move(connect);
    config.max_connections = max_connections_;
    config.acquire_timeout = acquire_timeout_;

    auto state = std::make_shared<detail::StoreState>();
    state->pool = std::make_shared<detail::Pool>(std::move(config));
    state->tenant = tenant_;
    state->session_headers = session_headers_;
    state->session_advisory_locks = session_advisory_locks_;
    state->upcasters = upcasters_;
    // Open the first connection now, so a wrong URL fails here and not at the first call.
    state->pool->acquire().release();
    return Store(std::move(state));
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
    auto lease = state_->pool->acquire();
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

std::vector<TenantInfo> Store::list_tenants() const {
    auto lease = state_->pool->acquire();
    Result r = lease->exec(
        "SELECT name, schema_name, (extract(epoch FROM created_at) * 1000000)::bigint "
        "FROM rillflow.list_tenants()");
    std::vector<TenantInfo> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        TenantInfo t;
        t.name = std::string(r.value(i, 0));
        t.schema_name = std::string(r.value(i, 1));
        t.created_at = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::microseconds(detail::to_int64(r.value(i, 2)))));
        out.push_back(std::move(t));
    }
    return out;
}

std::int64_t Store::head_position() const {
    auto lease = state_->pool->acquire();
    Result r = lease->exec("SELECT rillflow.head_position()");
    return detail::to_int64(detail::single(r, "head_position"));
}

std::string Store::current_store() const {
    auto lease = state_->pool->acquire();
    Result r = lease->exec("SELECT rillflow.current_store()");
    return std::string(detail::single(r, "current_store"));
}

const std::optional<std::string>& Store::tenant() const noexcept { return state_->tenant; }

PoolStats Store::pool_stats() const { return state_->pool->stats(); }

}  // namespace rillflow
