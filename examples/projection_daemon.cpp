// projection_daemon.cpp: an external projection with a C++ handler, run by a ProjectionDaemon,
// optionally as a node of a hot/cold cluster with the HTTP health endpoint. Each event it
// sees becomes one row of a read-model table (position, stream, type, the node that applied
// it), written in the transaction that commits the checkpoint: exactly once per event.
//
//   projection_daemon --database-url URL [--projection NAME] [--table NAME]
//       [--cluster-name NAME --node-id ID --heartbeat-ms N --lease-ttl-ms N --lease-grace-ms N
//        --min-cold-standbys N] [--health-bind ADDR:PORT] [--poll-ms N]
//
// Stops on SIGINT/SIGTERM, giving up its leases and leaving the cluster.
#include <csignal>
#include <iostream>
#include <regex>

#include <CLI/CLI.hpp>
#include <rillflow/health_server.hpp>
#include <rillflow/rillflow.hpp>

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

// Writes one row per event into the read model, through the daemon's transaction.
class ApplyLog : public rillflow::ProjectionHandler {
  public:
    ApplyLog(std::string table, std::string node)
        : table_(std::move(table)), node_(std::move(node)) {}
    void apply(const rillflow::EventEnvelope& e, rillflow::Transaction& tx) override {
        // The table name was checked to be a plain identifier; values are bound.
        tx.exec(
            "INSERT INTO " + table_ + " (position, stream_id, type, node) VALUES ($1, $2, $3, $4)",
            {*e.position, e.stream_id, e.type, node_});
    }

  private:
    std::string table_;
    std::string node_;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"An external rillflow projection with a C++ handler"};
    std::string url, projection = "example_apply_log", table = "example_apply_log";
    std::string cluster, node, health;
    std::vector<std::string> types;
    int heartbeat_ms = 1000, ttl_ms = 5000, grace_ms = 0, poll_ms = 1000, standbys = 0;
    app.add_option("--database-url", url, "libpq URL")->envname("DATABASE_URL")->required();
    app.add_option("--projection", projection, "The external projection's name");
    app.add_option("--event-type", types, "Only events of this type (repeatable)");
    app.add_option("--table", table, "The read-model table (created when missing)");
    app.add_option("--cluster-name", cluster, "Join this hot/cold cluster");
    app.add_option("--node-id", node, "This node's id (default: host-pid)");
    app.add_option("--heartbeat-ms", heartbeat_ms, "Heartbeat interval");
    app.add_option("--lease-ttl-ms", ttl_ms, "Hot lease TTL");
    app.add_option("--lease-grace-ms", grace_ms, "Grace after the lease expires");
    app.add_option("--min-cold-standbys", standbys, "Cold standbys a healthy cluster has");
    app.add_option("--health-bind", health, "Serve GET / and /metrics on ADDR:PORT");
    app.add_option("--poll-ms", poll_ms, "Longest wait without a notification");
    CLI11_PARSE(app, argc, argv);
    if (!std::regex_match(table, std::regex("^[a-z_][a-z0-9_]{0,62}$"))) {
        std::cerr << "error: --table must be a lower-case identifier\n";
        return 2;
    }

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    try {
        rillflow::Store store = rillflow::Store::builder(url).max_connections(4).build();
        {
            auto tx = store.transaction();
            tx.exec(
                "CREATE TABLE IF NOT EXISTS " + table +
                " (position bigint NOT NULL, stream_id uuid NOT NULL, type text NOT NULL, "
                "node text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())");
            tx.commit();
        }
        auto builder = rillflow::ProjectionDaemon::builder(store).poll_interval(
            std::chrono::milliseconds(poll_ms));
        if (!cluster.empty()) {
            rillflow::ClusterOptions c;
            c.name = cluster;
            c.node_id = node;
            c.heartbeat = std::chrono::milliseconds(heartbeat_ms);
            c.lease_ttl = std::chrono::milliseconds(ttl_ms);
            c.lease_grace = std::chrono::milliseconds(grace_ms);
            c.min_cold_standbys = standbys;
            builder.cluster(c);
        } else if (!node.empty()) {
            builder.owner(node);
        }
        builder.register_handler(
            projection, std::make_shared<ApplyLog>(table, node.empty() ? "local" : node), types);
        rillflow::ProjectionDaemon daemon = builder.build();
        std::unique_ptr<rillflow::HealthServer> server;
        if (!health.empty()) {
            server = std::make_unique<rillflow::HealthServer>(daemon, health);
            std::cout << "health on port " << server->port() << std::endl;
        }
        std::cout << "running " << projection << " as " << daemon.owner() << std::endl;
        daemon.run_loop(g_stop);
        return 0;
    } catch (const rillflow::Error& e) {
        std::cerr << "error: " << e.sqlstate() << ": " << e.message() << '\n';
        return 1;
    }
}
