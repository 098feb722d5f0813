// PostgreSQL v3 wire encoding. Each message is written with a placeholder length that is
// patched once the body is in place, so bodies never need to be measured twice.
#include "proxy/pg/encoder.hpp"

#include <cassert>
#include <limits>

namespace apono::proxy::pg {
namespace {

void put_i32_at(std::string& out, std::size_t pos, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  out[pos] = static_cast<char>((u >> 24) & 0xff);
  out[pos + 1] = static_cast<char>((u >> 16) & 0xff);
  out[pos + 2] = static_cast<char>((u >> 8) & 0xff);
  out[pos + 3] = static_cast<char>(u & 0xff);
}

/// Appends the type byte and a placeholder length; returns where the length goes.
std::size_t begin_message(std::string& out, char type) {
  out.push_back(type);
  const std::size_t at = out.size();
  out.append(4, '\0');
  return at;
}

/// Patches the length written by begin_message: it counts itself and the body.
void end_message(std::string& out, std::size_t length_at) {
  const std::size_t length = out.size() - length_at;
  assert(length <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  put_i32_at(out, length_at, static_cast<std::int32_t>(length));
}

void append_cstring(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

void append_fields(std::string& out, char type, const error_fields& fields) {
  const auto at = begin_message(out, type);
  for (const auto& [code, value] : fields) {
    out.push_back(code);
    append_cstring(out, value);
  }
  out.push_back('\0');
  end_message(out, at);
}

void append_auth(std::string& out, std::int32_t code) {
  const auto at = begin_message(out, 'R');
  append_i32(out, code);
  end_message(out, at);
}

}  // namespace

void append_i32(std::string& out, std::int32_t v) {
  out.append(4, '\0');
  put_i32_at(out, out.size() - 4, v);
}

void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params) {
  // Startup packets have no type byte: the length comes first.
  const std::size_t at = out.size();
  out.append(4, '\0');
  append_i32(out, protocol_3_0);
  for (const auto& [name, value] : params) {
    append_cstring(out, name);
    append_cstring(out, value);
  }
  out.push_back('\0');
  put_i32_at(out, at, static_cast<std::int32_t>(out.size() - at));
}

void append_ssl_request(std::string& out) {
  append_i32(out, 8);
  append_i32(out, ssl_request_code);
}

void append_cancel_request(std::string& out, std::int32_t pid, std::int32_t key) {
  append_i32(out, 16);
  append_i32(out, cancel_request_code);
  append_i32(out, pid);
  append_i32(out, key);
}

void append_auth_ok(std::string& out) {
  append_auth(out, 0);
}

void append_auth_cleartext_request(std::string& out) {
  append_auth(out, 3);
}

void append_password(std::string& out, std::string_view password) {
  const auto at = begin_message(out, 'p');
  append_cstring(out, password);
  end_message(out, at);
}

void append_sasl_initial(std::string& out, std::string_view mechanism, std::string_view data) {
  const auto at = begin_message(out, 'p');
  append_cstring(out, mechanism);
  append_i32(out, static_cast<std::int32_t>(data.size()));
  out.append(data);
  end_message(out, at);
}

void append_sasl_response(std::string& out, std::string_view data) {
  const auto at = begin_message(out, 'p');
  out.append(data);
  end_message(out, at);
}

void append_error(std::string& out, const error_fields& fields) {
  append_fields(out, 'E', fields);
}

void append_notice(std::string& out, const error_fields& fields) {
  append_fields(out, 'N', fields);
}

error_fields make_fields(std::string_view severity, std::string_view code, std::string_view message,
                         std::string_view detail, std::string_view hint) {
  // 'S' may be localized by a server; 'V' never is, and clients since 9.6 read it first.
  error_fields f{{'S', std::string(severity)},
                 {'V', std::string(severity)},
                 {'C', std::string(code)},
                 {'M', std::string(message)}};
  if (!detail.empty()) f.emplace_back('D', std::string(detail));
  if (!hint.empty()) f.emplace_back('H', std::string(hint));
  return f;
}

void append_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                       const std::vector<std::string>& unrecognized) {
  const auto at = begin_message(out, 'v');
  append_i32(out, (3 << 16) | newest_minor);
  append_i32(out, static_cast<std::int32_t>(unrecognized.size()));
  for (const auto& name : unrecognized) append_cstring(out, name);
  end_message(out, at);
}

void append_error_v2(std::string& out, std::string_view severity, std::string_view message) {
  out.push_back('E');
  out.append(severity);
  out.append(":  ");
  out.append(message);
  out.push_back('\n');
  out.push_back('\0');
}

void append_backend_key(std::string& out, backend_key k) {
  const auto at = begin_message(out, 'K');
  append_i32(out, k.pid);
  append_i32(out, k.key);
  end_message(out, at);
}

void append_parameter_status(std::string& out, std::string_view name, std::string_view value) {
  const auto at = begin_message(out, 'S');
  append_cstring(out, name);
  append_cstring(out, value);
  end_message(out, at);
}

void append_ready_for_query(std::string& out, char status) {
  const auto at = begin_message(out, 'Z');
  out.push_back(status);
  end_message(out, at);
}

}  // namespace apono::proxy::pg
