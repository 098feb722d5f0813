// SCRAM-SHA-256 and MD5 client computations with OpenSSL 3. The server's messages are
// untrusted input: every attribute is checked before any expensive work, and the iteration
// count is capped so that a hostile server cannot make the proxy spin on PBKDF2.
#include "proxy/pg/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace apono::proxy::pg {
namespace {

constexpr std::size_t key_size = 32;  // SHA-256 output
constexpr std::size_t nonce_bytes = 18;
constexpr int max_iterations = 1000000;
constexpr std::size_t cache_capacity = 256;

using key = std::array<unsigned char, key_size>;

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

/// Strict padded base64. EVP_DecodeBlock alone would accept surrounding whitespace and count
/// the padding as zero bytes, so the text is checked first and the padding subtracted after.
std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  if (pad > 2) return std::nullopt;
  for (std::size_t i = 0; i < text.size() - pad; ++i)
    if (!is_base64_char(text[i])) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  return out;
}

bool hmac_sha256(const unsigned char* k, std::size_t k_len, std::string_view data, key& out) {
  unsigned int len = 0;
  return HMAC(EVP_sha256(), k, static_cast<int>(k_len),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
              &len) != nullptr &&
         len == key_size;
}

/// ClientKey and ServerKey, everything SCRAM needs from the password.
struct derived_keys {
  key client{};
  key server{};
};

/// Process-wide cache of derived keys. The map key is a SHA-256 over the password, salt and
/// iterations, so no cleartext password outlives the connections that used it.
class key_cache {
 public:
  std::optional<derived_keys> find(const key& id) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id_string(id));
    if (it == entries_.end()) return std::nullopt;
    it->second.last_used = ++clock_;
    return it->second.keys;
  }

  void put(const key& id, const derived_keys& keys) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= cache_capacity && !entries_.contains(id_string(id))) {
      auto oldest = entries_.begin();
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->second.last_used < oldest->second.last_used) oldest = it;
      OPENSSL_cleanse(&oldest->second.keys, sizeof oldest->second.keys);
      entries_.erase(oldest);
    }
    entries_[id_string(id)] = entry{keys, ++clock_};
  }

 private:
  struct entry {
    derived_keys keys;
    std::uint64_t last_used = 0;
  };
  static std::string id_string(const key& id) {
    return std::string(reinterpret_cast<const char*>(id.data()), id.size());
  }

  std::mutex mu_;
  std::unordered_map<std::string, entry> entries_;
  std::uint64_t clock_ = 0;
};

key_cache& cache() {
  static key_cache c;
  return c;
}

/// The cache id: lengths first, so that no two different triples hash the same input.
std::optional<key> cache_id(std::string_view password, std::string_view salt, int iterations) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return std::nullopt;
  std::uint64_t header[3] = {password.size(), salt.size(), static_cast<std::uint64_t>(iterations)};
  key id{};
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, header, sizeof header) == 1 &&
            EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
            EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, id.data(), &len) == 1 && len == key_size;
  EVP_MD_CTX_free(ctx);
  if (!ok) return std::nullopt;
  return id;
}

std::optional<derived_keys> derive_keys(std::string_view password, std::string_view salt,
                                        int iterations) {
  auto id = cache_id(password, salt, iterations);
  if (!id) return std::nullopt;
  if (auto hit = cache().find(*id)) return hit;

  // PBKDF2 runs outside the lock: two first connections may both compute, neither waits.
  key salted{};
  derived_keys keys;
  bool ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                              reinterpret_cast<const unsigned char*>(salt.data()),
                              static_cast<int>(salt.size()), iterations, EVP_sha256(),
                              static_cast<int>(salted.size()), salted.data()) == 1 &&
            hmac_sha256(salted.data(), salted.size(), "Client Key", keys.client) &&
            hmac_sha256(salted.data(), salted.size(), "Server Key", keys.server);
  OPENSSL_cleanse(salted.data(), salted.size());
  if (!ok) return std::nullopt;
  cache().put(*id, keys);
  return keys;
}

/// RFC 5802 saslname: ',' and '=' are escaped. PostgreSQL ignores the name, but a name with
/// a comma must still not break the message apart.
std::string sasl_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',')
      out += "=2C";
    else if (c == '=')
      out += "=3D";
    else
      out += c;
  }
  return out;
}

std::string random_nonce() {
  unsigned char raw[nonce_bytes];
  if (RAND_bytes(raw, sizeof raw) != 1)
    throw std::runtime_error("the random number generator failed");
  // 18 bytes make 24 base64 characters without padding: printable and free of ','.
  return base64(raw, sizeof raw);
}

/// Splits "a=x,b=y,..." into its attributes; values keep any '=' they contain.
std::vector<std::string_view> split_attributes(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    auto comma = s.find(',');
    out.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::nullopt_t fail(std::string& error, const char* why) {
  error = why;
  return std::nullopt;
}

bool printable_nonce(std::string_view s) {
  for (char c : s)
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  return true;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

bool md5_hex(std::string_view data, std::string& out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr) != 1 || len != 16)
    return false;
  out = to_hex(md, len);
  return true;
}

}  // namespace

scram_client::scram_client(std::string password)
    : scram_client(std::move(password), random_nonce()) {}

scram_client::scram_client(std::string password, std::string nonce, std::string username)
    : password_(std::move(password)), nonce_(std::move(nonce)), username_(std::move(username)) {
  client_first_bare_ = "n=" + sasl_name(username_) + ",r=" + nonce_;
}

std::string scram_client::client_first() const {
  // "n,," : no channel binding, no authzid.
  return "n,," + client_first_bare_;
}

std::optional<std::string> scram_client::client_final(std::string_view server_first,
                                                      std::string& error) {
  expected_server_signature_.clear();
  const auto attrs = split_attributes(server_first);
  if (!attrs.empty() && attrs[0].starts_with("m="))
    return fail(error, "SCRAM server-first message requires an unsupported extension");
  if (attrs.size() < 3 || !attrs[0].starts_with("r=") || !attrs[1].starts_with("s=") ||
      !attrs[2].starts_with("i="))
    return fail(error, "malformed SCRAM server-first message");

  const auto server_nonce = attrs[0].substr(2);
  if (server_nonce.size() <= nonce_.size() || !server_nonce.starts_with(nonce_) ||
      !printable_nonce(server_nonce))
    return fail(error, "SCRAM server nonce does not extend the client nonce");

  const auto salt = unbase64(attrs[1].substr(2));
  if (!salt) return fail(error, "SCRAM salt is not valid base64");

  const auto iter_text = attrs[2].substr(2);
  int iterations = 0;
  const auto [end, ec] =
      std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), iterations);
  if (iter_text.empty() || iter_text[0] == '-' || iter_text[0] == '+' || ec != std::errc{} ||
      end != iter_text.data() + iter_text.size() || iterations < 1 || iterations > max_iterations)
    return fail(error, "SCRAM iteration count is not between 1 and 1000000");

  auto keys = derive_keys(password_, *salt, iterations);
  if (!keys) return fail(error, "SCRAM key derivation failed");

  // "biws" is base64("n,,"), the GS2 header of client_first().
  const std::string final_without_proof = "c=biws,r=" + std::string(server_nonce);
  const std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + final_without_proof;

  key stored{};
  unsigned int stored_len = 0;
  key client_signature{};
  key server_signature{};
  const bool ok =
      EVP_Digest(keys->client.data(), keys->client.size(), stored.data(), &stored_len, EVP_sha256(),
                 nullptr) == 1 &&
      stored_len == key_size &&
      hmac_sha256(stored.data(), stored.size(), auth_message, client_signature) &&
      hmac_sha256(keys->server.data(), keys->server.size(), auth_message, server_signature);
  if (!ok) {
    OPENSSL_cleanse(&*keys, sizeof *keys);
    return fail(error, "SCRAM signature computation failed");
  }
  key proof{};
  for (std::size_t i = 0; i < key_size; ++i) proof[i] = keys->client[i] ^ client_signature[i];
  OPENSSL_cleanse(&*keys, sizeof *keys);

  expected_server_signature_ = base64(server_signature.data(), server_signature.size());
  return final_without_proof + ",p=" + base64(proof.data(), proof.size());
}

bool scram_client::verify_server_final(std::string_view server_final) const {
  if (expected_server_signature_.empty() || !server_final.starts_with("v=")) return false;
  auto value = server_final.substr(2);
  value = value.substr(0, value.find(','));  // extensions may follow
  return value.size() == expected_server_signature_.size() &&
         CRYPTO_memcmp(value.data(), expected_server_signature_.data(), value.size()) == 0;
}

std::string md5_password(std::string_view user, std::string_view password,
                         const std::uint8_t salt[4]) {
  std::string inner;
  std::string outer;
  std::string first(password);
  first.append(user);
  const bool ok = md5_hex(first, inner) &&
                  md5_hex(inner + std::string(reinterpret_cast<const char*>(salt), 4), outer);
  OPENSSL_cleanse(first.data(), first.size());
  if (!ok) return {};
  return "md5" + outer;
}

}  // namespace apono::proxy::pg
