// tracing_test.cpp: OTLP spans against a local OTLP/HTTP receiver this test starts (an HTTP
// server capturing the JSON posted to /v1/traces), and breadcrumbs (docs/observability.md).
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

// An OTLP/HTTP receiver on 127.0.0.1 (a free port), keeping every request's JSON.
class OtlpReceiver {
  public:
    OtlpReceiver() {
        server_.Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                requests_.push_back(json::parse(req.body));
                content_types_.push_back(req.get_header_value("Content-Type"));
            }
            res.status = 200;
            res.set_content("{}", "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // stop() before the server runs would leave it listening for ever
        for (int i = 0; i < 1000 && !server_.is_running(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~OtlpReceiver() { stop(); }
    void stop() {
        server_.stop();
        if (thread_.joinable()) thread_.join();
    }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

    std::vector<json> requests() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }
    std::vector<std::string> content_types() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return content_types_;
    }
    // Every span received, each with its resource's attributes under "_resource".
    std::vector<json> spans() const {
        std::vector<json> out;
        for (const json& r : requests()) {
            for (const json& rs : r.at("resourceSpans")) {
                for (const json& ss : rs.at("scopeSpans")) {
                    for (json span : ss.at("spans")) {
                        span["_resource"] = rs.at("resource").at("attributes");
                        out.push_back(std::move(span));
                    }
                }
            }
        }
        return out;
    }
    std::vector<json> spans_named(const std::string& name) const {
        std::vector<json> out;
        for (json& s : spans())
            if (s.at("name") == name) out.push_back(std::move(s));
        return out;
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<json> requests_;
    std::vector<std::string> content_types_;
};

// The value of attribute `key` of a span (or resource) as a string; "" when absent.
std::string attr(const json& attributes, const std::string& key) {
    for (const json& a : attributes) {
        if (a.at("key") != key) continue;
        const json& v = a.at("value");
        if (v.contains("stringValue")) return v["stringValue"].get<std::string>();
        if (v.contains("intValue")) return v["intValue"].get<std::string>();
        return v.dump();
    }
    return "";
}

TracerOptions options_for(const OtlpReceiver& receiver) {
    TracerOptions o;
    o.endpoint = receiver.endpoint();
    o.service_name = "tracing-test";
    o.resource_attributes = {{"deployment.environment", "test"}};
    o.flush_interval = std::chrono::milliseconds(50);
    return o;
}

class TracingTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        tracer_ = std::make_shared<Tracer>(options_for(receiver_));
        tenant_ = fresh_name("t_");
        store().ensure_tenant(tenant_);
        traced_.emplace(Store::builder(url()).tenant(tenant_).tracer(tracer_).build());
    }
    Store& traced() { return *traced_; }
    void flush() { ASSERT_TRUE(tracer_->flush(std::chrono::seconds(10))); }

    OtlpReceiver receiver_;
    std::shared_ptr<Tracer> tracer_;
    std::string tenant_;
    std::optional<Store> traced_;
};

TEST_F(TracingTest, AnAppendAndAReadArriveAsSpansWithTheirAttributesAndResource) {
    const Uuid stream = Uuid::random();
    traced().events().append(stream, Expected::NoStream(), numbered("Traced", 2));
    EXPECT_EQ(traced().events().read_stream(stream).size(), 2u);
    flush();

    const auto appends = receiver_.spans_named("rillflow append");
    ASSERT_EQ(appends.size(), 1u);
    const json& a = appends[0];
    EXPECT_EQ(a.at("kind"), 3);  // client
    EXPECT_EQ(a.at("traceId").get<std::string>().size(), 32u);
    EXPECT_EQ(a.at("spanId").get<std::string>().size(), 16u);
    EXPECT_FALSE(a.contains("parentSpanId"));
    EXPECT_EQ(attr(a.at("attributes"), "db.system"), "postgresql");
    EXPECT_EQ(attr(a.at("attributes"), "rillflow.tenant"), tenant_);
    EXPECT_EQ(attr(a.at("attributes"), "rillflow.stream"), stream.to_string());
    EXPECT_EQ(attr(a.at("attributes"), "rillflow.event_count"), "2");
    EXPECT_LE(std::stoull(a.at("startTimeUnixNano").get<std::string>()),
              std::stoull(a.at("endTimeUnixNano").get<std::string>()));
    EXPECT_EQ(attr(a.at("_resource"), "service.name"), "tracing-test");
    EXPECT_EQ(attr(a.at("_resource"), "deployment.environment"), "test");

    const auto reads = receiver_.spans_named("rillflow read_stream");
    ASSERT_EQ(reads.size(), 1u);
    EXPECT_EQ(attr(reads[0].at("attributes"), "rillflow.event_count"), "2");
    for (const auto& type : receiver_.content_types()) EXPECT_EQ(type, "application/json");
    EXPECT_GE(tracer_->stats().exported, 2u);
    EXPECT_EQ(tracer_->stats().dropped, 0u);
}

TEST_F(TracingTest, TheAppendsTraceparentGoesIntoItsEventsHeaders) {
    const Uuid stream = Uuid::random();
    traced().events().append(stream, Expected::NoStream(), numbered("Traced", 2));
    // A traceparent the caller gives is kept.
    AppendOptions mine;
    mine.headers = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
    traced().events().append_with(stream, Expected::Exact(2), numbered("Own", 1), mine);
    flush();
    const auto appends = receiver_.spans_named("rillflow append");
    ASSERT_EQ(appends.size(), 2u);

    const auto events = traced().events().read_stream(stream);
    ASSERT_EQ(events.size(), 3u);
    const std::string expected = "00-" + appends[0].at("traceId").get<std::string>() + "-" +
                                 appends[0].at("spanId").get<std::string>() + "-01";
    EXPECT_EQ(events[0].headers.value("traceparent", ""), expected);
    EXPECT_EQ(events[1].headers.value("traceparent", ""), expected);
    EXPECT_EQ(events[2].headers.value("traceparent", ""),
              "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

TEST_F(TracingTest, ASessionSaveIsTheParentOfItsWritesAndAppends) {
    const Uuid stream = Uuid::random(), doc = Uuid::random();
    Session s = traced().session();
    s.store(doc, json{{"name", "x"}});
    s.enqueue_event(stream, "Saved", json{{"n", 1}});
    s.save_changes();
    flush();

    const auto saves = receiver_.spans_named("rillflow session.save");
    ASSERT_EQ(saves.size(), 1u);
    const std::string trace = saves[0].at("traceId"), save = saves[0].at("spanId");
    EXPECT_EQ(saves[0].at("kind"), 1);  // internal
    for (const char* child : {"rillflow append", "rillflow doc.put"}) {
        const auto spans = receiver_.spans_named(child);
        ASSERT_EQ(spans.size(), 1u) << child;
        EXPECT_EQ(spans[0].at("traceId"), trace) << child;
        EXPECT_EQ(spans[0].value("parentSpanId", ""), save) << child;
    }
    EXPECT_EQ(
        attr(receiver_.spans_named("rillflow doc.put")[0].at("attributes"), "rillflow.collection"),
        "docs");
}

TEST_F(TracingTest, DocumentQueriesHaveSpansWithTheirCounts) {
    Documents docs = traced().docs();
    docs.put(Uuid::random(), json{{"k", 1}});
    docs.put(Uuid::random(), json{{"k", 1}});
    EXPECT_EQ(docs.query_json(json{{"filter", {{"eq", {"k", 1}}}}}).size(), 2u);
    flush();
    EXPECT_EQ(receiver_.spans_named("rillflow doc.put").size(), 2u);
    const auto queries = receiver_.spans_named("rillflow doc.query");
    ASSERT_EQ(queries.size(), 1u);
    EXPECT_EQ(attr(queries[0].at("attributes"), "rillflow.document_count"), "2");
}

TEST_F(TracingTest, TheDaemonsProjectionBatchLinksBackToTheAppends) {
    const std::string projection = fresh_name("proj_");
    auto daemon = ProjectionDaemon::builder(traced())
                      .owner("traced")
                      .add(projection, [](const EventEnvelope&, Transaction&) {})
                      .build();
    traced().events().append(Uuid::random(), Expected::Any(), numbered("One", 1));
    traced().events().append(Uuid::random(), Expected::Any(), numbered("Two", 2));
    ASSERT_EQ(wait_for_head(traced(), 3), 3);
    EXPECT_EQ(daemon.run_until_idle(), 3);
    flush();

    const auto appends = receiver_.spans_named("rillflow append");
    ASSERT_EQ(appends.size(), 2u);
    const auto batches = receiver_.spans_named("rillflow projection.batch");
    ASSERT_EQ(batches.size(), 1u);  // idle ticks record nothing
    const json& b = batches[0];
    EXPECT_EQ(b.at("kind"), 5);  // consumer
    EXPECT_EQ(attr(b.at("attributes"), "rillflow.projection"), projection);
    EXPECT_EQ(attr(b.at("attributes"), "rillflow.event_count"), "3");
    ASSERT_TRUE(b.contains("links"));
    std::vector<std::string> linked;
    for (const json& l : b.at("links")) linked.push_back(l.at("spanId"));
    for (const json& a : appends) {
        EXPECT_NE(std::find(linked.begin(), linked.end(), a.at("spanId")), linked.end());
    }
    EXPECT_EQ(linked.size(), 2u);
}

TEST_F(TracingTest, ASubscriptionsHandlingIsAChildOfTheAppendAndItsPollLinksToIt) {
    const std::string name = fresh_name("sub_");
    traced().subscriptions().create(name);
    const Uuid stream = Uuid::random();
    traced().events().append(stream, Expected::NoStream(), numbered("Sub", 1));
    ASSERT_EQ(wait_for_head(traced(), 1), 1);

    SubscriptionOptions options;
    options.poll_interval = std::chrono::milliseconds(50);
    Subscription sub = traced().subscriptions().subscribe(name, {}, options);
    std::atomic<bool> stop{false};
    int handled = 0;
    sub.run(
        [&](const EventEnvelope&) {
            ++handled;
            stop = true;
        },
        stop);
    EXPECT_EQ(handled, 1);
    flush();

    const auto appends = receiver_.spans_named("rillflow append");
    ASSERT_EQ(appends.size(), 1u);
    const auto polls = receiver_.spans_named("rillflow subscription.poll");
    ASSERT_EQ(polls.size(), 1u);
    ASSERT_TRUE(polls[0].contains("links"));
    EXPECT_EQ(polls[0].at("links")[0].at("spanId"), appends[0].at("spanId"));
    const auto handling = receiver_.spans_named("rillflow subscription.handle " + name);
    ASSERT_EQ(handling.size(), 1u);
    EXPECT_EQ(handling[0].at("traceId"), appends[0].at("traceId"));
    EXPECT_EQ(handling[0].value("parentSpanId", ""), appends[0].at("spanId"));
    EXPECT_EQ(handling[0].at("links")[0].at("spanId"), polls[0].at("spanId"));
}

// With the collector down every call still returns, and the spans that cannot go anywhere
// are dropped and counted: first those that do not fit the queue, then the failed export's.
TEST_F(TracingTest, NothingBlocksAndDropsAreCountedWhenTheCollectorIsDown) {
    std::string endpoint;
    {
        httplib::Server gone;  // a free port, closed again: nothing listens there
        endpoint = "http://127.0.0.1:" + std::to_string(gone.bind_to_any_port("127.0.0.1"));
    }
    TracerOptions o;
    o.endpoint = endpoint;
    o.max_queue = 4;
    o.flush_interval = std::chrono::hours(1);  // only flush() exports
    o.timeout = std::chrono::milliseconds(500);
    auto tracer = std::make_shared<Tracer>(o);
    Store s = Store::builder(url()).tenant(tenant_).tracer(tracer).build();
    const Uuid stream = Uuid::random();
    for (int i = 0; i < 20; ++i) s.events().append(stream, Expected::Any(), numbered("Down", 1));
    EXPECT_EQ(s.events().stream_version(stream), 20);
    TracerStats st = tracer->stats();
    EXPECT_EQ(st.queued, 4u);
    EXPECT_EQ(st.dropped, 16u);
    tracer->flush(std::chrono::seconds(10));
    st = tracer->stats();
    EXPECT_EQ(st.dropped, 20u);
    EXPECT_EQ(st.exported, 0u);
    EXPECT_GE(st.failed_requests, 1u);
    EXPECT_EQ(st.queued, 0u);
}

TEST_F(TracingTest, AStoreWithoutATracerRecordsNothing) {
    Store plain = Store::builder(url()).tenant(tenant_).tracer(nullptr).build();
    EXPECT_EQ(plain.tracer(), nullptr);
    const Uuid stream = Uuid::random();
    plain.events().append(stream, Expected::NoStream(), numbered("Plain", 1));
    EXPECT_FALSE(plain.events().read_stream(stream)[0].headers.contains("traceparent"));
    flush();
    EXPECT_TRUE(receiver_.spans().empty());
}

TEST(TracerOptionsTest, ComeFromTheOtelEnvironment) {
    ::unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    ::unsetenv("OTEL_SDK_DISABLED");
    ::unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    EXPECT_FALSE(TracerOptions::from_env());
    ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", 1);
    ::setenv("OTEL_SERVICE_NAME", "orders", 1);
    ::setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored, team=a%2Cb,env=prod", 1);
    ::setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret", 1);
    auto o = TracerOptions::from_env();
    ASSERT_TRUE(o);
    EXPECT_EQ(o->endpoint, "http://collector:4318");
    EXPECT_EQ(o->service_name, "orders");  // OTEL_SERVICE_NAME wins over the attribute
    using KV = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(o->resource_attributes, (KV{{"team", "a,b"}, {"env", "prod"}}));
    EXPECT_EQ(o->headers, (KV{{"x-api-key", "secret"}}));
    ::setenv("OTEL_SDK_DISABLED", "TRUE", 1);
    EXPECT_FALSE(TracerOptions::from_env());
    for (const char* v :
         {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
          "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SDK_DISABLED"})
        ::unsetenv(v);
    EXPECT_THROW(Tracer(TracerOptions{}), InvalidArgument);  // no endpoint
}

TEST(SpanContextTest, ReadsAndWritesW3cTraceparent) {
    auto c =
        SpanContext::from_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->trace_id, "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(c->span_id, "b7ad6b7169203331");
    EXPECT_EQ(c->traceparent(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    for (const char* bad : {"", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
                            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"})
        EXPECT_FALSE(SpanContext::from_traceparent(bad)) << bad;
}

// ---- breadcrumbs ----------------------------------------------------------------------------

class BreadcrumbsTest : public ClientTest {};

TEST_F(BreadcrumbsTest, AreOffByDefault) {
    ::unsetenv("RILLFLOW_BREADCRUMBS");
    Store s = Store::builder(url()).build();
    s.events().append(Uuid::random(), Expected::Any(), numbered("E", 1));
    EXPECT_FALSE(s.breadcrumbs().enabled());
    EXPECT_TRUE(s.breadcrumbs().entries().empty());
}

TEST_F(BreadcrumbsTest, KeepTheLastOperationsWithStreamsTypesIdsAndDurations) {
    Store s = Store::builder(url()).breadcrumbs(true, 3).build();
    ASSERT_TRUE(s.breadcrumbs().enabled());
    EXPECT_EQ(s.breadcrumbs().capacity(), 3u);
    const Uuid stream = Uuid::random(), cause = Uuid::random(), corr = Uuid::random();
    s.events().append(stream, Expected::NoStream(), numbered("Dropped", 1));  // falls off
    AppendOptions o;
    o.causation_id = cause;
    o.correlation_id = corr;
    std::vector<EventData> batch = numbered("OrderPlaced", 1);
    batch.push_back(EventData{"OrderPaid", json::object()});
    s.events().append_with(stream, Expected::Exact(1), batch, o);
    EXPECT_EQ(s.events().read_stream(stream).size(), 3u);
    s.docs().put(Uuid::random(), json{{"a", 1}});

    const auto crumbs = s.breadcrumbs().entries();
    ASSERT_EQ(crumbs.size(), 3u);
    EXPECT_EQ(crumbs[0].operation, "append");
    EXPECT_EQ(crumbs[0].stream, stream);
    EXPECT_EQ(crumbs[0].event_types, (std::vector<std::string>{"OrderPlaced", "OrderPaid"}));
    EXPECT_EQ(crumbs[0].count, 2);
    EXPECT_EQ(crumbs[0].causation_id, cause);
    EXPECT_EQ(crumbs[0].correlation_id, corr);
    EXPECT_FALSE(crumbs[0].error);
    EXPECT_EQ(crumbs[1].operation, "read_stream");
    EXPECT_EQ(crumbs[1].event_types,
              (std::vector<std::string>{"Dropped", "OrderPlaced", "OrderPaid"}));
    EXPECT_EQ(crumbs[2].operation, "doc.put");
    EXPECT_EQ(crumbs[2].collection, "docs");
    EXPECT_GE(crumbs[2].duration.count(), 0);

    const std::string diagram = s.breadcrumbs().to_mermaid();
    const std::string sid = stream.to_string().substr(0, 8);
    EXPECT_EQ(diagram.rfind("sequenceDiagram\n", 0), 0u) << diagram;
    EXPECT_NE(diagram.find("participant S_" + sid + " as stream " + sid), std::string::npos)
        << diagram;
    EXPECT_NE(diagram.find("App->>S_" + sid +
                           ": append OrderPlaced, OrderPaid (2 events, "
                           "correlation " +
                           corr.to_string().substr(0, 8) + ", causation " +
                           cause.to_string().substr(0, 8)),
              std::string::npos)
        << diagram;
    EXPECT_NE(diagram.find("participant C_docs as collection docs"), std::string::npos);

    // A failing call is kept too, marked.
    EXPECT_THROW(s.events().append(stream, Expected::NoStream(), numbered("Late", 1)),
                 VersionConflict);
    ASSERT_TRUE(s.breadcrumbs().entries().back().error);
    const std::string failed = s.breadcrumbs().to_mermaid();
    EXPECT_NE(failed.find("App-xS_" + sid + ": append Late"), std::string::npos) << failed;

    s.breadcrumbs().clear();
    EXPECT_TRUE(s.breadcrumbs().entries().empty());
}

TEST_F(BreadcrumbsTest, TurnOnWithTheEnvironment) {
    ::setenv("RILLFLOW_BREADCRUMBS", "1", 1);
    Store on = Store::builder(url()).build();
    Store off = Store::builder(url()).breadcrumbs(false).build();  // the builder wins
    ::unsetenv("RILLFLOW_BREADCRUMBS");
    EXPECT_GE(on.head_position(), 0);  // not recorded: not an append, read or document op
    on.events().append(Uuid::random(), Expected::Any(), numbered("E", 1));
    EXPECT_TRUE(on.breadcrumbs().enabled());
    EXPECT_EQ(on.breadcrumbs().entries().size(), 1u);
    EXPECT_FALSE(off.breadcrumbs().enabled());
}

}  // namespace
}  // namespace rillflow::test
