// evolution_test.cpp: client upcasters (sync and async) after the server's chains, the
// server's registry seen from C++, aggregates with validators and snapshots, the session's
// aggregate commits and the snapshotter, against a real server.
#include <future>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

// A bank account folded in C++; its JSON keeps the version, so snapshots restore it.
struct Account {
    std::int64_t balance = 0;
    std::int64_t events = 0;
    std::int64_t v = 0;

    void apply(const EventEnvelope& e) {
        if (e.type == "Deposited") balance += e.body.at("amount").get<std::int64_t>();
        if (e.type == "Withdrawn") balance -= e.body.at("amount").get<std::int64_t>();
        ++events;
        v = e.version;
    }
    std::int64_t version() const { return v; }
};
void to_json(json& j, const Account& a) {
    j = json{{"balance", a.balance}, {"events", a.events}, {"version", a.v}};
}
void from_json(const json& j, Account& a) {
    a.balance = j.at("balance").get<std::int64_t>();
    a.events = j.at("events").get<std::int64_t>();
    a.v = j.at("version").get<std::int64_t>();
}
static_assert(is_aggregate_v<Account>);
static_assert(!is_aggregate_v<int>);

EventData deposit(std::int64_t amount) { return EventData{"Deposited", {{"amount", amount}}}; }
EventData withdraw(std::int64_t amount) { return EventData{"Withdrawn", {{"amount", amount}}}; }

class EvolutionTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        tenant_store_.emplace(fresh_tenant_store(store(), &tenant_));
    }
    Store& tenant_store() { return *tenant_store_; }
    // Runs SQL on the tenant's store in its own transaction.
    void sql(const std::string& statement) {
        Transaction tx = tenant_store().transaction();
        tx.exec(statement);
        tx.commit();
    }
    Store with_registry(std::shared_ptr<const UpcasterRegistry> registry) {
        return Store::builder(url()).tenant(tenant_).max_connections(4).upcasters(registry).build();
    }

    std::string tenant_;
    std::optional<Store> tenant_store_;
};

TEST_F(EvolutionTest, ClientUpcastersRunAfterTheServersChainOnEveryRead) {
    const std::string fn = fresh_name("evo_up_");
    sql("CREATE FUNCTION public." + fn +
        "(b jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT b || '{\"server\": true}' $$");
    EXPECT_TRUE(Upcasters(tenant_store()).register_sql("Placed", 1, 2, "public." + fn + "(jsonb)"));

    auto registry = std::make_shared<UpcasterRegistry>();
    registry->add(Upcaster{"Placed", 2, "OrderPlaced", 3, [](const json& body) {
                               json out = body;
                               out["client"] =
                                   body.value("server", false);  // saw the server's step
                               return out;
                           }});
    Store store = with_registry(registry);
    const Uuid s = Uuid::random();
    store.events().append(s, Expected::NoStream(), {EventData{"Placed", {{"n", 1}}}});

    const auto read = store.events().read_stream(s);
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].type, "OrderPlaced");
    EXPECT_EQ(read[0].event_version, 3);
    EXPECT_EQ(read[0].body, (json{{"n", 1}, {"server", true}, {"client", true}}));

    wait_for_head(store, 1);
    const auto all = store.events().read_all(0, 10);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].type, "OrderPlaced");

    Transaction tx = store.transaction();
    EXPECT_EQ(tx.events().read_stream(s)[0].event_version, 3);
    tx.commit();

    const auto raw = store.events().read_stream_raw(s);
    EXPECT_EQ(raw[0].type, "Placed");
    EXPECT_EQ(raw[0].event_version, 1);
    EXPECT_EQ(raw[0].body, (json{{"n", 1}}));
}

// The projection daemon's handlers get events as every read path gives them: upcast by the
// server's chain (Placed v1 -> v2, a SQL function), then by the store's client registry
// (Placed v2 -> OrderPlaced v3); events with no chain come as stored.
TEST_F(EvolutionTest, DaemonHandlersGetEventsUpcastByTheServerAndTheClient) {
    const std::string fn = fresh_name("evo_daemon_up_");
    sql("CREATE FUNCTION public." + fn +
        "(b jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT b || '{\"server\": true}' $$");
    EXPECT_TRUE(Upcasters(tenant_store()).register_sql("Placed", 1, 2, "public." + fn + "(jsonb)"));
    auto registry = std::make_shared<UpcasterRegistry>();
    registry->add(Upcaster{"Placed", 2, "OrderPlaced", 3, [](const json& body) {
                               json out = body;
                               out["client"] = body.value("server", false);
                               return out;
                           }});
    Store store = with_registry(registry);
    store.events().append(Uuid::random(), Expected::NoStream(),
                          {EventData{"Placed", {{"n", 1}}}, EventData{"Shipped", {{"n", 2}}}});
    ASSERT_EQ(wait_for_head(store, 2), 2);

    struct Seen {
        std::string type;
        int event_version;
        json body;
    };
    std::vector<Seen> seen;
    auto daemon = ProjectionDaemon::builder(store)
                      .owner("evo-d1")
                      .add(fresh_name("evo_proj_"),
                           [&seen](const EventEnvelope& e, Transaction&) {
                               seen.push_back({e.type, e.event_version, e.body});
                           })
                      .build();
    EXPECT_EQ(daemon.run_until_idle(), 2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].type, "OrderPlaced");
    EXPECT_EQ(seen[0].event_version, 3);
    EXPECT_EQ(seen[0].body, (json{{"n", 1}, {"server", true}, {"client", true}}));
    EXPECT_EQ(seen[1].type, "Shipped");
    EXPECT_EQ(seen[1].event_version, 1);
    EXPECT_EQ(seen[1].body, (json{{"n", 2}}));

    // A daemon on a store without the client registry gets the server's step only.
    std::vector<Seen> server_only;
    auto plain = ProjectionDaemon::builder(tenant_store())
                     .owner("evo-d2")
                     .add(fresh_name("evo_proj_"),
                          [&server_only](const EventEnvelope& e, Transaction&) {
                              server_only.push_back({e.type, e.event_version, e.body});
                          })
                     .build();
    EXPECT_EQ(plain.run_until_idle(), 2);
    ASSERT_EQ(server_only.size(), 2u);
    EXPECT_EQ(server_only[0].type, "Placed");
    EXPECT_EQ(server_only[0].event_version, 2);
    EXPECT_EQ(server_only[0].body, (json{{"n", 1}, {"server", true}}));
}

TEST_F(EvolutionTest, AsyncUpcastersMayQueryTheStore) {
    auto registry = std::make_shared<UpcasterRegistry>();
    registry->add(AsyncUpcaster{
        "Priced", 1, "", 2, [](const EventEnvelope& e, const Store& store) {
            return std::async(std::launch::async, [e, store]() {
                Transaction tx = store.transaction();
                Result r = tx.exec("SELECT $1::bigint * 100", {e.body.at("eur").get<int>()});
                json body = {{"cents", std::stoll(std::string(r.value(0, 0)))}};
                tx.commit();
                return body;
            });
        }});
    Store store = with_registry(registry);
    const Uuid s = Uuid::random();
    store.events().append(s, Expected::Any(),
                          {EventData{"Priced", {{"eur", 3}}}, EventData{"Priced", {{"eur", 4}}}});
    const auto read = store.events().read_stream(s);
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0].body, (json{{"cents", 300}}));
    EXPECT_EQ(read[1].body, (json{{"cents", 400}}));
    EXPECT_EQ(read[1].event_version, 2);
    EXPECT_EQ(read[1].type, "Priced");
}

TEST_F(EvolutionTest, AFailingClientUpcasterNamesTheEventAndTheStep) {
    auto registry = std::make_shared<UpcasterRegistry>();
    registry->add(Upcaster{"Broken", 1, "", 2,
                           [](const json&) -> json { throw std::runtime_error("no way"); }});
    Store store = with_registry(registry);
    const Uuid s = Uuid::random();
    store.events().append(s, Expected::Any(), {EventData{"Broken", json::object()}});
    try {
        (void)store.events().read_stream(s);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), "22000");
        EXPECT_NE(e.message().find("stream " + s.to_string() + ", version 1"), std::string::npos)
            << e.message();
        EXPECT_NE(e.message().find("Broken v1 -> Broken v2"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("no way"), std::string::npos);
    }
    EXPECT_THROW(registry->add(Upcaster{"Broken", 1, "", 2, [](const json& b) { return b; }}),
                 InvalidArgument);
    EXPECT_THROW(UpcasterRegistry().add(Upcaster{"X", 2, "", 2, [](const json& b) { return b; }}),
                 InvalidArgument);
}

TEST_F(EvolutionTest, TheServersRegistryListsStepsAndPaths) {
    const std::string fn = fresh_name("evo_path_");
    sql("CREATE FUNCTION public." + fn + "(b jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT b'");
    Upcasters ups(tenant_store());
    ups.register_sql("A", 1, 2, "public." + fn + "(jsonb)");
    ups.register_sql("A", 2, 3, "public." + fn + "(jsonb)", std::string("B"));
    const auto list = ups.list();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1].to_type, "B");
    EXPECT_FALSE(list[0].owner.empty());
    const auto path = ups.path("A", 1, "B", 3);
    ASSERT_EQ(path.size(), 2u);
    EXPECT_EQ(path[0].to_version, 2);
    EXPECT_THROW((void)ups.path("A", 1, "A", 3), NotFound);
    ups.drop("A", 2);
    EXPECT_THROW(ups.drop("A", 2), NotFound);
}

TEST_F(EvolutionTest, AggregatesLoadCommitAndValidate) {
    AggregateRepository<Account> repo(tenant_store(), "account");
    repo.with_validator([](const json& state) { return state.at("balance").get<int>() >= 0; });
    const Uuid id = Uuid::random();
    EXPECT_EQ(repo.load(id).version(), 0);
    EXPECT_EQ(repo.commit(id, Expected::NoStream(), {deposit(100), deposit(50)}), 2);
    EXPECT_EQ(repo.commit(id, Expected::Exact(2), {withdraw(30)}), 3);
    // rejected before anything is written
    try {
        repo.commit(id, Expected::Any(), {withdraw(500)});
        FAIL() << "expected the validator to reject";
    } catch (const SqlError& e) {
        EXPECT_EQ(e.sqlstate(), "23514");
    }
    EXPECT_EQ(tenant_store().events().stream_version(id), 3);
    // a validator's own exception goes out as it is
    AggregateRepository<Account> strict(tenant_store(), "account");
    strict.with_validator([](const json&) -> bool { throw InvalidArgument("22023", "closed"); });
    EXPECT_THROW(strict.commit(id, Expected::Any(), {deposit(1)}), InvalidArgument);
    EXPECT_EQ(tenant_store().events().stream_version(id), 3);
    // a stale expected version
    EXPECT_THROW(repo.commit(id, Expected::Exact(2), {deposit(1)}), VersionConflict);
    EXPECT_THROW(repo.commit(Uuid::random(), Expected::StreamExists(), {deposit(1)}),
                 VersionConflict);

    const Account a = repo.load(id);
    EXPECT_EQ(a.balance, 120);
    EXPECT_EQ(a.events, 3);
    EXPECT_EQ(a.version(), 3);
    EXPECT_THROW(AggregateRepository<Account>(tenant_store(), "bad name"), InvalidArgument);
}

TEST_F(EvolutionTest, SnapshotsShortenTheLoadAndNeverRunAhead) {
    AggregateRepository<Account> repo(tenant_store(), "account");
    const Uuid id = Uuid::random();
    Account a = repo.load_with_snapshot(id);
    for (int i = 0; i < 7; ++i) repo.commit_and_snapshot(id, a, {deposit(10)}, 3);
    EXPECT_EQ(a.version(), 7);
    EXPECT_EQ(a.balance, 70);
    {
        Transaction tx = tenant_store().transaction();
        Result r = tx.exec("SELECT version FROM rillflow.snapshot_load($1::uuid, 'account')", {id});
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r.value(0, 0), "6");
        // a doctored snapshot shows that a load starts from it
        tx.exec("UPDATE " + std::string("rillflow_tenant_") + tenant_ +
                    ".snapshots SET state = jsonb_set(state, '{balance}', '1000')",
                {});
        tx.commit();
    }
    EXPECT_EQ(repo.load_with_snapshot(id).balance, 1010);
    EXPECT_EQ(repo.load(id).balance, 70);
    // commit_and_snapshot expects the version the caller holds
    Account stale = repo.load(id);
    repo.commit(id, Expected::Any(), {deposit(1)});
    EXPECT_THROW(repo.commit_and_snapshot(id, stale, {deposit(1)}, 1), VersionConflict);
    EXPECT_EQ(stale.version(), 7);
}

TEST_F(EvolutionTest, ASessionStagesAggregateCommitsWithItsOtherChanges) {
    AggregateRepository<Account> repo(tenant_store(), "account");
    repo.with_validator([](const json& state) { return state.at("balance").get<int>() >= 0; });
    const Uuid id = Uuid::random();
    Session session = tenant_store().session();
    auto accounts = session.aggregates(repo);
    EXPECT_EQ(accounts.commit(id, Expected::NoStream(), {deposit(5)}), 1);
    EXPECT_THROW(accounts.commit(id, Expected::Any(), {withdraw(10)}), SqlError);
    EXPECT_EQ(tenant_store().events().stream_version(id), std::nullopt);  // nothing before save
    session.save_changes();
    EXPECT_EQ(repo.load(id).balance, 5);

    // a commit staged on a version another writer has passed fails the whole save
    Session late = tenant_store().session();
    late.aggregates(repo).commit(id, Expected::Exact(1), {deposit(1)});
    repo.commit(id, Expected::Exact(1), {deposit(2)});
    EXPECT_THROW(late.save_changes(), VersionConflict);
    EXPECT_EQ(repo.load(id).balance, 7);
}

TEST_F(EvolutionTest, TheSnapshotterSnapshotsStreamsPastTheThreshold) {
    AggregateRepository<Account> repo(tenant_store(), "account");
    std::vector<Uuid> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(Uuid::random());
        std::vector<EventData> events;
        for (int k = 0; k < (i == 4 ? 2 : 6); ++k) events.push_back(deposit(1));
        repo.commit(ids.back(), Expected::NoStream(), events);
    }
    auto folder = std::make_shared<AggregateFolder<Account>>(repo);
    Snapshotter snapshotter(tenant_store(), folder, SnapshotterConfig{5, 2});
    EXPECT_EQ(snapshotter.compact_once(), 2);
    EXPECT_EQ(snapshotter.run_until_idle(), 2);
    EXPECT_EQ(snapshotter.compact_once(), 0);
    Transaction tx = tenant_store().transaction();
    Result r = tx.exec("SELECT count(*), min(version), min((state->>'balance')::int) FROM " +
                       std::string("rillflow_tenant_") + tenant_ + ".snapshots");
    EXPECT_EQ(r.value(0, 0), "4");
    EXPECT_EQ(r.value(0, 1), "6");
    EXPECT_EQ(r.value(0, 2), "6");
    tx.commit();
    EXPECT_THROW(Snapshotter(tenant_store(), folder, SnapshotterConfig{0, 1}), InvalidArgument);
}

}  // namespace
}  // namespace rillflow::test
