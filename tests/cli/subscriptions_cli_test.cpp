// Tests of `rillflow subscriptions ...`: run the built binary against the server in
// DATABASE_URL, each test on a fresh tenant so positions start at 1.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

class SubscriptionsCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        tenant_ = unique("cli_sub_");
        Output o = run({"tenants", "ensure", tenant_});
        ASSERT_EQ(o.code, 0) << o;
    }
    // rillflow --tenant <this test's tenant> args...
    Output sub(std::vector<std::string> args) {
        args.insert(args.begin(), {"--tenant", tenant_});
        return run(args);
    }
    void append(const std::string& stream, const std::string& type, int n) {
        for (int i = 0; i < n; ++i) {
            Output o = sub({"events", "append", stream, "--type", type, "--body",
                            "{\"n\": " + std::to_string(i) + "}"});
            ASSERT_EQ(o.code, 0) << o;
        }
    }
    std::vector<long long> tail_positions(std::vector<std::string> args) {
        args.insert(args.begin(), {"--json", "subscriptions", "tail"});
        Output o = sub(args);
        EXPECT_EQ(o.code, 0) << o;
        const json doc = parse(o);  // kept: a range-for over parse(o)["events"] would dangle
        std::vector<long long> out;
        for (const auto& e : doc["events"]) out.push_back(e["position"].get<long long>());
        return out;
    }
    std::string tenant_;
};

TEST_F(SubscriptionsCli, TheSeedsTailCommandsWork) {
    append("orders:1", "Ping", 3);
    append("orders:2", "Pong", 2);
    Output o = sub({"subscriptions", "create", "s1", "--event-type", "Ping", "--start-from", "0"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out, "created subscription s1\n");
    EXPECT_EQ(tail_positions({"s1", "--limit", "2"}), (std::vector<long long>{1, 2}));
    // acked: the next tail goes on from there
    EXPECT_EQ(tail_positions({"s1", "--limit", "10"}), (std::vector<long long>{3}));
    EXPECT_TRUE(tail_positions({"s1", "--limit", "10"}).empty());
    o = sub({"--json", "subscriptions", "status", "s1"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["checkpoint"], 5);
    EXPECT_EQ(parse(o)["lag"], 0);
    // text output: one line per event
    append("orders:1", "Ping", 1);
    o = sub({"subscriptions", "tail", "s1", "--limit", "10"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("Ping"), std::string::npos) << o;
}

TEST_F(SubscriptionsCli, CreateListDropAndErrors) {
    Output o = sub({"subscriptions", "create", "s1", "--category", "orders", "--headers",
                    "{\"source\": \"web\"}"});
    ASSERT_EQ(o.code, 0) << o;
    o = sub({"--json", "subscriptions", "list"});
    ASSERT_EQ(o.code, 0) << o;
    json list = parse(o)["subscriptions"];
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["categories"], json::array({"orders"}));
    EXPECT_EQ(list[0]["headers"], json({{"source", "web"}}));
    o = sub({"subscriptions", "create", "s1"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 42710: ", 0), 0u) << o;
    o = sub({"subscriptions", "create", "bad name"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
    o = sub({"subscriptions", "tail", "missing"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
    o = sub({"subscriptions", "drop", "s1"});
    EXPECT_EQ(o.code, 0) << o;
    o = sub({"subscriptions", "drop", "s1"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
    EXPECT_EQ(sub({"subscriptions", "create", "x", "--start-from", "-1"}).code, 2);
    EXPECT_EQ(sub({"subscriptions", "set-group-max-in-flight", "x"}).code, 2);
}

TEST_F(SubscriptionsCli, GroupsShareTheWorkAndShowTheirState) {
    append("jobs:1", "Job", 4);
    ASSERT_EQ(sub({"subscriptions", "create", "work"}).code, 0);
    Output o =
        sub({"subscriptions", "set-group-max-in-flight", "work", "--group", "g", "--value", "3"});
    ASSERT_EQ(o.code, 0) << o;
    // --no-ack leaves them in flight: the group's bound holds for another consumer
    EXPECT_EQ(tail_positions({"work", "--group", "g", "--consumer", "a", "--no-ack"}),
              (std::vector<long long>{1, 2, 3}));
    EXPECT_TRUE(tail_positions({"work", "--group", "g", "--consumer", "b"}).empty());
    o = sub({"--json", "subscriptions", "group-status", "work", "--group", "g"});
    ASSERT_EQ(o.code, 0) << o;
    json g = parse(o);
    EXPECT_EQ(g["in_flight"], 3);
    EXPECT_EQ(g["max_in_flight"], 3);
    EXPECT_EQ(g["last_seq"], 0);
    EXPECT_EQ(g["consumers"].size(), 2u);
    // acks by hand, as the consumer they went to
    o = sub({"subscriptions", "ack", "work", "2", "--group", "g", "--consumer", "b"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF006: ", 0), 0u) << o;
    o = sub({"subscriptions", "ack", "work", "1", "2", "--group", "g", "--consumer", "a"});
    ASSERT_EQ(o.code, 0) << o;
    o = sub({"subscriptions", "set-group-max-in-flight", "work", "--group", "g"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("unset"), std::string::npos) << o;
    EXPECT_EQ(tail_positions({"work", "--group", "g", "--consumer", "b"}),
              (std::vector<long long>{4}));
    o = sub({"--json", "subscriptions", "groups", "work"});
    ASSERT_EQ(o.code, 0) << o;
    json groups = parse(o)["groups"];
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0]["group_name"], "g");
    EXPECT_EQ(groups[0]["checkpoint"], 2);  // 3 is still a's
    o = sub({"--json", "subscriptions", "lag"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["lag"][0]["lag"], 2);
}

TEST_F(SubscriptionsCli, DeadLettersCanBeListedRequeuedAndDeleted) {
    append("jobs:1", "Job", 1);
    ASSERT_EQ(sub({"subscriptions", "create", "work"}).code, 0);
    Output o =
        sub({"subscriptions", "configure-group", "work", "--group", "g", "--max-deliveries", "1"});
    ASSERT_EQ(o.code, 0) << o;
    // delivered once, given back by nobody: the group's SQL dead-letters it after its lease
    o = sub({"--json", "subscriptions", "dlq-list", "work", "--group", "g"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_TRUE(parse(o)["dead_letters"].empty());
    o = sub({"--json", "subscriptions", "dlq-requeue", "work", "--group", "g"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["requeued"], 0);
    o = sub({"--json", "subscriptions", "dlq-delete", "work", "--group", "g", "--position", "1"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["deleted"], 0);
    o = sub({"subscriptions", "dlq-list", "missing"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
}

}  // namespace
