// The seed's command lines that differ from rillflow's own spelling (issue 13): an unknown
// command names the known ones, --schema picks a store, reset-checkpoint takes the position as
// an argument, run-once without --name runs every projection, cluster-status without --cluster
// lists every cluster, promote/demote take --cluster and --node, demote without a node demotes
// whoever is hot, run-loop takes --use-notify; and the seed's lines that run real projections
// and write a trace diagram.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

class SeedLines : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        tenant_ = unique("cli_seed_");
        Output o = run({"tenants", "ensure", tenant_});
        ASSERT_EQ(o.code, 0) << o;
    }
    std::string tenant_;
};

TEST_F(SeedLines, AnUnknownCommandNamesTheKnownOnes) {
    Output o = run({"frobnicate"});
    EXPECT_EQ(o.code, 2) << o;
    EXPECT_EQ(o.err.rfind("error: unknown command 'frobnicate'; the commands are: ", 0), 0u) << o;
    EXPECT_NE(o.err.find("projections"), std::string::npos) << o;
    EXPECT_NE(o.err.find("schema-sync"), std::string::npos) << o;
    o = run({"--tenant", "x", "frobnicate"});
    EXPECT_NE(o.err.find("unknown command 'frobnicate'"), std::string::npos) << o;
    o = run({});
    EXPECT_EQ(o.code, 2) << o;
    EXPECT_EQ(o.err.rfind("error: a command is required; the commands are: ", 0), 0u) << o;
    EXPECT_EQ(run({"--help"}).code, 0);
}

TEST_F(SeedLines, SchemaPicksTheStore) {
    const std::string stream = random_uuid();
    Output o = run({"--schema", "rillflow_tenant_" + tenant_, "events", "append", stream, "--type",
                    "Ping", "--body", "{}"});
    ASSERT_EQ(o.code, 0) << o;
    o = run({"--json", "--tenant", tenant_, "streams", "version", stream});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["version"], 1) << o;
    // public, the seed's default, is the default store: the tenant's stream is not there
    o = run({"--json", "--schema", "public", "streams", "version", stream});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_TRUE(parse(o)["version"].is_null()) << o;
    o = run({"--schema", "pg_catalog", "streams", "version", stream});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"--schema", "public", "--tenant", tenant_, "streams", "version", stream});
    EXPECT_EQ(o.code, 2) << o;
}

TEST_F(SeedLines, ProjectionCommandsAsTheSeedSpellsThem) {
    // an external projection to move, and a cluster to list, promote and demote
    const std::string t = tenant_;
    Output o =
        run({"--tenant", t, "events", "append", random_uuid(), "--type", "A", "--body", "{}"});
    ASSERT_EQ(o.code, 0) << o;
    o = run({"--json", "--tenant", t, "projections", "run-once"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["applied"], 0) << o;  // no projection yet: nothing to run, no error
    o = run({"--json", "--tenant", t, "projections", "cluster-status"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["clusters"], json::array()) << o;

    o = run({"--tenant", t, "projections", "reset-checkpoint", "nope", "0"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
    o = run({"--tenant", t, "projections", "reset-checkpoint", "nope", "0", "--position", "0"});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"--tenant", t, "projections", "promote", "--cluster", "nope", "--node", "n1"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
    o = run({"--tenant", t, "projections", "demote", "--cluster", "nope"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
    o = run({"projections", "run-loop", "--use-notify", "maybe"});
    EXPECT_EQ(o.code, 2) << o;
}

TEST_F(SeedLines, AClusterIsListedPromotedAndDemotedByName) {
    const std::string t = tenant_;
    const std::string cluster = unique("c");
    Process loop({"--tenant", t, "projections", "run-loop", "--cluster-mode", "hotcold",
                  "--cluster", cluster, "--node-id", "n1", "--heartbeat-secs", "0.2",
                  "--lease-ttl-secs", "30", "--use-notify", "false"});
    ASSERT_TRUE(loop.read_until(
        [&](const std::string&) {
            auto at = loop.err.find("running projections as");
            return at != std::string::npos && loop.err.find('\n', at) != std::string::npos;
        },
        std::chrono::seconds(15)))
        << loop.out << loop.err;
    // the node becomes hot at its first heartbeat
    json clusters;
    for (int i = 0; i < 150; ++i) {
        Output o = run({"--json", "--tenant", t, "projections", "cluster-status"});
        ASSERT_EQ(o.code, 0) << o;
        clusters = parse(o)["clusters"];
        if (clusters.size() == 1 && clusters[0]["hot_node"] == "n1") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(clusters.size(), 1u) << clusters.dump();
    EXPECT_EQ(clusters[0]["cluster"], cluster);
    EXPECT_EQ(clusters[0]["hot_node"], "n1");
    EXPECT_EQ(clusters[0]["nodes"], 1);

    // demote without a node: whoever is hot
    Output o = run({"--json", "--tenant", t, "projections", "demote", "--cluster", cluster});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["node"], "n1") << o;
    EXPECT_EQ(parse(o)["was_hot"], true) << o;
    o = run(
        {"--json", "--tenant", t, "projections", "promote", "--cluster", cluster, "--node", "n1"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["hot"], "n1") << o;

    loop.signal(SIGTERM);
    o = loop.wait(std::chrono::seconds(15));
    EXPECT_EQ(o.code, 0) << o;
}

// The seed's lines that run projections, with real worker projections: run-once without
// --name ticks every running one, reset-checkpoint NAME 0 moves one back, rebuild replays it,
// run-loop takes --use-notify true, and trace mermaid writes --output file.mmd.
TEST_F(SeedLines, ProjectionLinesWithRealProjections) {
    const std::string t = tenant_;
    const char* url = std::getenv("DATABASE_URL");
    const std::string fn = unique("seed_h_");
    auto sql = [&](const std::string& statements) {
        const std::string cmd = "psql -X -q -v ON_ERROR_STOP=1 -d '" + std::string(url) +
                                "' -c \"SET rillflow.tenant = '" + t + "'\" -c \"" + statements +
                                "\" >/dev/null";
        return std::system(cmd.c_str()) == 0;
    };
    ASSERT_TRUE(sql("CREATE FUNCTION public." + fn +
                    "(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS 'SELECT NULL'; "
                    "SELECT rillflow.create_projection('p_one', 'public." +
                    fn +
                    "(rillflow.event_envelope)'); SELECT rillflow.create_projection('p_two', "
                    "'public." +
                    fn + "(rillflow.event_envelope)')"));
    const std::string correlation = random_uuid();
    for (int i = 0; i < 3; ++i) {
        Output o = run({"--tenant", t, "events", "append", random_uuid(), "--type", "A", "--body",
                        "{}", "--correlation-id", correlation});
        ASSERT_EQ(o.code, 0) << o;
    }
    // run-once without --name: both projections are ticked (the worker may tick them too)
    Output o = run({"--json", "--tenant", t, "projections", "run-once", "--max-batches", "5"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_TRUE(parse(o)["projections"].contains("p_one")) << o;
    EXPECT_TRUE(parse(o)["projections"].contains("p_two")) << o;
    for (const char* p : {"p_one", "p_two"}) {
        o = run({"--json", "--tenant", t, "projections", "status", p});
        ASSERT_EQ(o.code, 0) << o;
        EXPECT_EQ(parse(o)["checkpoint"], 3) << o;
    }
    // reset-checkpoint NAME 0, then rebuild --wait replays it to the head
    o = run({"--json", "--tenant", t, "projections", "reset-checkpoint", "p_one", "0"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["checkpoint"], 0) << o;
    o = run({"--json", "--tenant", t, "projections", "rebuild", "p_one", "--wait"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["checkpoint"], 3) << o;
    o = run({"--json", "--tenant", t, "projections", "run-until-idle"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_TRUE(parse(o)["applied"].is_number()) << o;

    // run-loop --use-notify true starts and stops
    Process loop({"--tenant", t, "projections", "run-loop", "--use-notify", "true"});
    ASSERT_TRUE(loop.read_until(
        [&](const std::string&) {
            return loop.err.find("running projections as") != std::string::npos;
        },
        std::chrono::seconds(15)))
        << loop.out << loop.err;
    loop.signal(SIGTERM);
    o = loop.wait(std::chrono::seconds(15));
    EXPECT_EQ(o.code, 0) << o;

    // trace mermaid --correlation-id X --output file.mmd
    const std::string file = "/tmp/" + unique("seed_trace_") + ".mmd";
    o = run({"--tenant", t, "trace", "mermaid", "--correlation-id", correlation, "--output", file});
    ASSERT_EQ(o.code, 0) << o;
    FILE* f = std::fopen(file.c_str(), "r");
    ASSERT_NE(f, nullptr);
    char head[32] = {0};
    ASSERT_GT(std::fread(head, 1, sizeof head - 1, f), 0u);
    std::fclose(f);
    std::remove(file.c_str());
    EXPECT_EQ(std::string(head).rfind("sequenceDiagram", 0), 0u) << head;
}

}  // namespace
