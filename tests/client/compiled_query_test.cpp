// compiled_query_test.cpp: CompiledQuery<T> objects: configured once per Store, registered
// with compile_query on first use, run with parameters, registered again when the server no
// longer knows them, refused when two classes share a name.
#include <atomic>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

struct Person {
    std::string name;
    std::string status;
    int age = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Person, name, status, age)

// Counts configure() calls, to show the spec is built once per Store.
std::atomic<int> configured{0};

class PeopleByStatus : public CompiledQuery<Person> {
  public:
    explicit PeopleByStatus(std::string name, std::string collection)
        : name_(std::move(name)), collection_(std::move(collection)) {}
    std::string name() const override { return name_; }
    void configure(QueryContext& ctx) const override {
        ++configured;
        ctx.collection(collection_)
            .filter(Predicate::eq("status", QueryContext::param("status")) &&
                    Predicate::gte("age", QueryContext::param("min_age")))
            .order_by("age", SortDirection::Asc);
    }

  private:
    std::string name_, collection_;
};

// Another class that (wrongly) takes the same name.
class Impostor : public CompiledQuery<json> {
  public:
    explicit Impostor(std::string name) : name_(std::move(name)) {}
    std::string name() const override { return name_; }
    void configure(QueryContext& ctx) const override { ctx.limit(1); }

  private:
    std::string name_;
};

// Names only, with the collection of the handle that runs it.
class Names : public CompiledQuery<json> {
  public:
    explicit Names(std::string name) : name_(std::move(name)) {}
    std::string name() const override { return name_; }
    void configure(QueryContext& ctx) const override {
        ctx.filter(Predicate::eq("status", QueryContext::param("status")))
            .select_fields({"name"})
            .order_by("name");
    }

  private:
    std::string name_;
};

class CompiledQueryTest : public ClientTest {
  protected:
    void SetUp() override {
        ClientTest::SetUp();
        collection_ = fresh_name("cq_");
        Documents docs = store().docs(collection_);
        int i = 0;
        for (const char* name : {"ann", "bob", "cy", "dee", "eve"}) {
            ++i;
            docs.put(Uuid::random(), Person{name, i % 2 ? "active" : "idle", 20 + i});
        }
    }
    std::int64_t registered(const std::string& name) {
        Transaction tx = store().transaction();
        Result r = tx.exec("SELECT count(*) FROM rillflow.list_queries() WHERE name = $1", {name});
        return std::stoll(std::string(r.value(0, 0)));
    }
    std::string collection_;
};

std::vector<std::string> names_of(const std::vector<Person>& people) {
    std::vector<std::string> out;
    for (const auto& p : people) out.push_back(p.name);
    return out;
}

TEST_F(CompiledQueryTest, ConfiguredOnceRegisteredOnFirstUseRunWithParameters) {
    const std::string name = fresh_name("q_");
    PeopleByStatus query(name, collection_);
    EXPECT_EQ(registered(name), 0);
    const int before = configured.load();
    Documents docs = store().docs();
    auto active = docs.execute_compiled(query, {{"status", "active"}, {"min_age", 22}});
    EXPECT_EQ(names_of(active), (std::vector<std::string>{"cy", "eve"}));
    EXPECT_EQ(registered(name), 1);
    auto idle = docs.execute_compiled(query, {{"status", "idle"}, {"min_age", 0}});
    EXPECT_EQ(names_of(idle), (std::vector<std::string>{"bob", "dee"}));
    // Another handle of the same Store, another query object of the same class: no new
    // configure().
    PeopleByStatus again(name, collection_);
    EXPECT_EQ(
        store().docs("docs").execute_compiled(again, {{"status", "active"}, {"min_age", 0}}).size(),
        3u);
    EXPECT_EQ(configured.load() - before, 1);
}

TEST_F(CompiledQueryTest, MissingOrMistypedParametersAreInvalid) {
    PeopleByStatus query(fresh_name("q_"), collection_);
    Documents docs = store().docs();
    EXPECT_THROW(docs.execute_compiled(query, {{"status", "active"}}), InvalidArgument);
    EXPECT_THROW(docs.execute_compiled(query, json::array()), InvalidArgument);
    EXPECT_EQ(docs.execute_compiled(query, {{"status", "active"}, {"min_age", 100}}).size(), 0u);
}

TEST_F(CompiledQueryTest, DroppedBehindTheStoresBackIsRegisteredAgain) {
    const std::string name = fresh_name("q_");
    PeopleByStatus query(name, collection_);
    Documents docs = store().docs();
    EXPECT_EQ(docs.execute_compiled(query, {{"status", "idle"}, {"min_age", 0}}).size(), 2u);
    {
        Transaction tx = store().transaction();
        tx.exec("SELECT rillflow.drop_query($1)", {name});
        tx.commit();
    }
    EXPECT_EQ(registered(name), 0);
    EXPECT_EQ(docs.execute_compiled(query, {{"status", "idle"}, {"min_age", 0}}).size(), 2u);
    EXPECT_EQ(registered(name), 1);

    docs.drop_compiled(name);
    EXPECT_EQ(registered(name), 0);
    EXPECT_THROW(docs.drop_compiled(name), NotFound);
    EXPECT_EQ(docs.execute_compiled(query, {{"status", "idle"}, {"min_age", 0}}).size(), 2u);
}

TEST_F(CompiledQueryTest, TwoClassesWithOneNameAreRefused) {
    const std::string name = fresh_name("q_");
    Documents docs = store().docs();
    docs.execute_compiled(PeopleByStatus(name, collection_), {{"status", "idle"}, {"min_age", 0}});
    try {
        docs.execute_compiled(Impostor(name));
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
}

TEST_F(CompiledQueryTest, UsesTheHandlesCollectionAndRunsInATenantsStore) {
    const std::string name = fresh_name("q_");
    auto rows = store().docs(collection_).execute_compiled(Names(name), {{"status", "active"}});
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0], json({{"name", "ann"}}));

    // The same name in another store is another query; the Store registers it there itself.
    Store tenant = fresh_tenant_store(store());
    tenant.docs(collection_).put(Uuid::random(), Person{"zed", "active", 1});
    auto there = tenant.docs(collection_).execute_compiled(Names(name), {{"status", "active"}});
    ASSERT_EQ(there.size(), 1u);
    EXPECT_EQ(there[0]["name"], "zed");
}

TEST_F(CompiledQueryTest, InsideATransaction) {
    const std::string name = fresh_name("q_");
    Transaction tx = store().transaction();
    tx.docs(collection_).put(Uuid::random(), Person{"fay", "active", 99});
    auto rows = tx.docs(collection_).execute_compiled(Names(name), {{"status", "active"}});
    EXPECT_EQ(rows.size(), 4u) << "the transaction's own write is visible to it";
    tx.rollback();
    EXPECT_EQ(
        store().docs(collection_).execute_compiled(Names(name), {{"status", "active"}}).size(), 3u);
}

}  // namespace
}  // namespace rillflow::test
