// Encryption at rest for unit secrets: AES-256-GCM under keys from a 0600 key file, with rotation.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace apono::broker {

/// One sealed value as stored: which key sealed it and the sealed bytes as text.
struct sealed_secret {
  std::string key_id;  ///< id of the key that sealed it
  std::string text;    ///< `v1.` + base64url(nonce || ciphertext || tag); empty when no secret
};

/// Keys for secrets at rest (AES-256-GCM). The newest key (the one named current) seals; any known
/// key opens. Nothing changes after loading, so seal() and open() may run on several threads.
class secret_box {
 public:
  /// No keys: seal() throws, open() throws (used when no key is configured and a secret must be
  /// stored: callers decide).
  secret_box() = default;
  /// Loads keys from a key file: one key per line `ID BASE64(32 bytes)`, `#` comments and blank
  /// lines ignored; the LAST key line is the current key. Throws std::runtime_error with a clear
  /// one-line message (file, line number, what is wrong; never the key bytes) when the file is
  /// missing, not a regular file, readable or writable by group/other (must be 0600 or stricter,
  /// like ssh keys: says "chmod 600 FILE"), a line is malformed, an id repeats, a key is not
  /// exactly 32 bytes, or the file holds no key at all. Key ids: 1-32 chars of [A-Za-z0-9_.-].
  static secret_box from_file(const std::filesystem::path& path);
  /// Same format from a string (the env var APONO_STORE_KEYS may hold it, with `;` also accepted
  /// as a line separator); `origin` names it in errors.
  static secret_box from_text(std::string_view text, std::string_view origin);
  /// True when at least one key is loaded.
  [[nodiscard]] bool has_keys() const;
  /// The current key's id; empty when none.
  [[nodiscard]] const std::string& current_key_id() const;
  /// Seals `plaintext` with the current key, binding it to `context` (additional authenticated
  /// data: the caller passes e.g. "unit:42", so a sealed value copied to another row does not
  /// open). Fresh random 96-bit nonce each call. text = "v1." + base64url(nonce || ciphertext ||
  /// 16-byte tag). Throws std::runtime_error when there is no key.
  [[nodiscard]] sealed_secret seal(std::string_view plaintext, std::string_view context) const;
  /// Opens a sealed value; throws std::runtime_error ("secret sealed with unknown key 'ID'",
  /// "secret does not open: wrong key or tampered") on failure. An empty text opens to an empty
  /// string (no secret stored).
  [[nodiscard]] std::string open(const sealed_secret& s, std::string_view context) const;
  /// A new random key line `ID BASE64` for the key file (used by `aponod store keygen`), without
  /// a newline. Throws std::runtime_error when `id` is not a valid key id.
  [[nodiscard]] static std::string generate_key_line(std::string_view id);

 private:
  // The bytes are inline rather than on the heap so that a vector growing copies them into
  // memory that a destructor later wipes, never into a freed block nobody wipes.
  struct key {
    key() = default;
    key(const key&) = default;
    key& operator=(const key&) = default;
    ~key();
    std::string id;
    std::array<unsigned char, 32> bytes{};
  };
  static secret_box parse(std::string_view text, std::string_view origin,
                          std::string_view separators);
  [[nodiscard]] const key* find(std::string_view id) const;
  std::vector<key> keys_;  // in file order; the last one seals
};

/// The secret a store kept for unit `unit_id` (sealed, or in the clear when its key id is
/// empty); throws std::runtime_error naming the unit when `keys` cannot open it.
[[nodiscard]] std::string open_unit_secret(const secret_box* keys, std::int64_t unit_id,
                                           const sealed_secret& stored);

/// What a store writes for unit `unit_id`'s `secret` when it holds `stored`: `stored` itself
/// when that is already this secret under the current key (no new nonce, no rewrite), else
/// the secret sealed with the current key, bound to the unit (as given when `keys` is null or
/// empty, which only tests do).
[[nodiscard]] sealed_secret unit_secret_to_store(const secret_box* keys, std::int64_t unit_id,
                                                 const sealed_secret& stored,
                                                 const std::string& secret);

}  // namespace apono::broker
