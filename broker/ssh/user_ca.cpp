// The SSH user CA with OpenSSL 3: the Ed25519 key in a 0600 PKCS#8 PEM file, the SSH wire
// encoding of public keys and user certificates (OpenSSH PROTOCOL.certkeys), and key parsing.
#include "broker/ssh/user_ca.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "common/error.hpp"
#include "common/secrets.hpp"

namespace apono::broker::ssh {
namespace {

using common::api_error;
using common::base64;
using common::errc;
using common::unbase64;

template <auto Fn>
struct deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free>>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX_free>>;

constexpr std::string_view key_type = "ssh-ed25519";
constexpr std::string_view cert_type = "ssh-ed25519-cert-v01@openssh.com";
constexpr std::string_view ca_comment = "apono-user-ca";
constexpr std::size_t key_size = 32;        // an Ed25519 public key
constexpr std::size_t signature_size = 64;  // an Ed25519 signature
constexpr std::uint32_t ssh_cert_type_user = 1;

[[noreturn]] void fail(std::string message) {
  if (unsigned long err = ERR_get_error(); err != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(err, buf.data(), buf.size());
    message += ": ";
    message += buf.data();
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

[[noreturn]] void invalid(std::string message) {
  throw api_error(errc::invalid_argument, std::move(message));
}

// --- SSH wire encoding (RFC 4251 section 5) ---

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void put_string(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

// Reads SSH strings off the front of a blob; nullopt when the blob is too short.
class wire_reader {
 public:
  explicit wire_reader(std::string_view data) : data_(data) {}
  std::optional<std::string_view> string() {
    if (data_.size() < 4) return std::nullopt;
    std::uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len = (len << 8) | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(4);
    if (data_.size() < len) return std::nullopt;
    auto s = data_.substr(0, len);
    data_.remove_prefix(len);
    return s;
  }
  [[nodiscard]] bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

std::string public_blob(std::string_view raw_key) {
  std::string blob;
  put_string(blob, key_type);
  put_string(blob, raw_key);
  return blob;
}

// --- key lines ---

constexpr std::string_view blanks = " \t\r\n";

// Every SSH key type is lowercase with a dash ("ssh-rsa", "sk-ssh-ed25519@openssh.com"); a
// token or a base64 secret pasted by mistake is not, so it is never quoted back.
bool looks_like_key_type(std::string_view s) {
  if (s.size() > 64 || s.find('-') == std::string_view::npos) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '@'))
      return false;
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The decoded blob of an "ssh-ed25519 BASE64 [comment]" line.
std::string ed25519_blob(std::string_view line) {
  const auto first = line.find_first_not_of(blanks);
  if (first == std::string_view::npos) invalid("the SSH public key is empty");
  line = line.substr(first, line.find_last_not_of(blanks) - first + 1);
  if (line.starts_with("-----BEGIN"))
    invalid("that is a PEM file, not an SSH public key line; give the .pub file");
  if (line.find_first_of("\r\n") != std::string_view::npos)
    invalid("expected one SSH public key line, got several");

  const auto type_end = std::min(line.find_first_of(" \t"), line.size());
  const std::string_view type = line.substr(0, type_end);
  if (!looks_like_key_type(type)) invalid("not an SSH public key line (\"TYPE BASE64 [COMMENT]\")");
  if (ends_with(type, "-cert-v01@openssh.com"))
    invalid("a certificate is not accepted here; give the public key (the .pub file)");
  if (type != key_type)
    invalid("only ssh-ed25519 public keys are accepted, not " + std::string(type));

  std::string_view rest = line.substr(type_end);
  const auto data_start = rest.find_first_not_of(" \t");
  if (data_start == std::string_view::npos) invalid("the SSH public key has no key data");
  rest = rest.substr(data_start);
  const auto blob = unbase64(rest.substr(0, std::min(rest.find_first_of(" \t"), rest.size())));
  if (!blob) invalid("the SSH public key data is not valid base64");

  wire_reader reader(*blob);
  const auto inner_type = reader.string();
  if (!inner_type || *inner_type != key_type)
    invalid("the SSH public key data is not an ssh-ed25519 key");
  const auto key = reader.string();
  if (!key || key->size() != key_size)
    invalid("the SSH public key data holds no 32-byte Ed25519 key");
  if (!reader.empty()) invalid("the SSH public key data has trailing bytes");
  return *blob;
}

// --- certificate fields ---

// Control characters would let a value split the returned line or forge lines in sshd's log.
void check_text(std::string_view s, std::string_view what) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      invalid(std::string(what) + " must not contain control characters");
}

void check_name(std::string_view s, std::string_view what) {
  if (s.empty()) invalid("a certificate " + std::string(what) + " must not be empty");
  check_text(s, "a certificate " + std::string(what));
}

// Whole seconds since the epoch, truncated; a certificate cannot say anything before 1970.
std::uint64_t unix_seconds(common::time_point t, std::string_view what) {
  const auto s = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  if (s < 0) invalid(std::string(what) + " is before 1970");
  return static_cast<std::uint64_t>(s);
}

std::string principals_field(const std::vector<std::string>& principals) {
  std::string out;
  for (const auto& p : principals) {
    check_name(p, "principal");
    put_string(out, p);
  }
  return out;
}

// Each name is followed by its data: an empty string for a flag, otherwise the value wrapped
// in a string of its own. std::set and std::map give the byte order OpenSSH's strcmp wants, and
// no duplicates (PROTOCOL.certkeys allows each name once).
std::string extensions_field(const std::vector<std::string>& extensions) {
  std::string out;
  for (const auto& name : std::set<std::string>(extensions.begin(), extensions.end())) {
    check_name(name, "extension name");
    put_string(out, name);
    put_string(out, {});
  }
  return out;
}

std::string critical_options_field(const std::map<std::string, std::string>& options) {
  std::string out;
  for (const auto& [name, value] : options) {
    check_name(name, "critical option name");
    check_text(value, "a certificate critical option value");
    put_string(out, name);
    if (value.empty()) {
      put_string(out, {});
    } else {
      std::string data;
      put_string(data, value);
      put_string(out, data);
    }
  }
  return out;
}

// A passphrase prompt on the broker's terminal would hang a service; encrypted keys just fail.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

std::string raw_public_key(EVP_PKEY* key) {
  std::array<unsigned char, key_size> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1 || len != raw.size())
    fail("cannot read the SSH user CA's public key");
  return std::string(reinterpret_cast<const char*>(raw.data()), len);
}

}  // namespace

std::string parse_ed25519_public_key(std::string_view line) {
  return ed25519_blob(line).substr(4 + key_type.size() + 4);
}

std::string fingerprint(std::string_view public_key_line) {
  std::string hash = base64(common::sha256(ed25519_blob(public_key_line)));
  while (!hash.empty() && hash.back() == '=') hash.pop_back();
  return "SHA256:" + hash;
}

void user_ca::key_deleter::operator()(EVP_PKEY* key) const noexcept {
  EVP_PKEY_free(key);
}

user_ca::user_ca(key_ptr key, std::string public_blob)
    : key_(std::move(key)), public_blob_(std::move(public_blob)) {}

user_ca user_ca::load_or_create(const std::filesystem::path& path) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (ec) throw std::runtime_error("cannot read " + path.string() + ": " + ec.message());

  key_ptr key;
  if (exists) {
    const std::string pem = common::read_file(path);
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) fail("out of memory");
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key) fail("cannot parse the SSH user CA key " + path.string());
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519)
      throw std::runtime_error("the SSH user CA key " + path.string() + " is not an Ed25519 key");
  } else {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    if (!key) fail("cannot generate an Ed25519 key");
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio) fail("out of memory");
    if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      fail("cannot encode the SSH user CA key");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    if (path.has_parent_path()) common::ensure_private_dir(path.parent_path());
    common::write_private_file(path, std::string_view(data, static_cast<std::size_t>(len)));
  }
  std::string blob = public_blob(raw_public_key(key.get()));
  return user_ca(std::move(key), std::move(blob));
}

std::string user_ca::public_key_line() const {
  return std::string(key_type) + " " + base64(public_blob_) + " " + std::string(ca_comment);
}

std::string user_ca::sign(const cert_request& r) const {
  const std::string key = parse_ed25519_public_key(r.public_key);
  if (r.principals.empty()) invalid("a certificate needs at least one principal");
  const std::uint64_t after = unix_seconds(r.valid_after, "valid_after");
  const std::uint64_t before = unix_seconds(r.valid_before, "valid_before");
  if (before <= after) invalid("a certificate's valid_before must be after its valid_after");
  check_text(r.key_id, "a certificate key id");

  std::string cert;
  put_string(cert, cert_type);
  put_string(cert, common::random_bytes(32));  // nonce: makes the signed data unpredictable
  put_string(cert, key);
  put_u64(cert, r.serial);
  put_u32(cert, ssh_cert_type_user);
  put_string(cert, r.key_id);
  put_string(cert, principals_field(r.principals));
  put_u64(cert, after);
  put_u64(cert, before);
  put_string(cert, critical_options_field(r.critical_options));
  put_string(cert, extensions_field(r.extensions));
  put_string(cert, {});  // reserved
  put_string(cert, public_blob_);

  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) fail("out of memory");
  std::array<unsigned char, signature_size> sig{};
  std::size_t sig_len = sig.size();
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                     reinterpret_cast<const unsigned char*>(cert.data()), cert.size()) != 1 ||
      sig_len != sig.size())
    fail("cannot sign an SSH certificate");
  std::string signature;
  put_string(signature, key_type);
  put_string(signature, std::string_view(reinterpret_cast<const char*>(sig.data()), sig_len));
  put_string(cert, signature);

  std::string line = std::string(cert_type) + " " + base64(cert);
  if (!r.key_id.empty()) line += " " + r.key_id;
  return line;
}

}  // namespace apono::broker::ssh
