// PostgreSQL 15's checks of a StartupMessage, message for message: the SQLSTATEs, texts,
// details and hints are PostgreSQL's own, because clients and their users match on them.
#include "proxy/pg/startup_rules.hpp"

#include <cctype>
#include <vector>

#include "proxy/pg/encoder.hpp"

namespace apono::proxy::pg {
namespace {

constexpr std::string_view mitm_detail =
    "This could be either a client-software bug or evidence of an attempted man-in-the-middle "
    "attack.";

std::string fatal(std::string_view code, std::string_view message, std::string_view detail = {},
                  std::string_view hint = {}) {
  std::string out;
  append_error(out, make_fields("FATAL", code, message, detail, hint));
  return out;
}

// pg_strncasecmp(value, word, n) == 0, where `word` ends in a NUL that `value` must match
// when n reaches past it.
bool prefix_of(std::string_view value, std::string_view word, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const char a = i < value.size() ? value[i] : '\0';
    const char b = i < word.size() ? word[i] : '\0';
    if (std::tolower(static_cast<unsigned char>(a)) != std::tolower(static_cast<unsigned char>(b)))
      return false;
    if (a == '\0') return true;
  }
  return true;
}

}  // namespace

std::optional<bool> parse_pg_bool(std::string_view v) {
  const std::size_t len = v.size();
  if (len == 0) return std::nullopt;
  switch (v[0]) {
    case 't':
    case 'T':
      if (prefix_of(v, "true", len)) return true;
      break;
    case 'f':
    case 'F':
      if (prefix_of(v, "false", len)) return false;
      break;
    case 'y':
    case 'Y':
      if (prefix_of(v, "yes", len)) return true;
      break;
    case 'n':
    case 'N':
      if (prefix_of(v, "no", len)) return false;
      break;
    case 'o':
    case 'O':
      // "o" alone could be on or off.
      if (prefix_of(v, "on", len > 2 ? len : 2)) return true;
      if (prefix_of(v, "off", len > 2 ? len : 2)) return false;
      break;
    case '1':
      if (len == 1) return true;
      break;
    case '0':
      if (len == 1) return false;
      break;
    default:
      break;
  }
  return std::nullopt;
}

startup_verdict check_startup(const startup_packet& p) {
  startup_verdict v;
  const auto version = static_cast<std::uint32_t>(p.protocol);
  const std::uint32_t major = version >> 16;
  const std::uint32_t minor = version & 0xffff;
  if (major != 3) {
    const std::string message = "unsupported frontend protocol " + std::to_string(major) + "." +
                                std::to_string(minor) + ": server supports 3.0 to 3.0";
    if (major < 3) {
      append_error_v2(v.reply, "FATAL", message);
    } else {
      v.reply = fatal("0A000", message);
    }
    return v;
  }
  bool has_user = false;
  std::vector<std::string> unrecognized;
  for (const auto& [name, value] : p.params) {
    if (name == "user") {
      has_user = !value.empty();  // the last one counts, as in PostgreSQL
    } else if (name == "replication") {
      if (value == "database") {
        v.replication = true;
      } else if (auto b = parse_pg_bool(value)) {
        v.replication = *b;
      } else {
        v.reply = fatal("22023", "invalid value for parameter \"replication\": \"" + value + "\"",
                        {}, "Valid values are: \"false\", 0, \"true\", 1, \"database\".");
        return v;
      }
    } else if (name.starts_with("_pq_.")) {
      unrecognized.push_back(name);
    }
  }
  if (!p.layout_ok) {
    v.reply = fatal("08P01", "invalid startup packet layout: expected terminator as last byte");
    return v;
  }
  if (minor > 0 || !unrecognized.empty())
    append_negotiate_protocol_version(v.reply, 0, unrecognized);
  if (!has_user) {
    v.reply += fatal("28000", "no PostgreSQL user name specified in startup packet");
    return v;
  }
  v.proceed = true;
  return v;
}

std::string unencrypted_data_error(bool ssl) {
  return fatal("08P01",
               ssl ? "received unencrypted data after SSL request"
                   : "received unencrypted data after GSSAPI encryption request",
               mitm_detail);
}

}  // namespace apono::proxy::pg
