// Tests of the rillflow CLI: run the built binary against the server in DATABASE_URL (a
// database with the extension) and check its stdout, stderr and exit code.
//
// Each test works on its own aliases and, where it reads the global log, its own tenant, so
// the tests do not depend on what else is in the database.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

extern char** environ;

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

size_t count_lines(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

class Cli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        // These tests need a server; the harness always names one.
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        url_ = url;
    }
    // A fresh tenant, so the global log starts empty.
    std::string fresh_tenant() {
        std::string t = unique("cli_");
        Output o = run({"tenants", "ensure", t});
        EXPECT_EQ(o.code, 0) << o;
        return t;
    }
    std::string url_;
};

// ---------------------------------------------------------------- usage and connection

TEST_F(Cli, HelpAndVersion) {
    Output o = run({"--help"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("streams"), std::string::npos) << o;
    EXPECT_NE(o.out.find("--database-url"), std::string::npos) << o;
    o = run({"events", "append", "--help"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("--idempotency-key"), std::string::npos) << o;
    o = run({"--version"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_FALSE(trim(o.out).empty()) << o;
}

TEST_F(Cli, UsageErrorsExitTwo) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {},
             {"streams"},
             {"streams", "read"},
             {"no-such-command"},
             {"streams", "read", "x", "--from", "0"},
             {"streams", "read", "x", "--max", "many"},
             {"events", "append", "s"},
             {"events", "append", "s", "--type", "T"},
             {"events", "append", "s", "--type", "T", "--body", "{}", "--events", "[]"},
             {"events", "append", "s", "--type", "T", "--body", "{}", "--expected", "latest"},
             {"events", "tail", "--after", "-1"},
         }) {
        Output o = run(args);
        EXPECT_EQ(o.code, 2) << testing::PrintToString(args) << "\n" << o;
        EXPECT_FALSE(o.err.empty()) << o;
        EXPECT_TRUE(o.out.empty() || args.empty()) << o;
    }
}

TEST_F(Cli, NoDatabaseIsAUsageError) {
    Output o = run({"streams", "resolve", "a"}, {}, {{"DATABASE_URL", std::nullopt}});
    EXPECT_EQ(o.code, 2) << o;
    EXPECT_NE(o.err.find("DATABASE_URL"), std::string::npos) << o;
}

TEST_F(Cli, UnreachableDatabaseExitsThree) {
    for (const std::string& url :
         {std::string("postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=5"),
          std::string("postgresql://nobody@/nothing?host=/nonexistent/socket/dir")}) {
        Output o = run({"--database-url", url, "streams", "resolve", "a"});
        EXPECT_EQ(o.code, 3) << o;
        EXPECT_EQ(o.err.rfind("error: 08", 0), 0u) << o;
        EXPECT_TRUE(o.out.empty()) << o;
    }
    // The flag wins over the environment.
    Output o = run({"--database-url", "postgresql://nobody@127.0.0.1:1/x", "tenants", "list"}, {},
                   {{"DATABASE_URL", url_}});
    EXPECT_EQ(o.code, 3) << o;
}

TEST_F(Cli, DatabaseUrlFlag) {
    Output o = run({"--database-url", url_, "streams", "resolve", unique("flag-")}, {},
                   {{"DATABASE_URL", std::nullopt}});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(trim(o.out).size(), 36u) << o;
}

// ---------------------------------------------------------------- streams

TEST_F(Cli, ResolveIsStable) {
    std::string alias = unique("order-");
    Output a = run({"streams", "resolve", alias});
    ASSERT_EQ(a.code, 0) << a;
    std::string id = trim(a.out);
    EXPECT_EQ(id.size(), 36u) << a;
    Output b = run({"--json", "streams", "resolve", alias});
    ASSERT_EQ(b.code, 0) << b;
    json j = parse(b);
    EXPECT_EQ(j["alias"], alias);
    EXPECT_EQ(j["stream_id"], id);
    // Options may come after the subcommand too.
    Output c = run({"streams", "resolve", alias, "--json"});
    EXPECT_EQ(parse(c)["stream_id"], id) << c;
}

TEST_F(Cli, BadAliasIs22023) {
    Output o = run({"streams", "resolve", std::string(513, 'a')});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
}

TEST_F(Cli, VersionOfMissingAndExistingStream) {
    std::string alias = unique("v-");
    Output o = run({"streams", "version", alias});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(trim(o.out), "none") << o;
    o = run({"--json", "streams", "version", alias});
    EXPECT_TRUE(parse(o)["version"].is_null()) << o;

    ASSERT_EQ(run({"events", "append", alias, "--type", "T", "--body", "{}"}).code, 0);
    ASSERT_EQ(run({"events", "append", alias, "--type", "T", "--body", "{}"}).code, 0);
    o = run({"streams", "version", alias});
    EXPECT_EQ(trim(o.out), "2") << o;
    json j = parse(run({"--json", "streams", "version", alias}));
    EXPECT_EQ(j["version"], 2);
    EXPECT_EQ(j["alias"], alias);

    // By id as well as by alias.
    std::string id = j["stream_id"];
    o = run({"streams", "version", id});
    EXPECT_EQ(trim(o.out), "2") << o;
}

// ---------------------------------------------------------------- events append

TEST_F(Cli, AppendOneEventAndReadIt) {
    std::string alias = unique("one-");
    Output o = run({"events", "append", alias, "--type", "OrderPlaced", "--body",
                    R"({"sku": "A1", "qty": 2})"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("version 1"), std::string::npos) << o;

    o = run({"--json", "events", "append", alias, "--type", "ItemAdded", "--body",
             R"({"sku": "B"})", "--expected", "1", "--headers", R"({"user": "ann"})",
             "--causation-id", "11111111-1111-4111-8111-111111111111", "--correlation-id",
             "22222222-2222-4222-8222-222222222222"});
    ASSERT_EQ(o.code, 0) << o;
    json j = parse(o);
    EXPECT_EQ(j["version"], 2);
    EXPECT_EQ(j["first_version"], 2);
    EXPECT_EQ(j["count"], 1);
    EXPECT_EQ(j["alias"], alias);

    o = run({"--json", "streams", "read", alias});
    ASSERT_EQ(o.code, 0) << o;
    j = parse(o);
    ASSERT_EQ(j["events"].size(), 2u) << o;
    const json& e1 = j["events"][0];
    const json& e2 = j["events"][1];
    EXPECT_EQ(e1["version"], 1);
    EXPECT_EQ(e1["type"], "OrderPlaced");
    EXPECT_EQ(e1["body"], json::parse(R"({"sku": "A1", "qty": 2})"));
    EXPECT_EQ(e1["headers"], json::object());
    EXPECT_TRUE(e1["causation_id"].is_null());
    EXPECT_EQ(e2["version"], 2);
    EXPECT_EQ(e2["headers"]["user"], "ann");
    EXPECT_EQ(e2["causation_id"], "11111111-1111-4111-8111-111111111111");
    EXPECT_EQ(e2["correlation_id"], "22222222-2222-4222-8222-222222222222");
    EXPECT_EQ(e2["event_id"].get<std::string>().size(), 36u);
    EXPECT_EQ(e2["created_at"].get<std::string>().back(), 'Z');
    for (const char* key : {"position", "stream_id", "version", "type", "event_version", "body",
                            "headers", "event_id", "causation_id", "correlation_id", "created_at"})
        EXPECT_TRUE(e1.contains(key)) << key;

    // Human output: one line per event, in version order.
    o = run({"streams", "read", alias});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(count_lines(o.out), 2u) << o;
    EXPECT_LT(o.out.find("OrderPlaced"), o.out.find("ItemAdded")) << o;
}

TEST_F(Cli, AppendBatchFromArgumentAndStdin) {
    std::string alias = unique("batch-"), event_id = random_uuid();
    Output o = run({"--json", "events", "append", alias, "--expected", "no-stream", "--events",
                    R"([{"type": "A", "body": {"n": 1}},
                        {"type": "B", "body": [1, 2], "event_version": 2, "event_id": ")" +
                        event_id + R"("}])"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["version"], 2);
    EXPECT_EQ(parse(o)["count"], 2);

    o = run({"events", "append", alias, "--expected", "exists", "--events", "-"},
            R"([{"type": "C", "body": "text", "headers": {"h": 1}}, {"type": "D", "body": null}])");
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("appended 2 events"), std::string::npos) << o;
    EXPECT_NE(o.out.find("version 4"), std::string::npos) << o;

    json j = parse(run({"--json", "streams", "read", alias}));
    ASSERT_EQ(j["events"].size(), 4u);
    std::vector<std::string> types;
    for (const auto& e : j["events"]) types.push_back(e["type"]);
    EXPECT_EQ(types, (std::vector<std::string>{"A", "B", "C", "D"}));
    EXPECT_EQ(j["events"][1]["event_version"], 2);
    EXPECT_EQ(j["events"][1]["event_id"], event_id);
    EXPECT_EQ(j["events"][2]["headers"]["h"], 1);
    EXPECT_EQ(j["events"][2]["body"], "text");

    // --from and --max.
    j = parse(run({"--json", "streams", "read", alias, "--from", "2", "--max", "2"}));
    ASSERT_EQ(j["events"].size(), 2u);
    EXPECT_EQ(j["events"][0]["version"], 2);
    EXPECT_EQ(j["events"][1]["version"], 3);
    // Reading by stream id.
    std::string id = j["stream_id"];
    j = parse(run({"--json", "streams", "read", id, "--from", "4"}));
    ASSERT_EQ(j["events"].size(), 1u);
    EXPECT_FALSE(j.contains("alias"));
}

TEST_F(Cli, VersionConflictIsRF001) {
    std::string alias = unique("occ-");
    ASSERT_EQ(
        run({"events", "append", alias, "--type", "T", "--body", "{}", "--expected", "exists"})
            .err.rfind("error: RF001: ", 0),
        0u);
    ASSERT_EQ(
        run({"events", "append", alias, "--type", "T", "--body", "{}", "--expected", "no-stream"})
            .code,
        0);
    for (const char* expected : {"no-stream", "5", "0"}) {
        Output o =
            run({"events", "append", alias, "--type", "T", "--body", "{}", "--expected", expected});
        EXPECT_EQ(o.code, 1) << o;
        EXPECT_EQ(o.err.rfind("error: RF001: ", 0), 0u) << o;
        EXPECT_NE(o.err.find("\ndetail: "), std::string::npos) << o;
        EXPECT_TRUE(o.out.empty()) << o;
    }
    Output o = run({"events", "append", alias, "--type", "T", "--body", "{}", "--expected", "1"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(trim(run({"streams", "version", alias}).out), "2");
}

TEST_F(Cli, RepeatedIdempotencyKeyIsRF002) {
    std::string alias = unique("idem-"), key = unique("key-");
    std::vector<std::string> args{
        "events", "append", alias, "--type", "Paid", "--body", "{}", "--idempotency-key", key};
    Output o = run(args);
    ASSERT_EQ(o.code, 0) << o;
    o = run(args);
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF002: ", 0), 0u) << o;
    EXPECT_NE(o.err.find("detail: "), std::string::npos) << o;
    EXPECT_EQ(trim(run({"streams", "version", alias}).out), "1");
}

TEST_F(Cli, BadInputGetsTheServersSqlstates) {
    std::string alias = unique("bad-");
    struct Case {
        std::vector<std::string> args;
        std::string sqlstate;
    };
    std::vector<Case> cases{
        {{"--body", "{not json", "--type", "T"}, "22P02"},
        {{"--body", "{}", "--type", "T", "--headers", "[oops"}, "22P02"},
        {{"--body", "{}", "--type", "T", "--headers", "[1]"}, "22023"},  // server: not an object
        {{"--body", "{}", "--type", "T", "--causation-id", "not-a-uuid"}, "22P02"},
        {{"--body", "{}", "--type", "T", "--expected", "-2"}, "22023"},  // server
        {{"--events", "{\"type\": \"T\"}"}, "22023"},
        {{"--events", "[]"}, "22023"},
        {{"--events", "[{\"type\": \"T\", \"body\": {}, \"color\": 1}]"}, "22023"},
        {{"--events", "[{\"body\": {}}]"}, "22023"},
        {{"--events", "[{\"type\": \"T\", \"body\": 1, \"event_id\": \"nope\"}]"}, "22P02"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args{"events", "append", alias};
        args.insert(args.end(), c.args.begin(), c.args.end());
        Output o = run(args);
        EXPECT_EQ(o.code, 1) << testing::PrintToString(args) << "\n" << o;
        EXPECT_EQ(o.err.rfind("error: " + c.sqlstate + ": ", 0), 0u)
            << testing::PrintToString(args) << "\n"
            << o;
    }
    // Nothing was appended by any of them.
    EXPECT_EQ(trim(run({"streams", "version", alias}).out), "none");
}

// ---------------------------------------------------------------- tenants

TEST_F(Cli, TenantsEnsureListAndUse) {
    std::string t = unique("cli_");
    Output o = run({"--json", "tenants", "ensure", t});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["created"], true);
    EXPECT_EQ(parse(o)["tenant"], t);
    o = run({"tenants", "ensure", t});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("exists"), std::string::npos) << o;

    o = run({"--json", "tenants", "list"});
    ASSERT_EQ(o.code, 0) << o;
    bool found = false;
    json list = parse(o);
    for (const auto& row : list["tenants"])
        if (row["name"] == t) {
            found = true;
            EXPECT_EQ(row["schema_name"], "rillflow_tenant_" + t);
        }
    EXPECT_TRUE(found) << o;
    o = run({"tenants", "list"});
    EXPECT_NE(o.out.find(t), std::string::npos) << o;

    // The tenant's store is its own: an alias there is not the default store's.
    std::string alias = unique("tenant-stream-");
    ASSERT_EQ(run({"--tenant", t, "events", "append", alias, "--type", "T", "--body", "{}"}).code,
              0);
    EXPECT_EQ(trim(run({"--tenant", t, "streams", "version", alias}).out), "1");
    EXPECT_EQ(trim(run({"streams", "version", alias}).out), "none");
    // RILLFLOW_TENANT works like --tenant.
    o = run({"streams", "version", alias}, {}, {{"RILLFLOW_TENANT", t}});
    EXPECT_EQ(trim(o.out), "1") << o;

    o = run({"tenants", "ensure", "Not-Valid"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
}

TEST_F(Cli, UnknownTenantIsRF005) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"streams", "version", "x"},
             {"events", "append", "x", "--type", "T", "--body", "{}"},
             {"events", "tail"}}) {
        std::vector<std::string> a{"--tenant", unique("missing_")};
        a.insert(a.end(), args.begin(), args.end());
        Output o = run(a);
        EXPECT_EQ(o.code, 1) << o;
        EXPECT_EQ(o.err.rfind("error: RF005: ", 0), 0u) << o;
        EXPECT_NE(o.err.find("\nhint: "), std::string::npos) << o;
    }
}

// ---------------------------------------------------------------- events tail

TEST_F(Cli, TailReadsTheGlobalLog) {
    std::string t = fresh_tenant();
    for (int i = 1; i <= 5; i++)
        ASSERT_EQ(run({"--tenant", t, "events", "append", "s" + std::to_string(i % 2), "--type",
                       i % 2 ? "Odd" : "Even", "--body", "{\"i\": " + std::to_string(i) + "}"})
                      .code,
                  0);

    Output o = run({"--tenant", t, "--json", "events", "tail"});
    ASSERT_EQ(o.code, 0) << o;
    json j = parse(o);
    ASSERT_EQ(j["events"].size(), 5u) << o;
    for (int i = 0; i < 5; i++) {
        EXPECT_EQ(j["events"][i]["position"], i + 1);
        EXPECT_EQ(j["events"][i]["body"]["i"], i + 1);
    }
    EXPECT_EQ(j["after"], 0);
    EXPECT_EQ(j["last_position"], 5);

    j = parse(run({"--tenant", t, "--json", "events", "tail", "--after", "2", "--max", "2"}));
    ASSERT_EQ(j["events"].size(), 2u);
    EXPECT_EQ(j["events"][0]["position"], 3);
    EXPECT_EQ(j["last_position"], 4);

    j = parse(run({"--tenant", t, "--json", "events", "tail", "--types", "Even,Nothing"}));
    ASSERT_EQ(j["events"].size(), 2u);
    EXPECT_EQ(j["events"][0]["position"], 2);
    EXPECT_EQ(j["events"][1]["position"], 4);

    o = run({"--tenant", t, "events", "tail", "--after", "3"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(count_lines(o.out), 2u) << o;
    EXPECT_EQ(o.out.rfind("#4 ", 0), 0u) << o;

    j = parse(run({"--tenant", t, "--json", "events", "tail", "--after", "5"}));
    EXPECT_TRUE(j["events"].empty());
    EXPECT_EQ(j["last_position"], 5);
}

TEST_F(Cli, TailFollowPrintsNewEventsUntilInterrupted) {
    std::string t = fresh_tenant();
    ASSERT_EQ(run({"--tenant", t, "events", "append", "s", "--type", "Before", "--body", "1"}).code,
              0);
    Process follow({"--tenant", t, "--json", "events", "tail", "--follow", "--interval", "20"});
    auto lines = [](size_t n) { return [n](const std::string& s) { return count_lines(s) >= n; }; };
    ASSERT_TRUE(follow.read_until(lines(1), std::chrono::seconds(10))) << follow.out << follow.err;

    ASSERT_EQ(run({"--tenant", t, "events", "append", "s", "--type", "After", "--body", "2"}).code,
              0);
    ASSERT_EQ(run({"--tenant", t, "events", "append", "s2", "--type", "Later", "--body", "3"}).code,
              0);
    ASSERT_TRUE(follow.read_until(lines(3), std::chrono::seconds(10))) << follow.out << follow.err;

    follow.signal(SIGINT);
    Output o = follow.wait(std::chrono::seconds(10));
    EXPECT_EQ(o.code, 0) << o;
    // JSON Lines: one envelope per line, positions 1, 2, 3.
    std::vector<json> events;
    size_t start = 0;
    for (size_t nl; (nl = o.out.find('\n', start)) != std::string::npos; start = nl + 1)
        events.push_back(json::parse(o.out.substr(start, nl - start)));
    ASSERT_EQ(events.size(), 3u) << o;
    EXPECT_EQ(events[0]["type"], "Before");
    EXPECT_EQ(events[1]["type"], "After");
    EXPECT_EQ(events[2]["type"], "Later");
    for (int i = 0; i < 3; i++) EXPECT_EQ(events[i]["position"], i + 1);
}

TEST_F(Cli, TailFollowStopsAfterMax) {
    std::string t = fresh_tenant();
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(run({"--tenant", t, "events", "append", "s", "--type", "T", "--body", "{}"}).code,
                  0);
    Process follow({"--tenant", t, "events", "tail", "--follow", "--max", "2"});
    Output o = follow.wait(std::chrono::seconds(10));
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(count_lines(o.out), 2u) << o;
}

}  // namespace

// ---------------------------------------------------------------- projections

TEST_F(Cli, ProjectionsAdminOnAFreshStore) {
    std::string t = fresh_tenant();
    Output o = run({"--json", "--tenant", t, "projections", "list"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["projections"], json::array());
    o = run({"--json", "--tenant", t, "projections", "run-until-idle"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["applied"], 0);

    for (auto args : std::vector<std::vector<std::string>>{
             {"projections", "status", "nope"},
             {"projections", "pause", "nope"},
             {"projections", "dlq-list", "nope"},
             {"projections", "cluster-status", "--cluster-name", "nope"},
             {"projections", "promote", "--cluster-name", "nope", "n1"},
             {"projections", "demote", "--cluster-name", "nope", "n1"}}) {
        args.insert(args.begin(), {"--tenant", t});
        o = run(args);
        EXPECT_EQ(o.code, 1) << o;
        EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
    }
    o = run({"--tenant", t, "projections", "cluster-status", "--cluster-name", "bad name"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
}

TEST_F(Cli, ProjectionsRunLoopFlagsAreChecked) {
    Output o = run({"projections", "run-loop", "--cluster-mode", "hotcold"});
    EXPECT_EQ(o.code, 2) << o;
    EXPECT_NE(o.err.find("--cluster-name"), std::string::npos) << o;
    o = run({"projections", "run-loop", "--cluster-mode", "bogus"});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"projections", "run-loop", "--lease-ttl-secs", "-1"});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"projections", "reset-checkpoint", "x"});
    EXPECT_EQ(o.code, 2) << o;
}

namespace {

// GET `path` from 127.0.0.1:`port` with a bare HTTP/1.0 request; the whole response.
std::string http_get(int port, const std::string& path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return {};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    std::string response;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
        if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
            char buf[4096];
            for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                response.append(buf, static_cast<size_t>(n));
        }
    }
    close(fd);
    return response;
}

}  // namespace

// run-loop for real: it joins a hot/cold cluster as its only (so hot) node, serves health and
// metrics, and on SIGTERM leaves the cluster and exits 0.
TEST_F(Cli, ProjectionsRunLoopServesHealthAndLeavesOnSigterm) {
    std::string t = fresh_tenant();
    std::string cluster = unique("c");
    Process loop({"--tenant", t, "projections", "run-loop", "--cluster-mode", "hotcold",
                  "--cluster-name", cluster, "--node-id", "n1", "--heartbeat-secs", "0.2",
                  "--lease-ttl-secs", "2", "--health-bind", "127.0.0.1:0"});
    ASSERT_TRUE(loop.read_until(
        [&](const std::string&) {
            auto at = loop.err.find("health on port ");
            return at != std::string::npos && loop.err.find('\n', at) != std::string::npos;
        },
        std::chrono::seconds(15)))
        << loop.out << loop.err;
    int port = std::atoi(loop.err.c_str() + loop.err.find("health on port ") + 15);
    ASSERT_GT(port, 0) << loop.err;

    // The node becomes hot at its first heartbeat.
    json status;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (;;) {
        Output o = run(
            {"--json", "--tenant", t, "projections", "cluster-status", "--cluster-name", cluster});
        if (o.code == 0) {
            status = parse(o);
            if (status.dump().find("\"hot\"") != std::string::npos) break;
        }
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << o;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_NE(status.dump().find("\"n1\""), std::string::npos) << status.dump(2);

    std::string metrics = http_get(port, "/metrics");
    EXPECT_NE(metrics.find("200"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("daemon_node_hot{cluster=\"" + cluster + "\",node=\"n1\"} 1"),
              std::string::npos)
        << metrics;
    // the database's metrics, under the names rillflow.metrics() gives them
    EXPECT_NE(metrics.find("# TYPE rillflow_log_head gauge"), std::string::npos) << metrics;
    EXPECT_NE(
        metrics.find("rillflow_log_head{store=\"rillflow_tenant_" + t + "\",tenant=\"" + t + "\"}"),
        std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("daemon_cluster_healthy"), std::string::npos) << metrics;
    std::string health = http_get(port, "/");
    auto body = health.find("\r\n\r\n");
    ASSERT_NE(body, std::string::npos) << health;
    json h = json::parse(health.substr(body + 4), nullptr, false);
    ASSERT_FALSE(h.is_discarded()) << health;
    EXPECT_NE(h.dump().find(cluster), std::string::npos) << h.dump(2);

    loop.signal(SIGTERM);
    Output o = loop.wait(std::chrono::seconds(15));
    EXPECT_EQ(o.code, 0) << o;
    // It left the cluster on the way out: the cluster went with its last node.
    o = run({"--tenant", t, "projections", "cluster-status", "--cluster-name", cluster});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
}

// ---------------------------------------------------------------- maintenance

namespace {

TEST_F(Cli, MaintenanceRunReportsEveryStore) {
    std::string tenant = fresh_tenant();
    Output o = run({"maintenance", "run", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    json stores = json::parse(o.out);
    ASSERT_TRUE(stores.is_array()) << o;
    bool saw_default = false, saw_tenant = false;
    for (const auto& s : stores) {
        EXPECT_TRUE(s.at("error").is_null()) << s;
        saw_default = saw_default || s.at("tenant").is_null();
        saw_tenant = saw_tenant || s.at("tenant") == tenant;
    }
    EXPECT_TRUE(saw_default) << o;
    EXPECT_TRUE(saw_tenant) << o;
    o = run({"maintenance", "run"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("(default store): "), std::string::npos) << o;
    EXPECT_EQ(run({"maintenance", "run", "--max-batches", "0"}).code, 2);
    EXPECT_EQ(run({"maintenance"}).code, 2);
}

}  // namespace
