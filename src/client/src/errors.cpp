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
        "42601",  // syntax_error
        "42602",  // invalid_name
        "42622",  // name_too_long
        "42703",  // undefined_column
        "42704",  // undefined_object
        "42725",  // ambiguous_function
        "42804",  // datatype_mismatch
        "42846",  // cannot_coerce
        "42883",  // undefined_function
        "42P01",  // undefined_table
        "42P02",  // undefined_parameter
        "42P18",  // indeterminate_datatype
    };
    for (std::string_view code : codes) {
        if (s == code) return true;
    }
    return false;
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
InvalidArgument::~InvalidArgument() = default;
ConnectionError::~ConnectionError() = default;
SqlError::~SqlError() = default;

void throw_error(std::string sqlstate, std::string message, std::string detail, std::string hint) {
    const std::string_view s = sqlstate;
    const std::string_view cls = s.substr(0, 2);
    if (s == "RF001")
        throw VersionConflict(std::move(sqlstate), std::move(message), std::move(detail),
                              std::move(hint));
    if (s == "RF002")
        throw IdempotencyConflict(std::move(sqlstate), std::move(message), std::move(detail),
                                  std::move(hint));
    if (s == "RF003")
        throw DocumentVersionConflict(std::move(sqlstate), std::move(message), std::move(detail),
                                      std::move(hint));
    if (s == "RF004")
        throw NotFound(std::move(sqlstate), std::move(message), std::move(detail), std::move(hint));
    if (s == "RF005")
        throw TenantNotFound(std::move(sqlstate), std::move(message), std::move(detail),
                             std::move(hint));
    if (s == "RF006")
        throw LeaseLost(std::move(sqlstate), std::move(message), std::move(detail),
                        std::move(hint));
    if (cls == "22" || (cls == "42" && is_bad_input_42(s))) {
        throw InvalidArgument(std::move(sqlstate), std::move(message), std::move(detail),
                              std::move(hint));
    }
    if (cls == "08" || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300") {
        throw ConnectionError(std::move(sqlstate), std::move(message), std::move(detail),
                              std::move(hint));
    }
    throw SqlError(std::move(sqlstate), std::move(message), std::move(detail), std::move(hint));
}

}  // namespace rillflow
