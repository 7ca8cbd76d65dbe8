// tenant_access_test.cpp: Store::grant_tenant / revoke_tenant, tried as the role they grant to
// (docs/security.md): a level lets a role in, revoking it shuts it out again, and the errors
// are the server's.
#include <string>

#include "support.hpp"

namespace rillflow::test {
namespace {

class TenantAccessTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        if (HasFatalFailure()) return;
        role_ = fresh_name("Rf Access ");  // a name that needs quoting
        Transaction tx = store().transaction();
        Result r = tx.exec("SELECT pg_catalog.format('CREATE ROLE %I LOGIN', $1::text)", {role_});
        tx.exec(std::string(r.value(0, 0)));
        tx.commit();
        created_ = true;
    }

    void TearDown() override {
        if (!created_) return;
        Transaction tx = store().transaction();
        for (const char* what : {"DROP OWNED BY %I", "DROP ROLE %I"}) {
            Result r = tx.exec("SELECT pg_catalog.format($1::text, $2::text)", {what, role_});
            tx.exec(std::string(r.value(0, 0)));
        }
        tx.commit();
    }

    /// A store on `tenant` connected as the test's role.
    Store as_role(const std::string& tenant) const {
        std::string url = this->url();
        url += (url.find('?') == std::string::npos ? "?" : "&");
        std::string user;
        for (char c : role_) user += (c == ' ' ? std::string("%20") : std::string(1, c));
        url += "user=" + user;
        return Store::builder(url).tenant(tenant).max_connections(2).build();
    }

    std::string role_;
    bool created_ = false;
};

TEST_F(TenantAccessTest, ALevelLetsTheRoleInAndRevokingItShutsItOut) {
    std::string tenant;
    Store owner = fresh_tenant_store(store(), &tenant);
    Uuid stream = Uuid::random();
    owner.events().append(stream, Expected::Any(), numbered("Opened", 1));

    store().grant_tenant(tenant, role_, TenantAccess::Write);
    Store role = as_role(tenant);
    role.events().append(stream, Expected::Any(), numbered("Written", 1, 2));
    EXPECT_EQ(role.events().read_stream(stream).size(), 2u);

    store().revoke_tenant(tenant, role_, TenantAccess::Write);
    try {
        role.events().append(stream, Expected::Any(), numbered("Late", 1, 3));
        FAIL() << "a role whose write level was revoked appended";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::insufficient_privilege) << e.what();
    }
    EXPECT_EQ(role.events().read_stream(stream).size(), 2u) << "revoking write keeps read";

    store().revoke_tenant(tenant, role_, TenantAccess::Read);
    try {
        (void)role.events().read_stream(stream);
        FAIL() << "a role whose read level was revoked read the stream";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::insufficient_privilege) << e.what();
    }
}

TEST_F(TenantAccessTest, AGrantOnOneTenantReachesNoOther) {
    std::string a, b;
    Store store_a = fresh_tenant_store(store(), &a);
    Store store_b = fresh_tenant_store(store(), &b);
    Uuid stream = Uuid::random();
    store_b.events().append(stream, Expected::Any(), numbered("SecretB", 1));
    store().grant_tenant(a, role_, TenantAccess::Admin);

    Store role_b = as_role(b);
    try {
        (void)role_b.events().read_stream(stream);
        FAIL() << "an admin of tenant a read tenant b";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::insufficient_privilege) << e.what();
    }
}

TEST_F(TenantAccessTest, ErrorsAreTheServers) {
    std::string tenant;
    Store owner = fresh_tenant_store(store(), &tenant);
    EXPECT_THROW(store().grant_tenant(fresh_name("t_nobody_"), role_, TenantAccess::Read),
                 TenantNotFound);
    EXPECT_THROW(store().grant_tenant(tenant, fresh_name("rf_nobody_"), TenantAccess::Read),
                 InvalidArgument);
    EXPECT_THROW(store().grant_tenant("Bad Name", role_, TenantAccess::Read), InvalidArgument);
    // only the store's owner grants: the role itself may not, even on a tenant it administers
    store().grant_tenant(tenant, role_, TenantAccess::Admin);
    try {
        as_role(tenant).grant_tenant(tenant, role_, TenantAccess::Admin);
        FAIL() << "an admin granted access to its tenant";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::insufficient_privilege) << e.what();
    }
    // the default store is the tenant ""
    store().grant_tenant("", role_, TenantAccess::Read);
    store().revoke_tenant("", role_, TenantAccess::Read);
}

}  // namespace
}  // namespace rillflow::test
