// replica_test.cpp: StoreBuilder::read_replicas against a real streaming standby of the test
// server (scripts/test.sh starts one and names it in RILLFLOW_REPLICA_URL): reads go to the
// replica, writes to the primary, and a Store reads its own writes even when the replica
// lags (here: replay paused), by waiting or falling back to the primary.
#include <cstdlib>
#include <thread>

#include "support.hpp"

namespace rillflow::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The standby's URL for DATABASE_URL's database. Under scripts/test.sh
// (RILLFLOW_REQUIRE_REPLICA=1) a missing one fails the test; elsewhere it skips.
std::string replica_url() {
    const char* url = std::getenv("RILLFLOW_REPLICA_URL");
    return url == nullptr ? std::string() : std::string(url);
}

bool replica_required() {
    const char* required = std::getenv("RILLFLOW_REQUIRE_REPLICA");
    return required != nullptr && std::string(required) == "1";
}

class ReplicaTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        if (replica_url().empty()) {
            if (replica_required()) FAIL() << "RILLFLOW_REPLICA_URL is not set";
            GTEST_SKIP() << "RILLFLOW_REPLICA_URL names no standby of DATABASE_URL's server";
        }
        standby_.emplace(Store::builder(replica_url()).max_connections(2).build());
        ASSERT_EQ(on_standby("SELECT pg_catalog.pg_is_in_recovery()::text"), "true");
    }

    void TearDown() override {
        if (standby_) on_standby("SELECT pg_catalog.pg_wal_replay_resume()::text");
    }

    // One statement on the standby itself (not through read_replicas); its one value.
    std::string on_standby(const std::string& sql) {
        Transaction tx = standby_->transaction();
        Result r = tx.exec(sql);
        std::string value =
            r.empty() || r.is_null(0, 0) ? std::string() : std::string(r.value(0, 0));
        tx.commit();
        return value;
    }

    // Waits (up to 10 s) until the standby has replayed everything the primary wrote so far.
    void wait_for_replay() {
        Transaction tx = store().transaction();
        const std::string lsn(
            tx.exec("SELECT pg_catalog.pg_current_wal_insert_lsn()::text").value(0, 0));
        tx.commit();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (on_standby("SELECT (pg_catalog.pg_last_wal_replay_lsn() >= '" + lsn +
                          "'::pg_lsn)::text") != "true") {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the standby did not replay";
            std::this_thread::sleep_for(10ms);
        }
    }

    Store replicated(std::chrono::milliseconds wait = 300ms) {
        return Store::builder(url()).read_replicas({replica_url()}).replica_wait(wait).build();
    }

    std::optional<Store> standby_;
};

TEST_F(ReplicaTest, ReadsGoToTheReplicaAndWritesToThePrimary) {
    const std::string collection = fresh_name("rr_");
    ASSERT_TRUE(store().docs(collection).create_collection(collection));
    const Uuid before = Uuid::random();
    store().docs(collection).put(before, {{"n", 1}});
    wait_for_replay();

    Store writer = replicated();
    Store reader = replicated();  // writes nothing: always reads the replica
    ASSERT_TRUE(reader.docs(collection).get<json>(before).has_value());

    on_standby("SELECT pg_catalog.pg_wal_replay_pause()::text");
    const Uuid after = Uuid::random();
    // a write goes to the primary (a standby would refuse it with 25006)
    EXPECT_EQ(writer.docs(collection).put(after, {{"n", 2}}), 1);
    // the writer reads its own write: the replica is behind, so from the primary
    auto own = writer.docs(collection).get<json>(after);
    ASSERT_TRUE(own.has_value());
    EXPECT_EQ(own->value, (json{{"n", 2}}));
    // the other Store reads the paused replica, which has not seen it
    EXPECT_FALSE(reader.docs(collection).get<json>(after).has_value());
    EXPECT_EQ(reader.docs(collection).count(Predicate()), 1);

    on_standby("SELECT pg_catalog.pg_wal_replay_resume()::text");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!reader.docs(collection).get<json>(after).has_value()) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the replica never showed it";
        std::this_thread::sleep_for(10ms);
    }
}

TEST_F(ReplicaTest, AStoreReadsItsOwnAppendsThroughTheReplica) {
    // a tenant of its own, so the log's tail is this test's events
    const std::string tenant = fresh_name("t_");
    ASSERT_TRUE(store().ensure_tenant(tenant));
    // long enough for the replica: no fallback needed
    Store writer = Store::builder(url())
                       .tenant(tenant)
                       .read_replicas({replica_url()})
                       .replica_wait(5000ms)
                       .build();
    const Uuid stream = Uuid::random();
    for (int i = 1; i <= 5; ++i) {
        writer.events().append(stream, Expected::Any(), numbered("Counted", 1, i));
        auto read = writer.events().read_stream(stream);
        ASSERT_EQ(read.size(), static_cast<std::size_t>(i)) << "after append " << i;
        EXPECT_EQ(writer.events().stream_version(stream), i);
    }
    // the global log too: the events' positions come from a tick on the primary
    const std::int64_t head = writer.head_position();
    const auto all = writer.events().read_all(head - 5, 100);
    ASSERT_EQ(all.size(), 5u);
    for (const EventEnvelope& e : all) EXPECT_EQ(e.stream_id, stream);
}

TEST_F(ReplicaTest, ReadsOnTheReplicaActOnTheCallsTenant) {
    // SchemaPerTenant: each call's tenant from the resolver, set on the replica's connection
    // as on the primary's; a tenant new to the Store is created on the primary first.
    const std::string a = fresh_name("ta_");
    const std::string b = fresh_name("tb_");
    auto current = std::make_shared<std::string>(a);
    Store writer =
        Store::builder(url())
            .tenant_strategy(TenantStrategy::SchemaPerTenant, [current] { return *current; })
            .read_replicas({replica_url()})
            .replica_wait(5000ms)
            .build();
    const Uuid in_a = Uuid::random();
    const Uuid in_b = Uuid::random();
    writer.events().append(in_a, Expected::NoStream(), numbered("InA", 1));
    EXPECT_EQ(writer.events().read_stream(in_a).size(), 1u);
    *current = b;
    writer.events().append(in_b, Expected::NoStream(), numbered("InB", 2));
    EXPECT_EQ(writer.events().read_stream(in_b).size(), 2u);
    EXPECT_TRUE(writer.events().read_stream(in_a).empty()) << "b's store has no stream of a's";
    wait_for_replay();

    *current = a;
    Store reader =
        Store::builder(url())
            .tenant_strategy(TenantStrategy::SchemaPerTenant, [current] { return *current; })
            .read_replicas({replica_url()})
            .replica_wait(5000ms)
            .build();
    ASSERT_EQ(reader.events().read_stream(in_a).size(), 1u);
    *current = b;
    ASSERT_EQ(reader.events().read_stream(in_b).size(), 2u);
    EXPECT_EQ(reader.current_store(), "rillflow_tenant_" + b);

    // With replay paused, another Store's append to a's stream is not on the replica: the
    // reader, which wrote nothing since, still reads a's store there.
    on_standby("SELECT pg_catalog.pg_wal_replay_pause()::text");
    writer.for_tenant(a).events().append(in_a, Expected::Exact(1), numbered("InA", 1));
    *current = a;
    EXPECT_EQ(reader.events().read_stream(in_a).size(), 1u) << "read from the paused replica";
    EXPECT_EQ(reader.current_store(), "rillflow_tenant_" + a);
    EXPECT_EQ(reader.for_tenant(b).events().read_stream(in_b).size(), 2u);
    // the writer reads its own append (from the primary, the replica being behind)
    EXPECT_EQ(writer.for_tenant(a).events().read_stream(in_a).size(), 2u);
}

TEST_F(ReplicaTest, AReplicaThatCannotBeReachedSendsReadsToThePrimary) {
    Store store_with_dead_replica =
        Store::builder(url())
            .connect_timeout(2000ms)
            .read_replicas({"postgresql://postgres@/nowhere?host=/nonexistent-rillflow&port=1"})
            .build();
    const Uuid stream = Uuid::random();
    store_with_dead_replica.events().append(stream, Expected::NoStream(), numbered("E", 2));
    EXPECT_EQ(store_with_dead_replica.events().read_stream(stream).size(), 2u);
}

TEST_F(ReplicaTest, BuildRejectsBadReplicaSettings) {
    EXPECT_THROW(Store::builder(url()).read_replicas({""}).build(), InvalidArgument);
    EXPECT_THROW(Store::builder(url()).replica_wait(-1ms).build(), InvalidArgument);
}

}  // namespace
}  // namespace rillflow::test
