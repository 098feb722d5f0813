// Writing other programs' config files (~/.aws/config, kubeconfig) in place: atomically, 0600,
// through the symlinks people keep their dotfiles behind, and not at all when an edit refuses.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace apono::cli {

/// The file a write to `path` lands in: `path` with its symlinks resolved, also a dangling one.
[[nodiscard]] std::filesystem::path resolve_write_path(const std::filesystem::path& path);

/// Writes `content` to `path` (through a symlink, to its target) as 0600 via a temp file in the
/// same directory, fsync and rename, creating missing parent directories 0700. Throws
/// std::runtime_error naming the file on failure, leaving the old file as it was.
void write_private_file(const std::filesystem::path& path, std::string_view content);

/// Reads `path` (a missing file reads as empty), passes the text to `edit` and writes the result
/// with write_private_file when it differs. An exception from `edit` propagates, std::runtime_error
/// prefixed with the file name, and nothing is written. Returns true when the file was written.
bool edit_private_file(const std::filesystem::path& path,
                       const std::function<std::string(std::string_view)>& edit);

}  // namespace apono::cli
