// Stress test of subscriptions and consumer groups (docs/subscriptions.md).
//
// A writer appends 20,000 events to 200 streams (100 each, 10 per append, the streams in random
// order) while two groups of one subscription consume them: "ordered" (an ordered group) and
// "plain". Each group has 4 consumers. A consumer polls in autocommit (lease 1 s), then in one
// transaction inserts every event it got into an `applied` table and acks them
// (rillflow.subscription_ack in the same transaction). Consumers are killed at random: a chaos
// thread terminates a random consumer's backend (pg_terminate_backend) every ~300 ms, and a
// consumer also abandons its connection on its own now and then (after the poll, or after the
// insert and before the commit); a killed consumer restarts with a new connection and a new
// consumer id. A consumer whose ack meets RF006 (its lease ran out) rolls back.
//
// At the end it asserts, for each group: every event applied exactly once (20,000 rows, 20,000
// distinct positions, exactly the log's), the group's checkpoint at the head with nothing in
// flight and nothing dead-lettered; and for the ordered group, per stream, the versions applied in
// commit order 1, 2, ... 100.
//
// libpq only; the server from DATABASE_URL; its own database, dropped at the end (--keep keeps
// it). Exit codes: 0 pass, 1 fail, 2 usage.
//
//   rillflow_subscription_stress [--streams N] [--per-stream N] [--consumers N] [--keep]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_conn.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct PgError : std::runtime_error {
    std::string sqlstate;
    PgError(const std::string& what, std::string state)
        : std::runtime_error(what), sqlstate(std::move(state)) {}
};

class Result {
  public:
    explicit Result(rillflow::detail::PgResult r) : r_(std::move(r)) {}
    int rows() const { return PQntuples(r_.get()); }
    std::string str(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
    long long i64(int row, int col) const {
        return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
    }

  private:
    rillflow::detail::PgResult r_;
};

class Conn {
  public:
    Conn(const std::string& url, const std::string& dbname, const char* app)
        : c_(rillflow::detail::PgConn::open(
              url,
              {{"dbname", dbname.empty() ? nullptr : dbname.c_str()}, {"application_name", app}})) {
        if (!c_.ok()) throw PgError("connection failed: " + c_.error_message(), "08000");
        c_.ignore_notices();
        exec("SET statement_timeout = '20s'");
    }
    Result exec(const std::string& sql, const std::vector<std::string>& params = {}) {
        std::vector<const char*> p;
        for (const auto& s : params) p.push_back(s.c_str());
        rillflow::detail::PgResult r(PQexecParams(c_.get(), sql.c_str(), static_cast<int>(p.size()),
                                                  nullptr, p.data(), nullptr, nullptr, 0));
        ExecStatusType st = PQresultStatus(r.get());
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
            throw PgError(std::string(state ? state : "?????") + ": " +
                              PQresultErrorMessage(r.get()) + " (in: " + sql + ")",
                          state ? state : "");
        }
        return Result(std::move(r));
    }
    int backend_pid() { return PQbackendPID(c_.get()); }

  private:
    rillflow::detail::PgConn c_;
};

struct Options {
    int streams = 200;
    int per_stream = 100;
    int consumers = 4;
    bool keep = false;
};

struct Shared {
    std::string url, db;
    std::atomic<bool> stop{false};
    std::atomic<long> batches{0}, kills{0}, self_kills{0}, lease_lost{0}, errors{0};
    std::mutex pids_mutex;
    std::map<std::string, int> pids;  // consumer slot -> backend pid
    std::mutex error_mutex;
    std::string first_error;
    void note_error(const std::string& e) {
        ++errors;
        std::lock_guard<std::mutex> g(error_mutex);
        if (first_error.empty()) first_error = e;
    }
};

void Writer(Shared& s, const Options& opt) {
    Conn c(s.url, s.db, "rillflow_sub_stress_writer");
    std::mt19937_64 rng(42);
    std::vector<std::string> streams;
    for (int i = 0; i < opt.streams; ++i) {
        char id[40];
        std::snprintf(id, sizeof(id), "5e000000-0000-4000-8000-%012d", i);
        streams.push_back(id);
    }
    std::vector<int> next(opt.streams, 0);
    std::vector<int> order;
    for (int i = 0; i < opt.streams; ++i)
        for (int k = 0; k < opt.per_stream / 10; ++k) order.push_back(i);
    std::shuffle(order.begin(), order.end(), rng);
    for (int i : order) {
        std::string events = "[";
        for (int k = 0; k < 10; ++k) {
            if (k) events += ',';
            events +=
                "{\"type\": \"Step\", \"body\": {\"n\": " + std::to_string(next[i] + k + 1) + "}}";
        }
        events += "]";
        c.exec("SELECT rillflow.append_events($1::uuid, $2::jsonb, $3::bigint)",
               {streams[i], events, std::to_string(next[i])});
        next[i] += 10;
    }
}

// One consumer slot: runs consumers one after another; each dies (by the chaos thread, or on
// its own) and is replaced by a new one with a new id.
void ConsumerSlot(Shared& s, const std::string& group, int slot) {
    std::mt19937_64 rng(std::hash<std::string>()(group) + slot);
    const std::string key = group + "/" + std::to_string(slot);
    for (int generation = 0; !s.stop; ++generation) {
        const std::string consumer =
            group + "-" + std::to_string(slot) + "-" + std::to_string(generation);
        try {
            Conn c(s.url, s.db, "rillflow_sub_stress_consumer");
            {
                std::lock_guard<std::mutex> g(s.pids_mutex);
                s.pids[key] = c.backend_pid();
            }
            while (!s.stop) {
                Result r = c.exec(
                    "SELECT coalesce(array_agg(position ORDER BY position), '{}')::text, count(*) "
                    "FROM rillflow.subscription_poll('s', 100, $1, $2, '1 second')",
                    {group, consumer});
                if (r.i64(0, 1) == 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    continue;
                }
                const std::string positions = r.str(0, 0);
                const int fate = static_cast<int>(rng() % 100);
                if (fate < 3) {  // dies after the poll: the events come back after the lease
                    ++s.self_kills;
                    break;
                }
                c.exec("BEGIN");
                c.exec(
                    "INSERT INTO applied (grp, position, stream_id, version, consumer) "
                    "SELECT $1, p.position, e.stream_id, e.version, $3 "
                    "FROM unnest($2::bigint[]) p(position) "
                    "JOIN (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq "
                    "FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, "
                    "o)) q ON q.position = p.position "
                    "JOIN rillflow_default.events e ON e.seq = q.seq",
                    {group, positions, consumer});
                try {
                    c.exec("SELECT rillflow.subscription_ack('s', $1::bigint[], $2, $3)",
                           {positions, group, consumer});
                } catch (const PgError& e) {
                    if (e.sqlstate != "RF006") throw;
                    ++s.lease_lost;
                    c.exec("ROLLBACK");
                    continue;
                }
                if (fate < 6) {  // dies before the commit: nothing applied, nothing acked
                    ++s.self_kills;
                    break;
                }
                c.exec("COMMIT");
                ++s.batches;
            }
        } catch (const PgError& e) {
            // 57P01 (terminated), 08xxx (connection lost): the chaos thread's doing; restart
            if (e.sqlstate != "57P01" && e.sqlstate.rfind("08", 0) != 0 && e.sqlstate != "?????" &&
                e.sqlstate != "") {
                s.note_error(e.what());
            }
        }
        {
            std::lock_guard<std::mutex> g(s.pids_mutex);
            s.pids.erase(key);
        }
    }
}

void Chaos(Shared& s) {
    Conn c(s.url, s.db, "rillflow_sub_stress_chaos");
    std::mt19937_64 rng(7);
    while (!s.stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 200));
        int pid = 0;
        {
            std::lock_guard<std::mutex> g(s.pids_mutex);
            if (s.pids.empty()) continue;
            auto it = s.pids.begin();
            std::advance(it, static_cast<long>(rng() % s.pids.size()));
            pid = it->second;
        }
        c.exec("SELECT pg_terminate_backend($1::int)", {std::to_string(pid)});
        ++s.kills;
    }
}

int Run(const Options& opt, const std::string& url) {
    Shared s;
    s.url = url;
    s.db = "rillflow_sub_stress";
    const long total = static_cast<long>(opt.streams) * opt.per_stream;
    Conn admin(url, "", "rillflow_sub_stress_admin");
    admin.exec("DROP DATABASE IF EXISTS " + s.db + " WITH (FORCE)");
    admin.exec("CREATE DATABASE " + s.db);
    int failures = 0;
    auto check = [&](bool ok, const std::string& what) {
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
        if (!ok) ++failures;
    };
    {
        Conn c(url, s.db, "rillflow_sub_stress_setup");
        c.exec("CREATE EXTENSION rillflow");
        c.exec(
            "CREATE TABLE applied (id bigserial PRIMARY KEY, grp text NOT NULL, position bigint "
            "NOT NULL, "
            "stream_id uuid NOT NULL, version bigint NOT NULL, consumer text NOT NULL)");
        c.exec("SELECT rillflow.create_subscription('s', event_types => ARRAY['Step'])");
        c.exec("SELECT rillflow.subscription_group_configure('s', 'ordered', ordered => true)");
        c.exec("SELECT rillflow.subscription_group_configure('s', 'plain')");
    }
    const auto started = Clock::now();
    std::vector<std::thread> threads;
    std::thread writer([&] {
        try {
            Writer(s, opt);
        } catch (const std::exception& e) {
            s.note_error(std::string("writer: ") + e.what());
        }
    });
    for (const char* group : {"ordered", "plain"})
        for (int i = 0; i < opt.consumers; ++i)
            threads.emplace_back([&s, group, i] { ConsumerSlot(s, group, i); });
    std::thread chaos([&] {
        try {
            Chaos(s);
        } catch (const std::exception& e) {
            s.note_error(std::string("chaos: ") + e.what());
        }
    });
    writer.join();
    // Done when both groups have applied every event (or after 100 s).
    {
        Conn c(url, s.db, "rillflow_sub_stress_watch");
        while (Clock::now() - started < std::chrono::seconds(100)) {
            Result r = c.exec(
                "SELECT count(*) FILTER (WHERE grp = 'ordered'), "
                "count(*) FILTER (WHERE grp = 'plain') FROM applied");
            if (r.i64(0, 0) >= total && r.i64(0, 1) >= total) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    // Let the consumers see the rest (a duplicate would show here), then stop them.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    s.stop = true;
    chaos.join();
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf(
        "%.1f s: %ld batches committed, %ld consumers terminated, %ld died on their own, "
        "%ld acks lost their lease\n",
        secs, s.batches.load(), s.kills.load(), s.self_kills.load(), s.lease_lost.load());
    check(s.errors == 0,
          "no unexpected error" + (s.first_error.empty() ? "" : ": " + s.first_error));
    {
        Conn c(url, s.db, "rillflow_sub_stress_check");
        check(c.exec("SELECT rillflow.head_position()").i64(0, 0) == total,
              "the log has " + std::to_string(total) + " events");
        for (const char* group : {"ordered", "plain"}) {
            Result r = c.exec(
                "SELECT count(*), count(DISTINCT position), "
                "count(*) FILTER (WHERE position NOT BETWEEN 1 AND $2::bigint) "
                "FROM applied WHERE grp = $1",
                {group, std::to_string(total)});
            check(r.i64(0, 0) == total && r.i64(0, 1) == total && r.i64(0, 2) == 0,
                  std::string(group) + ": every event applied exactly once (" + r.str(0, 0) +
                      " rows, " + r.str(0, 1) + " positions)");
            Result g = c.exec(
                "SELECT last_seq, in_flight, pending, dlq_size "
                "FROM rillflow.subscription_group_status('s', $1)",
                {group});
            check(g.i64(0, 0) == total && g.i64(0, 1) == 0 && g.i64(0, 2) == 0 && g.i64(0, 3) == 0,
                  std::string(group) + ": checkpoint at the head, nothing in flight or dead (" +
                      g.str(0, 0) + ", " + g.str(0, 1) + ", " + g.str(0, 2) + ", " + g.str(0, 3) +
                      ")");
        }
        // In the ordered group a stream's events were applied in commit order 1, 2, 3...: the
        // rows' ids (taken at insert, after the earlier event's ack committed) follow versions.
        Result o = c.exec(
            "SELECT count(*) FROM (SELECT version, row_number() OVER (PARTITION BY stream_id ORDER "
            "BY id) "
            "AS n FROM applied WHERE grp = 'ordered') x WHERE version <> n");
        check(o.i64(0, 0) == 0,
              "ordered: every stream applied in version order (" + o.str(0, 0) + " out of order)");
    }
    if (!opt.keep) admin.exec("DROP DATABASE IF EXISTS " + s.db + " WITH (FORCE)");
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> int {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return std::atoi(argv[++i]);
        };
        if (a == "--streams")
            opt.streams = value();
        else if (a == "--per-stream")
            opt.per_stream = value();
        else if (a == "--consumers")
            opt.consumers = value();
        else if (a == "--keep")
            opt.keep = true;
        else {
            std::fprintf(stderr,
                         "usage: rillflow_subscription_stress [--streams N] [--per-stream N] "
                         "[--consumers N] [--keep]\n");
            return 2;
        }
    }
    if (opt.per_stream % 10 != 0 || opt.streams < 1 || opt.consumers < 1) {
        std::fprintf(stderr, "--per-stream must be a multiple of 10\n");
        return 2;
    }
    const char* url = std::getenv("DATABASE_URL");
    if (!url || !*url) {
        std::fprintf(stderr, "DATABASE_URL is not set\n");
        return 1;
    }
    try {
        return Run(opt, url);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "FAIL %s\n", e.what());
        return 1;
    }
}
