// libFuzzer target for the SSH user CA. Layout (fuzz/input.hpp; make_ssh_cert_corpus.py):
//   u8 flags, str line, 32 bytes key, str comment, u64 serial, str key_id,
//   u8 n + n str principals, u8 n + n str extensions, u8 n + n (str name, str value) options,
//   i32 after, i32 length (or, with flag 2, the two i32 as raw milliseconds scaled below).
// `line` goes to parse_ed25519_public_key and fingerprint: both accept it with the same key,
// the fingerprint is SHA-256 of the wire blob the line's base64 holds, or both throw
// api_error(invalid_argument) with the same one-line message that quotes no secret-looking
// token of the line. Then a cert_request is signed; its public key is `line` or, with flag 1,
// a well-formed line around the 32 key bytes. sign must throw api_error(invalid_argument)
// exactly when the request breaks a documented rule, and otherwise return a certificate line
// whose blob decodes per OpenSSH PROTOCOL.certkeys to exactly the requested fields, signed
// (Ed25519, verified with OpenSSL) by the CA key.
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/ssh/user_ca.hpp"
#include "common/error.hpp"
#include "fuzz/input.hpp"

namespace {

namespace ssh = apono::broker::ssh;
using apono::common::api_error;
using apono::common::errc;
using apono::fuzz::has_control;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "ssh_cert_fuzz: %s %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

// --- an independent base64 and SSH wire reader ---

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16 |
                       static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Canonical base64 only: decoding and re-encoding must give the text back.
std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : text) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return std::nullopt;
    const auto at = alphabet.find(c);
    if (at == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (pad > 2 || base64(out) != text) return std::nullopt;
  return out;
}

std::string u32_bytes(std::uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
  return s;
}

std::string ssh_string(std::string_view s) {
  return u32_bytes(static_cast<std::uint32_t>(s.size())) + std::string(s);
}

class wire {
 public:
  explicit wire(std::string_view d) : d_(d) {}
  std::uint64_t uint(int bytes) {
    check(d_.size() >= static_cast<std::size_t>(bytes), "certificate: truncated integer");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(d_[i]);
    d_.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string_view string() {
    const auto len = uint(4);
    check(d_.size() >= len, "certificate: truncated string");
    auto s = d_.substr(0, len);
    d_.remove_prefix(len);
    return s;
  }
  [[nodiscard]] std::size_t left() const { return d_.size(); }

 private:
  std::string_view d_;
};

std::string sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

// --- the CA ---

struct ca_state {
  std::optional<ssh::user_ca> ca;
  std::string public_blob;  // string "ssh-ed25519", string key
  std::string raw_public;   // the 32 bytes
};

// Made once per process in a private temp dir, which is removed again at once: the key only
// needs to live in memory.
const ca_state& the_ca() {
  static const ca_state state = [] {
    char dir_template[] = "/tmp/ssh_cert_fuzz.XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    check(dir != nullptr, "cannot make a temp dir");
    ca_state s;
    s.ca.emplace(ssh::user_ca::load_or_create(std::filesystem::path(dir) / "ca.pem"));
    std::filesystem::remove_all(dir);
    const std::string line = s.ca->public_key_line();
    const auto first = line.find(' '), second = line.find(' ', first + 1);
    check(line.substr(0, first) == "ssh-ed25519" && line.substr(second) == " apono-user-ca",
          "CA public key line", line);
    const auto blob = unbase64(line.substr(first + 1, second - first - 1));
    check(blob && blob->size() == 51, "CA public key blob", line);
    s.public_blob = *blob;
    s.raw_public = blob->substr(19);
    check(*blob == ssh_string("ssh-ed25519") + ssh_string(s.raw_public), "CA blob layout", line);
    return s;
  }();
  return state;
}

bool verify(const std::string& raw_public, std::string_view signed_data, std::string_view sig) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                  reinterpret_cast<const unsigned char*>(raw_public.data()),
                                  raw_public.size()),
      &EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  check(key && ctx, "OpenSSL allocation");
  return EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(signed_data.data()),
                          signed_data.size()) == 1;
}

// --- the oracles ---

bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && blank(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !blank(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// A word the parser may quote back (a key type); anything else long and mixed, such as base64
// or a token, must never appear in a message.
bool may_be_quoted(std::string_view w) {
  if (w.size() < 12) return true;
  return std::all_of(w.begin(), w.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '@';
  });
}

void check_refusal(const api_error& e, std::string_view line) {
  const std::string_view m = e.what();
  check(e.code() == errc::invalid_argument, "refusal is not invalid_argument", m);
  check(!m.empty() && !has_control(m), "refusal message is not one line", m);
  for (auto w : words(line))
    check(may_be_quoted(w) || m.find(w) == std::string_view::npos, "refusal quotes the line", m);
}

// Returns the raw key when `line` is accepted.
std::optional<std::string> check_key_line(const std::string& line) {
  std::optional<std::string> raw, fp;
  std::optional<std::string> parse_error, fp_error;
  try {
    raw = ssh::parse_ed25519_public_key(line);
  } catch (const api_error& e) {
    check_refusal(e, line);
    parse_error = e.what();
  }
  try {
    fp = ssh::fingerprint(line);
  } catch (const api_error& e) {
    check_refusal(e, line);
    fp_error = e.what();
  }
  check(parse_error == fp_error, "parse and fingerprint disagree", line);
  if (!raw) return std::nullopt;

  check(raw->size() == 32, "key is not 32 bytes", line);
  const std::string blob = ssh_string("ssh-ed25519") + ssh_string(*raw);
  const auto w = words(line);
  check(w.size() >= 2 && w[0] == "ssh-ed25519", "accepted line has another type", line);
  check(w[1] == base64(blob), "accepted line does not hold the key's blob", line);
  std::string expect = "SHA256:" + base64(sha256(blob));
  while (expect.back() == '=') expect.pop_back();
  check(fp == expect, "fingerprint differs from SHA-256 of the blob", line);
  return raw;
}

std::int64_t floor_seconds(std::int64_t ms) {
  return ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
}

void check_certificate(const ssh::cert_request& r, const std::string& raw_key,
                       const std::string& line) {
  const ca_state& ca = the_ca();
  constexpr std::string_view type = "ssh-ed25519-cert-v01@openssh.com";
  const std::string prefix = std::string(type) + " ";
  check(line.starts_with(prefix), "certificate line type", line);
  const auto b64_end = std::min(line.find(' ', prefix.size()), line.size());
  const std::string comment = b64_end == line.size() ? "" : line.substr(b64_end + 1);
  check(b64_end == line.size() ? r.key_id.empty() : comment == r.key_id && !r.key_id.empty(),
        "certificate line comment is not the key id", line);
  const auto blob = unbase64(std::string_view(line).substr(prefix.size(), b64_end - prefix.size()));
  check(blob.has_value(), "certificate is not canonical base64", line);

  wire w(*blob);
  check(w.string() == type, "certificate: type");
  check(w.string().size() == 32, "certificate: nonce");
  check(w.string() == raw_key, "certificate: public key");
  check(w.uint(8) == r.serial, "certificate: serial");
  check(w.uint(4) == 1, "certificate: not a user certificate");
  check(w.string() == r.key_id, "certificate: key id");

  wire principals(w.string());
  for (const auto& p : r.principals) check(principals.string() == p, "certificate: principal");
  check(principals.left() == 0, "certificate: extra principals");

  const auto after =
      static_cast<std::uint64_t>(floor_seconds(r.valid_after.time_since_epoch().count()));
  const auto before =
      static_cast<std::uint64_t>(floor_seconds(r.valid_before.time_since_epoch().count()));
  check(w.uint(8) == after, "certificate: valid after");
  check(w.uint(8) == before, "certificate: valid before");

  // Options sorted by name, each once; a value is wrapped in a string of its own.
  wire options(w.string());
  for (const auto& [name, value] : r.critical_options) {
    check(options.string() == name, "certificate: option name");
    const auto data = options.string();
    if (value.empty()) {
      check(data.empty(), "certificate: empty option value");
    } else {
      wire inner(data);
      check(inner.string() == value && inner.left() == 0, "certificate: option value");
    }
  }
  check(options.left() == 0, "certificate: extra options");

  wire extensions(w.string());
  for (const auto& name : std::set<std::string>(r.extensions.begin(), r.extensions.end())) {
    check(extensions.string() == name, "certificate: extension name");
    check(extensions.string().empty(), "certificate: extension data");
  }
  check(extensions.left() == 0, "certificate: extra extensions");

  check(w.string().empty(), "certificate: reserved");
  check(w.string() == ca.public_blob, "certificate: signature key is not the CA");
  const std::size_t signed_size = blob->size() - w.left();
  wire sig(w.string());
  check(w.left() == 0, "certificate: trailing bytes");
  check(sig.string() == "ssh-ed25519", "signature: type");
  const auto raw_sig = sig.string();
  check(raw_sig.size() == 64 && sig.left() == 0, "signature: size");
  check(verify(ca.raw_public, std::string_view(*blob).substr(0, signed_size), raw_sig),
        "signature does not verify under the CA key");
}

bool valid_name(const std::string& s) {
  return !s.empty() && !has_control(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  apono::fuzz::input in(data, size);
  const std::uint8_t flags = in.u8();
  const std::string line = in.str();
  const std::string key_bytes = in.bytes(32);
  std::string comment = in.str();

  const auto line_key = check_key_line(line);

  ssh::cert_request r;
  std::optional<std::string> raw_key = line_key;
  if (flags & 1) {
    // A well-formed line: the comment may hold anything but a line break.
    std::erase_if(comment, [](char c) { return c == '\r' || c == '\n'; });
    const std::string raw = key_bytes + std::string(32 - key_bytes.size(), '\0');
    r.public_key = "ssh-ed25519 " + base64(ssh_string("ssh-ed25519") + ssh_string(raw)) +
                   (comment.empty() ? "" : " " + comment);
    raw_key = check_key_line(r.public_key);
    check(raw_key == raw, "a well-formed key line is refused or misread", r.public_key);
  } else {
    r.public_key = line;
  }
  r.serial = in.u64();
  r.key_id = in.str();
  for (int n = in.u8() % 6; n > 0; --n) r.principals.push_back(in.str());
  for (int n = in.u8() % 6; n > 0; --n) r.extensions.push_back(in.str());
  for (int n = in.u8() % 5; n > 0; --n) {
    auto name = in.str();
    r.critical_options[name] = in.str();
  }
  std::int64_t after_ms = 0, before_ms = 0;
  if (flags & 2) {
    // Raw instants around the epoch, to reach times before 1970 and sub-second truncation.
    after_ms = static_cast<std::int64_t>(in.i32()) * 997;
    before_ms = static_cast<std::int64_t>(in.i32()) * 997;
  } else {
    after_ms = 1'800'000'000'000 + static_cast<std::int64_t>(in.i32());
    before_ms = after_ms + static_cast<std::int64_t>(in.i32());
  }
  r.valid_after = apono::common::time_point{std::chrono::milliseconds{after_ms}};
  r.valid_before = apono::common::time_point{std::chrono::milliseconds{before_ms}};

  // The documented refusals, decided here independently of the CA.
  bool ok = raw_key.has_value() && !r.principals.empty() && !has_control(r.key_id);
  ok = ok && floor_seconds(after_ms) >= 0 && floor_seconds(before_ms) >= 0 &&
       floor_seconds(before_ms) > floor_seconds(after_ms);
  for (const auto& p : r.principals) ok = ok && valid_name(p);
  for (const auto& e : r.extensions) ok = ok && valid_name(e);
  for (const auto& [name, value] : r.critical_options)
    ok = ok && valid_name(name) && !has_control(value);

  std::string cert;
  try {
    cert = the_ca().ca->sign(r);
  } catch (const api_error& e) {
    check(e.code() == errc::invalid_argument, "sign: refusal is not invalid_argument", e.what());
    check(!has_control(e.what()), "sign: refusal message is not one line", e.what());
    check(!ok, "sign refused a valid request", e.what());
    return 0;
  }
  check(ok, "sign accepted an invalid request", cert);
  check_certificate(r, *raw_key, cert);
  return 0;
}
