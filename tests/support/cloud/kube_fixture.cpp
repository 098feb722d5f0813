// The Kubernetes API fixture. Requests go through the same steps as in the real API server:
// authenticate the bearer token, turn the path into request attributes (verb, group,
// resource, namespace, name), authorize them, then serve. Shapes follow the real server's
// JSON closely enough that kubectl decodes them: Status objects (reason, code, details) for
// errors, legacy discovery for /api and /apis, and a meta.k8s.io/v1 Table when the Accept
// header asks for one, as kubectl's printer does.
//
// What kubectl v1.32 sends for `get pods -n NS` (read from its -v=8 log against this
// fixture): GET /version?timeout=5s; GET /api and /apis with Accept
// `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...,application/json`
// (aggregated discovery first; a plain application/json answer makes it fall back); then
// GET /api/v1 and /apis/GROUP/VERSION for every group with `application/json, */*`; then
// GET /api/v1/namespaces/NS/pods?limit=500 with Accept
// `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;...`.
// Discovery is cached under KUBECACHEDIR, so a second run goes straight to the pods.
#include "tests/support/cloud/kube_fixture.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "broker/http/server.hpp"
#include "broker/tls/certificates.hpp"
#include "common/secrets.hpp"
#include "tests/support/process.hpp"

namespace apono::test {
namespace {

namespace json = boost::json;
namespace net = boost::asio;
using broker::http::request;
using broker::http::response;

constexpr std::string_view k_rbac = "rbac.authorization.k8s.io";
constexpr std::string_view k_authn = "authentication.k8s.io";
// The shortest TokenRequest lifetime the API accepts (authentication validation).
constexpr std::int64_t k_min_token_seconds = 600;
// The TokenRequest default when spec.expirationSeconds is absent.
constexpr std::int64_t k_default_token_seconds = 3600;
// How old the configured pods look.
constexpr auto k_pod_age = std::chrono::minutes{42};

common::time_point now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

/// metav1.Time's JSON form: RFC 3339 in whole seconds.
std::string k8s_time(common::time_point t) {
  auto s = common::format_rfc3339(std::chrono::floor<std::chrono::seconds>(t));
  return s.substr(0, 19) + "Z";
}

std::string random_uid() {
  const auto b = common::random_bytes(16);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    auto c = static_cast<unsigned char>(b[i]);
    if (i == 6) c = static_cast<unsigned char>((c & 0x0f) | 0x40);  // version 4
    if (i == 8) c = static_cast<unsigned char>((c & 0x3f) | 0x80);  // variant
    out += hex[c >> 4];
    out += hex[c & 0x0f];
  }
  return out;
}

/// Like kubectl's duration.HumanDuration, close enough for an Age column.
std::string human_age(std::chrono::seconds d) {
  const auto s = d.count();
  if (s < 120) return std::to_string(s) + "s";
  const auto m = s / 60;
  if (m < 10) return std::to_string(m) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  if (m < 180) return std::to_string(m) + "m";
  const auto h = m / 60;
  if (h < 8) return std::to_string(h) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "");
  if (h < 48) return std::to_string(h) + "h";
  return std::to_string(h / 24) + "d";
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/// RFC 1123 subdomain: what ServiceAccount and RoleBinding names must be.
bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253 || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()))
    return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_lower_alnum(c) || c == '-' || c == '.'; });
}

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string{};
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

std::map<std::string, std::string> string_map(const json::object* o) {
  std::map<std::string, std::string> out;
  if (o == nullptr) return out;
  for (const auto& [k, v] : *o)
    if (v.is_string()) out.emplace(std::string(k), std::string(v.as_string()));
  return out;
}

response json_response(int status, const json::value& body,
                       std::string content_type = "application/json") {
  response r;
  r.status = status;
  r.body = json::serialize(body);
  r.content_type = std::move(content_type);
  return r;
}

/// A failure as the API server reports it (metav1.Status, field order as the server writes).
response status_error(int code, std::string_view reason, const std::string& message,
                      json::object details = {}) {
  json::object o{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object{}},
                 {"status", "Failure"}, {"message", message}, {"reason", reason}};
  if (!details.empty()) o["details"] = std::move(details);
  o["code"] = code;
  return json_response(code, o);
}

/// "serviceaccounts" or "rolebindings.rbac.authorization.k8s.io", as errors name resources.
std::string qualified(std::string_view resource, std::string_view group) {
  return group.empty() ? std::string(resource) : std::string(resource) + "." + std::string(group);
}

json::object details_of(std::string_view name, std::string_view group, std::string_view kind) {
  json::object d{{"name", name}};
  if (!group.empty()) d["group"] = group;
  d["kind"] = kind;
  return d;
}

response not_found(std::string_view resource, std::string_view group, std::string_view name) {
  return status_error(404, "NotFound",
                      qualified(resource, group) + " \"" + std::string(name) + "\" not found",
                      details_of(name, group, resource));
}

response already_exists(std::string_view resource, std::string_view group, std::string_view name) {
  return status_error(409, "AlreadyExists",
                      qualified(resource, group) + " \"" + std::string(name) + "\" already exists",
                      details_of(name, group, resource));
}

response conflict(std::string_view resource, std::string_view group, std::string_view name,
                  const std::string& why) {
  return status_error(409, "Conflict",
                      "Operation cannot be fulfilled on " + qualified(resource, group) + " \"" +
                          std::string(name) + "\": " + why,
                      details_of(name, group, resource));
}

response invalid(std::string_view kind, std::string_view group, std::string_view name,
                 const std::string& field, const std::string& value, const std::string& why) {
  json::object details{{"name", name}, {"group", group}, {"kind", kind}};
  details["causes"] = json::array{json::object{{"reason", "FieldValueInvalid"},
                                               {"message", "Invalid value: " + value + ": " + why},
                                               {"field", field}}};
  return status_error(422, "Invalid",
                      qualified(kind, group) + " \"" + std::string(name) +
                          "\" is invalid: " + field + ": Invalid value: " + value + ": " + why,
                      std::move(details));
}

response unknown_resource() {
  return status_error(404, "NotFound", "the server could not find the requested resource",
                      json::object{});
}

/// What the API server makes of a path: the attributes RBAC decides on.
struct attributes {
  bool resource_request = false;
  std::string verb;  // get, list, create, delete, ... (non-resource: the lower-case method)
  std::string group;
  std::string version;
  std::string resource;
  std::string subresource;
  std::string ns;
  std::string name;
  std::string path;
};

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto part = path.substr(0, slash);
    if (!part.empty()) out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

attributes attributes_of(const std::string& method, const std::string& path) {
  attributes a;
  a.path = path;
  auto parts = split_path(path);
  std::size_t i = 0;
  if (parts.size() >= 2 && parts[0] == "api") {
    a.version = parts[1];
    i = 2;
  } else if (parts.size() >= 3 && parts[0] == "apis") {
    a.group = parts[1];
    a.version = parts[2];
    i = 3;
  }
  if (i == 0 || i >= parts.size()) {
    std::string lower = method;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    a.verb = lower;
    return a;
  }
  a.resource_request = true;
  std::vector<std::string> rest(parts.begin() + static_cast<std::ptrdiff_t>(i), parts.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    a.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  } else if (rest.size() == 2 && rest[0] == "namespaces") {
    a.resource = "namespaces";
    a.name = rest[1];
    rest.clear();
  }
  if (!rest.empty()) a.resource = rest[0];
  if (rest.size() >= 2) a.name = rest[1];
  if (rest.size() >= 3) a.subresource = rest[2];
  if (method == "GET") {
    a.verb = a.name.empty() ? "list" : "get";
  } else if (method == "POST") {
    a.verb = "create";
  } else if (method == "DELETE") {
    a.verb = a.name.empty() ? "deletecollection" : "delete";
  } else if (method == "PUT") {
    a.verb = "update";
  } else if (method == "PATCH") {
    a.verb = "patch";
  } else {
    a.verb = method;
  }
  return a;
}

/// The API server's message for a denied request (forbiddenMessage + NewForbidden).
response forbidden(const std::string& user, const attributes& a) {
  if (!a.resource_request)
    return status_error(
        403, "Forbidden",
        "forbidden: User \"" + user + "\" cannot " + a.verb + " path \"" + a.path + "\"",
        json::object{});
  std::string resource = a.resource;
  if (!a.subresource.empty()) resource += "/" + a.subresource;
  std::string why = "User \"" + user + "\" cannot " + a.verb + " resource \"" + resource +
                    "\" in API group \"" + a.group + "\"";
  why += a.ns.empty() ? " at the cluster scope" : " in the namespace \"" + a.ns + "\"";
  std::string message = qualified(a.resource, a.group);
  if (!a.name.empty()) message += " \"" + a.name + "\"";
  message += " is forbidden: " + why;
  json::object details;
  if (!a.name.empty()) details["name"] = a.name;
  if (!a.group.empty()) details["group"] = a.group;
  details["kind"] = a.resource;
  return status_error(403, "Forbidden", message, std::move(details));
}

json::object group_version(std::string_view group, std::string_view version) {
  return {{"groupVersion", std::string(group) + "/" + std::string(version)}, {"version", version}};
}

json::object api_group(std::string_view group) {
  return {{"name", group},
          {"versions", json::array{group_version(group, "v1")}},
          {"preferredVersion", group_version(group, "v1")}};
}

json::object api_resource(std::string_view name, std::string_view singular, bool namespaced,
                          std::string_view kind, json::array verbs, json::array short_names = {}) {
  json::object r{{"name", name},
                 {"singularName", singular},
                 {"namespaced", namespaced},
                 {"kind", kind},
                 {"verbs", std::move(verbs)}};
  if (!short_names.empty()) r["shortNames"] = std::move(short_names);
  return r;
}

json::array crud_verbs() {
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

/// The media types a client accepts, in its order, without spaces.
std::vector<std::string> accepted(const std::string& accept) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : accept + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

/// One media range split into its type and parameters.
struct media_range {
  std::string type;
  std::map<std::string, std::string> params;
};

media_range parse_media_range(const std::string& s) {
  media_range m;
  std::stringstream in(s);
  std::string part;
  bool first = true;
  while (std::getline(in, part, ';')) {
    if (first) {
      m.type = part;
      first = false;
      continue;
    }
    auto eq = part.find('=');
    if (eq != std::string::npos) m.params[part.substr(0, eq)] = part.substr(eq + 1);
  }
  return m;
}

}  // namespace

/// Everything the server knows; the handler runs on the io thread, the accessors on the test's.
struct kube_fixture::impl {
  explicit impl(kube_fixture_options o) : options(std::move(o)) {
    admin = "k8s-admin." + common::base64url(common::random_bytes(32));
    const auto created = now() - k_pod_age;
    for (const auto& [ns, pods] : options.namespaces)
      for (const auto& pod : pods) pod_info[{ns, pod}] = {random_uid(), created};
  }

  kube_fixture_options options;
  std::string admin;
  std::string address;  // 127.0.0.1:PORT
  struct pod_meta {
    std::string uid;
    common::time_point created;
  };
  std::map<std::pair<std::string, std::string>, pod_meta> pod_info;

  mutable std::mutex mu;
  std::uint64_t resource_version = 1000;
  std::map<std::pair<std::string, std::string>, json::object> service_accounts;
  std::map<std::pair<std::string, std::string>, json::object> role_bindings;
  std::map<std::string, issued_token> tokens;
  std::vector<issued_token> issued;
  std::vector<recorded_request> log;

  // Declared last: stopped and joined first, before the state the handler uses goes away.
  std::unique_ptr<temp_dir> dir;
  net::io_context ioc;
  std::unique_ptr<broker::http::server> server;
  std::thread thread;

  /// Who a request is, as the authenticator decides.
  struct identity {
    token_kind kind = token_kind::none;
    std::string user;
    std::string ns;
    std::string name;
  };

  identity authenticate(const request& req) const {
    identity id;
    if (req.authorization.empty()) return id;
    constexpr std::string_view bearer = "Bearer ";
    std::string_view auth = req.authorization;
    if (!auth.starts_with(bearer)) {
      id.kind = token_kind::rejected;
      return id;
    }
    const std::string token(auth.substr(bearer.size()));
    if (common::constant_time_equal(token, admin)) {
      id.kind = token_kind::admin;
      id.user = "kubernetes-admin";
      return id;
    }
    id.kind = token_kind::rejected;
    auto it = tokens.find(token);
    if (it == tokens.end()) return id;
    const auto& t = it->second;
    if (now() >= t.expires_at) return id;
    // Bound tokens name their account's uid: once it is deleted (or deleted and recreated)
    // the token no longer authenticates, whatever its expiry.
    auto sa = service_accounts.find({t.ns, t.name});
    if (sa == service_accounts.end()) return id;
    const auto* meta = object_at(sa->second, "metadata");
    if (meta == nullptr || string_at(*meta, "uid") != t.uid) return id;
    const bool audience_ok =
        std::any_of(t.audiences.begin(), t.audiences.end(), [&](const auto& a) {
          return std::find(options.api_audiences.begin(), options.api_audiences.end(), a) !=
                 options.api_audiences.end();
        });
    if (!audience_ok) return id;
    id.kind = token_kind::service_account;
    id.ns = t.ns;
    id.name = t.name;
    id.user = "system:serviceaccount:" + t.ns + ":" + t.name;
    return id;
  }

  /// RBAC as far as the fixture models it: bindings in the namespace naming the account, to a
  /// ClusterRole configured to allow listing pods.
  bool may_list_pods(const identity& id, const std::string& ns) const {
    for (const auto& [key, rb] : role_bindings) {
      if (key.first != ns) continue;
      const auto* ref = object_at(rb, "roleRef");
      if (ref == nullptr || string_at(*ref, "kind") != "ClusterRole") continue;
      auto role = options.cluster_roles.find(string_at(*ref, "name"));
      if (role == options.cluster_roles.end() || !role->second) continue;
      const auto* subjects = rb.if_contains("subjects");
      if (subjects == nullptr || !subjects->is_array()) continue;
      for (const auto& s : subjects->as_array()) {
        if (!s.is_object()) continue;
        const auto& o = s.as_object();
        if (string_at(o, "kind") == "ServiceAccount" && string_at(o, "name") == id.name &&
            string_at(o, "namespace") == id.ns)
          return true;
      }
    }
    return false;
  }

  bool authorized(const identity& id, const attributes& a) const {
    if (id.kind == token_kind::admin) return true;
    // system:discovery and system:public-info-viewer: every authenticated user.
    if (!a.resource_request) return a.verb == "get";
    return a.resource == "pods" && a.subresource.empty() && !a.ns.empty() && a.verb == "list" &&
           may_list_pods(id, a.ns);
  }

  /// The server's handler: a coroutine only in form, everything is answered at once.
  static net::awaitable<response> serve_request(impl* state, request req) {
    co_return state->handle(req);
  }

  response handle(const request& req) {
    const auto q = req.target.find('?');
    const std::string path = req.target.substr(0, q);
    recorded_request rec;
    rec.method = req.method;
    rec.path = path;
    if (q != std::string::npos) rec.query = req.target.substr(q + 1);
    for (const auto& [name, value] : req.headers)
      if (name == "accept") rec.accept = value;

    std::lock_guard lock(mu);
    const auto id = authenticate(req);
    rec.token = id.kind;
    rec.user = id.user;
    response res;
    if (id.kind == token_kind::none || id.kind == token_kind::rejected) {
      res = status_error(401, "Unauthorized", "Unauthorized");
    } else {
      const auto a = attributes_of(req.method, path);
      res = authorized(id, a) ? serve(req, a, rec.accept) : forbidden(id.user, a);
    }
    rec.status = res.status;
    log.push_back(std::move(rec));
    return res;
  }

  response serve(const request& req, const attributes& a, const std::string& accept) {
    if (!a.resource_request) return discovery(a.path);
    if (a.group.empty() && a.version == "v1") {
      if (a.resource == "serviceaccounts" && !a.ns.empty()) {
        if (a.subresource == "token" && a.verb == "create") return token_request(req, a);
        if (!a.subresource.empty()) return unknown_resource();
        return crud(req, a, service_accounts, "ServiceAccount", "v1");
      }
      if (a.resource == "pods" && !a.ns.empty() && a.verb == "list") return list_pods(a.ns, accept);
    }
    if (a.group == k_rbac && a.version == "v1") {
      if (a.resource == "rolebindings" && !a.ns.empty() && a.subresource.empty())
        return crud(req, a, role_bindings, "RoleBinding", "rbac.authorization.k8s.io/v1");
      if (a.resource == "clusterroles" && a.ns.empty() && a.verb == "get")
        return cluster_role(a.name);
    }
    return unknown_resource();
  }

  response discovery(const std::string& path) {
    if (path == "/version")
      return json_response(200, json::object{{"major", "1"},
                                             {"minor", "32"},
                                             {"gitVersion", "v1.32.0"},
                                             {"gitCommit", "apono-kube-fixture"},
                                             {"gitTreeState", "clean"},
                                             {"buildDate", "2024-12-11T00:00:00Z"},
                                             {"goVersion", "go1.23.3"},
                                             {"compiler", "gc"},
                                             {"platform", "linux/amd64"}});
    // Plain application/json whatever the Accept header says: kubectl asks for aggregated
    // discovery (apidiscovery.k8s.io/v2) first and falls back to these legacy documents.
    if (path == "/api")
      return json_response(200,
                           json::object{{"kind", "APIVersions"},
                                        {"versions", json::array{"v1"}},
                                        {"serverAddressByClientCIDRs",
                                         json::array{json::object{{"clientCIDR", "0.0.0.0/0"},
                                                                  {"serverAddress", address}}}}});
    if (path == "/apis")
      return json_response(
          200, json::object{{"kind", "APIGroupList"},
                            {"apiVersion", "v1"},
                            {"groups", json::array{api_group(k_authn), api_group(k_rbac)}}});
    if (path == "/api/v1") {
      json::array resources{
          api_resource("namespaces", "namespace", false, "Namespace",
                       {"create", "delete", "get", "list", "patch", "update", "watch"}, {"ns"}),
          api_resource("pods", "pod", true, "Pod", crud_verbs(), {"po"}),
          api_resource("serviceaccounts", "serviceaccount", true, "ServiceAccount", crud_verbs(),
                       {"sa"}),
      };
      auto token = api_resource("serviceaccounts/token", "", true, "TokenRequest", {"create"});
      token["group"] = k_authn;
      token["version"] = "v1";
      resources.push_back(std::move(token));
      return json_response(200, json::object{{"kind", "APIResourceList"},
                                             {"groupVersion", "v1"},
                                             {"resources", std::move(resources)}});
    }
    if (path == "/apis/" + std::string(k_rbac) || path == "/apis/" + std::string(k_authn)) {
      auto g = api_group(path.substr(6));
      g["kind"] = "APIGroup";
      g["apiVersion"] = "v1";
      return json_response(200, g);
    }
    if (path == "/apis/" + std::string(k_rbac) + "/v1")
      return json_response(
          200,
          json::object{{"kind", "APIResourceList"},
                       {"apiVersion", "v1"},
                       {"groupVersion", std::string(k_rbac) + "/v1"},
                       {"resources", json::array{api_resource("clusterroles", "clusterrole", false,
                                                              "ClusterRole", crud_verbs()),
                                                 api_resource("rolebindings", "rolebinding", true,
                                                              "RoleBinding", crud_verbs())}}});
    if (path == "/apis/" + std::string(k_authn) + "/v1")
      return json_response(
          200,
          json::object{{"kind", "APIResourceList"},
                       {"apiVersion", "v1"},
                       {"groupVersion", std::string(k_authn) + "/v1"},
                       {"resources", json::array{api_resource("tokenreviews", "tokenreview", false,
                                                              "TokenReview", {"create"})}}});
    // Non-resource paths the server does not serve get the plain-text 404 of Go's mux.
    response r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "404 page not found\n";
    return r;
  }

  /// Create, get and delete of one namespaced kind stored as JSON objects.
  response crud(const request& req, const attributes& a,
                std::map<std::pair<std::string, std::string>, json::object>& store,
                std::string_view kind, std::string_view api_version) {
    const std::string group = a.group;
    if (a.verb == "create") {
      if (!a.name.empty()) return unknown_resource();
      boost::system::error_code ec;
      auto body = json::parse(req.body, ec);
      if (ec || !body.is_object())
        return status_error(400, "BadRequest",
                            "the body of the request was in an unknown format - accepted media "
                            "types include: application/json");
      auto obj = std::move(body.as_object());
      if (auto k = string_at(obj, "kind"); !k.empty() && k != kind)
        return status_error(400, "BadRequest",
                            "the kind \"" + k + "\" does not match \"" + std::string(kind) + "\"");
      auto& meta = obj["metadata"];
      if (!meta.is_object()) meta = json::object{};
      auto& m = meta.as_object();
      const std::string name = string_at(m, "name");
      if (auto ns = string_at(m, "namespace"); !ns.empty() && ns != a.ns)
        return status_error(400, "BadRequest",
                            "the namespace of the provided object does not match the namespace "
                            "sent on the request");
      if (name.empty())
        return invalid(kind, group, name, "metadata.name", "\"\"",
                       "name or generateName is required");
      if (!is_dns_subdomain(name))
        return invalid(kind, group, name, "metadata.name", "\"" + name + "\"",
                       "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                       "characters, '-' or '.', and must start and end with an alphanumeric "
                       "character");
      if (!options.namespaces.contains(a.ns)) return not_found("namespaces", "", a.ns);
      if (kind == "RoleBinding") {
        const auto* ref = object_at(obj, "roleRef");
        if (ref == nullptr || string_at(*ref, "name").empty() ||
            string_at(*ref, "apiGroup") != k_rbac)
          return invalid(kind, group, name, "roleRef", "{}", "roleRef is required");
      }
      if (store.contains({a.ns, name})) return already_exists(a.resource, group, name);
      m["namespace"] = a.ns;
      m["uid"] = random_uid();
      m["resourceVersion"] = std::to_string(++resource_version);
      m["creationTimestamp"] = k8s_time(now());
      obj["kind"] = kind;
      obj["apiVersion"] = api_version;
      store[{a.ns, name}] = obj;
      return json_response(201, obj);
    }
    if (a.name.empty() || (a.verb != "get" && a.verb != "delete"))
      return status_error(405, "MethodNotAllowed",
                          "the server does not allow this method on the requested resource",
                          json::object{});
    auto it = store.find({a.ns, a.name});
    if (it == store.end()) return not_found(a.resource, group, a.name);
    if (a.verb == "get") return json_response(200, it->second);

    const std::string uid = string_at(*object_at(it->second, "metadata"), "uid");
    if (!req.body.empty()) {
      boost::system::error_code ec;
      auto opts = json::parse(req.body, ec);
      if (ec || !opts.is_object())
        return status_error(400, "BadRequest", "the body of the request was in an unknown format");
      if (const auto* pre = object_at(opts.as_object(), "preconditions")) {
        if (auto want = string_at(*pre, "uid"); !want.empty() && want != uid)
          return conflict(
              a.resource, group, a.name,
              "Precondition failed: UID in precondition: " + want + ", UID in object meta: " + uid);
      }
    }
    auto deleted = std::move(it->second);
    store.erase(it);
    // Core ServiceAccounts answer a delete with the object; RBAC objects with a Status.
    if (group.empty()) return json_response(200, deleted);
    json::object details = details_of(a.name, group, a.resource);
    details["uid"] = uid;
    return json_response(200, json::object{{"kind", "Status"},
                                           {"apiVersion", "v1"},
                                           {"metadata", json::object{}},
                                           {"status", "Success"},
                                           {"details", std::move(details)}});
  }

  response cluster_role(const std::string& name) {
    auto it = options.cluster_roles.find(name);
    if (it == options.cluster_roles.end()) return not_found("clusterroles", k_rbac, name);
    json::array rules;
    if (it->second)
      rules.push_back(json::object{{"apiGroups", json::array{""}},
                                   {"resources", json::array{"pods"}},
                                   {"verbs", json::array{"get", "list", "watch"}}});
    return json_response(200, json::object{{"kind", "ClusterRole"},
                                           {"apiVersion", "rbac.authorization.k8s.io/v1"},
                                           {"metadata", json::object{{"name", name}}},
                                           {"rules", std::move(rules)}});
  }

  response token_request(const request& req, const attributes& a) {
    auto sa = service_accounts.find({a.ns, a.name});
    if (sa == service_accounts.end()) return not_found("serviceaccounts", "", a.name);
    const std::string uid = string_at(*object_at(sa->second, "metadata"), "uid");
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object())
      return status_error(400, "BadRequest",
                          "the body of the request was in an unknown format - accepted media "
                          "types include: application/json");
    const auto& obj = body.as_object();
    if (const auto* meta = object_at(obj, "metadata")) {
      // As with TokenRequestServiceAccountUIDValidation: a request for an account that was
      // replaced since the caller looked at it is refused.
      if (auto want = string_at(*meta, "uid"); !want.empty() && want != uid)
        return conflict("TokenRequest", k_authn, a.name,
                        "the UID in the token request (" + want +
                            ") does not match the UID of the service account (" + uid + ")");
    }
    const json::object* spec = object_at(obj, "spec");
    std::int64_t seconds = k_default_token_seconds;
    std::vector<std::string> audiences;
    if (spec != nullptr) {
      if (const auto* e = spec->if_contains("expirationSeconds")) {
        if (!e->is_int64() && !e->is_uint64())
          return status_error(400, "BadRequest", "spec.expirationSeconds must be an integer");
        seconds = e->to_number<std::int64_t>();
      }
      if (const auto* aud = spec->if_contains("audiences"); aud != nullptr && aud->is_array())
        for (const auto& v : aud->as_array())
          if (v.is_string()) audiences.emplace_back(v.as_string());
    }
    if (seconds < k_min_token_seconds)
      return invalid("TokenRequest", k_authn, "", "spec.expirationSeconds", std::to_string(seconds),
                     "may not specify a duration less than 10 minutes");
    if (audiences.empty()) audiences = {options.api_audiences.front()};

    const auto issued_at = now();
    issued_token t;
    t.ns = a.ns;
    t.name = a.name;
    t.uid = uid;
    t.expiration_seconds = seconds;
    t.audiences = audiences;
    t.expires_at =
        std::chrono::floor<std::chrono::seconds>(issued_at) + std::chrono::seconds{seconds};
    const std::string token = "k8s-sa." + common::base64url(common::random_bytes(32));
    tokens[token] = t;
    issued.push_back(t);

    json::array auds;
    for (const auto& s : audiences) auds.emplace_back(s);
    return json_response(
        201,
        json::object{{"kind", "TokenRequest"},
                     {"apiVersion", "authentication.k8s.io/v1"},
                     {"metadata", json::object{{"name", a.name},
                                               {"namespace", a.ns},
                                               {"creationTimestamp", k8s_time(issued_at)}}},
                     {"spec", json::object{{"audiences", std::move(auds)},
                                           {"expirationSeconds", seconds},
                                           {"boundObjectRef", nullptr}}},
                     {"status", json::object{{"token", token},
                                             {"expirationTimestamp", k8s_time(t.expires_at)}}}});
  }

  json::object pod_metadata(const std::string& ns, const std::string& name) const {
    const auto& p = pod_info.at({ns, name});
    return {{"name", name},
            {"namespace", ns},
            {"uid", p.uid},
            {"resourceVersion", "1"},
            {"creationTimestamp", k8s_time(p.created)}};
  }

  response list_pods(const std::string& ns, const std::string& accept) {
    // The first range the fixture can produce wins, as in the server's negotiation.
    bool table = false;
    bool acceptable = accept.empty();
    for (const auto& range : accepted(accept)) {
      auto m = parse_media_range(range);
      if (m.type != "application/json" && m.type != "*/*" && m.type != "application/*") continue;
      if (m.params.contains("as")) {
        if (m.params["as"] == "Table" && m.params["v"] == "v1" && m.params["g"] == "meta.k8s.io") {
          table = true;
          acceptable = true;
          break;
        }
        continue;
      }
      acceptable = true;
      break;
    }
    if (!acceptable)
      return status_error(406, "NotAcceptable",
                          "only the following media types are accepted: application/json");

    std::vector<std::string> pods;
    if (auto it = options.namespaces.find(ns); it != options.namespaces.end()) pods = it->second;
    const auto rv = std::to_string(resource_version);
    if (!table) {
      json::array items;
      for (std::size_t i = 0; i < pods.size(); ++i)
        items.push_back(json::object{
            {"metadata", pod_metadata(ns, pods[i])},
            {"spec", json::object{{"containers", json::array{json::object{
                                                     {"name", "main"}, {"image", "nginx:1.27"}}}},
                                  {"nodeName", "node-1"}}},
            {"status",
             json::object{{"phase", "Running"}, {"podIP", "10.0.0." + std::to_string(10 + i)}}}});
      return json_response(200, json::object{{"kind", "PodList"},
                                             {"apiVersion", "v1"},
                                             {"metadata", json::object{{"resourceVersion", rv}}},
                                             {"items", std::move(items)}});
    }
    auto column = [](std::string_view name, std::string_view format, std::string_view description,
                     int priority) {
      return json::object{{"name", name},
                          {"type", "string"},
                          {"format", format},
                          {"description", description},
                          {"priority", priority}};
    };
    json::array columns{
        column("Name", "name",
               "Name must be unique within a namespace. Is required when creating resources, "
               "although some resources may allow a client to request the generation of an "
               "appropriate name automatically.",
               0),
        column("Ready", "", "The aggregate readiness state of this pod for accepting traffic.", 0),
        column("Status", "", "The aggregate status of the containers in this pod.", 0),
        column("Restarts", "",
               "The number of times the containers in this pod have been restarted and when the "
               "last container in this pod has restarted.",
               0),
        column("Age", "",
               "CreationTimestamp is a timestamp representing the server time when this object "
               "was created.",
               0),
        column("IP", "",
               "podIP address allocated to the pod. Routable at least within the cluster.", 1),
        column("Node", "", "NodeName is a request to schedule this pod onto a specific node.", 1),
    };
    json::array rows;
    for (std::size_t i = 0; i < pods.size(); ++i) {
      auto meta = pod_metadata(ns, pods[i]);
      const auto age = std::chrono::duration_cast<std::chrono::seconds>(
          now() - pod_info.at({ns, pods[i]}).created);
      rows.push_back(
          json::object{{"cells", json::array{pods[i], "1/1", "Running", "0", human_age(age),
                                             "10.0.0." + std::to_string(10 + i), "node-1"}},
                       {"object", json::object{{"kind", "PartialObjectMetadata"},
                                               {"apiVersion", "meta.k8s.io/v1"},
                                               {"metadata", std::move(meta)}}}});
    }
    return json_response(200,
                         json::object{{"kind", "Table"},
                                      {"apiVersion", "meta.k8s.io/v1"},
                                      {"metadata", json::object{{"resourceVersion", rv}}},
                                      {"columnDefinitions", std::move(columns)},
                                      {"rows", std::move(rows)}},
                         "application/json;as=Table;v=v1;g=meta.k8s.io");
  }
};

namespace {

kube_fixture::service_account to_service_account(const json::object& o) {
  kube_fixture::service_account sa;
  const auto* meta = object_at(o, "metadata");
  sa.ns = string_at(*meta, "namespace");
  sa.name = string_at(*meta, "name");
  sa.uid = string_at(*meta, "uid");
  sa.labels = string_map(object_at(*meta, "labels"));
  sa.annotations = string_map(object_at(*meta, "annotations"));
  return sa;
}

kube_fixture::role_binding to_role_binding(const json::object& o) {
  kube_fixture::role_binding rb;
  const auto* meta = object_at(o, "metadata");
  rb.ns = string_at(*meta, "namespace");
  rb.name = string_at(*meta, "name");
  rb.uid = string_at(*meta, "uid");
  rb.labels = string_map(object_at(*meta, "labels"));
  if (const auto* ref = object_at(o, "roleRef")) {
    rb.role_kind = string_at(*ref, "kind");
    rb.role_name = string_at(*ref, "name");
  }
  if (const auto* subjects = o.if_contains("subjects"); subjects && subjects->is_array())
    for (const auto& s : subjects->as_array())
      if (s.is_object())
        rb.subjects.push_back({string_at(s.as_object(), "kind"), string_at(s.as_object(), "name"),
                               string_at(s.as_object(), "namespace")});
  return rb;
}

}  // namespace

kube_fixture::kube_fixture() : kube_fixture(kube_fixture_options{}) {}

kube_fixture::kube_fixture(kube_fixture_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  auto& m = *impl_;
  if (m.options.api_audiences.empty())
    throw std::invalid_argument("kube_fixture: api_audiences must not be empty");
  m.dir = std::make_unique<temp_dir>("apono-kube-");
  const auto tls = broker::ensure_tls(m.dir->path / "tls", {"127.0.0.1"});
  broker::http::server_options so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.cert_file = tls.server_cert;
  so.key_file = tls.server_key;
  m.server = std::make_unique<broker::http::server>(m.ioc, so, [state = impl_.get()](request req) {
    return impl::serve_request(state, std::move(req));
  });
  m.address = "127.0.0.1:" + std::to_string(m.server->port());
  m.thread = std::thread([&m] { m.ioc.run(); });
}

kube_fixture::~kube_fixture() {
  // server::stop cancels every connection; run() returns once their coroutines have ended.
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->server.reset();
}

std::string kube_fixture::url() const {
  return "https://" + impl_->address;
}

std::filesystem::path kube_fixture::ca_file() const {
  return impl_->dir->path / "tls" / "ca.pem";
}

std::string kube_fixture::admin_token() const {
  return impl_->admin;
}

std::vector<kube_fixture::service_account> kube_fixture::service_accounts() const {
  std::lock_guard lock(impl_->mu);
  std::vector<service_account> out;
  for (const auto& [key, o] : impl_->service_accounts) out.push_back(to_service_account(o));
  return out;
}

std::optional<kube_fixture::service_account> kube_fixture::find_service_account(
    const std::string& ns, const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->service_accounts.find({ns, name});
  if (it == impl_->service_accounts.end()) return std::nullopt;
  return to_service_account(it->second);
}

std::vector<kube_fixture::role_binding> kube_fixture::role_bindings() const {
  std::lock_guard lock(impl_->mu);
  std::vector<role_binding> out;
  for (const auto& [key, o] : impl_->role_bindings) out.push_back(to_role_binding(o));
  return out;
}

std::optional<kube_fixture::role_binding> kube_fixture::find_role_binding(
    const std::string& ns, const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->role_bindings.find({ns, name});
  if (it == impl_->role_bindings.end()) return std::nullopt;
  return to_role_binding(it->second);
}

std::vector<kube_fixture::issued_token> kube_fixture::issued_tokens() const {
  std::lock_guard lock(impl_->mu);
  return impl_->issued;
}

std::vector<kube_fixture::recorded_request> kube_fixture::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->log;
}

}  // namespace apono::test
