// value.hpp (private): reading the text the server sends back into C++ values.
#pragma once

#include <cstdint>
#include <string_view>

#include "rillflow/sql.hpp"
#include "rillflow/uuid.hpp"

namespace rillflow::detail {

/// The one value of a one-row, one-column result; an empty view for NULL. Throws SqlError
/// when the shape is wrong (which means the server's API is not the one this client expects).
std::string_view single(const Result& result, std::string_view function);

/// Decimal text to int64; throws SqlError when it is not one.
std::int64_t to_int64(std::string_view text);

/// Canonical UUID text to Uuid; throws SqlError when it is not one.
Uuid to_uuid(std::string_view text);

}  // namespace rillflow::detail
