// bench/evolution_bench.cpp: event evolution's costs, run by scripts/bench.sh (`make bench`).
//
//   1. Loading an SQL aggregate of a 10,000-event stream from a snapshot 100 events behind its
//      head (what the snapshotter at its default threshold leaves at worst: under 200) next to
//      folding all 10,000 events. Target: at least 20x faster.
//   2. Reading 100,000 events with read_all (pages of 10,000, received by this client), half of
//      them through a two-step PL/pgSQL upcasting chain, next to reading them raw. Target: at
//      least 0.5x of raw. The same pages counted inside the server are printed beside it.
//   3. The snapshotter's throughput: streams and events folded per second by run_snapshotter
//      (threshold 200, batch 200) over 400 streams of 250 events.
//
// Each measure is the median of several runs, in a tenant store of its own.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

using namespace rillflow::bench;

namespace {

void Setup(Conn& c, const std::string& tenant) {
    c.exec("SELECT rillflow.ensure_tenant('" + tenant + "')");
    c.exec("SET rillflow.tenant = '" + tenant + "'");
}

double Time(Conn& c, const std::string& sql, int runs) {
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        const auto start = Clock::now();
        c.exec(sql);
        t.push_back(Seconds(Clock::now() - start));
    }
    return Median(t);
}

void Snapshots(Conn& c) {
    Setup(c, "bench_evo_snap");
    c.exec(
        "CREATE OR REPLACE FUNCTION public.bench_account(s jsonb, e rillflow.event_envelope) "
        "RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN RETURN jsonb_build_object('balance', "
        "(s->>'balance')::bigint + (e.body->>'amount')::bigint, 'n', (s->>'n')::bigint + 1); "
        "END $$");
    c.exec(
        "SELECT rillflow.create_aggregate('account', "
        "'public.bench_account(jsonb,rillflow.event_envelope)', '{\"balance\": 0, \"n\": 0}')");
    const std::string id = "'eeeeeeee-0000-0000-0000-000000000001'";
    for (int k = 0; k < 10; ++k) {
        c.exec("SELECT rillflow.append_events(" + id +
               ", (SELECT jsonb_agg(jsonb_build_object('type', 'Deposited', 'body', "
               "jsonb_build_object('amount', i))) FROM generate_series(1, 1000) i))");
    }
    c.exec("VACUUM ANALYZE rillflow_tenant_bench_evo_snap.events");
    const std::string load = "SELECT * FROM rillflow.aggregate_load('account', " + id + ")";
    const double full = Time(c, load, 5);
    c.exec("SELECT rillflow.snapshot_save(" + id +
           ", 'account', 9900, (SELECT state FROM rillflow.aggregate_load('account', " + id +
           ")))");
    // the snapshot claims 9,900 with the state at 10,000: only the timing matters here
    const double snap = Time(c, load, 20);
    std::printf("%-58s %12s %12s %8.1fx  (target >= 20x)\n",
                "aggregate_load, 10,000 events: snapshot 100 behind / none",
                (Rate(1.0 / snap) + "/s").c_str(), (Rate(1.0 / full) + "/s").c_str(), full / snap);
    std::printf("%-58s %9.2f ms %9.2f ms\n", "  (time per load: with snapshot, without)",
                snap * 1000, full * 1000);
}

void Upcasting(Conn& c) {
    Setup(c, "bench_evo_up");
    c.exec(
        "CREATE OR REPLACE FUNCTION public.bench_up1(b jsonb) RETURNS jsonb LANGUAGE plpgsql "
        "IMMUTABLE AS $$ BEGIN RETURN (b - 'amount') || jsonb_build_object('total', b->'amount'); "
        "END $$");
    c.exec(
        "CREATE OR REPLACE FUNCTION public.bench_up2(b jsonb) RETURNS jsonb LANGUAGE plpgsql "
        "IMMUTABLE AS $$ BEGIN RETURN b || '{\"currency\": \"EUR\"}'; END $$");
    c.exec("SELECT rillflow.register_upcaster('Placed', 1, 2, 'public.bench_up1(jsonb)')");
    c.exec("SELECT rillflow.register_upcaster('Placed', 2, 3, 'public.bench_up2(jsonb)')");
    // 100,000 events in 1,000 streams: every other one a v1 Placed (upcast twice), the rest
    // of a type with no upcaster
    for (int k = 0; k < 100; ++k) {
        c.exec(
            "SELECT count(rillflow.append_events(gen_random_uuid(), x.events)) FROM (SELECT "
            "(SELECT jsonb_agg(jsonb_build_object('type', CASE WHEN i % 2 = 0 THEN 'Placed' "
            "ELSE 'Shipped' END, 'body', jsonb_build_object('amount', i, 'sku', 'abc-' || i))) "
            "FROM generate_series(1, 100) i) AS events FROM generate_series(1, 10) s) x");
    }
    c.exec("SELECT rillflow.run_sequencer()");
    c.exec(
        "VACUUM ANALYZE rillflow_tenant_bench_evo_up.events, "
        "rillflow_tenant_bench_evo_up.log_segments");
    // A reader's read: the pages come to this client as rows (every value produced as text and
    // sent), as any client language gets them before its own parsing.
    c.prepare("evo_page", "SELECT * FROM rillflow.read_all($1::bigint, 10000, raw => $2::boolean)");
    auto read = [&](bool raw) {
        const auto start = Clock::now();
        int64_t after = 0, total = 0;
        size_t bytes = 0;
        for (;;) {
            auto r = c.run("evo_page", {std::to_string(after), raw ? "true" : "false"});
            const int rows = PQntuples(r.get());
            if (rows == 0) break;
            const int cols = PQnfields(r.get());
            for (int i = 0; i < rows; ++i)
                for (int j = 0; j < cols; ++j) bytes += PQgetlength(r.get(), i, j);
            after = Int(r, rows - 1, PQfnumber(r.get(), "position"));
            total += rows;
        }
        if (total != 100000 || bytes == 0)
            throw std::runtime_error("read " + std::to_string(total) + " events");
        return Seconds(Clock::now() - start);
    };
    // The same pages counted inside the server: no value is produced as text or sent, so this
    // weighs the upcasters against the bare row machinery (printed for comparison).
    auto count = [&](bool raw) {
        std::string sql =
            "DO $$ DECLARE after bigint := 0; n bigint; last bigint; total bigint := 0; BEGIN "
            "LOOP SELECT count(*), max(position) INTO n, last FROM rillflow.read_all(after, "
            "10000, raw => " +
            std::string(raw ? "true" : "false") +
            "); EXIT WHEN n = 0; total := total + n; after := last; END LOOP; "
            "IF total <> 100000 THEN RAISE EXCEPTION 'read %', total; END IF; END $$";
        return Time(c, sql, 1);
    };
    // interleaved, so that load from other work on the machine falls on both alike
    std::vector<double> raws, upcasts, raw_counts, upcast_counts;
    read(false);  // the chains are resolved once per backend
    for (int i = 0; i < 7; ++i) {
        raws.push_back(read(true));
        upcasts.push_back(read(false));
        raw_counts.push_back(count(true));
        upcast_counts.push_back(count(false));
    }
    auto print = [](const char* what, const std::vector<double>& up, const std::vector<double>& rw,
                    const char* target) {
        const double raw = Median(rw);
        const double upcast = Median(up);
        std::printf("%-58s %12s %12s %8.2fx%s\n", what, (Rate(100000 / upcast) + "/s").c_str(),
                    (Rate(100000 / raw) + "/s").c_str(), raw / upcast, target);
    };
    print("read_all 100,000 events, half via a 2-step chain / raw", upcasts, raws,
          "  (target >= 0.5x)");
    print("  (counted in the server, no row sent)", upcast_counts, raw_counts, "");
}

void Snapshotter(Conn& c) {
    Setup(c, "bench_evo_snapper");
    c.exec(
        "CREATE OR REPLACE FUNCTION public.bench_count(s jsonb, e rillflow.event_envelope) "
        "RETURNS jsonb LANGUAGE sql IMMUTABLE AS "
        "$$ SELECT jsonb_build_object('n', (s->>'n')::bigint + 1) $$");
    c.exec(
        "SELECT rillflow.create_aggregate('counter', "
        "'public.bench_count(jsonb,rillflow.event_envelope)', '{\"n\": 0}')");
    c.exec(
        "SELECT count(*) FROM generate_series(1, 400) s, LATERAL rillflow.aggregate_commit("
        "'counter', ('ffffffff-0000-0000-0000-' || lpad(s::text, 12, '0'))::uuid, "
        "(SELECT jsonb_agg(jsonb_build_object('type', 'A', 'body', '{}'::jsonb)) FROM "
        "generate_series(1, 250)))");
    const auto start = Clock::now();
    int64_t streams = 0;
    for (;;) {
        const int64_t n = Int(c.exec("SELECT rillflow.run_snapshotter(200, 200)"));
        if (n == 0) break;
        streams += n;
    }
    const double t = Seconds(Clock::now() - start);
    std::printf("%-58s %12s %12s\n", "run_snapshotter: streams/s, events folded/s (250 each)",
                (Rate(streams / t) + "/s").c_str(), (Rate(streams * 250 / t) + "/s").c_str());
}

}  // namespace

int main() {
    Conn c(DatabaseUrl());
    std::printf("%-58s %12s %12s %9s\n", "", "rillflow", "baseline", "ratio");
    Snapshots(c);
    Upcasting(c);
    Snapshotter(c);
    return 0;
}
