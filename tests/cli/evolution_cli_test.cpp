// evolution_cli_test.cpp: `rillflow upcasters list|path` and `rillflow snapshots
// compact-once|run-until-idle` against a real server; the SQL set-up goes through psql.
#include <cstdlib>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

class EvolutionCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        url_ = url;
        tenant_ = unique("cli_evo_");
        Output o = run({"tenants", "ensure", tenant_});
        ASSERT_EQ(o.code, 0) << o;
    }
    // Runs SQL in the tenant's store with psql; true when it succeeded.
    bool sql(const std::string& statements) {
        const std::string cmd = "psql -X -q -v ON_ERROR_STOP=1 -d '" + url_ +
                                "' -c \"SET rillflow.tenant = '" + tenant_ + "'\" -c \"" +
                                statements + "\" >/dev/null";
        return std::system(cmd.c_str()) == 0;
    }
    std::string url_;
    std::string tenant_;
};

TEST_F(EvolutionCli, UpcastersListAndPath) {
    Output o = run({"upcasters", "list", "--tenant", tenant_});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("no upcasters"), std::string::npos) << o;

    const std::string fn = unique("cli_up_");
    ASSERT_TRUE(sql("CREATE FUNCTION public." + fn +
                    "(b jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT b'; "
                    "SELECT rillflow.register_upcaster('OrderPlaced', 1, 2, 'public." +
                    fn +
                    "(jsonb)'); SELECT rillflow.register_upcaster('OrderPlaced', 2, 3, 'public." +
                    fn + "(jsonb)')"));
    o = run({"upcasters", "list", "--tenant", tenant_, "--json"});
    ASSERT_EQ(o.code, 0) << o;
    json j = parse(o);
    ASSERT_EQ(j["upcasters"].size(), 2u) << o;
    EXPECT_EQ(j["upcasters"][1]["to_version"], 3);
    EXPECT_FALSE(j["upcasters"][0]["owner"].get<std::string>().empty());

    o = run({"upcasters", "path", "--tenant", tenant_, "--from-type", "OrderPlaced",
             "--from-version", "1", "--to-type", "OrderPlaced", "--to-version", "3"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("1. OrderPlaced v1 -> OrderPlaced v2"), std::string::npos) << o;
    EXPECT_NE(o.out.find("2. OrderPlaced v2 -> OrderPlaced v3"), std::string::npos) << o;

    o = run({"upcasters", "path", "--tenant", tenant_, "--from-type", "OrderPlaced",
             "--from-version", "1", "--to-type", "OrderPlaced", "--to-version", "4"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_NE(o.err.find("RF004"), std::string::npos) << o;

    o = run({"upcasters", "path", "--tenant", tenant_, "--from-type", "OrderPlaced",
             "--from-version", "0", "--to-type", "OrderPlaced", "--to-version", "3"});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"upcasters", "path", "--tenant", tenant_, "--from-type", "OrderPlaced"});
    EXPECT_EQ(o.code, 2) << o;
}

TEST_F(EvolutionCli, SnapshotsCompactOnceAndRunUntilIdle) {
    const std::string fn = unique("cli_fold_");
    ASSERT_TRUE(
        sql("CREATE FUNCTION public." + fn +
            "(s jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql AS "
            "'SELECT jsonb_build_object(''n'', (s->>''n'')::int + 1)'; "
            "SELECT rillflow.create_aggregate('counter', 'public." +
            fn +
            "(jsonb,rillflow.event_envelope)', jsonb_build_object('n', 0)); "
            "SELECT count(*) FROM generate_series(1, 5) i, LATERAL rillflow.aggregate_commit("
            "'counter', ('dddddddd-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, (SELECT "
            "jsonb_agg(jsonb_build_object('type', 'A', "
            "'body', '{}'::jsonb)) FROM generate_series(1, 3)))"));

    Output o = run({"snapshots", "compact-once", "--tenant", tenant_, "--threshold", "3", "--batch",
                    "2", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["snapshotted"], 2) << o;
    o = run({"snapshots", "run-until-idle", "--tenant", tenant_, "--threshold", "3", "--batch", "2",
             "--aggregate", "counter"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("snapshotted 3 streams"), std::string::npos) << o;
    o = run({"snapshots", "compact-once", "--tenant", tenant_, "--threshold", "3"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("snapshotted 0 streams"), std::string::npos) << o;
    // a threshold under the stream length snapshots nothing more: they are all at 3
    o = run({"snapshots", "compact-once", "--tenant", tenant_, "--threshold", "1", "--json"});
    EXPECT_EQ(parse(o)["snapshotted"], 0) << o;

    o = run({"snapshots", "compact-once", "--tenant", tenant_, "--aggregate", "nope"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_NE(o.err.find("RF004"), std::string::npos) << o;
    o = run({"snapshots", "compact-once", "--tenant", tenant_, "--batch", "0"});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"snapshots", "compact-once", "--tenant", tenant_, "--threshold", "zero"});
    EXPECT_EQ(o.code, 2) << o;
}

}  // namespace
