// PostgreSQL v3 wire decoding. Every function is total over its input: any byte string gives
// ready, need_more or bad (or nullopt), never a read past the end, never an exception, because
// these bytes come straight from an untrusted peer.
#include "proxy/pg/decoder.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace apono::proxy::pg {
namespace {

/// The length field of a packet whose first `have` (< 4) length bytes are `p`: the smallest
/// and largest value it can still turn out to be, so hopeless prefixes fail early.
struct length_bounds {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
};

length_bounds partial_length(const std::uint8_t* p, std::size_t have) noexcept {
  length_bounds b;
  for (std::size_t i = 0; i < 4; ++i) {
    b.low = (b.low << 8) | (i < have ? p[i] : 0x00);
    b.high = (b.high << 8) | (i < have ? p[i] : 0xff);
  }
  return b;
}

/// Reads a NUL-terminated string starting at `pos` of `in`; on success moves `pos` past the
/// NUL. False when there is no NUL before the end.
bool read_cstring(bytes in, std::size_t& pos, std::string_view& out) noexcept {
  if (pos >= in.size()) return false;
  const auto* start = in.data() + pos;
  const auto* nul = static_cast<const std::uint8_t*>(std::memchr(start, 0, in.size() - pos));
  if (nul == nullptr) return false;
  out =
      std::string_view(reinterpret_cast<const char*>(start), static_cast<std::size_t>(nul - start));
  pos += out.size() + 1;
  return true;
}

/// The length of the string at `pos`, up to a NUL or the end of `in`: PostgreSQL reads the
/// packet into a buffer with one extra zero byte, so a string may end at the packet's end.
std::size_t string_length(bytes in, std::size_t pos) noexcept {
  if (pos >= in.size()) return 0;
  const auto* start = in.data() + pos;
  const auto* nul = static_cast<const std::uint8_t*>(std::memchr(start, 0, in.size() - pos));
  return nul ? static_cast<std::size_t>(nul - start) : in.size() - pos;
}

/// StartupMessage parameters, scanned exactly as PostgreSQL 15 scans them (name/value pairs
/// until an empty name or a name without room for a value), so the same packets pass: the
/// layout is good when the scan stops exactly at the last byte.
bool parse_startup_params(bytes in, startup_packet& out) {
  std::size_t offset = 0;
  const std::size_t len = in.size();
  while (offset < len) {
    if (in[offset] == 0) break;  // the terminator
    const std::size_t name_len = string_length(in, offset);
    const std::size_t value_at = offset + name_len + 1;
    if (value_at >= len) break;  // no value
    const std::size_t value_len = string_length(in, value_at);
    out.params.emplace_back(
        std::string(reinterpret_cast<const char*>(in.data() + offset), name_len),
        std::string(reinterpret_cast<const char*>(in.data() + value_at), value_len));
    offset = value_at + value_len + 1;
  }
  return len > 0 && offset == len - 1;
}

}  // namespace

std::int32_t read_i32(const std::uint8_t* p) noexcept {
  std::uint32_t v = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                    (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
  return static_cast<std::int32_t>(v);
}

std::optional<std::string> startup_packet::param(std::string_view name) const {
  // The last one, as PostgreSQL reads a name given twice.
  for (auto it = params.rbegin(); it != params.rend(); ++it)
    if (it->first == name) return it->second;
  return std::nullopt;
}

decode_status decode_startup(bytes in, startup_packet& out, std::size_t& used) noexcept {
  constexpr std::uint64_t max_total = max_startup_length + 4;
  if (in.size() < 4) {
    auto b = partial_length(in.data(), in.size());
    if (b.low > max_total || b.high < 8) return decode_status::bad;
    return decode_status::need_more;
  }
  const std::int32_t length = read_i32(in.data());
  if (length < 8 || static_cast<std::uint64_t>(length) > max_total) return decode_status::bad;
  const auto len = static_cast<std::size_t>(length);
  if (in.size() < 8) return decode_status::need_more;

  const std::int32_t code = read_i32(in.data() + 4);
  startup_packet::kind type = startup_packet::kind::startup;
  if (code == ssl_request_code) {
    type = startup_packet::kind::ssl_request;
  } else if (code == gssenc_request_code) {
    type = startup_packet::kind::gssenc_request;
  } else if (code == cancel_request_code) {
    if (len != 16) return decode_status::bad;
    type = startup_packet::kind::cancel_request;
  }
  if (in.size() < len) return decode_status::need_more;

  try {
    startup_packet p;
    p.type = type;
    p.protocol = code;
    if (type == startup_packet::kind::cancel_request) {
      p.cancel_pid = read_i32(in.data() + 8);
      p.cancel_key = read_i32(in.data() + 12);
    } else if (type == startup_packet::kind::startup && (code >> 16) == 3) {
      p.layout_ok = parse_startup_params(in.subspan(8, len - 8), p);
    }
    out = std::move(p);
  } catch (const std::bad_alloc&) {
    return decode_status::bad;  // only a 10 kB packet: no memory means no connection anyway
  }
  used = len;
  return decode_status::ready;
}

decode_status decode_message(bytes in, message& out, std::size_t& used,
                             std::size_t max_length) noexcept {
  if (in.size() < 5) {
    if (in.size() <= 1) return decode_status::need_more;
    auto b = partial_length(in.data() + 1, in.size() - 1);
    if (b.low > 0x7fffffff || b.low > max_length || b.high < 4) return decode_status::bad;
    return decode_status::need_more;
  }
  const std::int32_t length = read_i32(in.data() + 1);
  if (length < 4 || static_cast<std::size_t>(length) > max_length) return decode_status::bad;
  const auto len = static_cast<std::size_t>(length);
  if (in.size() - 1 < len) return decode_status::need_more;
  out.type = static_cast<char>(in[0]);
  out.body = in.subspan(5, len - 4);
  used = len + 1;
  return decode_status::ready;
}

std::optional<auth_request> parse_auth_request(bytes body) {
  if (body.size() < 4) return std::nullopt;
  try {
    auth_request r;
    r.code = read_i32(body.data());
    const bytes rest = body.subspan(4);
    switch (r.code) {
      case 0:  // Ok
      case 2:  // KerberosV5
      case 3:  // CleartextPassword
      case 6:  // SCMCredential
      case 7:  // GSS
      case 9:  // SSPI
        if (!rest.empty()) return std::nullopt;
        break;
      case 5:  // MD5Password
        if (rest.size() != 4) return std::nullopt;
        std::copy(rest.begin(), rest.end(), r.md5_salt);
        break;
      case 10: {  // SASL: mechanism names, then an empty one
        std::size_t pos = 0;
        while (true) {
          if (pos >= rest.size()) return std::nullopt;
          if (rest[pos] == 0) {
            if (pos + 1 != rest.size()) return std::nullopt;
            break;
          }
          std::string_view name;
          if (!read_cstring(rest, pos, name)) return std::nullopt;
          r.mechanisms.emplace_back(name);
        }
        break;
      }
      default:  // 8 GSSContinue, 11 SASLContinue, 12 SASLFinal, and codes we do not know
        r.data.assign(reinterpret_cast<const char*>(rest.data()), rest.size());
        break;
    }
    return r;
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
}

std::optional<error_fields> parse_error_fields(bytes body) {
  try {
    error_fields f;
    std::size_t pos = 0;
    while (true) {
      if (pos >= body.size()) return std::nullopt;
      const auto code = static_cast<char>(body[pos++]);
      if (code == '\0') {
        if (pos != body.size()) return std::nullopt;
        return f;
      }
      std::string_view value;
      if (!read_cstring(body, pos, value)) return std::nullopt;
      f.emplace_back(code, std::string(value));
    }
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
}

std::string field(const error_fields& f, char code) {
  for (const auto& [c, v] : f)
    if (c == code) return v;
  return {};
}

std::optional<backend_key> parse_backend_key(bytes body) {
  if (body.size() != 8) return std::nullopt;
  return backend_key{read_i32(body.data()), read_i32(body.data() + 4)};
}

std::optional<std::string> parse_password(bytes body) {
  if (body.empty() || body.back() != 0) return std::nullopt;
  const auto text = body.first(body.size() - 1);
  if (std::find(text.begin(), text.end(), std::uint8_t{0}) != text.end()) return std::nullopt;
  try {
    return std::string(reinterpret_cast<const char*>(text.data()), text.size());
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
}

}  // namespace apono::proxy::pg
