// uuid_test.cpp: the Uuid value type, and that the server reads it the same way.
#include <sstream>
#include <unordered_set>

#include "support.hpp"

namespace rillflow::test {
namespace {

TEST(UuidTest, ParsesTheUsualForms) {
    const std::string canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    const Uuid u = Uuid::parse(canonical);
    EXPECT_EQ(u.to_string(), canonical);
    EXPECT_EQ(Uuid::parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), u);
    EXPECT_EQ(Uuid::parse("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), u);
    EXPECT_EQ(Uuid::parse("a0eebc999c0b4ef8bb6d6bb9bd380a11"), u);
    EXPECT_EQ(u.bytes()[0], 0xa0);
    EXPECT_EQ(u.bytes()[15], 0x11);
}

TEST(UuidTest, RejectsAnythingElse) {
    for (const char* bad :
         {"", "a0eebc99", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
          "a0eebc99+9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a1-",
          "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}) {
        EXPECT_EQ(Uuid::try_parse(bad), std::nullopt) << bad;
        try {
            Uuid::parse(bad);
            ADD_FAILURE() << "parsed " << bad;
        } catch (const InvalidArgument& e) {
            EXPECT_EQ(e.sqlstate(), "22P02");
        }
    }
}

TEST(UuidTest, RandomIsVersion4AndUnique) {
    std::unordered_set<Uuid> seen;
    for (int i = 0; i < 10000; ++i) {
        const Uuid u = Uuid::random();
        EXPECT_EQ(u.bytes()[6] >> 4, 4);
        EXPECT_EQ(u.bytes()[8] & 0xC0, 0x80);
        EXPECT_TRUE(seen.insert(u).second);
    }
}

TEST(UuidTest, ValueSemantics) {
    const Uuid nil;
    EXPECT_TRUE(nil.is_nil());
    EXPECT_EQ(nil, Uuid::nil());
    EXPECT_EQ(nil.to_string(), "00000000-0000-0000-0000-000000000000");
    const Uuid a = Uuid::parse("00000000-0000-0000-0000-000000000001");
    const Uuid b = Uuid::parse("00000000-0000-0000-0000-000000000002");
    EXPECT_LT(a, b);
    EXPECT_LE(a, b);
    EXPECT_GT(b, a);
    EXPECT_NE(a, b);
    EXPECT_FALSE(a.is_nil());
    EXPECT_EQ(std::hash<Uuid>{}(a), std::hash<Uuid>{}(Uuid::parse(a.to_string())));
    std::ostringstream out;
    out << a;
    EXPECT_EQ(out.str(), a.to_string());
}

TEST(UuidTest, JsonRoundTrip) {
    const Uuid u = Uuid::random();
    const nlohmann::json j = u;
    EXPECT_EQ(j, u.to_string());
    EXPECT_EQ(j.get<Uuid>(), u);
    EXPECT_THROW(nlohmann::json(42).get<Uuid>(), InvalidArgument);
    EXPECT_THROW(nlohmann::json("nope").get<Uuid>(), InvalidArgument);
}

class UuidServerTest : public ClientTest {};

TEST_F(UuidServerTest, ServerAgreesOnTheText) {
    const Uuid u = Uuid::random();
    Result r =
        store().transaction().exec("SELECT $1::uuid::text, upper($1::uuid::text)::uuid", {u});
    EXPECT_EQ(r.value(0, 0), u.to_string());
    EXPECT_EQ(Uuid::parse(r.value(0, 1)), u);
}

}  // namespace
}  // namespace rillflow::test
