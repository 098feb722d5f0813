// The aws provisioner. Nothing is created per grant: the role exists and trusts the broker, so
// a grant only proves the broker can assume it, each access assumes it once more for the user,
// and revocation writes a deny on the role that outlives the credentials it kills.
#include "broker/provision/aws_provisioner.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "broker/aws/aws_api.hpp"

namespace apono::broker {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// STS's bounds on DurationSeconds; a role's MaxSessionDuration lies between them.
constexpr std::chrono::seconds min_session{900};
constexpr std::chrono::seconds max_session_limit{43200};
// No credential issued before now minus this can still be valid (12 h is STS's longest
// session); the margin covers clock skew between the broker and AWS.
constexpr auto revocation_lifetime = 12h + 5min;
constexpr std::size_t max_session_name = 64;
constexpr std::string_view sid_prefix = "Apono";
constexpr std::string_view token_issue_time = "aws:TokenIssueTime";
constexpr std::string_view user_id = "aws:userid";

bool session_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '=' || c == ',' ||
         c == '.' || c == '@' || c == '-';
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// IAM names: letters, digits and + = , . @ _ -.
bool iam_name(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || session_char(c);
  });
}

// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME` -> NAME, or nullopt when `arn` is not one.
std::optional<std::string> role_name_of(std::string_view arn) {
  for (std::string_view partition : {"arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"}) {
    if (arn.substr(0, partition.size()) != partition) continue;
    auto rest = arn.substr(partition.size());
    if (rest.size() < 13 || !all_digits(rest.substr(0, 12)) || rest[12] != ':') return std::nullopt;
    rest.remove_prefix(13);
    if (rest.substr(0, 5) != "role/") return std::nullopt;
    rest.remove_prefix(5);
    const auto slash = rest.rfind('/');
    const auto name = slash == std::string_view::npos ? rest : rest.substr(slash + 1);
    if (slash != std::string_view::npos) {
      for (std::string_view path = rest.substr(0, slash); !path.empty();) {
        const auto next = path.find('/');
        if (!iam_name(path.substr(0, next), 512)) return std::nullopt;
        path = next == std::string_view::npos ? std::string_view{} : path.substr(next + 1);
      }
    }
    if (!iam_name(name, 64)) return std::nullopt;
    return std::string(name);
  }
  return std::nullopt;
}

std::string substitute_account(std::string arn, std::string_view account) {
  static constexpr std::string_view placeholder = "{account}";
  for (auto pos = arn.find(placeholder); pos != std::string::npos;
       pos = arn.find(placeholder, pos + account.size()))
    arn.replace(pos, placeholder.size(), account);
  return arn;
}

bool valid_session_name(std::string_view s) {
  return s.size() >= 2 && s.size() <= max_session_name &&
         std::all_of(s.begin(), s.end(), session_char);
}

bool endpoint_url(std::string_view s) {
  return s.substr(0, 8) == "https://" || s.substr(0, 7) == "http://";
}

// The session name the unit's credentials carry, and so what its deny statement matches.
std::string unit_session(const provision_unit& u) {
  if (u.login.empty()) return aws_provisioner::session_name(u.request_id, u.requester);
  if (!valid_session_name(u.login))
    throw provision_error("'" + u.login + "' is not a valid AWS role session name");
  return u.login;
}

aws::api_options api_options_for(const integration_config& i) {
  aws::api_options o;
  o.sts_endpoint = i.endpoint;
  o.iam_endpoint = i.iam_endpoint;
  o.region = i.region;
  o.ca_file = i.ca_file;
  o.credentials = {i.access_key_id, i.secret_access_key, i.session_token};
  return o;
}

const permission_config& permission_of(const provision_unit& u) {
  const auto* p = u.integration->find_permission(u.permission);
  if (!p)
    throw provision_error("permission '" + u.permission + "' is not configured in " +
                          u.integration->id);
  return *p;
}

// IAM accepts a policy's dates in RFC 3339 to the second.
std::string rfc3339_seconds(common::time_point t) {
  return common::format_rfc3339(std::chrono::floor<std::chrono::seconds>(t)).substr(0, 19) + "Z";
}

// An apono revocation statement: our Sid prefix, a Deny, and a parseable TokenIssueTime.
// Anything else in the document belongs to someone else and is left exactly as found.
std::optional<common::time_point> revocation_time(const json::value& statement) {
  const auto* s = statement.if_object();
  if (!s) return std::nullopt;
  const auto* sid = s->if_contains("Sid");
  const auto* effect = s->if_contains("Effect");
  const auto* condition = s->if_contains("Condition");
  if (!sid || !sid->is_string() || !sid->as_string().starts_with(sid_prefix)) return std::nullopt;
  if (!effect || !effect->is_string() || effect->as_string() != "Deny") return std::nullopt;
  if (!condition || !condition->is_object()) return std::nullopt;
  const auto* before = condition->as_object().if_contains("DateLessThan");
  if (!before || !before->is_object()) return std::nullopt;
  const auto* when = before->as_object().if_contains(token_issue_time);
  if (!when || !when->is_string()) return std::nullopt;
  return common::parse_rfc3339(when->as_string());
}

// The aws:userid patterns of a statement's StringLike, a string or a list.
std::vector<std::string> user_patterns(const json::object& statement) {
  std::vector<std::string> out;
  const auto* condition = statement.if_contains("Condition");
  const auto* like = condition && condition->is_object()
                         ? condition->as_object().if_contains("StringLike")
                         : nullptr;
  const auto* ids = like && like->is_object() ? like->as_object().if_contains(user_id) : nullptr;
  if (!ids) return out;
  if (ids->is_string()) out.emplace_back(ids->as_string());
  if (ids->is_array())
    for (const auto& v : ids->as_array())
      if (v.is_string()) out.emplace_back(v.as_string());
  return out;
}

json::object revocation_statement(const std::string& sid, const std::vector<std::string>& patterns,
                                  common::time_point before) {
  json::value ids;
  if (patterns.size() == 1) {
    ids = json::string(patterns.front());
  } else {
    json::array list;
    for (const auto& p : patterns) list.emplace_back(json::string(p));
    ids = std::move(list);
  }
  return json::object{
      {"Sid", sid},
      {"Effect", "Deny"},
      {"Action", "*"},
      {"Resource", "*"},
      {"Condition",
       json::object{
           {"DateLessThan", json::object{{token_issue_time, rfc3339_seconds(before)}}},
           {"StringLike", json::object{{user_id, std::move(ids)}}},
       }},
  };
}

}  // namespace

aws_provisioner::aws_provisioner(const common::clock& clock) : clock_(clock) {}

aws_provisioner::~aws_provisioner() = default;

std::string aws_provisioner::session_name(std::string_view request_id, std::string_view requester) {
  std::string out = "apono-";
  out.append(request_id).append("-").append(requester);
  for (auto& c : out)
    if (!session_char(c)) c = '-';
  if (out.size() > max_session_name) out.resize(max_session_name);
  return out;
}

std::string aws_provisioner::role_arn(const provision_unit& u) {
  const auto& permission = permission_of(u);
  if (!u.integration->find_resource(u.resource))
    throw provision_error("account '" + u.resource + "' is not configured in " + u.integration->id);
  if (permission.role_arn.empty())
    throw provision_error("permission '" + u.permission + "' of " + u.integration->id +
                          " has no role_arn");
  auto arn = substitute_account(permission.role_arn, u.resource);
  if (!role_name_of(arn))
    throw provision_error("permission '" + u.permission + "' of " + u.integration->id + ": '" +
                          arn + "' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
  return arn;
}

void aws_provisioner::check(const integration_config& integration) {
  const auto& id = integration.id;
  if (!endpoint_url(integration.endpoint))
    throw provision_error(id + ": endpoint must be an https:// URL of STS");
  if (!endpoint_url(integration.iam_endpoint))
    throw provision_error(id + ": iam_endpoint must be an https:// URL of IAM");
  if (integration.region.empty()) throw provision_error(id + ": region is not set");
  if (integration.access_key_id.empty() || integration.secret_access_key.empty())
    throw provision_error(id + ": the broker's access key id and secret access key are not set");
  for (const auto& r : integration.resources)
    if (r.name.size() != 12 || !all_digits(r.name))
      throw provision_error(id + ": account '" + r.name + "' is not a 12-digit account id");
  for (const auto& p : integration.permissions) {
    if (p.role_arn.empty())
      throw provision_error(id + ": permission '" + p.name + "' has no role_arn");
    if (p.max_session < min_session || p.max_session > max_session_limit)
      throw provision_error(id + ": permission '" + p.name +
                            "': max_session must be between 900 and 43200 seconds");
    // A template is checked with every account it can be filled with (or a stand-in).
    std::vector<std::string> accounts;
    if (p.role_arn.find("{account}") != std::string::npos) {
      for (const auto& r : integration.resources) accounts.push_back(r.name);
      if (accounts.empty()) accounts.emplace_back("000000000000");
    } else {
      accounts.emplace_back();
    }
    for (const auto& account : accounts) {
      const auto arn = substitute_account(p.role_arn, account);
      if (!role_name_of(arn))
        throw provision_error(id + ": permission '" + p.name + "': '" + arn +
                              "' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
    }
  }
}

void aws_provisioner::grant(const provision_unit& u) {
  const auto arn = role_arn(u);
  const auto session = unit_session(u);
  aws::aws_api api(api_options_for(*u.integration), clock_);
  // The credentials are dropped here: this call only proves the trust policy lets us in.
  (void)api.assume_role(arn, session, min_session);
  spdlog::info("aws: {} may assume {} (session {})", u.request_id, arn, session);
}

issued_credentials aws_provisioner::issue(const provision_unit& u, common::time_point until) {
  const auto arn = role_arn(u);
  const auto session = unit_session(u);
  const auto& permission = permission_of(u);
  const auto now = clock_.now();
  if (until <= now) throw provision_error("the grant of " + u.request_id + " has ended");
  if (permission.max_session < min_session)
    throw provision_error("permission '" + u.permission + "' has a max_session below 900 s");
  // No longer than the grant has left, but STS refuses less than 900 s: a grant ending sooner
  // gets credentials that outlive it by the difference, and revoke() at the end cuts those.
  const auto left = std::chrono::ceil<std::chrono::seconds>(until - now);
  const auto duration = std::min(std::max(left, min_session), permission.max_session);

  aws::aws_api api(api_options_for(*u.integration), clock_);
  auto role = api.assume_role(arn, session, duration);
  spdlog::info("aws: issued {} s credentials for {} as {}", duration.count(), u.request_id,
               role.arn);
  issued_credentials out;
  out.key_id = std::move(role.credentials.access_key_id);
  out.secret = std::move(role.credentials.secret_access_key);
  out.session_token = std::move(role.credentials.session_token);
  out.expires_at = role.expiration;
  out.identity = std::move(role.arn);
  return out;
}

void aws_provisioner::revoke(const provision_unit& u) {
  deny_sessions_before_now(u, "revoked");
}

void aws_provisioner::reset(const provision_unit& u) {
  const auto before = deny_sessions_before_now(u, "reset");
  // The deny covers the whole current second; credentials issued later in it would be born
  // denied, so the next access must not come before the second is over.
  const auto wait = before - clock_.now();
  if (wait > std::chrono::milliseconds::zero() && wait <= 1s) std::this_thread::sleep_for(wait);
}

std::shared_ptr<std::mutex> aws_provisioner::role_lock(const std::string& arn) {
  std::lock_guard guard(locks_mu_);
  auto& lock = role_locks_[arn];
  if (!lock) lock = std::make_shared<std::mutex>();
  return lock;
}

// What the IAM console's "Revoke active sessions" does (deny everything to tokens issued before
// now), narrowed by aws:userid (`ROLEID:session` for an assumed role) to this grant's session,
// so one user's revoke leaves other grants of the same role alone. The policy is read, changed
// and written back; IAM has no conditional write, so the per-role lock keeps this process's
// workers from losing each other's statements (brokers sharing a role across processes can
// still race; a retried revoke rewrites its statement). Retrying is safe: the statement is
// replaced with a later time, which denies a superset. Statements past every credential's
// lifetime are dropped, which keeps the policy under IAM's 10,240-character limit in steady
// use; past that limit PutRolePolicy fails and the unit stays REVOKING, loudly.
common::time_point aws_provisioner::deny_sessions_before_now(const provision_unit& u,
                                                             const char* why) {
  const auto arn = role_arn(u);
  const auto role = *role_name_of(arn);
  const auto session = unit_session(u);
  std::string sid(sid_prefix);
  for (char c : u.request_id.empty() ? session : u.request_id)
    if (std::isalnum(static_cast<unsigned char>(c))) sid += c;

  const auto lock = role_lock(arn);
  std::lock_guard guard(*lock);
  aws::aws_api api(api_options_for(*u.integration), clock_);
  const auto current = api.get_role_policy(role, std::string(revoked_policy_name));

  json::object doc;
  if (current) {
    boost::system::error_code ec;
    auto parsed = json::parse(*current, ec);
    // Not ours to repair: overwriting it could drop someone's deny.
    if (ec || !parsed.is_object())
      throw provision_error("IAM policy " + role + "/" + std::string(revoked_policy_name) +
                            " is not a JSON object; fix or delete it");
    doc = std::move(parsed.as_object());
  }
  if (!doc.contains("Version")) doc["Version"] = "2012-10-17";
  json::array statements;
  if (auto* existing = doc.if_contains("Statement")) {
    if (existing->is_array()) {
      statements = std::move(existing->as_array());
    } else if (existing->is_object()) {
      statements.push_back(std::move(*existing));
    } else {
      throw provision_error("IAM policy " + role + "/" + std::string(revoked_policy_name) +
                            " has a Statement that is neither a list nor an object");
    }
  }

  // Rounded up: every credential issued up to this instant, in the same second too, is covered.
  const auto now = clock_.now();
  const auto before = std::chrono::ceil<std::chrono::seconds>(now);
  const auto expired = now - revocation_lifetime;
  const std::string pattern = "*:" + session;

  json::array kept;
  std::vector<std::string> patterns;
  std::optional<std::size_t> ours;  // where this grant's statement goes
  for (auto& s : statements) {
    const auto when = revocation_time(s);
    if (when && s.as_object().at("Sid").as_string() == sid) {
      // Another unit of the same request on the same role shares the Sid: keep its sessions
      // denied too, from the later time.
      patterns = user_patterns(s.as_object());
      ours = kept.size();
      kept.emplace_back(nullptr);
      continue;
    }
    if (when && *when < expired) continue;
    kept.push_back(std::move(s));
  }
  if (std::find(patterns.begin(), patterns.end(), pattern) == patterns.end())
    patterns.push_back(pattern);
  auto statement = revocation_statement(sid, patterns, before);
  if (ours) {
    kept[*ours] = std::move(statement);
  } else {
    kept.emplace_back(std::move(statement));
  }
  doc["Statement"] = std::move(kept);

  try {
    api.put_role_policy(role, std::string(revoked_policy_name), json::serialize(doc));
  } catch (const aws::api_error& e) {
    // A deleted role's sessions are dead already (a role re-created under the name has a new
    // role id), so there is nothing left to revoke.
    if (e.code() != "NoSuchEntity") throw;
    spdlog::warn("aws: {} ({}): role {} no longer exists; nothing to revoke", u.request_id, why,
                 arn);
    return before;
  }
  spdlog::info("aws: {} ({}): denied sessions '{}' of {} issued before {}", u.request_id, why,
               session, arn, rfc3339_seconds(before));
  return before;
}

}  // namespace apono::broker
