// Secrets: random tokens and passwords, hashing, constant-time comparison, and private files.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace apono::common {

/// A bearer token: `apn_` followed by 256 random bits in base64url.
[[nodiscard]] std::string random_token();
/// A password of `length` characters from [A-Za-z0-9], from the OS's CSPRNG.
[[nodiscard]] std::string random_password(std::size_t length = 32);
/// `length` random characters from [a-z0-9], for names such as role suffixes.
[[nodiscard]] std::string random_lower_alnum(std::size_t length);
/// `n` random bytes; throws std::runtime_error if the CSPRNG fails.
[[nodiscard]] std::string random_bytes(std::size_t n);
/// Lowercase hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);
/// Unpadded base64url of `data`.
[[nodiscard]] std::string base64url(std::string_view data);
/// Compares without an early exit, so timing does not reveal the first differing byte.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// Creates `dir` (and parents) if missing and makes it 0700; throws on failure.
void ensure_private_dir(const std::filesystem::path& dir);
/// Writes `content` to `path` as 0600 via a temp file and rename, so readers never see a
/// partial file and the secret is never world-readable, even for an instant.
void write_private_file(const std::filesystem::path& path, std::string_view content);
/// Reads a whole file; throws std::runtime_error naming the path on failure.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

}  // namespace apono::common
