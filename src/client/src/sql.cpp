// sql.cpp: bound parameters and text results.
#include "rillflow/sql.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

#include <libpq-fe.h>

namespace rillflow {

Param::Param(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.17g", value);
    value_ = buffer;
}

const std::string& Param::text() const noexcept {
    static const std::string empty;
    return value_ ? *value_ : empty;
}

std::size_t Result::size() const noexcept {
    return result_ ? static_cast<std::size_t>(PQntuples(result_.get())) : 0;
}

std::size_t Result::columns() const noexcept {
    return result_ ? static_cast<std::size_t>(PQnfields(result_.get())) : 0;
}

std::string Result::column_name(std::size_t column) const {
    if (column >= columns()) throw std::out_of_range("rillflow::Result: no such column");
    return PQfname(result_.get(), static_cast<int>(column));
}

std::optional<std::size_t> Result::column_index(std::string_view name) const {
    for (std::size_t i = 0; i < columns(); ++i) {
        if (name == PQfname(result_.get(), static_cast<int>(i))) return i;
    }
    return std::nullopt;
}

void Result::check(std::size_t row, std::size_t column) const {
    if (row >= size() || column >= columns()) {
        throw std::out_of_range("rillflow::Result: row " + std::to_string(row) + ", column " +
                                std::to_string(column) + " is out of range");
    }
}

bool Result::is_null(std::size_t row, std::size_t column) const {
    check(row, column);
    return PQgetisnull(result_.get(), static_cast<int>(row), static_cast<int>(column)) != 0;
}

std::optional<std::string> Result::get(std::size_t row, std::size_t column) const {
    if (is_null(row, column)) return std::nullopt;
    return std::string(value(row, column));
}

std::string_view Result::value(std::size_t row, std::size_t column) const {
    check(row, column);
    const int r = static_cast<int>(row);
    const int c = static_cast<int>(column);
    return std::string_view(PQgetvalue(result_.get(), r, c),
                            static_cast<std::size_t>(PQgetlength(result_.get(), r, c)));
}

std::int64_t Result::affected_rows() const {
    if (!result_) return 0;
    const char* tuples = PQcmdTuples(result_.get());
    return tuples[0] == '\0' ? 0 : std::strtoll(tuples, nullptr, 10);
}

std::string Result::command_status() const {
    return result_ ? std::string(PQcmdStatus(result_.get())) : std::string();
}

std::string format_timestamp(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
    auto secs = static_cast<std::time_t>(us / 1000000);
    auto frac = static_cast<long>(us % 1000000);
    if (frac < 0) {  // before 1970: floor, not truncate
        frac += 1000000;
        secs -= 1;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", frac);
    return buf;
}

}  // namespace rillflow
