// Stress test of the gap-free global log (DESIGN.md, "The gap-free global log").
//
// Many writers append to a few dozen streams through rillflow.append_events in
// explicit transactions, about one in five of which roll back and some of which
// commit slowly; one session appends and then sits idle in its transaction for
// most of the run before committing, another does the same and rolls back; one
// session holds a plain transaction (an xid) open in the test database the whole
// time, and another one does so in a different database. A follower reads
// rillflow.read_all in autocommit mode the whole time, remembering every
// (position, event_id) it sees.
//
// At the end it asserts the contract:
//   - every committed event is read exactly once, no rolled-back event ever;
//   - positions are exactly 1..N, strictly increasing, with N = events committed;
//   - within each stream, versions arrive in order with no gap, and each event
//     carries the version its append returned;
//   - read_all from 0 at the end gives the same sequence the follower saw;
//   - the follower kept delivering other writers' events while the idle sessions
//     were open, with a bounded delay (an idle appender delays only itself).
//
// It uses libpq directly, so it tests the SQL API that every client sees. The
// server comes from DATABASE_URL; the test creates (and drops) its own database
// with the extension, so positions start at 1. Exit codes: 0 pass, 1 fail
// (also when DATABASE_URL is not set), 2 usage.
//
//   rillflow_stress [--seconds N] [--writers N] [--streams N] [--keep]

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pg_conn.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------
// A minimal libpq wrapper: a connection that throws on any failed command. The client's
// PgConn and PgResult own the handles.

struct PgError : std::runtime_error {
    std::string sqlstate;
    PgError(const std::string& what, std::string state)
        : std::runtime_error(what), sqlstate(std::move(state)) {}
};

class Result {
  public:
    explicit Result(rillflow::detail::PgResult r) : r_(std::move(r)) {}
    int rows() const { return PQntuples(r_.get()); }
    bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
    std::string str(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
    int64_t i64(int row, int col) const {
        return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
    }

  private:
    rillflow::detail::PgResult r_;
};

class Conn {
  public:
    // Connects to the server of `url`, to database `dbname` when it is not empty.
    Conn(const std::string& url, const std::string& dbname, const char* app)
        : c_(rillflow::detail::PgConn::open(
              url,
              {{"dbname", dbname.empty() ? nullptr : dbname.c_str()}, {"application_name", app}})) {
        if (!c_.ok()) throw PgError("connection failed: " + c_.error_message(), "08000");
        c_.ignore_notices();
        // Nothing in this test should wait this long; a statement that does is
        // stuck behind a session it must not wait for, and fails the test
        // instead of hanging it.
        exec("SET statement_timeout = '15s'");
    }

    Result exec(const std::string& sql, const std::vector<std::string>& params = {}) {
        std::vector<const char*> p;
        p.reserve(params.size());
        for (const auto& s : params) p.push_back(s.c_str());
        rillflow::detail::PgResult r(PQexecParams(c_.get(), sql.c_str(), static_cast<int>(p.size()),
                                                  nullptr, p.data(), nullptr, nullptr, 0));
        ExecStatusType st = PQresultStatus(r.get());
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
            std::string msg = std::string(state ? state : "?????") + ": " +
                              PQresultErrorMessage(r.get()) + " (in: " + sql + ")";
            throw PgError(msg, state ? state : "");
        }
        return Result(std::move(r));
    }

  private:
    rillflow::detail::PgConn c_;
};

// ---------------------------------------------------------------------------

std::string RandomUuid(std::mt19937_64& rng) {
    uint64_t hi = rng(), lo = rng();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
    char buf[37];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                  static_cast<unsigned>(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

// What a writer knows about one event it appended.
struct Written {
    std::string stream;
    int64_t version = 0;             // from the append's returned version
    Clock::time_point committed_at;  // when COMMIT returned (committed events only)
    int writer = 0;                  // writer number; -1 idle appender
};

// What the follower saw.
struct Seen {
    int64_t position;
    std::string event_id;
    std::string stream;
    int64_t version;
    Clock::time_point at;
};

struct Shared {
    std::mutex mu;
    std::unordered_map<std::string, Written> committed;
    std::unordered_set<std::string> rolled_back;
    int64_t tx_committed = 0, tx_rolled_back = 0, tx_slow = 0;
};

struct Options {
    double seconds = 25;
    int writers = 6;
    int streams = 50;
    bool keep = false;
};

// One append transaction: BEGIN; append_events; think; COMMIT or ROLLBACK.
// Returns the batch's event ids and versions in order.
struct Batch {
    std::string stream;
    std::vector<std::string> ids;
    std::string json;
};

Batch MakeBatch(std::mt19937_64& rng, const std::string& stream, int n, int writer, int64_t seq) {
    static const char* kTypes[] = {"order_placed", "item_added", "item_removed", "order_shipped"};
    Batch b;
    b.stream = stream;
    b.json = "[";
    for (int i = 0; i < n; i++) {
        std::string id = RandomUuid(rng);
        if (i) b.json += ",";
        b.json += "{\"type\":\"" + std::string(kTypes[rng() % 4]) + "\",\"event_id\":\"" + id +
                  "\",\"body\":{\"writer\":" + std::to_string(writer) +
                  ",\"seq\":" + std::to_string(seq) + ",\"i\":" + std::to_string(i) + "}}";
        b.ids.push_back(std::move(id));
    }
    b.json += "]";
    return b;
}

const char* kAppend = "SELECT rillflow.append_events($1::uuid, $2::jsonb)";

void Writer(int w, const std::string& url, const std::string& db,
            const std::vector<std::string>& streams, Clock::time_point stop_at, Shared& shared,
            std::atomic<bool>& failed, std::string& error) {
    try {
        Conn c(url, db, "rillflow_stress_writer");
        std::mt19937_64 rng(0x5eed0000ULL + w);
        int64_t seq = 0;
        while (Clock::now() < stop_at && !failed.load()) {
            const std::string& stream = streams[rng() % streams.size()];
            Batch b = MakeBatch(rng, stream, 1 + static_cast<int>(rng() % 5), w, seq++);
            bool rollback = rng() % 100 < 20;
            bool slow = !rollback && rng() % 100 < 5;
            c.exec("BEGIN");
            int64_t version = c.exec(kAppend, {b.stream, b.json}).i64(0, 0);
            std::this_thread::sleep_for(milliseconds(rng() % 21));
            if (slow) std::this_thread::sleep_for(milliseconds(100 + rng() % 400));
            c.exec(rollback ? "ROLLBACK" : "COMMIT");
            auto now = Clock::now();
            std::lock_guard<std::mutex> lock(shared.mu);
            if (rollback) {
                shared.tx_rolled_back++;
                for (auto& id : b.ids) shared.rolled_back.insert(id);
            } else {
                shared.tx_committed++;
                shared.tx_slow += slow;
                int64_t v = version - static_cast<int64_t>(b.ids.size());
                for (auto& id : b.ids) shared.committed[id] = Written{b.stream, ++v, now, w};
            }
        }
    } catch (const std::exception& e) {
        failed = true;
        error = std::string("writer ") + std::to_string(w) + ": " + e.what();
    }
}

// Follows read_all from position 0 until told to stop, then drains to `drain_to`.
class Follower {
  public:
    Follower(const std::string& url, const std::string& db)
        : conn_(url, db, "rillflow_stress_reader") {}

    void Run(std::atomic<bool>& failed, std::string& error) {
        try {
            while (!failed.load()) {
                int got = Poll();
                if (got == 0) {
                    int64_t target = drain_to_.load();
                    if (target >= 0 && last_ >= target) return;
                    std::this_thread::sleep_for(milliseconds(2));
                }
            }
        } catch (const std::exception& e) {
            failed = true;
            error = std::string("reader: ") + e.what();
        }
    }
    void DrainTo(int64_t head) { drain_to_ = head; }
    const std::vector<Seen>& seen() const { return seen_; }
    int64_t polls() const { return polls_; }

  private:
    int Poll() {
        Result r = conn_.exec(
            "SELECT position, event_id, stream_id, version FROM rillflow.read_all($1::bigint, 500)",
            {std::to_string(last_)});
        polls_++;
        auto now = Clock::now();
        for (int i = 0; i < r.rows(); i++) {
            Seen s{r.i64(i, 0), r.str(i, 1), r.str(i, 2), r.i64(i, 3), now};
            last_ = s.position;
            seen_.push_back(std::move(s));
        }
        return r.rows();
    }

    Conn conn_;
    std::vector<Seen> seen_;
    int64_t last_ = 0;
    int64_t polls_ = 0;
    std::atomic<int64_t> drain_to_{-1};
};

struct Failures {
    std::vector<std::string> list;
    void Check(bool ok, const std::string& what) {
        if (!ok) list.push_back(what);
    }
};

int Run(const Options& opt, const std::string& url) {
    auto t0 = Clock::now();
    std::mt19937_64 rng(42);
    std::string db = "rillflow_stress_" + std::to_string(::getpid());

    // Our own database: the log starts at position 1 and nobody else writes to it.
    Conn admin(url, "", "rillflow_stress_admin");
    admin.exec("DROP DATABASE IF EXISTS " + db);
    admin.exec("CREATE DATABASE " + db);
    struct DropDb {
        Conn& admin;
        std::string db;
        bool keep;
        ~DropDb() {
            if (keep) return;
            try {
                admin.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            } catch (const std::exception& e) {
                std::fprintf(stderr, "warning: could not drop %s: %s\n", db.c_str(), e.what());
            }
        }
    } drop{admin, db, opt.keep};
    {
        Conn c(url, db, "rillflow_stress_setup");
        c.exec("CREATE EXTENSION rillflow");
    }

    std::vector<std::string> streams;
    for (int i = 0; i < opt.streams; i++) streams.push_back(RandomUuid(rng));

    Shared shared;
    std::atomic<bool> failed{false};
    std::vector<std::string> errors(opt.writers + 1);
    std::string reader_error;

    // An xid held open in another database, and one in ours, for the whole run.
    Conn other_db_holder(url, "", "rillflow_stress_xid_other_db");
    other_db_holder.exec("BEGIN");
    std::string other_xid = other_db_holder.exec("SELECT pg_current_xact_id()").str(0, 0);
    Conn xid_holder(url, db, "rillflow_stress_xid_holder");
    xid_holder.exec("BEGIN");
    std::string holder_xid = xid_holder.exec("SELECT pg_current_xact_id()").str(0, 0);

    // Idle appenders: append, then stay idle in transaction. One commits at 75% of
    // the run, one rolls back at the end.
    std::string idle_stream = RandomUuid(rng), idle_rb_stream = RandomUuid(rng);
    Conn idle(url, db, "rillflow_stress_idle_appender");
    Conn idle_rb(url, db, "rillflow_stress_idle_rollback");
    Batch idle_batch = MakeBatch(rng, idle_stream, 3, -1, 0);
    Batch idle_rb_batch = MakeBatch(rng, idle_rb_stream, 2, -2, 0);
    idle.exec("BEGIN");
    idle.exec(kAppend, {idle_stream, idle_batch.json});
    idle_rb.exec("BEGIN");
    idle_rb.exec(kAppend, {idle_rb_stream, idle_rb_batch.json});
    auto idle_open_at = Clock::now();

    Follower follower(url, db);
    std::thread reader([&] { follower.Run(failed, reader_error); });

    auto run_start = Clock::now();
    auto stop_at = run_start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(opt.seconds));
    auto idle_commit_at = run_start + (stop_at - run_start) * 3 / 4;
    std::vector<std::thread> writers;
    for (int w = 0; w < opt.writers; w++)
        writers.emplace_back(
            [&, w] { Writer(w, url, db, streams, stop_at, shared, failed, errors[w]); });

    while (Clock::now() < idle_commit_at && !failed.load())
        std::this_thread::sleep_for(milliseconds(20));
    Clock::time_point idle_committed_at{};
    try {
        idle.exec("COMMIT");
        idle_committed_at = Clock::now();
        std::lock_guard<std::mutex> lock(shared.mu);
        int64_t v = 0;
        for (auto& id : idle_batch.ids)
            shared.committed[id] = Written{idle_stream, ++v, idle_committed_at, -1};
    } catch (const std::exception& e) {
        failed = true;
        errors[opt.writers] = std::string("idle appender: ") + e.what();
    }
    for (auto& t : writers) t.join();

    // Everyone has committed except the two xid holders and the idle appender
    // that rolls back; the follower drains to the head regardless of them.
    auto writers_done_at = Clock::now();
    int64_t head = -1;
    try {
        Conn c(url, db, "rillflow_stress_head");
        head = c.exec("SELECT rillflow.head_position()").i64(0, 0);
    } catch (const std::exception& e) {
        failed = true;
        errors[opt.writers] = std::string("head_position: ") + e.what();
    }
    // head_position() waits until the log includes every event committed before it
    // (read-your-writes, contract point 6), so that head is what the writers know
    // they committed; the drain goes to the writers' count, checked against it below.
    int64_t n = static_cast<int64_t>(shared.committed.size());
    follower.DrainTo(failed.load() ? 0 : n);
    // The drain must finish within a few seconds; a stall here is a failure.
    std::atomic<bool> drained{false};
    std::thread watchdog([&] {
        auto deadline = Clock::now() + std::chrono::seconds(15);
        while (!drained.load() && Clock::now() < deadline)
            std::this_thread::sleep_for(milliseconds(10));
        if (!drained.load()) {
            reader_error = "reader did not reach position " + std::to_string(n) +
                           " within 15 s after the writers finished";
            failed = true;
        }
    });
    reader.join();
    drained = true;
    watchdog.join();
    auto drained_at = Clock::now();

    idle_rb.exec("ROLLBACK");
    xid_holder.exec("COMMIT");
    other_db_holder.exec("COMMIT");

    // A second full pass from position 0, after everything has ended.
    std::vector<std::pair<int64_t, std::string>> replay;
    {
        Conn c(url, db, "rillflow_stress_replay");
        int64_t after = 0;
        for (;;) {
            Result r = c.exec("SELECT position, event_id FROM rillflow.read_all($1::bigint, 1000)",
                              {std::to_string(after)});
            if (r.rows() == 0) break;
            for (int i = 0; i < r.rows(); i++) replay.emplace_back(r.i64(i, 0), r.str(i, 1));
            after = replay.back().first;
        }
    }
    int64_t final_head;
    {
        Conn c(url, db, "rillflow_stress_head");
        final_head = c.exec("SELECT rillflow.head_position()").i64(0, 0);
    }

    // ------------------------------------------------------------------ checks
    Failures f;
    for (auto& e : errors)
        if (!e.empty()) f.list.push_back(e);
    if (!reader_error.empty()) f.list.push_back(reader_error);

    const auto& seen = follower.seen();
    std::unordered_map<std::string, int> times_read;
    int64_t gaps = 0, disorder = 0, unknown = 0, rolled_back_read = 0, wrong_version = 0;
    int64_t first_bad_pos = -1;
    for (size_t i = 0; i < seen.size(); i++) {
        const Seen& s = seen[i];
        if (s.position != static_cast<int64_t>(i) + 1) {
            if (i == 0 ? s.position > 1 : s.position > seen[i - 1].position + 1) gaps++;
            if (i > 0 && s.position <= seen[i - 1].position) disorder++;
            if (first_bad_pos < 0) first_bad_pos = static_cast<int64_t>(i);
        }
        times_read[s.event_id]++;
        if (shared.rolled_back.count(s.event_id)) rolled_back_read++;
        auto it = shared.committed.find(s.event_id);
        if (it == shared.committed.end()) {
            if (!shared.rolled_back.count(s.event_id)) unknown++;
        } else if (it->second.stream != s.stream || it->second.version != s.version) {
            wrong_version++;
        }
    }
    int64_t missing = 0, repeated = 0;
    for (auto& [id, w] : shared.committed) {
        auto it = times_read.find(id);
        if (it == times_read.end())
            missing++;
        else if (it->second > 1)
            repeated++;
    }
    for (auto& id : idle_rb_batch.ids)
        if (times_read.count(id)) rolled_back_read++;

    // Per stream: versions 1, 2, 3... in position order.
    std::unordered_map<std::string, int64_t> stream_version;
    int64_t stream_gaps = 0;
    for (const Seen& s : seen) {
        int64_t& v = stream_version[s.stream];
        if (s.version != v + 1) stream_gaps++;
        v = s.version;
    }

    f.Check(static_cast<int64_t>(seen.size()) == n,
            "read " + std::to_string(seen.size()) + " events, committed " + std::to_string(n));
    f.Check(missing == 0, std::to_string(missing) + " committed events never read");
    f.Check(repeated == 0, std::to_string(repeated) + " events read more than once");
    f.Check(rolled_back_read == 0, std::to_string(rolled_back_read) + " rolled-back events read");
    f.Check(unknown == 0, std::to_string(unknown) + " events read that nobody appended");
    f.Check(gaps == 0 && disorder == 0 && first_bad_pos < 0,
            "positions are not exactly 1..N: " + std::to_string(gaps) + " gaps, " +
                std::to_string(disorder) + " out of order, first at index " +
                std::to_string(first_bad_pos));
    f.Check(wrong_version == 0,
            std::to_string(wrong_version) + " events with another stream/version than appended");
    f.Check(stream_gaps == 0, std::to_string(stream_gaps) + " per-stream version gaps or reorders");
    f.Check(head == n, "head_position() right after the writers was " + std::to_string(head) +
                           ", not the " + std::to_string(n) + " events they committed");
    f.Check(final_head == n, "head_position() " + std::to_string(final_head) +
                                 " at the end, expected " + std::to_string(n));
    bool same = replay.size() == seen.size();
    for (size_t i = 0; same && i < replay.size(); i++)
        same = replay[i].first == seen[i].position && replay[i].second == seen[i].event_id;
    f.Check(same, "read_all from 0 at the end (" + std::to_string(replay.size()) +
                      " events) differs from what the follower saw");

    // Delivery while the idle sessions were open, and how long it took.
    int64_t seen_while_idle = 0;
    std::vector<double> lag_ms;
    double idle_lag_ms = 0;
    bool idle_seen = false;
    for (const Seen& s : seen) {
        auto it = shared.committed.find(s.event_id);
        if (it == shared.committed.end()) continue;
        if (it->second.writer >= 0 && s.at > idle_open_at && s.at < idle_committed_at)
            seen_while_idle++;
        double ms =
            std::chrono::duration<double, std::milli>(s.at - it->second.committed_at).count();
        if (it->second.writer >= 0 && s.at < writers_done_at) lag_ms.push_back(ms);
        if (it->second.writer == -1) {
            idle_lag_ms = idle_seen ? std::max(idle_lag_ms, ms) : ms;
            idle_seen = true;
        }
    }
    std::sort(lag_ms.begin(), lag_ms.end());
    auto pct = [&](double p) {
        return lag_ms.empty() ? 0.0
                              : lag_ms[std::min(lag_ms.size() - 1, size_t(p * lag_ms.size()))];
    };
    double idle_window = Seconds(idle_committed_at - idle_open_at);
    f.Check(seen_while_idle > 0 && seen_while_idle >= n / 4,
            "only " + std::to_string(seen_while_idle) +
                " events of other writers read while the idle sessions were open");
    // A stalled reader would lag by the whole idle window (~3/4 of the run).
    f.Check(pct(1.0) < std::min(5000.0, idle_window * 1000 / 2),
            "delivery lag reached " + std::to_string(pct(1.0)) + " ms");

    // ----------------------------------------------------------------- summary
    int64_t rolled_back_events = static_cast<int64_t>(shared.rolled_back.size()) +
                                 static_cast<int64_t>(idle_rb_batch.ids.size());
    std::printf("rillflow stress test (database %s)\n", db.c_str());
    std::printf("  run           %.1f s of writing, %.1f s in all; drain after writers %.2f s\n",
                Seconds(stop_at - run_start), Seconds(Clock::now() - t0),
                Seconds(drained_at - writers_done_at));
    std::printf("  writers       %d on %d streams; xid holders %s (this db), %s (other db)\n",
                opt.writers, opt.streams, holder_xid.c_str(), other_xid.c_str());
    std::printf("  transactions  %" PRId64 " committed (%" PRId64 " slow), %" PRId64
                " rolled back (+1 idle rollback, +1 idle commit)\n",
                shared.tx_committed, shared.tx_slow, shared.tx_rolled_back);
    std::printf("  events        %" PRId64 " committed, %" PRId64 " rolled back; head %" PRId64
                "\n",
                n, rolled_back_events, final_head);
    std::printf("  head          %" PRId64 " right after the writers, %" PRId64
                " after the drain\n",
                head, final_head);
    std::printf("  follower      %zu events in %" PRId64 " polls; %" PRId64
                " of other writers read during the %.1f s idle window\n",
                seen.size(), follower.polls(), seen_while_idle, idle_window);
    std::printf("  lag           commit -> read p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", pct(0.5),
                pct(0.99), pct(1.0));
    if (idle_seen)
        std::printf("  idle appender committed after %.1f s idle; its events read %.1f ms later\n",
                    idle_window, idle_lag_ms);
    else
        std::printf("  idle appender committed after %.1f s idle; its events were never read\n",
                    idle_window);
    std::printf(
        "  checks        %" PRId64 " missing, %" PRId64 " repeated, %" PRId64
        " rolled back read, %" PRId64 " position gaps, %" PRId64 " stream gaps, replay %s\n",
        missing, repeated, rolled_back_read, gaps, stream_gaps, same ? "identical" : "DIFFERS");
    if (f.list.empty()) {
        std::printf("PASS\n");
        return 0;
    }
    for (auto& s : f.list) std::printf("FAIL: %s\n", s.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    if (const char* s = std::getenv("RILLFLOW_STRESS_SECONDS")) opt.seconds = std::atof(s);
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--seconds")
            opt.seconds = std::atof(next());
        else if (a == "--writers")
            opt.writers = std::atoi(next());
        else if (a == "--streams")
            opt.streams = std::atoi(next());
        else if (a == "--keep")
            opt.keep = true;
        else {
            std::fprintf(stderr, "usage: %s [--seconds N] [--writers N] [--streams N] [--keep]\n",
                         argv[0]);
            return 2;
        }
    }
    const char* url = std::getenv("DATABASE_URL");
    if (!url || !*url) {
        std::fprintf(stderr, "FAIL: DATABASE_URL is not set; the stress test needs a server\n");
        return 1;
    }
    try {
        return Run(opt, url);
    } catch (const std::exception& e) {
        std::printf("FAIL: %s\n", e.what());
        return 1;
    }
}
