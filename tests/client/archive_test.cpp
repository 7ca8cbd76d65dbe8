// Hot and cold events through the client (docs/archiving.md): archive and reactivate,
// reads hot-only unless with_archived(), the builder's settings (redirect, include by
// default, backend), StreamArchived, archive_streams, metrics; on both backends.
#include <gtest/gtest.h>

#include <algorithm>

#include "support.hpp"

namespace rillflow {
// The backend's name in test names and failure messages.
inline void PrintTo(ArchiveBackend b, std::ostream* os) {
    *os << (b == ArchiveBackend::Partitioned ? "Partitioned" : "DualTable");
}
}  // namespace rillflow

namespace rillflow::test {
namespace {

class ArchiveTest : public ClientTest, public ::testing::WithParamInterface<ArchiveBackend> {
  protected:
    // A fresh tenant on the backend under test.
    Store archive_store(std::string* tenant_out = nullptr) {
        std::string tenant = fresh_name("arch_");
        EXPECT_TRUE(store().ensure_tenant(tenant));
        if (tenant_out != nullptr) *tenant_out = tenant;
        return Store::builder(url())
            .tenant(tenant)
            .max_connections(4)
            .archive_backend(GetParam())
            .build();
    }
};

TEST_P(ArchiveTest, ArchivedStreamsReadHotOnlyUnlessAskedAndKeepTheirPositions) {
    Store s = archive_store();
    EXPECT_EQ(s.events().archive_backend(), GetParam());
    const Uuid a = Uuid::random();
    const Uuid b = Uuid::random();
    s.events().append(a, Expected::NoStream(), numbered("A", 3));
    s.events().append(b, Expected::NoStream(), numbered("B", 1));
    ASSERT_EQ(wait_for_head(s, 4), 4);
    const auto before = s.events().read_stream(a);

    EXPECT_TRUE(s.events().archive_stream(a));
    EXPECT_FALSE(s.events().archive_stream(a));
    EXPECT_TRUE(s.events().read_stream(a).empty());
    const auto archived = s.events().with_archived().read_stream(a);
    ASSERT_EQ(archived.size(), 3U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(archived[i].position, before[i].position);
        EXPECT_EQ(archived[i].version, before[i].version);
        EXPECT_EQ(archived[i].event_id, before[i].event_id);
    }
    EXPECT_EQ(s.events().read_all().size(), 1U);
    EXPECT_EQ(s.events().with_archived().read_all().size(), 4U);
    EXPECT_EQ(s.events().stream_version(a), 3);

    EXPECT_TRUE(s.events().reactivate_stream(a));
    EXPECT_FALSE(s.events().reactivate_stream(a));
    EXPECT_EQ(s.events().read_stream(a).size(), 3U);
    EXPECT_THROW((void)s.events().archive_stream(Uuid::random()), NotFound);
}

TEST_P(ArchiveTest, AnAppendReactivatesUnlessTheRedirectIsOff) {
    std::string tenant;
    Store s = archive_store(&tenant);
    const Uuid a = Uuid::random();
    s.events().append(a, Expected::NoStream(), numbered("A", 2));
    ASSERT_TRUE(s.events().archive_stream(a));

    Store strict = Store::builder(url()).tenant(tenant).archive_redirect_enabled(false).build();
    EXPECT_THROW(strict.events().append(a, Expected::Exact(2), numbered("A", 1, 3)),
                 StreamArchived);
    try {
        strict.events().append(a, Expected::Any(), numbered("A", 1, 3));
        ADD_FAILURE() << "no StreamArchived";
    } catch (const StreamArchived& e) {
        EXPECT_EQ(e.sqlstate(), sqlstate::stream_archived);
    }
    EXPECT_EQ(s.events().stream_version(a), 2);
    // the version check holds across archiving
    EXPECT_THROW(s.events().append(a, Expected::Exact(1), numbered("A", 1, 3)), VersionConflict);
    EXPECT_EQ(s.events().append(a, Expected::Exact(2), numbered("A", 1, 3)), 3);
    EXPECT_EQ(s.events().read_stream(a).size(), 3U);
    const auto metrics = s.events().archive_metrics();
    ASSERT_EQ(metrics.size(), 6U);
    const auto reactivated = std::find_if(
        metrics.begin(), metrics.end(),
        [](const ArchiveMetric& m) { return m.name == "archive_streams_reactivated_total"; });
    ASSERT_NE(reactivated, metrics.end());
    EXPECT_EQ(reactivated->value, 1);
}

TEST_P(ArchiveTest, IncludeArchivedByDefaultMakesPlainReadsSeeTheArchive) {
    std::string tenant;
    Store s = archive_store(&tenant);
    const Uuid a = Uuid::random();
    s.events().append(a, Expected::NoStream(), numbered("A", 2));
    ASSERT_TRUE(s.events().archive_stream(a));
    Store all = Store::builder(url()).tenant(tenant).include_archived_by_default(true).build();
    EXPECT_EQ(all.events().read_stream(a).size(), 2U);
    EXPECT_TRUE(s.events().read_stream(a).empty());
}

TEST_P(ArchiveTest, ArchiveStreamsTakesIdleStreamsInBatches) {
    Store s = archive_store();
    for (int i = 0; i < 5; ++i)
        s.events().append(Uuid::random(), Expected::Any(), numbered("E", 1));
    EXPECT_EQ(s.events().archive_streams(std::chrono::hours(24)), 0);
    EXPECT_EQ(s.events().archive_streams(std::chrono::seconds(0), 2), 2);
    EXPECT_EQ(s.events().archive_streams(std::chrono::seconds(0), 2), 2);
    EXPECT_EQ(s.events().archive_streams(std::chrono::seconds(0), 2), 1);
    EXPECT_EQ(s.events().archive_streams(std::chrono::seconds(0), 2), 0);
    EXPECT_THROW((void)s.events().archive_streams(std::chrono::seconds(-1)), InvalidArgument);
    EXPECT_THROW((void)s.events().archive_streams(std::chrono::seconds(0), 0), InvalidArgument);
}

TEST_P(ArchiveTest, AggregatesAndTheDaemonsReadsSeeArchivedEvents) {
    Store s = archive_store();
    const Uuid a = Uuid::random();
    s.events().append(a, Expected::NoStream(), numbered("A", 4));
    ASSERT_TRUE(s.events().archive_stream(a));
    // a transaction's reads follow the same rule
    Transaction tx = s.transaction();
    EXPECT_TRUE(tx.events().read_stream(a).empty());
    EXPECT_EQ(tx.events().with_archived().read_stream(a).size(), 4U);
    tx.commit();
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveTest,
                         ::testing::Values(ArchiveBackend::DualTable, ArchiveBackend::Partitioned),
                         [](const ::testing::TestParamInfo<ArchiveBackend>& info) {
                             return info.param == ArchiveBackend::Partitioned ? "Partitioned"
                                                                              : "DualTable";
                         });

TEST_F(ClientTest, TheDefaultStoreStaysOnTheDualTableBackend) {
    EXPECT_EQ(events().archive_backend(), ArchiveBackend::DualTable);
    EXPECT_THROW(Store::builder(url()).archive_backend(ArchiveBackend::Partitioned).build(),
                 SqlError);
}

}  // namespace
}  // namespace rillflow::test
