// schema_test.cpp: Store::schema(): plan, sync and health over real stores (docs/upgrades.md).
// Drift is made by hand, as an operator would, and repaired by sync.
#include <algorithm>
#include <string>

#include "support.hpp"

namespace rillflow::test {
namespace {

class SchemaTest : public ClientTest {
  protected:
    /// Runs `sql` on the default store's connection, committed.
    void run(const std::string& sql) {
        Transaction tx = store().transaction();
        tx.exec(sql);
        tx.commit();
    }
};

TEST_F(SchemaTest, AFreshTenantIsHealthyAndHasNothingToPlan) {
    std::string tenant;
    Store t = fresh_tenant_store(store(), &tenant);
    std::vector<StoreHealth> health = store().schema().health(StoreScope::tenant(tenant));
    ASSERT_EQ(health.size(), 1u);
    EXPECT_TRUE(health[0].ok()) << health[0].status;
    EXPECT_EQ(health[0].store, "rillflow_tenant_" + tenant);
    ASSERT_TRUE(health[0].tenant.has_value());
    EXPECT_EQ(*health[0].tenant, tenant);
    EXPECT_GT(health[0].schema_version, 0);
    EXPECT_TRUE(health[0].problems.empty());
    EXPECT_TRUE(store().schema().plan(StoreScope::tenant(tenant)).empty());

    // every store: the default one first, this tenant among them
    std::vector<StoreHealth> all = store().schema().health(StoreScope::all());
    ASSERT_FALSE(all.empty());
    EXPECT_FALSE(all.front().tenant.has_value());
    EXPECT_TRUE(std::any_of(all.begin(), all.end(),
                            [&](const StoreHealth& h) { return h.tenant && *h.tenant == tenant; }));
}

TEST_F(SchemaTest, DriftIsNamedPlannedAndRepaired) {
    std::string tenant;
    Store t = fresh_tenant_store(store(), &tenant);
    const std::string schema = "rillflow_tenant_" + tenant;
    run("DROP INDEX " + schema + ".events_tx_idx");
    run("ALTER TABLE " + schema + ".streams ALTER COLUMN version TYPE numeric");

    StoreHealth h = store().schema().health(StoreScope::tenant(tenant)).at(0);
    EXPECT_EQ(h.status, "drift");
    auto find = [&](const std::string& object) {
        return std::find_if(h.problems.begin(), h.problems.end(),
                            [&](const SchemaProblem& p) { return p.object == object; });
    };
    auto index = find("events.events_tx_idx");
    ASSERT_NE(index, h.problems.end());
    EXPECT_EQ(index->kind, "index");
    EXPECT_EQ(index->problem, "missing");
    EXPECT_TRUE(index->repairable);
    EXPECT_TRUE(index->actual.is_null());
    auto column = find("streams.version");
    ASSERT_NE(column, h.problems.end());
    EXPECT_EQ(column->problem, "changed");
    EXPECT_FALSE(column->repairable);
    EXPECT_EQ(column->actual.at("type"), "numeric");

    std::vector<SchemaPlanStep> plan = store().schema().plan(StoreScope::tenant(tenant));
    auto repair = std::find_if(plan.begin(), plan.end(), [](const SchemaPlanStep& s) {
        return s.step == "repair: missing index events.events_tx_idx";
    });
    ASSERT_NE(repair, plan.end());
    ASSERT_TRUE(repair->ddl.has_value());
    EXPECT_NE(repair->ddl->find("CREATE INDEX events_tx_idx ON " + schema), std::string::npos)
        << *repair->ddl;

    std::vector<SchemaSyncResult> synced = store().schema().sync(StoreScope::tenant(tenant));
    ASSERT_EQ(synced.size(), 1u);
    EXPECT_GE(synced[0].repaired, 1);
    ASSERT_EQ(synced[0].unrepaired.size(), 1u);
    EXPECT_EQ(synced[0].unrepaired[0], "changed column streams.version");

    run("ALTER TABLE " + schema + ".streams ALTER COLUMN version TYPE bigint");
    store().schema().sync(StoreScope::tenant(tenant));
    EXPECT_TRUE(store().schema().health(StoreScope::tenant(tenant)).at(0).ok());
    // and the store works
    Uuid stream = Uuid::random();
    t.events().append(stream, Expected::NoStream(), numbered("AfterRepair", 2));
    EXPECT_EQ(t.events().read_stream(stream).size(), 2u);
}

TEST_F(SchemaTest, UnknownAndMalformedTenantsAreTheServersErrors) {
    try {
        (void)store().schema().health(StoreScope::tenant(fresh_name("nobody_")));
        FAIL() << "an unknown tenant had a health";
    } catch (const TenantNotFound& e) {
        EXPECT_EQ(e.sqlstate(), "RF005");
    }
    try {
        (void)store().schema().plan(StoreScope::tenant("Not A Name"));
        FAIL() << "a malformed tenant name was planned";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), "22023") << e.what();
    }
}

}  // namespace
}  // namespace rillflow::test
