// session_test.cpp: the unit of work: the identity map, save_changes() with documents and
// events in one transaction, a conflict rolling back both, the session defaults (headers,
// advisory locks) and a per-session tenant that never leaks into the pool.
#include <future>
#include <thread>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

struct Account {
    std::string owner;
    long balance = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Account, owner, balance)

struct Other {
    int x = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Other, x)

class SessionTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        collection_ = fresh_name("s_");
    }
    Documents docs() { return store().docs(collection_); }
    std::string collection_;
};

TEST_F(SessionTest, LoadingAnIdTwiceReturnsTheSameObject) {
    const Uuid id = Uuid::random();
    docs().put(id, Account{"ann", 10});
    Session session = store().session();
    auto a = session.load<Account>(collection_, id);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->owner, "ann");
    EXPECT_EQ(session.version(collection_, id), 1);
    a->balance = 99;  // a change in memory only
    docs().put(id, Account{"changed elsewhere", 1});
    auto b = session.load<Account>(collection_, id);
    EXPECT_EQ(a.get(), b.get()) << "the identity map must return the same object";
    EXPECT_EQ(b->balance, 99);
    EXPECT_EQ(session.version(collection_, id), 1);

    // A miss is remembered too.
    const Uuid missing = Uuid::random();
    EXPECT_EQ(session.load<Account>(collection_, missing), nullptr);
    docs().put(missing, Account{"late", 0});
    EXPECT_EQ(session.load<Account>(collection_, missing), nullptr);

    // Another session sees the database.
    Session fresh = store().session();
    EXPECT_EQ(fresh.load<Account>(collection_, id)->owner, "changed elsewhere");
    EXPECT_EQ(fresh.version(collection_, id), 2);

    EXPECT_THROW(session.load<Other>(collection_, id), InvalidArgument);
}

TEST_F(SessionTest, LoadManyFetchesOnlyWhatTheMapLacks) {
    std::vector<Uuid> ids;
    for (int i = 0; i < 4; ++i) {
        ids.push_back(Uuid::random());
        docs().put(ids.back(), Account{"o" + std::to_string(i), i});
    }
    Session session = store().session();
    auto first = session.load<Account>(collection_, ids[1]);
    first->balance = 1000;
    auto many = session.load_many<Account>(collection_, {ids[0], ids[1], Uuid::random(), ids[3]});
    ASSERT_EQ(many.size(), 3u);
    EXPECT_EQ(many[0]->owner, "o0");
    EXPECT_EQ(many[1].get(), first.get());
    EXPECT_EQ(many[1]->balance, 1000);
    EXPECT_EQ(many[2]->owner, "o3");
    EXPECT_EQ(session.load<Account>(collection_, ids[3]).get(), many[2].get());
}

TEST_F(SessionTest, QueriesGoThroughTheIdentityMap) {
    std::vector<Uuid> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(Uuid::random());
        docs().put(ids.back(), Account{"q" + std::to_string(i), i * 10});
    }
    Session session = store().session();
    auto held = session.load<Account>(collection_, ids[3]);
    held->balance = -1;  // the session's copy wins over the database's

    auto rich = session.query<Account>(collection_)
                    .filter(Predicate::gte("balance", 20))
                    .order_by("balance", SortDirection::Desc)
                    .fetch_all();
    ASSERT_EQ(rich.size(), 3u);
    EXPECT_EQ(rich[0]->owner, "q4");
    EXPECT_EQ(rich[1].get(), held.get()) << "a queried document the session holds is its object";
    EXPECT_EQ(rich[1]->balance, -1);
    EXPECT_EQ(rich[2]->owner, "q2");
    // What a query brought in is in the map, with its version, for load() and store().
    EXPECT_EQ(session.load<Account>(collection_, ids[4]).get(), rich[0].get());
    EXPECT_EQ(session.version(collection_, ids[2]), 1);
    docs().put(ids[2], Account{"moved on", 0});
    rich[2]->balance = 7;
    session.store(collection_, ids[2], rich[2]);
    EXPECT_THROW(session.save_changes(), DocumentVersionConflict)
        << "the query's version is expected";
    session.discard_changes();

    auto one = session.query<Account>(collection_).filter(Predicate::eq("owner", "q0")).fetch_one();
    ASSERT_TRUE(one);
    EXPECT_EQ(one->balance, 0);
    EXPECT_EQ(
        session.query<Account>(collection_).filter(Predicate::eq("owner", "nobody")).fetch_one(),
        nullptr);
    EXPECT_THROW(session.query<Other>(collection_).fetch_all(), InvalidArgument)
        << "documents already held as another type";
}

TEST_F(SessionTest, TrackedChangesAreSavedWithoutStore) {
    const Uuid a = Uuid::random(), b = Uuid::random(), c = Uuid::random(), stream = Uuid::random();
    docs().put(a, Account{"ann", 10});
    docs().put(b, Account{"bob", 20});
    docs().put(c, Account{"cy", 30});
    Session session = store().session(SessionOptions().track_changes(true));
    auto ann = session.load<Account>(collection_, a);
    auto bob = session.load<Account>(collection_, b);
    auto found =
        session.query<Account>(collection_).filter(Predicate::eq("owner", "cy")).fetch_all();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(session.pending(), 0u);

    ann->balance = 11;       // changed: saved
    found[0]->balance = 31;  // changed, found by a query: saved
    (void)bob;               // unchanged: not written
    session.enqueue_event(stream, "Touched", {});
    session.save_changes();
    EXPECT_EQ(docs().get<Account>(a)->value.balance, 11);
    EXPECT_EQ(docs().get<Account>(a)->version, 2);
    EXPECT_EQ(docs().get<Account>(b)->version, 1) << "an unchanged object was written";
    EXPECT_EQ(docs().get<Account>(c)->value.balance, 31);
    EXPECT_EQ(session.version(collection_, a), 2);
    EXPECT_EQ(events().stream_version(stream), 1);

    // Saved objects are clean again; a second save writes nothing.
    session.save_changes();
    EXPECT_EQ(docs().get<Account>(a)->version, 2);

    // A change races another writer: the conflict rolls back the staged append too, and the
    // change stays pending for the next save.
    docs().put(b, Account{"bob elsewhere", 0});
    bob->balance = 21;
    session.enqueue_event(stream, "Touched", {});
    EXPECT_THROW(session.save_changes(), DocumentVersionConflict);
    EXPECT_EQ(events().stream_version(stream), 1);
    EXPECT_EQ(docs().get<Account>(b)->value.owner, "bob elsewhere");

    // discard_changes() forgets tracked changes too. An explicit store() of a tracked object
    // wins over tracking (written once, as staged).
    session.discard_changes();
    EXPECT_EQ(bob->balance, 21) << "discarding leaves the objects as they are";
    ann->owner = "ann twice";
    session.store(collection_, a, ann, 2);
    session.save_changes();
    EXPECT_EQ(docs().get<Account>(a)->version, 3);
    EXPECT_EQ(docs().get<Account>(a)->value.owner, "ann twice");

    // Without track_changes nothing but what is staged is written.
    Session plain = store().session();
    auto ann2 = plain.load<Account>(collection_, a);
    ann2->balance = 500;
    plain.save_changes();
    EXPECT_EQ(docs().get<Account>(a)->value.balance, 11);
}

TEST_F(SessionTest, SaveChangesWritesDocumentsAndEventsTogether) {
    const Uuid existing = Uuid::random(), created = Uuid::random(), gone = Uuid::random();
    const Uuid stream = Uuid::random();
    docs().put(existing, Account{"ann", 10});
    docs().put(gone, Account{"old", 0});

    Session session = store().session();
    auto acct = session.load<Account>(collection_, existing);
    acct->balance += 5;
    session.store(collection_, existing, acct);
    auto fresh = session.store(collection_, created, Account{"bob", 7});
    session.remove(collection_, gone);
    session.patch(collection_, existing, {{"note", "patched"}});
    session.enqueue_event(stream, "Deposited", {{"amount", 5}}, Expected::NoStream());
    session.enqueue_events(stream, Expected::Exact(1),
                           {EventData{"Opened", {{"owner", "bob"}}}, EventData{"Noted", {}}});
    EXPECT_EQ(session.pending(), 6u);
    // Nothing is written before save_changes().
    EXPECT_EQ(docs().get(created), std::nullopt);
    EXPECT_EQ(events().stream_version(stream), std::nullopt);

    session.save_changes();
    EXPECT_EQ(session.pending(), 0u);
    auto saved = docs().get<json>(existing);
    ASSERT_TRUE(saved);
    EXPECT_EQ(saved->value["balance"], 15);
    EXPECT_EQ(saved->value["note"], "patched");
    EXPECT_EQ(saved->version, 3);
    EXPECT_EQ(session.version(collection_, existing), 3);
    EXPECT_EQ(docs().get<Account>(created)->value.owner, "bob");
    EXPECT_EQ(session.version(collection_, created), 1);
    EXPECT_EQ(session.load<Account>(collection_, created).get(), fresh.get());
    EXPECT_EQ(docs().get(gone), std::nullopt);
    EXPECT_EQ(session.load<Account>(collection_, gone), nullptr);
    auto evs = events().read_stream(stream);
    ASSERT_EQ(evs.size(), 3u);
    EXPECT_EQ(evs[0].type, "Deposited");
    EXPECT_EQ(evs[2].type, "Noted");

    // The next save expects the versions this one wrote.
    acct->balance = 0;
    session.store(collection_, existing, acct);
    session.save_changes();
    EXPECT_EQ(docs().get<Account>(existing)->version, 4);
}

TEST_F(SessionTest, ADocumentConflictRollsBackEverything) {
    const Uuid a = Uuid::random(), b = Uuid::random(), stream = Uuid::random();
    docs().put(a, Account{"ann", 10});
    Session session = store().session();
    auto acct = session.load<Account>(collection_, a);
    docs().put(a, Account{"someone else", 50});  // a is at version 2 now

    session.store(collection_, b, Account{"bob", 1});
    session.enqueue_event(stream, "Transferred", {{"amount", 5}});
    acct->balance -= 5;
    session.store(collection_, a, acct);  // expects version 1: conflict
    try {
        session.save_changes();
        FAIL() << "expected DocumentVersionConflict";
    } catch (const DocumentVersionConflict& e) {
        EXPECT_EQ(e.sqlstate(), "RF003");
    }
    EXPECT_EQ(docs().get(b), std::nullopt) << "the write before the conflict was kept";
    EXPECT_EQ(events().stream_version(stream), std::nullopt) << "the append was kept";
    EXPECT_EQ(docs().get<Account>(a)->value.owner, "someone else");
    EXPECT_EQ(session.pending(), 3u);
    EXPECT_EQ(session.version(collection_, a), 1);
    EXPECT_EQ(session.version(collection_, b), std::nullopt);
    session.discard_changes();
    EXPECT_EQ(session.pending(), 0u);
}

TEST_F(SessionTest, AStreamConflictRollsBackTheDocuments) {
    const Uuid a = Uuid::random(), stream = Uuid::random();
    events().append(stream, Expected::Any(), numbered("E", 2));
    Session session = store().session();
    session.store(collection_, a, Account{"ann", 1});
    session.enqueue_event(stream, "E", {}, Expected::Exact(1));
    EXPECT_THROW(session.save_changes(), VersionConflict);
    EXPECT_THROW(docs().get(a), NotFound) << "not even the auto-created collection stays";
    EXPECT_EQ(events().stream_version(stream), 2);
}

TEST_F(SessionTest, AStoreAfterAMissedLoadMustCreate) {
    const Uuid id = Uuid::random();
    docs().put(Uuid::random(), Account{"x", 0});  // the collection exists
    Session session = store().session();
    EXPECT_EQ(session.load<Account>(collection_, id), nullptr);
    docs().put(id, Account{"first", 1});  // someone else creates it meanwhile
    session.store(collection_, id, Account{"second", 2});
    EXPECT_THROW(session.save_changes(), DocumentVersionConflict);
    EXPECT_EQ(docs().get<Account>(id)->value.owner, "first");

    // An explicit expected version wins over what the session knows.
    session.discard_changes();
    session.store(collection_, id, Account{"second", 2}, std::optional<std::int64_t>(1));
    session.save_changes();
    EXPECT_EQ(docs().get<Account>(id)->value.owner, "second");
    EXPECT_EQ(session.version(collection_, id), 2);
}

TEST_F(SessionTest, DefaultHeadersFromTheBuilderGoOnEveryEnqueuedAppend) {
    Store s = Store::builder(url()).session_defaults({{"app", "tests"}, {"user", "x"}}).build();
    const Uuid stream = Uuid::random();
    Session session = s.session();
    EventData own{"A", {}};
    own.headers = {{"user", "ann"}};
    session.enqueue_event(stream, own);
    AppendOptions options;
    options.headers = {{"trace", "t1"}};
    session.enqueue_events(stream, Expected::Any(), {EventData{"B", {}}}, options);
    session.save_changes();
    auto evs = s.events().read_stream(stream);
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[0].headers, json({{"app", "tests"}, {"user", "ann"}}));
    EXPECT_EQ(evs[1].headers, json({{"app", "tests"}, {"user", "x"}, {"trace", "t1"}}));

    // A session's own headers replace the defaults.
    Session other = s.session(SessionOptions().headers({{"only", true}}));
    other.enqueue_event(stream, "C", {});
    other.save_changes();
    EXPECT_EQ(s.events().read_stream(stream, 3)[0].headers, json({{"only", true}}));
    EXPECT_THROW(Store::builder(url()).session_defaults(json::array()).build(), InvalidArgument);
}

// With advisory locks on, save_changes()'s append waits on the stream's advisory lock (held
// here by another transaction that appended with the setting on); with them off it waits on
// that transaction's row lock instead. pg_locks tells the two apart without any timing.
class AdvisoryLockTest : public SessionTest {
  protected:
    // The lock type save_changes() ends up waiting for while `holder` keeps the stream.
    std::string waited_lock(Store& s, std::optional<bool> option) {
        const Uuid stream = Uuid::random();
        events().append(stream, Expected::Any(), numbered("E", 1));
        Transaction holder = store().transaction();
        holder.exec("SET LOCAL rillflow.stream_advisory_locks = on");
        holder.exec("SELECT rillflow.append_event($1::uuid, 'Held', '{}'::jsonb)", {stream});
        const int holder_pid = holder.backend_pid();

        SessionOptions options;
        if (option) options.advisory_locks(*option);
        Session session = s.session(options);
        session.enqueue_event(stream, "Waiting", {});
        auto saved = std::async(std::launch::async, [&] { session.save_changes(); });

        Store watcher = Store::builder(url()).max_connections(1).build();
        std::string type;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (type.empty() && std::chrono::steady_clock::now() < deadline) {
            Transaction w = watcher.transaction();
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
            w.commit();
            if (type.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        holder.commit();
        saved.get();
        EXPECT_EQ(events().stream_version(stream), 3);
        return type;
    }
};

TEST_F(AdvisoryLockTest, TheBuilderOptionMakesAppendsTakeTheStreamsAdvisoryLock) {
    Store with = Store::builder(url()).session_advisory_locks(true).build();
    EXPECT_EQ(waited_lock(with, std::nullopt), "advisory");
    EXPECT_EQ(waited_lock(with, false), "transactionid") << "a session can turn it off";
    Store without = Store::builder(url()).build();
    EXPECT_EQ(waited_lock(without, std::nullopt), "transactionid");
    EXPECT_EQ(waited_lock(without, true), "advisory");
}

TEST_F(SessionTest, APerSessionTenantNeverLeaksIntoThePool) {
    std::string tenant;
    fresh_tenant_store(store(), &tenant);
    // One connection, so the session's transactions and the checks share it.
    Store one = Store::builder(url()).max_connections(1).build();
    const Uuid id = Uuid::random(), stream = Uuid::random();
    Session session = one.session(SessionOptions().tenant(tenant));
    session.store(collection_, id, Account{"tenant doc", 1});
    session.enqueue_event(stream, "InTenant", {});
    session.save_changes();
    EXPECT_EQ(session.load<Account>(collection_, id)->owner, "tenant doc");
    Session again = one.session(SessionOptions().tenant(tenant));
    EXPECT_EQ(again.load<Account>(collection_, id)->owner, "tenant doc") << "loads use the tenant";
    Session querying = one.session(SessionOptions().tenant(tenant));
    auto queried = querying.query<Account>(collection_).fetch_all();
    ASSERT_EQ(queried.size(), 1u) << "queries use the tenant";
    EXPECT_EQ(queried[0]->owner, "tenant doc");

    EXPECT_EQ(one.current_store(), "rillflow_default");
    EXPECT_THROW(one.docs(collection_).get(id), NotFound) << "the default store has no such docs";
    EXPECT_EQ(one.events().stream_version(stream), std::nullopt);
    Store in_tenant = Store::builder(url()).tenant(tenant).build();
    EXPECT_EQ(in_tenant.docs(collection_).get<Account>(id)->value.owner, "tenant doc");
    EXPECT_EQ(in_tenant.events().stream_version(stream), 1);

    // A tenant store's session can act on the default store with "".
    Session back = in_tenant.session(SessionOptions().tenant(""));
    back.store(collection_, id, Account{"default doc", 2});
    back.save_changes();
    EXPECT_EQ(one.docs(collection_).get<Account>(id)->value.owner, "default doc");
    EXPECT_EQ(in_tenant.docs(collection_).get<Account>(id)->value.owner, "tenant doc");
    EXPECT_EQ(in_tenant.current_store(), "rillflow_tenant_" + tenant);

    Session nowhere = one.session(SessionOptions().tenant(fresh_name("none_")));
    EXPECT_THROW(nowhere.load<Account>(collection_, id), TenantNotFound);
    nowhere.store(collection_, id, Account{"x", 0});
    EXPECT_THROW(nowhere.save_changes(), TenantNotFound);
    EXPECT_EQ(one.current_store(), "rillflow_default");
}

}  // namespace
}  // namespace rillflow::test
