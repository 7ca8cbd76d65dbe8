// cli/context.cpp: the store behind every command, opened on first use.
#include "context.hpp"

#include <string>

namespace rillflow::cli {

const Store& Context::store() {
    if (!store_) {
        if (database_url.empty())
            throw UsageError("no database given: pass --database-url or set DATABASE_URL");
        // One command runs one call at a time: a pool of one connection is enough.
        auto builder = Store::builder(database_url).max_connections(1);
        if (!tenant.empty()) builder.tenant(tenant);
        store_ = builder.build();
    }
    return *store_;
}

StreamRef Context::stream(const std::string& text) {
    if (auto id = Uuid::try_parse(text)) return StreamRef{*id, std::nullopt};
    return StreamRef{store().resolve_stream_alias(text), text};
}

CLI::Validator at_least(long long min) {
    return CLI::Validator(
        [min](std::string& value) -> std::string {
            size_t used = 0;
            long long n = 0;
            try {
                n = std::stoll(value, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != value.size()) return "not an integer: " + value;
            if (n < min) return "must be at least " + std::to_string(min) + ", not " + value;
            return {};
        },
        min == 0 ? "N>=0" : "N>=" + std::to_string(min));
}

void invalid(const std::string& sqlstate, const std::string& message, const std::string& hint) {
    throw_error(sqlstate, message, {}, hint);
}

nlohmann::json parse_json(const std::string& text, const std::string& what,
                          const std::string& example) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        std::string why = e.what();
        auto at = why.find("parse error");
        invalid(sqlstate::invalid_text_representation,
                what + " is not valid JSON: " + why.substr(at == std::string::npos ? 0 : at),
                "Quote the JSON for the shell, e.g. " + example + ".");
    }
}

}  // namespace rillflow::cli
