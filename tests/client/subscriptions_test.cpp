// subscriptions_test.cpp: the subscription API against a real server: filters and
// categories, the single consumer's lease, competing consumers in a group, acks in the
// caller's transaction, nack, dead letters, ordered groups, max_in_flight, next() and run().
#include <atomic>
#include <set>
#include <thread>

#include "support.hpp"

namespace rillflow::test {
namespace {

class SubscriptionsTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        tenant_.emplace(fresh_tenant_store(store()));
    }
    Store& tenant() { return *tenant_; }

    // n events of `type` on their own streams; waits until they have positions.
    void append_each(const std::string& type, int n, std::optional<std::string> category = {}) {
        for (int i = 0; i < n; ++i) {
            AppendOptions o;
            o.category = category;
            tenant().events().append_with(Uuid::random(), Expected::Any(), numbered(type, 1, i), o);
        }
        appended_ += n;
        wait_for_head(tenant(), appended_);
    }

    static std::vector<std::int64_t> positions(const std::vector<EventEnvelope>& events) {
        std::vector<std::int64_t> out;
        for (const auto& e : events) out.push_back(e.position.value_or(-1));
        return out;
    }

  private:
    std::optional<Store> tenant_;
    std::int64_t appended_ = 0;
};

TEST_F(SubscriptionsTest, CreateListStatusAndDropRoundTripTheFilters) {
    Subscriptions subs = tenant().subscriptions();
    SubscriptionFilter f;
    f.event_types = {"Ping"};
    f.categories = {"orders"};
    f.headers = {{"source", "web"}};
    f.start_from = 3;
    subs.create("s1", f);
    EXPECT_THROW(subs.create("s1", f), SqlError);
    auto all = subs.list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].name, "s1");
    EXPECT_EQ(all[0].filter.event_types, std::vector<std::string>{"Ping"});
    EXPECT_EQ(all[0].filter.categories, std::vector<std::string>{"orders"});
    EXPECT_EQ(all[0].filter.headers, f.headers);
    EXPECT_EQ(all[0].filter.start_from, 3);
    EXPECT_EQ(subs.status("s1").checkpoint, 3);
    subs.drop("s1");
    EXPECT_TRUE(subs.list().empty());
    EXPECT_THROW(subs.drop("s1"), NotFound);
    EXPECT_THROW((void)subs.status("s1"), NotFound);
    EXPECT_THROW(subs.create("bad name"), InvalidArgument);
}

TEST_F(SubscriptionsTest, CategoriesFilterReadAllAndSubscriptions) {
    append_each("Ping", 2, "orders");
    append_each("Ping", 1, "billing");
    tenant().events().append(tenant().resolve_stream_alias("orders:7"), Expected::Any(),
                             numbered("Ping", 1));
    wait_for_head(tenant(), 4);
    EXPECT_EQ(positions(tenant().events().read_all(0, 100, {}, {"orders"})),
              (std::vector<std::int64_t>{1, 2, 4}));
    SubscriptionFilter f;
    f.categories = {"billing"};
    Subscription s = tenant().subscriptions().subscribe("bills", f);
    EXPECT_EQ(positions(s.poll(10)), (std::vector<std::int64_t>{3}));
    // a category cannot be changed
    AppendOptions o;
    o.category = "other";
    const Uuid stream = tenant().resolve_stream_alias("orders:7");
    EXPECT_THROW(tenant().events().append_with(stream, Expected::Any(), numbered("Ping", 1), o),
                 InvalidArgument);
}

TEST_F(SubscriptionsTest, TheSingleConsumerHoldsTheLeaseAlone) {
    append_each("Ping", 3);
    SubscriptionOptions a;
    a.consumer = "a";
    Subscription first = tenant().subscriptions().subscribe("s", {}, a);
    EXPECT_EQ(positions(first.poll(2)), (std::vector<std::int64_t>{1, 2}));
    SubscriptionOptions b;
    b.consumer = "b";
    Subscription second = tenant().subscriptions().subscribe("s", {}, b);
    EXPECT_THROW((void)second.poll(10), LeaseLost);
    first.ack({1, 2});
    EXPECT_THROW(first.ack(1), LeaseLost);
    EXPECT_EQ(tenant().subscriptions().status("s").checkpoint, 2);
}

TEST_F(SubscriptionsTest, CompetingConsumersNeverShareAnEvent) {
    append_each("Ping", 200);
    std::vector<std::set<std::int64_t>> seen(4);
    std::vector<std::thread> threads;
    for (int c = 0; c < 4; ++c) {
        threads.emplace_back([&, c] {
            SubscriptionOptions o;
            o.group = "g";
            o.consumer = "c" + std::to_string(c);
            Subscription s = tenant().subscriptions().subscribe("work", {}, o);
            for (int idle = 0; idle < 20;) {
                auto batch = s.poll(7);
                if (batch.empty()) {
                    ++idle;
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                    continue;
                }
                idle = 0;
                for (const auto& e : batch) seen[c].insert(*e.position);
                s.ack(positions(batch));
            }
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::int64_t> all;
    std::size_t total = 0;
    for (const auto& s : seen) {
        total += s.size();
        all.insert(s.begin(), s.end());
    }
    EXPECT_EQ(total, 200u);
    EXPECT_EQ(all.size(), 200u);
    GroupStatus g = tenant().subscriptions().group_status("work", "g");
    EXPECT_EQ(g.checkpoint, 200);
    EXPECT_EQ(g.lag, 0);
    EXPECT_EQ(g.in_flight, 0);
}

TEST_F(SubscriptionsTest, AnAckInTheCallersTransactionCommitsOrRollsBackWithIt) {
    append_each("Ping", 2);
    {
        Transaction tx = store().transaction();
        tx.exec(
            "CREATE TABLE IF NOT EXISTS public.sub_test_applied (tenant text, position bigint, "
            "PRIMARY KEY (tenant, position))");
        tx.commit();
    }
    SubscriptionOptions o;
    o.group = "g";
    o.consumer = "c1";
    o.lease = std::chrono::milliseconds(200);
    Subscription s = tenant().subscriptions().subscribe("s", {}, o);
    const std::string name = tenant().current_store();
    auto batch = s.poll(1);
    ASSERT_EQ(positions(batch), (std::vector<std::int64_t>{1}));
    {
        Transaction tx = tenant().transaction();
        tx.exec("INSERT INTO public.sub_test_applied VALUES ($1, 1)", {name});
        s.ack_in_tx(tx, 1);
        // destroyed without commit: rolled back, the ack too
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    batch = s.poll(1);
    ASSERT_EQ(positions(batch), (std::vector<std::int64_t>{1}));  // delivered again
    EXPECT_EQ(tenant().subscriptions().group_status("s", "g").row["consumers"][0]["consumer"],
              "c1");
    {
        Transaction tx = tenant().transaction();
        tx.exec("INSERT INTO public.sub_test_applied VALUES ($1, 1)", {name});
        s.ack_in_tx(tx, 1);
        tx.commit();
    }
    // a lost lease: the ack fails and takes the side effect down with it
    batch = s.poll(1);
    ASSERT_EQ(positions(batch), (std::vector<std::int64_t>{2}));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    {
        Transaction tx = tenant().transaction();
        tx.exec("INSERT INTO public.sub_test_applied VALUES ($1, 2)", {name});
        EXPECT_THROW(s.ack_in_tx(tx, 2), LeaseLost);
    }
    Result r = store().transaction().exec(
        "SELECT array_agg(position ORDER BY position)::text FROM public.sub_test_applied "
        "WHERE tenant = $1",
        {name});
    EXPECT_EQ(r.value(0, 0), "{1}");
}

TEST_F(SubscriptionsTest, NackRedeliversAndMaxDeliveriesDeadLetters) {
    append_each("Ping", 1);
    Subscriptions subs = tenant().subscriptions();
    SubscriptionOptions o;
    o.group = "g";
    o.consumer = "c1";
    Subscription s = subs.subscribe("s", {}, o);
    subs.configure_group("s", "g", std::nullopt, 2);
    ASSERT_EQ(positions(s.poll(10)), (std::vector<std::int64_t>{1}));
    s.nack(1);
    ASSERT_EQ(positions(s.poll(10)), (std::vector<std::int64_t>{1}));
    s.nack(1);
    EXPECT_TRUE(s.poll(10).empty());  // two deliveries: dead-lettered
    auto dlq = subs.dlq_list("s", "g");
    ASSERT_EQ(dlq.size(), 1u);
    EXPECT_EQ(dlq[0]["position"], 1);
    EXPECT_EQ(dlq[0]["deliveries"], 2);
    EXPECT_EQ(subs.group_status("s", "g").checkpoint, 1);
    EXPECT_EQ(subs.dlq_requeue("s", "g"), 1);
    EXPECT_EQ(positions(s.poll(10)), (std::vector<std::int64_t>{1}));
    s.ack(1);
    EXPECT_EQ(subs.dlq_delete("s", "g"), 0);
}

TEST_F(SubscriptionsTest, AnOrderedGroupHandsOutAStreamsEventsOneAtATime) {
    const Uuid a = Uuid::random();
    const Uuid b = Uuid::random();
    tenant().events().append(a, Expected::Any(), numbered("A", 3));
    tenant().events().append(b, Expected::Any(), numbered("B", 1));
    wait_for_head(tenant(), 4);
    Subscriptions subs = tenant().subscriptions();
    subs.create("s");
    subs.configure_group("s", "g", true);
    SubscriptionOptions o1;
    o1.group = "g";
    o1.consumer = "c1";
    SubscriptionOptions o2 = o1;
    o2.consumer = "c2";
    Subscription c1 = subs.subscribe("s", {}, o1);
    Subscription c2 = subs.subscribe("s", {}, o2);
    EXPECT_EQ(positions(c1.poll(10)), (std::vector<std::int64_t>{1, 4}));
    EXPECT_TRUE(c2.poll(10).empty());
    c1.ack(1);
    EXPECT_EQ(positions(c2.poll(10)), (std::vector<std::int64_t>{2}));
    c2.ack(2);
    EXPECT_EQ(positions(c2.poll(10)), (std::vector<std::int64_t>{3}));
    EXPECT_TRUE(subs.groups("s").at(0).ordered);
}

TEST_F(SubscriptionsTest, MaxInFlightBoundsTheGroup) {
    append_each("Ping", 5);
    SubscriptionOptions o;
    o.group = "g";
    o.consumer = "c1";
    o.max_in_flight = 2;
    Subscription s = tenant().subscriptions().subscribe("s", {}, o);
    EXPECT_EQ(s.poll(10).size(), 2u);
    EXPECT_TRUE(s.poll(10).empty());
    GroupStatus g = tenant().subscriptions().group_status("s", "g");
    EXPECT_EQ(g.in_flight, 2);
    EXPECT_EQ(g.max_in_flight, 2);
    tenant().subscriptions().set_group_max_in_flight("s", "g", std::nullopt);
    EXPECT_EQ(s.poll(10).size(), 3u);
    SubscriptionOptions bad;
    bad.max_in_flight = 1;
    EXPECT_THROW((void)tenant().subscriptions().subscribe("s", {}, bad), InvalidArgument);
}

TEST_F(SubscriptionsTest, NextWaitsForNewEventsAndAutoAcks) {
    SubscriptionOptions o;
    o.ack_mode = AckMode::Auto;
    o.poll_interval = std::chrono::milliseconds(200);
    Subscription s = tenant().subscriptions().subscribe("tail", {}, o);
    EXPECT_FALSE(s.next(std::chrono::milliseconds(50)).has_value());
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        tenant().events().append(Uuid::random(), Expected::Any(), numbered("Ping", 2));
    });
    auto first = s.next(std::chrono::seconds(10));
    writer.join();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->position, 1);
    auto second = s.next(std::chrono::seconds(10));
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->position, 2);
    // both acked before the next poll
    EXPECT_FALSE(s.next(std::chrono::milliseconds(50)).has_value());
    EXPECT_EQ(tenant().subscriptions().status("tail").checkpoint, 2);
}

TEST_F(SubscriptionsTest, RunHandsEveryEventToTheHandlerUntilStopped) {
    append_each("Ping", 30);
    SubscriptionOptions o;
    o.group = "g";
    o.ack_mode = AckMode::Auto;
    o.batch_size = 8;
    o.poll_interval = std::chrono::milliseconds(50);
    Subscription s = tenant().subscriptions().subscribe("s", {}, o);
    std::atomic<bool> stop{false};
    std::vector<std::int64_t> got;
    s.run(
        [&](const EventEnvelope& e) {
            got.push_back(*e.position);
            if (got.size() == 30) stop = true;
        },
        stop);
    ASSERT_EQ(got.size(), 30u);
    for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i], static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(tenant().subscriptions().group_status("s", "g").checkpoint, 30);
    // a throwing handler: earlier events acked, the failed one given back, rethrown
    append_each("Ping", 3);
    stop = false;
    int calls = 0;
    EXPECT_THROW(s.run(
                     [&](const EventEnvelope&) {
                         if (++calls == 2) throw std::runtime_error("boom");
                     },
                     stop),
                 std::runtime_error);
    GroupStatus g = tenant().subscriptions().group_status("s", "g");
    EXPECT_EQ(g.checkpoint, 31);
    EXPECT_EQ(g.in_flight, 0);
}

TEST_F(SubscriptionsTest, TheLagViewListsEveryGroup) {
    append_each("Ping", 4);
    SubscriptionOptions o;
    o.group = "g";
    Subscription s = tenant().subscriptions().subscribe("s", {}, o);
    s.ack(positions(s.poll(2)));
    auto rows = tenant().subscriptions().lag();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["group_name"], "g");
    EXPECT_EQ(rows[0]["checkpoint"], 2);
    EXPECT_EQ(rows[0]["lag"], 2);
}

}  // namespace
}  // namespace rillflow::test
