// SigV4 against published vectors: the AWS SigV4 test suite (AKIDEXAMPLE, 20150830T123600Z,
// us-east-1, service `service`, as carried by aws-sdk-js-v3's suite.fixture.ts) and the IAM
// ListUsers example of the AWS signing documentation. Every expected value here was also
// reproduced with botocore 1.43 while writing the test; the one case where AWS's services and
// the suite's text differ (double path encoding) says which it follows.
#include "broker/aws/sigv4.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/secrets.hpp"

namespace {

namespace aws = apono::broker::aws;

const std::string key_id = "AKIDEXAMPLE";
const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const std::string suite_scope = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

apono::common::time_point suite_time() {
  return *apono::common::parse_rfc3339("2015-08-30T12:36:00Z");
}

const std::string* find(const aws::header_list& headers, const std::string& name) {
  for (const auto& [n, v] : headers)
    if (n == name) return &v;
  return nullptr;
}

// Signs like the suite does: Host plus `extra` headers, X-Amz-Date added by the signer.
std::string suite_authorization(const std::string& method, const std::string& path,
                                const std::string& query, const aws::header_list& extra = {},
                                const std::string& body = {}, const std::string& token = {}) {
  aws::http_message m;
  m.method = method;
  m.path = path;
  m.query = query;
  m.headers = {{"Host", "example.amazonaws.com"}};
  m.headers.insert(m.headers.end(), extra.begin(), extra.end());
  m.body = body;
  aws::sign(m, {key_id, secret, token}, "us-east-1", "service", suite_time());
  const auto* auth = find(m.headers, "Authorization");
  REQUIRE(auth);
  return *auth;
}

std::string suite_expected(const std::string& signed_headers, const std::string& sig) {
  return "AWS4-HMAC-SHA256 " + suite_scope + "SignedHeaders=" + signed_headers +
         ", Signature=" + sig;
}

}  // namespace

TEST_CASE("get-vanilla signs to the suite's Authorization header", "[sigv4]") {
  aws::http_message m;
  m.method = "GET";
  m.path = "/";
  m.headers = {{"Host", "example.amazonaws.com"}};
  aws::sign(m, {key_id, secret}, "us-east-1", "service", suite_time());
  REQUIRE(m.headers.size() == 3);
  CHECK(*find(m.headers, "X-Amz-Date") == "20150830T123600Z");
  CHECK(find(m.headers, "X-Amz-Security-Token") == nullptr);
  CHECK(*find(m.headers, "Authorization") ==
        suite_expected("host;x-amz-date",
                       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST_CASE("the IAM ListUsers example of the signing docs, step by step", "[sigv4]") {
  // GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08 with a form Content-Type.
  aws::http_message m;
  m.method = "GET";
  m.path = "/";
  m.query = "Action=ListUsers&Version=2010-05-08";
  m.headers = {{"Host", "iam.amazonaws.com"},
               {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"X-Amz-Date", "20150830T123600Z"}};
  const std::vector<std::string> signed_headers = {"content-type", "host", "x-amz-date"};
  const auto creq = aws::canonical_request(m, signed_headers);
  CHECK(creq ==
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-type;host;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(apono::common::sha256_hex(creq) ==
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");

  const aws::scope s{"20150830", "us-east-1", "iam"};
  CHECK(aws::string_to_sign("20150830T123600Z", s, creq) ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  CHECK(apono::common::hex(aws::signing_key(secret, s)) ==
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
  CHECK(aws::signature(m, signed_headers, "20150830T123600Z", s, secret) ==
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");

  // The same through sign(), which adds the date itself.
  m.headers.pop_back();
  aws::sign(m, {key_id, secret}, "us-east-1", "iam", suite_time());
  CHECK(*find(m.headers, "Authorization") ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST_CASE("query strings are decoded, re-encoded and sorted as the suite expects", "[sigv4]") {
  SECTION("get-vanilla-query-order-key-case") {
    CHECK(suite_authorization("GET", "/", "Param2=value2&Param1=value1") ==
          suite_expected("host;x-amz-date",
                         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
  }
  SECTION("get-vanilla-query-unreserved") {
    const std::string u = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    CHECK(suite_authorization("GET", "/", u + "=" + u) ==
          suite_expected("host;x-amz-date",
                         "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"));
  }
  SECTION("get-vanilla-utf8-query") {
    CHECK(suite_authorization("GET", "/", "%E1%88%B4=bar") ==
          suite_expected("host;x-amz-date",
                         "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"));
  }
  SECTION("post-vanilla-query-nonunreserved") {
    // The suite's query `@#$%^=&+=/,?><`";:\|][{}` as a client sends it, percent-encoded.
    CHECK(suite_authorization(
              "POST", "/", "%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D") ==
          suite_expected("host;x-amz-date",
                         "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"));
  }
  SECTION("the canonical form itself") {
    CHECK(aws::canonical_query("b=2&a=1&A=0") == "A=0&a=1&b=2");
    CHECK(aws::canonical_query("Param1") == "Param1=");
    CHECK(aws::canonical_query("a=%7e&b=%2f&c=x%20y") == "a=~&b=%2F&c=x%20y");
    CHECK(aws::canonical_query("k=2&k=1") == "k=1&k=2");
    CHECK(aws::canonical_query("") == "");
  }
}

TEST_CASE("paths and headers are canonicalised as the suite expects", "[sigv4]") {
  SECTION("get-unreserved") {
    CHECK(suite_authorization(
              "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "") ==
          suite_expected("host;x-amz-date",
                         "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"));
  }
  SECTION("get-utf8: the suite's raw path is encoded once") {
    CHECK(suite_authorization("GET", "/\xE1\x88\xB4", "") ==
          suite_expected("host;x-amz-date",
                         "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"));
  }
  SECTION("get-utf8 as sent on the wire is encoded again, as botocore and the services do") {
    CHECK(aws::canonical_uri("/%E1%88%B4") == "/%25E1%2588%25B4");
    CHECK(suite_authorization("GET", "/%E1%88%B4", "") ==
          suite_expected("host;x-amz-date",
                         "697b34846207a3f72246f99d74ae1ee4fe54f44bb06730c58a0d339eb079596d"));
  }
  SECTION("get-header-value-trim") {
    CHECK(suite_authorization("GET", "/", "",
                              {{"My-Header1", "value1"}, {"My-Header2", "\"a   b   c\""}}) ==
          suite_expected("host;my-header1;my-header2;x-amz-date",
                         "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"));
  }
  SECTION("post-vanilla") {
    CHECK(suite_authorization("POST", "/", "") ==
          suite_expected("host;x-amz-date",
                         "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
  }
  SECTION("post-x-www-form-urlencoded") {
    CHECK(suite_authorization("POST", "/", "",
                              {{"Content-Type", "application/x-www-form-urlencoded"}},
                              "Param1=value1") ==
          suite_expected("content-type;host;x-amz-date",
                         "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
  }
  SECTION("post-x-www-form-urlencoded-parameters") {
    CHECK(suite_authorization("POST", "/", "",
                              {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
                              "Param1=value1") ==
          suite_expected("content-type;host;x-amz-date",
                         "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"));
  }
}

TEST_CASE("a session token is sent and signed (post-sts-header-before)", "[sigv4]") {
  const std::string token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSP"
      "fIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT"
      "7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlz"
      "m8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  CHECK(suite_authorization("POST", "/", "", {}, {}, token) ==
        suite_expected("host;x-amz-date;x-amz-security-token",
                       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
}

TEST_CASE("signing again replaces the earlier signature instead of piling up headers", "[sigv4]") {
  aws::http_message m;
  m.method = "GET";
  m.path = "/";
  m.headers = {{"Host", "example.amazonaws.com"}};
  aws::sign(m, {key_id, secret, "token-1"}, "us-east-1", "service", suite_time());
  aws::sign(m, {key_id, secret}, "us-east-1", "service", suite_time());
  CHECK(m.headers.size() == 3);
  CHECK(find(m.headers, "X-Amz-Security-Token") == nullptr);
  CHECK(*find(m.headers, "Authorization") ==
        suite_expected("host;x-amz-date",
                       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));

  aws::http_message no_host;
  no_host.method = "GET";
  CHECK_THROWS_AS(aws::sign(no_host, {key_id, secret}, "us-east-1", "sts", suite_time()),
                  std::invalid_argument);
}

TEST_CASE("a received request is verified from its own headers", "[sigv4]") {
  aws::http_message m;
  m.method = "POST";
  m.path = "/";
  m.headers = {{"Host", "127.0.0.1:8443"},
               {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  m.body = "Action=GetCallerIdentity&Version=2011-06-15";
  aws::sign(m, {"ASIAEXAMPLE", "s3cret", "tok/en+=="}, "us-east-1", "sts",
            *apono::common::parse_rfc3339("2026-01-02T03:04:05Z"));

  // What a server sees: lower-case names, in the order sent, plus a header nobody signed.
  aws::http_message received = m;
  for (auto& [name, value] : received.headers)
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  received.headers.emplace_back("user-agent", "curl/8");
  const auto auth = aws::parse_authorization(*find(m.headers, "Authorization"));
  REQUIRE(auth);
  CHECK(auth->access_key_id == "ASIAEXAMPLE");
  CHECK(auth->scope.date == "20260102");
  CHECK(auth->scope.region == "us-east-1");
  CHECK(auth->scope.service == "sts");
  CHECK(auth->signed_headers ==
        std::vector<std::string>{"content-type", "host", "x-amz-date", "x-amz-security-token"});
  CHECK(aws::expected_signature(received, *auth, "s3cret") == auth->signature);

  SECTION("a wrong secret gives another signature") {
    CHECK(aws::expected_signature(received, *auth, "s3cret!") != auth->signature);
  }
  SECTION("a changed body gives another signature") {
    received.body = "Action=GetCallerIdentity&Version=2011-06-16";
    CHECK(aws::expected_signature(received, *auth, "s3cret") != auth->signature);
  }
  SECTION("a changed signed header gives another signature") {
    for (auto& [name, value] : received.headers)
      if (name == "x-amz-security-token") value = "other";
    CHECK(aws::expected_signature(received, *auth, "s3cret") != auth->signature);
  }
  SECTION("a missing signed header cannot be verified") {
    std::erase_if(received.headers, [](const auto& h) { return h.first == "content-type"; });
    CHECK_THROWS_AS(aws::expected_signature(received, *auth, "s3cret"), std::invalid_argument);
  }
  SECTION("a missing X-Amz-Date cannot be verified") {
    std::erase_if(received.headers, [](const auto& h) { return h.first == "x-amz-date"; });
    CHECK_THROWS_AS(aws::expected_signature(received, *auth, "s3cret"), std::invalid_argument);
  }
}

TEST_CASE("malformed Authorization headers are refused", "[sigv4]") {
  const std::string sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
  const std::string cred = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
  CHECK(aws::parse_authorization("AWS4-HMAC-SHA256 " + cred +
                                 ", SignedHeaders=host;x-amz-date, Signature=" + sig));
  // Components in another order, without spaces, are still one header.
  CHECK(aws::parse_authorization("AWS4-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host," +
                                 cred));
  for (const std::string& bad : {
           std::string("Bearer abc"),
           "AWS4-HMAC-SHA1 " + cred + ", SignedHeaders=host, Signature=" + sig,
           "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host",
           "AWS4-HMAC-SHA256 " + cred + ", Signature=" + sig,
           "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig,
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, "
           "SignedHeaders=host, Signature=" +
               sig,
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, "
           "SignedHeaders=host, Signature=" +
               sig,
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, "
           "SignedHeaders=host, Signature=" +
               sig,
           "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host, Signature=" + sig,
           "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig,
           "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig.substr(1),
           "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig.substr(1) + "X",
           "AWS4-HMAC-SHA256 " + cred + ", " + cred + ", SignedHeaders=host, Signature=" + sig,
           "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig + ", Extra=1",
       }) {
    INFO(bad);
    CHECK_FALSE(aws::parse_authorization(bad));
  }
}

TEST_CASE("dates, encodings and forms", "[sigv4]") {
  CHECK(aws::amz_date(*apono::common::parse_rfc3339("2015-08-30T12:36:00.999Z")) ==
        "20150830T123600Z");
  CHECK(aws::parse_amz_date("20150830T123600Z") == suite_time());
  CHECK_FALSE(aws::parse_amz_date("2015-08-30T12:36:00Z"));
  CHECK_FALSE(aws::parse_amz_date("20151330T123600Z"));
  CHECK_FALSE(aws::parse_amz_date("20150830T123600"));

  CHECK(aws::uri_encode("a b/c~d*e+é") == "a%20b%2Fc~d%2Ae%2B%C3%A9");
  CHECK(aws::uri_encode("/a b/c", true) == "/a%20b/c");
  CHECK(aws::percent_decode("a%2Fb%2fc+%zz%4") == "a/b/c+%zz%4");
  CHECK(aws::form_encode({{"RoleArn", "arn:aws:iam::1:role/x"}, {"Name", "a b"}}) ==
        "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&Name=a%20b");
  using pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(aws::form_decode("a=1&b=x+y%2B&c&&d=") ==
        pairs{{"a", "1"}, {"b", "x y+"}, {"c", ""}, {"d", ""}});
}
