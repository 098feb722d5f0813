// The secrets scan: one full end-to-end run with everything real (aponod --dev, PostgreSQL,
// sshd, the STS/IAM and Kubernetes stand-ins, the real apono, psql, ssh, aws and kubectl),
// collecting every secret the run issues or holds, then searching for each of them, verbatim
// and in the encodings a careless copy would use, in aponod's log, every command's stdout and
// stderr, and every file under every directory the run used, at checkpoints while grants are
// active and at the end. Only the places in the allow-lists below may hold a secret, and
// those files must be 0600 in a 0700 directory. Failures name the place, the kind of secret
// and a short hash of it, never the secret itself.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "broker/notify/webhook/signing.hpp"
#include "common/http_client.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/cloud/aws_fixture.hpp"
#include "tests/support/cloud/kube_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/slack_fixture.hpp"
#include "tests/support/smtp_receiver.hpp"
#include "tests/support/sshd_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Kinds of secret. The broker's own are configured or made at its first start; the rest are
// issued during the run.

constexpr const char* k_dev_token = "dev user API token";
constexpr const char* k_dev_password = "dev user password";
constexpr const char* k_session_token = "login session token";
constexpr const char* k_auth_code = "login authorization code";
constexpr const char* k_db_password = "database password";
constexpr const char* k_proxy_password = "proxy one-time password";
constexpr const char* k_ssh_key_use = "SSH private key (access use)";
constexpr const char* k_ssh_key_session = "SSH private key (--client ssh session)";
constexpr const char* k_ssh_cert = "SSH certificate";
constexpr const char* k_aws_secret = "AWS secret access key";
constexpr const char* k_aws_session = "AWS session token";
constexpr const char* k_kube_token = "Kubernetes token";
constexpr const char* k_pg_admin = "broker: PostgreSQL admin password";
constexpr const char* k_broker_aws = "broker: AWS secret access key";
constexpr const char* k_broker_kube = "broker: Kubernetes token";
constexpr const char* k_tls_ca_key = "broker: TLS CA private key";
constexpr const char* k_tls_server_key = "broker: TLS server private key";
constexpr const char* k_ssh_ca_key = "broker: SSH CA private key";
constexpr const char* k_store_key = "broker: key for secrets at rest";
constexpr const char* k_webhook_secret = "broker: webhook signing secret";
constexpr const char* k_smtp_password = "broker: SMTP password";
constexpr const char* k_teams_signature = "broker: Teams Workflow URL signature";
constexpr const char* k_slack_token = "broker: Slack bot token";
constexpr const char* k_slack_signing = "broker: Slack signing secret";

const std::string account = "123456789012";
const std::string role_arn = "arn:aws:iam::123456789012:role/ReadOnly";
const std::string login = sshd_fixture::current_user();
const std::string principal = "apono-" + login;

// ---------------------------------------------------------------------------------------------
// Encodings

std::string b64(std::string_view in, bool url, bool pad) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) |
             (std::uint32_t(std::uint8_t(in[i + 1])) << 8) | std::uint8_t(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out += alphabet[(n >> s) & 63];
  }
  if (i < in.size()) {
    std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (i + 1 < in.size()) out += alphabet[(n >> 6) & 63];
    if (pad) out.append(i + 1 < in.size() ? 1 : 2, '=');
  }
  return out;
}

// Standard base64 (whitespace skipped, stops at '='); throws on other characters.
std::string b64_decode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=')
      break;
    else if (std::isspace(static_cast<unsigned char>(c)))
      continue;
    else
      throw std::runtime_error("not base64");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string hex(std::string_view in, bool upper = false) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : in) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string percent(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex(std::string(1, static_cast<char>(c)), true);
    }
  }
  return out;
}

/// One byte string to look for, and what it is.
struct pattern {
  std::string bytes;
  std::string encoding;
};

// The base64 text that `data` becomes inside any larger base64 blob, for each of the three
// alignments it can start at: the characters that depend only on `data`'s bytes. For 32 bytes
// and more, also each half's, so a blob wrapped into lines is still caught (one line break
// inside the whole leaves one half intact).
void add_embedded_base64(std::vector<pattern>& out, std::string_view data) {
  auto add = [&](std::string_view part, const char* where) {
    for (bool url : {false, true})
      for (std::size_t k = 0; k < 3; ++k) {
        std::string padded(k, '\0');
        padded += part;
        auto enc = b64(padded, url, false);
        const std::size_t skip = k == 0 ? 0 : k + 1;
        const std::size_t full = (padded.size() / 3) * 4;
        if (full > skip)
          out.push_back({enc.substr(skip, full - skip),
                         std::string(url ? "base64url" : "base64") + " (inside " + where + ")"});
      }
  };
  add(data, "other data");
  if (data.size() >= 32) {
    add(data.substr(0, data.size() / 2), "wrapped data");
    add(data.substr(data.size() / 2), "wrapped data");
  }
}

// How a password or token could be written down.
std::vector<pattern> text_patterns(const std::string& v) {
  std::vector<pattern> out{{v, "verbatim"}, {b64(v, false, true), "base64"}, {hex(v), "hex"}};
  add_embedded_base64(out, v);
  if (auto p = percent(v); p != v) out.push_back({p, "percent-encoded"});
  if (v.find('/') != std::string::npos) {
    std::string escaped;
    for (char c : v) escaped += c == '/' ? std::string("\\/") : std::string(1, c);
    out.push_back({escaped, "JSON-escaped"});
  }
  return out;
}

// A PEM (or OpenSSH) private key: the whole body as one line, the decoded bytes, every body
// line that carries part of the private value (the others are a fixed header or the public
// key), and the private value itself raw, in hex and in base64.
std::vector<pattern> key_patterns(const std::string& pem, const std::string& raw_private) {
  std::vector<std::string> body;
  std::istringstream in(pem);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.starts_with("-----")) continue;
    body.push_back(line);
  }
  std::string joined;
  for (const auto& l : body) joined += l;
  auto der = b64_decode(joined);
  auto at = der.find(raw_private);
  if (at == std::string::npos || body.empty())
    throw std::runtime_error("the private value is not inside the key file");
  std::vector<pattern> out{{joined, "key body as one line"},
                           {der, "decoded key file (DER / binary)"},
                           {raw_private, "raw private key bytes"},
                           {hex(raw_private), "raw private key, hex"},
                           {hex(raw_private, true), "raw private key, HEX"}};
  add_embedded_base64(out, raw_private);
  const std::size_t width = body.front().size();
  for (std::size_t i = 0; i < body.size(); ++i) {
    const std::size_t first = i * width * 3 / 4, last = ((i + 1) * width * 3 + 3) / 4;
    if (first < at + raw_private.size() && last > at && body[i].size() >= 16)
      out.push_back({body[i], "key file line " + std::to_string(i + 1)});
  }
  return out;
}

// The private value of a PEM key OpenSSL reads: the Ed25519 seed, or the EC scalar.
std::string openssl_private_value(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) throw std::runtime_error("OpenSSL cannot read the key");
  if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_ED25519) {
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    if (EVP_PKEY_get_raw_private_key(key.get(), reinterpret_cast<unsigned char*>(raw.data()),
                                     &len) != 1)
      throw std::runtime_error("no raw Ed25519 key");
    raw.resize(len);
    return raw;
  }
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1)
    throw std::runtime_error("no private scalar");
  std::string raw(static_cast<std::size_t>(EVP_PKEY_get_size(key.get())), '\0');
  int len = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(raw.data()),
                         (EVP_PKEY_get_bits(key.get()) + 7) / 8);
  BN_free(bn);
  if (len <= 0) throw std::runtime_error("cannot encode the private scalar");
  raw.resize(static_cast<std::size_t>(len));
  return raw;
}

// PROTOCOL.key's big-endian uint32s and length-prefixed strings; throws when truncated.
struct ssh_reader {
  std::string_view data;
  std::size_t pos = 0;
  std::uint32_t u32() {
    if (pos + 4 > data.size()) throw std::runtime_error("truncated OpenSSH key");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | std::uint8_t(data[pos++]);
    return v;
  }
  std::string str() {
    auto n = u32();
    if (pos + n > data.size()) throw std::runtime_error("truncated OpenSSH key");
    std::string s(data.substr(pos, n));
    pos += n;
    return s;
  }
};

// The Ed25519 seed inside an unencrypted "openssh-key-v1" private key (PROTOCOL.key).
std::string openssh_private_value(const std::string& pem) {
  std::string joined;
  std::istringstream in(pem);
  for (std::string line; std::getline(in, line);)
    if (!line.starts_with("-----")) joined += line;
  const auto blob = b64_decode(joined);
  const std::string magic("openssh-key-v1\0", 15);
  if (!blob.starts_with(magic)) throw std::runtime_error("not openssh-key-v1");
  ssh_reader key{blob, magic.size()};
  if (key.str() != "none") throw std::runtime_error("an encrypted key");
  key.str();  // kdf name
  key.str();  // kdf options
  if (key.u32() != 1) throw std::runtime_error("expected one key");
  key.str();  // the public key
  const auto section = key.str();
  ssh_reader priv{section};
  priv.u32();  // the two check integers
  priv.u32();
  if (priv.str() != "ssh-ed25519") throw std::runtime_error("not an Ed25519 key");
  priv.str();  // the public key
  auto seed_and_public = priv.str();
  if (seed_and_public.size() != 64) throw std::runtime_error("bad Ed25519 private key");
  return seed_and_public.substr(0, 32);
}

// ---------------------------------------------------------------------------------------------
// The secrets and a fast search for all of them at once.

struct secret {
  std::string kind;
  std::string value;
  std::string grant;     // the request it belongs to, "" for the broker's and logins'
  bool retired = false;  // its grant has ended or it was replaced: nothing needs it any more
  std::vector<pattern> patterns;
  /// What failure messages show instead of the secret.
  [[nodiscard]] std::string tag() const {
    return "sha256:" + apono::common::sha256_hex(value).substr(0, 10);
  }
};

/// Every secret of the run, in the order they were issued or found.
struct registry {
  // Adds a secret (once per kind and value); returns its index.
  std::size_t add(const std::string& kind, const std::string& value, const std::string& grant,
                  std::vector<pattern> patterns = {}) {
    REQUIRE(value.size() >= 12);  // anything shorter would not be a credential worth the name
    for (std::size_t i = 0; i < all.size(); ++i)
      if (all[i].kind == kind && all[i].value == value) return i;
    if (patterns.empty()) patterns = text_patterns(value);
    std::erase_if(patterns, [](const pattern& p) { return p.bytes.size() < 12; });
    all.push_back({kind, value, grant, false, std::move(patterns)});
    return all.size() - 1;
  }
  void retire_grant(const std::string& grant) {
    for (auto& s : all)
      if (s.grant == grant) s.retired = true;
  }
  void retire(const std::string& value) {
    for (auto& s : all)
      if (s.value == value) s.retired = true;
  }
  // Replaces every secret in `text` by its kind and tag, for INFO messages.
  [[nodiscard]] std::string redact(std::string text) const {
    for (const auto& s : all)
      for (std::size_t at; (at = text.find(s.value)) != std::string::npos;)
        text.replace(at, s.value.size(), "[" + s.kind + " " + s.tag() + "]");
    return text;
  }
  std::vector<secret> all;
};

/// One secret found somewhere.
struct hit {
  std::size_t secret;
  std::string encoding;
};

// Looks for every pattern of every secret in one pass: a 64-bit prefix filter (a bitmap, then
// a hash map), then a full comparison. Refers to the registry's patterns: build a new one
// after adding secrets.
class matcher {
 public:
  explicit matcher(const registry& r) : bitmap_(std::size_t{1} << 14, 0) {
    for (std::size_t i = 0; i < r.all.size(); ++i)
      for (const auto& p : r.all[i].patterns) {
        patterns_.push_back({i, &p});
        const auto key = prefix(p.bytes.data());
        set_bit(key);
        by_prefix_.emplace(key, patterns_.size() - 1);
      }
  }
  // Every (secret, encoding) found in `data`, once each.
  [[nodiscard]] std::vector<hit> scan(std::string_view data) const {
    std::set<std::pair<std::size_t, std::string>> found;
    if (data.size() >= 8)
      for (std::size_t i = 0; i + 8 <= data.size(); ++i) {
        const auto key = prefix(data.data() + i);
        if (!test_bit(key)) continue;
        auto [lo, hi] = by_prefix_.equal_range(key);
        for (auto it = lo; it != hi; ++it) {
          const auto& [secret, p] = patterns_[it->second];
          if (data.size() - i >= p->bytes.size() &&
              std::memcmp(data.data() + i, p->bytes.data(), p->bytes.size()) == 0)
            found.insert({secret, p->encoding});
        }
      }
    std::vector<hit> out;
    for (const auto& [s, e] : found) out.push_back({s, e});
    return out;
  }

 private:
  static std::uint64_t prefix(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static std::size_t bit(std::uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) >> 44; }
  void set_bit(std::uint64_t key) { bitmap_[bit(key) >> 6] |= std::uint64_t{1} << (bit(key) & 63); }
  [[nodiscard]] bool test_bit(std::uint64_t key) const {
    return (bitmap_[bit(key) >> 6] >> (bit(key) & 63)) & 1;
  }
  std::vector<std::uint64_t> bitmap_;
  std::vector<std::pair<std::size_t, const pattern*>> patterns_;
  std::unordered_multimap<std::uint64_t, std::size_t> by_prefix_;
};

// ---------------------------------------------------------------------------------------------
// The allow-lists.

/// Files that may hold a secret: under `base`, the relative path matching `path`.
struct file_rule {
  fs::path base;
  std::regex path;
  std::set<std::string> kinds;
  bool same_grant = false;  // group 1 of `path` is the request the secret must belong to
  bool live_only = false;   // only while the secret is in use (not retired)
  std::string why;
};

/// `apono` commands whose stdout may hold a secret of the request named by group 1.
struct command_rule {
  std::regex args;
  std::set<std::string> kinds;
  std::string why;
};

/// One command's output.
struct command_record {
  std::string label;  // what ran, as a shell would show it (no secrets: they go by env)
  std::string args;   // apono's arguments joined, empty for other programs
  std::string out, err;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------
// The browser, for `apono login` (as tests/broker/login_integration_test.cpp plays it).

struct page {
  int status = 0;
  std::string location;
  std::string body;
};

page browse(const broker_fixture& b, const std::string& method, const std::string& target,
            const std::string& form = {}) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (method == "POST") headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  auto a = raw_https(b, method, target, headers, form);
  return {a.status, a.headers["location"], std::move(a.body)};
}

std::string url_param(const std::string& url, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(url, m, std::regex("[?&]" + name + "=([^&]*)"))) return {};
  std::string v = m[1], out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size()) {
      out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The run.

// The directory every temp dir of the run goes under (TMPDIR), with the dirs the test adds.
struct scan_root {
  temp_dir dir{"apono-secrets-scan-"};
  scan_root() {
    // PostgreSQL runs as `postgres` and must traverse it to reach its own 0700 dir.
    fs::permissions(dir.path, fs::perms(0711));
    for (const char* sub : {"runtime", "home", "captures", "input"}) {
      fs::create_directory(dir.path / sub);
      fs::permissions(dir.path / sub, fs::perms::owner_all);
    }
  }
};

// Entries of the shared temp dirs before the run, to find what appeared there during it.
std::map<std::string, std::set<std::string>> shared_temp_entries() {
  std::map<std::string, std::set<std::string>> out;
  for (const char* d : {"/tmp", "/var/tmp", "/dev/shm"}) {
    auto& names = out[d];  // present even when empty: PostgreSQL adds to /dev/shm later
    std::error_code ec;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
      names.insert(it->path().filename().string());
  }
  return out;
}

/// What one checkpoint looked at.
struct checkpoint_stats {
  std::string name;
  std::size_t files = 0, bytes = 0, allowed_hits = 0, shared_temp_files = 0;
  std::chrono::milliseconds took{};
};

struct e2e_run {
  const std::map<std::string, std::set<std::string>> shared_before = shared_temp_entries();
  scan_root root;
  scoped_env tmpdir{"TMPDIR", root.dir.path.string()};
  scoped_env home{"HOME", (root.dir.path / "home").string()};
  scoped_env runtime{"XDG_RUNTIME_DIR", (root.dir.path / "runtime").string()};
  pg_fixture pg;
  // Every request event also goes to Slack as direct messages; every call the stand-in got
  // (each message, its blocks, each update) is written under the root and scanned.
  slack_fixture slack;
  aws_fixture aws;
  kube_fixture kube;
  sshd_fixture sshd{{"", {{login, {principal}}}, ""}};
  // Every event of the run, audit included, goes to a receiver whose files (the bodies it got)
  // are scanned like everything else under the root.
  const std::string webhook_secret = apono::broker::notify::generate_secret();
  webhook_receiver receiver{{webhook_secret}, json::object{}};
  // Every request event also goes by email (STARTTLS, AUTH) to a real SMTP server and as a card
  // to a Teams endpoint on the same receiver; their files (each mail, each card) are scanned.
  const std::string smtp_password = apono::common::random_password(24);
  const std::string teams_signature = apono::common::random_password(32);
  temp_dir smtp_certs{"smtp-certs"};
  std::unique_ptr<smtp_receiver> smtp;
  std::unique_ptr<broker_fixture> b;
  cli_fixture cli;

  registry secrets;
  std::vector<command_record> commands;
  std::vector<file_rule> file_rules;
  std::vector<command_rule> command_rules;
  std::vector<std::string> findings;
  std::vector<checkpoint_stats> checkpoints;
  std::set<std::string> allowed_seen;  // "place <- kind", for the report
  std::map<std::string, std::string> grant_status;

  e2e_run() {
    pg.psql("CREATE DATABASE appdb");
    pg.psql("CREATE TABLE notes (id int, body text); INSERT INTO notes VALUES (1, 'hello')",
            "appdb");
    aws.add_role(role_arn);
    // The cloud integrations as tests/cli/cloud_access_integration_test.cpp sets them up.
    const auto& o = aws.options();
    std::string extra = "integrations:\n";
    extra += "  - id: aws-dev\n    type: aws\n    region: " + o.region + "\n";
    extra += "    sts_endpoint: " + aws.url() + "\n    iam_endpoint: " + aws.url() + "\n";
    extra += "    ca_file: " + aws.ca_file().string() + "\n";
    extra += "    access_key_id: " + o.access_key_id + "\n";
    extra += "    secret_access_key: \"" + o.secret_access_key + "\"\n";
    extra += "    resources: [\"" + account + "\"]\n    permissions:\n";
    extra += "      - {name: read-only, role_arn: \"arn:aws:iam::{account}:role/ReadOnly\"}\n";
    extra += "  - id: k8s-dev\n    type: kubernetes\n    server: " + kube.url() + "\n";
    extra += "    ca_file: " + kube.ca_file().string() + "\n";
    extra += "    token: " + kube.admin_token() + "\n";
    extra += "    resources: [team-a]\n    permissions: [view]\n";
    extra += "access_flows:\n";
    extra += "  - name: engineers-cloud\n    requestors: {groups: [engineers]}\n";
    extra += "    targets:\n";
    extra += "      - {integration: aws-dev, resources: [\"*\"], permissions: [\"*\"]}\n";
    extra += "      - {integration: k8s-dev, resources: [\"*\"], permissions: [\"*\"]}\n";
    extra += "    approval: automatic\n    max_duration: 8h\n";
    make_loopback_certificate(smtp_certs.path);
    smtp = std::make_unique<smtp_receiver>(
        json::object{{"tls_cert", (smtp_certs.path / "cert.pem").string()},
                     {"tls_key", (smtp_certs.path / "key.pem").string()},
                     {"auth", json::object{{"user", "apono"}, {"password", smtp_password}}}});
    apono::common::write_private_file(input_dir() / "smtp.password", smtp_password + "\n");
    extra += "notifications:\n  webhooks:\n    - name: everything\n      url: " +
             receiver.url("/everything") + "\n      secrets: [" + webhook_secret +
             "]\n      events: [\"*\"]\n";
    extra += "  portal_url: https://apono.example.test\n";
    extra += "  teams:\n    - name: feed\n      url: \"" +
             receiver.url("/teams?api-version=1&sig=" + teams_signature) +
             "\"\n      events: [\"request.*\"]\n";
    extra +=
        "  email:\n    host: 127.0.0.1\n    port: " + std::to_string(smtp->port()) +
        "\n    tls: starttls\n    ca_file: " + (smtp_certs.path / "cert.pem").string() +
        "\n    username: apono\n    password_file: " + (input_dir() / "smtp.password").string() +
        "\n    from: \"Apono <apono@example.test>\"\n";
    for (const char* u : {"admin", "approver", "alice", "bob"})
      slack.add_user(u, std::string(u) + "@example.com");
    extra += slack.config_yaml(2);
    apono::common::write_private_file(input_dir() / "extra.yaml", extra);
    b = std::make_unique<broker_fixture>(
        pg, std::vector<std::string>{"--ssh-target", "127.0.0.1:" + std::to_string(sshd.port()),
                                     "--ssh-host-key", sshd.host_key(), "--ssh-login", login,
                                     "--dev-extra", (input_dir() / "extra.yaml").string()});
    auto ca = b->call("", "GET", "/api/v1/ssh/ca");
    REQUIRE(ca.status == 200);
    sshd.set_trusted_ca(ca.body);
  }

  [[nodiscard]] fs::path input_dir() const { return root.dir.path / "input"; }
  // What Slack was sent so far, one call a line (not the bearer token, which the stand-in
  // keeps to check it), for the file scan.
  void save_slack_calls() {
    std::string lines;
    for (const auto& c : slack.calls())
      lines += json::serialize(json::object{{"method", c.method},
                                            {"args", c.args},
                                            {"status", c.http_status},
                                            {"answer", c.answer}}) +
               "\n";
    fs::create_directories(root.dir.path / "slack-calls");
    apono::common::write_private_file(root.dir.path / "slack-calls" / "calls.jsonl", lines);
  }
  [[nodiscard]] fs::path captures() const { return root.dir.path / "captures"; }
  [[nodiscard]] fs::path runtime_dir() const { return root.dir.path / "runtime"; }

  // The environment of apono and the tools: the CLI's home and profiles, the fixtures' CAs.
  [[nodiscard]] std::map<std::string, std::string> env() const {
    auto e = cli.env();
    e["XDG_RUNTIME_DIR"] = runtime_dir().string();
    e["AWS_CONFIG_FILE"] = (cli.home() / ".aws" / "config").string();
    e["AWS_SHARED_CREDENTIALS_FILE"] = (cli.home() / ".aws" / "credentials").string();
    e["AWS_CA_BUNDLE"] = aws.ca_file().string();
    e["AWS_EC2_METADATA_DISABLED"] = "true";
    e["AWS_PAGER"] = "";
    e["KUBECONFIG"] = (cli.home() / ".kube" / "config").string();
    return e;
  }

  cli_result apono(const std::vector<std::string>& args) {
    auto r = cli.apono(args, {}, env());
    commands.push_back({"apono " + join(args), join(args), r.out, r.err});
    return r;
  }

  // A command that must succeed; its output is shown redacted when it does not.
  cli_result apono_ok(const std::vector<std::string>& args) {
    auto r = apono(args);
    INFO("apono " << join(args) << "\nstatus " << r.status << "\nstdout:\n"
                  << secrets.redact(r.out) << "\nstderr:\n"
                  << secrets.redact(r.err));
    REQUIRE(r.status == 0);
    return r;
  }

  run_result tool(const std::vector<std::string>& argv,
                  const std::map<std::string, std::string>& more = {}) {
    auto e = env();
    for (const auto& [k, v] : more) e[k] = v;
    auto r = apono::test::run(argv, {}, e, 60s);
    commands.push_back({join(argv), "", r.output, ""});
    return r;
  }

  /// An apono run in the background, stdout and stderr kept apart in captures/.
  struct background {
    std::vector<std::string> args;
    fs::path out, err;
    std::unique_ptr<child_process> proc;
  };
  background start(const std::vector<std::string>& args) {
    background bg{args, captures() / ("bg" + std::to_string(commands.size()) + ".out"),
                  captures() / ("bg" + std::to_string(commands.size()) + ".err"), nullptr};
    std::vector<std::string> argv{"sh", "-c", "exec \"$0\" \"$@\" 2>" + quote(bg.err.string()),
                                  APONO_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    bg.proc = std::make_unique<child_process>(argv, bg.out, env());
    return bg;
  }
  int finish(background& bg, std::chrono::seconds timeout) {
    int status = bg.proc->wait(timeout);
    commands.push_back(
        {"apono " + join(bg.args), join(bg.args), read_bytes(bg.out), read_bytes(bg.err)});
    return status;
  }

  // What the broker tells an admin about everything (the audit trail, the event feed, every
  // request, the metrics): recorded like command output, with nothing allowed in it. The
  // store may hold an ACTIVE grant's password, so this is where a secret in an audit detail
  // would show.
  void api_answers() {
    for (const char* target :
         {"/api/v1/audit?limit=1000", "/api/v1/events?after=0&timeout=0",
          "/api/v1/access-requests?scope=all", "/metrics",
          "/api/v1/notifications/deliveries?limit=500", "/api/v1/notifications/endpoints"}) {
      auto a = b->call("admin", "GET", target);
      CHECK(a.status == 200);
      commands.push_back({std::string("GET ") + target + " (admin)", "", a.body, ""});
    }
  }

  // A request through the CLI as alice; returns its id once ACTIVE.
  std::string request(const std::vector<std::string>& what, const std::string& duration) {
    std::vector<std::string> args{"request"};
    args.insert(args.end(), what.begin(), what.end());
    args.insert(args.end(), {"-j", "secrets scan", "-d", duration});
    auto r = apono_ok(args);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex("ID: +(AR-\\d+)")));
    REQUIRE(r.out.find("Status:        ACTIVE") != std::string::npos);
    grant_status[m[1]] = "ACTIVE";
    return m[1];
  }

  // The secrets in access details (JSON) of `grant`.
  void collect_details(const std::string& text, const std::string& grant) {
    auto d = json::parse(text);
    for (const auto& u : d.at("units").as_array()) {
      const auto& o = u.as_object();
      auto field = [&](const char* k) {
        auto* v = o.if_contains(k);
        return v && v->is_string() ? std::string(v->get_string()) : std::string();
      };
      if (auto p = field("password"); !p.empty()) secrets.add(k_db_password, p, grant);
      if (auto s = field("secret_access_key"); !s.empty()) secrets.add(k_aws_secret, s, grant);
      if (auto t = field("session_token"); !t.empty()) secrets.add(k_aws_session, t, grant);
      if (auto t = field("token"); !t.empty()) secrets.add(k_kube_token, t, grant);
    }
  }

  // Asks the broker which grants have ended; their secrets are retired.
  void refresh_grants() {
    for (auto& [id, status] : grant_status) {
      status = request_status(*b, "alice", id);
      if (status == "EXPIRED" || status == "REVOKED") secrets.retire_grant(id);
    }
  }

  // ---- scanning

  [[nodiscard]] std::string describe(const secret& s, const std::string& encoding) const {
    return s.kind + (s.grant.empty() ? "" : " of " + s.grant) + " [" + s.tag() + "] as " + encoding;
  }

  // Checks one file's hits against the file rules; the file must be 0600 in a 0700 dir when
  // it holds anything.
  void judge_file(const fs::path& file, const std::string& place, const std::vector<hit>& hits,
                  checkpoint_stats& cp) {
    bool holds_allowed = false;
    for (const auto& h : hits) {
      const auto& s = secrets.all[h.secret];
      const file_rule* ok = nullptr;
      for (const auto& r : file_rules) {
        auto rel = file.lexically_relative(r.base);
        if (rel.empty() || rel.string().starts_with("..")) continue;
        std::smatch m;
        const auto rel_s = rel.string();
        if (!std::regex_match(rel_s, m, r.path) || !r.kinds.contains(s.kind)) continue;
        if (r.same_grant && m[1] != s.grant) continue;
        if (r.live_only && s.retired) continue;
        ok = &r;
        break;
      }
      if (ok) {
        holds_allowed = true;
        ++cp.allowed_hits;
        allowed_seen.insert(place + " <- " + s.kind + " (" + ok->why + ")");
      } else {
        findings.push_back("[" + cp.name + "] file " + place + ": " + describe(s, h.encoding) +
                           (s.retired ? " (no longer in use)" : ""));
      }
    }
    if (holds_allowed) {
      std::error_code ec;
      auto mode = fs::symlink_status(file, ec).permissions() & fs::perms::mask;
      auto dir_mode = fs::status(file.parent_path(), ec).permissions() & fs::perms::mask;
      if (mode != (fs::perms::owner_read | fs::perms::owner_write))
        findings.push_back("[" + cp.name + "] file " + place + " holds a secret but is not 0600");
      if (dir_mode != fs::perms::owner_all)
        findings.push_back("[" + cp.name + "] the directory of " + place +
                           " holds a secret file but is not 0700");
    }
  }

  // Every regular file under `dir`, recursively (symlinks not followed; files that vanish
  // while walking are skipped).
  void walk(const fs::path& dir, const std::function<void(const fs::path&)>& each) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const auto& p = it->path();
      if (p == captures()) continue;  // command outputs, scanned as such
      auto st = fs::symlink_status(p, ec);
      if (ec) {
        ec.clear();
        continue;
      }
      if (fs::is_directory(st))
        walk(p, each);
      else if (fs::is_regular_file(st))
        each(p);
    }
  }

  void checkpoint(const std::string& name, const std::vector<fs::path>& dirs,
                  bool shared_temp = false, bool broker_up = true) {
    if (broker_up) refresh_grants();
    const auto t0 = std::chrono::steady_clock::now();
    matcher m(secrets);
    checkpoint_stats cp{name};
    for (const auto& d : dirs)
      walk(d, [&](const fs::path& f) {
        auto data = read_bytes(f);
        ++cp.files;
        cp.bytes += data.size();
        auto hits = m.scan(data);
        if (!hits.empty()) judge_file(f, f.lexically_relative(root.dir.path).string(), hits, cp);
      });
    if (shared_temp) {
      // Anything new in the shared temp dirs (other people's runs too): our secrets must not
      // be there. Big files are read in part only, and at most 256 MiB in all: they are not
      // ours, everything of ours is under TMPDIR.
      std::size_t budget = std::size_t{256} << 20;
      auto now = shared_temp_entries();
      for (const auto& [d, names] : now)
        for (const auto& n : names) {
          if (shared_before.at(d).contains(n) || fs::path(d) / n == root.dir.path) continue;
          auto visit = [&](const fs::path& f) {
            if (budget == 0) return;
            std::ifstream in(f, std::ios::binary);
            std::string data(std::min(budget, std::size_t{8} << 20), '\0');
            in.read(data.data(), static_cast<std::streamsize>(data.size()));
            data.resize(static_cast<std::size_t>(in.gcount()));
            budget -= data.size();
            ++cp.shared_temp_files;
            cp.bytes += data.size();
            for (const auto& h : m.scan(data))
              findings.push_back("[" + cp.name + "] shared temp file " + f.string() + ": " +
                                 describe(secrets.all[h.secret], h.encoding));
          };
          std::error_code ec;
          auto st = fs::symlink_status(fs::path(d) / n, ec);
          if (fs::is_directory(st))
            walk(fs::path(d) / n, visit);
          else if (fs::is_regular_file(st))
            visit(fs::path(d) / n);
        }
    }
    cp.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    checkpoints.push_back(cp);
  }

  void scan_commands(std::size_t& bytes) {
    matcher m(secrets);
    for (std::size_t i = 0; i < commands.size(); ++i) {
      const auto& c = commands[i];
      for (const auto& [stream, text] :
           {std::pair<std::string, const std::string*>{"stdout", &c.out}, {"stderr", &c.err}}) {
        bytes += text->size();
        for (const auto& h : m.scan(*text)) {
          const auto& s = secrets.all[h.secret];
          bool ok = false;
          if (stream == "stdout" && !c.args.empty())
            for (const auto& r : command_rules) {
              std::smatch mm;
              if (std::regex_match(c.args, mm, r.args) && r.kinds.contains(s.kind) &&
                  mm[1] == s.grant) {
                ok = true;
                allowed_seen.insert("stdout of `" +
                                    std::regex_replace(c.args, std::regex("AR-\\d+"), "ID") +
                                    "` <- " + s.kind + " (" + r.why + ")");
                break;
              }
            }
          if (!ok)
            findings.push_back("command #" + std::to_string(i + 1) + " `" + c.label + "` " +
                               stream + ": " + describe(s, h.encoding));
        }
      }
    }
  }
};

// `ssh -i KEY ...` as `access use` printed it.
std::string printed_ssh_command(const std::string& out) {
  auto at = out.find("Connect with ssh:\n");
  REQUIRE(at != std::string::npos);
  auto start = out.find_first_not_of(' ', at + 18);
  return out.substr(start, out.find('\n', start) - start);
}

std::string shell_value(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(name + "=('([^']*)'|([^\\s']+))"))) return {};
  return m[2].matched ? m[2].str() : m[3].str();
}

// A PEM private key of `type` ("EC" P-256 or "ED25519") and its public key, made by OpenSSL.
std::pair<std::string, std::string> new_pem_key(const char* type) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      std::string(type) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, type),
      &EVP_PKEY_free);
  REQUIRE(key);
  auto pem = [&](bool priv) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    REQUIRE((priv ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                             nullptr)
                  : PEM_write_bio_PUBKEY(bio.get(), key.get())) == 1);
    char* d = nullptr;
    long n = BIO_get_mem_data(bio.get(), &d);
    return std::string(d, static_cast<std::size_t>(n));
  };
  return {pem(true), pem(false)};
}

// `text` broken into lines of `width` characters.
std::string wrap(const std::string& text, std::size_t width) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += width) out += text.substr(i, width) + "\n";
  return out;
}

}  // namespace

TEST_CASE("the scanner finds secrets in the encodings it claims, and nothing else", "[secrets]") {
  temp_dir dir;
  auto ssh_key = [&](const char* name) {
    REQUIRE(apono::test::run(
                {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir.path / name).string()})
                .status == 0);
    return std::pair{apono::common::read_file(dir.path / name),
                     apono::common::read_file(dir.path / (std::string(name) + ".pub"))};
  };
  const auto [ec, ec_public] = new_pem_key("EC");
  const auto [ed, ed_public] = new_pem_key("ED25519");
  const auto [openssh, openssh_public] = ssh_key("k1");
  const auto other_ec = new_pem_key("EC").first;
  const auto other_ed = new_pem_key("ED25519").first;
  const auto other_openssh = ssh_key("k2").first;

  registry r;
  const auto token = r.add("token", apono::common::random_token(), "");
  const auto password = r.add("password", apono::common::random_password(32), "");
  const auto slashy = r.add("aws secret", "abc/DEF+ghi/JKL+mno/PQR+stu/VWX", "");
  const auto ec_key = r.add("ec key", ec, "", key_patterns(ec, openssl_private_value(ec)));
  const auto ed_key = r.add("ed key", ed, "", key_patterns(ed, openssl_private_value(ed)));
  const auto ssh =
      r.add("ssh key", openssh, "", key_patterns(openssh, openssh_private_value(openssh)));
  matcher m(r);
  auto found = [&](const std::string& text) {
    std::set<std::size_t> out;
    for (const auto& h : m.scan(text)) out.insert(h.secret);
    return out;
  };
  using set = std::set<std::size_t>;

  // Text secrets: as they are, in base64 at any offset and wrapped, in hex, percent-encoded.
  const auto& tv = r.all[token].value;
  const auto& pv = r.all[password].value;
  CHECK(found("INFO issued " + tv + " to alice") == set{token});
  CHECK(found(b64(pv, false, true)) == set{password});
  CHECK(found(hex(tv)) == set{token});
  CHECK(found("k=" + percent(r.all[slashy].value)) == set{slashy});
  for (std::size_t pad = 0; pad < 6; ++pad) {
    const std::string doc =
        std::string(pad, '#') + R"({"token":")" + tv + R"(","password":")" + pv + "\"}";
    CHECK(found(b64(doc, false, true)) == set{token, password});
    CHECK(found(b64(doc, true, false)) == set{token, password});
    CHECK(found(wrap(b64(apono::common::random_bytes(pad * 7) + doc, false, true), 76)) ==
          set{token, password});
  }

  // Keys: a copy of the file, inside JSON, re-wrapped, decoded, the raw value; never an
  // unrelated key of the same type, nor the key's own public half.
  for (const auto& [i, pem, other, pub] :
       {std::tuple{ec_key, ec, other_ec, ec_public}, std::tuple{ed_key, ed, other_ed, ed_public},
        std::tuple{ssh, openssh, other_openssh, openssh_public}}) {
    INFO(r.all[i].kind);
    CHECK(found("saved: " + pem) == set{i});
    CHECK(found(json::serialize(json::value(pem))) == set{i});
    std::string body;
    std::istringstream in(pem);
    for (std::string line; std::getline(in, line);)
      if (!line.starts_with("-----")) body += line;
    CHECK(found(wrap(body, 76)) == set{i});
    CHECK(found(b64_decode(body)) == set{i});
    CHECK(found(b64(b64_decode(body), false, true)) == set{i});
    CHECK(found(other).empty());
    CHECK(found(pub).empty());
  }
}

TEST_CASE("secrets issued in a full end-to-end run appear only where they are meant to",
          "[secrets][integration]") {
  const auto started = std::chrono::steady_clock::now();
  e2e_run s;
  auto& b = *s.b;
  auto& secrets = s.secrets;
  const auto data = b.data_dir();
  // Every fixture made its dirs under the scanned root (TMPDIR), so the walk sees them all.
  for (const auto& p : {data, s.cli.home(), s.aws.ca_file(), s.kube.ca_file()})
    REQUIRE(p.string().starts_with(s.root.dir.path.string() + "/"));

  // ---- the allow-lists: every place a secret may be, and why.
  s.file_rules = {
      {.base = data,
       .path = std::regex("aponod\\.yaml"),
       .kinds = {k_pg_admin, k_broker_aws, k_broker_kube, k_webhook_secret, k_teams_signature,
                 k_slack_token, k_slack_signing},
       .why = "the broker's config holds its own target credentials, webhook secrets, the "
              "Teams URL and the Slack app's token and signing secret"},
      {.base = data,
       .path = std::regex("dev-credentials\\.json"),
       .kinds = {k_dev_token, k_dev_password},
       .why = "--dev hands the dev users' sign-in secrets to the developer"},
      {.base = data,
       .path = std::regex("ca-key\\.pem"),
       .kinds = {k_tls_ca_key},
       .why = "the TLS CA's key"},
      {.base = data,
       .path = std::regex("server-key\\.pem"),
       .kinds = {k_tls_server_key},
       .why = "the TLS server key"},
      {.base = data,
       .path = std::regex("ssh_user_ca\\.pem"),
       .kinds = {k_ssh_ca_key},
       .why = "the SSH user CA key"},
      {.base = data,
       .path = std::regex("store\\.key"),
       .kinds = {k_store_key},
       .why = "the key that seals unit secrets in the store"},
      {.base = s.input_dir(),
       .path = std::regex("extra\\.yaml"),
       .kinds = {k_broker_aws, k_broker_kube, k_webhook_secret, k_teams_signature, k_slack_token,
                 k_slack_signing},
       .why = "the --dev-extra config the test wrote for the broker"},
      {.base = s.input_dir(),
       .path = std::regex("smtp\\.password"),
       .kinds = {k_smtp_password},
       .why = "the SMTP password's file (password_file), as an admin keeps it"},
      {.base = s.root.dir.path,
       .path = std::regex("webhook-receiver[A-Za-z0-9]{6}/received\\.jsonl"),
       .kinds = {k_teams_signature},
       .why = "the Teams endpoint's receiver logs the URL it was called on, signature included"},
      {.base = s.cli.config_dir(),
       .path = std::regex("config\\.json"),
       .kinds = {k_session_token},
       .live_only = true,
       .why = "the CLI's profile keeps its API token until logout"},
      {.base = s.runtime_dir(),
       .path = std::regex("apono/ssh-(AR-\\d+)/ssh_key"),
       .kinds = {k_ssh_key_use},
       .same_grant = true,
       .why = "`access use` leaves the key for the user's own ssh"},
      {.base = s.runtime_dir(),
       .path = std::regex("apono/ssh-(AR-\\d+)/ssh_key-cert\\.pub"),
       .kinds = {k_ssh_cert},
       .same_grant = true,
       .why = "`access use` leaves the certificate for the user's own ssh"},
      {.base = s.runtime_dir(),
       .path = std::regex("apono/(AR-\\d+)\\.[A-Za-z0-9]{6}/ssh_key"),
       .kinds = {k_ssh_key_session},
       .same_grant = true,
       .live_only = true,
       .why = "the session's key for OpenSSH, while the session runs"},
      {.base = s.runtime_dir(),
       .path = std::regex("apono/(AR-\\d+)\\.[A-Za-z0-9]{6}/ssh_key-cert\\.pub"),
       .kinds = {k_ssh_cert},
       .same_grant = true,
       .live_only = true,
       .why = "the session's certificate for OpenSSH, while the session runs"},
  };
  s.command_rules = {
      {std::regex("(?:access use|access-details|access reset-credentials) (AR-\\d+)(?: -o \\w+)?"),
       {k_db_password, k_aws_secret, k_aws_session, k_kube_token},
       "the credentials, printed to the user who asked for them"},
      {std::regex("access aws-credentials (AR-\\d+)"),
       {k_aws_secret, k_aws_session},
       "credential_process output for the aws CLI"},
      {std::regex("access kube-credentials (AR-\\d+)"),
       {k_kube_token},
       "ExecCredential output for kubectl"},
      {std::regex("access proxy (AR-\\d+) .*"),
       {k_proxy_password},
       "the proxy's one-time password, for the user's client"},
  };

  // ---- the broker's own secrets.
  for (const char* u : {"admin", "approver", "alice", "bob"}) {
    secrets.add(k_dev_token, b.token(u), "");
    secrets.add(k_dev_password, b.password(u), "");
  }
  {
    std::smatch m;
    const auto url = s.pg.admin_url();
    REQUIRE(std::regex_search(url, m, std::regex("postgres:([^@]+)@")));
    secrets.add(k_pg_admin, m[1], "");
  }
  {
    // `whsec_` + base64: the key bytes behind it are what signs, in any spelling.
    const auto& whsec = s.webhook_secret;
    const auto raw = b64_decode(whsec.substr(6));
    auto p = text_patterns(whsec);
    p.push_back({whsec.substr(6), "the secret's base64"});
    p.push_back({raw, "raw key bytes"});
    p.push_back({hex(raw), "raw key, hex"});
    add_embedded_base64(p, raw);
    secrets.add(k_webhook_secret, whsec, "", std::move(p));
  }
  secrets.add(k_smtp_password, s.smtp_password, "");
  secrets.add(k_teams_signature, s.teams_signature, "");
  secrets.add(k_slack_token, s.slack.bot_token(), "");
  secrets.add(k_slack_signing, s.slack.signing_secret(), "");
  secrets.add(k_broker_aws, s.aws.options().secret_access_key, "");
  secrets.add(k_broker_kube, s.kube.admin_token(), "");
  for (const auto& [kind, file] : {std::pair<const char*, const char*>{k_tls_ca_key, "ca-key.pem"},
                                   {k_tls_server_key, "server-key.pem"},
                                   {k_ssh_ca_key, "ssh_user_ca.pem"}}) {
    auto pem = apono::common::read_file(data / file);
    auto raw = openssl_private_value(pem);
    secrets.add(kind, pem, "", key_patterns(pem, raw));
  }
  {
    // `ID BASE64` lines; the raw 32 bytes and their other spellings are what must not leak.
    std::istringstream keys(apono::common::read_file(data / "store.key"));
    for (std::string line; std::getline(keys, line);) {
      if (line.empty() || line[0] == '#') continue;
      auto b64 = line.substr(line.find(' ') + 1);
      auto raw = b64_decode(b64);
      std::vector<pattern> p{{b64, "key as in the file"},
                             {raw, "raw key bytes"},
                             {hex(raw), "raw key, hex"},
                             {hex(raw, true), "raw key, HEX"}};
      add_embedded_base64(p, raw);
      secrets.add(k_store_key, b64, "", std::move(p));
    }
  }

  // ---- `apono login` in the browser, the test playing the browser.
  std::string session_token;
  {
    auto bg =
        s.start({"login", "--server", b.url(), "--ca-file", b.ca_file().string(), "--no-browser"});
    std::string url;
    REQUIRE(wait_until(
        [&] {
          auto text = read_bytes(bg.err);
          auto at = text.find(b.url() + "/login?");
          auto end = at == std::string::npos ? at : text.find('\n', at);
          if (end == std::string::npos) return false;
          url = text.substr(at, end - at);
          return true;
        },
        10s));
    const auto target = url.substr(b.url().size());
    REQUIRE(browse(b, "GET", target).status == 200);
    auto posted = browse(b, "POST", "/login",
                         "username=alice&password=" + percent(b.password("alice")) + "&" +
                             target.substr(target.find('?') + 1));
    REQUIRE(posted.status == 302);
    const auto code = url_param(posted.location, "code");
    secrets.add(k_auth_code, code, "");
    const auto slash = posted.location.find('/', std::string("http://").size());
    apono::common::http_client browser({posted.location.substr(0, slash), {}, {}, 10s});
    CHECK(browser.request("GET", posted.location.substr(slash)).status == 200);
    REQUIRE(s.finish(bg, 20s) == 0);
    auto profile = json::parse(apono::common::read_file(s.cli.config_dir() / "config.json"));
    session_token = profile.at("profiles").at("default").at("token").as_string();
    REQUIRE(session_token.starts_with("apn_"));
    REQUIRE(session_token != b.token("alice"));
    secrets.add(k_session_token, session_token, "");
  }

  // ---- a database grant left to expire.
  const auto expiring =
      s.request({"-i", "pg-local", "-t", "database", "-r", "appdb", "-p", "read_only"}, "20s");
  s.collect_details(s.apono_ok({"access", "use", expiring, "-o", "json"}).out, expiring);
  CHECK(s.apono_ok({"access", "connect", expiring, "-c", "select body from notes"})
            .out.find("hello") != std::string::npos);

  // ---- a database grant: details, instructions, the shell, psql, the proxy, a reset.
  const auto db =
      s.request({"-i", "pg-local", "-t", "database", "-r", "appdb", "-p", "read_only"}, "10m");
  auto password_in = [](const std::string& details) {
    return std::string(json::parse(details).at("units").at(0).at("password").as_string());
  };
  const auto details = s.apono_ok({"access-details", db, "-o", "json"}).out;
  s.collect_details(details, db);
  const auto first_password = password_in(details);
  CHECK(s.apono_ok({"access", "use", db}).out.find("PGPASSWORD=") != std::string::npos);
  CHECK(s.apono_ok({"access", "connect", db, "-c", "select current_user"}).out.find("apono_") !=
        std::string::npos);
  CHECK(s.apono_ok({"access", "connect", db, "--client", "psql", "-c", "select 6 * 7 as answer"})
            .out.find("42") != std::string::npos);
  {
    const int port = free_port();
    auto proxy = s.start({"access", "proxy", db, "--port", std::to_string(port)});
    REQUIRE(wait_until(
        [&] { return read_bytes(proxy.out).find("Press Ctrl-C") != std::string::npos; }, 15s));
    const auto text = read_bytes(proxy.out);
    std::smatch m;
    REQUIRE(std::regex_search(text, m, std::regex("Password: +(\\S+)")));
    const std::string one_time = m[1];
    secrets.add(k_proxy_password, one_time, db);
    REQUIRE(std::regex_search(text, m, std::regex("host=(\\S+) port=5432")));
    const std::string socket_dir = m[1];
    auto tcp = s.tool({"psql", "-X", "-w", "-At", "-h", "127.0.0.1", "-p", std::to_string(port),
                       "-U", "x", "-d", "appdb", "-c", "select body from notes"},
                      {{"PGPASSWORD", one_time}, {"PGSSLMODE", "disable"}});
    CHECK(tcp.output == "hello\n");
    auto sock = s.tool({"psql", "-X", "-At", "-h", socket_dir, "-p", "5432", "-U", "x", "-d",
                        "appdb", "-c", "select 1"});
    CHECK(sock.output == "1\n");
    s.checkpoint("proxy running", {s.runtime_dir(), s.cli.home()});
    proxy.proc->signal(SIGINT);
    CHECK(s.finish(proxy, 10s) == 0);
    secrets.retire(one_time);
  }
  const auto reset = s.apono_ok({"access", "reset-credentials", db, "-o", "json"}).out;
  s.collect_details(reset, db);
  REQUIRE(password_in(reset) != first_password);
  secrets.retire(first_password);  // replaced at the target: nothing needs it now
  CHECK(s.apono_ok({"access", "connect", db, "-c", "select 1 as one"}).out.find("1") !=
        std::string::npos);

  // ---- SSH: the files of `access use`, the printed ssh command, both clients.
  const auto ssh =
      s.request({"-i", "ssh-local", "-t", "host", "-r", "local-sshd", "-p", login}, "10m");
  {
    auto use = s.apono_ok({"access", "use", ssh});
    const auto dir = s.runtime_dir() / "apono" / ("ssh-" + ssh);
    const auto key = apono::common::read_file(dir / "ssh_key");
    secrets.add(k_ssh_key_use, key, ssh, key_patterns(key, openssh_private_value(key)));
    std::istringstream cert(apono::common::read_file(dir / "ssh_key-cert.pub"));
    std::string type, blob;
    cert >> type >> blob;
    secrets.add(k_ssh_cert, blob, ssh, {{blob, "verbatim"}, {b64_decode(blob), "decoded"}});
    auto printed = s.tool({"sh", "-c", printed_ssh_command(use.out) + " -o BatchMode=yes echo ok"});
    CHECK(printed.status == 0);
  }
  CHECK(s.apono_ok({"access", "connect", ssh, "--", "echo", "builtin-ok"}).out == "builtin-ok\n");
  {
    // While an OpenSSH session runs its key and certificate sit in a private run dir.
    auto session = s.start({"access", "connect", ssh, "--client", "ssh", "--", "sleep", "2"});
    fs::path run_dir;
    REQUIRE(wait_until(
        [&] {
          std::error_code ec;
          for (fs::directory_iterator it(s.runtime_dir() / "apono", ec), end; !ec && it != end;
               it.increment(ec))
            if (it->path().filename().string().starts_with(ssh + ".") &&
                fs::exists(it->path() / "known_hosts"))  // written last
              run_dir = it->path();
          return !run_dir.empty();
        },
        15s));
    const auto key = apono::common::read_file(run_dir / "ssh_key");
    secrets.add(k_ssh_key_session, key, ssh, key_patterns(key, openssh_private_value(key)));
    std::istringstream cert(apono::common::read_file(run_dir / "ssh_key-cert.pub"));
    std::string type, blob;
    cert >> type >> blob;
    secrets.add(k_ssh_cert, blob, ssh, {{blob, "verbatim"}, {b64_decode(blob), "decoded"}});
    s.checkpoint("OpenSSH session running", {s.runtime_dir(), s.cli.home()});
    CHECK(s.finish(session, 20s) == 0);
    CHECK_FALSE(fs::exists(run_dir));
    secrets.retire(key);
  }

  // ---- AWS: details, the profile, the aws CLI through credential_process, the helper.
  const auto aws =
      s.request({"-i", "aws-dev", "-t", "account", "-r", account, "-p", "read-only"}, "10m");
  s.collect_details(s.apono_ok({"access", "use", aws, "-o", "json"}).out, aws);
  {
    auto text = s.apono_ok({"access", "use", aws}).out;
    auto secret = shell_value(text, "AWS_SECRET_ACCESS_KEY");
    auto token = shell_value(text, "AWS_SESSION_TOKEN");
    REQUIRE(!secret.empty());
    REQUIRE(!token.empty());
    secrets.add(k_aws_secret, secret, aws);
    secrets.add(k_aws_session, token, aws);
  }
  s.apono_ok({"access", "use", aws, "--aws-profile"});
  if (on_path("aws")) {
    auto who = s.tool({"aws", "sts", "get-caller-identity", "--profile", "apono", "--endpoint-url",
                       s.aws.url(), "--output", "json"});
    INFO(secrets.redact(who.output));
    CHECK(who.status == 0);
  } else {
    WARN("the aws CLI is not installed: credential_process not exercised");
  }
  {
    auto creds = json::parse(s.apono_ok({"access", "aws-credentials", aws}).out);
    secrets.add(k_aws_secret, std::string(creds.at("SecretAccessKey").as_string()), aws);
    secrets.add(k_aws_session, std::string(creds.at("SessionToken").as_string()), aws);
  }

  // ---- Kubernetes: details, the kubeconfig, kubectl through the exec plugin, the helper.
  const auto kube =
      s.request({"-i", "k8s-dev", "-t", "namespace", "-r", "team-a", "-p", "view"}, "10m");
  s.collect_details(s.apono_ok({"access", "use", kube, "-o", "json"}).out, kube);
  s.apono_ok({"access", "use", kube, "--kubeconfig", "--switch-context"});
  if (on_path("kubectl") && kubectl_has_exec_v1()) {
    auto pods = s.tool({"kubectl", "get", "pods", "-n", "team-a"});
    INFO(secrets.redact(pods.output));
    CHECK(pods.status == 0);
  } else {
    WARN("no kubectl 1.22 or later: the exec plugin not exercised");
  }
  {
    auto cred = json::parse(s.apono_ok({"access", "kube-credentials", kube}).out);
    secrets.add(k_kube_token, std::string(cred.at("status").at("token").as_string()), kube);
  }
  s.apono_ok({"access", "list"});
  s.apono_ok({"requests", "list", "-o", "json"});

  // ---- everything while the grants are active.
  s.save_slack_calls();
  s.checkpoint("grants active", {s.root.dir.path}, true);
  {
    // The scan sees what it should: the allowed places hold what they are for.
    matcher m(secrets);
    auto holds = [&](const fs::path& f, const std::string& kind) {
      for (const auto& h : m.scan(read_bytes(f)))
        if (secrets.all[h.secret].kind == kind) return true;
      return false;
    };
    CHECK(holds(s.cli.config_dir() / "config.json", k_session_token));
    CHECK(holds(s.runtime_dir() / "apono" / ("ssh-" + ssh) / "ssh_key", k_ssh_key_use));
    CHECK(holds(data / "aponod.yaml", k_pg_admin));
    // Sealed at rest: the store file holds no password, not even an ACTIVE grant's (the scan
    // of every file would also say so; this names the place).
    const bool store_has_password =
        holds(data / "apono.db", k_db_password) ||
        (fs::exists(data / "apono.db-wal") && holds(data / "apono.db-wal", k_db_password));
    CHECK_FALSE(store_has_password);
    // Login tokens are kept as hashes: the store scan reads the store.
    auto store = read_bytes(data / "apono.db") + read_bytes(data / "apono.db-wal");
    CHECK(store.find(apono::common::sha256_hex(session_token)) != std::string::npos);
    s.api_answers();
  }

  // ---- a revoke of each, and the expiry.
  for (const auto& id : std::vector<std::string>{db, ssh, aws, kube})
    s.apono_ok({"requests", "revoke", id, "--wait"});
  REQUIRE(wait_until([&] { return request_status(b, "alice", expiring) == "EXPIRED"; }, 40s));
  auto after = s.apono({"access", "connect", db, "-c", "select 1"});
  CHECK(after.status == 1);
  s.apono_ok({"logout"});
  secrets.retire(session_token);  // revoked at the broker; the profile is gone

  // Every notification of the run delivered (the receiver's files hold every body), each
  // verified with the secret.
  REQUIRE(wait_until(
      [&] {
        auto p = b.call("admin", "GET", "/api/v1/notifications/deliveries?status=pending");
        return p.status == 200 && p.json.as_array().empty();
      },
      60s));
  const auto delivered = s.receiver.received();
  CHECK(delivered.size() > 50);
  for (const auto& w : delivered)
    if (w.path == "/everything") CHECK(w.verified == std::vector<bool>{true});
  std::printf("webhooks: %zu deliveries received and verified\n", delivered.size());
  // Mails over STARTTLS with AUTH and Teams cards arrived too (their files are scanned below).
  const auto mails = s.smtp->mails();
  CHECK(mails.size() > 5);
  for (const auto& m : mails) {
    CHECK(m.tls);
    CHECK(m.auth == "apono");
  }
  std::size_t cards = 0;
  for (const auto& w : delivered) cards += w.path.starts_with("/teams?");
  CHECK(cards > 5);
  std::printf("email: %zu mails; teams: %zu cards\n", mails.size(), cards);

  // Slack got the requester's messages and their updates (the stand-in's calls are scanned).
  const auto slack_posts = s.slack.calls("chat.postMessage").size();
  const auto slack_updates = s.slack.calls("chat.update").size();
  CHECK(slack_posts > 5);
  CHECK(slack_updates > 5);
  for (const auto& c : s.slack.calls()) CHECK(c.http_status == 200);
  std::printf("slack: %zu messages, %zu updates\n", slack_posts, slack_updates);
  s.save_slack_calls();
  // The file the scan reads holds every message and update as Slack got it, blocks included.
  const auto slack_file = read_bytes(s.root.dir.path / "slack-calls" / "calls.jsonl");
  CHECK(slack_file.find("\"chat.update\"") != std::string::npos);
  CHECK(slack_file.find("\"blocks\"") != std::string::npos);
  CHECK(slack_file.find("apono_details") != std::string::npos);

  s.api_answers();
  s.checkpoint("all ended, broker running", {s.root.dir.path}, true);
  CHECK(b.stop() == 0);
  s.checkpoint("aponod stopped", {s.root.dir.path}, false, false);
  std::size_t command_bytes = 0;
  s.scan_commands(command_bytes);

  // ---- the report.
  std::map<std::string, int> by_kind;
  std::size_t patterns = 0;
  for (const auto& x : secrets.all) {
    ++by_kind[x.kind];
    patterns += x.patterns.size();
  }
  std::printf("secrets scan: %zu secrets, %zu byte patterns\n", secrets.all.size(), patterns);
  for (const auto& [k, n] : by_kind) std::printf("  %2d  %s\n", n, k.c_str());
  for (const auto& c : s.checkpoints)
    std::printf(
        "checkpoint '%s': %zu files, %zu bytes, %zu allowed hits, %zu new shared-temp "
        "files, scanned in %lld ms\n",
        c.name.c_str(), c.files, c.bytes, c.allowed_hits, c.shared_temp_files,
        static_cast<long long>(c.took.count()));
  std::printf("commands: %zu, %zu bytes of stdout+stderr; aponod log %zu bytes\n",
              s.commands.size(), command_bytes, b.log().size());
  std::printf("allowed:\n");
  for (const auto& a : s.allowed_seen) std::printf("  %s\n", a.c_str());
  std::printf("findings: %zu\n", s.findings.size());
  for (const auto& f : s.findings) std::printf("  %s\n", f.c_str());
  std::printf("run took %lld s\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count()));
  std::string listing;
  for (const auto& f : s.findings) listing += f + "\n";
  INFO(listing);
  CHECK(s.findings.empty());
}

TEST_CASE("a PostgreSQL store: no password in a pg_dump while grants are active", "[secrets]") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE DATABASE apono_store");
  const auto store_url = pg.admin_url("apono_store");
  broker_fixture b(pg, {"--store", store_url});
  registry secrets;
  std::vector<std::string> ids;
  for (const char* perm : {"read_only", "read_write"}) {
    auto a = create_request(b, "alice", "appdb", perm, "10m");
    REQUIRE(a.status == 201);
    ids.emplace_back(a.json.at("id").as_string());
    if (std::string(perm) != "read_only")
      REQUIRE(
          b.call("approver", "POST", "/api/v1/access-requests/" + ids.back() + "/approve").status ==
          200);
  }
  for (const auto& id : ids) {
    REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));
    auto d = b.call("alice", "GET", "/api/v1/access-sessions/" + id + "/access-details");
    REQUIRE(d.status == 200);
    for (const auto& u : d.json.at("units").as_array())
      secrets.add(k_db_password, std::string(u.at("password").as_string()), id);
  }
  REQUIRE(secrets.all.size() == 2);
  const std::string bindir = std::getenv("APONO_PG_BINDIR") ? std::getenv("APONO_PG_BINDIR")
                                                            : "/usr/lib/postgresql/15/bin";
  auto dump = run({bindir + "/pg_dump", "--no-owner", "-d", store_url});
  REQUIRE(dump.status == 0);
  // The dump is the store: it lists the grants' logins and their sealed secrets.
  CHECK(dump.output.find("apono_ar") != std::string::npos);
  CHECK(dump.output.find("\tv1.") != std::string::npos);
  matcher m(secrets);
  auto hits = m.scan(dump.output);
  for (const auto& h : hits)
    FAIL_CHECK("pg_dump of the store holds " << secrets.all[h.secret].kind << " "
                                             << secrets.all[h.secret].tag());
  std::printf(
      "pg_dump of the PostgreSQL store: %zu bytes, %zu passwords of active grants, %zu "
      "found\n",
      dump.output.size(), secrets.all.size(), hits.size());
}
