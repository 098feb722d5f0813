// Editing the AWS CLI's config file (~/.aws/config) for `apono access use --aws-profile`: one
// profile section is written, every other byte of the file stays as it was. Sections are found
// the way botocore's configloader (on Python's configparser) finds them, so the section edited
// is the one `aws --profile NAME` reads.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apono::cli {

/// `key = value` lines of one profile, in the order they are written.
using aws_settings = std::vector<std::pair<std::string, std::string>>;

/// Returns `text` with profile `profile` holding exactly `settings`. The section is
/// `[profile NAME]`, or `[default]` for `default`. An existing section is edited in place (its
/// body replaced, the comments and blank lines before the next section kept); when several
/// sections name the profile, the last one, which botocore uses, is edited. Otherwise the section
/// is appended after one blank line. Throws std::invalid_argument for a profile name, key or value
/// the file cannot hold, and std::runtime_error ("aws config: ...") for a file that botocore
/// would reject or that apono cannot edit without changing other settings.
[[nodiscard]] std::string upsert_aws_profile(std::string_view text, std::string_view profile,
                                             const aws_settings& settings);

/// $AWS_CONFIG_FILE (a leading `~/` expanded) if set, else $HOME/.aws/config.
[[nodiscard]] std::filesystem::path aws_config_path();

/// Writes profile `profile` into aws_config_path() with upsert_aws_profile, 0600 via
/// edit_private_file, and returns that path. Throws like upsert_aws_profile, runtime errors
/// prefixed with the file name; the file is left untouched then.
std::filesystem::path write_aws_profile(std::string_view profile, const aws_settings& settings);

}  // namespace apono::cli
