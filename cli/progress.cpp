// cli/progress.cpp: the progress line (progress.hpp).
#include "progress.hpp"

#include <unistd.h>

#include <iostream>

#include "context.hpp"

namespace rillflow::cli {

Progress::Progress(const Context& ctx, std::string label) : Progress(!ctx.json, std::move(label)) {}

Progress::Progress(bool enabled, std::string label)
    : active_(enabled && isatty(STDERR_FILENO) == 1), label_(std::move(label)) {}

Progress::~Progress() { done(); }

void Progress::update(const std::string& text) {
    if (!active_ || ended_) return;
    pending_ = text;
    const auto now = std::chrono::steady_clock::now();
    if (last_ && now - *last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    draw(text);
}

void Progress::count(std::int64_t done, std::int64_t total, const std::string& unit) {
    std::string text = std::to_string(done);
    if (total > 0) {
        text += "/" + std::to_string(total) + " " + unit + " (" +
                std::to_string(done * 100 / total) + "%)";
    } else {
        text += " " + unit;
    }
    update(text);
}

void Progress::draw(const std::string& text) {
    std::string line = label_ + ": " + text;
    const std::size_t width = line.size();
    if (width < width_) line.append(width_ - width, ' ');
    width_ = width;
    std::cerr << '\r' << line << std::flush;
    drawn_ = true;
}

void Progress::done() {
    if (!active_ || ended_) return;
    if (!pending_.empty()) draw(pending_);
    if (drawn_) std::cerr << '\n' << std::flush;
    ended_ = true;
}

}  // namespace rillflow::cli
