// errors.cpp: the exception types, and the one mapping from SQLSTATE to exception type.
#include "rillflow/errors.hpp"

#include <string_view>
#include <utility>

namespace rillflow {
namespace {

std::string describe(const std::string& sqlstate, const std::string& message,
                     const std::string& detail, const std::string& hint) {
    std::string text = message;
    if (!sqlstate.empty()) text += " (SQLSTATE " + sqlstate + ")";
    if (!detail.empty()) text += "; detail: " + detail;
    if (!hint.empty()) text += "; hint: " + hint;
    return text;
}

// Class 42 errors that come from bad input (a malformed statement or a name that does not
// exist), as opposed to permission or object-state problems in the same class.
bool is_bad_input_42(std::string_view s) {
    static constexpr std::string_view codes[] = {
        sqlstate::syntax_error,        sqlstate::invalid_name,
        sqlstate::name_too_long,       sqlstate::undefined_column,
        sqlstate::undefined_object,    sqlstate::ambiguous_function,
        sqlstate::datatype_mismatch,   sqlstate::cannot_coerce,
        sqlstate::undefined_function,  sqlstate::undefined_table,
        sqlstate::undefined_parameter, sqlstate::indeterminate_datatype,
    };
    for (std::string_view code : codes) {
        if (s == code) return true;
    }
    return false;
}

// Throws an E made of the four parts (moved from).
template <typename E>
[[noreturn]] void throw_as(std::string& code, std::string& message, std::string& detail,
                           std::string& hint) {
    throw E(std::move(code), std::move(message), std::move(detail), std::move(hint));
}

}  // namespace

Error::Error(std::string sqlstate, std::string message, std::string detail, std::string hint)
    : std::runtime_error(describe(sqlstate, message, detail, hint)),
      sqlstate_(std::move(sqlstate)),
      message_(std::move(message)),
      detail_(std::move(detail)),
      hint_(std::move(hint)) {}

// Out-of-line destructors anchor each type's vtable and type_info in the library, so a
// catch in the application matches what the library throws.
Error::~Error() = default;
VersionConflict::~VersionConflict() = default;
IdempotencyConflict::~IdempotencyConflict() = default;
DocumentVersionConflict::~DocumentVersionConflict() = default;
NotFound::~NotFound() = default;
TenantNotFound::~TenantNotFound() = default;
LeaseLost::~LeaseLost() = default;
TenantNotEmpty::~TenantNotEmpty() = default;
StreamArchived::~StreamArchived() = default;
InvalidArgument::~InvalidArgument() = default;
ConnectionError::~ConnectionError() = default;
SqlError::~SqlError() = default;

void throw_error(std::string code, std::string message, std::string detail, std::string hint) {
    const std::string_view s = code;
    const std::string_view cls = s.substr(0, 2);
    if (s == sqlstate::version_conflict) throw_as<VersionConflict>(code, message, detail, hint);
    if (s == sqlstate::idempotency_conflict)
        throw_as<IdempotencyConflict>(code, message, detail, hint);
    if (s == sqlstate::document_version_conflict)
        throw_as<DocumentVersionConflict>(code, message, detail, hint);
    if (s == sqlstate::not_found) throw_as<NotFound>(code, message, detail, hint);
    if (s == sqlstate::tenant_not_found) throw_as<TenantNotFound>(code, message, detail, hint);
    if (s == sqlstate::lease_lost) throw_as<LeaseLost>(code, message, detail, hint);
    if (s == sqlstate::tenant_not_empty) throw_as<TenantNotEmpty>(code, message, detail, hint);
    if (s == sqlstate::stream_archived) throw_as<StreamArchived>(code, message, detail, hint);
    if (cls == "22" || (cls == "42" && is_bad_input_42(s)))
        throw_as<InvalidArgument>(code, message, detail, hint);
    if (cls == "08" || s == sqlstate::admin_shutdown || s == sqlstate::crash_shutdown ||
        s == sqlstate::cannot_connect_now || s == sqlstate::too_many_connections)
        throw_as<ConnectionError>(code, message, detail, hint);
    throw_as<SqlError>(code, message, detail, hint);
}

}  // namespace rillflow
