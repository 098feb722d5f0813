// The STS/IAM stand-in: the broker's HTTPS server with one handler that authenticates like AWS
// (SigV4 over the signed headers, key lookup, token, clock skew, scope) before it looks at the
// action, so a client that signs wrongly is refused here as it would be by AWS.
#include "tests/support/cloud/aws_fixture.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "broker/aws/sigv4.hpp"
#include "broker/aws/xml.hpp"
#include "broker/http/server.hpp"
#include "broker/tls/certificates.hpp"
#include "common/secrets.hpp"
#include "tests/support/process.hpp"

namespace apono::test {
namespace {

namespace net = boost::asio;
namespace json = boost::json;
namespace aws = broker::aws;
namespace http = broker::http;
using namespace std::chrono_literals;

constexpr std::string_view sts_ns = "https://sts.amazonaws.com/doc/2011-06-15/";
constexpr std::string_view iam_ns = "https://iam.amazonaws.com/doc/2010-05-08/";
constexpr std::string_view sts_version = "2011-06-15";
constexpr std::string_view iam_version = "2010-05-08";
constexpr auto max_skew = 5min;
constexpr std::size_t max_policy_chars = 10240;
constexpr auto role_chaining_limit = 3600s;

struct role {
  std::string arn;
  std::string name;
  std::string id;  // AROA...
  bool trusted = true;
  std::chrono::seconds max_session{3600};
  std::map<std::string, std::string> policies;
};

// Temporary credentials handed out by AssumeRole.
struct issued {
  std::string secret;
  std::string token;
  std::string role_arn;
  std::string session;
  std::string assumed_arn;
  std::string assumed_id;  // ROLEID:SESSION, what aws:userid is for the session
  common::time_point issued_at;
  common::time_point expires_at;
};

// A refusal as AWS words it; `status` and `code` go into the call log as well.
struct aws_failure {
  int status;
  std::string code;
  std::string message;
};

std::string upper_alnum(std::size_t n) {
  auto s = common::random_password(n);
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string request_id() {
  const auto h = common::random_lower_alnum(32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::string seconds_rfc3339(common::time_point t) {
  return common::format_rfc3339(std::chrono::floor<std::chrono::seconds>(t)).substr(0, 19) + "Z";
}

const std::string* header(const http::request& req, std::string_view name) {
  for (const auto& [n, v] : req.headers)
    if (n == name) return &v;
  return nullptr;
}

std::string_view service_of(std::string_view action) {
  if (action == "AssumeRole" || action == "GetCallerIdentity") return "sts";
  if (action == "GetRolePolicy" || action == "PutRolePolicy") return "iam";
  return {};
}

bool glob(std::string_view pattern, std::string_view s) {
  if (pattern.empty()) return s.empty();
  if (pattern.front() == '*')
    return glob(pattern.substr(1), s) || (!s.empty() && glob(pattern, s.substr(1)));
  if (s.empty()) return false;
  return (pattern.front() == '?' || pattern.front() == s.front()) &&
         glob(pattern.substr(1), s.substr(1));
}

std::vector<std::string> strings_of(const json::value& v) {
  std::vector<std::string> out;
  if (v.is_string()) out.emplace_back(v.as_string());
  if (v.is_array())
    for (const auto& e : v.as_array())
      if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

// True when one statement denies this session the action. Only the condition operators and
// keys apono writes are understood; a statement with any other condition is taken not to apply.
bool statement_denies(const json::value& sv, const issued& who, std::string_view action) {
  const auto* s = sv.if_object();
  if (!s) return false;
  const auto* effect = s->if_contains("Effect");
  if (!effect || !effect->is_string() || effect->as_string() != "Deny") return false;
  const auto* actions = s->if_contains("Action");
  if (!actions) return false;
  const auto names = strings_of(*actions);
  if (std::none_of(names.begin(), names.end(),
                   [&](const std::string& a) { return glob(a, action); }))
    return false;
  const auto* condition = s->if_contains("Condition");
  if (!condition) return true;
  if (!condition->is_object()) return false;
  for (const auto& [op, keys] : condition->as_object()) {
    if (!keys.is_object()) return false;
    for (const auto& [key, values] : keys.as_object()) {
      const auto wanted = strings_of(values);
      if (op == "DateLessThan" && key == "aws:TokenIssueTime") {
        const bool any = std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
          const auto t = common::parse_rfc3339(w);
          return t && who.issued_at < *t;
        });
        if (!any) return false;
      } else if (op == "StringLike" && key == "aws:userid") {
        const bool any = std::any_of(wanted.begin(), wanted.end(),
                                     [&](const std::string& w) { return glob(w, who.assumed_id); });
        if (!any) return false;
      } else {
        return false;
      }
    }
  }
  return true;
}

bool valid_session_name(std::string_view s) {
  return s.size() >= 2 && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '=' ||
                  c == ',' || c == '.' || c == '@' || c == '-';
         });
}

std::size_t policy_size(std::string_view doc) {
  return static_cast<std::size_t>(std::count_if(
      doc.begin(), doc.end(), [](char c) { return !std::isspace(static_cast<unsigned char>(c)); }));
}

}  // namespace

struct aws_fixture::impl {
  explicit impl(aws_fixture_options o)
      : options(std::move(o)),
        dir("apono-aws-fixture"),
        tls(broker::ensure_tls(dir.path / "tls", {"127.0.0.1"})),
        server(ioc, {"127.0.0.1", 0, tls.server_cert, tls.server_key, 1024 * 1024},
               [this](http::request req) { return handle(this, std::move(req)); }),
        thread([this] { ioc.run(); }) {}

  ~impl() {
    server.stop();
    thread.join();
  }

  aws_fixture_options options;
  temp_dir dir;
  broker::tls_files tls;
  mutable std::mutex mu;
  std::map<std::string, role> roles;        // by ARN
  std::map<std::string, issued> temporary;  // by access key id
  std::vector<aws_call> log;
  const std::string user_id = "AIDA" + upper_alnum(17);
  net::io_context ioc;
  http::server server;
  std::thread thread;  // last: it starts once everything it uses exists

  static net::awaitable<http::response> handle(impl* self, http::request req) {
    co_return self->serve(req);
  }

  http::response serve(const http::request& req) {
    const auto now =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    std::lock_guard guard(mu);
    aws_call call;
    call.at = now;
    std::string service = "sts";
    http::response res;
    try {
      auto params = parse_params(req);
      call.action = param(params, "Action").value_or("");
      authenticate(req, now, call);
      service = call.service;
      res = dispatch(params, now, call);
      call.status = res.status;
    } catch (const aws_failure& f) {
      if (!call.service.empty()) service = call.service;
      res = error(service, f);
      call.status = f.status;
      call.error_code = f.code;
    }
    log.push_back(std::move(call));
    return res;
  }

  using param_list = std::vector<std::pair<std::string, std::string>>;

  static param_list parse_params(const http::request& req) {
    const auto q = req.target.find('?');
    auto params =
        q == std::string::npos ? param_list{} : aws::form_decode(req.target.substr(q + 1));
    const auto* type = header(req, "content-type");
    if (req.method == "POST" && type && type->rfind("application/x-www-form-urlencoded", 0) == 0) {
      auto body = aws::form_decode(req.body);
      params.insert(params.end(), body.begin(), body.end());
    }
    return params;
  }

  static std::optional<std::string> param(const param_list& params, std::string_view name) {
    for (const auto& [n, v] : params)
      if (n == name) return v;
    return std::nullopt;
  }

  // Checks the signature like AWS: returns the temporary credential used (null for the
  // long-term key) or throws the failure AWS would answer with.
  const issued* authenticate(const http::request& req, common::time_point now, aws_call& call) {
    const auto* auth_header = header(req, "authorization");
    if (!auth_header)
      throw aws_failure{403, "MissingAuthenticationToken",
                        "Request is missing Authentication Token"};
    const auto auth = aws::parse_authorization(*auth_header);
    if (!auth)
      throw aws_failure{400, "IncompleteSignature",
                        "Authorization header requires 'Credential', 'Signature' and "
                        "'SignedHeaders' parameters of the AWS4-HMAC-SHA256 form"};
    call.service = auth->scope.service;
    call.access_key_id = auth->access_key_id;

    std::string secret;
    const issued* temp = nullptr;
    if (auth->access_key_id == options.access_key_id) {
      secret = options.secret_access_key;
    } else if (auto it = temporary.find(auth->access_key_id); it != temporary.end()) {
      temp = &it->second;
      call.temporary = true;
      call.issued_by = temp->assumed_arn;
      const auto* token = header(req, "x-amz-security-token");
      if (!token || !common::constant_time_equal(*token, temp->token))
        throw aws_failure{403, "InvalidClientTokenId",
                          "The security token included in the request is invalid."};
      secret = temp->secret;
    } else {
      throw aws_failure{403, "InvalidClientTokenId",
                        "The security token included in the request is invalid."};
    }

    const auto* date = header(req, "x-amz-date");
    const auto when = date ? aws::parse_amz_date(*date) : std::nullopt;
    if (!when)
      throw aws_failure{400, "IncompleteSignature",
                        "Authorization header requires existence of either a 'X-Amz-Date' or a "
                        "'Date' header."};
    const auto signed_list = auth->signed_headers;
    if (std::find(signed_list.begin(), signed_list.end(), "host") == signed_list.end())
      throw aws_failure{403, "SignatureDoesNotMatch",
                        "'Host' must be a 'SignedHeader' in the "
                        "AWS Authorization."};
    if (*when < now - max_skew || *when > now + max_skew)
      throw aws_failure{403, "SignatureDoesNotMatch",
                        "Signature expired: " + *date + " is now earlier than " +
                            aws::amz_date(now - max_skew) + " (" + aws::amz_date(now) +
                            " - 5 min.)"};
    if (auth->scope.date != date->substr(0, 8))
      throw aws_failure{403, "SignatureDoesNotMatch",
                        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                        "of date from HTTP: '" +
                            auth->scope.date + "' != '" + date->substr(0, 8) + "'"};
    if (auth->scope.region != options.region)
      throw aws_failure{403, "SignatureDoesNotMatch",
                        "Credential should be scoped to a valid region."};
    const auto wanted_service = service_of(call.action);
    if (!wanted_service.empty() && auth->scope.service != wanted_service)
      throw aws_failure{
          403, "SignatureDoesNotMatch",
          "Credential should be scoped to correct service: '" + std::string(wanted_service) + "'."};

    aws::http_message received;
    received.method = req.method;
    const auto q = req.target.find('?');
    received.path = req.target.substr(0, q);
    if (q != std::string::npos) received.query = req.target.substr(q + 1);
    received.headers = req.headers;
    received.body = req.body;
    std::string expected;
    try {
      expected = aws::expected_signature(received, *auth, secret);
    } catch (const std::invalid_argument&) {
      expected.clear();
    }
    if (expected.empty() || !common::constant_time_equal(expected, auth->signature))
      throw aws_failure{403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method. Consult "
                        "the service documentation for details."};
    call.signature_valid = true;
    if (temp && temp->expires_at <= now)
      throw aws_failure{403, "ExpiredToken",
                        "The security token included in the request is "
                        "expired"};
    if (temp) deny_if_revoked(*temp, auth->scope.service + ":" + call.action);
    return temp;
  }

  // Real AWS never denies GetCallerIdentity, whatever the policies say.
  void deny_if_revoked(const issued& who, const std::string& action) {
    if (action == "sts:GetCallerIdentity") return;
    const auto it = roles.find(who.role_arn);
    if (it == roles.end())
      throw aws_failure{403, "AccessDenied",
                        "User: " + who.assumed_arn + " is not authorized to perform: " + action +
                            " because its role no longer exists"};
    for (const auto& [name, doc] : it->second.policies) {
      boost::system::error_code ec;
      const auto parsed = json::parse(doc, ec);
      if (ec || !parsed.is_object()) continue;
      const auto* statements = parsed.as_object().if_contains("Statement");
      if (!statements) continue;
      json::array list;
      if (statements->is_array()) {
        list = statements->as_array();
      } else {
        list.push_back(*statements);
      }
      for (const auto& s : list)
        if (statement_denies(s, who, action))
          throw aws_failure{403, "AccessDenied",
                            "User: " + who.assumed_arn + " is not authorized to perform: " +
                                action + " with an explicit deny in an identity-based policy"};
    }
  }

  http::response dispatch(const param_list& params, common::time_point now, aws_call& call) {
    const auto version = param(params, "Version").value_or("");
    const auto service = service_of(call.action);
    if (service.empty() || service != call.service ||
        version != (service == "sts" ? sts_version : iam_version))
      throw aws_failure{400, "InvalidAction",
                        "Could not find operation " + call.action + " for version " + version};
    if (call.action == "AssumeRole") return assume_role(params, now, call);
    if (call.action == "GetCallerIdentity") return caller_identity(call);
    if (call.action == "GetRolePolicy") return get_role_policy(params, call);
    return put_role_policy(params, call);
  }

  static std::string required(const param_list& params, const std::string& name,
                              std::string_view member) {
    auto v = param(params, name);
    if (!v)
      throw aws_failure{400, "ValidationError",
                        "1 validation error detected: Value null at '" + std::string(member) +
                            "' failed to satisfy constraint: Member must not be null"};
    return *v;
  }

  std::string caller_arn(const aws_call& call) const {
    if (call.temporary) return call.issued_by;
    return "arn:aws:iam::" + options.account_id + ":user/apono-broker";
  }

  http::response assume_role(const param_list& params, common::time_point now, aws_call& call) {
    call.role_arn = required(params, "RoleArn", "roleArn");
    call.session_name = required(params, "RoleSessionName", "roleSessionName");
    const auto duration_text = param(params, "DurationSeconds").value_or("3600");
    if (!valid_session_name(call.session_name))
      throw aws_failure{400, "ValidationError",
                        "1 validation error detected: Value '" + call.session_name +
                            "' at 'roleSessionName' failed to satisfy constraint: Member must "
                            "satisfy regular expression pattern: [\\w+=,.@-]* and have length "
                            "between 2 and 64"};
    int duration = 0;
    if (duration_text.empty() || duration_text.size() > 6 ||
        !std::all_of(duration_text.begin(), duration_text.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      throw aws_failure{400, "ValidationError",
                        "Value '" + duration_text + "' for DurationSeconds is not an integer"};
    duration = std::stoi(duration_text);
    call.duration_seconds = duration;
    if (duration < 900 || duration > 43200)
      throw aws_failure{400, "ValidationError",
                        "1 validation error detected: Value '" + duration_text +
                            "' at 'durationSeconds' failed to satisfy constraint: Member must "
                            "have value between 900 and 43200"};
    const auto it = roles.find(call.role_arn);
    if (it == roles.end() || !it->second.trusted)
      throw aws_failure{
          403, "AccessDenied",
          "User: " + caller_arn(call) +
              " is not authorized to perform: sts:AssumeRole on resource: " + call.role_arn};
    const auto& r = it->second;
    if (std::chrono::seconds{duration} > r.max_session)
      throw aws_failure{400, "ValidationError",
                        "The requested DurationSeconds exceeds the MaxSessionDuration set for "
                        "this role."};
    if (call.temporary && std::chrono::seconds{duration} > role_chaining_limit)
      throw aws_failure{400, "ValidationError",
                        "The requested DurationSeconds exceeds the 1 hour session limit for "
                        "roles assumed by role chaining."};

    issued cred;
    cred.secret = common::random_password(40);
    cred.token = "IQoJb3JpZ2luX2VjE" + common::random_password(300) + "/+==";
    cred.role_arn = r.arn;
    cred.session = call.session_name;
    cred.assumed_arn =
        "arn:aws:sts::" + options.account_id + ":assumed-role/" + r.name + "/" + cred.session;
    cred.assumed_id = r.id + ":" + cred.session;
    cred.issued_at = now;
    cred.expires_at = now + std::chrono::seconds{duration};
    const auto key = "ASIA" + upper_alnum(16);
    call.issued_key_id = key;

    std::string body = "<AssumeRoleResponse xmlns=\"" + std::string(sts_ns) + "\">\n";
    body += "  <AssumeRoleResult>\n    <AssumedRoleUser>\n";
    body += "      <AssumedRoleId>" + aws::xml_escape(cred.assumed_id) + "</AssumedRoleId>\n";
    body += "      <Arn>" + aws::xml_escape(cred.assumed_arn) + "</Arn>\n";
    body += "    </AssumedRoleUser>\n    <Credentials>\n";
    body += "      <AccessKeyId>" + key + "</AccessKeyId>\n";
    body += "      <SecretAccessKey>" + aws::xml_escape(cred.secret) + "</SecretAccessKey>\n";
    body += "      <SessionToken>" + aws::xml_escape(cred.token) + "</SessionToken>\n";
    body += "      <Expiration>" + seconds_rfc3339(cred.expires_at) + "</Expiration>\n";
    body += "    </Credentials>\n  </AssumeRoleResult>\n";
    body += metadata() + "</AssumeRoleResponse>\n";
    temporary.emplace(key, std::move(cred));
    return ok(body);
  }

  http::response caller_identity(const aws_call& call) const {
    std::string arn = caller_arn(call);
    std::string id = user_id;
    if (call.temporary) id = temporary.at(call.access_key_id).assumed_id;
    std::string body = "<GetCallerIdentityResponse xmlns=\"" + std::string(sts_ns) + "\">\n";
    body += "  <GetCallerIdentityResult>\n";
    body += "    <Arn>" + aws::xml_escape(arn) + "</Arn>\n";
    body += "    <UserId>" + aws::xml_escape(id) + "</UserId>\n";
    body += "    <Account>" + options.account_id + "</Account>\n";
    body += "  </GetCallerIdentityResult>\n";
    body += metadata() + "</GetCallerIdentityResponse>\n";
    return ok(body);
  }

  role& role_named(const std::string& name) {
    for (auto& [arn, r] : roles)
      if (r.name == name) return r;
    throw aws_failure{404, "NoSuchEntity", "The role with name " + name + " cannot be found."};
  }

  http::response get_role_policy(const param_list& params, aws_call& call) {
    call.role_name = required(params, "RoleName", "roleName");
    call.policy_name = required(params, "PolicyName", "policyName");
    auto& r = role_named(call.role_name);
    const auto it = r.policies.find(call.policy_name);
    if (it == r.policies.end())
      throw aws_failure{404, "NoSuchEntity",
                        "The role policy with name " + call.policy_name + " cannot be found."};
    std::string body = "<GetRolePolicyResponse xmlns=\"" + std::string(iam_ns) + "\">\n";
    body += "  <GetRolePolicyResult>\n";
    body += "    <PolicyName>" + aws::xml_escape(call.policy_name) + "</PolicyName>\n";
    body += "    <RoleName>" + aws::xml_escape(r.name) + "</RoleName>\n";
    body += "    <PolicyDocument>" + aws::xml_escape(aws::uri_encode(it->second)) +
            "</PolicyDocument>\n";
    body += "  </GetRolePolicyResult>\n";
    body += metadata() + "</GetRolePolicyResponse>\n";
    return ok(body);
  }

  http::response put_role_policy(const param_list& params, aws_call& call) {
    call.role_name = required(params, "RoleName", "roleName");
    call.policy_name = required(params, "PolicyName", "policyName");
    const auto document = required(params, "PolicyDocument", "policyDocument");
    auto& r = role_named(call.role_name);
    boost::system::error_code ec;
    const auto parsed = json::parse(document, ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("Statement"))
      throw aws_failure{400, "MalformedPolicyDocument", "Syntax errors in policy."};
    std::size_t total = policy_size(document);
    for (const auto& [name, doc] : r.policies)
      if (name != call.policy_name) total += policy_size(doc);
    if (total > max_policy_chars)
      throw aws_failure{409, "LimitExceeded",
                        "Maximum policy size of 10240 bytes exceeded for "
                        "role " +
                            r.name};
    r.policies[call.policy_name] = document;
    std::string body = "<PutRolePolicyResponse xmlns=\"" + std::string(iam_ns) + "\">\n";
    body += metadata() + "</PutRolePolicyResponse>\n";
    return ok(body);
  }

  static std::string metadata() {
    return "  <ResponseMetadata>\n    <RequestId>" + request_id() +
           "</RequestId>\n  </ResponseMetadata>\n";
  }

  static http::response ok(std::string body) {
    http::response res;
    res.status = 200;
    res.content_type = "text/xml";
    res.body = std::move(body);
    res.headers.emplace_back("x-amzn-RequestId", request_id());
    return res;
  }

  static http::response error(std::string_view service, const aws_failure& f) {
    http::response res;
    res.status = f.status;
    res.content_type = "text/xml";
    res.body = "<ErrorResponse xmlns=\"" + std::string(service == "iam" ? iam_ns : sts_ns) +
               "\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>" + aws::xml_escape(f.code) +
               "</Code>\n    <Message>" + aws::xml_escape(f.message) +
               "</Message>\n  </Error>\n  <RequestId>" + request_id() +
               "</RequestId>\n</ErrorResponse>\n";
    res.headers.emplace_back("x-amzn-RequestId", request_id());
    return res;
  }
};

aws_fixture::aws_fixture(aws_fixture_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

aws_fixture::~aws_fixture() = default;

std::string aws_fixture::url() const {
  return "https://127.0.0.1:" + std::to_string(impl_->server.port());
}

std::filesystem::path aws_fixture::ca_file() const {
  return impl_->tls.ca_cert;
}

const aws_fixture_options& aws_fixture::options() const {
  return impl_->options;
}

void aws_fixture::add_role(const std::string& arn, bool trusted, std::chrono::seconds max_session) {
  const std::string prefix = "arn:aws:iam::" + impl_->options.account_id + ":role/";
  if (arn.rfind(prefix, 0) != 0)
    throw std::invalid_argument("aws_fixture: " + arn + " is not a role of account " +
                                impl_->options.account_id);
  role r;
  r.arn = arn;
  r.name = arn.substr(arn.rfind('/') + 1);
  r.id = "AROA" + upper_alnum(17);
  r.trusted = trusted;
  r.max_session = max_session;
  std::lock_guard guard(impl_->mu);
  impl_->roles[arn] = std::move(r);
}

void aws_fixture::remove_role(const std::string& arn) {
  std::lock_guard guard(impl_->mu);
  impl_->roles.erase(arn);
}

std::optional<std::string> aws_fixture::role_policy(const std::string& role_name,
                                                    const std::string& policy_name) const {
  std::lock_guard guard(impl_->mu);
  for (const auto& [arn, r] : impl_->roles) {
    if (r.name != role_name) continue;
    const auto it = r.policies.find(policy_name);
    if (it != r.policies.end()) return it->second;
  }
  return std::nullopt;
}

void aws_fixture::set_role_policy(const std::string& role_name, const std::string& policy_name,
                                  const std::string& document) {
  std::lock_guard guard(impl_->mu);
  for (auto& [arn, r] : impl_->roles) {
    if (r.name != role_name) continue;
    r.policies[policy_name] = document;
    return;
  }
  throw std::invalid_argument("aws_fixture: no role named " + role_name);
}

std::vector<aws_call> aws_fixture::calls() const {
  std::lock_guard guard(impl_->mu);
  return impl_->log;
}

std::vector<aws_call> aws_fixture::calls(const std::string& action) const {
  std::vector<aws_call> out;
  for (auto& c : calls())
    if (c.action == action) out.push_back(std::move(c));
  return out;
}

}  // namespace apono::test
