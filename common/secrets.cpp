// OpenSSL-backed randomness and hashing, and 0600/0700 file helpers.
#include "common/secrets.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace apono::common {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("the random number generator failed");
  return out;
}

namespace {

std::string random_from_alphabet(std::string_view alphabet, std::size_t length) {
  std::string out;
  out.reserve(length);
  // Rejection sampling keeps every character equally likely.
  const unsigned limit = 256 - (256 % alphabet.size());
  while (out.size() < length) {
    for (unsigned char c : random_bytes(length * 2)) {
      if (c >= limit) continue;
      out.push_back(alphabet[c % alphabet.size()]);
      if (out.size() == length) break;
    }
  }
  return out;
}

}  // namespace

std::string random_password(std::size_t length) {
  return random_from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                              length);
}

std::string random_lower_alnum(std::size_t length) {
  return random_from_alphabet("abcdefghijklmnopqrstuvwxyz0123456789", length);
}

std::string base64url(std::string_view data) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (std::size_t rest = data.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (rest == 2) out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::string random_token() {
  return "apn_" + base64url(random_bytes(32));
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string sha256_hex(std::string_view data) {
  return hex(sha256(data));
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

namespace {

constexpr std::string_view password_scheme = "pbkdf2-sha256";
constexpr std::size_t password_salt_size = 16;
constexpr std::size_t password_hash_size = 32;

}  // namespace

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    unsigned v = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      unsigned d = 0;
      if (c >= 'A' && c <= 'Z')
        d = static_cast<unsigned>(c - 'A');
      else if (c >= 'a' && c <= 'z')
        d = static_cast<unsigned>(c - 'a') + 26;
      else if (c >= '0' && c <= '9')
        d = static_cast<unsigned>(c - '0') + 52;
      else if (c == '+')
        d = 62;
      else if (c == '/')
        d = 63;
      else if (c == '=' && i + 4 == text.size() && j >= 2)
        ++pad;
      else
        return std::nullopt;
      if (pad > 0 && c != '=') return std::nullopt;  // data after padding
      v = (v << 6) | d;
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
      len != out.size())
    throw std::runtime_error("HMAC-SHA-256 failed");
  return out;
}

namespace {

struct password_hash {
  int iterations = 0;
  std::string salt;
  std::string hash;
};

std::optional<password_hash> parse_password_hash(std::string_view encoded) {
  std::string_view field[4];
  std::size_t n = 0;
  for (std::size_t start = 0;;) {
    auto dollar = encoded.find('$', start);
    if (n == 4) return std::nullopt;  // a fifth field
    field[n++] = encoded.substr(start, dollar == std::string_view::npos ? dollar : dollar - start);
    if (dollar == std::string_view::npos) break;
    start = dollar + 1;
  }
  if (n != 4 || field[0] != password_scheme) return std::nullopt;
  password_hash out;
  const auto& it = field[1];
  auto [end, ec] = std::from_chars(it.data(), it.data() + it.size(), out.iterations);
  if (it.empty() || ec != std::errc{} || end != it.data() + it.size() ||
      out.iterations < min_password_iterations || out.iterations > max_password_iterations)
    return std::nullopt;
  auto salt = unbase64(field[2]);
  auto hash = unbase64(field[3]);
  if (!salt || salt->size() < 8 || salt->size() > 64 || !hash || hash->size() != password_hash_size)
    return std::nullopt;
  out.salt = std::move(*salt);
  out.hash = std::move(*hash);
  return out;
}

std::string pbkdf2_sha256(std::string_view password, std::string_view salt, int iterations) {
  std::string out(password_hash_size, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1)
    throw std::runtime_error("PBKDF2 failed");
  return out;
}

}  // namespace

std::string hash_password(std::string_view password, int iterations) {
  iterations = std::clamp(iterations, min_password_iterations, max_password_iterations);
  auto salt = random_bytes(password_salt_size);
  return std::string(password_scheme) + "$" + std::to_string(iterations) + "$" + base64(salt) +
         "$" + base64(pbkdf2_sha256(password, salt, iterations));
}

bool is_password_hash(std::string_view encoded) noexcept {
  try {
    return parse_password_hash(encoded).has_value();
  } catch (const std::exception&) {
    return false;  // allocation failure
  }
}

std::string scram_sha256_verifier(std::string_view password, std::string_view salt,
                                  int iterations) {
  if (iterations < 1) throw std::invalid_argument("SCRAM iterations must be positive");
  for (unsigned char c : password)
    if (c < 0x20 || c > 0x7e)
      throw std::invalid_argument("a SCRAM password computed here must be printable ASCII");
  auto salted = pbkdf2_sha256(password, salt, iterations);
  auto hmac = [&](std::string_view label) {
    std::string out(32, '\0');
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), salted.data(), static_cast<int>(salted.size()),
             reinterpret_cast<const unsigned char*>(label.data()), label.size(),
             reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
        len != out.size())
      throw std::runtime_error("HMAC-SHA-256 failed");
    return out;
  };
  auto client_key = hmac("Client Key");
  auto server_key = hmac("Server Key");
  auto stored_key = sha256(client_key);
  OPENSSL_cleanse(client_key.data(), client_key.size());
  OPENSSL_cleanse(salted.data(), salted.size());
  return "SCRAM-SHA-256$" + std::to_string(iterations) + ":" + base64(salt) + "$" +
         base64(stored_key) + ":" + base64(server_key);
}

std::string scram_sha256_verifier(std::string_view password) {
  return scram_sha256_verifier(password, random_bytes(16), 4096);
}

bool verify_password(std::string_view password, std::string_view encoded) {
  auto parsed = parse_password_hash(encoded);
  if (!parsed) return false;
  return constant_time_equal(pbkdf2_sha256(password, parsed->salt, parsed->iterations),
                             parsed->hash);
}

void ensure_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0)
    throw std::runtime_error("cannot chmod 0700 " + dir.string() + ": " + std::strerror(errno));
}

void write_private_file(const std::filesystem::path& path, std::string_view content) {
  auto tmp = path;
  tmp += ".tmp." + random_lower_alnum(8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  // fchmod as well: a restrictive umask is fine, a permissive one must not widen the mode.
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
  }
}

std::size_t remove_abandoned_temp_files(const std::filesystem::path& dir) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0 || name.size() != at + 5 + 8) continue;
    if (!std::all_of(name.begin() + static_cast<std::ptrdiff_t>(at + 5), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }))
      continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    if (std::filesystem::remove(entry.path(), type_ec)) ++removed;
  }
  return removed;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace apono::common
