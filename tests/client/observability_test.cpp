// observability_test.cpp: read_metrics and trace_mermaid against the real server
// (docs/observability.md).
#include <algorithm>
#include <string>

#include "support.hpp"

namespace rillflow::test {
namespace {

class ObservabilityTest : public ClientTest {};

TEST_F(ObservabilityTest, MetricsHaveTheStoresLogHeadAndBacklog) {
    std::string tenant;
    Store t = fresh_tenant_store(store(), &tenant);
    t.events().append(Uuid::random(), Expected::NoStream(), numbered("Counted", 3));
    ASSERT_EQ(wait_for_head(t, 3), 3);

    std::vector<Metric> metrics = read_metrics(store());
    auto head = std::find_if(metrics.begin(), metrics.end(), [&](const Metric& m) {
        return m.name == "rillflow_log_head" && m.labels.value("tenant", "") == tenant;
    });
    ASSERT_NE(head, metrics.end());
    EXPECT_EQ(head->value, 3);
    EXPECT_EQ(head->labels.value("store", ""), "rillflow_tenant_" + tenant);
    EXPECT_FALSE(head->help.empty());
    for (const auto& m : metrics) EXPECT_EQ(m.name.rfind("rillflow_", 0), 0u) << m.name;
}

TEST_F(ObservabilityTest, TraceMermaidFollowsTheCausationChainAcrossStreams) {
    std::string tenant;
    Store t = fresh_tenant_store(store(), &tenant);
    const Uuid correlation = Uuid::random();
    const Uuid order = Uuid::random(), payment = Uuid::random();
    const Uuid placed = Uuid::random();
    EventData first{"OrderPlaced", {{"sku", "a"}}};
    first.event_id = placed;
    AppendOptions o1;
    o1.correlation_id = correlation;
    t.events().append_with(order, Expected::NoStream(), {first}, o1);
    AppendOptions o2;
    o2.correlation_id = correlation;
    o2.causation_id = placed;
    t.events().append_with(payment, Expected::NoStream(), {{"PaymentTaken", {{"n", 1}}}}, o2);
    ASSERT_EQ(wait_for_head(t, 2), 2);

    std::string diagram = trace_mermaid(t, correlation);
    EXPECT_EQ(diagram.rfind("sequenceDiagram\n", 0), 0u) << diagram;
    EXPECT_NE(diagram.find("client->>s1: OrderPlaced v1 @1"), std::string::npos) << diagram;
    EXPECT_NE(diagram.find("s1->>s2: PaymentTaken v1 @2"), std::string::npos) << diagram;
    // the default store has none of the tenant's events
    EXPECT_NE(trace_mermaid(store(), correlation).find("no event has correlation id"),
              std::string::npos);
    try {
        (void)trace_mermaid(t, correlation, 0);
        FAIL() << "max_events 0 was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
    }
}

}  // namespace
}  // namespace rillflow::test
