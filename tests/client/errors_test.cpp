// errors_test.cpp: every SQLSTATE class maps to its exception type, with message, detail and
// hint intact, both for errors the server raises and through throw_error() directly.
#include <functional>

#include "support.hpp"

namespace rillflow::test {
namespace {

class ErrorsTest : public ClientTest {
  protected:
    // Raises `sqlstate` on the server, from PL/pgSQL, with a detail and a hint.
    void raise(const std::string& sqlstate) {
        Transaction tx = store().transaction();
        tx.exec(
            "CREATE FUNCTION pg_temp.rf_raise(code text) RETURNS void LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'raised %', code USING ERRCODE = code,"
            " DETAIL = 'the detail', HINT = 'the hint'; END $$");
        tx.exec("SELECT pg_temp.rf_raise($1)", {sqlstate});
    }

    template <typename E>
    void expect_raised_as(const std::string& sqlstate) {
        try {
            raise(sqlstate);
            ADD_FAILURE() << sqlstate << " raised nothing";
        } catch (const E& e) {
            EXPECT_EQ(e.sqlstate(), sqlstate);
            EXPECT_EQ(e.message(), "raised " + sqlstate);
            EXPECT_EQ(e.detail(), "the detail");
            EXPECT_EQ(e.hint(), "the hint");
            const std::string what = e.what();
            EXPECT_NE(what.find(sqlstate), std::string::npos) << what;
            EXPECT_NE(what.find("the detail"), std::string::npos) << what;
        } catch (const std::exception& e) {
            ADD_FAILURE() << sqlstate << " was mapped to the wrong type: " << e.what();
        }
    }
};

TEST_F(ErrorsTest, DomainCodesMapToTheirTypes) {
    expect_raised_as<VersionConflict>("RF001");
    expect_raised_as<IdempotencyConflict>("RF002");
    expect_raised_as<DocumentVersionConflict>("RF003");
    expect_raised_as<NotFound>("RF004");
    expect_raised_as<TenantNotFound>("RF005");
}

TEST_F(ErrorsTest, OtherClassesMapToTheirTypes) {
    expect_raised_as<InvalidArgument>("22023");
    expect_raised_as<InvalidArgument>("22P02");
    expect_raised_as<InvalidArgument>("22004");
    expect_raised_as<SqlError>("23505");
    expect_raised_as<SqlError>("40001");
    expect_raised_as<SqlError>("P0001");
    expect_raised_as<SqlError>("42501");  // insufficient_privilege is not bad input
    expect_raised_as<ConnectionError>("08006");
}

TEST_F(ErrorsTest, BadStatementsAreInvalidArguments) {
    Transaction tx = store().transaction();
    try {
        tx.exec("SELEC 1");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(e.sqlstate(), "42601");
    }
    tx.rollback();
    EXPECT_THROW(store().transaction().exec("SELECT rillflow.no_such_function()"), InvalidArgument);
    EXPECT_THROW(store().transaction().exec("SELECT * FROM no_such_table_here"), InvalidArgument);
    EXPECT_THROW(store().transaction().exec("SELECT $1::uuid", {"not-a-uuid"}), InvalidArgument);
    EXPECT_THROW(store().transaction().exec("SELECT $1::jsonb", {"{broken"}), InvalidArgument);
}

TEST_F(ErrorsTest, ServerErrorsThatAreNotBadInputAreSqlErrors) {
    Transaction tx = store().transaction();
    tx.exec("CREATE TEMP TABLE one_key (k int PRIMARY KEY)");
    tx.exec("INSERT INTO one_key VALUES ($1::int)", {1});
    try {
        tx.exec("INSERT INTO one_key VALUES ($1::int)", {1});
        FAIL() << "expected SqlError";
    } catch (const SqlError& e) {
        EXPECT_EQ(e.sqlstate(), "23505");
        EXPECT_NE(e.detail().find("(k)=(1)"), std::string::npos) << e.detail();
    }
}

TEST(ThrowErrorTest, MapsEverySqlstateClass) {
    auto type_of = [](const std::string& sqlstate) -> std::string {
        try {
            throw_error(sqlstate, "m", "d", "h");
        } catch (const VersionConflict&) {
            return "VersionConflict";
        } catch (const IdempotencyConflict&) {
            return "IdempotencyConflict";
        } catch (const DocumentVersionConflict&) {
            return "DocumentVersionConflict";
        } catch (const NotFound&) {
            return "NotFound";
        } catch (const TenantNotFound&) {
            return "TenantNotFound";
        } catch (const InvalidArgument&) {
            return "InvalidArgument";
        } catch (const ConnectionError&) {
            return "ConnectionError";
        } catch (const SqlError&) {
            return "SqlError";
        } catch (...) {
            return "other";
        }
    };
    EXPECT_EQ(type_of("RF001"), "VersionConflict");
    EXPECT_EQ(type_of("RF002"), "IdempotencyConflict");
    EXPECT_EQ(type_of("RF003"), "DocumentVersionConflict");
    EXPECT_EQ(type_of("RF004"), "NotFound");
    EXPECT_EQ(type_of("RF005"), "TenantNotFound");
    EXPECT_EQ(type_of("RF999"), "SqlError");
    EXPECT_EQ(type_of("22023"), "InvalidArgument");
    EXPECT_EQ(type_of("22P02"), "InvalidArgument");
    EXPECT_EQ(type_of("42601"), "InvalidArgument");
    EXPECT_EQ(type_of("42883"), "InvalidArgument");
    EXPECT_EQ(type_of("42P01"), "InvalidArgument");
    EXPECT_EQ(type_of("42703"), "InvalidArgument");
    EXPECT_EQ(type_of("42501"), "SqlError");
    EXPECT_EQ(type_of("42P07"), "SqlError");
    EXPECT_EQ(type_of("08000"), "ConnectionError");
    EXPECT_EQ(type_of("08006"), "ConnectionError");
    EXPECT_EQ(type_of("57P01"), "ConnectionError");
    EXPECT_EQ(type_of("53300"), "ConnectionError");
    EXPECT_EQ(type_of("23505"), "SqlError");
    EXPECT_EQ(type_of("40P01"), "SqlError");
    EXPECT_EQ(type_of(""), "SqlError");
}

TEST(ThrowErrorTest, EveryTypeIsAnErrorAndARuntimeError) {
    try {
        throw_error("RF001", "message", "detail", "hint");
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), "RF001");
        EXPECT_EQ(e.message(), "message");
        EXPECT_EQ(e.detail(), "detail");
        EXPECT_EQ(e.hint(), "hint");
        EXPECT_EQ(std::string(e.what()), "message (SQLSTATE RF001); detail: detail; hint: hint");
    }
    EXPECT_THROW(throw_error("08006", "m"), std::runtime_error);
    EXPECT_THROW(throw_error("42601", "m"), Error);
}

}  // namespace
}  // namespace rillflow::test
