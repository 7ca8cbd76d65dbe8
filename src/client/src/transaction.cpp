// transaction.cpp: BEGIN in the constructor, ROLLBACK in the destructor unless committed; and
// savepoints the same way: SAVEPOINT when set, ROLLBACK TO in the destructor unless released.
#include "rillflow/transaction.hpp"

#include <utility>

#include "pool.hpp"
#include "rillflow/errors.hpp"

namespace rillflow {
namespace {

const char* begin_statement(Isolation isolation) {
    switch (isolation) {
        case Isolation::RepeatableRead:
            return "BEGIN ISOLATION LEVEL REPEATABLE READ";
        case Isolation::Serializable:
            return "BEGIN ISOLATION LEVEL SERIALIZABLE";
        case Isolation::ReadCommitted:
            break;
    }
    return "BEGIN ISOLATION LEVEL READ COMMITTED";
}

}  // namespace

Transaction::Transaction(std::shared_ptr<detail::StoreState> store, Isolation isolation)
    : store_(std::move(store)), state_(std::make_shared<detail::TxState>()) {
    state_->lease = detail::acquire(*store_);
    state_->lease->exec(begin_statement(isolation));
    state_->active = true;
}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
    if (this != &other) {
        end();
        store_ = std::move(other.store_);
        state_ = std::move(other.state_);
    }
    return *this;
}

Transaction::~Transaction() { end(); }

// Rolls back if still open. A connection on which ROLLBACK fails is not trusted again.
void Transaction::end() noexcept {
    if (!state_ || !state_->active) return;
    state_->active = false;
    try {
        state_->lease->exec("ROLLBACK");
    } catch (...) {
        state_->lease->mark_broken();
    }
    state_->lease.release();
}

detail::TxState& Transaction::state() const {
    if (!state_ || !state_->active) {
        throw SqlError(sqlstate::invalid_transaction_state, "the transaction has ended",
                       "It was committed, rolled back or moved from.");
    }
    return *state_;
}

Result Transaction::exec(std::string_view sql, const Params& params) {
    return state().lease->exec(sql, params);
}

void Transaction::commit() {
    detail::TxState& tx = state();
    tx.active = false;
    Result r;
    try {
        r = tx.lease->exec("COMMIT");
    } catch (...) {
        tx.lease->mark_broken();  // the outcome of a failed COMMIT is unknown
        tx.lease.release();
        throw;
    }
    tx.lease.release();
    // COMMIT of a transaction in which a statement failed succeeds as a ROLLBACK.
    if (r.command_status() == "ROLLBACK") {
        throw SqlError(sqlstate::in_failed_sql_transaction,
                       "the transaction was rolled back, not committed",
                       "A statement in it failed earlier.");
    }
}

void Transaction::rollback() {
    detail::TxState& tx = state();
    tx.active = false;
    try {
        tx.lease->exec("ROLLBACK");
    } catch (...) {
        tx.lease->mark_broken();
        tx.lease.release();
        throw;
    }
    tx.lease.release();
}

bool Transaction::active() const noexcept { return state_ && state_->active; }

Savepoint Transaction::savepoint() {
    state();
    return Savepoint::set(state_);
}

Events Transaction::events() const {
    state();
    return Events(store_, state_);
}

Documents Transaction::docs(std::string collection) const {
    state();
    return Documents(store_, state_, std::move(collection));
}

int Transaction::backend_pid() const { return state().lease->backend_pid(); }

// ---- savepoints ------------------------------------------------------------------------------

Savepoint::Savepoint(Savepoint&& other) noexcept
    : tx_(std::move(other.tx_)),
      name_(std::move(other.name_)),
      active_(std::exchange(other.active_, false)) {}

Savepoint& Savepoint::operator=(Savepoint&& other) noexcept {
    if (this != &other) {
        end();
        tx_ = std::move(other.tx_);
        name_ = std::move(other.name_);
        active_ = std::exchange(other.active_, false);
    }
    return *this;
}

Savepoint::~Savepoint() { end(); }

Savepoint Savepoint::set(std::shared_ptr<detail::TxState> tx) {
    std::string name = "rillflow_savepoint_" + std::to_string(++tx->savepoints);
    tx->lease->exec("SAVEPOINT " + name);
    return Savepoint(std::move(tx), std::move(name));
}

// Rolls back to the savepoint and lets go of it, so a transaction that rolls back many
// savepoints does not pile up subtransactions on the server.
void Savepoint::undo(detail::TxState& tx) {
    tx.lease->exec("ROLLBACK TO SAVEPOINT " + name_);
    tx.lease->exec("RELEASE SAVEPOINT " + name_);
}

// Rolls back to the savepoint if still open. When that fails the transaction is past saving
// anyway: its own end (ROLLBACK) decides what becomes of the connection.
void Savepoint::end() noexcept {
    if (!active()) return;
    active_ = false;
    try {
        undo(*tx_);
    } catch (...) {
    }
}

detail::TxState& Savepoint::state() const {
    if (!active()) {
        throw SqlError(sqlstate::invalid_transaction_state, "the savepoint has ended",
                       "It was released or rolled back, moved from, or its transaction ended.");
    }
    return *tx_;
}

void Savepoint::release() {
    state().lease->exec("RELEASE SAVEPOINT " + name_);
    active_ = false;
}

void Savepoint::rollback() {
    detail::TxState& tx = state();
    active_ = false;
    undo(tx);
}

bool Savepoint::active() const noexcept { return active_ && tx_ && tx_->active; }

}  // namespace rillflow
