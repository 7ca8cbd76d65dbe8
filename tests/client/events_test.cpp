// events_test.cpp: appending (every Expected, every conflict, options, the builder) and reading
// (streams, the global log, paging, type filters) against a real server.
#include <algorithm>
#include <set>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

class EventsTest : public ClientTest {};

TEST_F(EventsTest, AppendAnyReturnsTheNewVersion) {
    const Uuid s = Uuid::random();
    EXPECT_EQ(events().stream_version(s), std::nullopt);
    EXPECT_EQ(events().append(s, Expected::Any(), numbered("Counted", 2)), 2);
    EXPECT_EQ(events().append(s, Expected::Any(), numbered("Counted", 1, 3)), 3);
    EXPECT_EQ(events().stream_version(s), 3);
}

TEST_F(EventsTest, NoStreamAppendsOnlyToANewStream) {
    const Uuid s = Uuid::random();
    EXPECT_EQ(events().append(s, Expected::NoStream(), numbered("Created", 1)), 1);
    try {
        events().append(s, Expected::NoStream(), numbered("Created", 1));
        FAIL() << "expected VersionConflict";
    } catch (const VersionConflict& e) {
        EXPECT_EQ(e.sqlstate(), "RF001");
        EXPECT_FALSE(e.message().empty());
    }
    EXPECT_EQ(events().stream_version(s), 1);
}

TEST_F(EventsTest, StreamExistsNeedsAnExistingStream) {
    const Uuid s = Uuid::random();
    EXPECT_THROW(events().append(s, Expected::StreamExists(), numbered("Changed", 1)),
                 VersionConflict);
    EXPECT_EQ(events().stream_version(s), std::nullopt);
    events().append(s, Expected::Any(), numbered("Created", 1));
    EXPECT_EQ(events().append(s, Expected::StreamExists(), numbered("Changed", 2)), 3);
}

TEST_F(EventsTest, ExactNeedsTheExactVersion) {
    const Uuid s = Uuid::random();
    EXPECT_THROW(events().append(s, Expected::Exact(1), numbered("E", 1)), VersionConflict);
    events().append(s, Expected::NoStream(), numbered("E", 1));
    EXPECT_EQ(events().append(s, Expected::Exact(1), numbered("E", 2)), 3);
    EXPECT_THROW(events().append(s, Expected::Exact(1), numbered("E", 1)), VersionConflict);
    EXPECT_THROW(events().append(s, Expected::Exact(7), numbered("E", 1)), VersionConflict);
    EXPECT_EQ(events().append(s, Expected::Exact(3), numbered("E", 1)), 4);
    EXPECT_EQ(events().stream_version(s), 4);
}

TEST_F(EventsTest, ExpectedBelowMinusOneIsInvalid) {
    try {
        events().append(Uuid::random(), Expected::Exact(-2), numbered("E", 1));
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
    }
}

TEST(ExpectedTest, MapsToSqlExpectedVersion) {
    EXPECT_EQ(Expected::Any().sql_value(), std::nullopt);
    EXPECT_TRUE(Expected::Any().is_any());
    EXPECT_EQ(Expected::NoStream().sql_value(), 0);
    EXPECT_EQ(Expected::StreamExists().sql_value(), -1);
    EXPECT_EQ(Expected::Exact(42).sql_value(), 42);
    EXPECT_FALSE(Expected::Exact(42).is_any());
    EXPECT_EQ(Expected::Exact(42), Expected::Exact(42));
    EXPECT_NE(Expected::Exact(42), Expected::Any());
    EXPECT_EQ(Expected::Any().to_string(), "any");
    EXPECT_EQ(Expected::NoStream().to_string(), "no_stream");
    EXPECT_EQ(Expected::StreamExists().to_string(), "stream_exists");
    EXPECT_EQ(Expected::Exact(5).to_string(), "exact(5)");
}

TEST_F(EventsTest, RepeatedIdempotencyKeyAppendsNothingAndNamesTheOriginalStream) {
    const Uuid s = Uuid::random();
    const Uuid other = Uuid::random();
    AppendOptions options;
    options.idempotency_key = fresh_name("key-");
    EXPECT_EQ(events().append_with(s, Expected::Any(), numbered("Paid", 2), options), 2);
    try {
        events().append_with(s, Expected::Any(), numbered("Paid", 2), options);
        FAIL() << "expected IdempotencyConflict";
    } catch (const IdempotencyConflict& e) {
        EXPECT_EQ(e.sqlstate(), "RF002");
        EXPECT_NE(e.detail().find(s.to_string()), std::string::npos) << e.detail();
    }
    // The same key on another stream is the same append: refused, and the detail names the
    // stream the key was first used on.
    try {
        events().append_with(other, Expected::Any(), numbered("Paid", 1), options);
        FAIL() << "expected IdempotencyConflict";
    } catch (const IdempotencyConflict& e) {
        EXPECT_NE(e.detail().find(s.to_string()), std::string::npos) << e.detail();
    }
    EXPECT_EQ(events().stream_version(s), 2);
    EXPECT_EQ(events().stream_version(other), std::nullopt);
}

TEST_F(EventsTest, ReusedEventIdIsAnIdempotencyConflict) {
    const Uuid s = Uuid::random();
    EventData e{"Once", {{"n", 1}}};
    e.event_id = Uuid::random();
    events().append(s, Expected::Any(), {e});
    EXPECT_THROW(events().append(Uuid::random(), Expected::Any(), {e}), IdempotencyConflict);
    EXPECT_EQ(events().stream_version(s), 1);
}

TEST_F(EventsTest, ReadStreamPages) {
    const Uuid s = Uuid::random();
    events().append(s, Expected::NoStream(), numbered("Step", 5));

    auto all = events().read_stream(s);
    ASSERT_EQ(all.size(), 5u);
    for (std::size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(all[i].stream_id, s);
        EXPECT_EQ(all[i].version, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(all[i].type, "Step");
        EXPECT_EQ(all[i].body, (json{{"n", i + 1}}));
    }
    auto tail = events().read_stream(s, 3);
    ASSERT_EQ(tail.size(), 3u);
    EXPECT_EQ(tail.front().version, 3);
    EXPECT_EQ(tail.back().version, 5);

    auto page = events().read_stream(s, 2, 2);
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0].version, 2);
    EXPECT_EQ(page[1].version, 3);

    EXPECT_TRUE(events().read_stream(s, 6).empty());
    EXPECT_TRUE(events().read_stream(Uuid::random()).empty());
}

TEST_F(EventsTest, ReadStreamRejectsBadArguments) {
    const Uuid s = Uuid::random();
    EXPECT_THROW(events().read_stream(s, 0), InvalidArgument);
    EXPECT_THROW(events().read_stream(s, 1, 0), InvalidArgument);
}

TEST_F(EventsTest, EnvelopeCarriesEveryColumn) {
    const Uuid s = Uuid::random();
    const Uuid id = Uuid::random();
    EventData e{"Shipped", {{"parcel", "p-1"}, {"weight", 2.5}, {"tags", {"a", "b"}}}};
    e.event_version = 3;
    e.event_id = id;
    const auto before = std::chrono::system_clock::now() - std::chrono::minutes(5);
    events().append(s, Expected::Any(), {e, EventData{"Plain", json::array({1, 2})}});
    const auto after = std::chrono::system_clock::now() + std::chrono::minutes(5);

    auto read = events().read_stream(s);
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0].type, "Shipped");
    EXPECT_EQ(read[0].event_version, 3);
    EXPECT_EQ(read[0].event_id, id);
    EXPECT_EQ(read[0].body, e.body);
    EXPECT_EQ(read[0].headers, json::object());
    EXPECT_EQ(read[0].causation_id, std::nullopt);
    EXPECT_EQ(read[0].correlation_id, std::nullopt);
    EXPECT_GT(read[0].created_at, before);
    EXPECT_LT(read[0].created_at, after);
    EXPECT_EQ(read[0].created_at, read[1].created_at);  // one transaction, one time
    EXPECT_EQ(read[1].event_version, 1);
    EXPECT_FALSE(read[1].event_id.is_nil());
    EXPECT_NE(read[1].event_id, id);
    EXPECT_EQ(read[1].body, json::array({1, 2}));
    // Positions, once given, are in version order.
    wait_for_head(store(), 1);
    read = events().read_stream(s);
    if (read[0].position && read[1].position) {
        EXPECT_LT(*read[0].position, *read[1].position);
    }
}

TEST_F(EventsTest, CallHeadersMergeWithEventHeadersAndTheEventWins) {
    const Uuid s = Uuid::random();
    EventData with{"A", json::object()};
    with.headers = {{"b", 3}, {"c", 4}};
    EventData without{"B", json::object()};
    AppendOptions options;
    options.headers = {{"a", 1}, {"b", 2}};
    events().append_with(s, Expected::Any(), {with, without}, options);

    auto read = events().read_stream(s);
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0].headers, (json{{"a", 1}, {"b", 3}, {"c", 4}}));
    EXPECT_EQ(read[1].headers, (json{{"a", 1}, {"b", 2}}));
}

TEST_F(EventsTest, CausationAndCorrelationGoOnEveryEvent) {
    const Uuid s = Uuid::random();
    AppendOptions options;
    options.causation_id = Uuid::random();
    options.correlation_id = Uuid::random();
    events().append_with(s, Expected::Any(), numbered("Caused", 3), options);
    for (const EventEnvelope& e : events().read_stream(s)) {
        EXPECT_EQ(e.causation_id, options.causation_id);
        EXPECT_EQ(e.correlation_id, options.correlation_id);
    }
}

TEST_F(EventsTest, BuilderSendsEverythingItWasGiven) {
    const Uuid s = Uuid::random();
    const Uuid cause = Uuid::random();
    const Uuid correlation = Uuid::random();
    const std::string key = fresh_name("builder-");
    EventData second{"Second", {{"x", 2}}};
    second.headers = {{"own", true}};

    const std::int64_t version = events()
                                     .builder(s)
                                     .headers({{"tenant", "acme"}})
                                     .idempotency_key(key)
                                     .causation_id(cause)
                                     .correlation_id(correlation)
                                     .expected(Expected::NoStream())
                                     .push("First", {{"x", 1}})
                                     .push(second)
                                     .send();
    EXPECT_EQ(version, 2);
    auto read = events().read_stream(s);
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0].type, "First");
    EXPECT_EQ(read[0].headers, (json{{"tenant", "acme"}}));
    EXPECT_EQ(read[1].headers, (json{{"tenant", "acme"}, {"own", true}}));
    EXPECT_EQ(read[1].causation_id, cause);
    EXPECT_EQ(read[1].correlation_id, correlation);

    // The same key again: refused, nothing appended.
    EXPECT_THROW(events().builder(s).idempotency_key(key).push("Again", {}).send(),
                 IdempotencyConflict);
    // Expected through the builder.
    EXPECT_THROW(events().builder(s).expected(Expected::Exact(1)).push("Late", {}).send(),
                 VersionConflict);
    EXPECT_EQ(events().builder(s).expected(Expected::Exact(2)).push("OnTime", {}).send(), 3);
}

TEST_F(EventsTest, BadAppendsAreInvalidArguments) {
    const Uuid s = Uuid::random();
    EXPECT_THROW(events().append(s, Expected::Any(), {}), InvalidArgument);
    AppendOptions array_headers;
    array_headers.headers = json::array({1});
    EXPECT_THROW(events().append_with(s, Expected::Any(), numbered("E", 1), array_headers),
                 InvalidArgument);
    EventData bad_headers{"E", json::object()};
    bad_headers.headers = "not an object";
    EXPECT_THROW(events().append(s, Expected::Any(), {bad_headers}), InvalidArgument);
    EXPECT_EQ(events().stream_version(s), std::nullopt);
}

class ReadAllTest : public ClientTest {};

TEST_F(ReadAllTest, PagesThroughTheLogExactlyOnce) {
    Store tenant = fresh_tenant_store(store());
    std::vector<Uuid> streams = {Uuid::random(), Uuid::random(), Uuid::random()};
    for (int round = 0; round < 4; ++round) {
        for (const Uuid& s : streams) {
            tenant.events().append(s, Expected::Any(), {EventData{"Tick", {{"round", round}}}});
        }
    }
    ASSERT_EQ(wait_for_head(tenant, 12), 12);

    std::vector<EventEnvelope> seen;
    std::int64_t after = 0;
    for (;;) {
        auto page = tenant.events().read_all(after, 5);
        if (page.empty()) break;
        EXPECT_LE(page.size(), 5u);
        seen.insert(seen.end(), page.begin(), page.end());
        after = *page.back().position;
    }
    ASSERT_EQ(seen.size(), 12u);
    std::set<Uuid> ids;
    for (std::size_t i = 0; i < seen.size(); ++i) {
        ASSERT_TRUE(seen[i].position.has_value());
        EXPECT_EQ(*seen[i].position, static_cast<std::int64_t>(i + 1));  // dense
        ids.insert(seen[i].event_id);
    }
    EXPECT_EQ(ids.size(), 12u);
    // Within a stream, version order is position order.
    for (const Uuid& s : streams) {
        std::int64_t last = 0;
        for (const EventEnvelope& e : seen) {
            if (e.stream_id != s) continue;
            EXPECT_EQ(e.version, last + 1);
            last = e.version;
        }
        EXPECT_EQ(last, 4);
    }
    EXPECT_TRUE(tenant.events().read_all(12).empty());
    EXPECT_EQ(tenant.events().read_all().size(), 12u);
}

TEST_F(ReadAllTest, FiltersByEventType) {
    Store tenant = fresh_tenant_store(store());
    const Uuid s = Uuid::random();
    // Types with characters that array literals treat specially must still match exactly.
    const std::string odd = "We\"ird, {Type} \\ NULL";
    tenant.events().append(s, Expected::Any(),
                           {EventData{"Opened", json::object()}, EventData{"Noted", {{"i", 1}}},
                            EventData{odd, json::object()}, EventData{"Noted", {{"i", 2}}},
                            EventData{"Closed", json::object()}});
    ASSERT_EQ(wait_for_head(tenant, 5), 5);

    auto noted = tenant.events().read_all(0, 100, {"Noted"});
    ASSERT_EQ(noted.size(), 2u);
    EXPECT_EQ(noted[0].body, (json{{"i", 1}}));
    EXPECT_EQ(noted[1].body, (json{{"i", 2}}));

    auto ends = tenant.events().read_all(0, 100, {"Opened", "Closed"});
    ASSERT_EQ(ends.size(), 2u);
    EXPECT_EQ(ends[0].type, "Opened");
    EXPECT_EQ(ends[1].type, "Closed");

    auto weird = tenant.events().read_all(0, 100, {odd});
    ASSERT_EQ(weird.size(), 1u);
    EXPECT_EQ(weird[0].type, odd);

    EXPECT_TRUE(tenant.events().read_all(0, 100, {"Nothing"}).empty());
    // Filter and paging together.
    auto first = tenant.events().read_all(0, 1, {"Noted"});
    ASSERT_EQ(first.size(), 1u);
    auto next = tenant.events().read_all(*first[0].position, 1, {"Noted"});
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].body, (json{{"i", 2}}));
}

TEST_F(ReadAllTest, RejectsBadArguments) {
    EXPECT_THROW(events().read_all(-1), InvalidArgument);
    EXPECT_THROW(events().read_all(0, 0), InvalidArgument);
    EXPECT_THROW(events().read_all(0, 100001), InvalidArgument);
}

TEST_F(ReadAllTest, HeadPositionFollowsAppends) {
    Store tenant = fresh_tenant_store(store());
    EXPECT_EQ(tenant.head_position(), 0);
    tenant.events().append(Uuid::random(), Expected::Any(), numbered("E", 3));
    EXPECT_EQ(wait_for_head(tenant, 3), 3);
}

}  // namespace
}  // namespace rillflow::test
