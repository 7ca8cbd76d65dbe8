// cli/progress.hpp: progress of a long command on a terminal (rebuild --wait, run-until-idle,
// schema-sync, snapshots run-until-idle, archive run). One line on stderr, rewritten in place,
// only when stderr is a terminal and the output is not --json: scripts and pipes see nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace rillflow::cli {

class Context;

/// @brief One command's progress line. Updates are drawn at most ten times a second (the
/// last one always, by done()); the line ends at done() or in the destructor.
class Progress {
  public:
    /// @brief Progress of `label` ("schema-sync", "rebuild orders"...), shown when `ctx` is
    /// not --json and stderr is a terminal.
    Progress(const Context& ctx, std::string label);
    /// @brief As above, shown when `enabled` (and stderr is a terminal).
    Progress(bool enabled, std::string label);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// @brief Whether anything is drawn at all.
    [[nodiscard]] bool active() const noexcept { return active_; }
    /// @brief Shows `text` after the label.
    void update(const std::string& text);
    /// @brief Shows `done` of `total` (and the percentage), then `unit` ("3/10 stores (30%)").
    void count(std::int64_t done, std::int64_t total, const std::string& unit);
    /// @brief Draws the last text and ends the line (idempotent).
    void done();

  private:
    void draw(const std::string& text);
    bool active_ = false;
    std::string label_;
    std::string pending_;
    std::size_t width_ = 0;  // of the last line drawn, to clear what a shorter one leaves
    bool drawn_ = false, ended_ = false;
    std::optional<std::chrono::steady_clock::time_point> last_;
};

}  // namespace rillflow::cli
