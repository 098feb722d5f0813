// The AWS provisioner against the local STS/IAM fixture: grant proves the role, issue asks for
// no longer than the grant has left, revoke and reset write deny statements that the fixture
// then enforces, concurrent revokes keep every statement, secrets stay out of errors and logs.
// Also checks the fixture itself: it refuses bad signatures, and it accepts the real aws CLI,
// so its verification matches botocore's signing and not only ours.
#include "broker/provision/aws_provisioner.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/aws/aws_api.hpp"
#include "broker/aws/sigv4.hpp"
#include "common/http_client.hpp"
#include "common/time.hpp"
#include "tests/support/cloud/aws_fixture.hpp"
#include "tests/support/process.hpp"

namespace {

namespace aws = apono::broker::aws;
namespace json = boost::json;
using apono::broker::aws_provisioner;
using apono::broker::integration_config;
using apono::broker::issued_credentials;
using apono::broker::permission_config;
using apono::broker::provision_error;
using apono::broker::provision_unit;
using apono::common::time_point;
using apono::test::aws_fixture;
using namespace std::chrono_literals;

const std::string account = "123456789012";
const std::string admin_role = "arn:aws:iam::123456789012:role/apono-admin";
const std::string readonly_role = "arn:aws:iam::123456789012:role/apono-readonly";
const std::string untrusted_role = "arn:aws:iam::123456789012:role/not-trusted";
const std::string policy_name = std::string(aws_provisioner::revoked_policy_name);

permission_config permission(const std::string& name, const std::string& arn,
                             std::chrono::seconds max_session = 3600s) {
  permission_config p;
  p.name = name;
  p.role_arn = arn;
  p.max_session = max_session;
  return p;
}

struct env {
  aws_fixture fx;
  apono::common::system_clock clock;
  integration_config integration;
  aws_provisioner provisioner{clock};

  env() {
    fx.add_role(admin_role, true, 3600s);
    fx.add_role(readonly_role, true, 7200s);
    fx.add_role(untrusted_role, false);
    integration.id = "aws-local";
    integration.name = "local AWS";
    integration.type = "aws";
    integration.resource_type = "account";
    integration.endpoint = fx.url();
    integration.iam_endpoint = fx.url();
    integration.region = "us-east-1";
    integration.ca_file = fx.ca_file();
    integration.access_key_id = fx.options().access_key_id;
    integration.secret_access_key = fx.options().secret_access_key;
    integration.resources = {{account}};
    integration.permissions = {
        permission("admin", "arn:aws:iam::{account}:role/apono-admin", 3600s),
        permission("readonly", readonly_role, 7200s),
        permission("untrusted", "arn:aws:iam::{account}:role/not-trusted"),
        permission("gone", "arn:aws:iam::123456789012:role/nobody"),
    };
  }

  [[nodiscard]] provision_unit unit(const std::string& request_id, const std::string& requester,
                                    const std::string& perm = "admin") const {
    provision_unit u;
    u.integration = &integration;
    u.request_id = request_id;
    u.requester = requester;
    u.resource = account;
    u.permission = perm;
    u.login = aws_provisioner::session_name(request_id, requester);
    return u;
  }

  [[nodiscard]] time_point now() const { return clock.now(); }

  // A client of the fixture signing as `creds` (the broker's own keys by default).
  [[nodiscard]] std::unique_ptr<aws::aws_api> api(const aws::credentials& creds) const {
    aws::api_options o;
    o.sts_endpoint = fx.url();
    o.iam_endpoint = fx.url();
    o.region = "us-east-1";
    o.ca_file = fx.ca_file();
    o.credentials = creds;
    return std::make_unique<aws::aws_api>(o, clock);
  }
  [[nodiscard]] std::unique_ptr<aws::aws_api> broker_api() const {
    return api({fx.options().access_key_id, fx.options().secret_access_key});
  }

  [[nodiscard]] json::object policy(const std::string& role_name = "apono-admin") const {
    const auto doc = fx.role_policy(role_name, policy_name);
    REQUIRE(doc);
    return json::parse(*doc).as_object();
  }
};

aws::credentials as_credentials(const issued_credentials& c) {
  return {c.key_id, c.secret, c.session_token};
}

const json::object* statement_with_sid(const json::object& policy, const std::string& sid) {
  for (const auto& s : policy.at("Statement").as_array())
    if (s.is_object() && s.as_object().contains("Sid") && s.at("Sid").as_string() == sid)
      return &s.as_object();
  return nullptr;
}

std::string token_issue_time(const json::object& statement) {
  return std::string(
      statement.at("Condition").at("DateLessThan").at("aws:TokenIssueTime").as_string());
}

// Calls an IAM action with temporary credentials: the fixture applies deny statements to every
// action but GetCallerIdentity, so this is how a test sees whether a credential was revoked.
bool iam_call_allowed(const env& e, const issued_credentials& c) {
  try {
    (void)e.api(as_credentials(c))->get_role_policy("apono-readonly", "anything");
    return true;
  } catch (const aws::api_error& err) {
    if (err.code() == "AccessDenied") return false;
    throw;
  }
}

// One raw request to the fixture, signed with `creds` at `when`, after `tamper` has had a go
// at the signed message.
apono::common::http_result raw_call(const env& e, const aws::credentials& creds,
                                    const std::string& service, const std::string& body,
                                    time_point when,
                                    const std::function<void(aws::http_message&)>& tamper = {},
                                    const std::string& region = "us-east-1") {
  apono::common::http_client client({e.fx.url(), e.fx.ca_file(), {}, 10000ms});
  aws::http_message m;
  m.method = body.empty() ? "GET" : "POST";
  m.path = "/";
  if (body.empty()) m.query = "Action=GetCallerIdentity&Version=2011-06-15";
  m.body = body;
  m.headers = {{"Host", client.host_header()}};
  if (!body.empty())
    m.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  aws::sign(m, creds, region, service, when);
  if (tamper) tamper(m);
  std::erase_if(m.headers, [](const auto& h) { return h.first == "Host"; });
  return client.request(m.method, m.query.empty() ? "/" : "/?" + m.query, m.body, m.headers,
                        10000ms);
}

std::string error_code(const apono::common::http_result& r) {
  const auto start = r.body.find("<Code>");
  const auto end = r.body.find("</Code>");
  if (start == std::string::npos || end == std::string::npos) return {};
  return r.body.substr(start + 6, end - start - 6);
}

}  // namespace

TEST_CASE("session names name the request and the user within STS's rules", "[aws]") {
  CHECK(aws_provisioner::session_name("AR-00012", "alice") == "apono-AR-00012-alice");
  CHECK(aws_provisioner::session_name("AR-7", "alice@example.com") ==
        "apono-AR-7-alice@example.com");
  CHECK(aws_provisioner::session_name("AR-7", "bob smith/ops_team") ==
        "apono-AR-7-bob-smith-ops-team");
  CHECK(aws_provisioner::session_name("AR-7", "a+b=c,d.e") == "apono-AR-7-a+b=c,d.e");
  const auto long_name = aws_provisioner::session_name("AR-00012", std::string(100, 'x'));
  CHECK(long_name.size() == 64);
  CHECK(long_name.starts_with("apono-AR-00012-xxx"));
}

TEST_CASE("check validates the integration without calling AWS", "[aws]") {
  env e;
  CHECK_NOTHROW(e.provisioner.check(e.integration));

  auto expect_rejected = [&](const std::string& what, auto mutate) {
    INFO(what);
    integration_config broken = e.integration;
    mutate(broken);
    CHECK_THROWS_AS(e.provisioner.check(broken), provision_error);
  };
  expect_rejected("no endpoint", [](integration_config& i) { i.endpoint.clear(); });
  expect_rejected("endpoint not a URL", [](integration_config& i) { i.endpoint = "sts.local"; });
  expect_rejected("no IAM endpoint", [](integration_config& i) { i.iam_endpoint.clear(); });
  expect_rejected("no region", [](integration_config& i) { i.region.clear(); });
  expect_rejected("no key id", [](integration_config& i) { i.access_key_id.clear(); });
  expect_rejected("no secret", [](integration_config& i) { i.secret_access_key.clear(); });
  expect_rejected("account not 12 digits",
                  [](integration_config& i) { i.resources = {{"12345"}}; });
  for (const std::string bad :
       {"", "arn:aws:iam::12345:role/x", "arn:aws:s3:::bucket",
        "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/a b", "arn:aws:iam::{account}:role/x*",
        "arn:aws:iam:::role/x"}) {
    expect_rejected("role_arn '" + bad + "'",
                    [&](integration_config& i) { i.permissions = {permission("p", bad)}; });
  }
  expect_rejected("max_session below 900",
                  [](integration_config& i) { i.permissions[0].max_session = 899s; });
  expect_rejected("max_session above 12 h",
                  [](integration_config& i) { i.permissions[0].max_session = 43201s; });

  // Paths and other partitions are role ARNs too.
  integration_config ok = e.integration;
  ok.permissions = {permission("p", "arn:aws:iam::{account}:role/team/ops/deploy"),
                    permission("q", "arn:aws-us-gov:iam::123456789012:role/x")};
  CHECK_NOTHROW(e.provisioner.check(ok));
  CHECK(e.fx.calls().empty());
}

TEST_CASE("grant proves the broker can assume the role", "[aws]") {
  env e;
  const auto u = e.unit("AR-00012", "alice");
  e.provisioner.grant(u);
  const auto calls = e.fx.calls("AssumeRole");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].status == 200);
  CHECK(calls[0].signature_valid);
  CHECK_FALSE(calls[0].temporary);
  CHECK(calls[0].access_key_id == e.fx.options().access_key_id);
  CHECK(calls[0].role_arn == admin_role);  // {account} filled in
  CHECK(calls[0].session_name == "apono-AR-00012-alice");
  CHECK(calls[0].duration_seconds == 900);

  SECTION("a role whose trust policy leaves the broker out fails the grant, saying why") {
    try {
      e.provisioner.grant(e.unit("AR-00013", "bob", "untrusted"));
      FAIL("grant succeeded");
    } catch (const provision_error& err) {
      const std::string what = err.what();
      CHECK(what.starts_with("STS AssumeRole " + untrusted_role + ": AccessDenied: "));
      CHECK(what.find("not authorized to perform: sts:AssumeRole") != std::string::npos);
    }
  }
  SECTION("a role that does not exist fails the grant") {
    CHECK_THROWS_WITH(e.provisioner.grant(e.unit("AR-00014", "bob", "gone")),
                      Catch::Contains("AccessDenied"));
  }
  SECTION("an unknown permission or account fails before any call") {
    const auto before = e.fx.calls().size();
    CHECK_THROWS_AS(e.provisioner.grant(e.unit("AR-00015", "bob", "nope")), provision_error);
    auto other = e.unit("AR-00015", "bob");
    other.resource = "999999999999";
    CHECK_THROWS_AS(e.provisioner.grant(other), provision_error);
    CHECK(e.fx.calls().size() == before);
  }
  SECTION("an unreachable endpoint is a provision_error too") {
    integration_config down = e.integration;
    down.endpoint = "https://127.0.0.1:" + std::to_string(apono::test::free_port());
    auto unit = e.unit("AR-00016", "bob");
    unit.integration = &down;
    CHECK_THROWS_WITH(e.provisioner.grant(unit),
                      Catch::StartsWith("STS AssumeRole " + admin_role + ": cannot reach"));
  }
}

TEST_CASE("issue asks for no longer than the grant has left, within STS's limits", "[aws]") {
  env e;
  const auto u = e.unit("AR-00012", "alice");
  auto duration_for = [&](const provision_unit& unit, std::chrono::milliseconds left) {
    (void)e.provisioner.issue(unit, e.now() + left);
    const auto calls = e.fx.calls("AssumeRole");
    REQUIRE_FALSE(calls.empty());
    REQUIRE(calls.back().status == 200);
    return calls.back().duration_seconds;
  };
  CHECK(duration_for(u, 100s) == 900);        // STS's minimum
  CHECK(duration_for(u, 2000s) == 2000);      // exactly what is left
  CHECK(duration_for(u, 1500500ms) == 1501);  // rounded up, never short
  CHECK(duration_for(u, 5h) == 3600);         // the role's MaxSessionDuration
  CHECK(duration_for(e.unit("AR-00012", "alice", "readonly"), 5h) == 7200);

  const auto before = e.now();
  const auto creds = e.provisioner.issue(u, before + 2000s);
  const auto call = e.fx.calls("AssumeRole").back();
  CHECK(call.session_name == "apono-AR-00012-alice");
  CHECK(creds.key_id == call.issued_key_id);
  CHECK(creds.key_id.starts_with("ASIA"));
  CHECK_FALSE(creds.secret.empty());
  CHECK_FALSE(creds.session_token.empty());
  CHECK(creds.identity ==
        "arn:aws:sts::123456789012:assumed-role/apono-admin/apono-AR-00012-alice");
  // STS states the expiry to the second.
  CHECK(creds.expires_at >= before + 2000s - 1s);
  CHECK(creds.expires_at <= e.now() + 2000s + 1s);

  SECTION("the credentials work: a GetCallerIdentity signed with them is accepted") {
    const auto who = e.api(as_credentials(creds))->get_caller_identity();
    CHECK(who.arn == creds.identity);
    CHECK(who.account == account);
    CHECK(who.user_id.starts_with("AROA"));
    CHECK(who.user_id.ends_with(":apono-AR-00012-alice"));
    const auto seen = e.fx.calls("GetCallerIdentity").back();
    CHECK(seen.signature_valid);
    CHECK(seen.temporary);
    CHECK(seen.access_key_id == creds.key_id);
    CHECK(seen.issued_by == creds.identity);
  }
  SECTION("a grant that has ended gets nothing") {
    const auto count = e.fx.calls().size();
    CHECK_THROWS_AS(e.provisioner.issue(u, e.now() - 1s), provision_error);
    CHECK(e.fx.calls().size() == count);
  }
}

TEST_CASE("revoke denies the grant's sessions issued before now, and only those", "[aws]") {
  env e;
  const auto alice = e.unit("AR-00012", "alice");
  const auto bob = e.unit("AR-00013", "bob");
  const auto alice_creds = e.provisioner.issue(alice, e.now() + 1h);
  const auto bob_creds = e.provisioner.issue(bob, e.now() + 1h);
  CHECK(iam_call_allowed(e, alice_creds));
  CHECK(iam_call_allowed(e, bob_creds));

  const auto before = e.now();
  e.provisioner.revoke(alice);
  const auto after = e.now();

  auto doc = e.policy();
  CHECK(doc.at("Version") == "2012-10-17");
  REQUIRE(doc.at("Statement").as_array().size() == 1);
  const auto* s = statement_with_sid(doc, "AponoAR00012");
  REQUIRE(s);
  CHECK(s->at("Effect") == "Deny");
  CHECK(s->at("Action") == "*");
  CHECK(s->at("Resource") == "*");
  CHECK(s->at("Condition").at("StringLike").at("aws:userid") == "*:apono-AR-00012-alice");
  const auto cutoff_text = token_issue_time(*s);
  CHECK(cutoff_text.size() == 20);  // YYYY-MM-DDTHH:MM:SSZ
  const auto cutoff = apono::common::parse_rfc3339(cutoff_text);
  REQUIRE(cutoff);
  CHECK(*cutoff >= before);
  CHECK(*cutoff <= after + 1s);

  // The fixture enforces it: alice's credentials are dead, bob's are not, and GetCallerIdentity
  // (never denied by AWS) still answers for alice.
  CHECK_FALSE(iam_call_allowed(e, alice_creds));
  CHECK(iam_call_allowed(e, bob_creds));
  CHECK_NOTHROW(e.api(as_credentials(alice_creds))->get_caller_identity());

  SECTION("a second grant's revoke on the same role keeps the first statement") {
    e.provisioner.revoke(bob);
    doc = e.policy();
    CHECK(doc.at("Statement").as_array().size() == 2);
    REQUIRE(statement_with_sid(doc, "AponoAR00012"));
    REQUIRE(statement_with_sid(doc, "AponoAR00013"));
    CHECK(token_issue_time(*statement_with_sid(doc, "AponoAR00012")) == cutoff_text);
    CHECK_FALSE(iam_call_allowed(e, bob_creds));
  }
  SECTION("revoking again replaces the statement with a later time") {
    // The cutoff has whole seconds: the next revoke gets a later one once the clock is past it.
    REQUIRE(apono::test::wait_until([&] { return e.now() > *cutoff; }, 5s));
    e.provisioner.revoke(alice);
    doc = e.policy();
    CHECK(doc.at("Statement").as_array().size() == 1);
    CHECK(*apono::common::parse_rfc3339(
              token_issue_time(*statement_with_sid(doc, "AponoAR00012"))) > *cutoff);
  }
  SECTION("a deleted role has nothing left to revoke") {
    e.fx.remove_role(admin_role);
    CHECK_NOTHROW(e.provisioner.revoke(bob));
  }
}

TEST_CASE("revoke keeps what it does not own and prunes what can no longer matter", "[aws]") {
  env e;
  const auto now = e.now();
  auto apono_statement = [](const std::string& sid, time_point t, const std::string& session) {
    return json::object{
        {"Sid", sid},
        {"Effect", "Deny"},
        {"Action", "*"},
        {"Resource", "*"},
        {"Condition",
         {{"DateLessThan",
           {{"aws:TokenIssueTime", apono::common::format_rfc3339(t).substr(0, 19) + "Z"}}},
          {"StringLike", {{"aws:userid", "*:" + session}}}}}};
  };
  const json::value ops = json::parse(
      R"({"Sid":"OpsNoS3Delete","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"})");
  // Looks like ours by name but is not a deny on TokenIssueTime: not ours to touch.
  const json::value lookalike = json::parse(
      R"({"Sid":"AponoLegacy","Effect":"Allow","Action":"s3:GetObject","Resource":"*"})");
  json::array statements;
  statements.push_back(apono_statement("AponoAR00001", now - 13h, "apono-AR-00001-old"));
  statements.push_back(apono_statement("AponoAR00002", now - 11h, "apono-AR-00002-recent"));
  statements.push_back(ops);
  statements.push_back(lookalike);
  e.fx.set_role_policy(
      "apono-admin", policy_name,
      json::serialize(json::object{{"Version", "2012-10-17"}, {"Statement", statements}}));

  e.provisioner.revoke(e.unit("AR-00012", "alice"));
  const auto doc = e.policy();
  const auto& list = doc.at("Statement").as_array();
  CHECK(list.size() == 4);
  CHECK_FALSE(statement_with_sid(doc, "AponoAR00001"));  // older than any credential can live
  CHECK(statement_with_sid(doc, "AponoAR00002"));
  CHECK(statement_with_sid(doc, "AponoAR00012"));
  REQUIRE(statement_with_sid(doc, "OpsNoS3Delete"));
  CHECK(json::value(*statement_with_sid(doc, "OpsNoS3Delete")) == ops);
  REQUIRE(statement_with_sid(doc, "AponoLegacy"));
  CHECK(json::value(*statement_with_sid(doc, "AponoLegacy")) == lookalike);

  SECTION("a single statement object is kept as the first of a list") {
    e.fx.set_role_policy("apono-readonly", policy_name,
                         R"({"Version":"2012-10-17","Statement":)" + json::serialize(ops) + "}");
    e.provisioner.revoke(e.unit("AR-00012", "alice", "readonly"));
    const auto ro = e.policy("apono-readonly");
    REQUIRE(ro.at("Statement").as_array().size() == 2);
    CHECK(ro.at("Statement").as_array()[0] == ops);
  }
  SECTION("a policy that is not JSON is left alone and the revoke fails") {
    e.fx.set_role_policy("apono-readonly", policy_name, "{not json");
    CHECK_THROWS_AS(e.provisioner.revoke(e.unit("AR-00012", "alice", "readonly")), provision_error);
    CHECK(e.fx.role_policy("apono-readonly", policy_name) == "{not json");
  }
}

TEST_CASE("concurrent revokes on one role lose no statement", "[aws]") {
  env e;
  constexpr int workers = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(workers);
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&e, &errors, i] {
      try {
        e.provisioner.revoke(e.unit("AR-0010" + std::to_string(i), "user" + std::to_string(i)));
      } catch (const std::exception& ex) {
        errors[static_cast<std::size_t>(i)] = ex.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& err : errors) CHECK(err.empty());
  const auto doc = e.policy();
  CHECK(doc.at("Statement").as_array().size() == workers);
  for (int i = 0; i < workers; ++i) {
    INFO(i);
    CHECK(statement_with_sid(doc, "AponoAR0010" + std::to_string(i)));
  }
  CHECK(e.fx.calls("PutRolePolicy").size() == workers);
}

TEST_CASE("reset kills the old credentials and the next ones work", "[aws]") {
  env e;
  const auto u = e.unit("AR-00012", "alice");
  const auto old_creds = e.provisioner.issue(u, e.now() + 1h);
  e.provisioner.reset(u);
  REQUIRE(statement_with_sid(e.policy(), "AponoAR00012"));
  const auto new_creds = e.provisioner.issue(u, e.now() + 1h);
  CHECK_FALSE(iam_call_allowed(e, old_creds));
  CHECK(iam_call_allowed(e, new_creds));
}

TEST_CASE("the fixture refuses what AWS would refuse", "[aws][fixture]") {
  env e;
  const aws::credentials broker{e.fx.options().access_key_id, e.fx.options().secret_access_key};
  const std::string form = "Action=GetCallerIdentity&Version=2011-06-15";

  SECTION("a correct signature passes, as a POST form or a GET query") {
    CHECK(raw_call(e, broker, "sts", form, e.now()).status == 200);
    CHECK(raw_call(e, broker, "sts", "", e.now()).status == 200);
  }
  SECTION("a tampered signature") {
    const auto r = raw_call(e, broker, "sts", form, e.now(), [](aws::http_message& m) {
      auto& auth = m.headers.back().second;
      auth.back() = auth.back() == '0' ? '1' : '0';
    });
    CHECK(r.status == 403);
    CHECK(error_code(r) == "SignatureDoesNotMatch");
    CHECK_FALSE(e.fx.calls().back().signature_valid);
  }
  SECTION("a body changed after signing") {
    const auto r = raw_call(e, broker, "sts", form, e.now(),
                            [](aws::http_message& m) { m.body += "&RoleArn=x"; });
    CHECK(r.status == 403);
    CHECK(error_code(r) == "SignatureDoesNotMatch");
  }
  SECTION("a wrong secret, through the API client: the error names the code, not the secret") {
    const std::string wrong = "WrongSecretKey/0123456789abcdefghijklmnopq";
    try {
      (void)e.api({broker.access_key_id, wrong})->get_caller_identity();
      FAIL("accepted a wrong secret");
    } catch (const aws::api_error& err) {
      CHECK(err.code() == "SignatureDoesNotMatch");
      CHECK(err.status() == 403);
      CHECK(std::string(err.what()).find(wrong) == std::string::npos);
    }
  }
  SECTION("an unknown key id") {
    const auto r = raw_call(e, {"AKIAUNKNOWN000000000", "x"}, "sts", form, e.now());
    CHECK(r.status == 403);
    CHECK(error_code(r) == "InvalidClientTokenId");
  }
  SECTION("a temporary key without its session token, or with another one") {
    const auto creds = e.provisioner.issue(e.unit("AR-00012", "alice"), e.now() + 1h);
    CHECK(raw_call(e, as_credentials(creds), "sts", form, e.now()).status == 200);
    auto r = raw_call(e, {creds.key_id, creds.secret}, "sts", form, e.now());
    CHECK(r.status == 403);
    CHECK(error_code(r) == "InvalidClientTokenId");
    r = raw_call(e, {creds.key_id, creds.secret, creds.session_token + "x"}, "sts", form, e.now());
    CHECK(error_code(r) == "InvalidClientTokenId");
  }
  SECTION("a request dated more than 5 minutes off") {
    auto r = raw_call(e, broker, "sts", form, e.now() - 6min);
    CHECK(r.status == 403);
    CHECK(error_code(r) == "SignatureDoesNotMatch");
    CHECK(r.body.find("Signature expired") != std::string::npos);
    CHECK(raw_call(e, broker, "sts", form, e.now() + 6min).status == 403);
    CHECK(raw_call(e, broker, "sts", form, e.now() - 4min).status == 200);
  }
  SECTION("a scope with the wrong region or service") {
    CHECK(error_code(raw_call(e, broker, "sts", form, e.now(), {}, "eu-west-1")) ==
          "SignatureDoesNotMatch");
    CHECK(error_code(raw_call(e, broker, "iam", form, e.now())) == "SignatureDoesNotMatch");
  }
  SECTION("no signature at all, and unknown actions") {
    apono::common::http_client client({e.fx.url(), e.fx.ca_file(), {}, 10000ms});
    const auto r = client.request("POST", "/", form,
                                  {{"Content-Type", "application/x-www-form-urlencoded"}}, 10000ms);
    CHECK(r.status == 403);
    CHECK(error_code(r) == "MissingAuthenticationToken");
    const auto unknown =
        raw_call(e, broker, "sts", "Action=GetSessionToken&Version=2011-06-15", e.now());
    CHECK(unknown.status == 400);
    CHECK(error_code(unknown) == "InvalidAction");
  }
  SECTION("AssumeRole parameters are checked as STS does") {
    auto assume = [&](const std::string& params) {
      return raw_call(e, broker, "sts",
                      "Action=AssumeRole&Version=2011-06-15&RoleArn=" +
                          aws::uri_encode(admin_role) + "&" + params,
                      e.now());
    };
    CHECK(assume("RoleSessionName=ok-name&DurationSeconds=900").status == 200);
    CHECK(error_code(assume("RoleSessionName=bad%20name&DurationSeconds=900")) ==
          "ValidationError");
    CHECK(error_code(assume("RoleSessionName=x&DurationSeconds=900")) == "ValidationError");
    CHECK(error_code(assume("RoleSessionName=ok-name&DurationSeconds=899")) == "ValidationError");
    CHECK(error_code(assume("RoleSessionName=ok-name&DurationSeconds=3601")) == "ValidationError");
    CHECK(error_code(assume("DurationSeconds=900")) == "ValidationError");
  }
}

TEST_CASE("secrets stay out of errors and logs", "[aws]") {
  env e;
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  struct restore {
    std::shared_ptr<spdlog::logger> logger;
    ~restore() { spdlog::set_default_logger(logger); }
  } restore_logger{previous};

  const auto u = e.unit("AR-00012", "alice");
  e.provisioner.grant(u);
  const auto creds = e.provisioner.issue(u, e.now() + 1h);
  e.provisioner.revoke(u);

  integration_config wrong = e.integration;
  wrong.secret_access_key = "WrongSecretKey/0123456789abcdefghijklmnopq";
  wrong.session_token = "BrokerSessionToken/abcdefghijklmnopqrstuvwxyz0123456789==";
  auto bad_unit = u;
  bad_unit.integration = &wrong;
  std::string message;
  try {
    e.provisioner.grant(bad_unit);
  } catch (const provision_error& err) {
    message = err.what();
  }
  CHECK(message.find("SignatureDoesNotMatch") != std::string::npos);

  const std::string log = captured.str();
  CHECK(log.find("AR-00012") != std::string::npos);  // the capture works
  for (const auto& secret : {creds.secret, creds.session_token, e.integration.secret_access_key,
                             wrong.secret_access_key, wrong.session_token}) {
    CHECK(log.find(secret) == std::string::npos);
    CHECK(message.find(secret) == std::string::npos);
  }
}

TEST_CASE("the real aws CLI is accepted by the fixture", "[aws][fixture][cli]") {
  if (apono::test::run({"sh", "-c", "command -v aws"}).status != 0) {
    WARN("SKIPPED: the aws CLI is not on PATH");
    return;
  }
  env e;
  const auto u = e.unit("AR-00012", "alice");
  const auto creds = e.provisioner.issue(u, e.now() + 1h);

  apono::test::temp_dir home("apono-aws-cli");
  const auto config = home.path / "config";
  const auto credentials = home.path / "credentials";
  auto write_credentials = [&](const std::string& key, const std::string& secret,
                               const std::string& token) {
    std::ofstream out(credentials, std::ios::trunc);
    out << "[apono-test]\naws_access_key_id = " << key << "\naws_secret_access_key = " << secret
        << "\n";
    if (!token.empty()) out << "aws_session_token = " << token << "\n";
  };
  {
    std::ofstream out(config);
    out << "[profile apono-test]\nregion = us-east-1\noutput = json\n";
  }
  const std::map<std::string, std::string> cli_env = {
      {"HOME", home.path.string()},
      {"AWS_CONFIG_FILE", config.string()},
      {"AWS_SHARED_CREDENTIALS_FILE", credentials.string()},
      {"AWS_CA_BUNDLE", e.fx.ca_file().string()},
      {"AWS_EC2_METADATA_DISABLED", "true"},
      {"AWS_PAGER", ""},
  };
  auto aws_cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"aws"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {std::string("--endpoint-url"), e.fx.url(), "--region", "us-east-1",
                             "--output", "json", "--profile", "apono-test"});
    return apono::test::run(argv, {}, cli_env, 120s);
  };

  SECTION("temporary credentials: botocore's signature with a session token verifies") {
    write_credentials(creds.key_id, creds.secret, creds.session_token);
    const auto r = aws_cli({"sts", "get-caller-identity"});
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto out = json::parse(r.output.substr(r.output.find('{'))).as_object();
    CHECK(out.at("Arn").as_string() == creds.identity);
    CHECK(out.at("Account").as_string() == account);
    CHECK(std::string(out.at("UserId").as_string()).ends_with(":apono-AR-00012-alice"));
    const auto seen = e.fx.calls("GetCallerIdentity").back();
    CHECK(seen.signature_valid);
    CHECK(seen.temporary);
    CHECK(seen.access_key_id == creds.key_id);
  }
  SECTION("the broker's key reads the revocation policy through IAM as the console would") {
    e.provisioner.revoke(u);
    write_credentials(e.fx.options().access_key_id, e.fx.options().secret_access_key, {});
    const auto r = aws_cli(
        {"iam", "get-role-policy", "--role-name", "apono-admin", "--policy-name", policy_name});
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto out = json::parse(r.output.substr(r.output.find('{'))).as_object();
    // botocore URL-decodes and parses the document, so this also checks the fixture's encoding.
    CHECK(out.at("PolicyDocument") == json::parse(*e.fx.role_policy("apono-admin", policy_name)));
    CHECK(e.fx.calls("GetRolePolicy").back().signature_valid);
  }
  SECTION("a wrong secret is refused for botocore too") {
    write_credentials(creds.key_id, creds.secret + "x", creds.session_token);
    const auto r = aws_cli({"sts", "get-caller-identity"});
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(r.output.find("SignatureDoesNotMatch") != std::string::npos);
    CHECK_FALSE(e.fx.calls("GetCallerIdentity").back().signature_valid);
  }
}
