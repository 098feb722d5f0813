// Secrets: random tokens and passwords, hashing, constant-time comparison, and private files.
#pragma once

#include <filesystem>
#include <optional>
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
/// SHA-256 of `data`: 32 raw bytes.
[[nodiscard]] std::string sha256(std::string_view data);
/// Lowercase hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);
/// Lower-case hex of any bytes.
[[nodiscard]] std::string hex(std::string_view bytes);
/// Unpadded base64url of `data`.
[[nodiscard]] std::string base64url(std::string_view data);
/// Standard base64 of `data`, with padding (what Python's base64.b64encode and `openssl base64`
/// print).
[[nodiscard]] std::string base64(std::string_view data);
/// Strict standard base64 decoding: padding required, nothing else tolerated; nullopt otherwise.
[[nodiscard]] std::optional<std::string> unbase64(std::string_view text);
/// HMAC-SHA256 of `data` under `key`: 32 raw bytes.
[[nodiscard]] std::string hmac_sha256(std::string_view key, std::string_view data);
/// Compares without an early exit, so timing does not reveal the first differing byte.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// The fewest PBKDF2 iterations a password hash may use.
inline constexpr int min_password_iterations = 100000;
/// The most, so that a hash cannot make one login attempt cost minutes of CPU.
inline constexpr int max_password_iterations = 10000000;
/// Hashes a password for the broker's config: `pbkdf2-sha256$<iterations>$<salt>$<hash>` with
/// PBKDF2-HMAC-SHA256, a random 16-byte salt and a 32-byte hash, both in standard base64.
/// `iterations` is clamped to the limits above.
[[nodiscard]] std::string hash_password(std::string_view password, int iterations = 600000);
/// True when `encoded` is a hash_password string this build can check: the scheme, iterations
/// within the limits above, an 8 to 64 byte salt and a 32-byte hash.
[[nodiscard]] bool is_password_hash(std::string_view encoded) noexcept;
/// True when `password` matches `encoded`; false as well when `encoded` is malformed. The
/// final comparison is constant-time.
[[nodiscard]] bool verify_password(std::string_view password, std::string_view encoded);

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password`
/// (`SCRAM-SHA-256$ITERATIONS:SALT$STOREDKEY:SERVERKEY`), as libpq's PQencryptPasswordConn
/// makes it but at a third of its CPU. `password` must be printable ASCII (which SASLprep leaves
/// as it is); anything else throws std::invalid_argument.
[[nodiscard]] std::string scram_sha256_verifier(std::string_view password, std::string_view salt,
                                                int iterations);
/// The same with a random 16-byte salt and PostgreSQL's default 4096 iterations.
[[nodiscard]] std::string scram_sha256_verifier(std::string_view password);

/// Creates `dir` (and parents) if missing and makes it 0700; throws on failure.
void ensure_private_dir(const std::filesystem::path& dir);
/// Writes `content` to `path` as 0600 via a temp file and rename, so readers never see a
/// partial file and the secret is never world-readable, even for an instant.
void write_private_file(const std::filesystem::path& path, std::string_view content);
/// Deletes the `NAME.tmp.XXXXXXXX` files write_private_file leaves in `dir` when its process
/// is killed mid-write (they may hold secrets); only for a directory one process owns, as
/// another writer's file in flight would go too. Returns how many it removed.
std::size_t remove_abandoned_temp_files(const std::filesystem::path& dir);
/// Reads a whole file; throws std::runtime_error naming the path on failure.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

}  // namespace apono::common
