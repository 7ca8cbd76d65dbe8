// cli/projections.cpp: the `rillflow projections` commands.
#include "context.hpp"

namespace rillflow::cli {

void add_projections_commands(CLI::App& /*app*/, Context& /*ctx*/, Commands& /*commands*/) {}

}  // namespace rillflow::cli
