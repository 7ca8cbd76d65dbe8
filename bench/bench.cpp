// rillflow benchmarks: events per second through the SQL API against the same work done
// with plain SQL on a plain table, in one run (scripts/bench.sh, `make bench`).
//
//   1. single-event appends, 4 connections, each with its own streams, optimistic
//      concurrency (the exact expected version on every call);
//   2. batched appends of 100 events per call, same set-up;
//   3. paging through ~200k events of the global log, 1000 per page.
//
// The baseline table is a copy of the store's events table (CREATE TABLE ... LIKE
// rillflow_default.events INCLUDING ALL: the same columns, defaults, checks and indexes)
// with its own sequence, plus a copy of the streams table. Every baseline event gets a
// time-ordered id (UUID version 7) from the client, like the ids the store gives events that
// arrive without one, so both event-id indexes grow at their right edge. Two baselines for appends:
//
//   "INSERT + stream row": one statement that moves the stream row to the next version if
//       it is at the expected one and inserts the event(s) only if it did, which is what a
//       hand-written event store with a streams table and optimistic concurrency does;
//   "INSERT only": the events alone, with the version computed by the client; the unique
//       (stream_id, version) index is the only concurrency check.
//
// rillflow's figures include sequencing: the background worker (or, while the extension
// has none, one more connection running rillflow.run_sequencer() in a loop, as the worker
// would) sequences the events while they are appended, and the run ends when every event
// has its position in the global log (rillflow.head_position() reaches the count). The
// "appends alone" figure stops the clock when the appends return. Everything goes through
// libpq prepared statements, text format, on both sides. Each figure is the median of
// several rounds (the order of the sides alternating), reads the best of three passes.
//
//   rillflow_bench [--seconds S] [--rounds N] [--connections N] [--read-events N]
//                  [--sequence-after]   (no sequencer loop: sequence after each run)

#include <libpq-fe.h>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace rillflow::bench;

// The same ~120-byte body everywhere, with a counter so rows differ.
std::string Body(int64_t n) {
    return "{\"order_id\": " + std::to_string(n) +
           ", \"sku\": \"SKU-000123\", \"quantity\": 3, \"price_cents\": 1999, "
           "\"note\": \"benchmark event\"}";
}

struct Options {
    double seconds = 4;  // per variant and round
    int rounds = 3;
    // Without a background worker: sequence during the appends (loop) or only after each
    // run (after; shows what the appends cost alone).
    bool sequence_after = false;
    int connections = 4;
    int64_t read_events = 200000;
    int streams_per_connection = 100;
};

// ---------------------------------------------------------------------------
// Append workloads. Each variant owns its streams (per connection) and their versions, so
// its later rounds continue where the earlier ones stopped.

struct Variant {
    std::string name;
    bool rillflow;
    bool pgq = false;
    // Called once per connection: prepares statements.
    std::function<void(Conn&)> prepare;
    // One call: appends `n` events to `stream` at `version` (0: new); returns events written.
    std::function<int64_t(Conn&, const std::string& stream, int64_t version, int n, int64_t seq)>
        append;
    std::vector<std::vector<std::string>> streams;  // [connection][i]
    std::vector<std::vector<int64_t>> versions;
    int64_t events = 0;
    double seconds = 0;               // appending
    double seq_seconds = 0;           // waiting for the sequencer afterwards (rillflow only)
    std::vector<double> rates;        // per round: events / (appending + sequencing)
    std::vector<double> alone_rates;  // per round: events / appending
};

// Runs `v` for `seconds` on `opt.connections` connections with `batch` events per call.
void RunAppends(const std::string& url, Variant& v, const Options& opt, int batch,
                std::mt19937_64& rng) {
    int nconn = opt.connections;
    if (v.streams.empty()) {
        v.streams.resize(nconn);
        v.versions.resize(nconn);
        for (int c = 0; c < nconn; c++)
            for (int i = 0; i < opt.streams_per_connection; i++) {
                v.streams[c].push_back(RandomUuid(rng));
                v.versions[c].push_back(0);
            }
    }
    std::vector<std::unique_ptr<Conn>> conns;
    for (int c = 0; c < nconn; c++) {
        conns.push_back(std::make_unique<Conn>(url));
        v.prepare(*conns.back());
    }
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<int64_t> counts(nconn, 0);
    std::vector<std::string> errors(nconn);
    Clock::time_point start, stop;
    std::vector<std::thread> threads;
    for (int c = 0; c < nconn; c++) {
        threads.emplace_back([&, c] {
            ready++;
            while (!go.load()) std::this_thread::yield();
            try {
                size_t i = 0;
                int64_t seq = 0;
                auto& streams = v.streams[c];
                auto& versions = v.versions[c];
                while (Clock::now() < stop) {
                    size_t k = i++ % streams.size();
                    int64_t wrote = v.append(*conns[c], streams[k], versions[k], batch, seq);
                    if (wrote != batch) throw std::runtime_error("append wrote no rows");
                    versions[k] += batch;
                    seq += batch;
                    counts[c] += batch;
                }
            } catch (const std::exception& e) {
                errors[c] = e.what();
            }
        });
    }
    while (ready.load() < nconn) std::this_thread::yield();
    start = Clock::now();
    stop = start +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.seconds));
    go = true;
    for (auto& t : threads) t.join();
    double elapsed = Seconds(Clock::now() - start);
    for (auto& e : errors)
        if (!e.empty()) throw std::runtime_error(v.name + ": " + e);
    int64_t n = 0;
    for (auto x : counts) n += x;
    v.events += n;
    v.seconds += elapsed;
}

// Waits until the store's global log holds `expected` events; returns the seconds it took.
double WaitForSequencer(Conn& conn, int64_t expected) {
    auto start = Clock::now();
    for (;;) {
        int64_t head = Int(conn.exec("SELECT rillflow.head_position()"));
        if (head >= expected) break;
        if (Seconds(Clock::now() - start) > 120)
            throw std::runtime_error("the sequencer did not catch up within 120 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Seconds(Clock::now() - start);
}

// --- the statements ---------------------------------------------------------

const char* kSchema = "bench_baseline";

// The tables the appends write, both sides.
const char* kTables[] = {"bench_baseline.events",         "bench_baseline.streams",
                         "rillflow_default.events",       "rillflow_default.streams",
                         "rillflow_default.log_segments", "rillflow_default.log_state"};

// Baseline VALUES rows for `batch` events: ($3, $4), ($5, $6), ... as (n, type, body).
std::string ValuesRows(int batch, int first_param) {
    std::string s;
    for (int i = 0; i < batch; i++) {
        int p = first_param + 3 * i;
        if (i) s += ", ";
        s += "(" + std::to_string(i + 1) + ", $" + std::to_string(p) + ", $" +
             std::to_string(p + 1) + ", $" + std::to_string(p + 2) + ")";
    }
    return s;
}

// The parameters after the stream and version: each event's type, body and id.
void PushEvents(std::vector<std::string>& p, int n, int64_t seq) {
    for (int i = 0; i < n; i++) {
        p.push_back("OrderPlaced");
        p.push_back(Body(seq + i));
        p.push_back(TimeOrderedUuid());
    }
}

Variant RillflowVariant(int batch) {
    Variant v;
    v.name = "rillflow";
    v.rillflow = true;
    v.prepare = [batch](Conn& c) {
        if (batch == 1)
            c.prepare("append",
                      "SELECT rillflow.append_event($1::uuid, $2, $3::jsonb, $4::bigint)");
        else
            c.prepare("append", "SELECT rillflow.append_events($1::uuid, $2::jsonb, $3::bigint)");
    };
    v.append = [](Conn& c, const std::string& stream, int64_t version, int n, int64_t seq) {
        int64_t got;
        if (n == 1) {
            got = Int(c.run("append", {stream, "OrderPlaced", Body(seq), std::to_string(version)}));
        } else {
            std::string events = "[";
            for (int i = 0; i < n; i++) {
                if (i) events += ", ";
                events += "{\"type\": \"OrderPlaced\", \"body\": " + Body(seq + i) + "}";
            }
            events += "]";
            got = Int(c.run("append", {stream, events, std::to_string(version)}));
        }
        return got == version + n ? int64_t(n) : int64_t(0);
    };
    return v;
}

// INSERT + stream row, in one statement: the stream row moves to the next version only if
// it is at the expected one (or is created, for a new stream), and the events are inserted
// only if it did.
Variant BaselineOccVariant(int batch) {
    Variant v;
    v.name = "INSERT + stream row";
    v.rillflow = false;
    std::string insert = std::string("INSERT INTO ") + kSchema +
                         ".events (stream_id, version, type, body, event_id) "
                         "SELECT $1::uuid, s.base + v.n, v.type, v.body::jsonb, v.event_id::uuid "
                         "FROM s, (VALUES " +
                         ValuesRows(batch, 3) + ") AS v(n, type, body, event_id)";
    std::string n = std::to_string(batch);
    std::string create = std::string("WITH s AS (INSERT INTO ") + kSchema +
                         ".streams (stream_id, version) VALUES ($1::uuid, " + n +
                         ") ON CONFLICT (stream_id) DO NOTHING RETURNING version - " + n +
                         " AS base, $2::bigint AS expected) " + insert;
    std::string update = std::string("WITH s AS (UPDATE ") + kSchema +
                         ".streams SET version = version + " + n +
                         ", updated_at = now() WHERE stream_id = $1::uuid AND version = $2::bigint "
                         "RETURNING version - " +
                         n + " AS base) " + insert;
    v.prepare = [create, update](Conn& c) {
        c.prepare("create", create);
        c.prepare("update", update);
    };
    v.append = [](Conn& c, const std::string& stream, int64_t version, int n, int64_t seq) {
        std::vector<std::string> p{stream, std::to_string(version)};
        PushEvents(p, n, seq);
        auto r = c.run(version == 0 ? "create" : "update", p);
        return std::strtoll(PQcmdTuples(r.get()), nullptr, 10);
    };
    return v;
}

// INSERT only: the client computes the versions; (stream_id, version) is unique.
Variant BaselineInsertVariant(int batch) {
    Variant v;
    v.name = "INSERT only";
    v.rillflow = false;
    std::string sql = std::string("INSERT INTO ") + kSchema +
                      ".events (stream_id, version, type, body, event_id) VALUES ";
    for (int i = 0; i < batch; i++) {
        if (i) sql += ", ";
        int p = 3 + 3 * i;
        sql += "($1::uuid, $2::bigint + " + std::to_string(i + 1) + ", $" + std::to_string(p) +
               ", $" + std::to_string(p + 1) + "::jsonb, $" + std::to_string(p + 2) + "::uuid)";
    }
    v.prepare = [sql](Conn& c) { c.prepare("insert", sql); };
    v.append = [](Conn& c, const std::string& stream, int64_t version, int n, int64_t seq) {
        std::vector<std::string> p{stream, std::to_string(version)};
        PushEvents(p, n, seq);
        auto r = c.run("insert", p);
        return std::strtoll(PQcmdTuples(r.get()), nullptr, 10);
    };
    return v;
}

// PgQ's insert_event (Debian's postgresql-15-pgq3, when installed): one event into a queue,
// no stream and no version check; a ticker connection runs pgq.ticker() every 100 ms meanwhile,
// as pgqd would (ticks make PgQ's batches; they cost it nothing per event).
Variant PgqVariant() {
    Variant v;
    v.name = "PgQ insert_event";
    v.rillflow = false;
    v.pgq = true;
    v.prepare = [](Conn& c) {
        c.prepare("insert", "SELECT pgq.insert_event('bench_queue', $1, $2)");
    };
    v.append = [](Conn& c, const std::string&, int64_t, int n, int64_t seq) {
        for (int i = 0; i < n; i++) c.run("insert", {"OrderPlaced", Body(seq + i)});
        return int64_t(n);
    };
    return v;
}

// pgq.ticker() every 100 ms while PgQ's inserts run.
class PgqTicker {
  public:
    explicit PgqTicker(const std::string& url) : conn_(url) {
        thread_ = std::thread([this] {
            try {
                while (!stop_.load()) {
                    conn_.exec("SELECT pgq.ticker()");
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "pgq ticker failed: %s\n", e.what());
            }
        });
    }
    PgqTicker(const PgqTicker&) = delete;
    PgqTicker& operator=(const PgqTicker&) = delete;
    ~PgqTicker() {
        stop_ = true;
        thread_.join();
    }

  private:
    Conn conn_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

struct Row {
    std::string workload;
    std::string baseline;
    double rillflow_rate;  // appends: including the wait for the sequencer
    double baseline_rate;
    double appends_rate;  // appends alone (0 for reads)
};

// Stands in for the background worker while it runs: one more connection that runs the
// sequencer in a loop, as the worker does when appends wake it, and 1 ms apart while there
// is nothing to sequence.
class SequencerLoop {
  public:
    explicit SequencerLoop(const std::string& url) : conn_(url) {
        thread_ = std::thread([this] {
            try {
                while (!stop_.load())
                    if (Int(conn_.exec("SELECT rillflow.run_sequencer()")) == 0)
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
            } catch (const std::exception& e) {
                error_ = e.what();
            }
        });
    }
    SequencerLoop(const SequencerLoop&) = delete;
    SequencerLoop& operator=(const SequencerLoop&) = delete;
    ~SequencerLoop() {
        stop_ = true;
        thread_.join();
        if (!error_.empty()) std::fprintf(stderr, "sequencer loop failed: %s\n", error_.c_str());
    }

  private:
    Conn conn_;
    std::atomic<bool> stop_{false};
    std::string error_;
    std::thread thread_;
};

// Several rounds per variant, every other one in reverse order, so neither side always runs
// on the bigger tables; each side's figure is its median round, so one round disturbed by
// something else on the machine does not decide it. Without a background worker, `sequence` runs a
// SequencerLoop during rillflow's runs. Returns the variants: INSERT only, INSERT + stream row,
// rillflow, and PgQ's insert_event when `pgq`.
std::vector<Variant> AppendBenchmark(const std::string& url, const Options& opt, int batch,
                                     bool sequence, bool pgq, int64_t& log_events,
                                     std::mt19937_64& rng) {
    std::vector<Variant> vs{BaselineInsertVariant(batch), BaselineOccVariant(batch),
                            RillflowVariant(batch)};
    if (pgq) vs.push_back(PgqVariant());
    int nv = static_cast<int>(vs.size());
    Conn admin(url);
    for (int round = 0; round < opt.rounds; round++) {
        for (int k = 0; k < nv; k++) {
            Variant& v = vs[round % 2 == 0 ? k : nv - 1 - k];
            // Start each run from the same quiet state: tables vacuumed and analyzed (their
            // autovacuum is off, so it never runs in the middle of one side's run), no dirty
            // pages left from the previous run.
            for (const char* table : kTables) admin.exec(std::string("VACUUM ANALYZE ") + table);
            admin.exec("CHECKPOINT");
            int64_t events = v.events;
            double seconds = v.seconds, seq_seconds = v.seq_seconds;
            {
                std::unique_ptr<SequencerLoop> sequencer;
                std::unique_ptr<PgqTicker> ticker;
                if (v.rillflow && sequence) sequencer = std::make_unique<SequencerLoop>(url);
                if (v.pgq) ticker = std::make_unique<PgqTicker>(url);
                RunAppends(url, v, opt, batch, rng);
            }
            if (v.rillflow) {
                log_events += v.events - events;
                v.seq_seconds += WaitForSequencer(admin, log_events);
            }
            events = v.events - events;
            seconds = v.seconds - seconds;
            seq_seconds = v.seq_seconds - seq_seconds;
            v.rates.push_back(events / (seconds + seq_seconds));
            v.alone_rates.push_back(events / seconds);
            std::fprintf(stderr, "  round %d  %-20s %8" PRId64 " events in %5.2f s", round + 1,
                         v.name.c_str(), events, seconds);
            if (v.rillflow)
                std::fprintf(stderr, " + %.2f s sequencing: %8.0f ev/s\n", seq_seconds,
                             events / (seconds + seq_seconds));
            else
                std::fprintf(stderr, "%20s %8.0f ev/s\n", "", events / seconds);
        }
    }
    return vs;
}

// --- reads --------------------------------------------------------------------

// Pages through the first `n` events with `statement` ($1 = after, $2 = 1000); returns the
// seconds it took.
double ReadPass(Conn& c, const std::string& statement, int64_t n) {
    auto start = Clock::now();
    int64_t after = 0, read = 0;
    while (read < n) {
        auto r = c.run(statement, {std::to_string(after), "1000"});
        int rows = PQntuples(r.get());
        if (rows == 0)
            throw std::runtime_error(statement + ": the log ended at " + std::to_string(read));
        after = std::strtoll(PQgetvalue(r.get(), rows - 1, 0), nullptr, 10);
        read += rows;
    }
    return Seconds(Clock::now() - start);
}

void TopUp(const std::string& url, int64_t& log_events, int64_t want, std::mt19937_64& rng) {
    Conn c(url);
    // rillflow: batched appends to fresh streams.
    c.prepare("append", "SELECT rillflow.append_events($1::uuid, $2::jsonb)");
    std::string events = "[";
    for (int i = 0; i < 100; i++)
        events += std::string(i ? ", " : "") + "{\"type\": \"Filler\", \"body\": " + Body(i) + "}";
    events += "]";
    while (log_events < want) {
        c.run("append", {RandomUuid(rng), events});
        log_events += 100;
    }
    WaitForSequencer(c, log_events);
    int64_t base = Int(c.exec(std::string("SELECT count(*) FROM ") + kSchema + ".events"));
    if (base < want)
        c.exec(std::string("INSERT INTO ") + kSchema +
               ".events (stream_id, version, type, body, event_id) "
               "SELECT gen_random_uuid(), 1, 'Filler', '" +
               Body(0) +
               "', gen_random_uuid() "
               "FROM generate_series(1, " +
               std::to_string(want - base) + ")");
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 < argc && a == "--seconds")
            opt.seconds = std::atof(argv[++i]);
        else if (i + 1 < argc && a == "--rounds")
            opt.rounds = std::max(1, std::atoi(argv[++i]));
        else if (a == "--sequence-after")
            opt.sequence_after = true;
        else if (i + 1 < argc && a == "--connections")
            opt.connections = std::atoi(argv[++i]);
        else if (i + 1 < argc && a == "--read-events")
            opt.read_events = std::atoll(argv[++i]);
        else
            Usage(argv[0],
                  "[--seconds S] [--rounds N] [--connections N] [--read-events N] "
                  "[--sequence-after]");
    }
    std::string url = DatabaseUrl();
    std::mt19937_64 rng(std::random_device{}());

    try {
        Conn admin(url);
        // A fresh baseline: copies of the store's tables with everything they carry.
        admin.exec(std::string("DROP SCHEMA IF EXISTS ") + kSchema + " CASCADE");
        admin.exec(std::string("CREATE SCHEMA ") + kSchema);
        admin.exec(std::string("CREATE TABLE ") + kSchema +
                   ".events (LIKE rillflow_default.events INCLUDING ALL)");
        admin.exec(std::string("CREATE SEQUENCE ") + kSchema + ".events_seq OWNED BY " + kSchema +
                   ".events.seq");
        admin.exec(std::string("ALTER TABLE ") + kSchema +
                   ".events ALTER COLUMN seq SET DEFAULT nextval('" + kSchema + ".events_seq')");
        admin.exec(std::string("CREATE TABLE ") + kSchema +
                   ".streams (LIKE rillflow_default.streams INCLUDING ALL)");
        for (const char* table : kTables)
            admin.exec(std::string("ALTER TABLE ") + table + " SET (autovacuum_enabled = off)");
        // PgQ, the baseline of single appends next to another PostgreSQL event queue, when the
        // server has it (scripts/bench.sh installs Debian's package).
        bool pgq =
            Int(admin.exec("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgq'")) > 0;
        if (pgq) {
            admin.exec("CREATE EXTENSION IF NOT EXISTS pgq");
            admin.exec(
                "SELECT pgq.create_queue('bench_queue') WHERE NOT EXISTS (SELECT FROM "
                "pgq.queue WHERE queue_name = 'bench_queue')");
        }
        int64_t log_events = Int(admin.exec("SELECT rillflow.head_position()"));
        std::string server = PQgetvalue(admin.exec("SELECT version()").get(), 0, 0);
        // The worker of this database (backend_type "rillflow worker"); when the launcher
        // runs enabled, it starts one within a naptime of CREATE EXTENSION: wait for it.
        auto count = [&](const char* sql) { return Int(admin.exec(sql)); };
        bool launcher = count(
                            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                            "'rillflow launcher' AND query <> 'disabled'") > 0;
        bool worker = false;
        for (int i = 0; i < (launcher ? 100 : 1) && !worker; i++) {
            if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            worker = count(
                         "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                         "'rillflow worker' AND datname = current_database()") > 0;
        }
        std::printf(
            "rillflow benchmark: %d connections, %.0f s per variant and round, median of "
            "%d rounds\n",
            opt.connections, opt.seconds, opt.rounds);
        std::printf("server: %s\n\n", server.c_str());

        std::vector<Row> rows;
        double pgq_rate = 0, occ_rate = 0, insert_rate = 0;  // single appends
        for (int batch : {1, 100}) {
            std::fprintf(stderr, "appends of %d event%s per call\n", batch, batch == 1 ? "" : "s");
            bool loop = !worker && !opt.sequence_after;
            auto vs = AppendBenchmark(url, opt, batch, loop, pgq && batch == 1, log_events, rng);
            const Variant& rf = vs[2];
            double rf_rate = Median(rf.rates);
            std::string what =
                batch == 1 ? "append, 1 event/call, OCC" : "append, 100 events/call, OCC";
            double alone = Median(rf.alone_rates);
            rows.push_back({what, "INSERT + stream row", rf_rate, Median(vs[1].rates), alone});
            rows.push_back({"", "INSERT only", rf_rate, Median(vs[0].rates), alone});
            if (vs.size() > 3) {
                rows.push_back({"", "PgQ insert_event", rf_rate, Median(vs[3].rates), alone});
                pgq_rate = Median(vs[3].rates);
                occ_rate = Median(vs[1].rates);
                insert_rate = Median(vs[0].rates);
            }
            std::fprintf(stderr, "  rillflow: %.1f%% of its time waiting for the sequencer\n",
                         100 * rf.seq_seconds / (rf.seconds + rf.seq_seconds));
        }

        std::fprintf(stderr, "reads: paging %" PRId64 " events, 1000 per page\n", opt.read_events);
        TopUp(url, log_events, opt.read_events, rng);
        Conn reader(url);
        reader.prepare("rillflow",
                       "SELECT position, stream_id, version, type, event_version, body, headers, "
                       "event_id, causation_id, correlation_id, created_at "
                       "FROM rillflow.read_all($1::bigint, $2::integer)");
        reader.prepare(
            "baseline",
            std::string("SELECT seq, stream_id, version, type, event_version, body, headers, "
                        "event_id, causation_id, correlation_id, created_at FROM ") +
                kSchema + ".events WHERE seq > $1::bigint ORDER BY seq LIMIT $2::integer");
        reader.exec(std::string("VACUUM ANALYZE ") + kSchema + ".events");
        reader.exec("VACUUM ANALYZE rillflow_default.events");
        reader.exec("VACUUM ANALYZE rillflow_default.log_segments");
        double best_rf = 1e9, best_base = 1e9;
        for (int rep = 0; rep < 3; rep++) {  // best of three, alternating
            best_base = std::min(best_base, ReadPass(reader, "baseline", opt.read_events));
            best_rf = std::min(best_rf, ReadPass(reader, "rillflow", opt.read_events));
        }
        if (!pgq) std::printf("(PgQ is not installed on this server: no PgQ baseline)\n");
        rows.push_back({"read_all, pages of 1000",
                        "SELECT ... WHERE seq > $1 ORDER BY seq LIMIT 1000",
                        opt.read_events / best_rf, opt.read_events / best_base, 0});

        std::printf("%-29s %13s %13s %6s | %13s %6s | %s\n", "workload", "rillflow ev/s",
                    "baseline ev/s", "ratio", "appends alone", "ratio", "baseline");
        for (const auto& r : rows) {
            std::string alone = r.appends_rate > 0 ? Rate(r.appends_rate) : "";
            char alone_ratio[16] = "";
            if (r.appends_rate > 0)
                std::snprintf(alone_ratio, sizeof alone_ratio, "%.2fx",
                              r.appends_rate / r.baseline_rate);
            std::printf("%-29s %13s %13s %5.2fx | %13s %6s | %s\n", r.workload.c_str(),
                        r.workload.empty() ? "" : Rate(r.rillflow_rate).c_str(),
                        Rate(r.baseline_rate).c_str(), r.rillflow_rate / r.baseline_rate,
                        r.workload.empty() ? "" : alone.c_str(), alone_ratio, r.baseline.c_str());
        }
        std::printf(
            "\nrillflow ev/s for appends: until every event has its position in the "
            "global log (%s);\nappends alone: until the appends returned.\n",
            worker ? "the background worker sequences them as they commit"
            : opt.sequence_after
                ? "no background worker: sequenced by head_position() after each run"
                : "no background worker: one more connection ran the sequencer in a loop "
                  "meanwhile");
        // What PgQ's figure asks of an append: the plain-SQL baselines themselves against it.
        if (pgq_rate > 0)
            std::printf(
                "plain SQL against PgQ insert_event, 1 event/call: INSERT + stream row "
                "%.2fx, INSERT only %.2fx\n",
                occ_rate / pgq_rate, insert_rate / pgq_rate);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench failed: %s\n", e.what());
        return 1;
    }
    return 0;
}
