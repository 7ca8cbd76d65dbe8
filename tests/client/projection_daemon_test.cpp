// projection_daemon_test.cpp: the external projection daemon against a real server: each event
// applied once, handler failures retried then dead-lettered, RF006 fencing of a daemon that
// lost its lease or the cluster's hot lease, the HTTP endpoint, and hot/cold failover of
// separate processes killed with SIGKILL.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <functional>

#include "rillflow/health_server.hpp"
#include "support.hpp"

namespace rillflow::test {
namespace {

// One statement in a transaction of its own, committed.
void run(const Store& store, const std::string& sql, const Params& params = {}) {
    Transaction tx = store.transaction();
    tx.exec(sql, params);
    tx.commit();
}

class ProjectionDaemonTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        tenant_store_.emplace(fresh_tenant_store(store(), &tenant_));
        table_ = fresh_name("rm_");
        projection_ = fresh_name("proj_");
        auto tx = store().transaction();
        tx.exec("CREATE TABLE public." + table_ +
                " (position bigint NOT NULL, type text NOT NULL)");
        tx.commit();
    }
    void TearDown() override {
        auto tx = store().transaction();
        tx.exec("DROP TABLE IF EXISTS public." + table_);
        tx.commit();
    }

    Store& ts() { return *tenant_store_; }

    // A handler writing (position, type) into the read model; throws on "Bad" after writing.
    ProjectionFunction writer() {
        std::string table = table_;
        return [table](const EventEnvelope& e, Transaction& tx) {
            tx.exec("INSERT INTO public." + table + " VALUES ($1, $2)", {*e.position, e.type});
            if (e.type == "Bad")
                throw std::runtime_error("bad event " + std::to_string(*e.position));
        };
    }

    std::int64_t rows(const std::string& where = "true") {
        Result r =
            store().transaction().exec("SELECT count(*) FROM public." + table_ + " WHERE " + where);
        return std::stoll(std::string(r.value(0, 0)));
    }
    std::int64_t distinct_positions() {
        Result r =
            store().transaction().exec("SELECT count(DISTINCT position) FROM public." + table_);
        return std::stoll(std::string(r.value(0, 0)));
    }

    // Appends, then waits until the events are in the log: with the background worker on, it
    // (not the daemon's own read) may be the one to sequence them, a moment after the commit.
    void append(const std::string& type, int n) { append(numbered(type, n)); }
    void append(const std::vector<EventData>& events) {
        ts().events().append(Uuid::random(), Expected::Any(), events);
        appended_ += static_cast<std::int64_t>(events.size());
        ASSERT_EQ(wait_for_head(ts(), appended_), appended_);
    }

    std::int64_t appended_ = 0;

    std::string tenant_;
    std::string table_;
    std::string projection_;
    std::optional<Store> tenant_store_;
};

TEST_F(ProjectionDaemonTest, AppliesEachEventOnceAndRegistersAnExternalProjection) {
    append("Ok", 5);
    auto daemon = ProjectionDaemon::builder(ts()).owner("d1").add(projection_, writer()).build();
    EXPECT_EQ(ts().projections().status(projection_).kind, "external");
    EXPECT_EQ(daemon.run_until_idle(), 5);
    EXPECT_EQ(daemon.run_until_idle(), 0);
    append("Ok", 3);
    TickResult t = daemon.tick_once(projection_);
    EXPECT_EQ(t.applied, 3);
    EXPECT_EQ(t.checkpoint, 8);
    EXPECT_EQ(rows(), 8);
    EXPECT_EQ(distinct_positions(), 8);
    ProjectionStatus s = ts().projections().status(projection_);
    EXPECT_EQ(s.checkpoint, 8);
    EXPECT_EQ(s.lag, 0);
    EXPECT_EQ(s.lease_owner.value_or(""), "d1");
    EXPECT_THROW(daemon.tick_once("not_mine"), NotFound);

    // Building the same daemon again is idempotent; it resumes from the checkpoint.
    auto again = ProjectionDaemon::builder(ts()).owner("d1").add(projection_, writer()).build();
    EXPECT_EQ(again.run_until_idle(), 0);
    EXPECT_EQ(rows(), 8);
}

TEST_F(ProjectionDaemonTest, BuildChecksTheSettingsByTheSqlRules) {
    auto refused = [&](ProjectionDaemonBuilder b) {
        try {
            static_cast<void>(b.add(projection_, writer()).build());
        } catch (const InvalidArgument& e) {
            return e.sqlstate();
        }
        return std::string("built");
    };
    auto builder = [&] { return ProjectionDaemon::builder(ts()); };
    EXPECT_EQ(refused(builder().batch_size(0)), sqlstate::invalid_parameter_value);
    EXPECT_EQ(refused(builder().batch_size(100001)), sqlstate::invalid_parameter_value);
    EXPECT_EQ(refused(builder().lease_ttl(std::chrono::milliseconds(99))),
              sqlstate::invalid_parameter_value);
    EXPECT_EQ(refused(builder().lease_ttl(std::chrono::hours(25))),
              sqlstate::invalid_parameter_value);
    ClusterOptions c;
    c.name = fresh_name("cl_");
    c.node_id = "not a node name";
    EXPECT_EQ(refused(builder().cluster(c)), sqlstate::invalid_parameter_value);
    EXPECT_EQ(refused(builder().poll_interval(std::chrono::milliseconds(0))),
              sqlstate::invalid_parameter_value);

    // Without a node id, the node is named "<hostname>-<pid>" by sanitize_node_id.
    c.node_id.clear();
    auto daemon = builder().cluster(c).add(projection_, writer()).build();
    const std::string& node = daemon.cluster()->node_id;
    EXPECT_EQ(node.substr(node.rfind('-') + 1), std::to_string(getpid()));
    Result same = ts().transaction().exec("SELECT rillflow.sanitize_node_id($1) = $1", {node});
    EXPECT_EQ(same.value(0, 0), "t");
}

TEST_F(ProjectionDaemonTest, HandlerFailureIsRetriedThenDeadLetteredAndItsWritesRolledBack) {
    auto daemon = ProjectionDaemon::builder(ts()).owner("d1").add(projection_, writer()).build();
    run(ts(), "SELECT rillflow.set_projection_options($1, max_attempts => 2, backoff_base => '0')",
        {projection_});
    append({{"Ok", {{"n", 1}}}, {"Bad", {{"n", 2}}}, {"Ok", {{"n", 3}}}});

    TickResult first = daemon.tick_once(projection_);
    EXPECT_EQ(first.applied, 1);
    ASSERT_TRUE(first.failure.has_value());
    EXPECT_EQ(*first.failure, "retry");
    TickResult second = daemon.tick_once(projection_);
    EXPECT_EQ(second.applied, 0);
    ASSERT_TRUE(second.failure.has_value());
    EXPECT_EQ(*second.failure, "dead_lettered");
    EXPECT_EQ(daemon.run_until_idle(), 1);

    EXPECT_EQ(rows(), 2);
    EXPECT_EQ(rows("type = 'Bad'"), 0);  // the failed event's write was rolled back
    auto dlq = ts().projections().dlq_list(projection_);
    ASSERT_EQ(dlq.size(), 1u);
    EXPECT_EQ(dlq[0]["position"], 2);
    EXPECT_EQ(dlq[0]["sqlstate"], "XX000");
    EXPECT_NE(dlq[0]["message"].get<std::string>().find("bad event 2"), std::string::npos);
    EXPECT_EQ(ts().projections().status(projection_).checkpoint, 3);
    auto stats = daemon.stats();
    ASSERT_EQ(stats.size(), 1u);
    EXPECT_EQ(stats[0].failures, 2);
    EXPECT_EQ(stats[0].dead_lettered, 1);
    EXPECT_EQ(stats[0].events_applied, 2);
}

TEST_F(ProjectionDaemonTest, DaemonWhoseLeaseWasTakenOverCannotCommit) {
    append("Ok", 4);
    const std::string schema = "rillflow_tenant_" + tenant_;
    const std::string name = projection_;
    std::optional<ProjectionDaemon> b;
    bool took_over = false;
    std::string table = table_;
    Store main = store();
    // Daemon a's handler lets its lease expire and has daemon b take the projection over
    // while a's batch is still open: a's commit must be refused.
    auto a = ProjectionDaemon::builder(ts())
                 .owner("a")
                 .add(name,
                      [&](const EventEnvelope& e, Transaction& tx) {
                          tx.exec("INSERT INTO public." + table + " VALUES ($1, $2)",
                                  {*e.position, e.type});
                          if (took_over) return;
                          took_over = true;
                          run(main,
                              "UPDATE " + schema +
                                  ".projections SET lease_expires_at = "
                                  "clock_timestamp() - interval '1 second' "
                                  "WHERE name = $1",
                              {name});
                          EXPECT_EQ(b->run_until_idle(), 4);
                      })
                 .build();
    b.emplace(ProjectionDaemon::builder(ts()).owner("b").add(name, writer()).build());
    TickResult r = a.tick_once(name);
    EXPECT_TRUE(r.lease_lost);
    EXPECT_EQ(r.applied, 0);
    EXPECT_EQ(rows(), 4);
    EXPECT_EQ(distinct_positions(), 4);
    EXPECT_EQ(ts().projections().status(name).lease_owner.value_or(""), "b");
    EXPECT_EQ(a.stats()[0].lease_lost, 1);
    // a gets nothing while b's lease lives.
    EXPECT_EQ(a.tick_once(name).leased, false);
}

TEST_F(ProjectionDaemonTest, ColdNodeDoesNothingAndDemotedLeaderIsFenced) {
    append("Ok", 3);
    ClusterOptions c;
    c.name = fresh_name("cl_");
    c.lease_ttl = std::chrono::seconds(30);
    c.heartbeat = std::chrono::seconds(1);
    c.node_id = "n1";
    auto n1 = ProjectionDaemon::builder(ts()).cluster(c).add(projection_, writer()).build();
    c.node_id = "n2";
    auto n2 = ProjectionDaemon::builder(ts()).cluster(c).add(projection_, writer()).build();
    EXPECT_FALSE(n1.is_hot());  // nobody is hot before the first heartbeat
    EXPECT_TRUE(n1.heartbeat_once());
    EXPECT_FALSE(n2.heartbeat_once());
    EXPECT_EQ(n2.tick_once(projection_).applied, 0);
    EXPECT_EQ(rows(), 0);
    EXPECT_EQ(n1.tick_once(projection_).applied, 3);

    // n2 is promoted; n1 has not heard yet (a paused leader) and tries a batch: fenced.
    append("Ok", 2);
    ts().projections().cluster_promote(c.name, "n2");
    TickResult r = n1.tick_once(projection_);
    EXPECT_TRUE(r.lease_lost);
    EXPECT_FALSE(n1.is_hot());
    EXPECT_EQ(rows(), 3);
    n1.release_leases();
    EXPECT_TRUE(n2.heartbeat_once());
    EXPECT_EQ(n2.run_until_idle(), 2);
    EXPECT_EQ(rows(), 5);
    EXPECT_EQ(distinct_positions(), 5);
    auto nodes = ts().projections().cluster_status(c.name);
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_EQ(nodes[0].role, "cold");
    EXPECT_EQ(nodes[1].role, "hot");
}

TEST_F(ProjectionDaemonTest, AnExceptionRunLoopDoesNotCatchLeavesItWithTheHeartbeatsStopped) {
    // Not a std::exception, so neither the batch nor run_loop catches it. The heartbeat
    // thread must be joined on the way out, or its std::thread's destructor ends the process
    // in std::terminate.
    struct NotAnError {};
    append("Ok", 1);
    ClusterOptions c;
    c.name = fresh_name("cl_");
    c.node_id = "n1";
    c.heartbeat = std::chrono::milliseconds(50);
    c.lease_ttl = std::chrono::seconds(30);
    auto daemon =
        ProjectionDaemon::builder(ts())
            .cluster(c)
            .poll_interval(std::chrono::milliseconds(50))
            .add(projection_, [](const EventEnvelope&, Transaction&) { throw NotAnError{}; })
            .build();
    std::atomic<bool> stop{false};
    EXPECT_THROW(daemon.run_loop(stop), NotAnError);
    EXPECT_TRUE(daemon.is_hot());  // it got as far as a batch

    // No heartbeat since: the thread was stopped, not left running.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto nodes = ts().projections().cluster_status(c.name);
    ASSERT_EQ(nodes.size(), 1u);
    EXPECT_GE(nodes[0].heartbeat_age_seconds, 0.25);
}

// The health JSON's `hotcold` section lists every cluster of the store with its nodes,
// heartbeat ages in ms and lease expiry, and judges each by the min_cold_standbys stored in
// the database (which wins over the daemon's own setting).
TEST_F(ProjectionDaemonTest, HealthJsonHasAHotcoldSectionWithTheStoredMinColdStandbys) {
    ClusterOptions c;
    c.name = fresh_name("cl_");
    c.node_id = "hc1";
    c.lease_ttl = std::chrono::seconds(30);
    c.min_cold_standbys = 0;
    auto daemon = ProjectionDaemon::builder(ts()).cluster(c).add(projection_, writer()).build();
    ASSERT_TRUE(daemon.heartbeat_once());
    ts().projections().cluster_heartbeat(c.name, "hc2", std::chrono::seconds(30));
    const std::string other = fresh_name("cl_");
    ts().projections().set_min_cold_standbys(other, 3);  // a cluster with no nodes yet

    auto find = [](const nlohmann::json& h, const std::string& name) {
        for (const auto& cl : h["hotcold"]["clusters"])
            if (cl["cluster"] == name) return cl;
        return nlohmann::json();
    };
    nlohmann::json h = daemon.health_json();
    nlohmann::json mine = find(h, c.name);
    ASSERT_FALSE(mine.is_null()) << h.dump(2);
    EXPECT_EQ(mine["hot_node"], "hc1");
    EXPECT_TRUE(mine["lease_expires_at"].is_string());
    EXPECT_EQ(mine["min_cold_standbys"], 0);  // not stored: the daemon's own
    EXPECT_EQ(mine["min_cold_standbys_stored"], false);
    EXPECT_EQ(mine["standby_nodes"], 1);
    EXPECT_EQ(mine["healthy"], true);
    ASSERT_EQ(mine["nodes"].size(), 2u);
    EXPECT_EQ(mine["nodes"][0]["node_id"], "hc1");
    EXPECT_EQ(mine["nodes"][0]["role"], "hot");
    EXPECT_GE(mine["nodes"][0]["heartbeat_age_ms"].get<std::int64_t>(), 0);
    EXPECT_EQ(mine["nodes"][0]["lease_expires_at"], mine["lease_expires_at"]);
    EXPECT_EQ(mine["nodes"][1]["node_id"], "hc2");
    EXPECT_TRUE(mine["nodes"][1]["lease_expires_at"].is_null());
    nlohmann::json empty = find(h, other);
    ASSERT_FALSE(empty.is_null());
    EXPECT_EQ(empty["min_cold_standbys"], 3);
    EXPECT_TRUE(empty["nodes"].empty());
    EXPECT_EQ(empty["healthy"], false);

    // Stored for this cluster: two standbys wanted, one there; the cluster section agrees.
    ts().projections().set_min_cold_standbys(c.name, 2);
    h = daemon.health_json();
    mine = find(h, c.name);
    EXPECT_EQ(mine["min_cold_standbys"], 2);
    EXPECT_EQ(mine["min_cold_standbys_stored"], true);
    EXPECT_EQ(mine["healthy"], false);
    EXPECT_EQ(h["cluster"]["min_cold_standbys"], 2);
    EXPECT_EQ(h["cluster"]["healthy"], false);
    EXPECT_EQ(h["healthy"], false);
    EXPECT_THROW(ts().projections().set_min_cold_standbys(c.name, -1), InvalidArgument);
}

TEST_F(ProjectionDaemonTest, HealthEndpointServesJsonAndPrometheusMetrics) {
    append("Ok", 3);
    ClusterOptions c;
    c.name = fresh_name("cl_");
    c.node_id = "web1";
    c.lease_ttl = std::chrono::seconds(30);
    c.min_cold_standbys = 1;
    auto daemon = ProjectionDaemon::builder(ts()).cluster(c).add(projection_, writer()).build();
    ASSERT_TRUE(daemon.heartbeat_once());
    EXPECT_EQ(daemon.run_until_idle(), 3);
    HealthServer server(daemon, "127.0.0.1:0");
    ASSERT_GT(server.port(), 0);
    httplib::Client client("127.0.0.1", server.port());

    auto res = client.Get("/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);  // no cold standby, one required
    auto h = nlohmann::json::parse(res->body);
    EXPECT_EQ(h["node"], "web1");
    EXPECT_EQ(h["hot"], true);
    EXPECT_EQ(h["healthy"], false);
    ASSERT_EQ(h["projections"].size(), 1u);
    EXPECT_EQ(h["projections"][0]["name"], projection_);
    EXPECT_EQ(h["projections"][0]["checkpoint"], 3);
    EXPECT_EQ(h["projections"][0]["lag"], 0);
    EXPECT_EQ(h["cluster"]["min_cold_standbys"], 1);
    EXPECT_EQ(h["cluster"]["standby_nodes"], 0);
    ASSERT_EQ(h["cluster"]["nodes"].size(), 1u);
    EXPECT_EQ(h["cluster"]["nodes"][0]["role"], "hot");
    EXPECT_GT(h["cluster"]["nodes"][0]["lease_seconds"].get<double>(), 0);

    auto m = client.Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    const std::string& text = m->body;
    const std::string label = "{projection=\"" + projection_ + "\",kind=\"external\"}";
    EXPECT_NE(text.find("rillflow_projection_events_processed_total" + label + " 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("rillflow_projection_lag" + label + " 0\n"), std::string::npos);
    EXPECT_NE(text.find("rillflow_projection_dlq_size" + label + " 0\n"), std::string::npos);
    EXPECT_NE(text.find("rillflow_projection_tick_duration_seconds" + label), std::string::npos);
    EXPECT_NE(text.find("daemon_node_hot{cluster=\"" + c.name + "\",node=\"web1\"} 1\n"),
              std::string::npos)
        << text;
    // the database's metrics follow the daemon's own, under rillflow.metrics()'s names
    EXPECT_NE(text.find("# TYPE rillflow_log_head gauge\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("# TYPE rillflow_projection_lag gauge",
                        text.find("# TYPE rillflow_projection_lag") + 1),
              std::string::npos)
        << "two rillflow_projection_lag families:\n"
        << text;
    const std::string cl = "{cluster=\"" + c.name + "\"}";
    EXPECT_NE(text.find("daemon_cluster_healthy" + cl + " 0\n"), std::string::npos);
    EXPECT_NE(text.find("daemon_cluster_standby_nodes" + cl + " 0\n"), std::string::npos);
    EXPECT_NE(text.find("daemon_cluster_required_standbys" + cl + " 1\n"), std::string::npos);
    EXPECT_NE(text.find("daemon_node_heartbeat_age_seconds{cluster=\"" + c.name +
                        "\",node=\"web1\",role=\"hot\"}"),
              std::string::npos);
    EXPECT_NE(text.find("daemon_node_lease_seconds{cluster=\"" + c.name + "\",node=\"web1\"}"),
              std::string::npos);

    // A cold standby joins: the cluster is healthy.
    ts().projections().cluster_heartbeat(c.name, "web2", std::chrono::seconds(30));
    res = client.Get("/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(nlohmann::json::parse(res->body)["cluster"]["standby_nodes"], 1);
    server.stop();
    EXPECT_THROW(HealthServer(daemon, "no-port"), InvalidArgument);
    EXPECT_THROW(HealthServer(daemon, "127.0.0.1:99999"), InvalidArgument);
}

// ---- failover of separate processes -----------------------------------------------------------

pid_t start_daemon(const std::vector<std::string>& args) {
    pid_t pid = fork();
    if (pid == 0) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

TEST_F(ProjectionDaemonTest, ColdNodeTakesOverWhenTheHotProcessIsKilled) {
    // The read model as the example daemon writes it (with the node that applied each event).
    run(store(), "DROP TABLE public." + table_);
    run(store(), "CREATE TABLE public." + table_ +
                     " (position bigint NOT NULL, stream_id uuid NOT NULL, type text NOT NULL, "
                     "node text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    const std::string cluster = fresh_name("fo_");
    const std::string type = fresh_name("Failover");
    std::vector<pid_t> pids;
    for (int i = 1; i <= 3; ++i) {
        pids.push_back(start_daemon({RILLFLOW_EXAMPLE_DAEMON,
                                     "--database-url",
                                     url(),
                                     "--projection",
                                     projection_,
                                     "--table",
                                     table_,
                                     "--event-type",
                                     type,
                                     "--cluster-name",
                                     cluster,
                                     "--node-id",
                                     "node" + std::to_string(i),
                                     "--heartbeat-ms",
                                     "200",
                                     "--lease-ttl-ms",
                                     "1500",
                                     "--lease-grace-ms",
                                     "300",
                                     "--poll-ms",
                                     "100"}));
    }
    // Stops the daemons this test started, also when an assertion ends the test early.
    auto cleanup = [&] {
        for (pid_t p : pids) {
            if (p > 0) kill(p, SIGTERM);
        }
        for (pid_t& p : pids) {
            if (p > 0) waitpid(p, nullptr, 0);
            p = -1;
        }
    };
    struct Guard {
        std::function<void()> f;
        ~Guard() { f(); }
    } guard{cleanup};
    auto wait_until = [](auto done, std::chrono::seconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return done();
    };
    auto hot_node = [&]() -> std::optional<ClusterNode> {
        try {
            for (const auto& n : store().projections().cluster_status(cluster))
                if (n.role == "hot") return n;
        } catch (const NotFound&) {
        }
        return std::nullopt;
    };

    Events ev = store().events();
    for (int i = 0; i < 20; ++i) ev.append(Uuid::random(), Expected::Any(), numbered(type, 1, i));
    ASSERT_TRUE(wait_until([&] { return rows() == 20; }, std::chrono::seconds(60))) << rows();
    auto before = hot_node();
    ASSERT_TRUE(before.has_value());
    ASSERT_TRUE(before->pid.has_value());

    // SIGKILL the hot process: no clean hand-over, its leases just stop being renewed.
    ASSERT_EQ(kill(*before->pid, SIGKILL), 0);
    const auto killed_at = std::chrono::steady_clock::now();
    for (auto& p : pids) {
        if (p == *before->pid) {
            waitpid(p, nullptr, 0);
            p = -1;
        }
    }
    for (int i = 20; i < 40; ++i) ev.append(Uuid::random(), Expected::Any(), numbered(type, 1, i));
    const bool taken_over = wait_until(
        [&] {
            auto h = hot_node();
            return h && h->node != before->node;
        },
        std::chrono::seconds(30));
    const double takeover_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    EXPECT_TRUE(taken_over);
    std::cout << "takeover after " << takeover_s << " s (lease 1.5 s + grace 0.3 s)\n";
    EXPECT_TRUE(wait_until([&] { return rows() == 40; }, std::chrono::seconds(60))) << rows();
    cleanup();
    EXPECT_EQ(rows(), 40);
    EXPECT_EQ(distinct_positions(), 40);  // no event applied twice
    EXPECT_GT(rows("node <> '" + before->node + "'"), 0);
}

}  // namespace
}  // namespace rillflow::test
