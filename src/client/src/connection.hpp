// connection.hpp (private): one libpq connection (held by a PgConn), opened in the
// constructor and closed in the destructor. Statements go through exec(), which binds every
// parameter and turns any failure into the matching rillflow::Error.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pg_conn.hpp"
#include "rillflow/sql.hpp"
#include "rillflow/store.hpp"

namespace rillflow::detail {

/// How to open a connection; shared by every connection of a pool.
struct ConnectOptions {
    std::string url;
    std::chrono::milliseconds connect_timeout{10000};
    std::optional<std::string> tenant;  // set as rillflow.tenant on the new session
    bool tenant_required = false;       // set rillflow.tenant_required on the new session
    NoticeHandler notice_handler;       // empty: notices are dropped
    // More settings for every new session (name, value), e.g. the archive's.
    std::vector<std::pair<std::string, std::string>> settings;
};

class Connection {
  public:
    /// Opens the connection within options.connect_timeout and applies the tenant.
    /// Throws ConnectionError (or the server's error for the tenant statement).
    explicit Connection(std::shared_ptr<const ConnectOptions> options);
    /// Closes the connection (the server rolls back whatever was open).
    ~Connection();

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    Connection(Connection&&) = delete;
    Connection& operator=(Connection&&) = delete;

    /// Runs one statement with text parameters and text results.
    Result exec(std::string_view sql, const Params& params = {});

    /// True when the connection can go back to the pool: open, not marked broken, and not
    /// inside a transaction.
    bool reusable() const noexcept;
    /// Reads whatever the server sent while the connection sat idle, without blocking; false
    /// when the server has closed the connection meanwhile.
    bool alive() noexcept;
    /// Keeps the connection from going back to the pool.
    void mark_broken() noexcept { broken_ = true; }
    /// The server process id.
    int backend_pid() const noexcept;
    /// The session's `rillflow.tenant` as this client last set it ("" the default store).
    const std::string& tenant_setting() const noexcept { return tenant_setting_; }
    /// Sets the session's `rillflow.tenant` (outside a transaction) unless it is `tenant` already.
    void use_tenant(const std::string& tenant);

  private:
    void connect_within_deadline();
    static void receive_notice(void* arg, const PGresult* result);

    std::shared_ptr<const ConnectOptions> options_;
    PgConn conn_;
    bool broken_ = false;
    std::string tenant_setting_;
};

}  // namespace rillflow::detail
