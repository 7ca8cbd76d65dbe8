// rillflow/store.hpp: the entry point. A Store owns a pool of connections to one database
// and acts on one rillflow store (the default one, or a tenant's).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/breadcrumbs.hpp"
#include "rillflow/connection_pool.hpp"
#include "rillflow/documents.hpp"
#include "rillflow/events.hpp"
#include "rillflow/export.hpp"
#include "rillflow/projections.hpp"
#include "rillflow/schema.hpp"
#include "rillflow/session.hpp"
#include "rillflow/subscriptions.hpp"
#include "rillflow/tracing.hpp"
#include "rillflow/transaction.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
}

class Store;
class UpcasterRegistry;

/// @brief Receives the server's notices and warnings (the text, without a trailing newline).
/// Called on the thread that ran the statement.
using NoticeHandler = std::function<void(const std::string& notice)>;

/// @brief A tenant, the schema that holds its store, and what the store holds
/// (rillflow.list_tenants / rillflow.tenant_status).
struct TenantInfo {
    /// @brief The tenant's name, as given to ensure_tenant().
    std::string name;
    /// @brief The schema of its store (e.g. "rillflow_tenant_acme").
    std::string schema_name;
    /// @brief When its store was created.
    std::chrono::system_clock::time_point created_at{};
    /// @brief The version of the store's tables; empty when its schema is gone.
    std::optional<int> schema_version;
    /// @brief Whether the store's catalog differs from the shape of its version.
    std::optional<bool> drift;
    /// @brief Streams, events, documents (every row of every collection) and projections in
    /// the store; each empty when this role may not read what it counts.
    std::optional<std::int64_t> streams, events, documents, projections;
    /// @brief The store's tables, indexes and sequences on disk, in bytes.
    std::optional<std::int64_t> size_bytes;
};

/// @brief One tenant's status (Store::tenant_status): TenantInfo, and whether it exists at
/// all (when not, only name and schema_name are set).
struct TenantStatus : TenantInfo {
    /// @brief Whether the tenant exists.
    bool exists = false;
};

/// @brief How a Store picks the tenant each call acts on.
enum class TenantStrategy {
    /// @brief One store for every call: the builder's tenant(), or the default store.
    Single,
    /// @brief A store per tenant: each call acts on the tenant its resolver gives (or its
    /// view's, Store::for_tenant(), or its session's); a call with no tenant is
    /// TenantNotFound ("tenant required"), never the default store.
    SchemaPerTenant,
};

/// @brief The tenant of the current request (read, say, from a thread-local request context);
/// "" when there is none. Called once per call on the store, on the calling thread.
using TenantResolver = std::function<std::string()>;

/// @brief A role's access level on a tenant's store (docs/security.md): each level includes
/// the ones before it.
enum class TenantAccess {
    /// @brief Read the log, documents and registries.
    Read,
    /// @brief Also append events and write documents in existing collections.
    Write,
    /// @brief Also manage collections, duplicated fields, queries, projections and daemons.
    Admin,
};

/// @brief What rillflow.run_maintenance() did in one store (Store::run_maintenance()).
struct MaintenanceResult {
    /// @brief The store's tenant; std::nullopt for the default store.
    std::optional<std::string> tenant;
    /// @brief How many projections ran there.
    int projections = 0;
    /// @brief Events they applied.
    std::int64_t events_applied = 0;
    /// @brief Streams the snapshotter snapshotted (rillflow.snapshot_threshold > 0).
    int snapshots = 0;
    /// @brief "SQLSTATE: message" when the store's maintenance failed (the others went on).
    std::optional<std::string> error;
};

/// @brief A snapshot of a store's connection pool.
struct PoolStats {
    /// @brief The most connections the pool opens.
    std::size_t max_connections = 0;
    /// @brief Connections open now (idle + borrowed + being opened).
    std::size_t open = 0;
    /// @brief Open connections waiting in the pool.
    std::size_t idle = 0;
};

/// @brief What every Session of a Store applies to each append it enqueues, unless the
/// session's options or the append say otherwise (StoreBuilder::session_defaults()).
// NOLINTNEXTLINE(bugprone-exception-escape): reported through nlohmann::json's noexcept moves
struct SessionDefaults {
    /// @brief A JSON object merged into every append's headers (the append's own keys win).
    nlohmann::json headers{};
    /// @brief The causation id of every append that has none.
    std::optional<Uuid> causation_id{};
    /// @brief The correlation id of every append that has none.
    std::optional<Uuid> correlation_id{};
};

/// @brief Configures and builds a Store: `Store::builder(url).max_connections(8).build()`.
class RILLFLOW_EXPORT StoreBuilder {
  public:
    /// @brief A builder for the database at `url` (a libpq URI or `key=value` string).
    explicit StoreBuilder(std::string url);

    /// @brief The most connections the pool opens (default 10, at least 1).
    StoreBuilder& max_connections(std::size_t n);
    /// @brief How long opening one connection may take (default 10 s).
    StoreBuilder& connect_timeout(std::chrono::milliseconds timeout);
    /// @brief How long a call waits for a free connection when all are in use (default 30 s).
    StoreBuilder& acquire_timeout(std::chrono::milliseconds timeout);
    /// @brief Act on this tenant's store (`rillflow.tenant`, set on every new connection);
    /// the default store when not called.
    StoreBuilder& tenant(std::string name);
    /// @brief How calls pick their tenant (default Single). SchemaPerTenant takes the tenant
    /// from `resolver` at each call (a Session at its first operation, a Transaction when it
    /// begins), sets `rillflow.tenant_required` on every connection, and creates a new
    /// tenant's store on its first use when create_missing_tenants() and the role may
    /// (EXECUTE on rillflow.ensure_tenant); tenants known to exist are cached.
    StoreBuilder& tenant_strategy(TenantStrategy strategy, TenantResolver resolver = {});
    /// @brief SchemaPerTenant: create a tenant's store on its first use when the role may
    /// (default true); off, or when the role may not, an unknown tenant is TenantNotFound.
    StoreBuilder& create_missing_tenants(bool on);
    /// @brief Where server notices go (default: dropped).
    StoreBuilder& notice_handler(NoticeHandler handler);
    /// @brief Headers (a JSON object) merged into every append a Session enqueues; the
    /// append's own headers win. SessionOptions::headers() replaces them for one session.
    StoreBuilder& session_defaults(nlohmann::json headers);
    /// @brief Headers, causation and correlation ids applied to every append a Session
    /// enqueues (SessionOptions' own win, and an append's own over both).
    StoreBuilder& session_defaults(SessionDefaults defaults);
    /// @brief The span exporter of this Store's calls (tracing.hpp); nullptr: no spans. Not
    /// called: the process's tracer from the OTEL_* environment (Tracer::from_env()).
    StoreBuilder& tracer(std::shared_ptr<Tracer> tracer);
    /// @brief Keep the last `capacity` operations as breadcrumbs (Store::breadcrumbs());
    /// default off, or on when RILLFLOW_BREADCRUMBS=1.
    StoreBuilder& breadcrumbs(bool on, std::size_t capacity = 256);
    /// @brief Sessions' appends take per-stream advisory locks (SET LOCAL
    /// rillflow.stream_advisory_locks in save_changes()); default off.
    StoreBuilder& session_advisory_locks(bool on);
    /// @brief Client-side upcasters (evolution.hpp), applied after the server's chains on
    /// every read of events through this store.
    StoreBuilder& upcasters(std::shared_ptr<const UpcasterRegistry> registry);

    /// @brief Read replicas (hot standbys of the database, libpq URIs or `key=value` strings):
    /// reads outside a transaction (events' reads, documents' gets, queries and counts,
    /// projections' status, the log head, tenants) go to them in turn, with a pool of their
    /// own each (max_connections each); writes and transactions go to the primary. A Store
    /// reads its own writes: after it wrote, a read waits (up to replica_wait()) until the
    /// replica has replayed the primary's WAL position, else runs on the primary, as it does
    /// when a replica cannot be reached. See docs/scaling.md.
    StoreBuilder& read_replicas(std::vector<std::string> urls);
    /// @brief How long a read waits for a replica to replay this Store's writes before it
    /// reads from the primary (default 1 s; 0: never wait).
    StoreBuilder& replica_wait(std::chrono::milliseconds wait);

    /// @brief Switches the store to this archive backend at build() (set_archive_backend:
    /// only the store's owner may; the default store stays on DualTable). Not called: the
    /// store keeps the backend it has.
    StoreBuilder& archive_backend(ArchiveBackend backend);
    /// @brief `rillflow.archive_redirect` on every connection: on (the server's default),
    /// an append to an archived stream reactivates it; off, it throws StreamArchived.
    StoreBuilder& archive_redirect_enabled(bool on);
    /// @brief `rillflow.include_archived_by_default` on every connection: whether reads
    /// without Events::with_archived() include archived events (the server's default: off).
    StoreBuilder& include_archived_by_default(bool on);

    /// @brief Builds the store and opens its first connection.
    /// @throws ConnectionError when the database cannot be reached; InvalidArgument for a
    /// bad setting.
    [[nodiscard]] Store build() const;

  private:
    std::string url_;
    std::size_t max_connections_ = 10;
    std::chrono::milliseconds connect_timeout_{10000};
    std::chrono::milliseconds acquire_timeout_{30000};
    std::optional<std::string> tenant_;
    TenantStrategy strategy_ = TenantStrategy::Single;
    TenantResolver resolver_;
    bool create_missing_tenants_ = true;
    NoticeHandler notice_handler_;
    nlohmann::json session_headers_;
    std::optional<Uuid> session_causation_id_, session_correlation_id_;
    bool session_advisory_locks_ = false;
    std::optional<std::shared_ptr<Tracer>> tracer_;
    std::optional<std::size_t> breadcrumbs_;  // 0: off
    std::vector<std::string> replica_urls_;
    std::chrono::milliseconds replica_wait_{1000};
    std::shared_ptr<const UpcasterRegistry> upcasters_;
    std::optional<ArchiveBackend> archive_backend_;
    std::optional<bool> archive_redirect_;
    std::optional<bool> include_archived_;
};

/// @brief A rillflow store seen through a pool of connections. Cheap to copy (copies share
/// the pool) and safe to use from many threads.
class RILLFLOW_EXPORT Store {
  public:
    /// @brief Starts configuring a store for the database at `url`.
    [[nodiscard]] static StoreBuilder builder(std::string url);
    /// @brief `builder(url).build()`.
    [[nodiscard]] static Store connect(std::string url);

    /// @brief The event API; each call borrows a pooled connection.
    [[nodiscard]] Events events() const;
    /// @brief The document API on `collection` (default "docs"); each call borrows a pooled
    /// connection.
    [[nodiscard]] Documents docs(std::string collection = std::string(kDefaultCollection)) const;
    /// @brief A unit of work over documents and events (see session.hpp); options not set
    /// take this store's session defaults.
    [[nodiscard]] Session session(SessionOptions options = SessionOptions()) const;
    /// @brief Begins a transaction on a pooled connection it keeps until it ends.
    [[nodiscard]] Transaction transaction(Isolation isolation = Isolation::ReadCommitted) const;

    /// @brief The stream id of a human-readable alias (e.g. "order-42"), created on first use;
    /// concurrent first calls get the same id.
    Uuid resolve_stream_alias(std::string_view alias) const;
    /// @brief Creates the tenant's store unless it exists. @return true when this call created it.
    /// Needs EXECUTE on `rillflow.ensure_tenant`, which the extension's owner grants (SqlError
    /// with SQLSTATE 42501 otherwise); creating a tenant gives no access to it (grant_tenant()).
    bool ensure_tenant(std::string_view name) const;
    /// @brief The tenants that exist, by name, with what each store holds.
    [[nodiscard]] std::vector<TenantInfo> list_tenants() const;
    /// @brief Whether `tenant` exists, and what its store holds ("" is the default store).
    /// @throws InvalidArgument for a malformed name.
    [[nodiscard]] TenantStatus tenant_status(std::string_view tenant) const;
    /// @brief Drops `tenant` and its store; one that holds events, documents or projections
    /// only with `force`. Only the store's owner, its members and superusers may (SqlError
    /// 42501), and the role needs EXECUTE on rillflow.drop_tenant.
    /// @throws TenantNotEmpty (RF007) when it holds data and not forced; TenantNotFound;
    /// SqlError 2BP01 when objects outside the store depend on it.
    void drop_tenant(std::string_view tenant, bool force = false) const;
    /// @brief A Store that acts on `tenant`'s store whatever the strategy: the same pool,
    /// settings and tenant cache. Cheap.
    [[nodiscard]] Store for_tenant(std::string tenant) const;
    /// @brief The tenant strategy given to the builder.
    [[nodiscard]] TenantStrategy tenant_strategy() const noexcept;
    /// @brief Gives `role` the `level` (and the levels below it) on `tenant`'s store; `""` is
    /// the default store. Granting again changes nothing. Only the store's owner, its members
    /// and superusers may (SqlError with SQLSTATE 42501 otherwise).
    /// @throws TenantNotFound for an unknown tenant; InvalidArgument for an unknown role (42704)
    /// or a malformed tenant name (22023).
    void grant_tenant(std::string_view tenant, std::string_view role, TenantAccess level) const;
    /// @brief Takes `level`, and the levels above it, on `tenant`'s store away from `role`; the
    /// levels below stay (revoking Read leaves nothing). Errors as for grant_tenant().
    void revoke_tenant(std::string_view tenant, std::string_view role, TenantAccess level) const;
    /// @brief The highest position in this store's global log (0 when empty).
    [[nodiscard]] std::int64_t head_position() const;
    /// @brief The schema of the store this Store acts on (e.g. "rillflow_default").
    /// @throws TenantNotFound when the configured tenant has no store.
    [[nodiscard]] std::string current_store() const;

    /// @brief Runs what the background worker runs, in every store of the database
    /// (rillflow.run_maintenance: each running projection up to `max_batches` batches), for
    /// servers without the worker (docs/managed-postgresql.md). One entry per store; a store
    /// that failed says why in its entry, and the others still ran.
    std::vector<MaintenanceResult> run_maintenance(int max_batches = 10) const;

    /// @brief The tenant given to the builder, if any.
    [[nodiscard]] const std::optional<std::string>& tenant() const noexcept;
    /// @brief A snapshot of the connection pool.
    [[nodiscard]] PoolStats pool_stats() const;
    /// @brief The connection pool, to run your own SQL on a pooled connection
    /// (ConnectionPool::acquire()).
    [[nodiscard]] ConnectionPool pool() const;
    /// @brief The breadcrumbs of this Store and its copies (empty unless enabled).
    [[nodiscard]] Breadcrumbs breadcrumbs() const;
    /// @brief The tracer this Store's calls record spans to; nullptr when none.
    [[nodiscard]] std::shared_ptr<Tracer> tracer() const;

    /// @brief The projection admin API (in-database and external projections, the dead-letter
    /// queue, daemon clusters); each call borrows a pooled connection.
    [[nodiscard]] Projections projections() const;

    /// @brief The subscription API (subscriptions, consumer groups, dead letters) and
    /// subscribe(); each call borrows a pooled connection.
    [[nodiscard]] Subscriptions subscriptions() const;
    /// @brief The stores' schema admin API (schema_plan, schema_sync, schema_health), over
    /// every store or one, whatever tenant this Store acts on.
    [[nodiscard]] SchemaAdmin schema() const;

  private:
    friend class StoreBuilder;
    friend class Session;           // a session's tenant makes a view of its store
    friend class ProjectionDaemon;  // opens its own LISTEN connection with the store's URL
    friend class Events;            // hands the store to async upcasters
    explicit Store(std::shared_ptr<detail::StoreState> state) : state_(std::move(state)) {}

    std::shared_ptr<detail::StoreState> state_;
};

}  // namespace rillflow
