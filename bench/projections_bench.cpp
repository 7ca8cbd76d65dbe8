// rillflow projection benchmarks (scripts/bench.sh, `make bench`), in one run, on a tenant
// store of their own so the global log holds only their events:
//
//   1. catch-up over N events (1,000,000 by default) with a handler that upserts one row per
//      event, (a) by the background worker (PL/pgSQL handler called per event; and (a') an
//      SQL batch handler doing the batch's upserts in one statement), (b) by the C++ daemon
//      (rillflow::ProjectionDaemon, the same upsert sent by the handler through its
//      Transaction; it runs for --daemon-seconds, 30 by default, and its seconds are
//      extrapolated to N from its rate), next to (c) the baseline: one set-based
//      INSERT ... SELECT ... ON CONFLICT over the same events doing the same upserts; (a),
//      (a') and (c) each the median of three rounds;
//   2. append-to-read-model latency under a steady 500 appends/s for 10 seconds: each event's
//      read-model row records clock_timestamp() when the handler applied it, and the latency is
//      that minus the event's created_at (the appending transaction's start), p50 and p99.
//
// Targets (issue 4): worker catch-up at least 0.3x the baseline's events/s; p50 under 10 ms,
// p99 under 50 ms.
//
//   rillflow_projections_bench [--events N] [--rate R] [--latency-seconds S] [--daemon-seconds S]

#include <libpq-fe.h>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "rillflow/rillflow.hpp"
#include "support.hpp"

namespace {

using namespace rillflow::bench;

const char* kTenant = "bench_projections";
const char* kStore = "rillflow_tenant_bench_projections";

struct Options {
    int64_t events = 1000000;
    int rate = 500;
    double latency_seconds = 10;
    double daemon_seconds = 30;
};

std::string ReadModelDdl(const std::string& table) {
    return "CREATE TABLE bench_rm." + table +
           " (event_id uuid PRIMARY KEY, stream_id uuid NOT NULL, version bigint NOT NULL, "
           "amount integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
           "created_at timestamptz)";
}

// A session on the benchmark's tenant store.
std::unique_ptr<Conn> TenantConn(const std::string& url) {
    auto c = std::make_unique<Conn>(url);
    c->exec(std::string("SET rillflow.tenant = '") + kTenant + "'");
    return c;
}

// Appends `n` events in calls of 1000 to 1000 streams; returns when all are sequenced.
void AppendEvents(Conn& c, int64_t n, std::mt19937_64& rng) {
    c.prepare("bulk", "SELECT rillflow.append_events($1::uuid, $2::jsonb)");
    std::vector<std::string> streams;
    for (int i = 0; i < 1000; i++) streams.push_back(RandomUuid(rng));
    int64_t done = 0;
    while (done < n) {
        int batch = static_cast<int>(std::min<int64_t>(1000, n - done));
        std::string events = "[";
        for (int i = 0; i < batch; i++)
            events += std::string(i ? "," : "") +
                      "{\"type\": \"Deposited\", \"body\": {\"amount\": " +
                      std::to_string((done + i) % 1000) + "}}";
        events += "]";
        c.run("bulk", {streams[(done / 1000) % streams.size()], events});
        done += batch;
    }
}

int64_t Head(Conn& c) { return Int(c.exec("SELECT rillflow.head_position()")); }

int64_t Checkpoint(Conn& c, const std::string& name) {
    return Int(c.exec("SELECT checkpoint FROM rillflow.projection_status('" + name + "')"));
}

// Waits (polling every 10 ms) until projection `name` has reached `head`.
double WaitCaughtUp(Conn& c, const std::string& name, int64_t head, double limit) {
    auto start = Clock::now();
    while (Checkpoint(c, name) < head) {
        if (Seconds(Clock::now() - start) > limit)
            throw std::runtime_error(name + " did not catch up within " + std::to_string(limit) +
                                     " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Seconds(Clock::now() - start);
}

// The C++ daemon's handler: the same upsert as the PL/pgSQL one, sent through the batch's
// transaction.
class UpsertHandler : public rillflow::ProjectionHandler {
  public:
    void apply(const rillflow::EventEnvelope& e, rillflow::Transaction& tx) override {
        tx.exec(
            "INSERT INTO bench_rm.daemon (event_id, stream_id, version, amount) "
            "VALUES ($1::uuid, $2::uuid, $3::bigint, $4::integer) "
            "ON CONFLICT (event_id) DO UPDATE SET amount = excluded.amount",
            {e.event_id.to_string(), e.stream_id.to_string(), e.version,
             e.body.at("amount").get<int>()});
    }
};

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 < argc && a == "--events")
            opt.events = std::max<int64_t>(1000, std::atoll(argv[++i]));
        else if (i + 1 < argc && a == "--rate")
            opt.rate = std::max(1, std::atoi(argv[++i]));
        else if (i + 1 < argc && a == "--daemon-seconds")
            opt.daemon_seconds = std::max(1.0, std::atof(argv[++i]));
        else if (i + 1 < argc && a == "--latency-seconds")
            opt.latency_seconds = std::max(1.0, std::atof(argv[++i]));
        else
            Usage(argv[0], "[--events N] [--rate R] [--latency-seconds S] [--daemon-seconds S]");
    }
    std::string url = DatabaseUrl();
    std::mt19937_64 rng(std::random_device{}());

    try {
        Conn admin(url);
        // A fresh tenant store: its global log holds only this run's events.
        admin.exec("SET client_min_messages = warning");
        admin.exec(std::string("DROP SCHEMA IF EXISTS ") + kStore + " CASCADE");
        admin.exec(std::string("DELETE FROM rillflow.tenants WHERE name = '") + kTenant + "'");
        admin.exec(std::string("SELECT rillflow.ensure_tenant('") + kTenant + "')");
        admin.exec("DROP SCHEMA IF EXISTS bench_rm CASCADE");
        admin.exec("CREATE SCHEMA bench_rm");
        for (const char* t : {"base", "worker", "batch", "daemon", "latency"})
            admin.exec(ReadModelDdl(t));
        admin.exec(R"(CREATE FUNCTION bench_rm.apply_worker(e rillflow.event_envelope)
            RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO bench_rm.worker (event_id, stream_id, version, amount)
                VALUES (e.event_id, e.stream_id, e.version, (e.body ->> 'amount')::integer)
                ON CONFLICT (event_id) DO UPDATE SET amount = excluded.amount;
            END $$)");
        // The same upserts, one statement per batch: a batch handler.
        admin.exec(R"(CREATE FUNCTION bench_rm.apply_batch(events rillflow.event_envelope[])
            RETURNS void LANGUAGE sql AS $$
                INSERT INTO bench_rm.batch (event_id, stream_id, version, amount)
                SELECT e.event_id, e.stream_id, e.version, (e.body ->> 'amount')::integer
                  FROM unnest(events) e
                ON CONFLICT (event_id) DO UPDATE SET amount = excluded.amount
            $$)");
        admin.exec(R"(CREATE FUNCTION bench_rm.apply_latency(e rillflow.event_envelope)
            RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO bench_rm.latency (event_id, stream_id, version, amount, created_at)
                VALUES (e.event_id, e.stream_id, e.version, (e.body ->> 'amount')::integer,
                        e.created_at)
                ON CONFLICT (event_id) DO UPDATE SET amount = excluded.amount;
            END $$)");
        bool worker = Int(admin.exec("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE backend_type = 'rillflow worker' AND datname = "
                                     "current_database()")) > 0;
        auto tc = TenantConn(url);
        Conn& t = *tc;

        std::fprintf(stderr, "projections: appending %" PRId64 " events\n", opt.events);
        int64_t start_head = Head(t);
        AppendEvents(t, opt.events, rng);
        int64_t head = Head(t);
        while (head < start_head + opt.events) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            head = Head(t);
        }
        t.exec(std::string("VACUUM ANALYZE ") + kStore + ".events");
        t.exec(std::string("VACUUM ANALYZE ") + kStore + ".log_segments");
        int64_t n = head - start_head;

        // Each catch-up below runs three rounds, each from an empty read model and a fresh
        // checkpoint (so no round writes out the dirty pages of the one before), and counts its
        // median: a single round of 100,000 events lasts under a second, and one slow WAL flush
        // or checkpoint moved a single round's ratio by a tenth.
        constexpr int kRounds = 3;
        auto fresh_round = [&](const std::string& table) {
            t.exec("TRUNCATE bench_rm." + table);
            t.exec("CHECKPOINT");
        };
        auto check_rows = [&](const std::string& name, const std::string& table) {
            int64_t rows = Int(t.exec("SELECT count(*) FROM bench_rm." + table));
            if (rows != n)
                throw std::runtime_error(name + ": read model has " + std::to_string(rows) +
                                         " rows, expected " + std::to_string(n));
        };

        // (c) the baseline: the same upserts, set-based, straight from the store's tables.
        std::fprintf(stderr, "projections: baseline\n");
        std::vector<double> bases;
        for (int round = 0; round < kRounds; ++round) {
            fresh_round("base");
            auto t0 = Clock::now();
            t.exec(std::string("INSERT INTO bench_rm.base (event_id, stream_id, version, amount) "
                               "SELECT e.event_id, e.stream_id, e.version, "
                               "(e.body ->> 'amount')::integer FROM ") +
                   kStore +
                   ".log_segments g CROSS JOIN LATERAL unnest(g.seqs) WITH ORDINALITY u(seq, o) "
                   "JOIN " +
                   kStore +
                   ".events e ON e.seq = u.seq WHERE g.last_position - cardinality(g.seqs) + u.o "
                   "> " +
                   std::to_string(start_head) + " AND g.last_position > " +
                   std::to_string(start_head) +
                   " ORDER BY g.last_position, u.o "
                   "ON CONFLICT (event_id) DO UPDATE SET amount = excluded.amount");
            bases.push_back(Seconds(Clock::now() - t0));
            check_rows("baseline", "base");
        }
        double base = Median(bases);

        // (a) the worker (or, with none running, the same runtime called in the foreground),
        // with a per-event PL/pgSQL handler and with a batch handler.
        auto catch_up = [&](const std::string& name, const std::string& handler,
                            const std::string& table) {
            std::fprintf(stderr, "projections: %s catch-up\n", name.c_str());
            std::vector<double> rounds;
            for (int round = 0; round < kRounds; ++round) {
                fresh_round(table);
                auto t0 = Clock::now();
                t.exec("SELECT rillflow.create_projection('" + name + "', '" + handler +
                       "'::regprocedure, NULL, 1000, " + std::to_string(start_head) + ")");
                if (worker) {
                    rounds.push_back(WaitCaughtUp(t, name, head, 3600));
                } else {
                    t.exec("SELECT rillflow.run_projections_until_idle('" + name + "')");
                    rounds.push_back(Seconds(Clock::now() - t0));
                }
                check_rows(name, table);
                t.exec("SELECT rillflow.drop_projection('" + name + "')");
            }
            return Median(rounds);
        };
        double wsecs =
            catch_up("bench_worker", "bench_rm.apply_worker(rillflow.event_envelope)", "worker");
        double bsecs =
            catch_up("bench_batch", "bench_rm.apply_batch(rillflow.event_envelope[])", "batch");

        // (b) the C++ daemon.
        std::fprintf(stderr, "projections: daemon catch-up\n");
        auto store = rillflow::Store::builder(url).tenant(kTenant).max_connections(2).build();
        auto handler = std::make_shared<UpsertHandler>();
        auto daemon = rillflow::ProjectionDaemon::builder(store)
                          .batch_size(1000)
                          .register_handler("bench_daemon", handler)
                          .build();
        // The daemon sends each event's upsert from the client (a savepoint and a statement per
        // event), so it runs for at most --daemon-seconds and its rate is what it applied.
        auto t0 = Clock::now();
        int64_t dapplied = 0;
        while (Seconds(Clock::now() - t0) < opt.daemon_seconds) {
            auto r = daemon.tick_once("bench_daemon");
            if (r.applied == 0) break;
            dapplied += r.applied;
        }
        double dsecs = Seconds(Clock::now() - t0);
        int64_t drows = Int(t.exec("SELECT count(*) FROM bench_rm.daemon"));
        if (drows != dapplied)
            throw std::runtime_error("daemon read model has " + std::to_string(drows) +
                                     " rows, the daemon applied " + std::to_string(dapplied));

        // 2. latency under a steady load.
        std::fprintf(stderr, "projections: latency at %d appends/s\n", opt.rate);
        int64_t lat_from = Head(t);
        t.exec(
            "SELECT rillflow.create_projection('bench_latency', "
            "'bench_rm.apply_latency(rillflow.event_envelope)'::regprocedure, NULL, 500, " +
            std::to_string(lat_from) + ")");
        int64_t appended = 0;
        {
            auto ac = TenantConn(url);
            ac->prepare("one", "SELECT rillflow.append_event($1::uuid, 'Deposited', $2::jsonb)");
            auto begin = Clock::now();
            auto period = std::chrono::duration<double>(1.0 / opt.rate);
            while (Seconds(Clock::now() - begin) < opt.latency_seconds) {
                auto due = begin + std::chrono::duration_cast<Clock::duration>(period * appended);
                std::this_thread::sleep_until(due);
                if (!worker) throw std::runtime_error("no background worker: latency needs one");
                ac->run("one", {RandomUuid(rng), "{\"amount\": 1}"});
                appended++;
            }
        }
        double achieved = appended / opt.latency_seconds;
        WaitCaughtUp(t, "bench_latency", Head(t), 120);
        auto r = t.exec(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY d), max(d), count(*) FROM "
            "(SELECT extract(epoch FROM applied_at - created_at) * 1000 AS d "
            "FROM bench_rm.latency) x");
        double p50 = std::atof(PQgetvalue(r.get(), 0, 0)),
               p99 = std::atof(PQgetvalue(r.get(), 0, 1)),
               pmax = std::atof(PQgetvalue(r.get(), 0, 2));
        t.exec("SELECT rillflow.drop_projection('bench_latency')");

        std::printf("rillflow projection benchmark: %" PRId64 " events, upsert per event\n\n", n);
        std::printf("%-44s %10s %12s %8s\n", "catch-up", "seconds", "events/s", "ratio");
        std::printf("%-44s %10.2f %12.0f %8s\n", "(c) baseline: INSERT ... SELECT ... ON CONFLICT",
                    base, n / base, "1.00x");
        std::printf("%-44s %10.2f %12.0f %7.2fx  %s\n",
                    worker ? "(a) background worker, PL/pgSQL handler"
                           : "(a) run_projections_until_idle (no worker)",
                    wsecs, n / wsecs, base / wsecs,
                    base / wsecs >= 0.3 ? "target (0.3x) met" : "MISS (target 0.3x)");
        std::printf("%-44s %10.2f %12.0f %7.2fx  %s\n",
                    worker ? "(a') background worker, batch handler (SQL)"
                           : "(a') run_projections_until_idle, batch handler",
                    bsecs, n / bsecs, base / bsecs,
                    base / bsecs >= 0.8 ? "target (0.8x) met" : "MISS (target 0.8x)");
        std::printf("%-44s %10.2f %12.0f %7.2fx  (%" PRId64 " events in %.0f s)\n",
                    "(b) C++ daemon, handler via libpq", dsecs * n / std::max<int64_t>(dapplied, 1),
                    dapplied / dsecs, (dapplied / dsecs) / (n / base), dapplied, dsecs);
        std::printf("\nappend-to-read-model latency at %.0f appends/s for %.0f s (%" PRId64
                    " events):\n  p50 %.1f ms (%s), p99 %.1f ms (%s), max %.1f ms\n",
                    achieved, opt.latency_seconds, appended, p50, p50 < 10 ? "target met" : "MISS",
                    p99, p99 < 50 ? "target met" : "MISS", pmax);
        admin.exec("DROP SCHEMA bench_rm CASCADE");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench failed: %s\n", e.what());
        return 1;
    }
    return 0;
}
