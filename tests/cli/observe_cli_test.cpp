// Tests of `rillflow trace mermaid` and `rillflow metrics` against the server in DATABASE_URL.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

TEST(ObserveCli, TraceMermaidToStdoutAndToAFile) {
    ASSERT_NE(std::getenv("DATABASE_URL"), nullptr) << "DATABASE_URL is not set";
    const std::string t = unique("cli_obs_");
    ASSERT_EQ(run({"tenants", "ensure", t}).code, 0);
    const std::string correlation = random_uuid();
    Output o = run({"--tenant", t, "events", "append", "orders:1", "--type", "OrderPlaced",
                    "--body", "{}", "--correlation-id", correlation});
    ASSERT_EQ(o.code, 0) << o;
    o = run({"--tenant", t, "trace", "mermaid", "--correlation-id", correlation});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out.rfind("sequenceDiagram\n", 0), 0u) << o;
    EXPECT_NE(o.out.find("participant s1 as orders:1"), std::string::npos) << o;
    EXPECT_NE(o.out.find("client->>s1: OrderPlaced v1"), std::string::npos) << o;

    const std::string file = "/tmp/" + unique("trace_") + ".mmd";
    o = run({"--tenant", t, "trace", "mermaid", "--correlation-id", correlation, "--output", file});
    ASSERT_EQ(o.code, 0) << o;
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(file.c_str());
    EXPECT_EQ(text.str().rfind("sequenceDiagram\n", 0), 0u) << text.str();

    o = run({"trace", "mermaid", "--correlation-id", "not-a-uuid"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22P02: ", 0), 0u) << o;
    o = run({"trace", "mermaid"});
    EXPECT_EQ(o.code, 2) << o;
}

TEST(ObserveCli, MetricsAsTextAndJson) {
    const std::string t = unique("cli_obs_");
    ASSERT_EQ(run({"tenants", "ensure", t}).code, 0);
    Output o = run({"--json", "metrics"});
    ASSERT_EQ(o.code, 0) << o;
    bool found = false;
    const json doc = parse(o);
    for (const auto& m : doc["metrics"])
        if (m["name"] == "rillflow_log_head" && m["labels"]["tenant"] == t) found = true;
    EXPECT_TRUE(found) << o;
    o = run({"metrics"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_NE(o.out.find("rillflow_log_head{"), std::string::npos) << o;
}

}  // namespace
