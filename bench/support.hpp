// bench/support.hpp: what every benchmark shares: a small libpq connection that throws on
// failure (its handle owned by the client's PgConn), random uuids, and the arithmetic of the
// reports.
#pragma once

#include "pg_conn.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace rillflow::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------
// A small libpq connection that throws on failure; the client's PgConn owns the handle.

class Conn {
  public:
    explicit Conn(const std::string& url)
        : c_(detail::PgConn::open(url, {{"application_name", "rillflow_bench"}})) {
        if (!c_.ok()) throw std::runtime_error("connection failed: " + c_.error_message());
        c_.ignore_notices();
    }

    using Result = detail::PgResult;

    // Collects the server's notices into *sink (nullptr: drop them again).
    void capture_notices(std::string* sink) {
        if (sink == nullptr)
            c_.ignore_notices();
        else
            PQsetNoticeProcessor(
                c_.get(), [](void* arg, const char* m) { *static_cast<std::string*>(arg) += m; },
                sink);
    }

    Result exec(const std::string& sql) { return check(PQexec(c_.get(), sql.c_str()), sql); }

    // The libpq handle (for LISTEN: its socket and notifications).
    PGconn* raw() const { return c_.get(); }

    void prepare(const std::string& name, const std::string& sql) {
        check(PQprepare(c_.get(), name.c_str(), sql.c_str(), 0, nullptr), sql);
    }

    Result run(const std::string& name, const std::vector<std::string>& params) {
        std::vector<const char*> p;
        p.reserve(params.size());
        for (const auto& s : params) p.push_back(s.c_str());
        return check(PQexecPrepared(c_.get(), name.c_str(), static_cast<int>(p.size()), p.data(),
                                    nullptr, nullptr, 0),
                     name);
    }

  private:
    Result check(PGresult* r, const std::string& what) {
        Result res(r);
        auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            throw std::runtime_error(what + ": " + PQresultErrorMessage(r));
        return res;
    }
    detail::PgConn c_;
};

inline int64_t Int(const Conn::Result& r, int row = 0, int col = 0) {
    return std::strtoll(PQgetvalue(r.get(), row, col), nullptr, 10);
}

// The text form of a UUID from its two 64-bit halves.
inline std::string FormatUuid(uint64_t hi, uint64_t lo) {
    char buf[37];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(hi >> 32),
                  unsigned((hi >> 16) & 0xffff), unsigned(hi & 0xffff), unsigned(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

inline std::string RandomUuid(std::mt19937_64& rng) {
    uint64_t hi = rng(), lo = rng();
    hi = (hi & 0xffffffffffff0fffULL) | 0x4000ULL;
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    return FormatUuid(hi, lo);
}

// A time-ordered UUID (version 7, RFC 9562) as the store gives events without an id: 48 bits of
// Unix milliseconds, 12 bits of the sub-millisecond fraction, then random bits. The baselines'
// events get these, so their event-id index grows at its right edge as the store's does.
inline std::string TimeOrderedUuid() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    uint64_t ms = static_cast<uint64_t>(us / 1000);
    uint64_t fraction = static_cast<uint64_t>((us % 1000) * 4096 / 1000);
    uint64_t hi = (ms << 16) | 0x7000ULL | fraction;
    uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    return FormatUuid(hi, lo);
}

inline double Median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline std::string Rate(double r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", r);
    return buf;
}

// The usage line for a bad argument (exits 2).
[[noreturn]] inline void Usage(const char* program, const char* options) {
    std::fprintf(stderr,
                 "usage: %s %s\n"
                 "  the database comes from DATABASE_URL and must have the extension\n",
                 program, options);
    std::exit(2);
}

// The server from DATABASE_URL (exits 2 when it is not set).
inline std::string DatabaseUrl() {
    const char* env = std::getenv("DATABASE_URL");
    if (!env || !*env) {
        std::fprintf(stderr, "DATABASE_URL is not set\n");
        std::exit(2);
    }
    return env;
}

}  // namespace rillflow::bench
