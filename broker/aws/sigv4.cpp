// SigV4 over common's HMAC-SHA256; the steps follow the AWS documentation's
// "Create a signed AWS API request" in order, so each can be checked against its test vectors.
#include "broker/aws/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

#include "common/secrets.hpp"

namespace apono::broker::aws {

using common::hex;
using common::hmac_sha256;

namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view terminator = "aws4_request";

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Leading and trailing blanks go, inner runs become one space: proxies may fold whitespace,
// so the signature must not depend on it.
std::string trim_collapse(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::string* find_header(const header_list& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return &v;
  return nullptr;
}

std::string join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += uri_encode(name);
    out += '=';
    out += uri_encode(value);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> form_decode(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  auto decode = [](std::string_view part) {
    std::string spaced(part);
    std::replace(spaced.begin(), spaced.end(), '+', ' ');
    return percent_decode(spaced);
  };
  while (!s.empty()) {
    const auto amp = s.find('&');
    const auto pair = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(decode(pair), std::string{});
    } else {
      out.emplace_back(decode(pair.substr(0, eq)), decode(pair.substr(eq + 1)));
    }
  }
  return out;
}

std::string amz_date(common::time_point t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  const auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<common::time_point> parse_amz_date(std::string_view s) {
  // YYYYMMDDTHHMMSSZ -> RFC 3339, whose parser already checks ranges.
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (std::size_t i = 0; i < 15; ++i)
    if (i != 8 && (s[i] < '0' || s[i] > '9')) return std::nullopt;
  std::string rfc;
  rfc.append(s.substr(0, 4)).append("-").append(s.substr(4, 2)).append("-");
  rfc.append(s.substr(6, 2)).append("T").append(s.substr(9, 2)).append(":");
  rfc.append(s.substr(11, 2)).append(":").append(s.substr(13, 2)).append("Z");
  return common::parse_rfc3339(rfc);
}

std::string canonical_uri(std::string_view path) {
  if (path.empty()) return "/";
  return uri_encode(path, true);
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    pairs.emplace_back(uri_encode(percent_decode(name)), uri_encode(percent_decode(value)));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string canonical_request(const http_message& m,
                              const std::vector<std::string>& signed_headers) {
  std::string out;
  out += m.method;
  out += '\n';
  out += canonical_uri(m.path);
  out += '\n';
  out += canonical_query(m.query);
  out += '\n';
  for (const auto& name : signed_headers) {
    std::vector<std::string> values;
    for (const auto& [n, v] : m.headers)
      if (iequals(n, name)) values.push_back(trim_collapse(v));
    if (values.empty())
      throw std::invalid_argument("signed header '" + name + "' is not in the request");
    out += lower(name);
    out += ':';
    out += join(values, ',');
    out += '\n';
  }
  out += '\n';
  out += join(signed_headers, ';');
  out += '\n';
  out += common::sha256_hex(m.body);
  return out;
}

std::string string_to_sign(std::string_view date, const scope& s,
                           std::string_view canonical_request) {
  std::string out(algorithm);
  out += '\n';
  out += date;
  out += '\n';
  out += s.date + "/" + s.region + "/" + s.service + "/" + std::string(terminator);
  out += '\n';
  out += common::sha256_hex(canonical_request);
  return out;
}

std::string signing_key(std::string_view secret, const scope& s) {
  const auto k_date = hmac_sha256("AWS4" + std::string(secret), s.date);
  const auto k_region = hmac_sha256(k_date, s.region);
  const auto k_service = hmac_sha256(k_region, s.service);
  return hmac_sha256(k_service, terminator);
}

std::string signature(const http_message& m, const std::vector<std::string>& signed_headers,
                      std::string_view date, const scope& s, std::string_view secret) {
  const auto to_sign = string_to_sign(date, s, canonical_request(m, signed_headers));
  return hex(hmac_sha256(signing_key(secret, s), to_sign));
}

void sign(http_message& m, const credentials& c, std::string_view region, std::string_view service,
          common::time_point now) {
  // A retried request is signed afresh: drop what an earlier signing added.
  std::erase_if(m.headers, [](const auto& h) {
    return iequals(h.first, "authorization") || iequals(h.first, "x-amz-date") ||
           iequals(h.first, "x-amz-security-token");
  });
  if (!find_header(m.headers, "host"))
    throw std::invalid_argument("a SigV4 request must carry a Host header");
  const auto date = amz_date(now);
  m.headers.emplace_back("X-Amz-Date", date);
  if (!c.session_token.empty()) m.headers.emplace_back("X-Amz-Security-Token", c.session_token);

  std::vector<std::string> names;
  for (const auto& h : m.headers) names.push_back(lower(h.first));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  const scope s{date.substr(0, 8), std::string(region), std::string(service)};
  const auto sig = signature(m, names, date, s, c.secret_access_key);
  m.headers.emplace_back("Authorization",
                         std::string(algorithm) + " Credential=" + c.access_key_id + "/" + s.date +
                             "/" + s.region + "/" + s.service + "/" + std::string(terminator) +
                             ", SignedHeaders=" + join(names, ';') + ", Signature=" + sig);
}

std::optional<authorization> parse_authorization(std::string_view header) {
  header = trim(header);
  if (header.substr(0, algorithm.size()) != algorithm) return std::nullopt;
  header.remove_prefix(algorithm.size());
  if (header.empty() || header.front() != ' ') return std::nullopt;

  std::optional<std::string_view> credential, signed_headers, sig;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const auto part = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const auto key = part.substr(0, eq);
    const auto value = part.substr(eq + 1);
    std::optional<std::string_view>* slot = nullptr;
    if (key == "Credential") {
      slot = &credential;
    } else if (key == "SignedHeaders") {
      slot = &signed_headers;
    } else if (key == "Signature") {
      slot = &sig;
    } else {
      return std::nullopt;
    }
    if (*slot) return std::nullopt;  // a repeated component is ambiguous
    *slot = value;
  }
  if (!credential || !signed_headers || !sig) return std::nullopt;

  authorization out;
  std::vector<std::string> parts;
  for (std::string_view c = *credential;;) {
    const auto slash = c.find('/');
    parts.emplace_back(c.substr(0, slash));
    if (slash == std::string_view::npos) break;
    c.remove_prefix(slash + 1);
  }
  if (parts.size() != 5 || parts[4] != terminator) return std::nullopt;
  if (parts[0].empty() || parts[1].size() != 8 || parts[2].empty() || parts[3].empty())
    return std::nullopt;
  if (!std::all_of(parts[1].begin(), parts[1].end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  out.access_key_id = parts[0];
  out.scope = {parts[1], parts[2], parts[3]};

  for (std::string_view h = *signed_headers;;) {
    const auto semi = h.find(';');
    const auto name = h.substr(0, semi);
    if (name.empty() || lower(name) != name) return std::nullopt;
    out.signed_headers.emplace_back(name);
    if (semi == std::string_view::npos) break;
    h.remove_prefix(semi + 1);
  }
  if (sig->size() != 64 || !is_lower_hex(*sig)) return std::nullopt;
  out.signature = std::string(*sig);
  return out;
}

std::string expected_signature(const http_message& received, const authorization& auth,
                               std::string_view secret) {
  const auto* date = find_header(received.headers, "x-amz-date");
  if (!date) throw std::invalid_argument("the request has no X-Amz-Date header");
  return signature(received, auth.signed_headers, *date, auth.scope, secret);
}

}  // namespace apono::broker::aws
