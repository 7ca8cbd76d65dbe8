// rillflow/transaction.hpp: an RAII database transaction on one pooled connection.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "rillflow/documents.hpp"
#include "rillflow/events.hpp"
#include "rillflow/export.hpp"
#include "rillflow/sql.hpp"

namespace rillflow {

namespace detail {
struct StoreState;
struct TxState;
}  // namespace detail

/// @brief The isolation level a transaction begins with.
enum class Isolation { ReadCommitted, RepeatableRead, Serializable };

/// @brief A transaction: begins in its constructor (Store::transaction()), rolls back in its
/// destructor unless commit() was called. It holds one pooled connection until it ends.
/// Movable, not copyable; use it from one thread at a time.
class RILLFLOW_EXPORT Transaction {
  public:
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    /// @brief Takes over the transaction; `other` is left ended.
    Transaction(Transaction&& other) noexcept = default;
    /// @brief Rolls back this transaction if still open, then takes over `other`'s.
    Transaction& operator=(Transaction&& other) noexcept;
    /// @brief Rolls back unless committed or rolled back already; never throws.
    ~Transaction();

    /// @brief Runs one statement with bound parameters (`$1` = params[0]) in this transaction.
    /// @throws the Error subtype of the server's SQLSTATE; after an error the transaction can
    /// only be rolled back.
    Result exec(std::string_view sql, const Params& params = {});

    /// @brief Commits. @throws SqlError (25P02) when an earlier statement failed and the server
    /// rolled back instead; ConnectionError when the outcome is unknown.
    void commit();
    /// @brief Rolls back now (the destructor then does nothing).
    void rollback();
    /// @brief True until commit() or rollback() (or a move away).
    bool active() const noexcept;
    /// @brief The event API inside this transaction; valid while the transaction is active.
    Events events() const;
    /// @brief The document API on `collection` inside this transaction; valid while the
    /// transaction is active.
    Documents docs(std::string collection = std::string(kDefaultCollection)) const;
    /// @brief The server process id of this transaction's connection (for diagnostics).
    int backend_pid() const;

  private:
    friend class Store;
    friend class Session;
    Transaction(std::shared_ptr<detail::StoreState> store, Isolation isolation);
    void end() noexcept;
    detail::TxState& state() const;

    std::shared_ptr<detail::StoreState> store_;
    std::shared_ptr<detail::TxState> state_;
};

}  // namespace rillflow
