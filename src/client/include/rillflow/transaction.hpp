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

class Savepoint;

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
    /// @brief Sets a savepoint (libpqxx's subtransaction): what runs after it is kept by
    /// Savepoint::release() and undone by Savepoint::rollback() or by the guard's destructor,
    /// which leaves the transaction usable after a failed statement. Savepoints nest.
    [[nodiscard]] Savepoint savepoint();
    /// @brief True until commit() or rollback() (or a move away).
    [[nodiscard]] bool active() const noexcept;
    /// @brief The event API inside this transaction; valid while the transaction is active.
    [[nodiscard]] Events events() const;
    /// @brief The document API on `collection` inside this transaction; valid while the
    /// transaction is active.
    [[nodiscard]] Documents docs(std::string collection = std::string(kDefaultCollection)) const;
    /// @brief The server process id of this transaction's connection (for diagnostics).
    [[nodiscard]] int backend_pid() const;

  private:
    friend class Store;
    friend class Session;
    Transaction(std::shared_ptr<detail::StoreState> store, Isolation isolation);
    void end() noexcept;
    detail::TxState& state() const;

    std::shared_ptr<detail::StoreState> store_;
    std::shared_ptr<detail::TxState> state_;
};

/// @brief A savepoint guard, from Transaction::savepoint(). release() keeps the work done since
/// it was set (RELEASE SAVEPOINT); rollback(), or destruction without release(), undoes it
/// (ROLLBACK TO SAVEPOINT, then RELEASE). Movable, not copyable; use it from the
/// transaction's thread.
class RILLFLOW_EXPORT Savepoint {
  public:
    Savepoint(const Savepoint&) = delete;
    Savepoint& operator=(const Savepoint&) = delete;
    /// @brief Takes over the savepoint; `other` is left ended.
    Savepoint(Savepoint&& other) noexcept;
    /// @brief Rolls back to this savepoint if still open, then takes over `other`'s.
    Savepoint& operator=(Savepoint&& other) noexcept;
    /// @brief Rolls back to the savepoint unless released or rolled back; never throws.
    ~Savepoint();

    /// @brief Keeps what was done since the savepoint. @throws SqlError (25000) when it or its
    /// transaction has ended; the server's error (then the savepoint stays open, to be rolled
    /// back) when RELEASE fails, e.g. after a failed statement.
    void release();
    /// @brief Undoes what was done since the savepoint; the transaction goes on.
    /// @throws SqlError (25000) when it or its transaction has ended.
    void rollback();
    /// @brief True until release() or rollback() (or a move away, or its transaction's end).
    [[nodiscard]] bool active() const noexcept;

  private:
    friend class Transaction;
    friend class Documents;
    Savepoint(std::shared_ptr<detail::TxState> tx, std::string name) noexcept
        : tx_(std::move(tx)), name_(std::move(name)), active_(true) {}
    // SAVEPOINT on `tx`'s connection, which must be in an active transaction.
    static Savepoint set(std::shared_ptr<detail::TxState> tx);
    void undo(detail::TxState& tx);
    void end() noexcept;
    detail::TxState& state() const;

    std::shared_ptr<detail::TxState> tx_;
    std::string name_;
    bool active_ = false;
};

}  // namespace rillflow
