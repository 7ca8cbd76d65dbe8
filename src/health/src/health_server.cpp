// health_server.cpp: GET / and GET /metrics over cpp-httplib.
#include "rillflow/health_server.hpp"

#include <httplib.h>

#include <thread>

#include "rillflow/errors.hpp"

namespace rillflow {

struct HealthServer::Impl {
    httplib::Server server;
    std::thread thread;
    int port = 0;
};

HealthServer::HealthServer(const ProjectionDaemon& daemon, const std::string& bind)
    : impl_(std::make_unique<Impl>()) {
    const auto colon = bind.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == bind.size()) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "invalid health address \"" + bind + "\"",
                              "It is ADDR:PORT, e.g. 127.0.0.1:9187.");
    }
    const std::string host = bind.substr(0, colon);
    int port = 0;
    try {
        std::size_t used = 0;
        port = std::stoi(bind.substr(colon + 1), &used);
        if (used != bind.size() - colon - 1 || port < 0 || port > 65535)
            throw std::out_of_range("");
    } catch (const std::exception&) {
        throw InvalidArgument(sqlstate::invalid_parameter_value,
                              "invalid port in health address \"" + bind + "\"",
                              "The port is a number from 0 to 65535.");
    }

    const ProjectionDaemon* d = &daemon;
    impl_->server.Get("/", [d](const httplib::Request&, httplib::Response& res) {
        try {
            nlohmann::json h = d->health_json();
            res.status = h["healthy"].get<bool>() ? 200 : 503;
            res.set_content(h.dump(2) + "\n", "application/json");
        } catch (const std::exception& e) {
            res.status = 503;
            res.set_content(nlohmann::json({{"healthy", false}, {"error", e.what()}}).dump() + "\n",
                            "application/json");
        }
    });
    impl_->server.Get("/metrics", [d](const httplib::Request&, httplib::Response& res) {
        try {
            res.set_content(d->prometheus_metrics(), "text/plain; version=0.0.4");
        } catch (const std::exception& e) {
            res.status = 503;
            res.set_content(std::string("# error: ") + e.what() + "\n", "text/plain");
        }
    });

    if (port == 0) {
        impl_->port = impl_->server.bind_to_any_port(host.c_str());
        if (impl_->port < 0) throw SqlError(sqlstate::system_error, "cannot listen on " + bind);
    } else {
        if (!impl_->server.bind_to_port(host.c_str(), port))
            throw SqlError(sqlstate::system_error, "cannot listen on " + bind,
                           "The address is in use or not this host's.");
        impl_->port = port;
    }
    impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
}

HealthServer::~HealthServer() { stop(); }

int HealthServer::port() const noexcept { return impl_->port; }

void HealthServer::stop() {
    if (!impl_) return;
    impl_->server.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace rillflow
