// progress_cli_test.cpp: progress of long commands on a terminal (and nothing of it on pipes
// or with --json), `projections cluster-standbys`, and the CLI's OTLP spans, against the
// server in DATABASE_URL. A terminal is made with util-linux's script(1).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using namespace rillflow::cli_test;
using nlohmann::json;

class ProgressCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* url = std::getenv("DATABASE_URL");
        ASSERT_TRUE(url != nullptr && *url != '\0') << "DATABASE_URL is not set";
        url_ = url;
        tenant_ = unique("cli_prog_");
        Output o = run({"tenants", "ensure", tenant_});
        ASSERT_EQ(o.code, 0) << o;
    }
    // The CLI run with stdout and stderr on a terminal; what the terminal showed.
    std::string on_terminal(const std::string& args) {
        const std::string cmd = "DATABASE_URL='" + url_ + "' script -qec \"" +
                                std::string(RILLFLOW_CLI_PATH) + " " + args +
                                "\" /dev/null </dev/null 2>&1";
        std::string out;
        FILE* p = popen(cmd.c_str(), "r");
        if (!p) return out;
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        pclose(p);
        return out;
    }
    std::string url_;
    std::string tenant_;
};

TEST_F(ProgressCli, LongCommandsShowProgressOnATerminalOnly) {
    for (int i = 0; i < 3; ++i) {
        Output o = run({"--tenant", tenant_, "events", "append", random_uuid(), "--type", "A",
                        "--body", "{}"});
        ASSERT_EQ(o.code, 0) << o;
    }
    std::string tty = on_terminal("--tenant " + tenant_ + " schema-sync");
    EXPECT_NE(tty.find("\rschema-sync: 1/1 stores (100%)"), std::string::npos) << tty;
    tty = on_terminal("--tenant " + tenant_ + " projections run-until-idle");
    EXPECT_NE(tty.find("applied"), std::string::npos) << tty;
    tty = on_terminal("--tenant " + tenant_ + " snapshots run-until-idle");
    EXPECT_NE(tty.find("\rsnapshots run-until-idle: snapshotted 0 streams in 1 runs"),
              std::string::npos)
        << tty;
    // --json: the terminal sees the JSON document only
    tty = on_terminal("--json --tenant " + tenant_ + " schema-sync");
    EXPECT_EQ(tty.find("schema-sync:"), std::string::npos) << tty;
    EXPECT_EQ(tty.find('\r'), tty.find("\r\n")) << tty;  // no carriage return but line ends
    // pipes: nothing on stderr
    Output o = run({"--tenant", tenant_, "schema-sync"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.err, "") << o;
    o = run({"--tenant", tenant_, "snapshots", "run-until-idle"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.err, "") << o;
}

TEST_F(ProgressCli, ClusterStandbysStoresTheClustersMinColdStandbys) {
    const std::string cluster = unique("c");
    Output o = run({"--json", "--tenant", tenant_, "projections", "cluster-standbys", "--cluster",
                    cluster, "--min-cold-standbys", "2"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["min_cold_standbys"], 2) << o;
    o = run({"--json", "--tenant", tenant_, "projections", "cluster-status"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(parse(o)["clusters"][0]["cluster"], cluster) << o;
    o = run({"--tenant", tenant_, "projections", "cluster-standbys", "--cluster-name", cluster,
             "--unset"});
    ASSERT_EQ(o.code, 0) << o;
    EXPECT_EQ(o.out, cluster + ": min_cold_standbys unset\n") << o;
    o = run({"--tenant", tenant_, "projections", "cluster-standbys", "--cluster", cluster});
    EXPECT_EQ(o.code, 2) << o;
    o = run({"--tenant", tenant_, "projections", "cluster-standbys", "--cluster", "bad name",
             "--min-cold-standbys", "1"});
    EXPECT_EQ(o.code, 1) << o;
    EXPECT_EQ(o.err.rfind("error: 22023: ", 0), 0u) << o;
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set the CLI sends its spans to the collector before it
// exits: one span for the command, the parent of its append's span.
TEST_F(ProgressCli, TheCliExportsItsSpansWhenOtelIsSet) {
    // The receiver: python3's http.server, writing each request's body to a file of its own.
    const std::string dir = "/tmp/" + unique("otlp_");
    const std::string script =
        "import http.server,sys,os\n"
        "d=sys.argv[1]\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "  def do_POST(self):\n"
        "    b=self.rfile.read(int(self.headers['Content-Length']))\n"
        "    open(os.path.join(d,'req-%d.json'%len(os.listdir(d))),'wb').write(b)\n"
        "    self.send_response(200);self.end_headers()\n"
        "  def log_message(self,*a): pass\n"
        "s=http.server.HTTPServer(('127.0.0.1',0),H)\n"
        "open(os.path.join(sys.argv[2],'port'),'w').write(str(s.server_port))\n"
        "s.serve_forever()\n";
    ASSERT_EQ(std::system(("mkdir -p " + dir + "/in").c_str()), 0);
    auto read_file = [](const std::string& path) {
        std::string out;
        if (FILE* f = std::fopen(path.c_str(), "r")) {
            char buf[4096];
            for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
            std::fclose(f);
        }
        return out;
    };
    {
        FILE* f = std::fopen((dir + "/server.py").c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(script.c_str(), f);
        std::fclose(f);
    }
    ASSERT_EQ(std::system(("python3 " + dir + "/server.py " + dir + "/in " + dir +
                           " >/dev/null 2>&1 & echo $! > " + dir + "/pid")
                              .c_str()),
              0);
    std::string port;
    for (int i = 0; i < 100 && port.empty(); ++i) {
        port = read_file(dir + "/port");
        if (port.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const pid_t server = static_cast<pid_t>(std::stol(read_file(dir + "/pid")));
    ASSERT_FALSE(port.empty());

    Output o = run(
        {"--tenant", tenant_, "events", "append", random_uuid(), "--type", "A", "--body", "{}"}, {},
        {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + port},
         {"OTEL_SERVICE_NAME", "cli-test"}});
    kill(server, SIGTERM);
    ASSERT_EQ(o.code, 0) << o;

    json spans = json::array();
    std::string service;
    for (int i = 0;; ++i) {
        const std::string body = read_file(dir + "/in/req-" + std::to_string(i) + ".json");
        if (body.empty()) break;
        const json request = json::parse(body);
        for (const json& rs : request.at("resourceSpans")) {
            service = rs["resource"]["attributes"][0]["value"]["stringValue"];
            for (const json& s : rs["scopeSpans"][0]["spans"]) spans.push_back(s);
        }
    }
    std::system(("rm -rf " + dir).c_str());
    EXPECT_EQ(service, "cli-test") << o;
    json cli, append;
    for (const json& s : spans) {
        if (s["name"] == "rillflow cli events append") cli = s;
        if (s["name"] == "rillflow append") append = s;
    }
    ASSERT_FALSE(cli.is_null()) << spans.dump(2);
    ASSERT_FALSE(append.is_null()) << spans.dump(2);
    EXPECT_EQ(append["traceId"], cli["traceId"]);
    EXPECT_EQ(append["parentSpanId"], cli["spanId"]);
}

}  // namespace
