// uuid.cpp: parsing, printing and random generation of UUIDs.
#include "rillflow/uuid.hpp"

#include <ostream>
#include <random>

#include <nlohmann/json.hpp>

#include "rillflow/errors.hpp"

namespace rillflow {
namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<Uuid> Uuid::try_parse(std::string_view text) noexcept {
    if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
        text = text.substr(1, 36);
    }
    const bool hyphenated = text.size() == 36;
    if (!hyphenated && text.size() != 32) return std::nullopt;
    Bytes bytes{};
    std::size_t out = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (hyphenated && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        const int hi = hex_value(text[i]);
        const int lo = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        if (hi < 0 || lo < 0 || out >= bytes.size()) return std::nullopt;
        bytes[out++] = static_cast<std::uint8_t>(hi * 16 + lo);
        i += 2;
    }
    if (out != bytes.size()) return std::nullopt;
    return Uuid(bytes);
}

Uuid Uuid::parse(std::string_view text) {
    if (auto uuid = try_parse(text)) return *uuid;
    throw InvalidArgument(sqlstate::invalid_text_representation,
                          "invalid UUID: \"" + std::string(text.substr(0, 64)) + "\"",
                          "A UUID is 32 hexadecimal digits, optionally in 8-4-4-4-12 groups.");
}

Uuid Uuid::random() {
    // std::random_device reads the operating system's generator (getrandom or /dev/urandom),
    // so ids from different threads and processes do not collide.
    thread_local std::random_device device;
    Bytes bytes{};
    for (std::size_t i = 0; i < bytes.size(); i += 4) {
        const std::uint32_t word = device();
        for (std::size_t j = 0; j < 4; ++j) {
            bytes[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
        }
    }
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
    return Uuid(bytes);
}

bool Uuid::is_nil() const noexcept {
    for (std::uint8_t b : bytes_) {
        if (b != 0) return false;
    }
    return true;
}

std::string Uuid::to_string() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    text.reserve(36);
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
        text.push_back(digits[bytes_[i] >> 4]);
        text.push_back(digits[bytes_[i] & 0x0F]);
    }
    return text;
}

std::ostream& operator<<(std::ostream& out, const Uuid& uuid) { return out << uuid.to_string(); }

void to_json(nlohmann::json& j, const Uuid& uuid) { j = uuid.to_string(); }

void from_json(const nlohmann::json& j, Uuid& uuid) {
    if (!j.is_string()) {
        throw InvalidArgument(sqlstate::invalid_text_representation,
                              "invalid UUID: expected a JSON string, got " + j.dump());
    }
    uuid = Uuid::parse(j.get_ref<const std::string&>());
}

}  // namespace rillflow
