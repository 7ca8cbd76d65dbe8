// rillflow/errors.hpp: the exceptions the client throws, one type per kind of failure.
//
// Every error carries the SQLSTATE the server (or the client, for failures that never
// reached a server) gave it, plus the message, detail and hint. throw_error() is the one
// place that maps a SQLSTATE to a type; sqlstate.hpp names the codes.
#pragma once

#include <stdexcept>
#include <string>

#include "rillflow/export.hpp"
#include "rillflow/sqlstate.hpp"

namespace rillflow {

/// @brief Base of every rillflow exception: a failure with its SQLSTATE, message, detail and hint.
class RILLFLOW_EXPORT Error : public std::runtime_error {
  public:
    /// @brief Builds an error; what() combines all four parts.
    Error(std::string sqlstate, std::string message, std::string detail = {},
          std::string hint = {});
    ~Error() override;

    /// @brief The five-character SQLSTATE, e.g. "RF001" or "08006".
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    /// @brief The primary message, without SQLSTATE, detail or hint.
    const std::string& message() const noexcept { return message_; }
    /// @brief The server's DETAIL line; empty when there is none.
    const std::string& detail() const noexcept { return detail_; }
    /// @brief The server's HINT line; empty when there is none.
    const std::string& hint() const noexcept { return hint_; }

  private:
    std::string sqlstate_;
    std::string message_;
    std::string detail_;
    std::string hint_;
};

/// @brief RF001: the stream is not at the expected version; nothing was appended.
class RILLFLOW_EXPORT VersionConflict : public Error {
  public:
    using Error::Error;
    ~VersionConflict() override;
};

/// @brief RF002: the idempotency key (or an event id) was used before; the detail names the
/// original append's stream and versions. Nothing was appended.
class RILLFLOW_EXPORT IdempotencyConflict : public Error {
  public:
    using Error::Error;
    ~IdempotencyConflict() override;
};

/// @brief RF003: a document is not at the expected version.
class RILLFLOW_EXPORT DocumentVersionConflict : public Error {
  public:
    using Error::Error;
    ~DocumentVersionConflict() override;
};

/// @brief RF004: a named thing (document, projection, subscription...) does not exist.
class RILLFLOW_EXPORT NotFound : public Error {
  public:
    using Error::Error;
    ~NotFound() override;
};

/// @brief RF005: the tenant selected by `rillflow.tenant` has no store.
class RILLFLOW_EXPORT TenantNotFound : public Error {
  public:
    using Error::Error;
    ~TenantNotFound() override;
};

/// @brief RF006: a projection lease or a daemon cluster's hot lease was lost (a stale fencing
/// token, or an expired lease): the caller's batch was not committed.
class RILLFLOW_EXPORT LeaseLost : public Error {
  public:
    using Error::Error;
    ~LeaseLost() override;
};

/// @brief RF007: drop_tenant without force on a tenant whose store holds events, documents or
/// projections; nothing was dropped.
class RILLFLOW_EXPORT TenantNotEmpty : public Error {
  public:
    using Error::Error;
    ~TenantNotEmpty() override;
};

/// @brief RF008: an append to an archived stream with rillflow.archive_redirect off
/// (StoreBuilder::archive_redirect_enabled(false)); nothing was appended.
class RILLFLOW_EXPORT StreamArchived : public Error {
  public:
    using Error::Error;
    ~StreamArchived() override;
};

/// @brief Bad input: SQLSTATE class 22 (data exceptions such as 22023, 22P02, 22004) and the
/// class 42 syntax and undefined-object errors; also raised by the client for bad arguments.
class RILLFLOW_EXPORT InvalidArgument : public Error {
  public:
    using Error::Error;
    ~InvalidArgument() override;
};

/// @brief The connection could not be opened, was lost, or timed out: SQLSTATE class 08, the
/// server shutting the session down (57P01..57P03), too many connections (53300), a pool that
/// had no connection free in time, or any statement after which the connection is unusable.
class RILLFLOW_EXPORT ConnectionError : public Error {
  public:
    using Error::Error;
    ~ConnectionError() override;
};

/// @brief Any other error the server reported (constraint violations, serialization
/// failures, permission errors, a transaction used after it ended...).
class RILLFLOW_EXPORT SqlError : public Error {
  public:
    using Error::Error;
    ~SqlError() override;
};

/// @brief Throws the exception type that `sqlstate` maps to; the one place that does so.
[[noreturn]] RILLFLOW_EXPORT void throw_error(std::string sqlstate, std::string message,
                                              std::string detail = {}, std::string hint = {});

}  // namespace rillflow
