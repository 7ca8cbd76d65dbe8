// store_test.cpp: building stores, aliases, tenants, and the connection pool under threads,
// timeouts and broken connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "support.hpp"

namespace rillflow::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class StoreTest : public ClientTest {};

// ---- building --------------------------------------------------------------

TEST_F(StoreTest, CopiesShareOnePool) {
    Store copy = store();  // NOLINT(performance-unnecessary-copy-initialization)
    EXPECT_EQ(copy.pool_stats().max_connections, 8u);
    Transaction tx = copy.transaction();
    EXPECT_EQ(store().pool_stats().open, copy.pool_stats().open);
    EXPECT_EQ(store().pool_stats().idle, copy.pool_stats().idle);
    EXPECT_EQ(store().tenant(), std::nullopt);
}

TEST_F(StoreTest, BuildRejectsBadSettings) {
    EXPECT_THROW(Store::builder(url()).max_connections(0).build(), InvalidArgument);
    EXPECT_THROW(Store::builder(url()).connect_timeout(0ms).build(), InvalidArgument);
    EXPECT_THROW(Store::builder(url()).acquire_timeout(-1ms).build(), InvalidArgument);
}

TEST_F(StoreTest, ConnectWorksWithDefaults) {
    Store s = Store::connect(url());
    EXPECT_EQ(s.pool_stats().max_connections, 10u);
    EXPECT_EQ(s.pool_stats().open, 1u);  // build() opened the first connection
    EXPECT_EQ(s.current_store(), "rillflow_default");
}

TEST_F(StoreTest, NoticesReachTheHandler) {
    std::vector<std::string> notices;
    std::mutex mutex;
    Store s = Store::builder(url())
                  .notice_handler([&](const std::string& text) {
                      std::lock_guard<std::mutex> lock(mutex);
                      notices.push_back(text);
                  })
                  .build();
    s.transaction().exec("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$");
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_NE(notices[0].find("hello 42"), std::string::npos) << notices[0];
}

TEST_F(StoreTest, AThrowingNoticeHandlerDoesNotBreakTheConnection) {
    Store s = Store::builder(url())
                  .max_connections(1)
                  .notice_handler([](const std::string&) { throw std::runtime_error("no"); })
                  .build();
    Transaction tx = s.transaction();
    tx.exec("DO $$ BEGIN RAISE WARNING 'careful'; END $$");
    EXPECT_EQ(tx.exec("SELECT 2").value(0, 0), "2");
    tx.commit();
    EXPECT_EQ(s.pool_stats().idle, 1u);
}

// ---- connection errors -------------------------------------------------------

TEST_F(StoreTest, MalformedUrlIsAConnectionError) {
    EXPECT_THROW(Store::builder("postgresql://host:notaport/db").build(), ConnectionError);
    EXPECT_THROW(Store::builder("this is = not a url").build(), ConnectionError);
}

TEST_F(StoreTest, UnreachableServerIsAConnectionError) {
    try {
        static_cast<void>(
            Store::builder("postgresql://nobody@127.0.0.1:1/none?sslmode=disable").build());
        FAIL() << "expected ConnectionError";
    } catch (const ConnectionError& e) {
        EXPECT_EQ(e.sqlstate(), "08001");
        EXPECT_FALSE(e.message().empty());
    }
}

TEST_F(StoreTest, MissingDatabaseIsAConnectionError) {
    Store s = store();
    // Same server, a database that does not exist: swap the database in a key=value string.
    const std::string bad = "dbname=" + fresh_name("no_such_db_");
    std::string conninfo;
    Result r = s.transaction().exec(
        "SELECT coalesce(current_setting('unix_socket_directories'), ''), "
        "current_setting('port')");
    const std::string sockets(r.value(0, 0));
    const std::string host = sockets.substr(0, sockets.find(','));
    conninfo = bad + " host='" + host + "' port=" + std::string(r.value(0, 1));
    EXPECT_THROW(Store::builder(conninfo).build(), ConnectionError);
}

TEST_F(StoreTest, ConnectTimeoutIsHonouredInMilliseconds) {
    // A socket that accepts TCP connections but never speaks PostgreSQL.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener, 16), 0);
    socklen_t length = sizeof address;
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
    const int port = ntohs(address.sin_port);

    const auto start = std::chrono::steady_clock::now();
    try {
        static_cast<void>(Store::builder("postgresql://nobody@127.0.0.1:" + std::to_string(port) +
                                         "/none?sslmode=disable&gssencmode=disable")
                              .connect_timeout(300ms)
                              .build());
        ADD_FAILURE() << "expected ConnectionError";
    } catch (const ConnectionError& e) {
        EXPECT_NE(e.message().find("timed out"), std::string::npos) << e.what();
    }
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    ::close(listener);
}

// ---- the pool ------------------------------------------------------------------

TEST_F(StoreTest, PoolServesManyThreads) {
    Store s = Store::builder(url()).max_connections(4).build();
    const Uuid shared = Uuid::random();
    constexpr int threads = 16;
    constexpr int appends = 25;
    std::mutex mutex;
    std::vector<std::int64_t> versions;
    std::atomic<int> failures{0};
    std::vector<std::thread> pool;
    std::vector<Uuid> own(threads);
    for (int t = 0; t < threads; ++t) {
        own[t] = Uuid::random();
        pool.emplace_back([&, t] {
            try {
                for (int i = 0; i < appends; ++i) {
                    const std::int64_t v =
                        s.events().append(shared, Expected::Any(), {EventData{"Hit", {{"t", t}}}});
                    s.events().append(own[t], Expected::Exact(i), numbered("Own", 1, i));
                    std::lock_guard<std::mutex> lock(mutex);
                    versions.push_back(v);
                }
            } catch (const std::exception& e) {
                ++failures;
                ADD_FAILURE() << "thread " << t << ": " << e.what();
            }
        });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(failures.load(), 0);
    std::sort(versions.begin(), versions.end());
    ASSERT_EQ(versions.size(), static_cast<std::size_t>(threads * appends));
    for (std::size_t i = 0; i < versions.size(); ++i) {
        EXPECT_EQ(versions[i], static_cast<std::int64_t>(i + 1));  // each version once
    }
    EXPECT_EQ(s.events().stream_version(shared), threads * appends);
    for (const Uuid& o : own) EXPECT_EQ(s.events().stream_version(o), appends);
    const PoolStats stats = s.pool_stats();
    EXPECT_LE(stats.open, 4u);
    EXPECT_EQ(stats.idle, stats.open);  // every borrowed connection came back
}

TEST_F(StoreTest, PoolWaitsThenTimesOutWhenEveryConnectionIsBusy) {
    Store s = Store::builder(url()).max_connections(1).acquire_timeout(200ms).build();
    const Uuid stream = Uuid::random();
    {
        Transaction tx = s.transaction();
        const auto start = std::chrono::steady_clock::now();
        try {
            static_cast<void>(s.events().stream_version(stream));
            FAIL() << "expected ConnectionError";
        } catch (const ConnectionError& e) {
            EXPECT_EQ(e.sqlstate(), "08000");
        }
        EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
    }
    EXPECT_EQ(s.events().stream_version(stream), std::nullopt);  // free again

    // A waiting caller gets the connection as soon as it comes back.
    Store patient = Store::builder(url()).max_connections(1).acquire_timeout(10s).build();
    auto tx = std::make_unique<Transaction>(patient.transaction());
    std::thread releaser([&] {
        std::this_thread::sleep_for(100ms);
        tx.reset();
    });
    EXPECT_EQ(patient.events().stream_version(stream), std::nullopt);
    releaser.join();
}

TEST_F(StoreTest, BrokenConnectionIsDiscardedNotReturned) {
    Store s = Store::builder(url()).max_connections(2).build();
    {
        Transaction tx = s.transaction();
        const int pid = tx.backend_pid();
        store().transaction().exec("SELECT pg_terminate_backend($1::int, 5000)", {pid});
        try {
            tx.exec("SELECT 1");
            FAIL() << "expected ConnectionError";
        } catch (const ConnectionError& e) {
            EXPECT_FALSE(e.sqlstate().empty());
        }
    }  // the dead connection is closed here, not pooled
    const PoolStats stats = s.pool_stats();
    EXPECT_EQ(stats.open, stats.idle);
    EXPECT_EQ(stats.open, 0u);
    EXPECT_EQ(s.events().stream_version(Uuid::random()), std::nullopt);  // a fresh one opens
}

TEST_F(StoreTest, ConnectionKilledWhileIdleIsReplaced) {
    Store s = Store::builder(url()).max_connections(1).build();
    int pid = 0;
    {
        Transaction tx = s.transaction();
        pid = tx.backend_pid();
        tx.commit();
    }
    ASSERT_EQ(s.pool_stats().idle, 1u);
    store().transaction().exec("SELECT pg_terminate_backend($1::int, 5000)", {pid});
    // The pool notices the idle connection died and opens another instead of failing.
    Transaction tx = s.transaction();
    EXPECT_NE(tx.backend_pid(), pid);
    EXPECT_EQ(tx.exec("SELECT 1").value(0, 0), "1");
}

// ---- aliases ---------------------------------------------------------------------

TEST_F(StoreTest, AliasResolvesToOneStreamId) {
    const std::string alias = fresh_name("order-");
    const Uuid id = store().resolve_stream_alias(alias);
    EXPECT_FALSE(id.is_nil());
    EXPECT_EQ(store().resolve_stream_alias(alias), id);
    EXPECT_NE(store().resolve_stream_alias(alias + "-other"), id);
    events().append(id, Expected::NoStream(), numbered("Placed", 1));
    EXPECT_EQ(events().stream_version(store().resolve_stream_alias(alias)), 1);
}

TEST_F(StoreTest, ConcurrentFirstResolutionsAgree) {
    for (int round = 0; round < 3; ++round) {
        const std::string alias = fresh_name("race-");
        constexpr int threads = 12;
        std::vector<Uuid> ids(threads);
        std::vector<std::thread> pool;
        std::atomic<bool> go{false};
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                while (!go.load()) std::this_thread::yield();
                try {
                    ids[t] = store().resolve_stream_alias(alias);
                } catch (const std::exception& e) {
                    ADD_FAILURE() << e.what();
                }
            });
        }
        go = true;
        for (auto& th : pool) th.join();
        const std::set<Uuid> distinct(ids.begin(), ids.end());
        EXPECT_EQ(distinct.size(), 1u);
        EXPECT_FALSE(ids[0].is_nil());
    }
}

TEST_F(StoreTest, BadAliasesAreInvalidArguments) {
    EXPECT_THROW(store().resolve_stream_alias(""), InvalidArgument);
    EXPECT_THROW(store().resolve_stream_alias(std::string(513, 'a')), InvalidArgument);
    EXPECT_THROW(store().resolve_stream_alias("line\nbreak"), InvalidArgument);
}

// ---- tenants --------------------------------------------------------------------

TEST_F(StoreTest, EnsureTenantCreatesOnce) {
    const std::string name = fresh_name("t_");
    EXPECT_TRUE(store().ensure_tenant(name));
    EXPECT_FALSE(store().ensure_tenant(name));
}

TEST_F(StoreTest, ListTenantsShowsACreatedTenantOnce) {
    const std::string name = fresh_name("t_");
    const auto before = std::chrono::system_clock::now() - std::chrono::minutes(1);
    ASSERT_TRUE(store().ensure_tenant(name));
    const auto tenants = store().list_tenants();
    int found = 0;
    for (const auto& t : tenants) {
        if (t.name != name) continue;
        ++found;
        EXPECT_EQ(t.schema_name, "rillflow_tenant_" + name);
        EXPECT_GT(t.created_at, before);
    }
    EXPECT_EQ(found, 1);
    for (std::size_t i = 1; i < tenants.size(); ++i)
        EXPECT_LT(tenants[i - 1].name, tenants[i].name);
}

TEST_F(StoreTest, ConcurrentEnsureTenantCreatesExactlyOnce) {
    const std::string name = fresh_name("t_");
    std::atomic<int> created{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 6; ++t) {
        pool.emplace_back([&] {
            try {
                if (store().ensure_tenant(name)) ++created;
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
            }
        });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(created.load(), 1);
}

TEST_F(StoreTest, BadTenantNamesAreInvalidArguments) {
    EXPECT_THROW(store().ensure_tenant("Upper"), InvalidArgument);
    EXPECT_THROW(store().ensure_tenant("1starts_with_digit"), InvalidArgument);
    EXPECT_THROW(store().ensure_tenant(""), InvalidArgument);
    EXPECT_THROW(store().ensure_tenant(std::string(41, 'a')), InvalidArgument);
}

TEST_F(StoreTest, TenantStoreIsSeparate) {
    std::string name;
    Store tenant = fresh_tenant_store(store(), &name);
    EXPECT_EQ(tenant.tenant(), name);
    EXPECT_EQ(tenant.current_store(), "rillflow_tenant_" + name);

    const Uuid s = Uuid::random();
    EXPECT_EQ(tenant.events().append(s, Expected::NoStream(), numbered("Tenanted", 2)), 2);
    EXPECT_EQ(tenant.events().stream_version(s), 2);
    EXPECT_EQ(events().stream_version(s), std::nullopt);  // not in the default store
    EXPECT_TRUE(events().read_stream(s).empty());
    // The same stream id in the default store is another stream.
    EXPECT_EQ(events().append(s, Expected::NoStream(), numbered("Default", 1)), 1);
    EXPECT_EQ(tenant.events().stream_version(s), 2);

    // Aliases are per store too.
    const std::string alias = fresh_name("alias-");
    EXPECT_NE(tenant.resolve_stream_alias(alias), store().resolve_stream_alias(alias));

    // Every pooled connection of the tenant store acts on the tenant (and transactions too).
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
        pool.emplace_back([&] {
            for (int i = 0; i < 5; ++i) {
                EXPECT_EQ(tenant.events().stream_version(s), 2);
            }
        });
    }
    for (auto& th : pool) th.join();
    Transaction tx = tenant.transaction();
    EXPECT_EQ(tx.events().stream_version(s), 2);
    EXPECT_EQ(tx.exec("SELECT current_setting('rillflow.tenant')").value(0, 0), name);
}

TEST_F(StoreTest, UnknownTenantIsTenantNotFound) {
    const std::string name = fresh_name("missing_");
    try {
        Store s = Store::builder(url()).tenant(name).build();
        static_cast<void>(s.events().stream_version(Uuid::random()));
        FAIL() << "expected TenantNotFound";
    } catch (const TenantNotFound& e) {
        EXPECT_EQ(e.sqlstate(), "RF005");
        EXPECT_NE(e.what(), std::string());
    }
}

}  // namespace
}  // namespace rillflow::test
