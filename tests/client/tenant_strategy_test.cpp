// tenant_strategy_test.cpp: the tenant lifecycle from C++ (Store::tenant_status,
// list_tenants, drop_tenant) and the tenant strategy: SchemaPerTenant with a per-call
// resolver, the cache of tenants known to exist, Store::for_tenant, a session's tenant that
// is fixed by its first operation, and rillflow.tenant_required on its connections. Against
// the real server; the roles a rule must stop are real roles.
#include <atomic>
#include <set>
#include <string>
#include <thread>

#include "support.hpp"

namespace rillflow::test {
namespace {

class TenantStrategyTest : public ClientTest {
  protected:
    void TearDown() override {
        for (const std::string& t : tenants_) {
            try {
                store().drop_tenant(t, true);
            } catch (const TenantNotFound&) {
            }
        }
        if (!role_.empty()) {
            Transaction tx = store().transaction();
            for (const char* what : {"DROP OWNED BY %I", "DROP ROLE %I"}) {
                Result r = tx.exec("SELECT pg_catalog.format($1::text, $2::text)", {what, role_});
                tx.exec(std::string(r.value(0, 0)));
            }
            tx.commit();
        }
    }

    /// A tenant name for this test, dropped at its end (whoever created it).
    std::string tenant_name() {
        tenants_.push_back(fresh_name("ts_"));
        return tenants_.back();
    }

    /// A login role of the test's own, and its URL.
    std::string role_url(const std::string& sql_after = {}) {
        role_ = fresh_name("rf_ts_");
        Transaction tx = store().transaction();
        tx.exec("CREATE ROLE " + role_ + " LOGIN");
        if (!sql_after.empty()) tx.exec(sql_after);
        tx.commit();
        std::string u = url();
        return u + (u.find('?') == std::string::npos ? "?" : "&") + "user=" + role_;
    }

    /// A SchemaPerTenant store whose resolver reads `current`.
    Store per_tenant(const std::string& url, std::shared_ptr<std::string> current,
                     bool create_missing = true) {
        return Store::builder(url)
            .max_connections(3)
            .tenant_strategy(TenantStrategy::SchemaPerTenant, [current] { return *current; })
            .create_missing_tenants(create_missing)
            .build();
    }

    std::vector<std::string> tenants_;
    std::string role_;
};

TEST_F(TenantStrategyTest, TenantStatusAndListTenantsShowWhatAStoreHolds) {
    std::string tenant = tenant_name();
    ASSERT_TRUE(store().ensure_tenant(tenant));
    Store acme = store().for_tenant(tenant);
    acme.events().append(Uuid::random(), Expected::NoStream(), numbered("A", 2));
    acme.events().append(Uuid::random(), Expected::NoStream(), numbered("B", 1));
    acme.docs().put(Uuid::random(), nlohmann::json{{"x", 1}});

    TenantStatus s = store().tenant_status(tenant);
    EXPECT_TRUE(s.exists);
    EXPECT_EQ(s.schema_name, "rillflow_tenant_" + tenant);
    ASSERT_TRUE(s.schema_version.has_value());
    EXPECT_EQ(s.schema_version, store().tenant_status("").schema_version)
        << "a new tenant's store is at the default store's version";
    EXPECT_EQ(s.drift, false);
    EXPECT_EQ(s.streams, 2);
    EXPECT_EQ(s.events, 3);
    EXPECT_EQ(s.documents, 1);
    EXPECT_EQ(s.projections, 0);
    ASSERT_TRUE(s.size_bytes.has_value());
    EXPECT_GT(*s.size_bytes, 0);

    TenantStatus nobody = store().tenant_status(fresh_name("ts_nobody_"));
    EXPECT_FALSE(nobody.exists);
    EXPECT_FALSE(nobody.events.has_value());
    EXPECT_THROW((void)store().tenant_status("Bad Name"), InvalidArgument);

    bool listed = false;
    for (const TenantInfo& t : store().list_tenants()) {
        if (t.name != tenant) continue;
        listed = true;
        EXPECT_EQ(t.events, 3);
        EXPECT_EQ(t.documents, 1);
    }
    EXPECT_TRUE(listed);
}

TEST_F(TenantStrategyTest, DropTenantRefusesAStoreThatHoldsDataUnlessForced) {
    std::string tenant = tenant_name();
    ASSERT_TRUE(store().ensure_tenant(tenant));
    Store acme = store().for_tenant(tenant);
    acme.events().append(Uuid::random(), Expected::Any(), numbered("A", 1));

    try {
        store().drop_tenant(tenant);
        FAIL() << "dropped a tenant holding an event without force";
    } catch (const TenantNotEmpty& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::tenant_not_empty);
        EXPECT_NE(e.detail().find("1 events"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(store().tenant_status(tenant).exists);

    store().drop_tenant(tenant, true);
    EXPECT_FALSE(store().tenant_status(tenant).exists);
    EXPECT_THROW((void)acme.head_position(), TenantNotFound);
    EXPECT_THROW(store().drop_tenant(tenant, true), TenantNotFound);

    // an empty store goes without force
    std::string empty = tenant_name();
    ASSERT_TRUE(store().ensure_tenant(empty));
    store().drop_tenant(empty);
    EXPECT_FALSE(store().tenant_status(empty).exists);
}

TEST_F(TenantStrategyTest, OnlyTheStoresOwnerMayDropATenantNotItsAdmin) {
    std::string tenant = tenant_name();
    ASSERT_TRUE(store().ensure_tenant(tenant));
    std::string url = role_url();
    store().grant_tenant(tenant, role_, TenantAccess::Admin);
    Store role = Store::builder(url).max_connections(1).build();
    try {
        role.drop_tenant(tenant, true);
        FAIL() << "a role without EXECUTE on drop_tenant dropped a tenant";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::insufficient_privilege) << e.what();
    }
    {
        Transaction tx = store().transaction();
        tx.exec("GRANT EXECUTE ON FUNCTION rillflow.drop_tenant(text, boolean) TO " + role_);
        tx.commit();
    }
    try {
        role.drop_tenant(tenant, true);
        FAIL() << "a tenant's admin dropped the tenant";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::insufficient_privilege) << e.what();
    }
    EXPECT_TRUE(store().tenant_status(tenant).exists);
    Transaction tx = store().transaction();
    tx.exec("REVOKE EXECUTE ON FUNCTION rillflow.drop_tenant(text, boolean) FROM " + role_);
    tx.commit();
}

TEST_F(TenantStrategyTest, SchemaPerTenantActsOnTheTenantTheResolverGivesAtEachCall) {
    auto current = std::make_shared<std::string>();
    Store store_pt = per_tenant(url(), current);
    EXPECT_EQ(store_pt.tenant_strategy(), TenantStrategy::SchemaPerTenant);
    std::string a = tenant_name(), b = tenant_name();
    Uuid stream = Uuid::random();

    *current = a;  // a new tenant: its store is created on first use
    store_pt.events().append(stream, Expected::NoStream(), numbered("InA", 2));
    *current = b;
    store_pt.events().append(stream, Expected::NoStream(), numbered("InB", 1));
    EXPECT_EQ(store_pt.current_store(), "rillflow_tenant_" + b);
    *current = a;
    EXPECT_EQ(store_pt.events().read_stream(stream).size(), 2u);
    EXPECT_EQ(store_pt.current_store(), "rillflow_tenant_" + a);

    EXPECT_EQ(store().tenant_status(a).events, 2);
    EXPECT_EQ(store().tenant_status(b).events, 1);
    // the default store was never touched
    EXPECT_FALSE(store().events().stream_version(stream).has_value());

    // many threads, each its own request's tenant
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    thread_local std::string request_tenant;
    Store threaded =
        Store::builder(url())
            .max_connections(3)
            .tenant_strategy(TenantStrategy::SchemaPerTenant, [] { return request_tenant; })
            .build();
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            request_tenant = (i % 2 == 0) ? a : b;
            for (int k = 0; k < 5; ++k)
                threaded.events().append(Uuid::random(), Expected::NoStream(), numbered("T", 1));
            done++;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(done.load(), 4);
    EXPECT_EQ(store().tenant_status(a).events, 2 + 10);
    EXPECT_EQ(store().tenant_status(b).events, 1 + 10);
}

TEST_F(TenantStrategyTest, SchemaPerTenantNeverFallsBackToTheDefaultStore) {
    auto current = std::make_shared<std::string>();
    Store store_pt = per_tenant(url(), current);
    try {
        (void)store_pt.head_position();
        FAIL() << "a call with no tenant ran";
    } catch (const TenantNotFound& e) {
        EXPECT_EQ(e.message(), "tenant required");
    }
    // a view on the default store: the server refuses it too (rillflow.tenant_required is on)
    try {
        (void)store_pt.for_tenant("").head_position();
        FAIL() << "the default store was used under SchemaPerTenant";
    } catch (const TenantNotFound& e) {
        EXPECT_EQ(e.message(), "tenant required") << e.what();
    }
    EXPECT_THROW(Store::builder(url())
                     .tenant("x")
                     .tenant_strategy(TenantStrategy::SchemaPerTenant, [] { return "x"; })
                     .build(),
                 InvalidArgument);
}

TEST_F(TenantStrategyTest, ATenantKnownToExistIsNotLookedUpOrCreatedAgain) {
    auto current = std::make_shared<std::string>();
    Store store_pt = per_tenant(url(), current);
    std::string tenant = tenant_name();
    *current = tenant;
    store_pt.events().append(Uuid::random(), Expected::Any(), numbered("A", 1));
    EXPECT_TRUE(store().tenant_status(tenant).exists);

    // dropped behind this Store's back: the cache still knows the tenant, so the next call
    // goes straight to the server, which says it is gone (and creates nothing)
    store().drop_tenant(tenant, true);
    EXPECT_THROW(store_pt.events().append(Uuid::random(), Expected::Any(), numbered("B", 1)),
                 TenantNotFound);
    EXPECT_FALSE(store().tenant_status(tenant).exists);

    // drop_tenant through the Store forgets it: the next use creates it anew
    ASSERT_TRUE(store().ensure_tenant(tenant));
    store_pt.drop_tenant(tenant, true);
    store_pt.events().append(Uuid::random(), Expected::Any(), numbered("C", 1));
    EXPECT_EQ(store().tenant_status(tenant).events, 1);
}

TEST_F(TenantStrategyTest, ANewTenantIsCreatedOnlyWhenAllowedAndTheRoleMay) {
    auto current = std::make_shared<std::string>();
    std::string tenant = tenant_name();
    *current = tenant;
    // asked not to create: an unknown tenant is TenantNotFound
    Store no_create = per_tenant(url(), current, false);
    EXPECT_THROW(no_create.events().append(Uuid::random(), Expected::Any(), numbered("A", 1)),
                 TenantNotFound);
    EXPECT_FALSE(store().tenant_status(tenant).exists);

    // a role that may not create tenants (no EXECUTE on ensure_tenant) gets TenantNotFound
    std::string role_url_ = role_url();
    Store as_role = per_tenant(role_url_, current);
    EXPECT_THROW(as_role.events().append(Uuid::random(), Expected::Any(), numbered("A", 1)),
                 TenantNotFound);
    EXPECT_FALSE(store().tenant_status(tenant).exists);

    // once it exists (and the role may write there), the same role uses it
    ASSERT_TRUE(store().ensure_tenant(tenant));
    store().grant_tenant(tenant, role_, TenantAccess::Write);
    as_role.events().append(Uuid::random(), Expected::Any(), numbered("A", 1));
    EXPECT_EQ(store().tenant_status(tenant).events, 1);
}

TEST_F(TenantStrategyTest, ASessionsTenantIsSettableUntilItsFirstOperation) {
    std::string a = tenant_name(), b = tenant_name();
    ASSERT_TRUE(store().ensure_tenant(a));
    ASSERT_TRUE(store().ensure_tenant(b));
    Uuid stream = Uuid::random();

    Session s = store().session();
    s.set_tenant(b);
    s.set_tenant(a);  // still before the first operation
    s.enqueue_event(stream, "InA", nlohmann::json::object());
    try {
        s.set_tenant(b);
        FAIL() << "a session's tenant changed after its first operation";
    } catch (const SqlError& e) {
        EXPECT_EQ(e.sqlstate(), "55000");
        EXPECT_NE(e.message().find("first operation"), std::string::npos) << e.what();
    }
    s.save_changes();
    EXPECT_EQ(s.tenant(), a);
    EXPECT_EQ(store().tenant_status(a).events, 1);
    EXPECT_EQ(store().tenant_status(b).events, 0);

    // under SchemaPerTenant the resolver's tenant at the first operation holds for the session
    auto current = std::make_shared<std::string>(a);
    Store store_pt = per_tenant(url(), current);
    Session t = store_pt.session();
    *current = b;
    t.enqueue_event(Uuid::random(), "InB", nlohmann::json::object());  // fixes b
    *current = a;
    t.enqueue_event(Uuid::random(), "AlsoInB", nlohmann::json::object());
    t.save_changes();
    EXPECT_EQ(t.tenant(), b);
    EXPECT_EQ(store().tenant_status(b).events, 2);
    EXPECT_EQ(store().tenant_status(a).events, 1);

    // a transaction's tenant is the one when it began
    *current = a;
    Transaction tx = store_pt.transaction();
    *current = b;
    Result r = tx.exec("SELECT rillflow.current_store()");
    EXPECT_EQ(std::string(r.value(0, 0)), "rillflow_tenant_" + a);
    tx.commit();
}

}  // namespace
}  // namespace rillflow::test
