// rillflow/uuid.hpp: a 16-byte UUID value type (stream ids, event ids, causation ids).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "rillflow/export.hpp"

namespace rillflow {

/// @brief A UUID: 16 bytes, compared and hashed by value. The default value is the nil UUID.
class RILLFLOW_EXPORT Uuid {
  public:
    /// @brief The raw bytes, in network (text) order.
    using Bytes = std::array<std::uint8_t, 16>;

    /// @brief The nil UUID (all zero).
    constexpr Uuid() noexcept : bytes_{} {}
    /// @brief A UUID with the given bytes.
    explicit constexpr Uuid(const Bytes& bytes) noexcept : bytes_(bytes) {}

    /// @brief Parses `8-4-4-4-12` hex (any case), optionally in braces, or 32 hex digits.
    /// @throws InvalidArgument (SQLSTATE 22P02) when `text` is not a UUID.
    static Uuid parse(std::string_view text);
    /// @brief Like parse(), but returns std::nullopt instead of throwing.
    static std::optional<Uuid> try_parse(std::string_view text) noexcept;
    /// @brief A random (version 4) UUID from the operating system's random source.
    static Uuid random();
    /// @brief The nil UUID.
    static constexpr Uuid nil() noexcept { return Uuid(); }

    /// @brief True for the nil UUID.
    bool is_nil() const noexcept;
    /// @brief The canonical lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` text.
    std::string to_string() const;
    /// @brief The raw bytes.
    const Bytes& bytes() const noexcept { return bytes_; }

    friend bool operator==(const Uuid& a, const Uuid& b) noexcept { return a.bytes_ == b.bytes_; }
    friend bool operator!=(const Uuid& a, const Uuid& b) noexcept { return a.bytes_ != b.bytes_; }
    friend bool operator<(const Uuid& a, const Uuid& b) noexcept { return a.bytes_ < b.bytes_; }
    friend bool operator<=(const Uuid& a, const Uuid& b) noexcept { return a.bytes_ <= b.bytes_; }
    friend bool operator>(const Uuid& a, const Uuid& b) noexcept { return a.bytes_ > b.bytes_; }
    friend bool operator>=(const Uuid& a, const Uuid& b) noexcept { return a.bytes_ >= b.bytes_; }

  private:
    Bytes bytes_;
};

/// @brief Writes the canonical text form.
RILLFLOW_EXPORT std::ostream& operator<<(std::ostream& out, const Uuid& uuid);

/// @brief nlohmann::json conversion: a UUID is a JSON string in canonical form.
RILLFLOW_EXPORT void to_json(nlohmann::json& j, const Uuid& uuid);
/// @brief nlohmann::json conversion from a JSON string; throws InvalidArgument otherwise.
RILLFLOW_EXPORT void from_json(const nlohmann::json& j, Uuid& uuid);

}  // namespace rillflow

/// @brief Hashes a UUID by its bytes, so it can key unordered containers.
template <>
struct std::hash<rillflow::Uuid> {
    std::size_t operator()(const rillflow::Uuid& uuid) const noexcept {
        std::uint64_t h = 14695981039346656037ULL;  // FNV-1a
        for (std::uint8_t b : uuid.bytes()) {
            h ^= b;
            h *= 1099511628211ULL;
        }
        return static_cast<std::size_t>(h);
    }
};
