// daemon/builder.cpp: ProjectionDaemonBuilder: the daemon's settings, checked, and build(),
// which picks the store (a tenant's or a schema's), registers the external projections and
// checks that the in-database ones exist.
#include <unistd.h>

#include "daemon/state.hpp"
#include "pool.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"

namespace rillflow {

namespace {

std::string default_owner() { return detail::host_name() + "-" + std::to_string(getpid()); }

class FunctionHandler : public ProjectionHandler {
  public:
    explicit FunctionHandler(ProjectionFunction f) : f_(std::move(f)) {}
    void apply(const EventEnvelope& event, Transaction& tx) override { f_(event, tx); }

  private:
    ProjectionFunction f_;
};

}  // namespace

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
ProjectionDaemonBuilder& ProjectionDaemonBuilder::use_notify(bool listen) {
    use_notify_ = listen;
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
        throw InvalidArgument(sqlstate::null_value_not_allowed,
                              "the handler of projection \"" + name + "\" is null");
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
        throw InvalidArgument(sqlstate::null_value_not_allowed,
                              "the handler of projection \"" + name + "\" is empty");
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
    // What only the C++ side knows about is checked here; the batch size, the lease TTL and
    // the node name are checked below by the SQL rules that apply to them (one copy each).
    if (poll_interval_.count() < 1)
        throw InvalidArgument(sqlstate::invalid_parameter_value, "poll_interval must be positive");
    if (cluster_) {
        if (cluster_->heartbeat.count() < 1 || cluster_->heartbeat >= cluster_->lease_ttl)
            throw InvalidArgument(sqlstate::invalid_parameter_value,
                                  "the heartbeat interval must be positive and shorter "
                                  "than the cluster lease TTL");
        if (cluster_->min_cold_standbys < 0)
            throw InvalidArgument(sqlstate::invalid_parameter_value,
                                  "min_cold_standbys must not be negative");
    }
    if (entries_.empty() && !all_in_database_)
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "the daemon has no projection to run", "",
                              "Add one with register_handler() or run_in_database().");

    // The settings by the SQL API's rules (22023 with the server's message otherwise), and
    // the default node name made from "<hostname>-<pid>" by the server's name rule.
    const bool default_node = cluster_ && cluster_->node_id.empty();
    Result settings = detail::exec_in_store(
        *ProjectionDaemon::state_of(store_),
        "SELECT rillflow.check_daemon_settings(batch_size => $1::integer, "
        "lease_ttl => $2::interval, node_id => $3::text), rillflow.sanitize_node_id($4::text)",
        {batch_size_, detail::interval_text(lease_ttl_),
         cluster_ && !default_node ? Param(cluster_->node_id) : Param::null(),
         default_node ? Param(default_owner()) : Param::null()});

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
                throw TenantNotFound(sqlstate::tenant_not_found,
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

    auto impl = std::make_unique<detail::DaemonState>(store);
    impl->state = ProjectionDaemon::state_of(store);
    impl->url = url;
    impl->log = log_;
    impl->cluster = cluster_;
    impl->poll_interval = poll_interval_;
    impl->use_notify = use_notify_;
    impl->all_in_database = all_in_database_;
    impl->lease_ttl = lease_ttl_;
    if (cluster_) {
        if (default_node) impl->cluster->node_id = std::string(settings.value(0, 1));
        // The projection leases of a node must not outlive its hot lease by much, or a node
        // taking over waits for them: unless set, they last as long as the hot lease.
        if (lease_ttl_ == std::chrono::milliseconds(30000)) impl->lease_ttl = cluster_->lease_ttl;
        impl->hot = false;
    }
    impl->owner = !owner_.empty() ? owner_ : cluster_ ? impl->cluster->node_id : default_owner();

    Projections admin = store.projections();
    for (const Entry& e : entries_) {
        if (impl->projections.count(e.name) != 0)
            throw InvalidArgument(sqlstate::invalid_parameter_value,
                                  "projection \"" + e.name + "\" is registered twice");
        if (e.handler) {
            ExternalProjectionOptions options;
            options.event_types = e.event_types;
            options.batch_size = batch_size_;
            admin.create_external(e.name, options);
        } else {
            static_cast<void>(admin.status(e.name));  // must exist (RF004 otherwise)
        }
        detail::DaemonProjection p;
        p.name = e.name;
        p.handler = e.handler;
        p.counters.name = e.name;
        p.counters.kind = e.handler ? "external" : "worker";
        impl->projections.emplace(e.name, std::move(p));
    }
    return ProjectionDaemon(std::move(impl));
}

}  // namespace rillflow
