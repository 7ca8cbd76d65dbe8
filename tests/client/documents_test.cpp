// documents_test.cpp: the document API (reads and writes by id with every version check,
// patches, soft deletes), the query builder and its Predicate combinators, collections,
// duplicated fields and the index advisor, against a real server. Each test uses its own
// collection, so tests do not see each other's documents.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

struct Profile {
    std::string city;
    int score = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Profile, city, score)

struct Customer {
    std::string email;
    std::string status;
    int age = 0;
    std::vector<std::string> tags;
    Profile profile;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Customer, email, status, age, tags, profile)

Customer customer(int n) {
    static const char* cities[] = {"Oslo", "Lima", "Pune"};
    Customer c;
    c.email = "User" + std::to_string(n) + "@Example.com";
    c.status = n % 2 == 0 ? "active" : "inactive";
    c.age = 20 + n;
    c.tags = {n % 3 == 0 ? "vip" : "std", "t" + std::to_string(n)};
    c.profile = Profile{cities[n % 3], n * 10};
    return c;
}

class DocumentsTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        collection_ = fresh_name("c_");
        docs_.emplace(store().docs(collection_));
        ASSERT_TRUE(docs_->create_collection(collection_));
    }
    Documents& docs() { return *docs_; }

    // Customers 1..n under ids kept in ids_.
    void seed(int n) {
        for (int i = 1; i <= n; ++i) {
            ids_.push_back(Uuid::random());
            ASSERT_EQ(docs().put(ids_.back(), customer(i)), 1);
        }
    }
    std::vector<int> ages(const std::vector<Customer>& cs) {
        std::vector<int> out;
        for (const auto& c : cs) out.push_back(c.age);
        return out;
    }

    std::string collection_;
    std::optional<Documents> docs_;
    std::vector<Uuid> ids_;
};

// ---------------------------------------------------------------- by id

TEST_F(DocumentsTest, PutAndGetRoundTripATypedDocument) {
    const Uuid id = Uuid::random();
    EXPECT_EQ(docs().get<Customer>(id), std::nullopt);
    EXPECT_EQ(docs().put(id, customer(4)), 1);
    auto doc = docs().get<Customer>(id);
    ASSERT_TRUE(doc.has_value());
    EXPECT_EQ(doc->id, id);
    EXPECT_EQ(doc->version, 1);
    EXPECT_EQ(doc->value.email, "User4@Example.com");
    EXPECT_EQ(doc->value.profile.city, "Lima");
    EXPECT_EQ(doc->value.tags, (std::vector<std::string>{"std", "t4"}));

    EXPECT_EQ(docs().put(id, json{{"email", "x"},
                                  {"status", "s"},
                                  {"age", 1},
                                  {"tags", json::array()},
                                  {"profile", {{"city", "c"}, {"score", 0}}}}),
              2);
    auto raw = docs().get(id);  // T defaults to nlohmann::json
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->value["email"], "x");
    EXPECT_EQ(raw->version, 2);
}

TEST_F(DocumentsTest, PutChecksTheExpectedVersion) {
    const Uuid id = Uuid::random();
    EXPECT_EQ(docs().put(id, customer(1), 0), 1);  // 0: must be new
    try {
        docs().put(id, customer(2), 0);
        FAIL() << "expected DocumentVersionConflict";
    } catch (const DocumentVersionConflict& e) {
        EXPECT_EQ(e.sqlstate(), "RF003");
        EXPECT_NE(e.detail().find('1'), std::string::npos) << e.what();
    }
    EXPECT_THROW(docs().put(id, customer(2), 5), DocumentVersionConflict);
    EXPECT_EQ(docs().put(id, customer(2), 1), 2);
    EXPECT_EQ(docs().put(id, customer(3)), 3);  // no expected version: last writer wins
    EXPECT_EQ(docs().get<Customer>(id)->value.age, 23);
    // A conflict wrote nothing.
    EXPECT_THROW(docs().put(id, customer(9), 2), DocumentVersionConflict);
    EXPECT_EQ(docs().get<Customer>(id)->version, 3);
}

TEST_F(DocumentsTest, BadInputIsRejectedBeforeAnythingIsWritten) {
    const Uuid id = Uuid::random();
    EXPECT_THROW(docs().put(id, json::array({1, 2})), InvalidArgument);
    EXPECT_THROW(docs().put(id, json("text")), InvalidArgument);
    EXPECT_THROW(docs().put(id, customer(1), -1), InvalidArgument);
    for (const char* bad : {"Docs", "docs; drop table x", "a-b", "", "x\"y"}) {
        try {
            store().docs(bad).put(id, customer(1));
            FAIL() << "collection " << bad << " was accepted";
        } catch (const InvalidArgument& e) {
            EXPECT_TRUE(e.sqlstate() == "22023" || e.sqlstate() == "22004") << e.what();
        }
    }
    EXPECT_EQ(docs().get(id), std::nullopt);
}

TEST_F(DocumentsTest, ReadsOfAMissingCollectionAreNotFound) {
    auto missing = store().docs(fresh_name("nope_"));
    try {
        static_cast<void>(missing.get(Uuid::random()));
        FAIL() << "expected NotFound";
    } catch (const NotFound& e) {
        EXPECT_EQ(e.sqlstate(), "RF004");
    }
}

TEST_F(DocumentsTest, GetManyReturnsLiveDocumentsInTheOrderAsked) {
    seed(4);
    const Uuid missing = Uuid::random();
    ASSERT_TRUE(docs().soft_delete(ids_[1]));
    auto many = docs().get_many<Customer>({ids_[3], missing, ids_[0], ids_[1], ids_[3]});
    ASSERT_EQ(many.size(), 2u);
    EXPECT_EQ(many[0].id, ids_[3]);
    EXPECT_EQ(many[0].value.age, 24);
    EXPECT_EQ(many[1].id, ids_[0]);
    EXPECT_EQ(many[1].version, 1);
    EXPECT_TRUE(docs().get_many({}).empty());
}

TEST_F(DocumentsTest, UpdateLoadsMutatesAndWritesWithTheLoadedVersion) {
    seed(1);
    const Uuid id = ids_[0];
    EXPECT_EQ(docs().update<Customer>(id, [](Customer& c) { c.status = "gold"; }), 2);
    EXPECT_EQ(docs().get<Customer>(id)->value.status, "gold");
    EXPECT_EQ(docs().update<Customer>(id, 2, [](Customer& c) { c.age += 1; }), 3);

    bool called = false;
    EXPECT_THROW(docs().update<Customer>(id, 2, [&](Customer&) { called = true; }),
                 DocumentVersionConflict);
    EXPECT_FALSE(called) << "a stale expected version must fail before the mutator runs";

    // A write between the load and the write back is caught by the server.
    EXPECT_THROW(docs().update<Customer>(id,
                                         [&](Customer& c) {
                                             docs().patch(id, "status", "concurrent");
                                             c.status = "mine";
                                         }),
                 DocumentVersionConflict);
    auto doc = docs().get<Customer>(id);
    EXPECT_EQ(doc->value.status, "concurrent");
    EXPECT_EQ(doc->version, 4);

    EXPECT_THROW(docs().update<Customer>(Uuid::random(), [](Customer&) {}), NotFound);
    EXPECT_THROW(docs().update(Uuid::random(), json{{"a", 1}}, 1), NotFound);
}

TEST_F(DocumentsTest, PatchSetsPathsAndCreatesParents) {
    seed(1);
    const Uuid id = ids_[0];
    EXPECT_EQ(docs().patch(id, "profile.city", "Bergen"), 2);
    EXPECT_EQ(docs().patch(id, "address.street.name", "Main", 2), 3);
    EXPECT_THROW(docs().patch(id, "age", 1, 2), DocumentVersionConflict);
    EXPECT_EQ(docs().patch_fields(id, {{"age", 50}, {"tags.0", "gold"}, {"extra.flag", true}}), 4);
    auto doc = docs().get(id);
    EXPECT_EQ(doc->value["profile"]["city"], "Bergen");
    EXPECT_EQ(doc->value["profile"]["score"], 10);
    EXPECT_EQ(doc->value["address"]["street"]["name"], "Main");
    EXPECT_EQ(doc->value["age"], 50);
    EXPECT_EQ(doc->value["tags"][0], "gold");
    EXPECT_EQ(doc->value["extra"]["flag"], true);
    EXPECT_THROW(docs().patch(Uuid::random(), "a", 1), NotFound);
}

TEST_F(DocumentsTest, PatchPathsAreValidatedNotPasted) {
    seed(1);
    for (const char* bad : {"a..b", "a->>b", "x'); DROP TABLE t; --", "", "a b", "\"a\""}) {
        EXPECT_THROW(docs().patch(ids_[0], bad, 1), InvalidArgument) << bad;
    }
    EXPECT_THROW(docs().patch_fields(ids_[0], json::object()), InvalidArgument);
    EXPECT_THROW(docs().patch_fields(ids_[0], {{"ok", 1}, {"bad..path", 2}}), InvalidArgument);
    EXPECT_EQ(docs().get(ids_[0])->version, 1) << "a rejected patch wrote something";
}

TEST_F(DocumentsTest, SoftDeleteRestoreAndRemove) {
    seed(2);
    const Uuid id = ids_[0];
    EXPECT_THROW(docs().soft_delete(id, 7), DocumentVersionConflict);
    EXPECT_TRUE(docs().soft_delete(id, 1));
    EXPECT_FALSE(docs().soft_delete(id));  // nothing live to delete
    EXPECT_EQ(docs().get(id), std::nullopt);
    EXPECT_EQ(docs().query<Customer>().count(), 1);
    EXPECT_EQ(docs().query<Customer>().include_deleted().count(), 2);
    EXPECT_EQ(docs().query<Customer>().include_deleted().fetch_all().size(), 2u);

    EXPECT_TRUE(docs().restore(id));
    EXPECT_FALSE(docs().restore(id));
    EXPECT_EQ(docs().get(id)->version, 3);

    EXPECT_TRUE(docs().remove(id, 3));
    EXPECT_FALSE(docs().remove(id));
    EXPECT_EQ(docs().query<Customer>().include_deleted().count(), 1);
    EXPECT_EQ(docs().put(id, customer(1), 0), 1) << "a removed id is free again";
}

TEST_F(DocumentsTest, ATransactionsDocumentsCommitOrRollBackWithIt) {
    const Uuid a = Uuid::random(), b = Uuid::random();
    {
        Transaction tx = store().transaction();
        tx.docs(collection_).put(a, customer(1));
        EXPECT_EQ(tx.docs(collection_).get<Customer>(a)->version, 1);
    }  // rolled back
    EXPECT_EQ(docs().get(a), std::nullopt);
    Transaction tx = store().transaction();
    Documents in_tx = tx.docs(collection_);
    in_tx.put(b, customer(2));
    tx.commit();
    EXPECT_EQ(docs().get<Customer>(b)->value.age, 22);
    EXPECT_THROW(in_tx.get(b), SqlError) << "a handle of an ended transaction must refuse";
}

// ---------------------------------------------------------------- queries

TEST(PredicateTest, BuildsTheSpecJson) {
    auto p = Predicate::eq("status", "active") && Predicate::gte("age", 21) &&
             !Predicate::exists("banned_at");
    EXPECT_EQ(p.to_json(), json::parse(R"({"and": [{"eq": ["status", "active"]},
        {"gte": ["age", 21]}, {"not": {"exists": "banned_at"}}]})"));
    auto q = Predicate::in("tags", {"a", "b"}) || Predicate::like("email", "%@x.com") ||
             Predicate::or_({Predicate::contains("tags", json::array({"vip"})), Predicate()});
    EXPECT_EQ(q.to_json(), json::parse(R"({"or": [{"in": ["tags", ["a", "b"]]},
        {"like": ["email", "%@x.com"]}, {"contains": ["tags", ["vip"]]}]})"));
    EXPECT_TRUE((Predicate() && Predicate()).empty());
    EXPECT_EQ((Predicate() && Predicate::ne("a", 1)).to_json(), json::parse(R"({"ne": ["a", 1]})"));
    EXPECT_THROW(Predicate::not_(Predicate()), InvalidArgument);
    EXPECT_EQ(Predicate::timestamp(
                  std::chrono::system_clock::time_point(std::chrono::microseconds(1500000))),
              json::parse(R"({"$timestamp": "1970-01-01T00:00:01.500000Z"})"));

    QuerySpec spec;
    spec.filter(Predicate::eq("a", 1));
    spec.filter(Predicate::eq("b", 2));
    spec.order_by("c", SortDirection::Desc, NullsOrder::Last);
    spec.page(2, 10);
    spec.select_fields({"a", "p.q"});
    EXPECT_EQ(spec.to_json(),
              json::parse(R"({"filter": {"and": [{"eq": ["a", 1]}, {"eq": ["b", 2]}]},
        "order_by": [{"path": "c", "direction": "desc", "nulls": "last"}], "page": 2,
        "page_size": 10, "select": {"a": "a", "p.q": "p.q"}})"));
    EXPECT_THROW(spec.page(0, 10), InvalidArgument);
    EXPECT_THROW(spec.page(1, 0), InvalidArgument);
    EXPECT_THROW(spec.limit(-1), InvalidArgument);
    EXPECT_THROW(QueryContext::param("1x"), InvalidArgument);
    EXPECT_THROW(QueryContext::param("a-b"), InvalidArgument);
    EXPECT_EQ(QueryContext::param("min_age"), json("$min_age"));
}

TEST_F(DocumentsTest, FilterOrderAndPage) {
    seed(10);
    // Active customers (even n) of 24 or more, oldest first, page 1 of 3.
    auto page1 = docs()
                     .query<Customer>()
                     .filter(Predicate::eq("status", "active"))
                     .filter(Predicate::gte("age", 24))
                     .order_by("age", SortDirection::Desc)
                     .page(1, 3)
                     .fetch_all();
    EXPECT_EQ(ages(page1), (std::vector<int>{30, 28, 26}));
    auto page2 = docs()
                     .query<Customer>()
                     .filter(Predicate::eq("status", "active") && Predicate::gte("age", 24))
                     .order_by("age", SortDirection::Desc)
                     .page(2, 3)
                     .fetch_all();
    EXPECT_EQ(ages(page2), (std::vector<int>{24}));
    auto limited = docs().query<Customer>().order_by("age").offset(2).limit(3).fetch_all();
    EXPECT_EQ(ages(limited), (std::vector<int>{23, 24, 25}));
    EXPECT_EQ(docs().query<Customer>().filter(Predicate::eq("status", "active")).count(), 5);
    EXPECT_EQ(docs().count(), 10);
    EXPECT_EQ(docs().count(Predicate::lt("age", 23)), 2);
}

TEST_F(DocumentsTest, EveryOperator) {
    seed(9);
    auto q = [&](Predicate p) {
        auto r = ages(docs().query<Customer>().filter(std::move(p)).order_by("age").fetch_all());
        return r;
    };
    using V = std::vector<int>;
    EXPECT_EQ(q(Predicate::eq("age", 23)), V{23});
    EXPECT_EQ(q(Predicate::ne("status", "active")), (V{21, 23, 25, 27, 29}));
    EXPECT_EQ(q(Predicate::gt("age", 27)), (V{28, 29}));
    EXPECT_EQ(q(Predicate::lte("profile.score", 20)), (V{21, 22}));
    EXPECT_EQ(q(Predicate::in("profile.city", {"Oslo", "Pune"})), (V{22, 23, 25, 26, 28, 29}));
    EXPECT_EQ(q(Predicate::nin("profile.city", {"Oslo", "Pune"})), (V{21, 24, 27}));
    EXPECT_EQ(q(Predicate::contains("tags", json::array({"vip"}))), (V{23, 26, 29}));
    EXPECT_EQ(q(Predicate::like("email", "User1@%")), V{21});
    EXPECT_EQ(q(Predicate::like("email", "user1@%")), V{});
    EXPECT_EQ(q(Predicate::ilike("email", "user1@%")), V{21});
    EXPECT_EQ(q(Predicate::eq("age", 21) || Predicate::eq("age", 29)), (V{21, 29}));
    EXPECT_EQ(q(!Predicate::gte("age", 23)), (V{21, 22}));
    EXPECT_EQ(q(Predicate::and_({Predicate::eq("status", "active"),
                                 Predicate::not_(Predicate::eq("profile.city", "Lima"))})),
              (V{22, 26, 28}));
    docs().patch(ids_[0], "banned_at", "2026-01-01");
    EXPECT_EQ(q(Predicate::exists("banned_at")), V{21});
    // Numbers compare as numbers, not as text: 9 < 10.
    const Uuid small = Uuid::random();
    docs().put(small, json{{"age", 9}});
    EXPECT_EQ(docs().query().filter(Predicate::lt("age", 10)).count(), 1);
}

TEST_F(DocumentsTest, SelectFetchOneAndFetchDocuments) {
    seed(3);
    auto rows = docs()
                    .query()
                    .select_fields({"email", "profile.city"})
                    .select_field("who", "$id")
                    .order_by("age")
                    .fetch_all();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0]["email"], "User1@Example.com");
    EXPECT_EQ(rows[0]["profile.city"], "Lima");
    EXPECT_EQ(rows[0]["who"], ids_[0].to_string());
    EXPECT_FALSE(rows[0].contains("age"));

    auto oldest = docs().query<Customer>().order_by("age", SortDirection::Desc).fetch_one();
    ASSERT_TRUE(oldest);
    EXPECT_EQ(oldest->age, 23);
    EXPECT_EQ(docs().query<Customer>().filter(Predicate::eq("age", 99)).fetch_one(), std::nullopt);

    docs().patch(ids_[1], "age", 40);
    auto found =
        docs().query<Customer>().filter(Predicate::gt("age", 21)).order_by("age").fetch_documents();
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[0].id, ids_[2]);
    EXPECT_EQ(found[0].version, 1);
    EXPECT_EQ(found[1].id, ids_[1]);
    EXPECT_EQ(found[1].version, 2);
    EXPECT_EQ(found[1].value.age, 40);
}

TEST_F(DocumentsTest, BadSpecsAreInvalidArgumentsNamingThePart) {
    seed(1);
    for (auto p : {Predicate::eq("a..b", 1), Predicate::eq("x'); DROP TABLE t; --", 1),
                   Predicate::from_json(json{{"regex", json::array({"a", "b"})}}),
                   Predicate::from_json(json{{"eq", json::array({"a"})}})}) {
        try {
            static_cast<void>(docs().query().filter(p).fetch_all());
            FAIL() << "accepted " << p.to_json().dump();
        } catch (const InvalidArgument& e) {
            EXPECT_EQ(e.sqlstate(), "22023") << e.what();
        }
    }
    try {
        static_cast<void>(docs().query().order_by("bad path").fetch_all());
        FAIL() << "accepted a bad order_by path";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("order_by"), std::string::npos) << e.what();
    }
}

// ---------------------------------------------------------------- collections, fields

TEST_F(DocumentsTest, Collections) {
    const std::string name = fresh_name("coll_");
    EXPECT_TRUE(docs().create_collection(name));
    EXPECT_FALSE(docs().create_collection(name));
    auto list = docs().list_collections();
    auto it = std::find_if(list.begin(), list.end(), [&](auto& c) { return c.name == name; });
    ASSERT_NE(it, list.end());
    EXPECT_FALSE(it->table_name.empty());
    EXPECT_GT(it->created_at.time_since_epoch().count(), 0);
    EXPECT_TRUE(std::any_of(list.begin(), list.end(), [](auto& c) { return c.name == "docs"; }));
    store().docs(name).put(Uuid::random(), customer(1));
    EXPECT_TRUE(docs().drop_collection(name));
    EXPECT_FALSE(docs().drop_collection(name));
    EXPECT_THROW(static_cast<void>(store().docs(name).count()), NotFound);
    EXPECT_THROW(docs().create_collection("Bad Name"), InvalidArgument);
}

// Writers racing to be first in a new collection (it is created on first write) and
// callers racing to create it: every call succeeds, one creates it, every document lands.
TEST_F(DocumentsTest, ConcurrentFirstWritesCreateTheCollectionOnce) {
    for (int round = 0; round < 5; ++round) {
        const std::string name = fresh_name("race_");
        std::atomic<int> created{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < 6; ++t) {
            pool.emplace_back([&, t] {
                try {
                    if (t % 2 == 0)
                        store().docs(name).put(Uuid::random(), customer(t));
                    else if (store().docs(name).create_collection(name))
                        ++created;
                } catch (const std::exception& e) {
                    ADD_FAILURE() << e.what();
                }
            });
        }
        for (auto& th : pool) th.join();
        EXPECT_LE(created.load(), 1);
        EXPECT_EQ(store().docs(name).count(), 3);
        auto list = docs().list_collections();
        EXPECT_EQ(std::count_if(list.begin(), list.end(), [&](auto& c) { return c.name == name; }),
                  1);
    }
}

TEST_F(DocumentsTest, DuplicatedFieldsAndTheIndexAdvisor) {
    seed(5);
    DuplicatedField f;
    f.path = "email";
    f.column_name = "email_lc";
    f.type = "text";
    f.transform = "lower({value})";
    docs().add_duplicated_field(f);
    DuplicatedField age;
    age.path = "profile.score";
    age.column_name = "score";
    age.type = "integer";
    age.indexed = false;
    docs().add_duplicated_field(age);

    auto fields = docs().list_duplicated_fields();
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0].column_name, "email_lc");
    EXPECT_EQ(fields[0].path, "email");
    EXPECT_EQ(fields[0].transform, std::optional<std::string>("lower({value})"));
    EXPECT_TRUE(fields[0].indexed);
    EXPECT_EQ(fields[1].column_name, "score");
    EXPECT_FALSE(fields[1].indexed);
    EXPECT_EQ(fields[1].transform, std::nullopt);

    // Queries on the paths still answer the same.
    EXPECT_EQ(docs().query<Customer>().filter(Predicate::gt("profile.score", 30)).count(), 2);
    // A document whose field does not cast is refused, and nothing is written.
    const Uuid bad = Uuid::random();
    EXPECT_THROW(docs().put(bad, json{{"profile", {{"score", "high"}}}}), InvalidArgument);
    EXPECT_EQ(docs().get(bad), std::nullopt);

    auto advice = docs().index_advisor("status");
    ASSERT_FALSE(advice.empty());
    EXPECT_FALSE(advice[0].kind.empty());
    EXPECT_FALSE(advice[0].ddl.empty());
    EXPECT_FALSE(advice[0].reason.empty());
    EXPECT_TRUE(advice[0].raw.is_object());
    EXPECT_FALSE(docs().index_advisor("tags", true).empty());
    EXPECT_THROW(docs().index_advisor("a..b"), InvalidArgument);

    EXPECT_TRUE(docs().drop_duplicated_field("score"));
    EXPECT_FALSE(docs().drop_duplicated_field("score"));
    EXPECT_EQ(docs().list_duplicated_fields().size(), 1u);
    f.column_name = "x; drop table y";
    EXPECT_THROW(docs().add_duplicated_field(f), InvalidArgument);
}

}  // namespace
}  // namespace rillflow::test
