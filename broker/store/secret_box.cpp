// AES-256-GCM sealing of unit secrets with OpenSSL, and the key file's parser and checks.
#include "broker/store/secret_box.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

#include "common/secrets.hpp"

namespace apono::broker {

namespace {

constexpr std::size_t key_size = 32;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::size_t max_key_id_size = 32;
constexpr std::string_view format_prefix = "v1.";
// A key file is a few lines; a larger file is the wrong file, and is not worth reading whole.
constexpr std::size_t max_key_file_size = 64 * 1024;
// EVP lengths are ints; a unit secret is a password, far below this.
constexpr std::size_t max_plaintext_size = 1024 * 1024;

// Wipes a string that held key material when the scope ends, exceptions included. The whole
// capacity, since a string that shrank still holds the old bytes past its size.
class wipe_on_exit {
 public:
  explicit wipe_on_exit(std::string& s) : s_(s) {}
  ~wipe_on_exit() {
    s_.resize(s_.capacity());
    OPENSSL_cleanse(s_.data(), s_.size());
  }
  wipe_on_exit(const wipe_on_exit&) = delete;
  wipe_on_exit& operator=(const wipe_on_exit&) = delete;

 private:
  std::string& s_;
};

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
// EVP_CIPHER_CTX_free wipes the expanded key schedule too.
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

unsigned char* bytes_of(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}
const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Value of one digit in the standard (`+/`) or url (`-_`) base64 alphabet; -1 when not one.
int base64_digit(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

// Strict base64: the standard alphabet padded with `=` to a multiple of 4 (as `openssl rand
// -base64 32` prints), or base64url unpadded (as common::base64url writes). The unused low bits
// must be zero, so that each byte string has one text only. nullopt when malformed.
std::optional<std::string> decode_base64(std::string_view text, bool url) {
  if (!url) {
    if (text.size() % 4 != 0) return std::nullopt;
    for (int i = 0; i < 2 && !text.empty() && text.back() == '='; ++i) text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  // Reserved once, so no reallocation leaves decoded key bytes in a freed block.
  out.reserve(text.size() / 4 * 3 + 2);
  auto reject = [&out]() -> std::optional<std::string> {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  };
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int d = base64_digit(c, url);
    if (d < 0) return reject();
    acc = (acc << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return reject();
  return out;
}

std::string encode_base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(bytes_of(out), bytes_of(data), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > max_key_id_size) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

constexpr std::string_view blanks = " \t\r\v\f";
constexpr std::string_view key_id_rule = "1-32 characters of A-Z a-z 0-9 _ . -";

std::string_view trim(std::string_view s) {
  auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

[[noreturn]] void fail_line(std::string_view origin, std::size_t line, const std::string& what) {
  throw std::runtime_error(std::string(origin) + " line " + std::to_string(line) + ": " + what);
}

[[noreturn]] void does_not_open() {
  throw std::runtime_error("secret does not open: wrong key or tampered");
}

[[noreturn]] void cipher_failed() {
  throw std::runtime_error("AES-256-GCM failed in OpenSSL");
}

// Closes a descriptor when the scope ends.
class fd_closer {
 public:
  explicit fd_closer(int fd) : fd_(fd) {}
  ~fd_closer() { ::close(fd_); }
  fd_closer(const fd_closer&) = delete;
  fd_closer& operator=(const fd_closer&) = delete;

 private:
  int fd_;
};

std::string octal_mode(mode_t mode) {
  char buf[8];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<unsigned>(mode & 07777), 8);
  return "0" + std::string(buf, ec == std::errc{} ? end : buf);
}

}  // namespace

secret_box::key::~key() {
  OPENSSL_cleanse(bytes.data(), bytes.size());
}

secret_box secret_box::from_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  // O_NONBLOCK so that a FIFO in the key file's place is refused below rather than hanging here;
  // the checks then use the descriptor, so the file cannot be swapped between check and read.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    throw std::runtime_error("cannot read key file " + name + ": " + std::strerror(errno));
  fd_closer closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw std::runtime_error("cannot read key file " + name + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error("key file " + name + " is not a regular file");
  // Like ssh with private keys: a key others can read is no longer a secret, and one they can
  // write lets them choose the key new secrets are sealed with.
  if ((st.st_mode & 077) != 0)
    throw std::runtime_error("key file " + name + " is open to group or others (mode " +
                             octal_mode(st.st_mode) + "; must be 0600 or stricter): chmod 600 " +
                             name);

  // Read here rather than with common::read_file: through the descriptor just checked, and into
  // one buffer that is wiped afterwards instead of stream buffers that are not.
  std::string content(max_key_file_size + 1, '\0');
  wipe_on_exit wipe(content);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::read(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot read key file " + name + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (done > max_key_file_size)
    throw std::runtime_error("key file " + name + " is larger than " +
                             std::to_string(max_key_file_size / 1024) + " KiB: not a key file");
  // A `;` is not a separator here: a file's comments may hold one.
  return parse(std::string_view(content).substr(0, done), name, "\n");
}

secret_box secret_box::from_text(std::string_view text, std::string_view origin) {
  return parse(text, origin, "\n;");
}

secret_box secret_box::parse(std::string_view text, std::string_view origin,
                             std::string_view separators) {
  secret_box box;
  std::vector<std::size_t> key_lines;  // the line each key came from, for duplicate errors
  std::size_t line_no = 0;
  for (std::size_t start = 0; start <= text.size();) {
    auto end = text.find_first_of(separators, start);
    if (end == std::string_view::npos) end = text.size();
    ++line_no;
    auto line = trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;

    // No message below quotes the line or a field that failed its check: a malformed line may
    // be a key, or a key with the id missing.
    auto gap = line.find_first_of(blanks);
    if (gap == std::string_view::npos) fail_line(origin, line_no, "expected `ID BASE64`");
    auto id = line.substr(0, gap);
    auto encoded = trim(line.substr(gap));
    if (encoded.find_first_of(blanks) != std::string_view::npos)
      fail_line(origin, line_no, "expected `ID BASE64`, found more than two fields");
    if (!valid_key_id(id))
      fail_line(origin, line_no, "the key id must be " + std::string(key_id_rule));
    for (std::size_t i = 0; i < box.keys_.size(); ++i) {
      if (box.keys_[i].id == id)
        fail_line(origin, line_no,
                  "key id '" + std::string(id) + "' repeats line " + std::to_string(key_lines[i]));
    }
    auto decoded = decode_base64(encoded, false);
    if (!decoded)
      fail_line(origin, line_no,
                "the key is not base64 with padding (as `openssl rand -base64 32` prints)");
    wipe_on_exit wipe(*decoded);
    if (decoded->size() != key_size)
      fail_line(origin, line_no,
                "the key is " + std::to_string(decoded->size()) + " bytes, not " +
                    std::to_string(key_size) + " (make one with `openssl rand -base64 32`)");
    key& k = box.keys_.emplace_back();
    k.id = std::string(id);
    std::memcpy(k.bytes.data(), decoded->data(), key_size);
    key_lines.push_back(line_no);
  }
  // A key source that was configured but holds no key is a mistake (an empty file, a keygen
  // that went elsewhere); found now rather than at the first secret stored.
  if (box.keys_.empty())
    throw std::runtime_error(std::string(origin) + ": no keys (expected lines `ID BASE64`)");
  return box;
}

bool secret_box::has_keys() const {
  return !keys_.empty();
}

const std::string& secret_box::current_key_id() const {
  static const std::string none;
  return keys_.empty() ? none : keys_.back().id;
}

const secret_box::key* secret_box::find(std::string_view id) const {
  for (const auto& k : keys_)
    if (k.id == id) return &k;
  return nullptr;
}

sealed_secret secret_box::seal(std::string_view plaintext, std::string_view context) const {
  if (keys_.empty()) throw std::runtime_error("cannot seal a secret: no store key is configured");
  if (plaintext.size() > max_plaintext_size || context.size() > max_plaintext_size)
    throw std::runtime_error("cannot seal a secret: larger than 1 MiB");
  const key& k = keys_.back();
  // Random nonces stay far from a collision at the number of secrets one key seals (GCM's limit
  // for random 96-bit nonces is 2^32 seals per key), and need no counter kept across restarts.
  std::string raw = common::random_bytes(nonce_size);
  raw.resize(nonce_size + plaintext.size() + tag_size);
  auto* nonce = bytes_of(raw);
  auto* out = nonce + nonce_size;
  auto* tag = out + plaintext.size();

  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int{nonce_size}, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, k.bytes.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes_of(context),
                        static_cast<int>(context.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out, &len, bytes_of(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + len, &final_len) != 1 ||
      static_cast<std::size_t>(len + final_len) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int{tag_size}, tag) != 1)
    cipher_failed();
  return {k.id, std::string(format_prefix) + common::base64url(raw)};
}

std::string secret_box::open(const sealed_secret& s, std::string_view context) const {
  if (s.text.empty()) return {};
  const key* k = find(s.key_id);
  if (!k) {
    // The id comes from the database: name it only when it is one a key file could hold.
    if (!valid_key_id(s.key_id))
      throw std::runtime_error("secret sealed with unknown key (a malformed key id)");
    throw std::runtime_error("secret sealed with unknown key '" + s.key_id + "'");
  }
  std::string_view text = s.text;
  if (text.substr(0, format_prefix.size()) != format_prefix)
    throw std::runtime_error("secret sealed in an unknown format (not v1)");
  auto raw = decode_base64(text.substr(format_prefix.size()), true);
  if (!raw || raw->size() < nonce_size + tag_size) does_not_open();
  const std::size_t size = raw->size() - nonce_size - tag_size;
  auto* nonce = bytes_of(*raw);
  auto* ciphertext = nonce + nonce_size;
  auto* tag = ciphertext + size;

  std::string plaintext(size, '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int{nonce_size}, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, k->bytes.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes_of(context),
                        static_cast<int>(context.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes_of(plaintext), &len, ciphertext, static_cast<int>(size)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int{tag_size}, tag) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    cipher_failed();
  }
  // GCM decrypts before it authenticates: on a bad tag the buffer holds unauthenticated
  // plaintext, which is wiped rather than handed on.
  if (EVP_DecryptFinal_ex(ctx.get(), bytes_of(plaintext) + len, &final_len) != 1 ||
      static_cast<std::size_t>(len + final_len) != size) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    does_not_open();
  }
  return plaintext;
}

std::string secret_box::generate_key_line(std::string_view id) {
  if (!valid_key_id(id))
    throw std::runtime_error("invalid key id: use " + std::string(key_id_rule));
  std::string raw = common::random_bytes(key_size);
  wipe_on_exit wipe(raw);
  return std::string(id) + " " + encode_base64(raw);
}

std::string open_unit_secret(const secret_box* keys, std::int64_t unit_id,
                             const sealed_secret& stored) {
  if (stored.key_id.empty() || stored.text.empty()) return stored.text;  // in the clear
  if (!keys || !keys->has_keys())
    throw std::runtime_error("store: unit " + std::to_string(unit_id) +
                             "'s secret is sealed, and no key for secrets at rest is configured");
  try {
    return keys->open(stored, "unit:" + std::to_string(unit_id));
  } catch (const std::exception& e) {
    throw std::runtime_error("store: unit " + std::to_string(unit_id) + ": " + e.what());
  }
}

sealed_secret unit_secret_to_store(const secret_box* keys, std::int64_t unit_id,
                                   const sealed_secret& stored, const std::string& secret) {
  const bool sealing = keys && keys->has_keys();
  if (!stored.text.empty() && (!sealing || stored.key_id == keys->current_key_id()) &&
      open_unit_secret(keys, unit_id, stored) == secret)
    return stored;
  if (secret.empty() || !sealing) return {"", secret};
  return keys->seal(secret, "unit:" + std::to_string(unit_id));
}

}  // namespace apono::broker
