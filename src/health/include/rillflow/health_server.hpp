// rillflow/health_server.hpp: the daemon's health and metrics endpoint over HTTP. A library of
// its own (rillflow::health, linking Debian's cpp-httplib) so the core client does not depend
// on an HTTP library.
#pragma once

#include <memory>
#include <string>

#include "rillflow/projection_daemon.hpp"

namespace rillflow {

/// @brief Serves `GET /` (ProjectionDaemon::health_json(), HTTP 200 when healthy, 503 when
/// not) and `GET /metrics` (ProjectionDaemon::prometheus_metrics()) on a thread of its own.
/// Stops and joins in its destructor.
class HealthServer {
  public:
    /// @brief Starts listening on `bind` ("ADDR:PORT"; port 0 picks a free one).
    /// @throws InvalidArgument for a malformed address; Error when it cannot listen.
    HealthServer(const ProjectionDaemon& daemon, const std::string& bind);
    ~HealthServer();
    HealthServer(const HealthServer&) = delete;
    HealthServer& operator=(const HealthServer&) = delete;

    /// @brief The port it listens on.
    int port() const noexcept;
    /// @brief Stops serving (idempotent).
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rillflow
