// support.hpp: what every client test shares: the server from DATABASE_URL, fresh names,
// and waiting for the global log to catch up.
#pragma once

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "rillflow/rillflow.hpp"

namespace rillflow::test {

/// The server under test. Every test that needs one fails (never skips) without it.
inline std::string database_url() {
    const char* url = std::getenv("DATABASE_URL");
    if (url == nullptr || *url == '\0') {
        ADD_FAILURE() << "DATABASE_URL is not set: the client tests need a PostgreSQL server with "
                         "`CREATE EXTENSION rillflow` done in that database, e.g. "
                         "DATABASE_URL='postgresql://postgres@/rillflow_test?host=/tmp&port=5432'";
        return {};
    }
    return url;
}

/// A name nobody else uses: prefix + 12 hex digits.
inline std::string fresh_name(const std::string& prefix) {
    return prefix + Uuid::random().to_string().substr(24);
}

/// A store on a fresh tenant, so its global log holds only this test's events.
inline Store fresh_tenant_store(const Store& main, std::string* tenant_out = nullptr) {
    std::string tenant = fresh_name("t_");
    EXPECT_TRUE(main.ensure_tenant(tenant));
    if (tenant_out != nullptr) *tenant_out = tenant;
    return Store::builder(database_url()).tenant(tenant).max_connections(4).build();
}

/// Events with bodies {"n": first}, {"n": first + 1}, ...
inline std::vector<EventData> numbered(const std::string& type, int count, int first = 1) {
    std::vector<EventData> out;
    for (int i = 0; i < count; ++i) out.push_back(EventData{type, {{"n", first + i}}});
    return out;
}

/// Waits (up to 10 s) until the store's log head reaches `position`; returns the head.
inline std::int64_t wait_for_head(const Store& store, std::int64_t position) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::int64_t head = store.head_position();
    while (head < position && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        head = store.head_position();
    }
    return head;
}

/// Base fixture: a Store on DATABASE_URL's default store.
class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        url_ = database_url();
        ASSERT_FALSE(url_.empty()) << "DATABASE_URL is required";
        store_.emplace(Store::builder(url_).max_connections(8).build());
    }

    Store& store() { return *store_; }
    Events events() { return store_->events(); }
    const std::string& url() const { return url_; }

  private:
    std::string url_;
    std::optional<Store> store_;
};

}  // namespace rillflow::test
