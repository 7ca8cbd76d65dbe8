// daemon/metrics.cpp: what a daemon tells about itself: its own counters per projection, the
// health JSON (GET /) with the projections' and the cluster's state read from the server, and
// the same as Prometheus text (GET /metrics).
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <mutex>
#include <sstream>

#include "daemon/state.hpp"
#include "projection_sql.hpp"
#include "rillflow/errors.hpp"

namespace rillflow {

namespace {

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

std::vector<ProjectionCounters> ProjectionDaemon::stats() const {
    std::lock_guard<std::mutex> guard(impl_->mutex);
    std::vector<ProjectionCounters> out;
    for (const auto& [name, p] : impl_->projections) out.push_back(p.counters);
    return out;
}

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
    // Every cluster of the store (hot/cold): nodes, heartbeat ages, leases, and the
    // min_cold_standbys stored with the cluster (else this daemon's own for its cluster).
    nlohmann::json hotcold = {{"clusters", nlohmann::json::array()}};
    std::optional<int> stored_standbys;
    try {
        for (const HotColdCluster& hc : admin.cluster_hotcold()) {
            std::optional<int> wanted = hc.min_cold_standbys;
            const bool mine = impl_->cluster && impl_->cluster->name == hc.cluster;
            if (mine) stored_standbys = hc.min_cold_standbys;
            if (!wanted && mine) wanted = impl_->cluster->min_cold_standbys;
            int hot_nodes = 0, standbys = 0;
            nlohmann::json nodes = nlohmann::json::array();
            for (const HotColdNode& n : hc.nodes) {
                if (n.role == "hot") ++hot_nodes;
                if (n.role == "cold" && n.alive) ++standbys;
                nodes.push_back(
                    {{"node_id", n.node_id},
                     {"role", n.role},
                     {"alive", n.alive},
                     {"heartbeat_age_ms", n.heartbeat_age_ms},
                     {"lease_expires_at", n.lease_expires_at ? nlohmann::json(*n.lease_expires_at)
                                                             : nlohmann::json()}});
            }
            hotcold["clusters"].push_back(
                {{"cluster", hc.cluster},
                 {"hot_node", hc.hot_node ? nlohmann::json(*hc.hot_node) : nlohmann::json()},
                 {"lease_expires_at",
                  hc.lease_expires_at ? nlohmann::json(*hc.lease_expires_at) : nlohmann::json()},
                 {"token", hc.token},
                 {"min_cold_standbys", wanted ? nlohmann::json(*wanted) : nlohmann::json()},
                 {"min_cold_standbys_stored", hc.min_cold_standbys.has_value()},
                 {"standby_nodes", standbys},
                 {"healthy", hot_nodes == 1 && standbys >= wanted.value_or(0)},
                 {"nodes", std::move(nodes)}});
        }
    } catch (const Error& e) {
        hotcold["error"] = e.what();
    }
    doc["hotcold"] = std::move(hotcold);
    if (impl_->cluster) {
        const ClusterOptions& c = *impl_->cluster;
        const int min_cold_standbys = stored_standbys.value_or(c.min_cold_standbys);
        nlohmann::json cl = {{"name", c.name},
                             {"min_cold_standbys", min_cold_standbys},
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
        cl["healthy"] = hot_nodes == 1 && standbys >= min_cold_standbys;
        healthy = healthy && cl["healthy"].get<bool>();
        doc["cluster"] = std::move(cl);
    }
    // Subscriptions' lag, from the rillflow.subscription_lag view (one row per subscription
    // and group of the store); a server without it reports none.
    nlohmann::json subscriptions = nlohmann::json::array();
    try {
        for (const auto& row : impl_->store.subscriptions().lag()) subscriptions.push_back(row);
    } catch (const Error& e) {
        doc["subscriptions_error"] = e.what();
    }
    doc["subscriptions"] = std::move(subscriptions);
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

    // Subscriptions' checkpoint, lag, in flight and dead letters come with the database's own
    // metrics below (rillflow.metrics(): every store this daemon's role may read, tenant labels).

    const std::string node = prom_escape(h["node"].get<std::string>());
    const std::string cluster_label =
        h.contains("cluster") ? prom_escape(h["cluster"]["name"].get<std::string>()) : "";
    family("daemon_node_hot", "gauge", "1 when this node is the hot one (ticks projections).");
    out << "daemon_node_hot{cluster=\"" << cluster_label << "\",node=\"" << node << "\"} "
        << (h["hot"].get<bool>() ? 1 : 0) << '\n';
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
    append_database_metrics(out);
    return out.str();
}

// The database's own metrics (rillflow.metrics(): the log, every projection of the stores this
// daemon's role may read, the worker), under the same names any scraper of PostgreSQL sees. The
// families this daemon reports itself, for its own projections, are left to it.
void ProjectionDaemon::append_database_metrics(std::ostream& out) const {
    static const char* const kOwn[] = {"rillflow_projection_checkpoint", "rillflow_projection_lag"};
    Result r;
    try {
        r = detail::exec_in_store(*impl_->state,
                                  "SELECT name, labels::text, value, help FROM rillflow.metrics() "
                                  "ORDER BY name, labels::text",
                                  {});
    } catch (const Error& e) {
        out << "# rillflow.metrics() failed: " << prom_escape(e.what()) << '\n';
        return;
    }
    std::string current;
    for (std::size_t i = 0; i < r.size(); ++i) {
        const std::string name(r.value(i, 0));
        if (std::find(std::begin(kOwn), std::end(kOwn), name) != std::end(kOwn)) continue;
        if (name != current) {
            out << "# HELP " << name << ' ' << prom_escape(std::string(r.value(i, 3)))
                << "\n# TYPE " << name << " gauge\n";
            current = name;
        }
        const nlohmann::json labels = nlohmann::json::parse(std::string(r.value(i, 1)));
        out << name << '{';
        bool first = true;
        for (const auto& [key, value] : labels.items()) {
            out << (first ? "" : ",") << key << "=\""
                << prom_escape(value.is_string() ? value.get<std::string>() : value.dump()) << '"';
            first = false;
        }
        out << "} " << r.value(i, 2) << '\n';
    }
}

}  // namespace rillflow
