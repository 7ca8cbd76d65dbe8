// Tests of `rillflow schema-plan`, `schema-sync` and `health schema` against the server in
// DATABASE_URL. Drift is made by hand over libpq, as an operator would make it.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

class SchemaCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        url_ = url;
        tenant_ = unique("cli_sch_");
        Output o = run({"tenants", "ensure", tenant_});
        ASSERT_EQ(o.code, 0) << o;
    }
    // One statement on the database, outside the CLI.
    void sql(const std::string& statement) {
        PGconn* conn = PQconnectdb(url_.c_str());
        ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
        PGresult* r = PQexec(conn, statement.c_str());
        EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(conn);
        PQclear(r);
        PQfinish(conn);
    }
    std::string schema() const { return "rillflow_tenant_" + tenant_; }
    std::string url_, tenant_;
};

TEST_F(SchemaCli, HealthOfAFreshTenantIsOk) {
    Output o = run({"health", "schema", "--tenant", tenant_});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out.find(schema() + " (tenant " + tenant_ + "): ok (version "), 0u) << o;

    o = run({"--json", "health", "schema", "--all-tenants"});
    ASSERT_EQ(o.code == 0 || o.code == 1, true) << o;  // other tests' tenants may be mid-drift
    json j = parse(o);
    bool found = false;
    for (const auto& s : j["stores"])
        if (s["tenant"] == tenant_) found = s["status"] == "ok";
    EXPECT_TRUE(found) << o;

    // --schema names a store by its schema; public is the default store (the seed's default)
    o = run({"--json", "health", "schema", "--schema", "public"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["stores"][0]["store"], "rillflow_default");
    o = run({"health", "schema", "--schema", schema()});
    EXPECT_EQ(o.code, 0) << o;
    o = run({"schema-plan", "--tenant", tenant_});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out, "nothing to do: every store has the newest version's shape\n");
}

TEST_F(SchemaCli, DriftExitsOneIsPlannedAndSynced) {
    sql("DROP INDEX " + schema() + ".events_tx_idx");
    Output o = run({"health", "schema", "--tenant", tenant_});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_NE(o.out.find(": drift (version "), std::string::npos) << o;
    EXPECT_NE(o.out.find("  missing index events.events_tx_idx  [schema-sync repairs it]"),
              std::string::npos)
        << o;

    o = run({"schema-plan", "--tenant", tenant_});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(
        o.out.find("-- " + schema() + " (tenant " + tenant_ +
                   "): repair: missing index events.events_tx_idx\nCREATE INDEX events_tx_idx ON " +
                   schema() + ".events USING btree (tx);"),
        std::string::npos)
        << o;
    // plan runs nothing
    EXPECT_EQ(run({"health", "schema", "--tenant", tenant_}).code, 1);

    o = run({"--json", "schema-sync", "--tenant", tenant_});
    ASSERT_EQ(o.code, 0) << o;
    json j = parse(o);
    EXPECT_EQ(j["stores"][0]["repaired"], 1) << o;
    EXPECT_EQ(run({"health", "schema", "--tenant", tenant_}).code, 0);

    // what only a person may decide: sync says so and exits 1
    sql("CREATE TABLE " + schema() + ".planted (x int)");
    o = run({"schema-sync", "--schema", schema()});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_NE(o.out.find("  left to a person: unexpected relation planted"), std::string::npos)
        << o;
    sql("DROP TABLE " + schema() + ".planted");
    EXPECT_EQ(run({"schema-sync", "--tenant", tenant_}).code, 0);
}

TEST_F(SchemaCli, BadScopesAreRefused) {
    Output o = run({"health", "schema", "--tenant", unique("nobody_")});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF005: ", 0), 0u) << o;
    o = run({"schema-plan", "--schema", "pg_catalog"});
    EXPECT_EQ(o.code, 2) << o;
    EXPECT_NE(o.err.find("schema \"pg_catalog\" is not a rillflow store"), std::string::npos) << o;
    o = run({"schema-sync", "--all-tenants", "--tenant", tenant_});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"health", "bogus"});
    EXPECT_EQ(o.code, 2) << o;
}

}  // namespace
