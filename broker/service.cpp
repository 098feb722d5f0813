// Request lifecycle. The ordering rule everywhere: persist what the target will hold (login,
// secret) before touching the target, touch the target outside any transaction, then record
// the outcome in a transaction that re-reads the row and applies only if it is still in the
// state the work started from.
#include "broker/service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "broker/policy.hpp"
#include "broker/provision/aws_provisioner.hpp"
#include "broker/provision/kubernetes_provisioner.hpp"
#include "common/error.hpp"
#include "common/secrets.hpp"

namespace apono::broker {

using common::access_request;
using common::api_error;
using common::errc;
using common::status;
namespace json = boost::json;

namespace {

std::string trim(std::string s) {
  auto not_space = [](unsigned char ch) { return !std::isspace(ch); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::string detail(std::initializer_list<std::pair<std::string_view, json::value>> fields) {
  json::object o;
  for (const auto& [k, v] : fields) o[k] = v;
  return json::serialize(o);
}

std::string id_text(std::int64_t id) {
  return common::format_request_id(id);
}

// Role names: `apono_ar00012_k3j9x2`, lower case so they never need quoting by users, and
// short of PostgreSQL's 63-byte identifier limit.
// The client's view of an ssh unit: where to connect, as whom, and the host's keys.
common::unit_credentials ssh_unit(const integration_config& integ, const common::access_unit& u,
                                  const unit_state& s) {
  common::unit_credentials c;
  c.integration = integ.id;
  c.type = integ.type;
  c.resource = u.resource;
  c.permission = u.permission;
  const auto* host = integ.find_resource(u.resource);
  const auto* perm = integ.find_permission(u.permission);
  if (!host || !perm)
    throw api_error(errc::unavailable, "host '" + u.resource + "' or login '" + u.permission +
                                           "' is no longer configured");
  c.host = host->address;
  c.port = host->port;
  c.username = s.login.empty() ? perm->login : s.login;
  c.principal = perm->principal;
  // known_hosts writes a non-default port as [host]:port.
  const std::string pattern =
      host->port == 22 ? host->address : "[" + host->address + "]:" + std::to_string(host->port);
  for (const auto& key : host->host_keys) c.known_hosts += pattern + " " + key + "\n";
  return c;
}

std::string make_login(std::int64_t request_id) {
  return "apono_ar" + std::to_string(request_id) + "_" + common::random_lower_alnum(6);
}

status final_status_for(const std::string& end_reason) {
  if (end_reason == "expired") return status::expired;
  if (end_reason == "failed") return status::failed;
  return status::revoked;
}

[[noreturn]] void wrong_state(const access_request& r, std::string_view wanted) {
  throw api_error(errc::conflict, id_text(r.id) + " is " + std::string(common::to_string(r.state)) +
                                      ", not " + std::string(wanted));
}

common::access_unit* find_unit(access_request& r, std::int64_t unit_id) {
  auto it = std::find_if(r.units.begin(), r.units.end(),
                         [&](const common::access_unit& u) { return u.id == unit_id; });
  return it == r.units.end() ? nullptr : &*it;
}

// Loads the request of `unit_id` into `r` and returns the unit, or null when the unit is
// gone or no longer in `expected` (another step got there first).
common::access_unit* load_unit(store_tx& tx, std::int64_t unit_id, status expected,
                               access_request& r) {
  auto req = tx.get_request(tx.get_unit_state(unit_id).request_id);
  if (!req) return nullptr;
  r = std::move(*req);
  auto* u = find_unit(r, unit_id);
  return u && u->state == expected ? u : nullptr;
}

// Moves every unit still holding (or about to hold) access to REVOKING, due at once.
void start_revoking(store_tx& tx, access_request& r, common::time_point now) {
  for (auto& u : r.units) {
    if (common::is_final(u.state)) continue;
    u.state = status::revoking;
    auto s = tx.get_unit_state(u.id);
    s.attempts = 0;
    s.next_attempt_at = now;
    tx.put_unit_state(s);
  }
}

}  // namespace

service::service(store& st, config_holder& cfg, std::map<std::string, provisioner*> provisioners,
                 const common::clock& clk, metrics& m, lifecycle_options options,
                 std::function<void()> on_change)
    : store_(st),
      config_(cfg),
      provisioners_(std::move(provisioners)),
      clock_(clk),
      metrics_(m),
      options_(options),
      on_change_(std::move(on_change)) {}

void service::changed() const {
  if (on_change_) on_change_();
}

bool service::is_flow_approver(const config& cfg, const caller& c, const access_request& r) const {
  const auto* flow = cfg.find_flow(r.flow);
  return flow && is_approver(cfg, *flow, c.user);
}

bool service::can_see(const config& cfg, const caller& c, const access_request& r) const {
  return c.admin || r.requester == c.user || is_flow_approver(cfg, c, r);
}

access_request service::load_visible(store_tx& tx, const config& cfg, const caller& c,
                                     std::int64_t id) const {
  auto r = tx.get_request(id);
  // Requests the caller may not see are reported as missing, so ids reveal nothing.
  if (!r || !can_see(cfg, c, *r)) throw api_error(errc::not_found, id_text(id) + " not found");
  return *r;
}

std::int64_t service::record(store_tx& tx, const std::string& actor, const std::string& action,
                             const access_request& r, bool status_change, const std::string& det) {
  audit_event ev;
  ev.at = clock_.now();
  ev.actor = actor;
  ev.action = action;
  ev.request_id = r.id;
  if (status_change) ev.status = std::string(common::to_string(r.state));
  ev.detail = det;
  return tx.append_audit(ev);
}

std::string service::with_via(const caller& c, const std::string& det) {
  if (c.via.empty()) return det;
  json::object o;
  if (!det.empty()) {
    boost::system::error_code ec;
    auto v = json::parse(det, ec);
    if (!ec && v.is_object()) o = std::move(v.get_object());
  }
  for (const auto& [k, v] : c.via) o[k] = v;
  return json::serialize(o);
}

provisioner& service::provisioner_for(const integration_config& integ) const {
  auto it = provisioners_.find(integ.type);
  if (it == provisioners_.end() || !it->second)
    throw provision_error("no provisioner for integration type '" + integ.type + "'");
  return *it->second;
}

provision_unit service::make_unit(const config& cfg, const access_request& r,
                                  const common::access_unit& u, const unit_state& s) const {
  provision_unit p;
  p.integration = cfg.find_integration(u.integration);
  if (!p.integration)
    throw provision_error("integration '" + u.integration + "' is no longer configured");
  p.request_id = id_text(r.id);
  p.requester = r.requester;
  p.resource = u.resource;
  p.permission = u.permission;
  p.login = s.login;
  p.secret = s.secret;
  // The broker ends the grant; VALID UNTIL is the target's own backstop should the broker be
  // down at the end, so it sits just past the latest possible end.
  auto start = r.active_from.value_or(clock_.now());
  p.valid_until = start + r.duration + options_.valid_until_margin;
  return p;
}

std::vector<common::access_unit> service::units_of(const config& cfg, const caller& c,
                                                   const create_input& in,
                                                   access_request& r) const {
  std::vector<common::access_unit> units;
  if (!in.bundle.empty()) {
    if (!in.integration.empty() || !in.resources.empty() || !in.permissions.empty())
      throw api_error(errc::invalid_argument,
                      "a bundle request names no integration, resources or permissions");
    const auto* b = cfg.find_bundle(in.bundle);
    if (!b) throw api_error(errc::invalid_argument, "unknown bundle '" + in.bundle + "'");
    r.bundle = b->name;
    for (const auto& t : b->targets) {
      const auto* integ = cfg.find_integration(t.integration);
      for (const auto& res : t.resources)
        for (const auto& perm : t.permissions)
          units.push_back({0,
                           t.integration,
                           integ ? integ->resource_type : "",
                           res,
                           perm,
                           status::pending,
                           {}});
    }
  } else {
    if (in.integration.empty())
      throw api_error(errc::invalid_argument, "an integration or a bundle is required");
    const integration_config* integ = cfg.find_integration(in.integration);
    if (!integ)
      for (const auto& i : cfg.integrations)
        if (i.name == in.integration || i.type + "/" + i.name == in.integration) integ = &i;
    if (!integ || visible_resources(cfg, c.user, *integ).empty())
      throw api_error(errc::invalid_argument, "unknown integration '" + in.integration + "'");
    if (!in.resource_type.empty() && in.resource_type != integ->resource_type)
      throw api_error(errc::invalid_argument, "integration '" + integ->id +
                                                  "' has no resource type '" + in.resource_type +
                                                  "' (it has '" + integ->resource_type + "')");
    if (in.resources.empty())
      throw api_error(errc::invalid_argument, "at least one resource is required");
    if (in.permissions.empty())
      throw api_error(errc::invalid_argument, "at least one permission is required");
    for (const auto& res : in.resources)
      if (std::none_of(integ->resources.begin(), integ->resources.end(),
                       [&](const resource_config& rc) { return rc.name == res; }))
        throw api_error(errc::invalid_argument,
                        "unknown resource '" + res + "' in integration '" + integ->id + "'");
    for (const auto& perm : in.permissions)
      if (std::none_of(integ->permissions.begin(), integ->permissions.end(),
                       [&](const permission_config& pc) { return pc.name == perm; }))
        throw api_error(errc::invalid_argument,
                        "unknown permission '" + perm + "' in integration '" + integ->id + "'");
    r.integration = integ->id;
    r.resource_type = integ->resource_type;
    for (const auto& res : in.resources)
      for (const auto& perm : in.permissions) {
        bool dup = std::any_of(units.begin(), units.end(), [&](const common::access_unit& u) {
          return u.resource == res && u.permission == perm;
        });
        if (!dup)
          units.push_back({0, integ->id, integ->resource_type, res, perm, status::pending, {}});
      }
  }
  if (units.size() > 100)
    throw api_error(errc::invalid_argument, "a request may hold at most 100 units");
  return units;
}

access_request service::create(const caller& c, const create_input& in) {
  auto cfg = config_.get();
  access_request r;
  r.requester = c.user;
  r.justification = trim(in.justification);
  if (r.justification.size() > 4096)
    throw api_error(errc::invalid_argument, "justification is longer than 4096 characters");
  auto units = units_of(*cfg, c, in, r);

  auto choice = choose_flow(*cfg, c.user, units, in.duration, r.justification);
  r.flow = choice.flow->name;
  r.automatic = choice.flow->automatic;
  r.duration = choice.duration;
  r.created_at = r.updated_at = clock_.now();
  r.state = r.automatic ? status::granting : status::pending;
  if (r.automatic) r.decided_by = "automatic";
  for (auto& u : units) u.state = r.state;
  r.units = std::move(units);
  if (in.dry_run) return r;

  store_.transact([&](store_tx& tx) {
    tx.insert_request(r);
    json::array unit_list;
    for (const auto& u : r.units)
      unit_list.push_back(json::object{
          {"integration", u.integration}, {"resource", u.resource}, {"permission", u.permission}});
    record(tx, c.user, "request.created", r, true,
           with_via(c, detail({{"flow", json::value(r.flow)},
                               {"duration_seconds", r.duration.count()},
                               {"justification", json::value(r.justification)},
                               {"bundle", json::value(r.bundle)},
                               {"units", std::move(unit_list)}})));
  });
  spdlog::info("{} created by {} ({} unit(s), flow {}, {})", id_text(r.id), c.user, r.units.size(),
               r.flow, r.automatic ? "automatic" : "manual approval");
  changed();
  return r;
}

request_plan service::plan(const caller& c, const create_input& in) {
  auto cfg = config_.get();
  access_request r;
  const auto justification = trim(in.justification);
  if (justification.size() > 4096)
    throw api_error(errc::invalid_argument, "justification is longer than 4096 characters");
  const auto units = units_of(*cfg, c, in, r);

  // Each unit gets the flow a request for it alone would get. A request for any set of units
  // that share a flow gets that flow too: an earlier flow allowing the whole set would allow
  // each of them and have been their choice. So every group below creates as planned.
  struct planned {
    const common::access_unit* unit;
    const access_flow_config* flow;
    std::chrono::seconds duration;
  };
  std::vector<planned> chosen;
  request_plan out;
  for (const auto& u : units) {
    try {
      auto choice = choose_flow(*cfg, c.user, {u}, in.duration, justification);
      chosen.push_back({&u, choice.flow, choice.duration});
    } catch (const api_error& e) {
      out.refused.push_back({u.integration, u.resource, u.permission, e.what()});
    }
  }

  // Groups a request can ask for as it is (every resource with every permission): per flow
  // and integration, the resources that have the same permissions, in the selection's order.
  std::vector<bool> done(chosen.size(), false);
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (done[i]) continue;
    auto same_target = [&](std::size_t j) {
      return chosen[j].flow == chosen[i].flow &&
             chosen[j].unit->integration == chosen[i].unit->integration;
    };
    // A resource's units all come after i: the first of them would have been grouped before.
    auto permissions_of = [&](const std::string& resource) {
      std::vector<std::string> perms;
      for (std::size_t j = i; j < chosen.size(); ++j)
        if (same_target(j) && chosen[j].unit->resource == resource)
          perms.push_back(chosen[j].unit->permission);
      return perms;
    };
    auto sorted = [](std::vector<std::string> v) {
      std::sort(v.begin(), v.end());
      return v;
    };
    plan_group g;
    const auto& f = *chosen[i].flow;
    g.flow = f.name;
    g.automatic = f.automatic;
    g.max_duration = f.max_duration;
    g.duration = chosen[i].duration;
    g.justification_required = f.justification_required;
    g.integration = chosen[i].unit->integration;
    g.resource_type = chosen[i].unit->resource_type;
    g.permissions = permissions_of(chosen[i].unit->resource);
    g.approvers = approver_names(*cfg, f, c.user);
    for (std::size_t j = i; j < chosen.size(); ++j) {
      if (done[j] || !same_target(j)) continue;
      const auto& resource = chosen[j].unit->resource;
      if (sorted(permissions_of(resource)) != sorted(g.permissions)) continue;
      if (std::find(g.resources.begin(), g.resources.end(), resource) == g.resources.end())
        g.resources.push_back(resource);
      done[j] = true;
    }
    out.groups.push_back(std::move(g));
  }
  return out;
}

access_request service::get(const caller& c, std::int64_t id) {
  auto cfg = config_.get();
  access_request r;
  store_.read([&](store_tx& tx) { r = load_visible(tx, *cfg, c, id); });
  return r;
}

request_page service::list(const caller& c, list_scope scope, std::optional<int> days,
                           const page_query& page) {
  auto cfg = config_.get();
  request_filter f;
  if (days) {
    if (*days < 1 || *days > 3650)
      throw api_error(errc::invalid_argument, "days must be 1 to 3650");
    f.created_after = clock_.now() - std::chrono::hours{24 * *days};
  }
  if (page.limit < 1 || page.limit > 500)
    throw api_error(errc::invalid_argument, "limit must be 1 to 500");
  f.limit = page.limit;
  f.before_id = page.before_id;
  f.statuses = page.statuses;
  if (scope == list_scope::mine) f.requester = c.user;
  if (scope == list_scope::approvable) f.statuses = {status::pending};
  std::vector<access_request> all;
  store_.read([&](store_tx& tx) { all = tx.list_requests(f); });
  request_page out;
  // A full page from the store may have more behind it, even when the caller may see none of
  // it: the cursor moves past what was looked at, not past what was shown.
  if (all.size() == f.limit) out.next_before = all.back().id;
  for (auto& r : all) {
    if (scope == list_scope::approvable) {
      if (r.requester != c.user && is_flow_approver(*cfg, c, r))
        out.requests.push_back(std::move(r));
    } else if (can_see(*cfg, c, r)) {
      out.requests.push_back(std::move(r));
    }
  }
  return out;
}

access_request service::approve(const caller& c, std::int64_t id) {
  auto cfg = config_.get();
  access_request r;
  store_.transact([&](store_tx& tx) {
    r = load_visible(tx, *cfg, c, id);
    if (r.requester == c.user)
      throw api_error(errc::permission_denied, "you cannot approve your own request");
    if (!is_flow_approver(*cfg, c, r))
      throw api_error(errc::permission_denied,
                      "you are not an approver of access flow '" + r.flow + "'");
    if (r.state != status::pending) wrong_state(r, "PENDING");
    r.state = status::granting;
    r.updated_at = clock_.now();
    r.decided_by = c.user;
    for (auto& u : r.units) u.state = status::granting;
    tx.update_request(r);
    record(tx, c.user, "request.approved", r, true, with_via(c, {}));
  });
  spdlog::info("{} approved by {}", id_text(id), c.user);
  changed();
  return r;
}

access_request service::reject(const caller& c, std::int64_t id, const std::string& reason) {
  auto cfg = config_.get();
  auto why = trim(reason);
  if (why.empty())
    throw api_error(errc::invalid_argument, "a reason is required to reject a request");
  if (why.size() > 4096)
    throw api_error(errc::invalid_argument, "reason is longer than 4096 characters");
  access_request r;
  store_.transact([&](store_tx& tx) {
    r = load_visible(tx, *cfg, c, id);
    if (r.requester == c.user)
      throw api_error(errc::permission_denied, "you cannot reject your own request; revoke it");
    if (!is_flow_approver(*cfg, c, r))
      throw api_error(errc::permission_denied,
                      "you are not an approver of access flow '" + r.flow + "'");
    if (r.state != status::pending) wrong_state(r, "PENDING");
    r.state = status::rejected;
    r.updated_at = clock_.now();
    r.decided_by = c.user;
    r.reason = why;
    for (auto& u : r.units) u.state = status::rejected;
    tx.update_request(r);
    record(tx, c.user, "request.rejected", r, true,
           with_via(c, detail({{"reason", json::value(why)}})));
  });
  spdlog::info("{} rejected by {}", id_text(id), c.user);
  changed();
  return r;
}

access_request service::revoke(const caller& c, std::int64_t id, const std::string& reason) {
  auto cfg = config_.get();
  access_request r;
  store_.transact([&](store_tx& tx) {
    r = load_visible(tx, *cfg, c, id);
    if (!c.admin && r.requester != c.user && !is_flow_approver(*cfg, c, r))
      throw api_error(errc::permission_denied,
                      "only the requester, an approver or an admin may revoke");
    if (common::is_final(r.state) || r.state == status::revoking)
      throw api_error(errc::conflict,
                      id_text(r.id) + " is already " + std::string(common::to_string(r.state)));
    auto now = clock_.now();
    r.updated_at = now;
    r.end_reason = "revoked";
    r.reason = trim(reason).empty() ? "revoked by " + c.user : trim(reason);
    if (r.state == status::pending) {
      // Nothing exists at the target yet: a withdrawn request ends at once.
      r.state = status::revoked;
      for (auto& u : r.units) u.state = status::revoked;
    } else {
      r.state = status::revoking;
      start_revoking(tx, r, now);
    }
    tx.update_request(r);
    record(tx, c.user, "request.revoked", r, true,
           with_via(c, detail({{"reason", json::value(r.reason)}})));
    finish_if_revoked(tx, r);
  });
  spdlog::info("{} revoked by {}", id_text(id), c.user);
  changed();
  return r;
}

common::access_details service::access_details(const caller& c, std::int64_t id) {
  auto cfg = config_.get();
  common::access_details d;
  access_request r;
  // Cloud units get credentials made now, at the target, outside any transaction.
  std::vector<std::pair<std::size_t, provision_unit>> to_issue;
  auto check_active = [&](const access_request& req) {
    if (req.requester != c.user)
      throw api_error(errc::permission_denied, "access details are given only to the requester");
    if (req.state != status::active || !req.ends_at || *req.ends_at <= clock_.now())
      throw api_error(errc::conflict, id_text(req.id) + " is " +
                                          std::string(common::to_string(req.state)) +
                                          ", access details exist only while it is ACTIVE");
  };
  store_.transact([&](store_tx& tx) {
    to_issue.clear();
    d = {};
    r = load_visible(tx, *cfg, c, id);
    check_active(r);
    d.request_id = id_text(r.id);
    d.state = r.state;
    d.ends_at = *r.ends_at;
    for (const auto& u : r.units) {
      const auto* integ = cfg->find_integration(u.integration);
      if (!integ)
        throw api_error(errc::unavailable,
                        "integration '" + u.integration + "' is no longer configured");
      auto s = tx.get_unit_state(u.id);
      if (integ->type == "ssh") {
        d.units.push_back(ssh_unit(*integ, u, s));
        continue;
      }
      common::unit_credentials cred;
      cred.integration = integ->id;
      cred.type = integ->type;
      cred.resource = u.resource;
      cred.permission = u.permission;
      if (integ->type == "aws" || integ->type == "kubernetes") {
        const auto* perm = integ->find_permission(u.permission);
        if (!perm || !integ->find_resource(u.resource))
          throw api_error(errc::unavailable, "'" + u.resource + "' or '" + u.permission +
                                                 "' is no longer configured in " + integ->id);
        provision_unit p;
        try {
          p = make_unit(*cfg, r, u, s);
          cred.role = integ->type == "aws" ? aws_provisioner::role_arn(p) : perm->cluster_role;
        } catch (const provision_error& e) {
          throw api_error(errc::unavailable, e.what());
        }
        cred.region = integ->type == "aws" ? integ->region : "";
        cred.server = integ->type == "kubernetes" ? integ->endpoint : "";
        cred.ssl_root_cert = integ->type == "kubernetes" ? integ->ssl_root_cert : "";
        to_issue.emplace_back(d.units.size(), std::move(p));
        d.units.push_back(std::move(cred));
        continue;
      }
      cred.host = integ->host;
      cred.port = integ->port;
      cred.database = u.resource;
      cred.username = s.login;
      cred.password = s.secret;
      cred.sslmode = integ->sslmode;
      cred.ssl_root_cert = integ->ssl_root_cert;
      d.units.push_back(std::move(cred));
    }
    if (to_issue.empty())
      d.events_after = record(tx, c.user, "access_details.fetched", r, false, with_via(c, {}));
  });
  if (to_issue.empty()) return d;

  json::array issued;
  for (auto& [index, p] : to_issue) {
    issued_credentials made;
    try {
      made = provisioner_for(*p.integration).issue(p, d.ends_at);
    } catch (const provision_error& e) {
      throw api_error(errc::unavailable,
                      "could not get credentials from " + p.integration->id + ": " + e.what());
    }
    auto& cred = d.units[index];
    cred.username = made.key_id;
    cred.password = made.secret;
    cred.session_token = made.session_token;
    cred.identity = made.identity;
    // The target may insist on a longer life (STS 15 min, TokenRequest 10 min); clients are
    // told the grant end, and the revoke at the end makes the rest worthless.
    cred.expires_at = std::min(made.expires_at, d.ends_at);
    issued.push_back(json::object{{"unit", p.integration->id + "/" + p.resource},
                                  {"identity", made.identity},
                                  {"expires_at", common::format_rfc3339(made.expires_at)}});
    spdlog::info("{}: {} credentials for {} until {}", d.request_id, p.integration->type,
                 made.identity, common::format_rfc3339(made.expires_at));
  }
  // Handed out only if the grant is still ACTIVE now: a revoke that began while the target
  // was issuing removes access only after this check, so nothing issued can outlive it.
  store_.transact([&](store_tx& tx) {
    auto now_r = load_visible(tx, *cfg, c, id);
    check_active(now_r);
    d.events_after =
        record(tx, c.user, "access_details.fetched", now_r, false, detail({{"issued", issued}}));
  });
  return d;
}

common::ssh_certificate service::ssh_certificate(const caller& c, std::int64_t id,
                                                 const ssh_certificate_input& in) {
  auto cfg = config_.get();
  // Checked before anything is recorded, so a bad key leaves no trace but the 400.
  auto fingerprint = ssh::fingerprint(in.public_key);
  if (!ssh_ca_) throw api_error(errc::unavailable, "this broker has no SSH certificate authority");
  common::ssh_certificate out;
  store_.transact([&](store_tx& tx) {
    auto r = load_visible(tx, *cfg, c, id);
    if (r.requester != c.user)
      throw api_error(errc::permission_denied, "SSH certificates are issued only to the requester");
    auto now = clock_.now();
    if (r.state != status::active || !r.ends_at || *r.ends_at <= now)
      throw api_error(errc::conflict, id_text(r.id) + " is " +
                                          std::string(common::to_string(r.state)) +
                                          ", SSH certificates are issued only while it is ACTIVE");
    const common::access_unit* chosen = nullptr;
    std::string names;
    int matches = 0;
    for (const auto& u : r.units) {
      const auto* integ = cfg->find_integration(u.integration);
      if (!integ || integ->type != "ssh") continue;
      names += (names.empty() ? "" : ", ") + u.permission + "@" + u.resource;
      if ((!in.resource.empty() && u.resource != in.resource) ||
          (!in.permission.empty() && u.permission != in.permission))
        continue;
      chosen = &u;
      ++matches;
    }
    if (names.empty())
      throw api_error(errc::failed_precondition, id_text(r.id) + " holds no SSH access");
    if (matches == 0)
      throw api_error(errc::invalid_argument, id_text(r.id) + " does not cover " +
                                                  (in.permission.empty() ? "*" : in.permission) +
                                                  "@" + (in.resource.empty() ? "*" : in.resource) +
                                                  " (it covers " + names + ")");
    if (matches > 1)
      throw api_error(errc::invalid_argument,
                      id_text(r.id) + " covers " + names + ": say which host and login");
    const auto* integ = cfg->find_integration(chosen->integration);
    const auto* perm = integ->find_permission(chosen->permission);
    if (!perm || !integ->find_resource(chosen->resource))
      throw api_error(errc::unavailable, "host '" + chosen->resource + "' or login '" +
                                             chosen->permission + "' is no longer configured");
    out.unit = ssh_unit(*integ, *chosen, tx.get_unit_state(chosen->id));
    out.principal = perm->principal;
    out.key_id = id_text(r.id) + " " + c.user + " " + perm->login + "@" + chosen->resource;
    // A minute back covers clock skew between here and the host; the end is the grant's.
    out.valid_after =
        std::chrono::time_point_cast<std::chrono::seconds>(now) - std::chrono::seconds{60};
    out.valid_before = std::chrono::time_point_cast<std::chrono::seconds>(*r.ends_at);
    auto serial =
        record(tx, c.user, "ssh_certificate.issued", r, false,
               detail({{"unit", chosen->id},
                       {"principal", json::value(out.principal)},
                       {"fingerprint", json::value(fingerprint)},
                       {"key_id", json::value(out.key_id)},
                       {"valid_before", json::value(common::format_rfc3339(out.valid_before))}}));
    out.serial = static_cast<std::uint64_t>(serial);
    ssh::cert_request req;
    req.public_key = in.public_key;
    req.serial = out.serial;
    req.key_id = out.key_id;
    req.principals = {perm->principal};
    req.valid_after = out.valid_after;
    req.valid_before = out.valid_before;
    req.extensions = perm->extensions;
    out.certificate = ssh_ca_->sign(req);
  });
  spdlog::info("{}: SSH certificate #{} for {} ({}) until {}", id_text(id), out.serial,
               out.principal, fingerprint, common::format_rfc3339(out.valid_before));
  return out;
}

common::access_details service::reset_credentials(const caller& c, std::int64_t id) {
  auto cfg = config_.get();
  access_request r;
  std::vector<unit_state> states;
  store_.transact([&](store_tx& tx) {
    states.clear();
    r = load_visible(tx, *cfg, c, id);
    if (r.requester != c.user)
      throw api_error(errc::permission_denied, "only the requester may reset credentials");
    if (r.state != status::active) wrong_state(r, "ACTIVE");
    for (const auto& u : r.units) states.push_back(tx.get_unit_state(u.id));
  });
  // Rotate at the target first: if that fails the stored secret is still the valid one.
  for (std::size_t i = 0; i < r.units.size(); ++i) {
    // An ssh unit has no standing secret: each session gets its own short-lived certificate.
    const auto* integ = cfg->find_integration(r.units[i].integration);
    if (integ && integ->type == "ssh") continue;
    // Cloud units keep their names; the reset kills what was issued and the next access
    // gets fresh credentials.
    bool cloud = integ && (integ->type == "aws" || integ->type == "kubernetes");
    auto next = states[i];
    if (!cloud) next.secret = common::random_password();
    try {
      auto p = make_unit(*cfg, r, r.units[i], next);
      provisioner_for(*p.integration).reset(p);
    } catch (const provision_error& e) {
      throw api_error(errc::unavailable, "could not reset credentials: " + std::string(e.what()));
    }
    store_.transact([&](store_tx& tx) {
      auto cur = tx.get_unit_state(next.unit_id);
      cur.secret = next.secret;
      tx.put_unit_state(cur);
      record(tx, c.user, "credentials.reset", r, false,
             detail({{"unit", r.units[i].id}, {"login", json::value(next.login)}}));
    });
  }
  return access_details(c, id);
}

access_request service::request_again(const caller& c, std::int64_t id,
                                      const std::string& justification,
                                      std::optional<std::chrono::seconds> duration, bool dry_run) {
  auto old = get(c, id);
  if (old.requester != c.user)
    throw api_error(errc::permission_denied,
                    "only the requester may request the same access again");
  create_input in;
  in.bundle = old.bundle;
  if (old.bundle.empty()) {
    in.integration = old.integration;
    in.resource_type = old.resource_type;
    for (const auto& u : old.units) {
      if (std::find(in.resources.begin(), in.resources.end(), u.resource) == in.resources.end())
        in.resources.push_back(u.resource);
      if (std::find(in.permissions.begin(), in.permissions.end(), u.permission) ==
          in.permissions.end())
        in.permissions.push_back(u.permission);
    }
  }
  in.duration = duration ? duration : std::optional(old.duration);
  in.justification = trim(justification).empty() ? old.justification : justification;
  in.dry_run = dry_run;
  return create(c, in);
}

std::vector<status_event> service::events_after(const caller& c, std::int64_t after,
                                                std::int64_t& next_after) {
  auto cfg = config_.get();
  next_after = after;
  auto events = store_.audit_after(after, std::nullopt, true, 500);
  std::vector<status_event> out;
  std::map<std::int64_t, std::optional<access_request>> cache;
  for (const auto& ev : events) {
    next_after = ev.id;
    auto& r = cache[ev.request_id];
    if (!r) store_.read([&](store_tx& tx) { r = tx.get_request(ev.request_id); });
    if (!r || !can_see(*cfg, c, *r)) continue;
    out.push_back(
        {ev.id, ev.at, id_text(ev.request_id), ev.status, ev.action, r->ends_at, ev.actor});
  }
  return out;
}

std::int64_t service::feed_position() {
  return store_.last_audit_id();
}

std::vector<status_event> service::request_events(const caller& c, std::int64_t id) {
  auto cfg = config_.get();
  access_request r;
  store_.read([&](store_tx& tx) { r = load_visible(tx, *cfg, c, id); });
  std::vector<status_event> out;
  // A request has a handful of status changes; 1,000 is far past any real one's count.
  for (const auto& ev : store_.audit_after(0, id, true, 1000))
    out.push_back(
        {ev.id, ev.at, id_text(ev.request_id), ev.status, ev.action, r.ends_at, ev.actor});
  return out;
}

std::vector<audit_event> service::audit(const caller& c, std::int64_t after,
                                        std::optional<std::int64_t> request_id, std::size_t limit) {
  if (!c.admin) throw api_error(errc::permission_denied, "the audit trail is for admins");
  return store_.audit_after(after, request_id, false, std::clamp<std::size_t>(limit, 1, 1000));
}

void service::finish_if_revoked(store_tx& tx, access_request& r) {
  if (r.state != status::revoking) return;
  bool all_done = std::all_of(r.units.begin(), r.units.end(), [](const common::access_unit& u) {
    return common::is_final(u.state);
  });
  if (!all_done) return;
  r.state = final_status_for(r.end_reason);
  r.updated_at = clock_.now();
  tx.update_request(r);
  std::string action = "request.";
  for (char ch : common::to_string(r.state))
    action += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  record(tx, "system", action, r, true);
}

void service::grant_unit(std::int64_t unit_id) {
  auto cfg = config_.get();
  access_request r;
  unit_state s;
  common::access_unit unit;
  bool go = false;
  store_.transact([&](store_tx& tx) {
    go = false;
    auto* u = load_unit(tx, unit_id, status::granting, r);
    if (!u) return;
    unit = *u;
    s = tx.get_unit_state(unit_id);
    if (s.login.empty()) {
      const auto* integ = cfg->find_integration(unit.integration);
      const auto* perm = integ ? integ->find_permission(unit.permission) : nullptr;
      if (integ && integ->type == "ssh" && perm) {
        // The host account exists already; the credential is a certificate issued per session.
        s.login = perm->login;
      } else if (integ && integ->type == "aws") {
        // The role session name: CloudTrail shows it, and the deny at revoke matches on it.
        s.login = aws_provisioner::session_name(id_text(r.id), r.requester);
      } else if (integ && integ->type == "kubernetes") {
        // A service account of its own; tokens are issued on access, bound to it.
        s.login = kubernetes_provisioner::make_name(r.id);
      } else {
        s.login = make_login(r.id);
        s.secret = common::random_password();
      }
      tx.put_unit_state(s);  // persisted before the target sees it, so a crash can undo it
    }
    go = true;
  });
  if (!go) return;

  std::string error;
  try {
    auto p = make_unit(*cfg, r, unit, s);
    provisioner_for(*p.integration).grant(p);
  } catch (const std::exception& e) {
    error = e.what();
  }

  bool notify = false;
  store_.transact([&](store_tx& tx) {
    notify = false;
    // Revoked while we were granting: the unit is REVOKING now and its revoke runs next.
    auto* u = load_unit(tx, unit_id, status::granting, r);
    if (!u) return;
    auto st = tx.get_unit_state(unit_id);
    auto now = clock_.now();
    if (error.empty()) {
      ++metrics_.grants;
      u->state = status::active;
      u->last_error.clear();
      st.attempts = 0;
      st.last_error.clear();
      tx.put_unit_state(st);
      record(tx, "system", "unit.granted", r, false,
             detail({{"unit", unit_id},
                     {"resource", json::value(u->resource)},
                     {"permission", json::value(u->permission)},
                     {"login", json::value(st.login)}}));
      bool all_active =
          std::all_of(r.units.begin(), r.units.end(),
                      [](const common::access_unit& x) { return x.state == status::active; });
      if (all_active && r.state == status::granting) {
        // The grant clock starts now, not when it was asked for.
        r.state = status::active;
        r.active_from = now;
        r.ends_at = now + r.duration;
        r.updated_at = now;
        tx.update_request(r);
        record(tx, "system", "request.active", r, true,
               detail({{"ends_at", json::value(common::format_rfc3339(*r.ends_at))}}));
        notify = true;
        spdlog::info("{} ACTIVE until {}", id_text(r.id), common::format_rfc3339(*r.ends_at));
      } else {
        tx.update_request(r);
      }
      return;
    }
    ++metrics_.grant_failures;
    st.attempts += 1;
    st.last_error = error;
    st.next_attempt_at = now + backoff(std::chrono::milliseconds{1000}, st.attempts);
    u->last_error = error;
    tx.put_unit_state(st);
    spdlog::warn("{}: granting {} {} failed (attempt {}): {}", id_text(r.id), u->resource,
                 u->permission, st.attempts, error);
    record(tx, "system", "unit.grant_failed", r, false,
           detail({{"unit", unit_id}, {"attempt", st.attempts}, {"error", json::value(error)}}));
    if (st.attempts >= options_.max_grant_attempts) {
      // Give up: undo whatever was created, for this unit and its siblings.
      r.state = status::revoking;
      r.end_reason = "failed";
      r.reason = "granting " + u->integration + "/" + u->resource + " " + u->permission +
                 " failed: " + error;
      r.updated_at = now;
      start_revoking(tx, r, now);
      tx.update_request(r);
      record(tx, "system", "request.grant_abandoned", r, true,
             detail({{"reason", json::value(r.reason)}}));
      notify = true;
    } else {
      tx.update_request(r);
    }
  });
  if (notify) changed();
}

void service::revoke_unit(std::int64_t unit_id) {
  auto cfg = config_.get();
  access_request r;
  unit_state s;
  common::access_unit unit;
  bool go = false;
  store_.transact([&](store_tx& tx) {
    go = false;
    auto* u = load_unit(tx, unit_id, status::revoking, r);
    if (!u) return;
    unit = *u;
    s = tx.get_unit_state(unit_id);
    go = true;
  });
  if (!go) return;

  std::string error;
  if (!s.login.empty()) {  // never granted: nothing exists at the target
    spdlog::debug("{}: revoking {} {} at the target (login {})", id_text(r.id), unit.resource,
                  unit.permission, s.login);
    try {
      auto p = make_unit(*cfg, r, unit, s);
      provisioner_for(*p.integration).revoke(p);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }

  bool notify = false;
  store_.transact([&](store_tx& tx) {
    notify = false;
    auto* u = load_unit(tx, unit_id, status::revoking, r);
    if (!u) return;
    auto st = tx.get_unit_state(unit_id);
    if (error.empty()) {
      ++metrics_.revocations;
      u->state = final_status_for(r.end_reason);
      u->last_error.clear();
      st.secret.clear();  // the secret is worthless now; do not keep it at rest
      st.attempts = 0;
      st.last_error.clear();
      tx.put_unit_state(st);
      record(tx, "system", "unit.revoked", r, false,
             detail({{"unit", unit_id}, {"login", json::value(st.login)}}));
      tx.update_request(r);
      auto before = r.state;
      finish_if_revoked(tx, r);
      notify = before != r.state;
      if (notify) spdlog::info("{} {}", id_text(r.id), common::to_string(r.state));
      return;
    }
    ++metrics_.revoke_failures;
    st.attempts += 1;
    st.last_error = error;
    st.next_attempt_at = clock_.now() + backoff(std::chrono::milliseconds{500}, st.attempts);
    u->last_error = error;
    tx.put_unit_state(st);
    tx.update_request(r);
    // Loud on purpose: access that cannot be removed is the one failure an operator must see.
    spdlog::error("{}: REVOKE FAILED for {} {} login {} (attempt {}, retrying): {}", id_text(r.id),
                  u->resource, u->permission, st.login, st.attempts, error);
    record(tx, "system", "unit.revoke_failed", r, false,
           detail({{"unit", unit_id}, {"attempt", st.attempts}, {"error", json::value(error)}}));
  });
  if (notify) changed();
}

std::chrono::milliseconds service::backoff(std::chrono::milliseconds first, int attempts) const {
  // Doubling from `first` after each failure, capped so a healed target is noticed soon.
  return std::min<std::chrono::milliseconds>(first * (1 << std::clamp(attempts - 1, 0, 10)),
                                             options_.max_backoff);
}

void service::expire_request(std::int64_t request_id) {
  bool done = false;
  store_.transact([&](store_tx& tx) {
    done = false;
    // Locked by another replica's step (or an API call): it is theirs; what it leaves ACTIVE
    // and due is found again on the next pass.
    auto req = tx.try_lock_request(request_id);
    if (!req || req->state != status::active || !req->ends_at) return;
    auto now = clock_.now();
    if (*req->ends_at > now) return;
    auto r = *req;
    r.state = status::revoking;
    r.end_reason = "expired";
    r.updated_at = now;
    start_revoking(tx, r, now);
    tx.update_request(r);
    record(tx, "system", "request.expiring", r, true);
    done = true;
  });
  if (done) changed();
}

void service::fail_stale_request(std::int64_t request_id) {
  bool done = false;
  store_.transact([&](store_tx& tx) {
    done = false;
    auto req = tx.try_lock_request(request_id);
    if (!req || req->state != status::pending) return;
    auto now = clock_.now();
    if (req->created_at + options_.pending_ttl > now) return;
    auto r = *req;
    r.state = status::failed;
    r.end_reason = "failed";
    r.reason =
        "no approver decided within " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::hours>(options_.pending_ttl).count() / 24) +
        " days";
    r.updated_at = now;
    for (auto& u : r.units) u.state = status::failed;
    tx.update_request(r);
    record(tx, "system", "request.pending_timeout", r, true);
    done = true;
  });
  if (done) {
    spdlog::info("{} FAILED: pending too long", id_text(request_id));
    changed();
  }
}

}  // namespace apono::broker
