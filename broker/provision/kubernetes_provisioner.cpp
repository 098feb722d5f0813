// Kubernetes provisioner over the API server's REST interface. Every name that goes into a
// URL path is checked to be a DNS label (or a plain ClusterRole name) first, every body is
// built with Boost.JSON, and the broker's token and the tokens it issues are cut out of any
// message before it reaches an exception, since those end up in logs and API responses.
#include "broker/provision/kubernetes_provisioner.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/http_client.hpp"
#include "common/secrets.hpp"

namespace apono::broker {
namespace {

namespace json = boost::json;

// A scheduler worker must not hang on a stuck API server; a failed call is retried later.
constexpr auto k_request_timeout = std::chrono::seconds{15};
// Idle connections kept per API server; enough for the default worker count.
constexpr std::size_t k_max_idle = 8;
// The TokenRequest API refuses shorter lifetimes (spec.expirationSeconds >= 10 minutes).
constexpr std::int64_t k_min_token_seconds = 600;
// How often a create/delete is tried again when the object changed under us between two calls
// (deleted after a 409, replaced after a GET). More than that means someone else is busy with
// the same name, which a later retry of the whole operation handles better.
constexpr int k_attempts = 3;
// How long to wait for an object that is being deleted (it has finalizers) before its name can
// be used again.
constexpr int k_terminating_polls = 20;
constexpr auto k_terminating_poll = std::chrono::milliseconds{100};

// The label that marks objects as the broker's: only these are ever adopted or deleted.
constexpr std::string_view k_managed_by_key = "app.kubernetes.io/managed-by";
constexpr std::string_view k_managed_by_value = "apono";
constexpr std::string_view k_request_label = "apono.dev/request";
constexpr std::string_view k_requester_annotation = "apono.dev/requester";

constexpr std::string_view k_rbac_group = "rbac.authorization.k8s.io";

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/// RFC 1123 label: what namespaces must be, and what the broker makes ServiceAccount names.
/// Checking it also keeps both safe to put into a URL path unescaped.
bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63 || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

/// A label value as the API validates it; anything else would make the create fail forever.
bool is_label_value(std::string_view s) {
  if (s.empty()) return true;
  if (s.size() > 63 || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

/// ClusterRole names in practice (`view`, `system:aggregate-to-edit`, `team.reader`). The API
/// accepts more, but this set needs no escaping in a URL path.
bool is_role_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == ':' || c == '@';
  });
}

bool is_success(int status) {
  return status >= 200 && status < 300;
}

/// Replaces every occurrence of each secret: API servers and proxies may echo a header or body
/// in an error, and the message is about to be logged.
std::string redact_secrets(std::string msg, const std::vector<std::string_view>& secrets) {
  for (auto s : secrets) {
    if (s.empty()) continue;
    for (auto pos = msg.find(s); pos != std::string::npos; pos = msg.find(s, pos))
      msg.replace(pos, s.size(), "[redacted]");
  }
  return msg;
}

std::optional<json::object> parse_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string{};
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

/// What the API said, on one line: `404 NotFound: serviceaccounts "x" not found` from a Status
/// object, else the start of whatever came back (a proxy's HTML page, say).
std::string api_message(const common::http_result& r) {
  std::string out = std::to_string(r.status);
  if (auto o = parse_object(r.body); o && string_at(*o, "kind") == "Status") {
    if (auto reason = string_at(*o, "reason"); !reason.empty()) out += " " + reason;
    if (auto message = string_at(*o, "message"); !message.empty()) out += ": " + message;
    return out;
  }
  std::string_view body = r.body;
  body = body.substr(0, std::min(body.find('\n'), std::size_t{200}));
  if (!body.empty()) out += ": " + std::string(body);
  return out;
}

/// What the provisioner decides on in an object's metadata.
struct object_state {
  std::string uid;
  bool managed = false;      // carries app.kubernetes.io/managed-by=apono
  bool terminating = false;  // has a deletionTimestamp: gone soon, its name not yet free
  json::object object;
};

object_state state_of(json::object o) {
  object_state s;
  if (const auto* meta = object_at(o, "metadata")) {
    s.uid = string_at(*meta, "uid");
    if (const auto* labels = object_at(*meta, "labels"))
      s.managed = string_at(*labels, k_managed_by_key) == k_managed_by_value;
    s.terminating = meta->contains("deletionTimestamp") && !meta->at("deletionTimestamp").is_null();
  }
  s.object = std::move(o);
  return s;
}

/// Idle API clients per (endpoint, CA): each is one kept-alive TLS connection.
struct client_pool {
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<common::http_client>>> idle;
};

/// Where one unit's objects live, checked once so every later path is safe to build.
struct unit_names {
  std::string ctx;   // "integration/namespace", the prefix of every message
  std::string ns;    // namespace
  std::string name;  // ServiceAccount and RoleBinding name
};

unit_names names_of(const provision_unit& u) {
  unit_names n{u.integration->id + "/" + u.resource, u.resource, u.login};
  if (!is_dns_label(n.ns))
    throw provision_error(n.ctx + ": '" + n.ns + "' is not a valid namespace name");
  if (!is_dns_label(n.name))
    throw provision_error(n.ctx + ": service account name '" + n.name +
                          "' is not a lower-case DNS label of at most 63 characters");
  return n;
}

std::string sa_collection(const unit_names& n) {
  return "/api/v1/namespaces/" + n.ns + "/serviceaccounts";
}
std::string sa_path(const unit_names& n) {
  return sa_collection(n) + "/" + n.name;
}
std::string rb_collection(const unit_names& n) {
  return "/apis/rbac.authorization.k8s.io/v1/namespaces/" + n.ns + "/rolebindings";
}
std::string rb_path(const unit_names& n) {
  return rb_collection(n) + "/" + n.name;
}
std::string sa_text(const unit_names& n) {
  return "service account " + n.ns + "/" + n.name;
}
std::string rb_text(const unit_names& n) {
  return "role binding " + n.ns + "/" + n.name;
}

/// One borrowed connection to an integration's API server, returned to the pool when done
/// unless a call failed below HTTP (then the connection state is unknown and it is dropped).
class api_session {
 public:
  api_session(client_pool& pool, const integration_config& in, std::string ctx)
      : pool_(pool), in_(in), ctx_(std::move(ctx)) {
    if (in_.endpoint.empty()) throw provision_error(ctx_ + ": no endpoint (API server URL) set");
    if (in_.token.empty()) throw provision_error(ctx_ + ": no token set for the broker");
    key_ = in_.endpoint + '\n' + in_.ca_file.string();
    {
      std::lock_guard lock(pool_.mu);
      auto& idle = pool_.idle[key_];
      if (!idle.empty()) {
        client_ = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (!client_) {
      try {
        client_ = std::make_unique<common::http_client>(
            common::http_client_options{in_.endpoint, in_.ca_file, in_.token, k_request_timeout});
      } catch (const std::exception& e) {
        throw provision_error(ctx_ + ": " + redact(e.what()));
      }
    }
    // The token may have changed with a config reload since this client was last used.
    client_->set_token(in_.token);
  }

  ~api_session() {
    if (!client_ || broken_) return;
    std::lock_guard lock(pool_.mu);
    auto& idle = pool_.idle[key_];
    if (idle.size() < k_max_idle) idle.push_back(std::move(client_));
  }

  api_session(const api_session&) = delete;
  api_session& operator=(const api_session&) = delete;

  /// Sends one request; failures to reach the server become provision_error.
  common::http_result call(const std::string& method, const std::string& target,
                           const json::value* body = nullptr) {
    try {
      return client_->request(method, target, body != nullptr ? json::serialize(*body) : "");
    } catch (const std::exception& e) {
      broken_ = true;
      throw provision_error(ctx_ + ": " + redact(e.what()));
    }
  }

  /// GET that maps 404 to nullopt and other failures to provision_error.
  std::optional<object_state> get(const std::string& target, const std::string& what) {
    auto r = call("GET", target);
    if (r.status == 404) return std::nullopt;
    if (!is_success(r.status)) fail("cannot read " + what, r);
    auto o = parse_object(r.body);
    if (!o) throw provision_error(ctx_ + ": reading " + what + ": the API returned no object");
    return state_of(std::move(*o));
  }

  /// Throws provision_error for a failed call, with the API's own message.
  [[noreturn]] void fail(const std::string& what, const common::http_result& r) const {
    throw provision_error(ctx_ + ": " + what + ": " + redact(api_message(r)));
  }

  /// `msg` without the broker's token (and `extra`, e.g. a token just issued).
  [[nodiscard]] std::string redact(std::string msg, std::string_view extra = {}) const {
    return redact_secrets(std::move(msg), {in_.token, extra});
  }

  [[nodiscard]] const std::string& ctx() const { return ctx_; }

 private:
  client_pool& pool_;
  const integration_config& in_;
  std::string ctx_;
  std::string key_;
  std::unique_ptr<common::http_client> client_;
  bool broken_ = false;
};

/// Refuses to adopt or touch an object apono did not create: a name clash (or a bad login)
/// must never hand a user someone else's service account or delete a team's role binding.
void require_managed(const object_state& s, const std::string& ctx, const std::string& what) {
  if (!s.managed)
    throw provision_error(ctx + ": " + what + " exists but was not created by apono (no " +
                          std::string(k_managed_by_key) + "=" + std::string(k_managed_by_value) +
                          " label); refusing to use it");
}

json::object metadata(const provision_unit& u, const unit_names& n) {
  json::object labels{{k_managed_by_key, k_managed_by_value}};
  // An id the API would refuse as a label value (never the case for AR-00012) is left to the
  // annotation instead of failing the grant for good.
  if (!u.request_id.empty() && is_label_value(u.request_id)) labels[k_request_label] = u.request_id;
  json::object annotations{{"apono.dev/request-id", u.request_id}};
  if (!u.requester.empty()) annotations[k_requester_annotation] = u.requester;
  return {{"name", n.name},
          {"namespace", n.ns},
          {"labels", std::move(labels)},
          {"annotations", std::move(annotations)}};
}

json::value service_account_body(const provision_unit& u, const unit_names& n) {
  return json::object{
      {"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", metadata(u, n)}};
}

json::value role_binding_body(const provision_unit& u, const unit_names& n,
                              const std::string& role) {
  return json::object{
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", metadata(u, n)},
      {"roleRef", {{"apiGroup", k_rbac_group}, {"kind", "ClusterRole"}, {"name", role}}},
      {"subjects", json::array{json::object{
                       {"kind", "ServiceAccount"}, {"name", n.name}, {"namespace", n.ns}}}}};
}

/// DeleteOptions that make the API delete only the object we looked at: if it was replaced
/// since (same name, new uid), the delete fails with 409 instead of removing the newcomer.
json::value delete_precondition(const std::string& uid) {
  return json::object{
      {"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"preconditions", {{"uid", uid}}}};
}

/// True when the binding gives exactly `role` to exactly this service account.
bool binds(const json::object& rb, const unit_names& n, const std::string& role) {
  const auto* ref = object_at(rb, "roleRef");
  if (ref == nullptr || string_at(*ref, "kind") != "ClusterRole" ||
      string_at(*ref, "name") != role || string_at(*ref, "apiGroup") != k_rbac_group)
    return false;
  const auto* subjects = rb.if_contains("subjects");
  if (subjects == nullptr || !subjects->is_array() || subjects->as_array().size() != 1)
    return false;
  const auto& s = subjects->as_array().front();
  return s.is_object() && string_at(s.as_object(), "kind") == "ServiceAccount" &&
         string_at(s.as_object(), "name") == n.name &&
         string_at(s.as_object(), "namespace") == n.ns;
}

/// Deletes the object at `path` if apono owns it. Already gone is success; an object of the
/// same name that apono did not create is left alone (it is not our access to remove).
void delete_owned(api_session& api, const std::string& path, const std::string& what) {
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    auto existing = api.get(path, what);
    if (!existing) return;
    if (!existing->managed) {
      spdlog::warn("{}: {} was not created by apono; leaving it alone", api.ctx(), what);
      return;
    }
    auto body = delete_precondition(existing->uid);
    auto r = api.call("DELETE", path, &body);
    if (is_success(r.status) || r.status == 404) return;
    if (r.status == 409) continue;  // replaced since the GET: look at the new one
    api.fail("cannot delete " + what, r);
  }
  throw provision_error(api.ctx() + ": " + what + " keeps changing while being deleted");
}

/// Creates the unit's service account or accepts the one an earlier attempt created; returns
/// its uid.
std::string ensure_service_account(api_session& api, const provision_unit& u, const unit_names& n) {
  const auto body = service_account_body(u, n);
  int attempts = 0;
  int polls = 0;
  for (;;) {
    auto r = api.call("POST", sa_collection(n), &body);
    if (is_success(r.status)) {
      auto o = parse_object(r.body);
      if (!o) throw provision_error(api.ctx() + ": creating " + sa_text(n) + ": no object");
      return state_of(std::move(*o)).uid;
    }
    if (r.status != 409) api.fail("cannot create " + sa_text(n), r);
    auto existing = api.get(sa_path(n), sa_text(n));
    if (!existing) {
      // Deleted between our POST and GET: the name is free again.
      if (++attempts >= k_attempts)
        throw provision_error(api.ctx() + ": " + sa_text(n) + " keeps changing");
      continue;
    }
    require_managed(*existing, api.ctx(), sa_text(n));
    if (!existing->terminating) return existing->uid;
    // Ours but on its way out (finalizers): adopting it would hand out tokens that die with
    // it, so wait until the name is free and create a new one.
    if (++polls >= k_terminating_polls)
      throw provision_error(api.ctx() + ": " + sa_text(n) + " is still being deleted");
    std::this_thread::sleep_for(k_terminating_poll);
  }
}

/// Creates the role binding or accepts the one an earlier attempt created. A binding of ours
/// to another role (the permission's ClusterRole changed between attempts) is replaced, as a
/// roleRef cannot be changed in place.
void ensure_role_binding(api_session& api, const provision_unit& u, const unit_names& n,
                         const std::string& role) {
  const auto body = role_binding_body(u, n, role);
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    auto r = api.call("POST", rb_collection(n), &body);
    if (is_success(r.status)) return;
    if (r.status != 409) api.fail("cannot create " + rb_text(n), r);
    auto existing = api.get(rb_path(n), rb_text(n));
    if (!existing) continue;
    require_managed(*existing, api.ctx(), rb_text(n));
    if (binds(existing->object, n, role) && !existing->terminating) return;
    auto del = delete_precondition(existing->uid);
    auto d = api.call("DELETE", rb_path(n), &del);
    if (!is_success(d.status) && d.status != 404 && d.status != 409)
      api.fail("cannot replace " + rb_text(n), d);
  }
  throw provision_error(api.ctx() + ": " + rb_text(n) + " keeps changing");
}

const std::string& cluster_role_of(const provision_unit& u, const std::string& ctx) {
  const auto* perm = u.integration->find_permission(u.permission);
  if (perm == nullptr) throw provision_error(ctx + ": unknown permission " + u.permission);
  if (!is_role_name(perm->cluster_role))
    throw provision_error(ctx + ": permission '" + perm->name + "' has no valid cluster_role ('" +
                          perm->cluster_role + "')");
  return perm->cluster_role;
}

}  // namespace

struct kubernetes_provisioner::pool : client_pool {};

kubernetes_provisioner::kubernetes_provisioner(const common::clock& clock)
    : clock_(clock), pool_(std::make_unique<pool>()) {}

kubernetes_provisioner::~kubernetes_provisioner() = default;

std::string kubernetes_provisioner::make_name(std::int64_t request_number) {
  // The random part keeps a retried request (or a second grant of the same request) from
  // meeting a service account that a slow revoke has not removed yet.
  return "apono-ar" + std::to_string(request_number) + "-" + common::random_lower_alnum(6);
}

void kubernetes_provisioner::grant(const provision_unit& u) {
  const auto n = names_of(u);
  const auto& role = cluster_role_of(u, n.ctx);
  api_session api(*pool_, *u.integration, n.ctx);
  // The service account first: a binding naming a subject that does not exist yet would work
  // for whoever creates it, and revoke removes the binding first for the same reason.
  ensure_service_account(api, u, n);
  ensure_role_binding(api, u, n, role);
}

void kubernetes_provisioner::revoke(const provision_unit& u) {
  const auto n = names_of(u);
  api_session api(*pool_, *u.integration, n.ctx);
  // The binding first, so that a revoke interrupted half-way leaves a service account without
  // rights rather than rights without their owner visible; reset relies on this order too.
  // Deleting the service account then invalidates every token issued for it at once, which is
  // why those tokens may safely be valid for longer than the grant.
  delete_owned(api, rb_path(n), rb_text(n));
  delete_owned(api, sa_path(n), sa_text(n));
}

void kubernetes_provisioner::reset(const provision_unit& u) {
  const auto n = names_of(u);
  api_session api(*pool_, *u.integration, n.ctx);
  auto binding_is_ours = [&] {
    auto rb = api.get(rb_path(n), rb_text(n));
    return rb && rb->managed && !rb->terminating;
  };
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    auto sa = api.get(sa_path(n), sa_text(n));
    if (sa) {
      require_managed(*sa, api.ctx(), sa_text(n));
      // Tokens are bound to the service account's uid: deleting it kills all of them, and the
      // one created next under the same name gets a new uid (the binding, which names the
      // account rather than its uid, applies to it unchanged).
      auto body = delete_precondition(sa->uid);
      auto d = api.call("DELETE", sa_path(n), &body);
      if (d.status == 409) continue;  // replaced since the GET
      if (!is_success(d.status) && d.status != 404) api.fail("cannot delete " + sa_text(n), d);
    } else if (!binding_is_ours()) {
      // Revoke removes the binding first: no account and no binding means revoked, and
      // recreating the account would bring back access the broker took away.
      throw provision_error(api.ctx() + ": " + sa_text(n) + " does not exist");
    }
    // (With the binding still there but no account, an earlier reset stopped between delete
    // and create; creating it now finishes that reset.)
    ensure_service_account(api, u, n);
    if (!binding_is_ours()) {
      // A revoke ran between our look and the create: undo the create so nothing outlives it.
      delete_owned(api, sa_path(n), sa_text(n));
      throw provision_error(api.ctx() + ": access was revoked while its credentials were reset");
    }
    return;
  }
  throw provision_error(api.ctx() + ": " + sa_text(n) + " keeps changing");
}

void kubernetes_provisioner::check(const integration_config& integration) {
  const auto& ctx = integration.id;
  for (const auto& r : integration.resources)
    if (!is_dns_label(r.name))
      throw provision_error(ctx + ": '" + r.name + "' is not a valid namespace name");
  for (const auto& p : integration.permissions)
    if (!is_role_name(p.cluster_role))
      throw provision_error(ctx + ": permission '" + p.name + "' has no valid cluster_role ('" +
                            p.cluster_role + "')");

  api_session api(*pool_, integration, ctx);
  // /api needs an authenticated caller on any cluster (system:discovery), unlike /version,
  // which anonymous callers may read: a bad token shows here as 401.
  auto r = api.call("GET", "/api");
  if (r.status == 401 || r.status == 403)
    api.fail(integration.endpoint + " refused the broker's token", r);
  if (!is_success(r.status)) api.fail("cannot read " + integration.endpoint + "/api", r);

  // A RoleBinding to a ClusterRole that does not exist is accepted by the API and grants
  // nothing, so a typo would only show when a user finds they cannot do anything.
  std::set<std::string> seen;
  for (const auto& p : integration.permissions) {
    if (!seen.insert(p.cluster_role).second) continue;
    auto role =
        api.call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/" + p.cluster_role);
    if (role.status == 404)
      throw provision_error(ctx + ": ClusterRole '" + p.cluster_role + "' of permission '" +
                            p.name + "' does not exist");
    // The broker needs `bind` on the roles it hands out, not `get`: not being allowed to
    // look is no reason to refuse the integration.
    if (role.status == 403) continue;
    if (!is_success(role.status)) api.fail("cannot read ClusterRole " + p.cluster_role, role);
  }
}

issued_credentials kubernetes_provisioner::issue(const provision_unit& u,
                                                 common::time_point until) {
  const auto n = names_of(u);
  api_session api(*pool_, *u.integration, n.ctx);
  auto sa = api.get(sa_path(n), sa_text(n));
  if (!sa) throw provision_error(n.ctx + ": " + sa_text(n) + " does not exist");
  require_managed(*sa, n.ctx, sa_text(n));

  // Rounded up so the token never ends before the grant; the API's minimum can make it outlive
  // the grant by up to ten minutes, which is safe because revoke deletes the service account
  // and with it every token issued for it.
  const auto left = until - clock_.now();
  const std::int64_t left_ms = left.count();
  const std::int64_t seconds = std::max(k_min_token_seconds, (left_ms + 999) / 1000);

  json::object spec{{"expirationSeconds", seconds}};
  if (!u.integration->audience.empty())
    spec["audiences"] = json::array{json::value(u.integration->audience)};
  // The uid ties the token to the account we just checked; API servers that validate it
  // (TokenRequestServiceAccountUIDValidation) refuse if the account was replaced since.
  json::value body = json::object{{"apiVersion", "authentication.k8s.io/v1"},
                                  {"kind", "TokenRequest"},
                                  {"metadata", {{"uid", sa->uid}}},
                                  {"spec", std::move(spec)}};
  auto r = api.call("POST", sa_path(n) + "/token", &body);
  if (!is_success(r.status)) api.fail("cannot issue a token for " + sa_text(n), r);

  auto o = parse_object(r.body);
  const json::object* status = o ? object_at(*o, "status") : nullptr;
  issued_credentials out;
  out.secret = status != nullptr ? string_at(*status, "token") : std::string{};
  if (out.secret.empty())
    throw provision_error(n.ctx + ": the TokenRequest response for " + sa_text(n) +
                          " holds no token");
  const auto expires = common::parse_rfc3339(string_at(*status, "expirationTimestamp"));
  if (!expires)
    throw provision_error(n.ctx + ": the TokenRequest response for " + sa_text(n) +
                          " holds no valid expirationTimestamp");
  out.expires_at = *expires;
  out.key_id = "system:serviceaccount:" + n.ns + ":" + n.name;
  out.identity = out.key_id;
  return out;
}

}  // namespace apono::broker
