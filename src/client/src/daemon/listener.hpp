// daemon/listener.hpp (private): the daemon's wake-up, a dedicated connection that LISTENs on
// rillflow_events (the worker's NOTIFY after each tick that advanced the log).
#pragma once

#include <chrono>
#include <string>

#include "pg_conn.hpp"

namespace rillflow::detail {

/// A LISTEN connection. Waiting never throws: a lost connection is reopened at the next wait,
/// and until then the poll interval is the wake-up.
class Listener {
  public:
    explicit Listener(std::string url) : url_(std::move(url)) {}

    /// Waits up to `timeout` for a notification; true when one (or more) arrived.
    bool wait(std::chrono::milliseconds timeout);

  private:
    bool ensure_open();
    bool drain();

    std::string url_;
    PgConn conn_;
};

}  // namespace rillflow::detail
