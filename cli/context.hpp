// cli/context.hpp: what every rillflow command shares: the global options, the store
// (opened on first use), the output mode, and the errors the CLI raises itself.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <rillflow/rillflow.hpp>

namespace rillflow::cli {

/// @brief A mistake in how the command was called (exit 2), found after CLI11's parse.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// @brief A stream named on the command line: a uuid, or an alias resolved to one.
struct StreamRef {
    Uuid id;
    std::optional<std::string> alias;
};

/// @brief The global options and the store every command acts on.
class Context {
  public:
    std::string database_url;
    std::string tenant;
    /// @brief Whether --tenant or --schema named a store on the command line.
    bool one_store_named = false;
    bool json = false;

    /// @brief The store, connected on first use with --database-url and --tenant.
    /// @throws UsageError when no database URL was given; ConnectionError.
    const Store& store();

    /// @brief `text` as a stream id when it is a uuid, else as an alias resolved (and
    /// created on first use) by the server.
    StreamRef stream(const std::string& text);

  private:
    std::optional<Store> store_;
};

/// @brief A command's action, run after a successful parse; returns the exit code.
using Action = std::function<int()>;

/// @brief The subcommands that have actions, in the order they were added.
class Commands {
  public:
    /// @brief Registers `action` for `command`.
    void add(CLI::App* command, Action action) {
        actions_.emplace_back(command, std::move(action));
    }
    /// @brief The action of the command that was parsed, if any.
    const Action* parsed() const {
        for (const auto& [command, action] : actions_)
            if (command->parsed()) return &action;
        return nullptr;
    }

  private:
    std::vector<std::pair<CLI::App*, Action>> actions_;
};

/// @brief A CLI11 check that an integer option is at least `min`.
CLI::Validator at_least(long long min);

// Input the CLI refuses for the reasons the server would: throws the Error the server would
// raise, with its SQLSTATE.
[[noreturn]] void invalid(const std::string& sqlstate, const std::string& message,
                          const std::string& hint = {});

// `text` parsed as JSON; 22P02 (what PostgreSQL says about text that is not valid jsonb)
// naming `what` when it is not, with a hint showing `example` quoted for the shell.
nlohmann::json parse_json(const std::string& text, const std::string& what,
                          const std::string& example);

void add_streams_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_events_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_tenants_commands(CLI::App& app, Context& ctx, Commands& commands);
// `tenants archive` and `tenants restore` (tenant_archive.cpp), under `tenants`.
void add_tenant_archive_commands(CLI::App& tenants, Context& ctx, Commands& commands);
void add_docs_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_projections_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_subscriptions_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_upcasters_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_snapshots_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_schema_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_maintenance_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_observe_commands(CLI::App& app, Context& ctx, Commands& commands);
void add_archive_commands(CLI::App& app, Context& ctx, Commands& commands);

}  // namespace rillflow::cli
