// JSON form of the shared model. Field names are the API's contract: change them only with
// a version bump, since scripts parse `-o json`.
#include "common/model.hpp"

#include <boost/json.hpp>

#include <array>
#include <charconv>
#include <cstdio>

#include "common/error.hpp"
#include "common/http_client.hpp"

namespace apono::common {

namespace json = boost::json;

namespace {

constexpr std::array<std::pair<status, std::string_view>, 8> status_names{{
    {status::pending, "PENDING"},
    {status::granting, "GRANTING"},
    {status::active, "ACTIVE"},
    {status::revoking, "REVOKING"},
    {status::expired, "EXPIRED"},
    {status::revoked, "REVOKED"},
    {status::rejected, "REJECTED"},
    {status::failed, "FAILED"},
}};

[[noreturn]] void bad_shape(std::string_view what) {
  throw api_error(errc::invalid_argument, "unexpected JSON from the broker: " + std::string(what));
}

const json::object& as_object(const json::value& v, std::string_view what) {
  if (!v.is_object()) bad_shape(std::string(what) + " is not an object");
  return v.get_object();
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return {};
  if (!it->value().is_string()) bad_shape(std::string(key) + " is not a string");
  return std::string(it->value().get_string());
}

std::int64_t num(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return 0;
  if (auto p = it->value().if_int64()) return *p;
  if (auto p = it->value().if_uint64()) return static_cast<std::int64_t>(*p);
  if (auto p = it->value().if_double()) return static_cast<std::int64_t>(*p);
  bad_shape(std::string(key) + " is not a number");
}

std::optional<time_point> opt_time(const json::object& o, std::string_view key) {
  auto s = str(o, key);
  if (s.empty()) return std::nullopt;
  auto t = parse_rfc3339(s);
  if (!t) bad_shape(std::string(key) + " is not an RFC 3339 time");
  return t;
}

status status_field(const json::object& o) {
  auto s = parse_status(str(o, "status"));
  if (!s) bad_shape("unknown status");
  return *s;
}

json::value time_or_null(const std::optional<time_point>& t) {
  return t ? json::value(format_rfc3339(*t)) : json::value(nullptr);
}

}  // namespace

std::string_view to_string(status s) noexcept {
  for (const auto& [k, name] : status_names)
    if (k == s) return name;
  return "FAILED";
}

std::optional<status> parse_status(std::string_view s) noexcept {
  for (const auto& [k, name] : status_names) {
    if (name.size() != s.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < s.size() && same; ++i)
      same = (s[i] & ~0x20) == name[i];  // ASCII upper-case fold; names are letters only
    if (same) return k;
  }
  return std::nullopt;
}

bool is_final(status s) noexcept {
  return s == status::expired || s == status::revoked || s == status::rejected ||
         s == status::failed;
}

std::string format_request_id(std::int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "AR-%05lld", static_cast<long long>(n));
  return buf;
}

std::optional<std::int64_t> parse_request_id(std::string_view s) noexcept {
  if (s.size() > 3 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'R' || s[1] == 'r') && s[2] == '-')
    s.remove_prefix(3);
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || p != s.data() + s.size() || n <= 0) return std::nullopt;
  return n;
}

json::value to_json(const access_request& r) {
  json::array units, resources, permissions;
  for (const auto& u : r.units) {
    units.push_back(json::object{
        {"id", u.id},
        {"integration", u.integration},
        {"resource_type", u.resource_type},
        {"resource", u.resource},
        {"permission", u.permission},
        {"status", to_string(u.state)},
        {"last_error", u.last_error.empty() ? json::value(nullptr) : json::value(u.last_error)},
    });
    // Listings show each resource and permission once, in request order.
    auto add_once = [](json::array& a, const std::string& v) {
      for (const auto& e : a)
        if (e.get_string() == v) return;
      a.emplace_back(v);
    };
    add_once(resources, u.resource);
    add_once(permissions, u.permission);
  }
  return json::object{
      {"id", format_request_id(r.id)},
      {"requester", r.requester},
      {"integration", r.integration.empty() ? json::value(nullptr) : json::value(r.integration)},
      {"resource_type",
       r.resource_type.empty() ? json::value(nullptr) : json::value(r.resource_type)},
      {"bundle", r.bundle.empty() ? json::value(nullptr) : json::value(r.bundle)},
      {"resources", std::move(resources)},
      {"permissions", std::move(permissions)},
      {"duration_seconds", r.duration.count()},
      {"justification", r.justification},
      {"status", to_string(r.state)},
      {"end_reason", r.end_reason.empty() ? json::value(nullptr) : json::value(r.end_reason)},
      {"access_flow", r.flow},
      {"approval", r.automatic ? "automatic" : "manual"},
      {"created_at", format_rfc3339(r.created_at)},
      {"updated_at", format_rfc3339(r.updated_at)},
      {"active_from", time_or_null(r.active_from)},
      {"ends_at", time_or_null(r.ends_at)},
      {"decided_by", r.decided_by.empty() ? json::value(nullptr) : json::value(r.decided_by)},
      {"reason", r.reason.empty() ? json::value(nullptr) : json::value(r.reason)},
      {"units", std::move(units)},
  };
}

access_request request_from_json(const json::value& v) {
  const auto& o = as_object(v, "request");
  access_request r;
  auto id = parse_request_id(str(o, "id"));
  if (!id) bad_shape("request id");
  r.id = *id;
  r.requester = str(o, "requester");
  r.integration = str(o, "integration");
  r.resource_type = str(o, "resource_type");
  r.bundle = str(o, "bundle");
  r.duration = std::chrono::seconds{num(o, "duration_seconds")};
  r.justification = str(o, "justification");
  r.state = status_field(o);
  r.end_reason = str(o, "end_reason");
  r.flow = str(o, "access_flow");
  r.automatic = str(o, "approval") == "automatic";
  if (auto t = opt_time(o, "created_at")) r.created_at = *t;
  if (auto t = opt_time(o, "updated_at")) r.updated_at = *t;
  r.active_from = opt_time(o, "active_from");
  r.ends_at = opt_time(o, "ends_at");
  r.decided_by = str(o, "decided_by");
  r.reason = str(o, "reason");
  if (auto it = o.find("units"); it != o.end() && it->value().is_array()) {
    for (const auto& uv : it->value().get_array()) {
      const auto& uo = as_object(uv, "unit");
      access_unit u;
      u.id = num(uo, "id");
      u.integration = str(uo, "integration");
      u.resource_type = str(uo, "resource_type");
      u.resource = str(uo, "resource");
      u.permission = str(uo, "permission");
      u.state = status_field(uo);
      u.last_error = str(uo, "last_error");
      r.units.push_back(std::move(u));
    }
  }
  return r;
}

std::string postgres_uri(const unit_credentials& c) {
  std::string host = c.host.find(':') != std::string::npos ? "[" + c.host + "]" : c.host;
  std::string uri = "postgresql://" + url_encode(c.username) + ":" + url_encode(c.password) + "@" +
                    host + ":" + std::to_string(c.port) + "/" + url_encode(c.database);
  if (!c.sslmode.empty()) uri += "?sslmode=" + url_encode(c.sslmode);
  return uri;
}

namespace {

json::object unit_json(const unit_credentials& c) {
  if (c.type == "ssh") {
    return json::object{
        {"integration", c.integration}, {"type", c.type},           {"resource", c.resource},
        {"permission", c.permission},   {"host", c.host},           {"port", c.port},
        {"username", c.username},       {"principal", c.principal}, {"known_hosts", c.known_hosts},
    };
  }
  if (c.type == "aws") {
    return json::object{
        {"integration", c.integration},
        {"type", c.type},
        {"resource", c.resource},
        {"permission", c.permission},
        {"role_arn", c.role},
        {"region", c.region},
        {"access_key_id", c.username},
        {"secret_access_key", c.password},
        {"session_token", c.session_token},
        {"expiration", time_or_null(c.expires_at)},
        {"identity", c.identity},
    };
  }
  if (c.type == "kubernetes") {
    return json::object{
        {"integration", c.integration},
        {"type", c.type},
        {"resource", c.resource},
        {"permission", c.permission},
        {"cluster_role", c.role},
        {"server", c.server},
        {"certificate_authority", c.ssl_root_cert},
        {"namespace", c.resource},
        {"username", c.username},
        {"token", c.password},
        {"expiration", time_or_null(c.expires_at)},
    };
  }
  json::object u{
      {"integration", c.integration}, {"type", c.type},         {"resource", c.resource},
      {"permission", c.permission},   {"host", c.host},         {"port", c.port},
      {"database", c.database},       {"username", c.username}, {"password", c.password},
      {"sslmode", c.sslmode},
  };
  if (!c.ssl_root_cert.empty()) u["ssl_root_cert"] = c.ssl_root_cert;
  if (c.type == "postgresql") u["connection_string"] = postgres_uri(c);
  return u;
}

unit_credentials unit_from_json(const json::value& uv) {
  const auto& uo = as_object(uv, "unit");
  unit_credentials c;
  c.integration = str(uo, "integration");
  c.type = str(uo, "type");
  c.resource = str(uo, "resource");
  c.permission = str(uo, "permission");
  c.host = str(uo, "host");
  c.port = static_cast<int>(num(uo, "port"));
  c.database = str(uo, "database");
  c.username = str(uo, "username");
  c.password = str(uo, "password");
  c.sslmode = str(uo, "sslmode");
  c.ssl_root_cert = str(uo, "ssl_root_cert");
  c.principal = str(uo, "principal");
  c.known_hosts = str(uo, "known_hosts");
  c.expires_at = opt_time(uo, "expiration");
  if (c.type == "aws") {
    c.role = str(uo, "role_arn");
    c.region = str(uo, "region");
    c.username = str(uo, "access_key_id");
    c.password = str(uo, "secret_access_key");
    c.session_token = str(uo, "session_token");
    c.identity = str(uo, "identity");
  } else if (c.type == "kubernetes") {
    c.role = str(uo, "cluster_role");
    c.server = str(uo, "server");
    c.ssl_root_cert = str(uo, "certificate_authority");
    c.password = str(uo, "token");
    c.identity = c.username;
  }
  return c;
}

}  // namespace

json::value to_json(const access_details& d) {
  json::array units;
  for (const auto& c : d.units) units.push_back(unit_json(c));
  return json::object{
      {"request_id", d.request_id},
      {"status", to_string(d.state)},
      {"ends_at", format_rfc3339(d.ends_at)},
      {"events_after", d.events_after},
      {"units", std::move(units)},
  };
}

json::value to_json(const ssh_certificate& c) {
  return json::object{
      {"certificate", c.certificate},
      {"key_id", c.key_id},
      {"serial", c.serial},
      {"principal", c.principal},
      {"valid_after", format_rfc3339(c.valid_after)},
      {"valid_before", format_rfc3339(c.valid_before)},
      {"unit", unit_json(c.unit)},
  };
}

ssh_certificate ssh_certificate_from_json(const json::value& v) {
  const auto& o = as_object(v, "ssh certificate");
  ssh_certificate c;
  c.certificate = str(o, "certificate");
  if (c.certificate.empty()) bad_shape("certificate missing");
  c.key_id = str(o, "key_id");
  if (auto s = o.find("serial"); s != o.end() && s->value().is_number())
    c.serial = s->value().to_number<std::uint64_t>();
  c.principal = str(o, "principal");
  auto after = opt_time(o, "valid_after");
  auto before = opt_time(o, "valid_before");
  if (!after || !before) bad_shape("validity missing");
  c.valid_after = *after;
  c.valid_before = *before;
  auto u = o.find("unit");
  if (u == o.end()) bad_shape("unit missing");
  c.unit = unit_from_json(u->value());
  return c;
}

access_details details_from_json(const json::value& v) {
  const auto& o = as_object(v, "access details");
  access_details d;
  d.request_id = str(o, "request_id");
  d.state = status_field(o);
  auto ends = opt_time(o, "ends_at");
  if (!ends) bad_shape("ends_at missing");
  d.ends_at = *ends;
  if (auto e = o.find("events_after"); e != o.end() && e->value().is_int64())
    d.events_after = e->value().get_int64();
  if (auto it = o.find("units"); it != o.end() && it->value().is_array()) {
    for (const auto& uv : it->value().get_array()) d.units.push_back(unit_from_json(uv));
  }
  return d;
}

}  // namespace apono::common
