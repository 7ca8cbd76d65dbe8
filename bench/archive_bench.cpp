// bench/archive_bench.cpp: hot and cold events (docs/archiving.md), on both backends.
//
//  1. Hot reads and appends stay flat as history grows: read_stream of a hot stream and
//     single appends to hot streams, in a store whose other events are all archived
//     (--archived, default 2,000,000), against the same hot streams in a store with no
//     archive. Target: at least 0.9x.
//  2. The move: archive_streams moving those events, batch by batch (--batch streams per
//     call), against the hand-written statement on two plain tables of the same shape and
//     indexes: WITH moved AS (DELETE ... RETURNING *) INSERT INTO ... SELECT. Target: at
//     least 0.8x.
//
// Usage: archive_bench [--archived N] [--seconds S] [--batch B]; DATABASE_URL names a
// database with the extension.
#include <cstring>
#include <string>
#include <vector>

#include "support.hpp"

using namespace rillflow::bench;

namespace {

struct Options {
    long archived = 2000000;
    double seconds = 3;
    int batch = 1000;
};

constexpr int kHotStreams = 200;
constexpr int kHotEvents = 10;        // per hot stream
constexpr int kEventsPerStream = 20;  // per archived stream

std::string Store(const std::string& tenant) { return "rillflow_tenant_" + tenant; }

// A tenant on the backend, with the hot streams (ids returned).
std::vector<std::string> MakeHotStreams(Conn& c, const std::string& tenant, std::mt19937_64& rng) {
    std::vector<std::string> ids;
    for (int i = 0; i < kHotStreams; ++i) {
        ids.push_back(RandomUuid(rng));
        c.exec("SELECT rillflow.append_events('" + ids.back() +
               "', (SELECT jsonb_agg(jsonb_build_object('type', 'Hot', 'body', "
               "jsonb_build_object('n', g))) "
               "FROM generate_series(1, " +
               std::to_string(kHotEvents) + ") g))");
    }
    (void)tenant;
    c.exec("SELECT rillflow.head_position()");
    return ids;
}

// `count` events in streams of kEventsPerStream, appended in batches of 1000 streams,
// then given their positions.
void LoadHistory(Conn& c, long count) {
    const long streams = count / kEventsPerStream;
    for (long done = 0; done < streams; done += 1000) {
        const long n = std::min<long>(1000, streams - done);
        c.exec(
            "SELECT rillflow.append_events(gen_random_uuid(), "
            "(SELECT jsonb_agg(jsonb_build_object('type', 'Old', 'body', jsonb_build_object('n', "
            "g, 'pad', "
            "repeat('x', 100)))) FROM generate_series(1, " +
            std::to_string(kEventsPerStream) + ") g)) FROM generate_series(1, " +
            std::to_string(n) + ")");
    }
    c.exec("SELECT rillflow.head_position()");
}

// Calls per second of `name` with a random hot stream for `seconds`.
double CallRate(Conn& c, const std::string& name, const std::vector<std::string>& ids,
                double seconds, std::mt19937_64& rng) {
    long calls = 0;
    const auto start = Clock::now();
    while (Seconds(Clock::now() - start) < seconds) {
        for (int i = 0; i < 50; ++i, ++calls) c.run(name, {ids[rng() % ids.size()]});
    }
    return calls / Seconds(Clock::now() - start);
}

struct HotRates {
    double read = 0;
    double append = 0;
};

// Both stores' hot reads and appends, their rounds taking turns (empty, full, empty, ...)
// after a checkpoint, so neither store alone runs while the checkpointer writes out the
// history just loaded and moved, and a drift of the disk's latency falls on both.
void MeasureHot(Conn& c, const std::string& empty, const std::vector<std::string>& ids0,
                const std::string& full, const std::vector<std::string>& idsn, double seconds,
                std::mt19937_64& rng, HotRates& r0, HotRates& rn) {
    for (const std::string& t : {empty, full}) {
        c.prepare("read_" + t, "SELECT count(*) FROM rillflow.read_stream($1::uuid)");
        c.prepare("append_" + t, "SELECT rillflow.append_event($1::uuid, 'Hot', '{}')");
    }
    c.exec("CHECKPOINT");
    std::vector<double> reads0, readsn, appends0, appendsn;
    auto on = [&](const std::string& t) { c.exec("SET rillflow.tenant = '" + t + "'"); };
    on(empty);
    (void)CallRate(c, "read_" + empty, ids0, seconds / 3, rng);  // warm up
    on(full);
    (void)CallRate(c, "read_" + full, idsn, seconds / 3, rng);
    for (int round = 0; round < 3; ++round) {
        on(empty);
        reads0.push_back(CallRate(c, "read_" + empty, ids0, seconds, rng));
        on(full);
        readsn.push_back(CallRate(c, "read_" + full, idsn, seconds, rng));
        on(empty);
        appends0.push_back(CallRate(c, "append_" + empty, ids0, seconds, rng));
        on(full);
        appendsn.push_back(CallRate(c, "append_" + full, idsn, seconds, rng));
    }
    r0 = {Median(reads0), Median(appends0)};
    rn = {Median(readsn), Median(appendsn)};
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--archived") && i + 1 < argc)
            o.archived = std::atol(argv[++i]);
        else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc)
            o.seconds = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc)
            o.batch = std::atoi(argv[++i]);
        else
            Usage(argv[0], "[--archived N] [--seconds S] [--batch STREAMS]");
    }
    const std::string url = DatabaseUrl();
    Conn c(url);
    std::mt19937_64 rng(42);
    c.exec("SET client_min_messages = warning");

    std::printf(
        "archived events: %ld (%d per stream), hot streams: %d x %d events, move batch: %d "
        "streams\n\n",
        o.archived, kEventsPerStream, kHotStreams, kHotEvents, o.batch);
    std::printf("%-12s %-34s %14s %14s %7s\n", "backend", "measure", "rillflow", "baseline",
                "ratio");
    for (const char* backend : {"dual_table", "partitioned"}) {
        const std::string short_name = std::strcmp(backend, "partitioned") == 0 ? "part" : "dual";
        const std::string empty = "bench_arch_" + short_name + "_0";
        const std::string full = "bench_arch_" + short_name + "_n";
        for (const std::string& t : {empty, full}) {
            c.exec("RESET rillflow.tenant");
            c.exec("SELECT rillflow.drop_tenant('" + t +
                   "', force => true) FROM rillflow.tenants WHERE name = '" + t + "'");
            c.exec("SELECT rillflow.ensure_tenant('" + t + "')");
            c.exec("SET rillflow.tenant = '" + t + "'");
            c.exec(std::string("SELECT rillflow.set_archive_backend('") + backend + "')");
        }

        // the store with history: load it, then archive it all, timed
        c.exec("SET rillflow.tenant = '" + full + "'");
        LoadHistory(c, o.archived);
        c.exec("VACUUM ANALYZE " + Store(full) + ".events");
        // the baseline's two plain tables, with the same rows, shape and indexes
        c.exec("DROP SCHEMA IF EXISTS bench_move CASCADE");
        c.exec("CREATE SCHEMA bench_move");
        // like the hot table itself: on partitioned, the parent has no indexes of its own
        const std::string hot_table =
            Store(full) + (short_name == "part" ? ".events_hot" : ".events");
        c.exec("CREATE TABLE bench_move.hot (LIKE " + hot_table +
               " INCLUDING DEFAULTS INCLUDING INDEXES)");
        c.exec("CREATE TABLE bench_move.cold (LIKE " + hot_table +
               " INCLUDING DEFAULTS INCLUDING INDEXES)");
        c.exec("INSERT INTO bench_move.hot SELECT * FROM " + Store(full) + ".events");
        c.exec(
            "CREATE TABLE bench_move.streams AS SELECT stream_id, row_number() OVER (ORDER BY "
            "updated_at, stream_id) AS n FROM " +
            Store(full) + ".streams");
        c.exec("VACUUM ANALYZE bench_move.hot");

        // each move starts from a clean checkpoint, so neither writes out the other's (or the
        // load's) dirty pages while it is timed
        c.exec("CHECKPOINT");
        const auto move_start = Clock::now();
        long moved_streams = 0;
        for (;;) {
            auto r = c.exec("SELECT rillflow.archive_streams('0 seconds', " +
                            std::to_string(o.batch) + ")");
            const long n = Int(r);
            if (n == 0) break;
            moved_streams += n;
        }
        const double rf_move = o.archived / Seconds(Clock::now() - move_start);

        const long batches = (moved_streams + o.batch - 1) / o.batch;
        c.exec("CHECKPOINT");
        const auto base_start = Clock::now();
        for (long b = 0; b < batches; ++b) {
            c.exec("WITH ids AS (SELECT array_agg(stream_id) a FROM bench_move.streams WHERE n > " +
                   std::to_string(b * o.batch) + " AND n <= " + std::to_string((b + 1) * o.batch) +
                   "), moved AS (DELETE FROM bench_move.hot h USING ids WHERE h.stream_id = ANY "
                   "(ids.a) RETURNING h.*) "
                   "INSERT INTO bench_move.cold SELECT * FROM moved");
        }
        const double base_move = o.archived / Seconds(Clock::now() - base_start);
        c.exec("DROP SCHEMA bench_move CASCADE");
        c.exec("VACUUM ANALYZE " + Store(full) + ".events");

        // the same hot streams in both stores
        c.exec("SET rillflow.tenant = '" + empty + "'");
        std::vector<std::string> hot0 = MakeHotStreams(c, empty, rng);
        c.exec("SET rillflow.tenant = '" + full + "'");
        std::vector<std::string> hotn = MakeHotStreams(c, full, rng);
        HotRates r0, rn;
        MeasureHot(c, empty, hot0, full, hotn, o.seconds, rng, r0, rn);

        std::printf("%-12s %-34s %14s %14s %6.2fx\n", backend,
                    "hot read_stream/s (N vs 0 archived)", Rate(rn.read).c_str(),
                    Rate(r0.read).c_str(), rn.read / r0.read);
        std::printf("%-12s %-34s %14s %14s %6.2fx\n", backend, "single appends/s (N vs 0 archived)",
                    Rate(rn.append).c_str(), Rate(r0.append).c_str(), rn.append / r0.append);
        std::printf("%-12s %-34s %14s %14s %6.2fx\n", backend, "events moved/s (vs DELETE..INSERT)",
                    Rate(rf_move).c_str(), Rate(base_move).c_str(), rf_move / base_move);
        std::fflush(stdout);
        for (const std::string& t : {empty, full}) {
            c.exec("RESET rillflow.tenant");
            c.exec("SELECT rillflow.drop_tenant('" + t + "', force => true)");
        }
    }
    return 0;
}
