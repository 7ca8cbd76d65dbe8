// connection.cpp: opening a libpq connection within a deadline, and running statements
// with bound parameters.
#include "connection.hpp"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "rillflow/errors.hpp"

namespace rillflow::detail {
namespace {

using Clock = std::chrono::steady_clock;

std::string field(const PGresult* result, int code) {
    const char* value = PQresultErrorField(result, code);
    return value != nullptr ? value : "";
}

}  // namespace

Connection::Connection(std::shared_ptr<const ConnectOptions> options)
    : options_(std::move(options)) {
    connect_within_deadline();
    PQsetNoticeReceiver(conn_.get(), &Connection::receive_notice, this);
    if (options_->tenant || options_->tenant_required || !options_->settings.empty()) {
        try {
            if (options_->tenant_required)
                exec("SELECT pg_catalog.set_config('rillflow.tenant_required', 'on', false)");
            if (options_->tenant) use_tenant(*options_->tenant);
            for (const auto& [name, value] : options_->settings)
                exec("SELECT pg_catalog.set_config($1, $2, false)", {name, value});
        } catch (...) {
            conn_.close();
            throw;
        }
    }
}

void Connection::use_tenant(const std::string& tenant) {
    if (tenant == tenant_setting_) return;
    exec("SELECT pg_catalog.set_config('rillflow.tenant', $1, false)", {tenant});
    tenant_setting_ = tenant;
}

Connection::~Connection() = default;

// libpq's own connect_timeout has a resolution of seconds (and a floor of two), so the
// connection is opened asynchronously and polled against our own deadline instead.
void Connection::connect_within_deadline() {
    conn_ = PgConn::start(options_->url, {{"fallback_application_name", "rillflow"}});
    if (!conn_) {
        throw ConnectionError(sqlstate::sqlclient_unable_to_establish_sqlconnection,
                              "could not connect to the database: out of memory");
    }
    auto fail = [this](std::string message) {
        if (message.empty()) message = conn_.error_message();
        conn_.close();
        throw ConnectionError(sqlstate::sqlclient_unable_to_establish_sqlconnection,
                              "could not connect to the database: " + message);
    };
    if (PQstatus(conn_.get()) == CONNECTION_BAD) fail({});

    const auto timeout = options_->connect_timeout;
    const auto deadline = Clock::now() + timeout;
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED) fail({});
        const int socket = PQsocket(conn_.get());
        if (socket < 0) fail({});
        pollfd pfd{};
        pfd.fd = socket;
        pfd.events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        for (;;) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) {
                fail("timed out after " + std::to_string(timeout.count()) + " ms");
            }
            const int ready = ::poll(&pfd, 1, static_cast<int>(left));
            if (ready > 0) break;
            if (ready < 0 && errno != EINTR)
                fail(std::string("poll failed: ") + std::strerror(errno));
        }
        status = PQconnectPoll(conn_.get());
    }
}

void Connection::receive_notice(void* arg, const PGresult* result) {
    auto* self = static_cast<Connection*>(arg);
    if (!self->options_->notice_handler) return;
    try {
        self->options_->notice_handler(pg_message(PQresultErrorMessage(result)));
    } catch (...) {
        // A throwing handler must not unwind through libpq's C frames.
    }
}

Result Connection::exec(std::string_view sql, const Params& params) {
    if (!conn_ || broken_) {
        throw ConnectionError(sqlstate::connection_does_not_exist, "the connection is closed");
    }
    const std::string text(sql);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& p : params) values.push_back(p.is_null() ? nullptr : p.text().c_str());

    std::shared_ptr<pg_result> result(
        PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr,
                     values.data(), nullptr, nullptr, /*resultFormat=*/0),
        &PQclear);
    const bool lost = PQstatus(conn_.get()) == CONNECTION_BAD;
    if (lost) broken_ = true;
    if (!result) {
        throw ConnectionError(sqlstate::connection_failure, conn_.error_message());
    }
    switch (PQresultStatus(result.get())) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_EMPTY_QUERY:
            return Result(std::move(result));
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            broken_ = true;  // the session is stuck in COPY mode now
            throw SqlError(sqlstate::feature_not_supported,
                           "COPY is not supported through rillflow::Transaction::exec");
        default:
            break;
    }
    std::string code = field(result.get(), PG_DIAG_SQLSTATE);
    std::string message = field(result.get(), PG_DIAG_MESSAGE_PRIMARY);
    if (message.empty()) message = pg_message(PQresultErrorMessage(result.get()));
    if (message.empty()) message = conn_.error_message();
    std::string detail = field(result.get(), PG_DIAG_MESSAGE_DETAIL);
    std::string hint = field(result.get(), PG_DIAG_MESSAGE_HINT);
    if (lost) {
        // Whatever the server said last, the connection is gone now.
        if (code.empty()) code = sqlstate::connection_failure;
        throw ConnectionError(std::move(code), std::move(message), std::move(detail),
                              std::move(hint));
    }
    if (code.empty()) code = sqlstate::internal_error;
    throw_error(std::move(code), std::move(message), std::move(detail), std::move(hint));
}

bool Connection::reusable() const noexcept {
    return conn_.ok() && !broken_ && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
}

bool Connection::alive() noexcept {
    if (!reusable()) return false;
    // An idle connection has nothing to read. When it has, the server sent something while
    // nobody was listening: a notification, a notice, or (usually) the FATAL message of a
    // terminated session followed by end-of-file. libpq takes such a message for a notice and
    // only sees the end-of-file on the next read, hence the loop. poll() with a zero timeout
    // and libpq's non-blocking socket mean this never waits.
    for (int round = 0; round < 4; ++round) {
        pollfd pfd{};
        pfd.fd = PQsocket(conn_.get());
        pfd.events = POLLIN;
        const int ready = ::poll(&pfd, 1, 0);
        if (ready == 0) return true;
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0 || (pfd.revents & (POLLERR | POLLNVAL)) != 0 ||
            PQconsumeInput(conn_.get()) == 0 || PQstatus(conn_.get()) != CONNECTION_OK) {
            broken_ = true;
            return false;
        }
        while (PGnotify* notify = PQnotifies(conn_.get())) PQfreemem(notify);
    }
    return PQstatus(conn_.get()) == CONNECTION_OK;
}

int Connection::backend_pid() const noexcept { return conn_ ? PQbackendPID(conn_.get()) : 0; }

}  // namespace rillflow::detail
