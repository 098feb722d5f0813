// Process-wide logging setup (spdlog to stderr). Callers never pass secrets to the logger.
#pragma once

#include <string_view>

namespace apono::common {

/// Sets up stderr logging at `level` (trace, debug, info, warn, error); unknown means info.
void setup_logging(std::string_view program, std::string_view level);

}  // namespace apono::common
