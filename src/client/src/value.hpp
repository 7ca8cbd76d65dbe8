// value.hpp (private): reading the text the server sends back into C++ values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

/// A text[] literal: every element quoted, with backslash and double quote escaped, so any
/// text (commas, braces, NULL) reads back as itself. It is still sent as a bound parameter.
std::string text_array(const std::vector<std::string>& items);

}  // namespace rillflow::detail
