// Tests of `rillflow docs ...`: run the built binary against the server in DATABASE_URL and
// check stdout, stderr and the exit code. Each test uses its own collection.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

// A short random hex string, for file names.
std::string hex(int digits) {
    static std::mt19937_64 rng(std::random_device{}());
    static const char* h = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < digits; i++) s += h[rng() % 16];
    return s;
}

class DocsCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        coll_ = unique("cli_");
        Output o = run({"docs", "collections", "create", coll_});
        ASSERT_EQ(o.code, 0) << o;
    }
    // args + --collection <this test's collection>
    Output docs(std::vector<std::string> args, const std::string& input = {}) {
        args.insert(args.begin(), "docs");
        args.push_back("--collection");
        args.push_back(coll_);
        return run(args, input);
    }
    std::string coll_;
};

TEST_F(DocsCli, PutGetAndVersionChecks) {
    const std::string id = random_uuid();
    Output o = docs({"put", id, R"({"email": "ann@x.com", "age": 30})"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out, "put " + id + ": version 1\n");

    o = docs({"get", id, "--json"});
    ASSERT_EQ(o.code, 0) << o;
    json j = parse(o);
    EXPECT_EQ(j["id"], id);
    EXPECT_EQ(j["collection"], coll_);
    EXPECT_EQ(j["version"], 1);
    EXPECT_EQ(j["data"], json({{"email", "ann@x.com"}, {"age", 30}}));

    o = docs({"get", id});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out.substr(0, o.out.find('\n')), id + "  version 1");

    // From stdin, with the right and a wrong expected version.
    o = docs({"put", id, "-", "--expected-version", "1", "--json"}, R"({"age": 31})");
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["version"], 2);
    o = docs({"put", id, R"({"age": 1})", "--expected-version", "1"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF003: ", 0), 0u) << o;
    o = docs({"put", random_uuid(), "{}", "--expected-version", "0"});
    EXPECT_EQ(o.code, 0) << o;

    // From a file.
    const std::string path = "/tmp/rillflow_docs_cli_" + hex(8) + ".json";
    std::ofstream(path) << R"({"from": "file"})";
    o = docs({"put", id, "@" + path, "--json"});
    std::remove(path.c_str());
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(docs({"get", id, "--json"}))["data"], json({{"from", "file"}}));
}

TEST_F(DocsCli, BadInputExitsWithTheSqlstate) {
    Output o = docs({"get", random_uuid()});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
    o = docs({"get", "not-a-uuid"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22P02: ", 0), 0u) << o;
    o = docs({"put", random_uuid(), "{not json"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22P02: ", 0), 0u) << o;
    o = docs({"put", random_uuid(), "[1, 2]"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
    o = docs({"put", random_uuid(), "@/no/such/file.json"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 58P01: ", 0), 0u) << o;
    o = docs({"query", "--filter", R"({"eq": ["a..b", 1]})"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
    o = run({"docs", "get", random_uuid(), "--collection", "Bad; drop"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
    // Usage mistakes exit 2.
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"docs"},
             {"docs", "get"},
             {"docs", "put", random_uuid()},
             {"docs", "put", random_uuid(), "{}", "--expected-version", "-1"},
             {"docs", "query", "--limit", "x"},
             {"docs", "query", "--order-by", "a:sideways"},
             {"docs", "duplicated-fields"},
             {"docs", "index-advisor"}}) {
        o = run(args);
        EXPECT_EQ(o.code, 2) << args.size() << " " << o;
    }
}

TEST_F(DocsCli, QueryCountAndDeletes) {
    std::vector<std::string> ids;
    for (int i = 1; i <= 5; i++) {
        ids.push_back(random_uuid());
        json d = {{"n", i},
                  {"status", i % 2 ? "odd" : "even"},
                  {"email", "U" + std::to_string(i) + "@x"}};
        ASSERT_EQ(docs({"put", ids.back(), d.dump()}).code, 0);
    }
    Output o = docs({"query", "--filter", R"({"eq": ["status", "odd"]})", "--order-by", "n:desc",
                     "--limit", "2", "--select", "n,$id", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    json j = parse(o);
    EXPECT_EQ(j["count"], 2);
    EXPECT_EQ(j["rows"], json::parse(R"([{"n": 5, "$id": ")" + ids[4] + R"("}, {"n": 3, "$id": ")" +
                                     ids[2] + R"("}])"));

    o = docs({"query", "--order-by", "n", "--offset", "3"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out, R"({"email":"U4@x","n":4,"status":"even"})"
                     "\n"
                     R"({"email":"U5@x","n":5,"status":"odd"})"
                     "\n");

    o = docs({"count", "--filter", "-"}, R"({"gte": ["n", 2]})");
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out, "4\n");

    o = docs({"soft-delete", ids[0], "--json"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["soft_deleted"], true);
    EXPECT_EQ(docs({"count"}).out, "4\n");
    EXPECT_EQ(docs({"count", "--include-deleted"}).out, "5\n");
    EXPECT_EQ(parse(docs({"query", "--include-deleted", "--json"}))["count"], 5);
    o = docs({"soft-delete", ids[0]});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out, "no live document: " + ids[0] + "\n");
    o = docs({"restore", ids[0]});
    EXPECT_EQ(o.out, "restored " + ids[0] + "\n") << o;
    o = docs({"delete", ids[0], "--expected-version", "1"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF003: ", 0), 0u) << o;
    o = docs({"delete", ids[0], "--expected-version", "3", "--json"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["deleted"], true);
    EXPECT_EQ(docs({"count", "--include-deleted"}).out, "4\n");
}

TEST_F(DocsCli, DuplicatedFieldsIndexAdvisorAndCollections) {
    ASSERT_EQ(docs({"put", random_uuid(), R"({"email": "A@X.com"})"}).code, 0);
    Output o = docs({"duplicated-fields", "add", "--path", "email", "--column", "email_lc",
                     "--type", "text", "--transform", "lower({value})", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["indexed"], true);
    o = docs({"duplicated-fields", "list", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    json fields = parse(o)["fields"];
    ASSERT_EQ(fields.size(), 1u);
    EXPECT_EQ(fields[0]["column_name"], "email_lc");
    EXPECT_EQ(fields[0]["transform"], "lower({value})");
    o = docs({"duplicated-fields", "add", "--path", "x", "--column", "c", "--type", "money"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;

    o = docs({"index-advisor", "--field", "email", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    json advice = parse(o)["advice"];
    ASSERT_FALSE(advice.empty());
    EXPECT_TRUE(advice[0].contains("ddl"));
    o = docs({"index-advisor", "--field", "email"});
    EXPECT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out.rfind("-- ", 0), 0u) << o;

    o = docs({"duplicated-fields", "drop", "email_lc"});
    EXPECT_EQ(o.out, "dropped duplicated field email_lc\n") << o;
    o = docs({"duplicated-fields", "drop", "email_lc", "--json"});
    EXPECT_EQ(parse(o)["dropped"], false) << o;

    o = run({"docs", "collections", "list", "--json"});
    ASSERT_EQ(o.code, 0) << o;
    bool found = false;
    const json listed = parse(o);
    for (const auto& c : listed["collections"]) found = found || c["name"] == coll_;
    EXPECT_TRUE(found) << o;
    o = run({"docs", "collections", "create", coll_});
    EXPECT_EQ(o.out, "collection exists: " + coll_ + "\n") << o;
    o = run({"docs", "collections", "drop", coll_, "--json"});
    EXPECT_EQ(parse(o)["dropped"], true) << o;
    o = docs({"count"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
}

TEST_F(DocsCli, TenantOption) {
    const std::string tenant = "cli_" + hex(10);
    ASSERT_EQ(run({"tenants", "ensure", tenant}).code, 0);
    const std::string id = random_uuid();
    Output o = run({"docs", "put", id, R"({"t": 1})", "--tenant", tenant});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(run({"docs", "get", id, "--tenant", tenant}).code, 0);
    o = run({"docs", "get", id});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: RF004: ", 0), 0u) << o;
}

}  // namespace
