// Tests of the archive commands: `rillflow streams archive|reactivate`, `streams read
// --archived`, `archive run|status|backend`, run as the built binary against the server in
// DATABASE_URL. Each test uses a tenant of its own.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;

class ArchiveCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        tenant_ = unique("clia_");
        Output o = run({"tenants", "ensure", tenant_});
        ASSERT_EQ(o.code, 0) << o;
    }
    void TearDown() override { run({"tenants", "drop", tenant_, "--force"}); }
    Output in_tenant(std::vector<std::string> args) {
        args.insert(args.begin(), {"--tenant", tenant_});
        return run(args);
    }
    // Appends `n` events to the stream with alias `alias`.
    void append(const std::string& alias, int n) {
        for (int i = 0; i < n; ++i) {
            Output o = in_tenant({"events", "append", alias, "--type", "E", "--body",
                                  "{\"n\": " + std::to_string(i) + "}"});
            ASSERT_EQ(o.code, 0) << o;
        }
    }
    std::string tenant_;
};

TEST_F(ArchiveCli, StreamsArchiveAndReactivateMoveAStreamAndReadsFollow) {
    append("acct-1", 3);
    Output o = in_tenant({"streams", "archive", "acct-1", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["archived"], true);
    o = in_tenant({"streams", "archive", "acct-1"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("already archived"), std::string::npos) << o;

    o = in_tenant({"streams", "read", "acct-1", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_TRUE(parse(o)["events"].empty()) << o;
    o = in_tenant({"streams", "read", "acct-1", "--archived", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["events"].size(), 3U) << o;

    o = in_tenant({"streams", "reactivate", "acct-1", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["reactivated"], true);
    o = in_tenant({"streams", "read", "acct-1", "--json"});
    EXPECT_EQ(parse(o)["events"].size(), 3U) << o;
}

TEST_F(ArchiveCli, ArchiveRunArchivesIdleStreamsInBatchesAndStatusShowsTheMetrics) {
    for (int i = 0; i < 5; ++i) append("s-" + std::to_string(i), 1);
    Output o = in_tenant({"archive", "run", "--idle-for", "30d", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["archived_streams"], 0);
    o = in_tenant({"archive", "run", "--idle-for", "0s", "--batch", "2", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["archived_streams"], 5);
    EXPECT_EQ(parse(o)["batches"], 3);

    o = in_tenant({"archive", "status", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    nlohmann::json doc = parse(o);
    ASSERT_EQ(doc.size(), 1U) << o;
    EXPECT_EQ(doc[0]["tenant"], tenant_);
    EXPECT_EQ(doc[0]["backend"], "dual_table");
    EXPECT_EQ(doc[0]["metrics"]["archive_streams_marked_total"], 5);
    EXPECT_EQ(doc[0]["metrics"]["archive_events_moved_total"], 5);
    EXPECT_EQ(doc[0]["metrics"]["archive_move_batches_total"], 3);
    EXPECT_TRUE(doc[0]["metrics"].contains("archive_events_hot_bytes"));

    o = in_tenant({"archive", "status"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("archive_streams_marked_total 5"), std::string::npos) << o;

    o = in_tenant({"archive", "run", "--idle-for", "soon"});
    EXPECT_NE(o.code, 0) << o;
    EXPECT_NE(o.err.find("--idle-for"), std::string::npos) << o;
}

TEST_F(ArchiveCli, ArchiveBackendSwitchesTheStoreWithItsEventsInPlace) {
    append("acct-1", 2);
    ASSERT_EQ(in_tenant({"streams", "archive", "acct-1"}).code, 0);
    Output o = in_tenant({"archive", "backend", "partitioned", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["changed"], true);
    o = in_tenant({"archive", "backend", "partitioned"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("already partitioned"), std::string::npos) << o;
    o = in_tenant({"streams", "read", "acct-1", "--archived", "--json"});
    EXPECT_EQ(parse(o)["events"].size(), 2U) << o;
    // an append reactivates the archived stream on the new backend
    append("acct-1", 1);
    o = in_tenant({"streams", "read", "acct-1", "--json"});
    EXPECT_EQ(parse(o)["events"].size(), 3U) << o;
    o = in_tenant({"archive", "backend", "dual-table", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["backend"], "dual_table");
    o = in_tenant({"archive", "backend", "hot-cold"});
    EXPECT_NE(o.code, 0) << o;
}

TEST_F(ArchiveCli, ATenantArchiveOfAPartitionedStoreWithArchivedStreamsRestores) {
    append("acct-1", 2);
    append("acct-2", 1);
    ASSERT_EQ(in_tenant({"archive", "backend", "partitioned"}).code, 0);
    ASSERT_EQ(in_tenant({"streams", "archive", "acct-1"}).code, 0);
    const std::string dir = "/tmp/" + unique("rillflow_archive_cli_");
    Output o = run({"tenants", "archive", tenant_, "--output", dir});
    ASSERT_EQ(o.code, 0) << o;
    ASSERT_EQ(run({"tenants", "drop", tenant_, "--force"}).code, 0);
    o = run({"tenants", "restore", tenant_, "--input", dir});
    ASSERT_EQ(o.code, 0) << o;
    o = in_tenant({"archive", "status", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)[0]["backend"], "partitioned") << o;
    o = in_tenant({"streams", "read", "acct-1", "--json"});
    EXPECT_TRUE(parse(o)["events"].empty()) << o;
    o = in_tenant({"streams", "read", "acct-1", "--archived", "--json"});
    EXPECT_EQ(parse(o)["events"].size(), 2U) << o;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}

}  // namespace
