// Tests of the tenant lifecycle commands: `rillflow tenants status|list|drop|archive|restore`,
// run as the built binary against the server in DATABASE_URL (stdout, stderr, exit code).
// Each test uses tenants of its own.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;
namespace fs = std::filesystem;

class TenantsCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        dir_ = fs::temp_directory_path() / unique("rillflow_cli_archive_");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
        for (const std::string& t : tenants_) run({"tenants", "drop", t, "--force"});
    }
    // A fresh tenant holding `events` events in one stream.
    std::string tenant_with_events(int events) {
        std::string t = unique("clit_");
        tenants_.push_back(t);
        Output o = run({"tenants", "ensure", t});
        EXPECT_EQ(o.code, 0) << o;
        for (int i = 0; i < events; i++) {
            o = run({"--tenant", t, "events", "append", "order-1", "--type", "Placed", "--body",
                     "{\"i\": " + std::to_string(i) + "}"});
            EXPECT_EQ(o.code, 0) << o;
        }
        return t;
    }
    fs::path dir_;
    std::vector<std::string> tenants_;
};

TEST_F(TenantsCli, StatusShowsCountsAndSaysWhenATenantDoesNotExist) {
    std::string t = tenant_with_events(3);
    Output o = run({"--json", "tenants", "status", t});
    ASSERT_EQ(o.code, 0) << o;
    json s = parse(o);
    EXPECT_EQ(s["exists"], true);
    EXPECT_EQ(s["name"], t);
    EXPECT_EQ(s["schema_name"], "rillflow_tenant_" + t);
    EXPECT_GE(s["schema_version"].get<int>(), 1);
    EXPECT_EQ(s["schema_version"],
              parse(run({"--json", "tenants", "status", ""}))["schema_version"])
        << "a new tenant's store is at the default store's version";
    EXPECT_EQ(s["drift"], false);
    EXPECT_EQ(s["streams"], 1);
    EXPECT_EQ(s["events"], 3);
    EXPECT_EQ(s["documents"], 0);
    EXPECT_EQ(s["projections"], 0);
    EXPECT_GT(s["size_bytes"].get<long long>(), 0);

    o = run({"tenants", "status", t});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("events          3"), std::string::npos) << o;
    EXPECT_NE(o.out.find("drift           no"), std::string::npos) << o;

    std::string nobody = unique("clit_nobody_");
    o = run({"--json", "tenants", "status", nobody});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(parse(o)["exists"], false) << o;
    o = run({"tenants", "status", nobody});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_NE(o.out.find("does not exist"), std::string::npos) << o;

    o = run({"tenants", "status", "Bad Name"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
}

TEST_F(TenantsCli, ListShowsTheNewColumns) {
    std::string t = tenant_with_events(2);
    Output o = run({"--json", "tenants", "list"});
    ASSERT_EQ(o.code, 0) << o;
    bool found = false;
    json list = parse(o);
    for (const auto& row : list["tenants"]) {
        if (row["name"] != t) continue;
        found = true;
        EXPECT_EQ(row["events"], 2);
        EXPECT_EQ(row["streams"], 1);
        EXPECT_GE(row["schema_version"].get<int>(), 1);
        EXPECT_EQ(row["drift"], false);
        EXPECT_TRUE(row["size_bytes"].is_number());
    }
    EXPECT_TRUE(found) << o;
    o = run({"tenants", "list"});
    EXPECT_NE(o.out.find(t + "  rillflow_tenant_" + t), std::string::npos) << o;
    EXPECT_NE(o.out.find("events 2"), std::string::npos) << o;
}

TEST_F(TenantsCli, DropNeedsForceForATenantThatHoldsData) {
    std::string t = tenant_with_events(1);
    Output o = run({"tenants", "drop", t});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF007: ", 0), 0u) << o;
    EXPECT_NE(o.err.find("\nhint: "), std::string::npos) << o;
    EXPECT_EQ(parse(run({"--json", "tenants", "status", t}))["exists"], true);

    o = run({"--json", "tenants", "drop", t, "--force"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["dropped"], true);
    EXPECT_EQ(parse(run({"--json", "tenants", "status", t}))["exists"], false);
    o = run({"--tenant", t, "streams", "version", "order-1"});
    EXPECT_EQ(o.err.rfind("error: RF005: ", 0), 0u) << o;

    o = run({"tenants", "drop", t, "--force"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF005: ", 0), 0u) << o;

    std::string empty = unique("clit_");
    ASSERT_EQ(run({"tenants", "ensure", empty}).code, 0);
    o = run({"tenants", "drop", empty});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("dropped tenant " + empty), std::string::npos) << o;
}

TEST_F(TenantsCli, ArchiveThenRestoreBringsTheTenantBack) {
    std::string t = tenant_with_events(4);
    fs::path out = dir_ / "a";
    Output o = run({"--json", "tenants", "archive", t, "--output", out.string()});
    ASSERT_EQ(o.code, 0) << o;
    json m = parse(o)["manifest"];
    EXPECT_EQ(m["tenant"], t);
    EXPECT_EQ(m["counts"]["events"], 4);
    EXPECT_TRUE(fs::exists(out / "store.dump"));
    EXPECT_TRUE(fs::exists(out / "manifest.json"));

    // never over a live tenant
    o = run({"tenants", "restore", t, "--input", out.string()});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 42710: ", 0), 0u) << o;

    ASSERT_EQ(run({"tenants", "drop", t, "--force"}).code, 0);
    o = run({"--json", "tenants", "restore", t, "--input", out.string()});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["counts"]["events"], 4) << o;
    EXPECT_EQ(parse(o)["log_head"], 4) << o;
    // appends go on at the next version
    o = run({"--json", "--tenant", t, "events", "append", "order-1", "--type", "Shipped", "--body",
             "{}", "--expected", "4"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(run({"--json", "tenants", "status", t}))["events"], 5);
}

TEST_F(TenantsCli, ArchiveAndRestoreRefuseWhatDoesNotFit) {
    std::string t = tenant_with_events(1);
    fs::path out = dir_ / "a";
    ASSERT_EQ(run({"tenants", "archive", t, "--output", out.string()}).code, 0);

    // an archive is never written over another
    Output o = run({"tenants", "archive", t, "--output", out.string()});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 58P02: ", 0), 0u) << o;
    // an unknown tenant has nothing to archive
    o = run({"tenants", "archive", unique("clit_nobody_"), "--output", (dir_ / "b").string()});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF005: ", 0), 0u) << o;
    EXPECT_FALSE(fs::exists(dir_ / "b"));
    // the archive is of another tenant
    o = run({"tenants", "restore", unique("clit_other_"), "--input", out.string()});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
    // no archive there
    o = run({"tenants", "restore", t, "--input", (dir_ / "none").string()});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 58P01: ", 0), 0u) << o;
    // pg_dump not found
    o = run({"tenants", "archive", t, "--output", (dir_ / "c").string()}, {},
            {{"PG_BINDIR", "/nonexistent"}});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 58P01: ", 0), 0u) << o;
    // the tenant is untouched by all of it
    EXPECT_EQ(parse(run({"--json", "tenants", "status", t}))["events"], 1);
}

TEST_F(TenantsCli, UsageErrorsExitTwo) {
    EXPECT_EQ(run({"tenants", "drop"}).code, 2);
    EXPECT_EQ(run({"tenants", "status"}).code, 2);
    EXPECT_EQ(run({"tenants", "archive", "x"}).code, 2);
    EXPECT_EQ(run({"tenants", "restore", "x"}).code, 2);
}

}  // namespace
