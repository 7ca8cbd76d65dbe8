// daemon/listener.cpp: waiting for NOTIFY rillflow_events on a connection of its own.
#include "daemon/listener.hpp"

#include <poll.h>

#include <thread>

namespace rillflow::detail {

bool Listener::wait(std::chrono::milliseconds timeout) {
    if (!ensure_open()) {
        std::this_thread::sleep_for(timeout);
        return false;
    }
    if (drain()) return true;
    pollfd fd{PQsocket(conn_.get()), POLLIN, 0};
    const int rc = poll(&fd, 1, static_cast<int>(timeout.count()));
    if (rc <= 0) return false;
    if (PQconsumeInput(conn_.get()) == 0) {
        conn_.close();
        return false;
    }
    return drain();
}

bool Listener::ensure_open() {
    if (conn_.ok()) return true;
    conn_ = PgConn::open(url_);
    if (!conn_.ok()) {
        conn_.close();
        return false;
    }
    PgResult r(PQexec(conn_.get(), "LISTEN rillflow_events"));
    const bool ok = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
    if (!ok) conn_.close();
    return ok;
}

bool Listener::drain() {
    bool any = false;
    PQconsumeInput(conn_.get());
    while (PGnotify* n = PQnotifies(conn_.get())) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

}  // namespace rillflow::detail
