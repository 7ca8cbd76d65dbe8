// client_extras_test.cpp: session defaults with causation and correlation ids, your own SQL
// on a pooled connection (Store::pool()), and Events::with_advisory_locks().
#include <future>
#include <string>
#include <thread>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

class ClientExtrasTest : public ClientTest {};

TEST_F(ClientExtrasTest, SessionDefaultsGiveEveryAppendTheirHeadersCausationAndCorrelation) {
    const Uuid cause = Uuid::random(), corr = Uuid::random();
    SessionDefaults defaults;
    defaults.headers = {{"app", "orders"}};
    defaults.causation_id = cause;
    defaults.correlation_id = corr;
    Store s = Store::builder(url()).session_defaults(defaults).build();
    const Uuid stream = Uuid::random();

    Session a = s.session();
    a.enqueue_event(stream, "First", json::object());
    AppendOptions own;  // an append's own ids win
    const Uuid own_corr = Uuid::random();
    own.correlation_id = own_corr;
    a.enqueue_events(stream, Expected::Any(), numbered("Second", 1), own);
    a.save_changes();
    // The session's options win over the builder's.
    const Uuid session_cause = Uuid::random();
    Session b = s.session(SessionOptions().causation_id(session_cause));
    b.enqueue_event(stream, "Third", json::object());
    b.save_changes();

    const auto events = s.events().read_stream(stream);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].headers.value("app", ""), "orders");
    EXPECT_EQ(events[0].causation_id, cause);
    EXPECT_EQ(events[0].correlation_id, corr);
    EXPECT_EQ(events[1].causation_id, cause);
    EXPECT_EQ(events[1].correlation_id, own_corr);
    EXPECT_EQ(events[2].causation_id, session_cause);
    EXPECT_EQ(events[2].correlation_id, corr);
    EXPECT_EQ(b.options().causation_id(), session_cause);
    // Plain stores and Events::append are untouched by them.
    s.events().append(stream, Expected::Any(), numbered("Direct", 1));
    EXPECT_FALSE(s.events().read_stream(stream, 4)[0].causation_id);
}

TEST_F(ClientExtrasTest, PoolRunsYourSqlOnAPooledConnectionOfTheStoresTenant) {
    std::string tenant;
    Store t = fresh_tenant_store(store(), &tenant);
    int pid = 0;
    {
        PooledConnection c = t.pool().acquire();
        Result r = c.exec("SELECT rillflow.current_store(), $1::int + 1", {41});
        EXPECT_EQ(r.value(0, 0), "rillflow_tenant_" + tenant);
        EXPECT_EQ(r.value(0, 1), "42");
        pid = c.backend_pid();
        EXPECT_THROW(c.exec("SELECT 1/0"), Error);
        EXPECT_EQ(c.exec("SELECT 1").value(0, 0), "1");  // usable after an error
    }
    // Given back: the next borrower gets the same connection.
    PooledConnection again = t.pool().acquire();
    EXPECT_EQ(again.backend_pid(), pid);
    // Left inside a transaction, a connection is closed rather than given back.
    again.exec("BEGIN");
    again.release();
    EXPECT_THROW(again.exec("SELECT 1"), SqlError);
    PooledConnection fresh = t.pool().acquire();
    EXPECT_NE(fresh.backend_pid(), pid);
}

// Which lock an append of `stream` waits for while another transaction, which appended to
// it with advisory locks on, stays open: pg_locks tells advisory from row (transactionid)
// waits without timing.
std::string waited_lock(Store& store, const std::string& url, bool advisory) {
    const Uuid stream = Uuid::random();
    store.events().append(stream, Expected::Any(), numbered("E", 1));
    Transaction holder = store.transaction();
    holder.exec("SET LOCAL rillflow.stream_advisory_locks = on");
    holder.exec("SELECT rillflow.append_event($1::uuid, 'Held', '{}'::jsonb)", {stream});
    const int holder_pid = holder.backend_pid();
    Events events = advisory ? store.events().with_advisory_locks() : store.events();
    auto appended = std::async(std::launch::async, [&] {
        return events.append(stream, Expected::Any(), numbered("Waiting", 1));
    });
    Store watcher = Store::builder(url).max_connections(1).build();
    std::string type;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (type.empty() && std::chrono::steady_clock::now() < deadline) {
        PooledConnection w = watcher.pool().acquire();
        Result r = w.exec(
            "SELECT w.locktype FROM pg_catalog.pg_locks w "
            "JOIN pg_catalog.pg_locks h ON h.pid = $1 AND h.granted "
            " AND h.locktype = w.locktype "
            " AND h.database IS NOT DISTINCT FROM w.database "
            " AND h.classid IS NOT DISTINCT FROM w.classid "
            " AND h.objid IS NOT DISTINCT FROM w.objid "
            " AND h.objsubid IS NOT DISTINCT FROM w.objsubid "
            " AND h.transactionid IS NOT DISTINCT FROM w.transactionid "
            "WHERE NOT w.granted AND w.pid <> $1 AND w.locktype IN ('advisory', "
            "'transactionid')",
            {holder_pid});
        if (!r.empty()) type = std::string(r.value(0, 0));
        if (type.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    holder.commit();
    EXPECT_EQ(appended.get(), 3);
    return type;
}

TEST_F(ClientExtrasTest, WithAdvisoryLocksAppendsQueueOnTheStreamsAdvisoryLock) {
    EXPECT_EQ(waited_lock(store(), url(), true), "advisory");
    EXPECT_EQ(waited_lock(store(), url(), false), "transactionid");
    // Outside a transaction the setting lasts for the one append only: the next user of
    // the (one) connection finds it off.
    Store one = Store::builder(url()).max_connections(1).build();
    one.events().with_advisory_locks().append(Uuid::random(), Expected::Any(), numbered("E", 1));
    PooledConnection c = one.pool().acquire();
    EXPECT_EQ(c.exec("SELECT current_setting('rillflow.stream_advisory_locks')").value(0, 0),
              "off");
}

TEST_F(ClientExtrasTest, WithAdvisoryLocksInATransactionAppendsAndCommits) {
    const Uuid stream = Uuid::random();
    Transaction tx = store().transaction();
    EXPECT_EQ(
        tx.events().with_advisory_locks().append(stream, Expected::NoStream(), numbered("Tx", 2)),
        2);
    EXPECT_EQ(tx.exec("SELECT current_setting('rillflow.stream_advisory_locks')").value(0, 0),
              "on");
    tx.commit();
    EXPECT_EQ(store().events().stream_version(stream), 2);
}

}  // namespace
}  // namespace rillflow::test
