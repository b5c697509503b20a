// CLI11's App, declared for the headers that take one: the .cc files include <CLI/CLI.hpp>, a
// header of about 10 s of compile time, so that including a command's header does not pull it in.
#pragma once

namespace CLI {
class App;
}  // namespace CLI
