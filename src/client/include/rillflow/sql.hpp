// rillflow/sql.hpp: bound statement parameters and statement results, both as text.
//
// The client sends every value as a bound text parameter (never pasted into SQL) and reads
// every value back as text; SQL casts (`$1::uuid`, `$2::jsonb`) give the types.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "rillflow/export.hpp"
#include "rillflow/uuid.hpp"

struct pg_result;  // libpq's PGresult; opaque here

namespace rillflow {

namespace detail {
class Connection;
}

/// @brief One bound parameter: SQL NULL or a value in PostgreSQL's text form.
class RILLFLOW_EXPORT Param {
  public:
    /// @brief SQL NULL.
    Param(std::nullopt_t) noexcept {}  // NOLINT(google-explicit-constructor)
    /// @brief Text, sent as is.
    Param(std::string value) : value_(std::move(value)) {}  // NOLINT
    /// @brief Text, sent as is.
    Param(std::string_view value) : value_(std::string(value)) {}  // NOLINT
    /// @brief Text, sent as is; a null pointer is SQL NULL.
    Param(const char* value) {  // NOLINT
        if (value != nullptr) value_ = value;
    }
    /// @brief `true` or `false`.
    Param(bool value) : value_(value ? "true" : "false") {}  // NOLINT
    /// @brief An integer in decimal.
    template <typename T,
              std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Param(T value) : value_(std::to_string(value)) {}  // NOLINT
    /// @brief A floating-point number, with enough digits to read back exactly.
    Param(double value);  // NOLINT
    /// @brief A UUID in canonical form.
    Param(const Uuid& value) : value_(value.to_string()) {}  // NOLINT
    /// @brief A JSON document (serialised; cast it with `::jsonb` in SQL).
    Param(const nlohmann::json& value) : value_(value.dump()) {}  // NOLINT
    /// @brief The contained value, or SQL NULL when empty.
    template <typename T>
    Param(const std::optional<T>& value)  // NOLINT
        : Param(value ? Param(*value) : Param(std::nullopt)) {}

    /// @brief SQL NULL.
    static Param null() noexcept { return Param(std::nullopt); }
    /// @brief True for SQL NULL.
    bool is_null() const noexcept { return !value_.has_value(); }
    /// @brief The text sent to the server; empty for NULL.
    const std::string& text() const noexcept;

  private:
    std::optional<std::string> value_;
};

/// @brief The parameters of one statement: `$1` is the first element.
using Params = std::vector<Param>;

/// @brief The rows of one statement, all values as text. Cheap to copy (shared, immutable).
class RILLFLOW_EXPORT Result {
  public:
    /// @brief An empty result with no rows and no columns.
    Result() = default;

    /// @brief The number of rows.
    [[nodiscard]] std::size_t size() const noexcept;
    /// @brief True when there are no rows.
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    /// @brief The number of columns.
    [[nodiscard]] std::size_t columns() const noexcept;
    /// @brief The name of a column. @throws std::out_of_range
    [[nodiscard]] std::string column_name(std::size_t column) const;
    /// @brief The index of the column with this name, if any.
    [[nodiscard]] std::optional<std::size_t> column_index(std::string_view name) const;

    /// @brief True when the value is SQL NULL. @throws std::out_of_range
    [[nodiscard]] bool is_null(std::size_t row, std::size_t column) const;
    /// @brief The value as text, or std::nullopt for NULL. @throws std::out_of_range
    [[nodiscard]] std::optional<std::string> get(std::size_t row, std::size_t column) const;
    /// @brief The value as text, empty for NULL; valid while this Result (or a copy) lives.
    /// @throws std::out_of_range
    [[nodiscard]] std::string_view value(std::size_t row, std::size_t column) const;

    /// @brief Rows affected by INSERT/UPDATE/DELETE/..., 0 when not applicable.
    [[nodiscard]] std::int64_t affected_rows() const;
    /// @brief The command tag, e.g. "INSERT 0 1" or "COMMIT".
    [[nodiscard]] std::string command_status() const;

  private:
    friend class detail::Connection;
    explicit Result(std::shared_ptr<pg_result> result) : result_(std::move(result)) {}
    void check(std::size_t row, std::size_t column) const;

    std::shared_ptr<pg_result> result_;
};

/// @brief A time as the server reads and the CLI prints it: ISO 8601 in UTC with microseconds,
/// e.g. "2026-11-21T16:00:00.000000Z".
RILLFLOW_EXPORT std::string format_timestamp(std::chrono::system_clock::time_point t);

}  // namespace rillflow
