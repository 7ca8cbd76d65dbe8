// value.cpp: reading the text the server sends back into C++ values.
#include "value.hpp"

#include <charconv>
#include <string>

#include "rillflow/errors.hpp"

namespace rillflow::detail {

std::string_view single(const Result& result, std::string_view function) {
    if (result.size() != 1 || result.columns() != 1) {
        throw SqlError(sqlstate::internal_error,
                       "rillflow." + std::string(function) + " returned " +
                           std::to_string(result.size()) + " rows of " +
                           std::to_string(result.columns()) + " columns, expected one value");
    }
    return result.value(0, 0);
}

std::int64_t to_int64(std::string_view text) {
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) {
        throw SqlError(sqlstate::internal_error,
                       "expected an integer from the server, got \"" + std::string(text) + "\"");
    }
    return value;
}

Uuid to_uuid(std::string_view text) {
    if (auto uuid = Uuid::try_parse(text)) return *uuid;
    throw SqlError(sqlstate::internal_error,
                   "expected a UUID from the server, got \"" + std::string(text) + "\"");
}

std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

}  // namespace rillflow::detail
