// pg_conn.hpp (private; header-only, needs libpq alone): the one owner of a libpq connection
// (PGconn*) and of a libpq result (PGresult*). The client's Connection, the daemon's Listener,
// the benchmarks and the stress test hold theirs through these types, so every handle is
// closed in exactly one place, on every path out.
#pragma once

#include <libpq-fe.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rillflow::detail {

/// Clears a PGresult; the deleter of PgResult.
struct PgResultClear {
    void operator()(PGresult* result) const noexcept { PQclear(result); }
};

/// Owns one PGresult: PQclear when it dies.
using PgResult = std::unique_ptr<PGresult, PgResultClear>;

/// A message of libpq's (PQerrorMessage, PQresultErrorMessage...) without its trailing
/// newline; empty for a null pointer.
inline std::string pg_message(const char* text) {
    std::string s = text != nullptr ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

/// Connection keywords besides `dbname` (e.g. {"application_name", "x"}). A null or empty
/// value leaves the keyword at its default, as libpq does.
using PgOptions = std::initializer_list<std::pair<const char*, const char*>>;

/// Owns one PGconn*: PQfinish in the destructor. Movable, not copyable (libpqxx's
/// connection, without the statements: each user runs those its own way). A connection that
/// failed to open is still owned until dropped, so its error message can be read first.
class PgConn {
  public:
    /// No connection.
    PgConn() noexcept = default;

    /// Opens a connection and waits for it (PQconnectdbParams). `url` is a libpq URI or
    /// `key=value` string; `options` may name more keywords, a later `dbname` among them.
    /// Check ok(); error_message() says why not.
    [[nodiscard]] static PgConn open(const std::string& url, PgOptions options = {}) {
        return connect(&PQconnectdbParams, url, options);
    }
    /// Starts opening a connection without waiting (PQconnectStartParams); the caller drives
    /// it with PQconnectPoll. Null only when libpq could not allocate.
    [[nodiscard]] static PgConn start(const std::string& url, PgOptions options = {}) {
        return connect(&PQconnectStartParams, url, options);
    }

    PgConn(PgConn&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
    PgConn& operator=(PgConn&& other) noexcept {
        if (this != &other) {
            close();
            conn_ = std::exchange(other.conn_, nullptr);
        }
        return *this;
    }
    PgConn(const PgConn&) = delete;
    PgConn& operator=(const PgConn&) = delete;
    ~PgConn() { close(); }

    /// The handle, for libpq calls; null when there is none.
    [[nodiscard]] PGconn* get() const noexcept { return conn_; }
    /// True when there is a handle (open, opening or failed).
    explicit operator bool() const noexcept { return conn_ != nullptr; }
    /// True when it is open and usable (CONNECTION_OK).
    [[nodiscard]] bool ok() const noexcept {
        return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
    }
    /// libpq's last error on this connection, without the trailing newline.
    [[nodiscard]] std::string error_message() const {
        return conn_ != nullptr ? pg_message(PQerrorMessage(conn_)) : "no connection";
    }
    /// Drops the server's notices (libpq prints them on stderr otherwise).
    void ignore_notices() noexcept {
        if (conn_ != nullptr)
            PQsetNoticeProcessor(
                conn_, [](void*, const char*) {}, nullptr);
    }
    /// Closes it now; idempotent.
    void close() noexcept {
        if (conn_ != nullptr) PQfinish(std::exchange(conn_, nullptr));
    }

  private:
    using Connect = PGconn* (*)(const char* const* keywords, const char* const* values,
                                int expand_dbname);
    explicit PgConn(PGconn* conn) noexcept : conn_(conn) {}

    static PgConn connect(Connect how, const std::string& url, PgOptions options) {
        std::vector<const char*> keys{"dbname"};
        std::vector<const char*> values{url.c_str()};
        for (const auto& [key, value] : options) {
            keys.push_back(key);
            values.push_back(value);
        }
        keys.push_back(nullptr);
        values.push_back(nullptr);
        return PgConn(how(keys.data(), values.data(), /*expand_dbname=*/1));
    }

    PGconn* conn_ = nullptr;
};

}  // namespace rillflow::detail
