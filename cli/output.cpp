// cli/output.cpp: formatting events and values for stdout.
#include "output.hpp"

#include <ctime>
#include <iostream>

namespace rillflow::cli {

namespace {

// Never throws on text that is not UTF-8: such bytes print as U+FFFD.
template <typename J>
std::string dump(const J& j, int indent = -1) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Json to_json(const EventEnvelope& e) {
    Json j;
    j["position"] = e.position ? Json(*e.position) : Json(nullptr);
    j["stream_id"] = e.stream_id.to_string();
    j["version"] = e.version;
    j["type"] = e.type;
    j["event_version"] = e.event_version;
    j["body"] = e.body;
    j["headers"] = e.headers;
    j["event_id"] = e.event_id.to_string();
    j["causation_id"] = e.causation_id ? Json(e.causation_id->to_string()) : Json(nullptr);
    j["correlation_id"] = e.correlation_id ? Json(e.correlation_id->to_string()) : Json(nullptr);
    j["created_at"] = format_timestamp(e.created_at);
    return j;
}

std::string to_line(const EventEnvelope& e) {
    std::string line = e.position ? "#" + std::to_string(*e.position) : "#-";
    line += "  " + e.stream_id.to_string() + "@" + std::to_string(e.version);
    line += "  " + e.type;
    if (e.event_version != 1) line += " (v" + std::to_string(e.event_version) + ")";
    line += "  " + format_timestamp(e.created_at);
    line += "  " + dump(e.body);
    if (!e.headers.empty()) line += "  headers=" + dump(e.headers);
    return line;
}

void print_json(const Json& doc, bool one_line) {
    std::cout << dump(doc, one_line ? -1 : 2) << '\n';
}

void print_line(const std::string& text) { std::cout << text << '\n'; }

}  // namespace rillflow::cli
