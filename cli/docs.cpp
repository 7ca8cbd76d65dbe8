// cli/docs.cpp: the `rillflow docs` commands.
#include "context.hpp"

namespace rillflow::cli {

void add_docs_commands(CLI::App& /*app*/, Context& /*ctx*/, Commands& /*commands*/) {}

}  // namespace rillflow::cli
