// transaction_test.cpp: RAII transactions: rollback unless committed, moves, statements with
// bound parameters, and the event API inside a transaction.
#include <type_traits>

#include "support.hpp"

namespace rillflow::test {
namespace {

using nlohmann::json;

static_assert(!std::is_copy_constructible_v<Transaction>);
static_assert(!std::is_copy_assignable_v<Transaction>);
static_assert(std::is_nothrow_move_constructible_v<Transaction>);
static_assert(std::is_nothrow_move_assignable_v<Transaction>);
static_assert(!std::is_copy_constructible_v<Savepoint>);
static_assert(std::is_nothrow_move_constructible_v<Savepoint>);
static_assert(std::is_nothrow_move_assignable_v<Savepoint>);

class TransactionTest : public ClientTest {};

TEST_F(TransactionTest, NotCommittedRollsBack) {
    const Uuid s = Uuid::random();
    {
        Transaction tx = store().transaction();
        EXPECT_TRUE(tx.active());
        EXPECT_EQ(tx.events().append(s, Expected::NoStream(), numbered("Draft", 2)), 2);
        EXPECT_EQ(tx.events().stream_version(s), 2);          // visible inside
        EXPECT_EQ(events().stream_version(s), std::nullopt);  // not outside
    }
    EXPECT_EQ(events().stream_version(s), std::nullopt);
    EXPECT_TRUE(events().read_stream(s).empty());
}

TEST_F(TransactionTest, CommitKeepsTheWrites) {
    const Uuid s = Uuid::random();
    Transaction tx = store().transaction();
    tx.events().append(s, Expected::NoStream(), numbered("Kept", 1));
    tx.events().append(s, Expected::Exact(1), numbered("Kept", 1, 2));
    tx.commit();
    EXPECT_FALSE(tx.active());
    EXPECT_EQ(events().stream_version(s), 2);
    EXPECT_EQ(events().read_stream(s).size(), 2u);
}

TEST_F(TransactionTest, ExplicitRollbackEndsTheTransaction) {
    const Uuid s = Uuid::random();
    Transaction tx = store().transaction();
    Events in_tx = tx.events();
    in_tx.append(s, Expected::Any(), numbered("Gone", 1));
    tx.rollback();
    EXPECT_FALSE(tx.active());
    EXPECT_EQ(events().stream_version(s), std::nullopt);
    try {
        tx.exec("SELECT 1");
        FAIL() << "expected SqlError";
    } catch (const SqlError& e) {
        EXPECT_EQ(e.sqlstate(), "25000");
    }
    EXPECT_THROW(tx.commit(), SqlError);
    EXPECT_THROW(static_cast<void>(in_tx.stream_version(s)),
                 SqlError);  // the handle outlived its transaction
}

TEST_F(TransactionTest, SavepointKeepsWhatWasReleasedAndRollsBackTheRest) {
    const Uuid kept = Uuid::random();
    const Uuid undone = Uuid::random();
    const Uuid dropped = Uuid::random();
    Transaction tx = store().transaction();
    {
        Savepoint sp = tx.savepoint();
        tx.events().append(kept, Expected::Any(), numbered("Kept", 1));
        sp.release();
        EXPECT_FALSE(sp.active());
    }
    {
        Savepoint sp = tx.savepoint();
        tx.events().append(undone, Expected::Any(), numbered("Undone", 1));
        // A failed statement under a savepoint leaves the transaction usable once rolled back.
        EXPECT_THROW(tx.exec("SELECT 1 / 0"), InvalidArgument);
        sp.rollback();
        EXPECT_THROW(sp.release(), SqlError);  // it has ended
    }
    {
        Savepoint outer = tx.savepoint();
        Savepoint inner = tx.savepoint();
        tx.events().append(dropped, Expected::Any(), numbered("Dropped", 1));
        inner.release();
        EXPECT_TRUE(outer.active());
    }  // neither released at the end: the destructor rolls back to the outer savepoint
    tx.commit();
    EXPECT_EQ(events().stream_version(kept), 1);
    EXPECT_EQ(events().stream_version(undone), std::nullopt);
    EXPECT_EQ(events().stream_version(dropped), std::nullopt);
}

TEST_F(TransactionTest, MovesCarryTheTransaction) {
    const Uuid s = Uuid::random();
    Transaction a = store().transaction();
    a.events().append(s, Expected::Any(), numbered("Moved", 1));
    Transaction b = std::move(a);
    EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(b.active());
    b.commit();
    EXPECT_EQ(events().stream_version(s), 1);

    // Move-assigning over an open transaction rolls that one back first.
    const Uuid dropped = Uuid::random();
    const Uuid kept = Uuid::random();
    Transaction c = store().transaction();
    c.events().append(dropped, Expected::Any(), numbered("Dropped", 1));
    Transaction d = store().transaction();
    d.events().append(kept, Expected::Any(), numbered("Kept", 1));
    c = std::move(d);
    c.commit();
    EXPECT_EQ(events().stream_version(dropped), std::nullopt);
    EXPECT_EQ(events().stream_version(kept), 1);
}

TEST_F(TransactionTest, ExecBindsEveryKindOfParameter) {
    Transaction tx = store().transaction();
    const Uuid id = Uuid::random();
    Result r = tx.exec(
        "SELECT $1::int + $2::bigint AS sum, $3::text AS text, $4::uuid AS id, "
        "$5::jsonb ->> 'k' AS k, $6::boolean AS flag, $7::float8 AS x, $8::text AS nothing, "
        "$9::text AS injected",
        {40, std::int64_t{2}, std::string("it's"), id, json{{"k", "v"}}, true, 0.25, std::nullopt,
         "'); DROP TABLE x; --"});
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r.columns(), 8u);
    EXPECT_EQ(r.value(0, 0), "42");
    EXPECT_EQ(r.get(0, 1), "it's");
    EXPECT_EQ(Uuid::parse(r.value(0, 2)), id);
    EXPECT_EQ(r.value(0, 3), "v");
    EXPECT_EQ(r.value(0, 4), "t");
    EXPECT_EQ(r.value(0, 5), "0.25");
    EXPECT_TRUE(r.is_null(0, 6));
    EXPECT_EQ(r.get(0, 6), std::nullopt);
    EXPECT_EQ(r.value(0, 7), "'); DROP TABLE x; --");
    EXPECT_EQ(r.column_name(0), "sum");
    EXPECT_EQ(r.column_index("k"), 3u);
    EXPECT_EQ(r.column_index("missing"), std::nullopt);
    EXPECT_THROW(static_cast<void>(r.value(1, 0)), std::out_of_range);
    EXPECT_THROW(static_cast<void>(r.value(0, 8)), std::out_of_range);

    std::optional<std::string> maybe;
    r = tx.exec("SELECT $1::text IS NULL", {maybe});
    EXPECT_EQ(r.value(0, 0), "t");

    tx.exec("CREATE TEMP TABLE tx_rows (n int) ON COMMIT DROP");
    r = tx.exec("INSERT INTO tx_rows SELECT generate_series(1, $1::int)", {3});
    EXPECT_EQ(r.affected_rows(), 3);
    EXPECT_EQ(r.command_status(), "INSERT 0 3");
    EXPECT_TRUE(tx.exec("SELECT * FROM tx_rows WHERE false").empty());
}

TEST_F(TransactionTest, CommitAfterAFailedStatementIsAnError) {
    const Uuid s = Uuid::random();
    Transaction tx = store().transaction();
    tx.events().append(s, Expected::Any(), numbered("Lost", 1));
    EXPECT_THROW(tx.events().append(s, Expected::NoStream(), numbered("Conflict", 1)),
                 VersionConflict);
    EXPECT_THROW(tx.exec("SELECT 1"), SqlError);  // 25P02: the transaction is aborted
    try {
        tx.commit();
        FAIL() << "expected SqlError";
    } catch (const SqlError& e) {
        EXPECT_EQ(e.sqlstate(), "25P02");
    }
    EXPECT_EQ(events().stream_version(s), std::nullopt);
}

TEST_F(TransactionTest, IsolationLevels) {
    EXPECT_EQ(store().transaction().exec("SHOW transaction_isolation").value(0, 0),
              "read committed");
    EXPECT_EQ(store()
                  .transaction(Isolation::RepeatableRead)
                  .exec("SHOW transaction_isolation")
                  .value(0, 0),
              "repeatable read");
    EXPECT_EQ(
        store().transaction(Isolation::Serializable).exec("SHOW transaction_isolation").value(0, 0),
        "serializable");
}

TEST_F(TransactionTest, HoldsOneConnectionUntilItEnds) {
    Store small = Store::builder(url()).max_connections(2).build();
    Transaction tx = small.transaction();
    const int pid = tx.backend_pid();
    EXPECT_EQ(std::stoi(std::string(tx.exec("SELECT pg_backend_pid()").value(0, 0))), pid);
    EXPECT_EQ(small.pool_stats().idle, 0u);
    tx.commit();
    EXPECT_EQ(small.pool_stats().idle, 1u);  // back in the pool, reused next
    EXPECT_EQ(small.transaction().backend_pid(), pid);
}

TEST_F(TransactionTest, HandlesOutliveTheStoreTheyCameFrom) {
    const Uuid s = Uuid::random();
    std::optional<Transaction> tx;
    std::optional<Events> events_only;
    {
        Store local = Store::builder(url()).max_connections(2).build();
        tx.emplace(local.transaction());
        events_only.emplace(local.events());
    }  // the last Store copy is gone; the pool lives on in the handles
    tx->events().append(s, Expected::NoStream(), numbered("Late", 1));
    tx->commit();
    EXPECT_EQ(events_only->stream_version(s), 1);
    EXPECT_EQ(events_only->read_stream(s).size(), 1u);
}

}  // namespace
}  // namespace rillflow::test
