// Query API calls: build the form, sign exactly the headers http_client will send, and read the
// few XML elements each answer needs.
#include "broker/aws/aws_api.hpp"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "broker/aws/xml.hpp"
#include "common/http_client.hpp"

namespace apono::broker::aws {
namespace {

// IAM is global: its requests are signed for the partition's home region, whatever region the
// integration's users work in.
std::string iam_signing_region(const std::string& region) {
  if (region.starts_with("cn-")) return "cn-north-1";
  if (region.starts_with("us-gov-")) return "us-gov-west-1";
  return "us-east-1";
}

constexpr std::string_view form_type = "application/x-www-form-urlencoded; charset=utf-8";
constexpr std::string_view sts_version = "2011-06-15";
constexpr std::string_view iam_version = "2010-05-08";
constexpr std::size_t max_message = 512;

using params = std::vector<std::pair<std::string, std::string>>;

void replace_all(std::string& s, const std::string& what, std::string_view with) {
  if (what.empty()) return;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
}

// Text from the other side goes into errors that are logged: one line, bounded.
std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, max_message)) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? ' ' : c;
  }
  if (s.size() > max_message) out += "...";
  return out;
}

}  // namespace

struct aws_api::impl {
  impl(api_options o, const common::clock& c) : options(std::move(o)), clock(c) {}

  api_options options;
  const common::clock& clock;
  std::unique_ptr<common::http_client> sts;
  std::unique_ptr<common::http_client> iam;

  // A service may quote the request back (SignatureDoesNotMatch can carry the canonical
  // request, which holds the session token): nothing secret leaves in an error.
  [[nodiscard]] std::string redact(std::string s) const {
    replace_all(s, options.credentials.secret_access_key, "[redacted]");
    replace_all(s, options.credentials.session_token, "[redacted]");
    return s;
  }

  common::http_client& client(std::string_view service) {
    auto& slot = service == "sts" ? sts : iam;
    if (!slot) {
      common::http_client_options o;
      o.base_url = service == "sts" ? options.sts_endpoint : options.iam_endpoint;
      o.ca_file = options.ca_file;
      o.timeout = options.timeout;
      slot = std::make_unique<common::http_client>(std::move(o));
    }
    return *slot;
  }

  // Sends one call; returns the body of a 2xx answer and throws api_error for anything else.
  // `what` names the call in errors: "STS AssumeRole arn:aws:iam::...".
  std::string call(std::string_view service, const std::string& action, const params& extra,
                   const std::string& what) {
    params form{{"Action", action},
                {"Version", std::string(service == "sts" ? sts_version : iam_version)}};
    form.insert(form.end(), extra.begin(), extra.end());

    common::http_result result;
    try {
      auto& http = client(service);
      http_message m;
      m.method = "POST";
      const auto target = http.request_target("/");
      const auto q = target.find('?');
      m.path = target.substr(0, q);
      if (q != std::string::npos) m.query = target.substr(q + 1);
      m.body = form_encode(form);
      m.headers = {{"Content-Type", std::string(form_type)}, {"Host", http.host_header()}};
      sign(m, options.credentials,
           service == "iam" ? iam_signing_region(options.region) : options.region, service,
           clock.now());
      // http_client adds Host itself; everything else it sends is exactly what was signed.
      std::erase_if(m.headers, [](const auto& h) { return h.first == "Host"; });
      result = http.request("POST", "/", m.body, m.headers, options.timeout);
    } catch (const std::exception& e) {
      throw api_error(redact(what + ": " + e.what()), {}, 0);
    }
    if (result.status >= 200 && result.status < 300) return std::move(result.body);

    const auto code = xml_text(result.body, "Code");
    const auto message = xml_text(result.body, "Message");
    if (code && !code->empty())
      throw api_error(redact(what + ": " + one_line(*code) + ": " + one_line(message.value_or(""))),
                      *code, result.status);
    throw api_error(
        redact(what + ": HTTP " + std::to_string(result.status) + ": " + one_line(result.body)), {},
        result.status);
  }

  [[noreturn]] void malformed(const std::string& what, std::string_view missing) const {
    throw api_error(what + ": malformed response (no valid " + std::string(missing) + ")", {}, 200);
  }

  std::string require(std::string_view xml, std::string_view tag, const std::string& what) const {
    auto v = xml_text(xml, tag);
    if (!v || v->empty()) malformed(what, tag);
    return std::move(*v);
  }
};

aws_api::aws_api(api_options options, const common::clock& clock)
    : impl_(std::make_unique<impl>(std::move(options), clock)) {}

aws_api::~aws_api() = default;

assumed_role aws_api::assume_role(const std::string& role_arn, const std::string& session_name,
                                  std::chrono::seconds duration) {
  const std::string what = "STS AssumeRole " + role_arn;
  const auto body = impl_->call("sts", "AssumeRole",
                                {{"RoleArn", role_arn},
                                 {"RoleSessionName", session_name},
                                 {"DurationSeconds", std::to_string(duration.count())}},
                                what);
  const auto creds = xml_element(body, "Credentials");
  const auto user = xml_element(body, "AssumedRoleUser");
  if (!creds) impl_->malformed(what, "Credentials");
  if (!user) impl_->malformed(what, "AssumedRoleUser");
  assumed_role out;
  out.credentials.access_key_id = impl_->require(*creds, "AccessKeyId", what);
  out.credentials.secret_access_key = impl_->require(*creds, "SecretAccessKey", what);
  out.credentials.session_token = impl_->require(*creds, "SessionToken", what);
  const auto expiration = common::parse_rfc3339(impl_->require(*creds, "Expiration", what));
  if (!expiration) impl_->malformed(what, "Expiration");
  out.expiration = *expiration;
  out.arn = impl_->require(*user, "Arn", what);
  out.assumed_role_id = impl_->require(*user, "AssumedRoleId", what);
  return out;
}

caller_identity aws_api::get_caller_identity() {
  const std::string what = "STS GetCallerIdentity";
  const auto body = impl_->call("sts", "GetCallerIdentity", {}, what);
  const auto result = xml_element(body, "GetCallerIdentityResult");
  if (!result) impl_->malformed(what, "GetCallerIdentityResult");
  return {impl_->require(*result, "Account", what), impl_->require(*result, "Arn", what),
          impl_->require(*result, "UserId", what)};
}

std::optional<std::string> aws_api::get_role_policy(const std::string& role_name,
                                                    const std::string& policy_name) {
  const std::string what = "IAM GetRolePolicy " + role_name + "/" + policy_name;
  std::string body;
  try {
    body = impl_->call("iam", "GetRolePolicy",
                       {{"RoleName", role_name}, {"PolicyName", policy_name}}, what);
  } catch (const api_error& e) {
    if (e.code() == "NoSuchEntity") return std::nullopt;
    throw;
  }
  // IAM returns the document URL-encoded (RFC 3986) inside the XML text.
  const auto encoded = xml_text(body, "PolicyDocument");
  if (!encoded) impl_->malformed(what, "PolicyDocument");
  return percent_decode(*encoded);
}

void aws_api::put_role_policy(const std::string& role_name, const std::string& policy_name,
                              const std::string& document) {
  impl_->call("iam", "PutRolePolicy",
              {{"RoleName", role_name}, {"PolicyName", policy_name}, {"PolicyDocument", document}},
              "IAM PutRolePolicy " + role_name + "/" + policy_name);
}

}  // namespace apono::broker::aws
