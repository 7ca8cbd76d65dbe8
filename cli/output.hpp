// cli/output.hpp: how the CLI prints events and values, for people and as JSON.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <rillflow/rillflow.hpp>

namespace rillflow::cli {

/// @brief JSON as the CLI prints it: keys in the order they were added.
using Json = nlohmann::ordered_json;

/// @brief Every column of the envelope, in the envelope's order; absent ids and positions
/// are JSON null.
Json to_json(const EventEnvelope& e);

/// @brief One line for a person: position, stream and version, type, time, compact body.
std::string to_line(const EventEnvelope& e);

/// @brief Writes `doc` on one line (a JSON Lines record) or pretty-printed, then a newline.
void print_json(const Json& doc, bool one_line = false);

/// @brief Writes `text` and a newline to stdout.
void print_line(const std::string& text);

}  // namespace rillflow::cli
