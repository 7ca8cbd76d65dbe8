// bench/subscriptions_bench.cpp: consumer-group throughput and delivery latency.
//
// 1. Throughput: N events (in 200 streams) are consumed by 4 consumers, batches of 100, each
//    batch's side effect (an insert into a sink table) committed with its ack; three rounds of
//    each side, alternating which goes first, medians:
//    - rillflow: subscription_poll (autocommit), then BEGIN; INSERT sink; subscription_ack; COMMIT;
//    - work queue: a hand-written table drained with SELECT ... FOR UPDATE SKIP LOCKED;
//      INSERT sink; DELETE; COMMIT (the same rows, loaded before);
//    - PgQ (when the pgq extension is installed): one consumer (PgQ has no competing consumers
//      of one queue), next_batch / get_batch_events / INSERT sink / finish_batch / COMMIT, the
//      events loaded with a tick every 100 so its batches are 100 too.
// 2. Latency: an appender appends one event every 5 ms (200/s) with its send time; a consumer
//    LISTENs on rillflow_events, polls when woken (and every 100 ms) and records append ->
//    delivery. Needs the background worker (its NOTIFY).
//
//   rillflow_subscriptions_bench [--events N] [--latency-seconds S]

#include <poll.h>

#include <atomic>
#include <functional>
#include <thread>

#include "support.hpp"

using namespace rillflow::bench;

namespace {

int64_t NowMicros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string Events(int n, int first) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) {
        if (i) s += ',';
        s += "{\"type\": \"Job\", \"body\": {\"n\": " + std::to_string(first + i) + "}}";
    }
    return s + "]";
}

// Loads n events, 100 per append over 200 streams; waits until they have positions.
void LoadEvents(const std::string& url, int n) {
    Conn c(url);
    std::mt19937_64 rng(1);
    std::vector<std::string> streams;
    for (int i = 0; i < 200; ++i) streams.push_back(RandomUuid(rng));
    for (int i = 0; i < n; i += 100)
        c.exec("SELECT rillflow.append_events('" + streams[(i / 100) % 200] + "', '" +
               Events(std::min(100, n - i), i) + "')");
    c.exec("SELECT rillflow.run_sequencer()");
}

// Runs the workers until each has found nothing three times in a row; returns the seconds from
// the start to the end of the last step that did work (the empty polls that tell a worker the
// queue is drained are not throughput, and they cost each side differently).
double RunWorkers(int workers, const std::function<bool(Conn&)>& step, const std::string& url) {
    std::vector<std::thread> threads;
    std::vector<Clock::time_point> last_work(workers);
    const auto start = Clock::now();
    for (int w = 0; w < workers; ++w) {
        last_work[w] = start;
        threads.emplace_back([&, w] {
            Conn c(url);
            int idle = 0;
            while (idle < 3) {
                if (step(c)) {
                    idle = 0;
                    last_work[w] = Clock::now();
                } else {
                    ++idle;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    return Seconds(*std::max_element(last_work.begin(), last_work.end()) - start);
}

double Rillflow(const std::string& url, int n, bool one_tx, int round) {
    Conn c(url);
    const std::string tag = (one_tx ? "_tx_" : "_") + std::to_string(round);
    const std::string sub = "bench_sub" + tag;
    const std::string sink = "bench_sink" + tag;
    // the outstanding rows of earlier rounds are gone, as autovacuum would have them
    c.exec("VACUUM rillflow_default.subscription_outstanding");
    c.exec("SELECT rillflow.create_subscription('" + sub + "', event_types => ARRAY['Job'])");
    c.exec("SELECT rillflow.subscription_group_configure('" + sub + "', 'g')");
    c.exec("CREATE TABLE " + sink + " (position bigint PRIMARY KEY)");
    std::atomic<int> ids{0};
    std::atomic<int64_t> poll_us{0}, polls{0}, empty{0};
    const double secs = RunWorkers(
        4,
        [&](Conn& w) {
            thread_local std::string me = "w" + std::to_string(ids++);
            const auto t0 = Clock::now();
            if (one_tx) w.exec("BEGIN");
            auto r = w.exec(
                "SELECT coalesce(array_agg(position), '{}')::text, count(*) FROM "
                "rillflow.subscription_poll('" + sub + "', 100, 'g', '" +
                me + "')");
            poll_us += int64_t(Seconds(Clock::now() - t0) * 1e6);
            ++polls;
            if (Int(r, 0, 1) == 0) ++empty;
            if (Int(r, 0, 1) == 0) {
                if (one_tx) w.exec("COMMIT");
                return false;
            }
            const std::string positions = PQgetvalue(r.get(), 0, 0);
            if (!one_tx) w.exec("BEGIN");
            w.exec("INSERT INTO " + sink + " SELECT unnest('" + positions + "'::bigint[])");
            w.exec("SELECT rillflow.subscription_ack('" + sub + "', '" + positions + "', 'g', '" +
                   me + "')");
            w.exec("COMMIT");
            return true;
        },
        url);
    if (std::getenv("RILLFLOW_BENCH_VERBOSE"))
        std::printf("  polls %lld (empty %lld), %.2f ms per poll, %.2f s in all\n",
                    (long long)polls.load(), (long long)empty.load(),
                    polls ? poll_us.load() / 1000.0 / polls.load() : 0.0, secs);
    const int64_t done = Int(c.exec("SELECT count(*) FROM " + sink));
    if (done != n) throw std::runtime_error("rillflow consumed " + std::to_string(done));
    return n / secs;
}

double WorkQueue(const std::string& url, int n, int round) {
    Conn c(url);
    const std::string queue = "bench_queue_" + std::to_string(round);
    const std::string sink = "bench_queue_sink_" + std::to_string(round);
    c.exec("CREATE TABLE " + queue +
           " (id bigserial PRIMARY KEY, stream_id uuid NOT NULL, type text "
           "NOT NULL, body jsonb NOT NULL)");
    c.exec("CREATE TABLE " + sink + " (id bigint PRIMARY KEY)");
    c.exec("INSERT INTO " + queue +
           " (stream_id, type, body) SELECT gen_random_uuid(), 'Job', "
           "jsonb_build_object('n', i) FROM generate_series(1, " +
           std::to_string(n) + ") i");
    c.exec("VACUUM ANALYZE " + queue);
    const double secs = RunWorkers(
        4,
        [&](Conn& w) {
            w.exec("BEGIN");
            auto r = w.exec(
                "SELECT coalesce(array_agg(id), '{}')::text, count(*), "
                "max(length(body::text)) FROM (SELECT id, stream_id, type, body FROM " +
                queue + " ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) q");
            if (Int(r, 0, 1) == 0) {
                w.exec("COMMIT");
                return false;
            }
            const std::string ids = PQgetvalue(r.get(), 0, 0);
            w.exec("INSERT INTO " + sink + " SELECT unnest('" + ids + "'::bigint[])");
            w.exec("DELETE FROM " + queue + " WHERE id = ANY ('" + ids + "'::bigint[])");
            w.exec("COMMIT");
            return true;
        },
        url);
    const int64_t done = Int(c.exec("SELECT count(*) FROM " + sink));
    if (done != n) throw std::runtime_error("work queue consumed " + std::to_string(done));
    return n / secs;
}

double PgQ(const std::string& url, int n, int round) {
    Conn c(url);
    const std::string q = "bench_q_" + std::to_string(round);
    const std::string sink = "bench_pgq_sink_" + std::to_string(round);
    c.exec("CREATE EXTENSION IF NOT EXISTS pgq");
    c.exec("SELECT pgq.create_queue('" + q + "')");
    c.exec("SELECT pgq.register_consumer('" + q + "', 'c1')");
    c.exec("CREATE TABLE " + sink + " (id bigint PRIMARY KEY)");
    for (int i = 0; i < n; i += 100) {
        c.exec(
            "SELECT pgq.insert_event('" + q + "', 'Job', jsonb_build_object('n', i)::text) "
            "FROM generate_series(" +
            std::to_string(i) + ", " + std::to_string(std::min(n, i + 100) - 1) + ") i");
        c.exec("SELECT pgq.force_tick('" + q + "')");
        c.exec("SELECT pgq.ticker('" + q + "')");
    }
    const double secs = RunWorkers(
        1,
        [&](Conn& w) {
            w.exec("BEGIN");
            auto b = w.exec("SELECT pgq.next_batch('" + q + "', 'c1')");
            if (PQgetisnull(b.get(), 0, 0)) {
                w.exec("COMMIT");
                return false;
            }
            const std::string batch = PQgetvalue(b.get(), 0, 0);
            w.exec("INSERT INTO " + sink + " SELECT ev_id FROM pgq.get_batch_events(" + batch +
                   ")");
            w.exec("SELECT pgq.finish_batch(" + batch + ")");
            w.exec("COMMIT");
            return true;
        },
        url);
    const int64_t done = Int(c.exec("SELECT count(*) FROM " + sink));
    if (done != n) throw std::runtime_error("PgQ consumed " + std::to_string(done));
    return n / secs;
}

void Latency(const std::string& url, int seconds) {
    Conn setup(url);
    setup.exec(
        "SELECT rillflow.create_subscription('bench_latency', event_types => ARRAY['Ping'], "
        "start_from => rillflow.head_position())");
    std::atomic<bool> stop{false};
    std::vector<double> ms;
    std::thread consumer([&] {
        Conn c(url);
        Conn listen(url);
        listen.exec("LISTEN rillflow_events");
        while (!stop) {
            pollfd fd{PQsocket(listen.raw()), POLLIN, 0};
            (void)poll(&fd, 1, 100);
            PQconsumeInput(listen.raw());
            while (PGnotify* nt = PQnotifies(listen.raw())) PQfreemem(nt);
            for (;;) {
                auto r = c.exec(
                    "SELECT position, (body->>'t')::bigint FROM "
                    "rillflow.subscription_poll('bench_latency', 100, consumer => 'lat')");
                const int rows = PQntuples(r.get());
                if (rows == 0) break;
                const int64_t now = NowMicros();
                std::string positions = "{";
                for (int i = 0; i < rows; ++i) {
                    ms.push_back((now - Int(r, i, 1)) / 1000.0);
                    positions += (i ? "," : "") + std::string(PQgetvalue(r.get(), i, 0));
                }
                c.exec("SELECT rillflow.subscription_ack('bench_latency', '" + positions +
                       "}', consumer => 'lat')");
            }
        }
    });
    {
        Conn a(url);
        std::mt19937_64 rng(3);
        const std::string stream = RandomUuid(rng);
        auto next = Clock::now();
        const auto end = next + std::chrono::seconds(seconds);
        while (Clock::now() < end) {
            a.exec("SELECT rillflow.append_event('" + stream +
                   "', 'Ping', jsonb_build_object('t', " + std::to_string(NowMicros()) + "))");
            next += std::chrono::milliseconds(5);
            std::this_thread::sleep_until(next);
        }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop = true;
    consumer.join();
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
        return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, size_t(p * ms.size()))];
    };
    std::printf("%-46s %8zu events   p50 %6.2f ms   p99 %6.2f ms   max %6.2f ms\n",
                "latency append -> consumer (200/s, LISTEN)", ms.size(), pct(0.5), pct(0.99),
                ms.empty() ? 0.0 : ms.back());
}

}  // namespace

int main(int argc, char** argv) {
    int n = 100000;
    int latency_seconds = 10;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--events" && i + 1 < argc)
            n = std::atoi(argv[++i]);
        else if (a == "--latency-seconds" && i + 1 < argc)
            latency_seconds = std::atoi(argv[++i]);
        else
            Usage(argv[0], "[--events N] [--latency-seconds S]");
    }
    const std::string url = DatabaseUrl();
    try {
        LoadEvents(url, n);
        bool have_pgq = false;
        {
            Conn c(url);
            have_pgq =
                Int(c.exec("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgq'")) > 0;
        }
        // three rounds, every other one in reverse order, the median of each; each round its
        // own subscription (from position 0: the same events), queue and sinks
        std::vector<double> ours, queue, pgq;
        for (int round = 1; round <= 3; ++round) {
            std::vector<std::function<void()>> sides = {
                [&] { ours.push_back(Rillflow(url, n, false, round)); },
                [&] { queue.push_back(WorkQueue(url, n, round)); },
                [&] {
                    if (have_pgq) pgq.push_back(PgQ(url, n, round));
                }};
            if (round % 2 == 0) std::reverse(sides.begin(), sides.end());
            for (auto& side : sides) side();
            std::printf("  round %d: rillflow %s, queue %s%s%s events/s\n", round,
                        Rate(ours.back()).c_str(), Rate(queue.back()).c_str(),
                        have_pgq ? ", PgQ " : "", have_pgq ? Rate(pgq.back()).c_str() : "");
        }
        const double ours_tx = Rillflow(url, n, true, 1);
        std::printf("%-46s %12s events/s   (median of 3 rounds)\n",
                    "rillflow group (4 consumers, ack in tx)", Rate(Median(ours)).c_str());
        std::printf("%-46s %12s events/s   (one round)\n", "rillflow group, poll + ack in one tx",
                    Rate(ours_tx).c_str());
        std::printf("%-46s %12s events/s   rillflow/queue %.2fx, one tx %.2fx\n",
                    "work queue FOR UPDATE SKIP LOCKED (4 workers)", Rate(Median(queue)).c_str(),
                    Median(ours) / Median(queue), ours_tx / Median(queue));
        if (have_pgq) {
            std::printf("%-46s %12s events/s   rillflow/PgQ %.2fx\n",
                        "PgQ (1 consumer, batches of 100)", Rate(Median(pgq)).c_str(),
                        Median(ours) / Median(pgq));
        } else {
            std::printf("%-46s %12s\n", "PgQ", "not installed (postgresql-15-pgq3)");
        }
        Latency(url, latency_seconds);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "FAIL %s\n", e.what());
        return 1;
    }
    return 0;
}
