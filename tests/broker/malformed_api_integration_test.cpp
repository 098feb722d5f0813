// Issue 7, bad input: 10,000 generated malformed requests against a real `aponod --dev`, from a
// fixed seed (printed; APONO_MALFORMED_SEED=N replays another), over raw TLS so that the HTTP
// layer itself can be malformed too. Categories: bad JSON, wrong types for every field of every
// endpoint that takes a body, huge fields and bodies, path tricks, bad query strings, bad
// tokens and Authorization headers, odd methods, and HTTP-level garbage (huge and broken
// headers, Content-Length and chunking tricks, broken request lines, not even TLS).
//
// Checked: no answer is a 5xx; each answer's status is one the docs allow for that input; every
// JSON error has the documented shape and its code matches the status; no answer carries a
// secret; only HTTP-level garbage may end a connection without an answer; aponod is alive at the
// end, answers normal requests, holds no request and no audit event made by malformed input, and
// exits cleanly with no sanitizer report in its log. The aponod is the build of its main that
// embeds the test front end (as a release embeds web/dist), so the portal's pages are served
// too, and a page outside the API is the app, never a 5xx.
#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/model.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
using namespace std::string_literals;
namespace json = boost::json;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::uint64_t default_seed = 20260607;
constexpr std::size_t body_limit = 1024 * 1024;  // docs/api.md: 413 over 1 MiB
// Generous, for sanitizer builds: nothing here should make the broker wait.
constexpr auto exchange_timeout = 20s;

enum class category : std::size_t {
  bad_json,
  wrong_types,
  huge_fields,
  path_tricks,
  bad_query,
  bad_auth,
  odd_methods,
  http_level,
};
constexpr std::size_t category_count = 8;
constexpr std::array<const char*, category_count> category_names{
    "bad_json",  "wrong_types", "huge_fields", "path_tricks",
    "bad_query", "bad_auth",    "odd_methods", "http_level"};
// How many requests each category sends; 10,000 in all.
constexpr std::array<std::size_t, category_count> category_sizes{1500, 2000, 500, 1500,
                                                                 1000, 1500, 600, 1400};

enum class transport {
  keep_alive,  // the shared TLS connection, reopened whenever the broker closes it
  own_tls,     // a TLS connection of its own (the broker is expected to close it)
  plain_tcp,   // no TLS at all on the TLS port
};

// One malformed request and what may come back.
struct probe {
  category cat = category::bad_json;
  std::string label;  // which template, for failure messages
  std::string bytes;  // exactly what is written to the connection
  transport via = transport::keep_alive;
  std::set<int> allowed;     // statuses that are right; empty: any below 500
  bool http_level = false;   // garbage at the HTTP layer: closing without an answer is fine
  bool head = false;         // HEAD: the answer must not carry a body
  bool half_close = false;   // stop sending after the bytes (the request stays incomplete)
  std::string must_mention;  // a JSON error message names this (the field at fault)
};

// What came back.
struct reply {
  bool answered = false;
  int status = 0;
  std::string content_type;
  std::string body;
  bool keep_alive = false;
  bool timed_out = false;
  bool head_body = false;  // a HEAD answer carried body bytes
};

// What the generator knows about the broker.
struct context {
  std::map<std::string, std::string> tokens;  // dev user -> bearer token
  std::string revoked_token;                  // issued by login, then revoked
  std::string active_id;                      // alice's ACTIVE read_only request
  std::string pending_id;                     // alice's PENDING read_write request
  std::int64_t active_n = 0;                  // the ACTIVE one's number
  std::string ssh_key;                        // a valid ssh-ed25519 public key line
};

std::string http_request(const std::string& method, const std::string& target,
                         const std::string& authorization, const std::string& body,
                         const std::string& content_type = "application/json",
                         const std::vector<std::string>& extra_headers = {}) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!authorization.empty()) r += "Authorization: " + authorization + "\r\n";
  if (!body.empty() && !content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  for (const auto& h : extra_headers) r += h + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

// A body-taking endpoint: who may call it and a body it would accept (or answer with a 4xx
// for reasons other than the body, such as a code that does not exist).
struct body_endpoint {
  std::string method;
  std::string target;
  std::string user;  // "" = no token
  json::object base;
  // Each field and the JSON kinds it accepts: s = string, a = array of strings, n = number,
  // i = whole number, b = boolean.
  std::vector<std::pair<std::string, std::string>> fields;
  bool dangerous = false;  // its base body would change state: never send it as it is
};

class generator {
 public:
  generator(std::uint64_t seed, context ctx) : rng_(seed), ctx_(std::move(ctx)) {
    const auto verifier = std::string(43, 'v');
    endpoints_ = {
        {"POST",
         "/api/v1/access-requests",
         "alice",
         {{"integration", "pg-local"},
          {"resource_type", "database"},
          {"resources", json::array{"appdb"}},
          {"permissions", json::array{"read_only"}},
          {"duration", "1h"},
          {"justification", "malformed test"},
          {"dry_run", true}},
         {{"integration", "s"},
          {"resource_type", "s"},
          {"resources", "sa"},
          {"permissions", "sa"},
          {"bundle", "s"},
          {"duration", "sn"},
          {"duration_seconds", "i"},
          {"justification", "s"},
          {"dry_run", "b"}}},
        {"POST",
         "/api/v1/access-requests/" + ctx_.pending_id + "/approve",
         "approver",
         {{"comment", "ok"}},
         {{"comment", "s"}},
         true},
        {"POST",
         "/api/v1/access-requests/" + ctx_.pending_id + "/reject",
         "approver",
         {{"reason", "no"}},
         {{"reason", "s"}},
         true},
        {"POST",
         "/api/v1/access-requests/" + ctx_.active_id + "/revoke",
         "alice",
         {{"reason", "done"}},
         {{"reason", "s"}},
         true},
        {"POST",
         "/api/v1/access-requests/" + ctx_.active_id + "/request-again",
         "alice",
         {{"justification", "again"}, {"duration", "1h"}},
         {{"justification", "s"}, {"duration", "sn"}, {"duration_seconds", "i"}},
         true},
        {"POST",
         "/api/v1/access-requests/" + ctx_.active_id + "/reset-credentials",
         "alice",
         {},
         {},
         true},
        {"POST",
         "/api/v1/access-sessions/" + ctx_.active_id + "/ssh-certificate",
         "alice",
         {{"public_key", ctx_.ssh_key}, {"resource", "appdb"}, {"permission", "read_only"}},
         {{"public_key", "s"}, {"resource", "s"}, {"permission", "s"}}},
        {"POST", "/api/v1/session/revoke", "alice", {}, {}},
        {"POST",
         "/oauth/token",
         "",
         {{"grant_type", "authorization_code"},
          {"code", "no-such-code"},
          {"code_verifier", verifier},
          {"redirect_uri", "http://127.0.0.1:1/cb"},
          {"client_id", "apono-cli"}},
         {{"grant_type", "s"},
          {"code", "s"},
          {"code_verifier", "s"},
          {"redirect_uri", "s"},
          {"client_id", "s"}}},
    };
  }

  probe make(category c) {
    probe p;
    switch (c) {
      case category::bad_json:
        p = bad_json();
        break;
      case category::wrong_types:
        p = wrong_type();
        break;
      case category::huge_fields:
        p = huge_field();
        break;
      case category::path_tricks:
        p = path_trick();
        break;
      case category::bad_query:
        p = bad_query();
        break;
      case category::bad_auth:
        p = bad_auth();
        break;
      case category::odd_methods:
        p = odd_method();
        break;
      case category::http_level:
        p = http_garbage();
        break;
    }
    p.cat = c;
    return p;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }
  std::string bearer(const std::string& user) const {
    return user.empty() ? std::string() : "Bearer " + ctx_.tokens.at(user);
  }
  std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng_());
    return s;
  }
  std::string random_text(std::size_t n, std::string_view alphabet) {
    std::string s(n, ' ');
    for (auto& ch : s) ch = alphabet[below(alphabet.size())];
    return s;
  }
  const body_endpoint& endpoint() { return endpoints_[below(endpoints_.size())]; }
  probe api(const body_endpoint& e, std::string body, std::string label) {
    probe p;
    p.label = std::move(label);
    p.bytes = http_request(e.method, e.target, bearer(e.user), body);
    p.allowed = {400};
    return p;
  }

  // A JSON text that is not a valid body for any endpoint (all of them answer 400).
  probe bad_json() {
    const auto& e = endpoint();
    const auto valid = json::serialize(e.base.empty() ? json::object{{"x", 1}} : e.base);
    std::string first_key = e.base.empty() ? "x" : std::string(e.base.begin()->key());
    std::string body, label;
    switch (below(13)) {
      case 0:  // truncated anywhere: a JSON object ends with its closing brace
        body = valid.substr(0, 1 + below(valid.size() - 1));
        label = "truncated";
        break;
      case 1: {
        std::size_t depth = pick<std::size_t>({33, 64, 1000, 10000, 100000});
        body = std::string(depth, '[') + std::string(depth, ']');
        if (below(2)) body = R"({")" + first_key + R"(":)" + body + "}";
        label = "deep arrays";
        break;
      }
      case 2: {
        std::size_t depth = pick<std::size_t>({33, 100, 5000, 50000});
        for (std::size_t i = 0; i < depth; ++i) body += R"({"a":)";
        body += "1" + std::string(depth, '}');
        label = "deep objects";
        break;
      }
      case 3: {
        static const std::vector<std::string> bad_utf8{
            "\xff",         "\xfe\xff",     "\xc0\xaf",
            "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
            "\xe2\x82",     "\x80",         "\xf8\x88\x80\x80\x80"};
        auto junk = pick(bad_utf8);
        if (below(2)) junk += random_bytes(1 + below(8));
        body = R"({")" + first_key + R"(":"x)" + junk + R"("})";
        if (below(3) == 0) body = R"({")" + junk + R"(":1})";
        label = "invalid UTF-8";
        break;
      }
      case 4: {
        static const std::vector<std::string> escapes{
            R"(\x41)",         R"(\u12)",   R"(\uZZZZ)", R"(\)", R"(\ud800)", R"(\udc00)",
            R"(\ud800\u0041)", R"(\U0041)", R"(\'')",    "\t",   "\n",        std::string(1, '\0')};
        auto escape = pick(escapes);
        body = R"({")" + first_key + R"(":"a)" + escape + R"(z"})";  // \z is no escape
        // A lone surrogate is valid JSON grammar (RFC 8259 §8.2) that a parser may take: in
        // a key nothing accepts, the answer is 400 whichever way the parser reads it.
        if (escape.starts_with(R"(\ud)")) body = R"({"a)" + escape + R"(z":1})";
        label = "bad escape or control character";
        break;
      }
      case 5: {
        static const std::vector<std::string> literals{
            "NaN", "Infinity", "-Infinity", "+1",  "01",  ".5",   "1.",        "0x10", "1e",
            "-",   "--1",      "1e+",       "tru", "nul", "True", "undefined", "'x'"};
        body = R"({")" + first_key + R"(":)" + pick(literals) + "}";
        label = "bad literal";
        break;
      }
      case 6: {
        // Valid grammar, absurd values: 400 from the field's checks or the parser.
        static const std::vector<std::string> numbers{"1e999",
                                                      "-1e999",
                                                      "1e-999",
                                                      "123456789012345678901234567890",
                                                      "18446744073709551616",
                                                      "-9223372036854775809",
                                                      "1E400",
                                                      std::string(400, '9')};
        std::string key = "n";
        if (e.target == "/api/v1/access-requests" || e.target.ends_with("/request-again"))
          key = below(2) ? "duration" : "duration_seconds";
        else if (!e.fields.empty())
          key = e.fields.front().first;
        body = R"({")" + key + R"(":)" + pick(numbers) + "}";
        label = "huge number";
        break;
      }
      case 7: {
        // Each duplicate alone would be accepted: the broker must not pick one silently.
        auto o = e.base;
        if (o.empty()) {
          body = R"({"a":1,"a":1})";
        } else {
          auto s = json::serialize(o);
          auto it = o.begin();
          body = "{" + json::serialize(json::string(it->key())) + ":" +
                 json::serialize(it->value()) + "," + s.substr(1);
        }
        label = "duplicate key";
        break;
      }
      case 8: {
        static const std::vector<std::string> not_objects{
            "[]", R"("x")", "1", "true", "null", "[{}]", R"([")" + first_key + R"("])",
            "-0", "\"\""};
        body = pick(not_objects);
        label = "not an object";
        break;
      }
      case 9: {
        static const std::vector<std::string> trailing{"x",  "}", ",{}", std::string(1, '\0'),
                                                       "{}", "]", "//c", "/*c*/"};
        body = valid + pick(trailing);
        label = "trailing garbage";
        break;
      }
      case 10: {
        static const std::vector<std::string> forms{
            R"({"a":1,})",  R"(/*c*/{})",       R"({'a':1})",     R"({a:1})",
            R"({"a" 1})",   R"({"a":1 "b":2})", R"({,})",         R"({"a"})",
            "{\"a\":\x01}", R"({"a":[1,]})",    "\xef\xbb\xbf{}", "{\"a\0\":1}"s};
        body = forms[below(forms.size())];
        label = "broken syntax";
        break;
      }
      case 11: {
        // A prefix of the valid body followed by random bytes.
        body = valid.substr(0, below(valid.size())) + random_bytes(1 + below(64));
        if (body.find_first_not_of(" \t\r\n") == std::string::npos) body = "{";
        label = "random tail";
        break;
      }
      default: {
        body = random_bytes(1 + below(2000));
        // Random bytes that happen to be a JSON object are vanishingly rare; whitespace only
        // would be an empty (valid) body.
        if (body.find_first_not_of(" \t\r\n") == std::string::npos) body = "{";
        label = "random bytes";
        break;
      }
    }
    return api(e, body, "bad JSON: " + label);
  }

  // One field of one endpoint's valid body replaced by a value of a kind it does not accept.
  probe wrong_type() {
    const auto& e = endpoint();
    if (e.fields.empty() || below(8) == 0) {
      // The whole body of the wrong kind, or an unknown field.
      static const std::vector<std::string> whole{
          "[]",           "1",   R"("{}")",          "true",       "null",
          R"([{"a":1}])", "1.5", R"({"unknown":1})", R"({"":""})", R"({"Reason":"x"})"};
      auto body = pick(whole);
      auto p = api(e, body, "wrong type: whole body " + body);
      if (body.starts_with("{")) p.must_mention = "unknown field";
      return p;
    }
    const auto& [name, kinds] = e.fields[below(e.fields.size())];
    static const std::vector<std::pair<std::string, std::string>> values{
        {"0", "n"},
        {"-1", "n"},
        {"1.5", "n"},
        {"1e3", "n"},
        {"18446744073709551615", "n"},
        {"-9223372036854775808", "n"},
        {"true", "b"},
        {"false", "b"},
        {"[]", "A"},
        {R"(["x"])", "a"},
        {"[1]", "A"},
        {R"(["appdb",null])", "A"},
        {R"([["appdb"]])", "A"},
        {R"([{}])", "A"},
        {"{}", "o"},
        {R"({"a":"b"})", "o"},
        {R"("text")", "s"},
        {R"("60")", "s"},
        {R"("")", "s"},
    };
    // Which kinds each accepted kind lets through ("A" = arrays of non-strings, never valid).
    auto accepted = [&](const std::string& kind, const std::string& value) {
      if (kinds.find('s') != std::string::npos && kind == "s") return true;
      if (kinds.find('a') != std::string::npos && (kind == "a" || value == "[]")) return true;
      if (kinds.find('n') != std::string::npos && kind == "n") return true;
      if (kinds.find('b') != std::string::npos && kind == "b") return true;
      if (kinds.find('i') != std::string::npos && kind == "n" && value != "1.5" && value != "1e3" &&
          value.find_first_not_of("0123456789-") == std::string::npos)
        return true;  // a whole number; its range is checked separately (still a 400)
      return false;
    };
    std::vector<std::pair<std::string, std::string>> wrong;
    for (const auto& v : values)
      if (!accepted(v.second, v.first)) wrong.push_back(v);
    const auto& [value, kind] = wrong[below(wrong.size())];
    auto o = e.base;
    o.erase(name);
    auto rest = json::serialize(o);
    auto body = "{" + json::serialize(json::string(name)) + ":" + value +
                (o.empty() ? "}" : "," + rest.substr(1));
    auto p = api(e, body, "wrong type: " + e.target + " " + name + "=" + value);
    p.must_mention = name;
    return p;
  }

  probe huge_field() {
    const auto& create = endpoints_[0];
    switch (below(12)) {
      case 0: {
        auto o = create.base;
        auto field = pick<std::string>({"justification", "integration", "resource_type", "bundle"});
        auto size = field == "justification" ? pick<std::size_t>({4097, 5000, 65536, 500000})
                                             : pick<std::size_t>({257, 1000, 100000});
        o[field] = std::string(size, 'j');
        auto p = api(create, json::serialize(o), "long " + field);
        p.must_mention = field;
        return p;
      }
      case 1: {
        auto o = create.base;
        auto field = pick<std::string>({"resources", "permissions"});
        json::array a;
        auto n = pick<std::size_t>({101, 1000, 100000});
        for (std::size_t i = 0; i < n; ++i) a.emplace_back("appdb");
        o[field] = std::move(a);
        auto p = api(create, json::serialize(o), "big array " + field);
        p.must_mention = field;
        return p;
      }
      case 2: {
        auto o = create.base;
        auto field = pick<std::string>({"resources", "permissions"});
        o[field] = json::array{"appdb", json::string(std::string(257 + below(5000), 'r'))};
        auto p = api(create, json::serialize(o), "long list entry " + field);
        p.must_mention = field;
        return p;
      }
      case 3: {
        // 100 x 100 units of names that do not exist: refused, and not slowly.
        auto o = create.base;
        json::array r, q;
        for (int i = 0; i < 100; ++i) r.emplace_back("db" + std::to_string(i));
        for (int i = 0; i < 100; ++i) q.emplace_back("perm" + std::to_string(i));
        o["resources"] = r;
        o["permissions"] = q;
        return api(create, json::serialize(o), "100 x 100 unknown units");
      }
      case 4: {
        auto o = create.base;
        o[std::string(pick<std::size_t>({300, 10000, 200000}), 'k')] = 1;
        return api(create, json::serialize(o), "long unknown field name");
      }
      case 5: {
        json::object o;
        auto n = pick<std::size_t>({1000, 20000});
        for (std::size_t i = 0; i < n; ++i) o["f" + std::to_string(i)] = i;
        return api(create, json::serialize(o), "many unknown fields");
      }
      case 6: {
        // reason/comment/justification of the decision endpoints, over 4096 characters.
        auto& e = endpoints_[1 + below(4)];
        auto o = e.base;
        const auto& field = e.fields.front().first;
        o[field] = std::string(4097 + below(100000), 'x');
        auto p = api(e, json::serialize(o), "long " + field + " on " + e.target);
        p.must_mention = field;
        return p;
      }
      case 7: {
        auto& e = endpoints_[6];  // ssh-certificate
        auto o = e.base;
        // Over the field's limit, or within it and not a key.
        const bool over = below(2) == 0;
        o["public_key"] = over ? std::string(16385 + below(10000), 'A')
                               : "ssh-ed25519 " + std::string(10000 + below(6000), 'A');
        auto p = api(e, json::serialize(o), "huge public key");
        p.must_mention = over ? "public_key" : "";
        return p;
      }
      case 8: {
        auto& e = endpoints_[8];  // oauth/token
        auto o = e.base;
        auto field = std::string(e.fields[below(e.fields.size())].first);
        o[field] = std::string(4097 + below(50000), 'c');
        return api(e, json::serialize(o), "long " + field + " on /oauth/token");
      }
      case 9: {
        // A body of exactly the limit, or just under: read, then refused for its content.
        auto size = body_limit - below(2) * below(64);
        std::string prefix = R"({"integration":"pg-local","justification":")";
        std::string body = prefix + std::string(size - prefix.size() - 2, 'x') + "\"}";
        auto p = api(create, body, "body at the limit");
        p.must_mention = "justification";
        return p;
      }
      case 10: {
        // Over the limit: 413, and the broker closes that connection.
        auto size = body_limit + pick<std::size_t>({1, 1000, body_limit, 7 * body_limit});
        std::string prefix = R"({"justification":")";
        std::string body = prefix + std::string(size - prefix.size() - 2, 'x') + "\"}";
        auto p = api(create, body, "body over the limit");
        p.via = transport::own_tls;
        p.allowed = {413};
        return p;
      }
      default: {
        // A chunked body that grows past the limit.
        std::string chunks;
        std::size_t total = 0;
        while (total <= body_limit + 10) {
          std::size_t n = 60000 + below(10000);
          char size[32];
          std::snprintf(size, sizeof size, "%zx\r\n", n);
          chunks += size + std::string(n, 'x') + "\r\n";
          total += n;
        }
        chunks += "0\r\n\r\n";
        probe p;
        p.label = "chunked body over the limit";
        p.bytes = "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " +
                  bearer("alice") +
                  "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  chunks;
        p.via = transport::own_tls;
        p.allowed = {413};
        return p;
      }
    }
  }

  probe get(const std::string& target, std::set<int> allowed, const std::string& user = "alice",
            std::string label = {}) {
    probe p;
    p.label = label.empty() ? "GET " + target.substr(0, 120) : std::move(label);
    p.bytes = http_request("GET", target, bearer(user), "");
    p.allowed = std::move(allowed);
    // Past the header limit the broker answers 400 and closes.
    if (target.size() > 7000) {
      p.via = transport::own_tls;
      p.allowed.insert(400);
    }
    return p;
  }

  std::string junk_id() {
    static const std::vector<std::string> ids{"AR-99999",
                                              "AR-0",
                                              "AR--1",
                                              "AR-00000000000000001",
                                              "AR-9223372036854775807",
                                              "ar-999999999999999",
                                              "0",
                                              "-1",
                                              "AR-1e3",
                                              "AR-0x10",
                                              "AR-+1",
                                              "AR-%201",
                                              "%00",
                                              "AR-1%00",
                                              "AR-%EF%BC%91",
                                              "%F0%9F%92%A9",
                                              "AR-1;x",
                                              "AR-1.json",
                                              "AR-",
                                              "AR",
                                              "ARR-1",
                                              "%41R-99999",
                                              "AR-99999%20",
                                              "AR-99%0a9",
                                              "99999999999999999999",
                                              "NaN",
                                              "AR-1%2e0"};
    if (below(4) == 0) return "AR-" + std::to_string(90000 + below(1000000));
    return pick(ids);
  }

  probe path_trick() {
    const auto& a = ctx_.active_id;
    const auto n = std::to_string(ctx_.active_n);
    switch (below(14)) {
      case 0: {
        static const std::vector<std::string> traversal{
            "/api/v1/../api/v1/session",
            "/api/v1/./session",
            "/api/v1/session/.",
            "/api/v1/session/..",
            "//api/v1/session",
            "/api//v1/session",
            "/api/v1/%2e%2e/v1/session",
            "/api/v1/%2E%2E/v1/session",
            "/api/v1/.%2e/v1/session",
            "/api/v1/%2e/session",
            "/api/v1/access-requests/../audit",
            "/api/v1/access-requests/%2e%2e/audit",
            "/api/v1/access-requests/x/../../audit",
            "/x/../api/v1/audit",
            "/api/v1/access-sessions/%2e%2e/%2e%2e/session"};
        return get(pick(traversal), {400, 404});
      }
      case 1: {
        // An encoded slash is part of a segment, never a separator.
        static const std::vector<std::string> slashes{"/api%2Fv1%2Fsession", "/api/v1%2Fsession",
                                                      "/api/v1/session%2F", "/api/v1/session%2f"};
        auto t = below(2) ? pick(slashes)
                          : "/api/v1/access-requests" + std::string(below(2) ? "%2F" : "%2f") + a;
        return get(t, {404});
      }
      case 2: {
        // The same on a state-changing path: it must not act.
        probe p;
        auto action = pick<std::string>({"revoke", "request-again", "reset-credentials"});
        auto t = "/api/v1/access-requests/" + a + pick<std::string>({"%2F", "%2f"}) + action;
        p.label = "POST " + t;
        p.bytes = http_request("POST", t, bearer("alice"), R"({"reason":"encoded slash"})");
        if (action != "revoke") p.bytes = http_request("POST", t, bearer("alice"), "");
        p.allowed = {404};
        return p;
      }
      case 3: {
        // Spellings of alice's own ids and paths that mean the same thing.
        auto id = pick<std::string>({"ar-" + n, n, "AR-000" + n, "Ar-" + n, "aR-0" + n});
        auto t = pick<std::string>({"/api/v1/access-requests/" + id, "/api/v1/se%73sion",
                                    "/api/v1/session?", "/api/v1/%73ession"});
        return get(t, {200});
      }
      case 4: {
        static const std::vector<std::string> odd{"/API/V1/SESSION",
                                                  "/api/V1/session",
                                                  "/api/v1/session%00",
                                                  "/api/v1/session%20",
                                                  "/api/v1/session;x",
                                                  "/api/v1/session.json",
                                                  "/api/v2/session",
                                                  "/api/v1",
                                                  "/api/v1/",
                                                  "/api",
                                                  "/api/v1/session/x",
                                                  "/api/v1/%E2%80%AE",
                                                  "/api/v1/session~",
                                                  "/api/v1/Session",
                                                  "/api/v1/access-requests/" + a + "/x",
                                                  "/api/v1/access-requests/" + a + "/approve/x"};
        return get(pick(odd), {404});
      }
      case 5: {
        static const std::vector<std::string> invalid{
            "/api/v1/%ZZ",       "/api/v1/%",           "/api/v1/session#frag",
            "/api\\v1\\session", "api/v1/session",      "*",
            "/api/v1/ses sion",  "/api/v1/\"session\"", "/api/v1/{id}",
            "/api/v1/<script>",  "/api/v1/session%"};
        return get(pick(invalid), {400});
      }
      case 6: {
        // Absolute-form: origin-form only.
        return get("https://127.0.0.1/api/v1/session", {400});
      }
      case 7: {
        auto len = pick<std::size_t>({1000, 4000, 7000, 9000, 30000});
        auto prefix = pick<std::string>({"/api/v1/", "/api/v1/access-requests/", "/"});
        auto t = prefix + random_text(len, "abcdefghijklmnopqrstuvwxyz0123456789-_");
        // Outside the API a path is a page of the portal: the app.
        return get(t, prefix == "/" ? std::set<int>{200} : std::set<int>{404});
      }
      case 8:
        return get("/api/v1/access-requests/" + junk_id(), {404});
      case 9:
        return get("/api/v1/access-sessions/" + junk_id() + "/access-details", {404});
      case 10: {
        probe p;
        auto id = junk_id();
        static const std::vector<std::pair<std::string, std::string>> actions{
            {"approve", ""},
            {"reject", R"({"reason":"x"})"},
            {"revoke", R"({"reason":"x"})"},
            {"reset-credentials", ""},
            {"request-again", ""}};
        const auto& [action, body] = pick(actions);
        auto user = action == "approve" || action == "reject" ? "approver" : "alice";
        auto t = "/api/v1/access-requests/" + id + "/" + action;
        p.label = "POST " + t;
        p.bytes = http_request("POST", t, bearer(user), body);
        p.allowed = {404};
        return p;
      }
      case 11: {
        probe p;
        auto t = "/api/v1/access-sessions/" + junk_id() + "/ssh-certificate";
        p.label = "POST " + t;
        p.bytes = http_request(
            "POST", t, bearer("alice"),
            json::serialize(json::object{{"public_key", ctx_.ssh_key}, {"resource", "appdb"}}));
        p.allowed = {404};
        return p;
      }
      case 12:
        return get(
            pick<std::string>(
                {"/api/v1/integrations//resource-types", "/api/v1/integrations/%00/resource-types",
                 "/api/v1/integrations/pg-local/x", "/api/v1/integrations/..%2f..%2fsession",
                 "/api/v1/integrations/pg-local%2Fresource-types",
                 "/api/v1/integrations/nope/resource-types",
                 "/api/v1/integrations/pg-local/resource-types/x"}),
            {404});
      default: {
        // Paths outside the API with a token: pages of the portal (the app), or unknown
        // endpoints when they name no page.
        if (below(2))
          return get(pick<std::string>({"/", "/index.html", "/.env", "/favicon.ico"}), {200});
        return get(pick<std::string>({"/api/v1/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                      "/login/x", "/oauth", "/healthz/x", "/metrics/../healthz",
                                      "//", "/x/./y", "/assets/nothing-here.js"}),
                   {400, 404});
      }
    }
  }

  // OAuth parameters of the login page with one of them broken.
  std::string broken_login_params() {
    const std::string challenge(43, 'c');
    std::map<std::string, std::string> f{{"response_type", "code"},
                                         {"client_id", "apono-cli"},
                                         {"redirect_uri", "http%3A%2F%2F127.0.0.1%3A53123%2Fcb"},
                                         {"code_challenge", challenge},
                                         {"code_challenge_method", "S256"},
                                         {"state", "s"}};
    std::string extra;
    switch (below(16)) {
      case 0:
        f.erase(pick<std::string>({"response_type", "client_id", "redirect_uri", "code_challenge",
                                   "code_challenge_method"}));
        break;
      case 1:
        f["client_id"] = pick<std::string>({"x", "", "APONO-CLI", "apono-cli%00"});
        break;
      case 2:
        f["redirect_uri"] = pick<std::string>(
            {"http%3A%2F%2Fevil.example%3A80%2Fcb", "http%3A%2F%2F127.0.0.1%2Fcb",
             "https%3A%2F%2F127.0.0.1%3A1%2Fcb", "http%3A%2F%2F127.0.0.1%3A1%2Fcb%23f",
             "http%3A%2F%2Fuser%40127.0.0.1%3A1%2Fcb", "http%3A%2F%2F127.0.0.1%3A99999%2Fcb",
             "javascript%3Aalert(1)", "%2F%2Fevil.example%2Fcb", "http%3A%2F%2F127.0.0.2%3A1%2Fcb",
             "http%3A%2F%2F127.0.0.1.evil.example%3A1%2Fcb", "http%3A%2F%2F%5B%3A%3A1%5D%3A1%2Fcb",
             "http%3A%2F%2F127.0.0.1%3A1", ""});
        break;
      case 3:
        f["code_challenge"] =
            pick<std::string>({"short", std::string(129, 'c'), std::string(42, 'c'),
                               std::string(43, 'c') + "%20", std::string(43, 'c') + "%2B"});
        break;
      case 4:
        f["code_challenge_method"] = pick<std::string>({"plain", "s256", "", "S512"});
        break;
      case 5:
        f["response_type"] = pick<std::string>({"token", "", "code%20token", "CODE"});
        break;
      case 6:
        f["state"] = pick<std::string>({"%0a", "a%0db", std::string(513, 's'), "%7f", "%00"});
        break;
      case 7:
        extra = "&client_id=apono-cli";
        break;
      case 8:
        extra = "&state=x&state=y";
        break;
      case 9:
        extra = "&" + random_text(65, "abcdefghij") + "=x";  // a key over 64 characters
        break;
      case 10:
        extra = "&x=" + std::string(4097, 'v');
        break;
      case 11:
        extra = pick<std::string>({"&%zz=1", "&a=%", "&a=%g0", "&%"});
        break;
      case 12:
        f["redirect_uri"] += "%00";
        break;
      case 13:
        f["client_id"] = "apono-cli&client_id=apono-cli";
        break;
      case 14:
        f.erase("client_id");
        extra = "&client_id";
        break;
      default:
        f["code_challenge"] = random_text(43, "!$'()*,;:@[]") + "";
        break;
    }
    std::string q;
    for (const auto& [k, v] : f) q += (q.empty() ? "" : "&") + k + "=" + v;
    return q + extra;
  }

  probe bad_query() {
    switch (below(12)) {
      case 0: {
        auto v = pick<std::string>({"abc", "-1", "0", "3651", "99999999999999999999", "1e3", "1.5",
                                    "%00", "%2B1", "%201", "0x10", "1%20", "%EF%BC%91"});
        return get("/api/v1/access-requests?days=" + v, {400});
      }
      case 1: {
        auto v = pick<std::string>(
            {"ALL", "mine%20", "x", "%00", "approvable%00", "all,mine", "Mine", "*"});
        return get("/api/v1/access-requests?scope=" + v, {400});
      }
      case 2:
        return get(
            pick<std::string>(
                {"/api/v1/access-requests?days=1&days=abc",
                 "/api/v1/access-requests?days=abc&days=1",
                 "/api/v1/access-requests?scope=all&scope=x", "/api/v1/access-requests?scope&days",
                 "/api/v1/access-requests?&&&=&", "/api/v1/access-requests?days=&scope="}),
            {200, 400});
      case 3: {
        auto v = pick<std::string>({"-1", "abc", "9223372036854775808", "1.0", "1e2", "%00", "0x1",
                                    "99999999999999999999"});
        return get("/api/v1/events?after=" + v + "&timeout=0", {400});
      }
      case 4: {
        // The last `timeout` counts; each of these is out of range, so nothing waits.
        auto v = pick<std::string>({"26", "-1", "abc", "99999999999", "1.5", "%00", "1e1"});
        return get("/api/v1/events?timeout=0&after=0&timeout=" + v, {400});
      }
      case 5: {
        auto what = pick<std::string>({"resources", "permissions"});
        static const std::vector<std::pair<std::string, int>> queries{
            {"", 400},
            {"?integration=", 400},
            {"?integration=nope", 404},
            {"?integration=%FF", 404},
            {"?integration=pg-local&resource_type=nope", 404},
            {"?integration=" + std::string(5000, 'i'), 404},
            {"?integration=pg-local%00", 404},
            {"?resource_type=database", 400},
            {"?integration=ssh-local", 404}};
        const auto& [q, status] = pick(queries);
        return get("/api/v1/" + what + q, {status});
      }
      case 6:
        return get(pick<std::string>({"/api/v1/session?%zz", "/api/v1/session?a=%",
                                      "/api/v1/session?a=%g1", "/api/v1/session?a=b#c",
                                      "/api/v1/session?a=%0", "/api/v1/session?%"}),
                   {400});
      case 7:
        return get("/api/v1/session?" + pick<std::string>({"a=b=c", "=", "&", "a", "x=1&x=2",
                                                           std::string(6000, 'q') + "=1"}),
                   {200});
      case 8: {
        static const std::vector<std::pair<std::string, int>> audit{
            {"limit=0", 400},        {"limit=1001", 400},   {"limit=-1", 400},
            {"limit=x", 400},        {"after=-5", 400},     {"after=x", 400},
            {"request=banana", 404}, {"request=AR-0", 404}, {"request=AR-99999", 200},
            {"request=%00", 404}};
        const auto& [q, status] = pick(audit);
        return get("/api/v1/audit?" + q, {status}, "admin");
      }
      case 9:
        return get("/login?" + broken_login_params(), {400}, "");
      case 10: {
        probe p;
        p.label = "POST /login with broken OAuth parameters";
        p.bytes =
            http_request("POST", "/login", "", "username=alice&password=x&" + broken_login_params(),
                         "application/x-www-form-urlencoded");
        p.allowed = {400};
        return p;
      }
      default: {
        probe p;
        p.label = "POST /oauth/token with a broken form";
        auto form = pick<std::string>(
            {"grant_type=password&username=alice&password=x&client_id=apono-cli",
             "grant_type=authorization_code&code=x&code_verifier=" + std::string(43, 'v') +
                 "&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&client_id=apono-cli",
             "grant_type=authorization_code&grant_type=authorization_code", "%zz", "a=%",
             "code=" + std::string(5000, 'c'), "", "&&&",
             "grant_type=authorization_code&code=x&code_verifier=short&redirect_uri=x&client_id="
             "apono-cli"});
        p.bytes =
            http_request("POST", "/oauth/token", "", form, "application/x-www-form-urlencoded");
        p.allowed = {400};
        return p;
      }
    }
  }

  probe bad_auth() {
    const auto& alice = ctx_.tokens.at("alice");
    // Authorization values that must not let anyone in.
    auto invalid = [&]() -> std::string {
      switch (below(18)) {
        case 0:
          return "";
        case 1:
          return "Bearer";
        case 2:
          return "Bearer  " + alice;
        case 3:
          return "Bearer " + alice + "x";
        case 4:
          return "Bearer " + alice.substr(0, below(alice.size()));
        case 5:
          return "Basic " + std::string("YWxpY2U6cGFzc3dvcmQ=");
        case 6:
          return pick<std::string>({"Token ", "Bearer:", "Bearer=", "Beare ", "Bearer\t"}) + alice;
        case 7:
          return alice;
        case 8:
          return "Bearer " + random_text(1 + below(600), "ABCDEFabcdef0123456789-_");
        case 9:
          return "Bearer " + random_text(513 + below(6000), "abc");
        case 10:
          return "Bearer " + apono::common::random_token();
        case 11:
          return "Bearer " + ctx_.revoked_token;
        case 12: {
          auto t = alice;
          auto i = 4 + below(t.size() - 4);
          t[i] = t[i] == 'A' ? 'B' : 'A';
          return "Bearer " + t;
        }
        case 13:
          return "Bearer " + apono::common::sha256_hex(alice);  // the stored hash is no token
        case 14: {
          auto t = alice;
          for (auto& ch : t) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
          return "Bearer " + t;
        }
        case 15: {
          auto s = random_bytes(1 + below(40));
          for (auto& ch : s) ch = static_cast<char>(0x80 | (static_cast<unsigned char>(ch) & 0x7f));
          return "Bearer " + s;
        }
        case 16:
          return "Bearer " + alice + ", Bearer " + alice;
        default:
          return pick<std::string>({"Negotiate YIIB", "Digest username=\"alice\"", "Bearer null",
                                    "Bearer undefined", "Bearer apn_", "Bearer \"" + alice + "\""});
      }
    };
    probe p;
    p.allowed = {401};
    switch (below(6)) {
      case 0:
      case 1:
      case 2: {
        // Every /api/v1 endpoint, including state-changing ones with bodies that would work.
        const auto& ai = ctx_.active_id;
        const auto& pi = ctx_.pending_id;
        static const std::vector<std::string> gets{
            "/api/v1/session",         "/api/v1/integrations", "/api/v1/access-requests?scope=all",
            "/api/v1/access-sessions", "/api/v1/audit",        "/api/v1/events?timeout=0",
            "/api/v1/bundles"};
        std::vector<std::pair<std::string, std::string>> posts{
            {"/api/v1/access-requests",
             R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"justification":"x"})"},
            {"/api/v1/access-requests/" + pi + "/approve", ""},
            {"/api/v1/access-requests/" + pi + "/reject", R"({"reason":"x"})"},
            {"/api/v1/access-requests/" + ai + "/revoke", ""},
            {"/api/v1/access-requests/" + ai + "/reset-credentials", ""},
            {"/api/v1/access-requests/" + ai + "/request-again", ""},
            {"/api/v1/session/revoke", ""}};
        auto auth = invalid();
        if (below(2)) {
          auto t = pick(gets);
          if (t == "/api/v1/access-sessions" && below(2))
            t = "/api/v1/access-sessions/" + ai + "/access-details";
          p.label = "GET " + t + " with a bad token";
          p.bytes = http_request("GET", t, auth, "");
        } else {
          const auto& [t, body] = posts[below(posts.size())];
          p.label = "POST " + t + " with a bad token";
          p.bytes = http_request("POST", t, auth, body);
        }
        return p;
      }
      case 3: {
        // Two Authorization headers, the first one bad: the bad one counts.
        p.label = "two Authorization headers, bad first";
        p.bytes = http_request("GET", "/api/v1/session", "", "", "",
                               {"Authorization: " + invalid(), "Authorization: Bearer " + alice});
        return p;
      }
      case 4: {
        // Spellings of a valid token that RFC 7235 makes equal: a case-insensitive scheme and
        // the optional whitespace HTTP strips around a field value.
        auto auth = pick<std::string>({"bearer " + alice, "BEARER " + alice, "bEaReR " + alice,
                                       "Bearer " + alice + " ", " Bearer " + alice,
                                       "Bearer " + alice + "\t"});
        p.label = "valid token, other spelling";
        p.bytes = http_request("GET",
                               pick<std::string>({"/api/v1/session", "/api/v1/access-requests",
                                                  "/api/v1/integrations"}),
                               auth, "");
        p.allowed = {200};
        return p;
      }
      default: {
        // Public endpoints ignore any token.
        auto t = pick<std::string>({"/healthz", "/readyz", "/api/v1/ssh/ca", "/metrics"});
        p.label = "GET " + t + " with a bad token";
        p.bytes = http_request("GET", t, invalid(), "");
        p.allowed = {200};
        return p;
      }
    }
  }

  probe odd_method() {
    static const std::vector<std::string> methods{
        "PATCH",   "PUT",      "DELETE", "OPTIONS", "TRACE",
        "CONNECT", "PROPFIND", "MKCOL",  "LOCK",    "SEARCH",
        "PURGE",   "FOO",      "get",    "post",    "GETT",
        "G",       "M-SEARCH", "Get",    "POST_",   std::string(100, 'X')};
    const auto& a = ctx_.active_id;
    std::vector<std::pair<std::string, std::set<int>>> paths{
        {"/healthz", {404}},
        {"/readyz", {404}},
        {"/metrics", {404}},
        {"/api/v1/ssh/ca", {404}},
        {"/login", {404}},
        {"/oauth/token", {404}},
        {"/nothing", {404}},
        {"/api/v1/session", {404}},
        {"/api/v1/access-requests", {404}},
        {"/api/v1/access-requests/" + a, {404}},
        {"/api/v1/access-requests/" + ctx_.pending_id + "/approve", {404}},
        {"/api/v1/access-requests/" + a + "/revoke", {404}},
        {"/api/v1/access-sessions/" + a + "/access-details", {404}},
        {"/api/v1/session/revoke", {404}}};
    auto [path, allowed] = paths[below(paths.size())];
    auto user = pick<std::string>({"alice", "approver", "admin", ""});
    // Every /api/v1 call needs a token first, except the public CA.
    if (user.empty() && path.starts_with("/api/v1/") && path != "/api/v1/ssh/ca") allowed = {401};
    probe p;
    if (below(8) == 0) {
      // HEAD: same status, never a body (RFC 9110 §9.3.2).
      p.label = "HEAD " + path;
      p.bytes = http_request("HEAD", path, bearer(user), "", "", {"Connection: close"});
      p.via = transport::own_tls;
      p.head = true;
      p.allowed = allowed;
      if (path == "/nothing") p.allowed = {200};  // a page of the portal: HEAD as GET
      return p;
    }
    if (below(20) == 0) {
      p.label = "OPTIONS *";
      p.bytes = http_request("OPTIONS", "*", bearer(user), "");
      p.allowed = {400};
      return p;
    }
    const auto& method = pick(methods);
    p.label = method.substr(0, 12) + " " + path;
    auto body = below(2) ? std::string() : std::string(R"({"reason":"x"})");
    p.bytes = http_request(method, path, bearer(user), body);
    p.allowed = allowed;
    return p;
  }

  probe http_garbage() {
    probe p;
    p.via = transport::own_tls;
    p.http_level = true;
    const std::string alice = "Authorization: Bearer " + ctx_.tokens.at("alice");
    auto raw = [&](std::string label, std::string bytes, std::set<int> allowed = {}) {
      p.label = std::move(label);
      p.bytes = std::move(bytes);
      p.allowed = std::move(allowed);
      return p;
    };
    const std::string start = "GET /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    switch (below(25)) {
      case 0: {
        auto n = pick<std::size_t>({8200, 20000, 100000, 1000000});
        return raw("huge header", start + "X-Big: " + std::string(n, 'a') + "\r\n\r\n", {400});
      }
      case 1: {
        auto n = pick<std::size_t>({1000, 5000});  // 11 bytes each: over the 8 KiB limit
        std::string h;
        for (std::size_t i = 0; i < n; ++i) h += "X-H" + std::to_string(i) + ": v\r\n";
        return raw("many headers", start + h + "\r\n", {400});
      }
      case 2:
        return raw(
            "huge Authorization header",
            start + "Authorization: Bearer " + std::string(10000 + below(20000), 't') + "\r\n\r\n",
            {400});
      case 3: {
        auto v = pick<std::string>({"abc", "-1", "+2", "1 2", "0x2", "99999999999999999999999", "",
                                    "2,3", "1.0", "2 ,", ",2", "２"});
        return raw("bad Content-Length '" + v + "'",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nContent-Length: " + v + "\r\n\r\n{}",
                   {400});
      }
      case 4:
        return raw("conflicting Content-Length",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
                   {400});
      case 5:
        // Repeated but equal values are allowed by RFC 9110 §8.6; {} is then an empty create.
        return raw("repeated equal Content-Length",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
                   {400});
      case 6:
        p.half_close = true;
        return raw("body shorter than Content-Length, then silence",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nContent-Length: " + std::to_string(100 + below(100000)) +
                       "\r\n\r\n{\"a",
                   {});
      case 7:
        p.half_close = true;
        return raw("headers cut off, then silence", start.substr(0, below(start.size())), {});
      case 8: {
        // Content-Length shorter than the body: the rest is read as a second request.
        return raw("body longer than Content-Length",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nContent-Length: 2\r\n\r\n{}" + random_text(1 + below(200), "xyz \r\n"),
                   {400});
      }
      case 9: {
        auto chunk = pick<std::string>(
            {"zz\r\n{}\r\n0\r\n\r\n", "-1\r\n{}\r\n0\r\n\r\n", "ffffffffffffffffffff\r\n{}\r\n",
             "2;\x01\r\n{}\r\n0\r\n\r\n", "2\r\n{}XX0\r\n\r\n", "0\r\nBad Trailer\r\n\r\n",
             "5\r\n{}\r\n0\r\n\r\n", "2 \r\n{}\r\n0\r\n\r\n", "\r\n\r\n", "2\n{}\n0\n\n",
             "0x2\r\n{}\r\n0\r\n\r\n", "2\r\n{}\r\n0\r\nX-T: \x01\r\n\r\n"});
        p.half_close = true;
        return raw("chunked garbage",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk,
                   {400});
      }
      case 10:
        return raw("chunk size over the limit",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       pick<std::string>({"40000000", "100001", "7fffffffffffffff"}) + "\r\n{}",
                   {413});
      case 11:
        return raw("Content-Length and Transfer-Encoding",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       (below(2) ? "\r\nContent-Length: 7\r\nTransfer-Encoding: chunked"
                                 : "\r\nTransfer-Encoding: chunked\r\nContent-Length: 7") +
                       "\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                   {400});
      case 12: {
        // A final coding other than chunked leaves the length unknown: 400 and close (RFC 9112
        // §6.3), never the rest read as another request. The rest here would revoke a grant.
        auto te = pick<std::string>(
            {"gzip", "identity", "chunked, gzip", "chunkedx", "x", "chunked, chunked"});
        auto smuggled =
            http_request("POST", "/api/v1/access-requests/" + ctx_.active_id + "/revoke",
                         "Bearer " + ctx_.tokens.at("alice"), "");
        return raw("Transfer-Encoding: " + te,
                   "POST /api/v1/session/revoke HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nTransfer-Encoding: " + te + "\r\n\r\n" + smuggled,
                   {400});
      }
      case 13: {
        auto line = pick<std::string>(
            {"GET /api/v1/session HTTP/1.1 x", "GET  /api/v1/session HTTP/1.1",
             "GET /api/v1/session HTTP/2.0", "GET /api/v1/session HTTP/1.10",
             "GET /api/v1/session HTTP/1", "GET /api/v1/session http/1.1", "GET /api/v1/session",
             "GET", "GET /api/v1/session HTTP/1.1\x01", " GET /api/v1/session HTTP/1.1",
             "GET\t/api/v1/session HTTP/1.1", "GET /api/v1/se\0ssion HTTP/1.1"s,
             "GE(T /api/v1/session HTTP/1.1", "PRI * HTTP/2.0", "GET /api/v1/session HTTP/0.9",
             "G\x80T / HTTP/1.1"});
        return raw("broken request line", line + "\r\nHost: 127.0.0.1\r\n" + alice + "\r\n\r\n",
                   {400});
      }
      case 14: {
        auto header =
            pick<std::string>({"NoColon", "X A: b", "X-A : b", "X-A: b\0c"s, "X-A: a\rb",
                               ": empty-name", "X(A): b", "X-A: \x7f", "\x80X: y", "X-A:\x01"});
        return raw("broken header " + json::serialize(json::string(header)),
                   start + header + "\r\n" + alice + "\r\n\r\n", {400});
      }
      case 24: {
        // Obsolete line folding: RFC 9112 §5.2 lets a server refuse it or read it as a space.
        auto header = pick<std::string>({" Folded: x", "X-A: b\r\n c", "X-A: b\r\n\tc"});
        return raw("obs-fold " + json::serialize(json::string(header)),
                   start + header + "\r\n" + alice + "\r\n\r\n", {200, 400});
      }
      case 15:
        // Bare LF line ends: either accepted as lines or refused, never a crash.
        return raw("bare LF", "GET /api/v1/session HTTP/1.1\nHost: 127.0.0.1\n" + alice + "\n\n",
                   {200, 400});
      case 16:
        return raw("duplicate Host", start + "Host: other\r\n" + alice + "\r\n\r\n", {200, 400});
      case 17: {
        auto n = 1 + below(4000);
        p.half_close = true;
        return raw("random bytes in TLS", random_bytes(n), {400});
      }
      case 18: {
        std::string junk;
        auto lines = 1 + below(20);
        for (std::size_t i = 0; i < lines; ++i)
          junk += random_text(below(200), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef :/?=&%-_.!*") + "\r\n";
        p.half_close = true;
        return raw("random text lines", junk + "\r\n", {400});
      }
      case 19:
        p.via = transport::plain_tcp;
        p.half_close = true;
        return raw("plain HTTP on the TLS port", start + alice + "\r\n\r\n", {});
      case 20:
        p.via = transport::plain_tcp;
        p.half_close = true;
        return raw("random bytes before TLS", random_bytes(1 + below(3000)), {});
      case 21:
        p.via = transport::plain_tcp;
        p.half_close = true;
        return raw("truncated TLS record",
                   std::string("\x16\x03\x01\x02\x00\x01", 6) + random_bytes(below(300)), {});
      case 22:
        return raw("Expect: 100-continue",
                   "POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n" + alice +
                       "\r\nExpect: 100-continue\r\nContent-Type: "
                       "application/json\r\nContent-Length: 5\r\n\r\n{\"a\"}",
                   {400});
      default:
        return raw("NUL bytes in the request", start + std::string("X-N: a\0b\r\n\r\n", 12), {400});
    }
  }

  std::mt19937_64 rng_;
  context ctx_;
  std::vector<body_endpoint> endpoints_;
};

// Raw HTTP/1.1 over TLS (or not), with a deadline on every exchange.
class raw_client {
 public:
  explicit raw_client(const broker_fixture& b) : ctx_(ssl::context::tls_client) {
    ctx_.load_verify_file(b.ca_file().string());
    ctx_.set_verify_mode(ssl::verify_peer);
    auto authority = b.url().substr(std::string("https://").size());
    auto colon = authority.rfind(':');
    host_ = authority.substr(0, colon);
    endpoint_ = tcp::endpoint(net::ip::make_address(host_),
                              static_cast<unsigned short>(std::stoi(authority.substr(colon + 1))));
  }

  reply send(const probe& p) {
    switch (p.via) {
      case transport::keep_alive: {
        if (!shared_ && !open(shared_)) return {};
        auto r = exchange(*shared_, buffer_, p);
        if (!r.answered || !r.keep_alive) {
          shared_.reset();
          buffer_.clear();
        }
        return r;
      }
      case transport::own_tls: {
        std::unique_ptr<tls_stream> s;
        if (!open(s)) return {};
        beast::flat_buffer buffer;
        return exchange(*s, buffer, p);
      }
      case transport::plain_tcp: {
        beast::tcp_stream s(ioc_);
        boost::system::error_code ec;
        bool done = false;
        s.async_connect(endpoint_, [&](boost::system::error_code e) {
          ec = e;
          done = true;
        });
        run_until([&] { return done; }, s, exchange_timeout);
        ++connections_;
        if (ec) return {};
        beast::flat_buffer buffer;
        return exchange(s, buffer, p);
      }
    }
    return {};
  }

  [[nodiscard]] std::size_t connections() const { return connections_; }

 private:
  using tls_stream = beast::ssl_stream<beast::tcp_stream>;

  // Runs the io_context until `done()`; past `limit` the connection is closed, which ends
  // whatever is pending on it with an error. False when the deadline struck.
  template <class Done>
  bool run_until(Done done, beast::tcp_stream& low, std::chrono::steady_clock::duration limit) {
    bool expired = false;
    net::steady_timer deadline(ioc_, limit);
    deadline.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      expired = true;
      boost::system::error_code ignored;
      low.socket().close(ignored);
    });
    ioc_.restart();
    while (!done() && ioc_.run_one() > 0) {
    }
    deadline.cancel();
    ioc_.restart();
    ioc_.poll();  // the cancelled wait's handler
    return !expired;
  }

  bool open(std::unique_ptr<tls_stream>& s) {
    s = std::make_unique<tls_stream>(ioc_, ctx_);
    s->set_verify_callback(ssl::host_name_verification(host_));
    auto& low = beast::get_lowest_layer(*s);
    boost::system::error_code ec;
    bool done = false;
    low.async_connect(endpoint_, [&](boost::system::error_code e) {
      ec = e;
      done = true;
    });
    run_until([&] { return done; }, low, exchange_timeout);
    if (!ec) {
      done = false;
      s->async_handshake(ssl::stream_base::client, [&](boost::system::error_code e) {
        ec = e;
        done = true;
      });
      run_until([&] { return done; }, low, exchange_timeout);
    }
    ++connections_;
    if (ec) s.reset();
    return !ec;
  }

  // Writes the probe while reading the answer, so an answer sent before the whole request
  // was read (a 400 for a huge header, a 413) is seen.
  template <class Stream>
  reply exchange(Stream& s, beast::flat_buffer& buffer, const probe& p) {
    auto& low = beast::get_lowest_layer(s);
    bool wrote = false, read = false;
    boost::system::error_code rec;
    net::async_write(s, net::buffer(p.bytes), [&](boost::system::error_code e, std::size_t) {
      wrote = true;
      if (!e && p.half_close) {
        boost::system::error_code ignored;
        low.socket().shutdown(tcp::socket::shutdown_send, ignored);
      }
    });
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(p.head);
    http::async_read(s, buffer, parser, [&](boost::system::error_code e, std::size_t) {
      rec = e;
      read = true;
    });
    reply r;
    r.timed_out = !run_until([&] { return wrote && read; }, low, exchange_timeout);
    if (!rec) {
      const auto& res = parser.get();
      r.answered = true;
      r.status = static_cast<int>(res.result_int());
      r.content_type = std::string(res[http::field::content_type]);
      r.body = res.body();
      r.keep_alive = res.keep_alive();
    }
    if (p.head && r.answered) {
      // Anything after the header, up to the close, would be a body.
      r.head_body = buffer.size() > 0;
      if (!r.head_body) {
        std::array<char, 64> scratch{};
        std::size_t n = 0;
        bool done = false;
        s.async_read_some(net::buffer(scratch), [&](boost::system::error_code, std::size_t k) {
          n = k;
          done = true;
        });
        run_until([&] { return done; }, low, 5s);
        r.head_body = n > 0;
      }
    }
    return r;
  }

  net::io_context ioc_;
  ssl::context ctx_;
  std::string host_;
  tcp::endpoint endpoint_;
  std::unique_ptr<tls_stream> shared_;
  beast::flat_buffer buffer_;
  std::size_t connections_ = 0;
};

std::string code_for(int status) {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 422:
      return "failed_precondition";
    case 503:
      return "unavailable";
    default:
      return "?";
  }
}

// What is wrong with `r` as an answer to `p`; empty when nothing is.
std::string judge(const probe& p, const reply& r, const std::vector<std::string>& secrets) {
  if (!r.answered) {
    if (r.timed_out) return "no answer within the deadline";
    return p.http_level ? std::string() : "connection closed without an answer";
  }
  if (r.status >= 500) return "status " + std::to_string(r.status);
  if (!p.allowed.empty() && !p.allowed.count(r.status)) {
    std::string want;
    for (int s : p.allowed) want += (want.empty() ? "" : "/") + std::to_string(s);
    return "status " + std::to_string(r.status) + ", expected " + want + ": " +
           r.body.substr(0, 300);
  }
  if (r.head_body) return "a HEAD answer carried a body";
  if (r.content_type.starts_with("application/json") && !p.head) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec) return "a JSON answer that does not parse";
    if (r.status >= 400 && !p.head) {
      const auto* e = v.is_object() ? v.get_object().if_contains("error") : nullptr;
      if (!e || !e->is_object() || !e->get_object().contains("code") ||
          !e->get_object().contains("message") || !e->at("code").is_string() ||
          !e->at("message").is_string() || e->get_object().size() != 2 || v.as_object().size() != 1)
        return "error body without the documented shape: " + r.body.substr(0, 300);
      if (e->at("code").get_string() != code_for(r.status).c_str())
        return "error code " + std::string(e->at("code").get_string()) + " for status " +
               std::to_string(r.status);
      if (!p.must_mention.empty() &&
          std::string_view(e->at("message").get_string()).find(p.must_mention) ==
              std::string_view::npos)
        return "the message does not name '" + p.must_mention + "': " + r.body.substr(0, 300);
    }
  } else if (r.status >= 400 && !p.head && !r.content_type.starts_with("text/html")) {
    return "an error answer of type '" + r.content_type + "'";
  }
  for (const auto& s : secrets)
    if (r.body.find(s) != std::string::npos) return "a secret in the answer";
  return {};
}

std::string distribution(const std::map<int, std::size_t>& statuses, std::size_t closed) {
  std::string out;
  for (const auto& [status, n] : statuses)
    out += (out.empty() ? "" : " ") + std::to_string(status) + "=" + std::to_string(n);
  if (closed) out += (out.empty() ? "" : " ") + std::string("closed=") + std::to_string(closed);
  return out;
}

}  // namespace

TEST_CASE("10,000 malformed API requests: no 5xx, no crash, no junk", "[malformed]") {
  std::uint64_t seed = default_seed;
  if (const char* s = std::getenv("APONO_MALFORMED_SEED"); s && *s) seed = std::stoull(s);

  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg, {}, APONOD_PORTAL_FIXTURE);

  // The state malformed input might disturb: an ACTIVE and a PENDING request of alice's, and
  // a login token that was revoked.
  context ctx;
  for (const auto* u : {"admin", "approver", "alice", "bob"}) ctx.tokens[u] = b.token(u);
  auto active = create_request(b, "alice", "appdb", "read_only", "4h");
  REQUIRE(active.status == 201);
  ctx.active_id = std::string(active.json.at("id").as_string());
  REQUIRE(wait_until([&] { return request_status(b, "alice", ctx.active_id) == "ACTIVE"; }, 30s));
  auto pending = create_request(b, "alice", "appdb", "read_write", "1h");
  REQUIRE(pending.status == 201);
  ctx.pending_id = std::string(pending.json.at("id").as_string());
  REQUIRE(pending.json.at("status") == "PENDING");
  ctx.active_n = *apono::common::parse_request_id(ctx.active_id);
  auto ca = b.call("", "GET", "/api/v1/ssh/ca");
  REQUIRE(ca.status == 200);
  ctx.ssh_key = ca.body.substr(0, ca.body.find('\n'));
  {
    // A token issued by login and revoked at once (the CLI's `apono logout`).
    auto login_token = [&]() -> std::string {
      const auto verifier = apono::common::base64url(apono::common::random_bytes(32));
      const auto challenge = apono::common::base64url(apono::common::sha256(verifier));
      raw_client c(b);
      probe p;
      p.via = transport::own_tls;
      p.bytes = http_request(
          "POST", "/login", "",
          "username=bob&password=" + b.password("bob") +
              "&response_type=code&client_id=apono-cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%"
              "2Fcb&code_challenge=" +
              challenge + "&code_challenge_method=S256",
          "application/x-www-form-urlencoded");
      auto r = c.send(p);
      REQUIRE(r.status == 302);
      auto at = r.body.find("code=");
      REQUIRE(at != std::string::npos);
      auto code = r.body.substr(at + 5, r.body.find('"', at) - at - 5);
      apono::common::http_client cli({b.url(), b.ca_file(), "", 10s});
      auto t = cli.request("POST", "/oauth/token",
                           json::serialize(json::object{{"grant_type", "authorization_code"},
                                                        {"code", code},
                                                        {"code_verifier", verifier},
                                                        {"redirect_uri", "http://127.0.0.1:1/cb"},
                                                        {"client_id", "apono-cli"}}));
      REQUIRE(t.status == 200);
      return std::string(json::parse(t.body).at("access_token").as_string());
    };
    ctx.revoked_token = login_token();
    apono::common::http_client cli({b.url(), b.ca_file(), ctx.revoked_token, 10s});
    REQUIRE(cli.request("POST", "/api/v1/session/revoke").status == 200);
    REQUIRE(cli.request("GET", "/api/v1/session").status == 401);
  }
  auto audit_before = b.call("admin", "GET", "/api/v1/audit?limit=1000");
  REQUIRE(audit_before.status == 200);
  const auto audit_head = audit_before.json.as_array().back().at("id").as_int64();

  // Secrets no answer may carry: every dev token and password, and the revoked token.
  std::vector<std::string> secrets{ctx.revoked_token};
  for (const auto* u : {"admin", "approver", "alice", "bob"}) {
    secrets.push_back(b.token(u));
    secrets.push_back(b.password(u));
  }

  std::printf("malformed API requests: seed %llu (APONO_MALFORMED_SEED to replay another)\n",
              static_cast<unsigned long long>(seed));
  generator gen(seed, ctx);
  // Categories interleaved in a fixed, seeded order, so connections see every mix.
  std::vector<category> order;
  for (std::size_t c = 0; c < category_count; ++c)
    order.insert(order.end(), category_sizes[c], static_cast<category>(c));
  std::shuffle(order.begin(), order.end(), gen.rng());

  raw_client client(b);
  std::array<std::map<int, std::size_t>, category_count> statuses;
  std::array<std::size_t, category_count> closed{};
  std::map<int, std::size_t> all;
  std::size_t all_closed = 0, failures = 0;
  std::vector<std::string> first_failures;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < order.size(); ++i) {
    auto p = gen.make(order[i]);
    auto r = client.send(p);
    auto c = static_cast<std::size_t>(p.cat);
    if (r.answered) {
      ++statuses[c][r.status];
      ++all[r.status];
    } else {
      ++closed[c];
      ++all_closed;
    }
    auto problem = judge(p, r, secrets);
    if (!problem.empty()) {
      ++failures;
      if (first_failures.size() < 40)
        first_failures.push_back("#" + std::to_string(i) + " " + category_names[c] + " [" +
                                 p.label.substr(0, 160) + "]: " + problem);
    }
  }
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::size_t total = 0, fivexx = 0;
  for (const auto& [status, n] : all) {
    total += n;
    if (status >= 500) fivexx += n;
  }
  total += all_closed;
  for (std::size_t c = 0; c < category_count; ++c) {
    std::size_t n = closed[c];
    for (const auto& [status, k] : statuses[c]) n += k;
    std::printf("  %-12s %5zu  %s\n", category_names[c], n,
                distribution(statuses[c], closed[c]).c_str());
  }
  std::printf(
      "malformed API requests: %zu sent (seed %llu) in %.1f s over %zu connections; statuses %s; "
      "%zu x 5xx; %zu unexpected answers; aponod %s\n",
      total, static_cast<unsigned long long>(seed), seconds, client.connections(),
      distribution(all, all_closed).c_str(), fivexx, failures,
      b.process().running() ? "alive" : "DEAD");
  for (const auto& f : first_failures) std::printf("  %s\n", f.c_str());

  CHECK(total == 10000);
  CHECK(fivexx == 0);
  CHECK(failures == 0);
  REQUIRE(b.process().running());

  // Normal requests still work.
  CHECK(b.call("alice", "GET", "/api/v1/session").status == 200);
  CHECK(b.call("alice", "GET", "/healthz").status == 200);
  auto dry = b.call(
      "alice", "POST", "/api/v1/access-requests",
      R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"justification":"after","dry_run":true})");
  CHECK(dry.status == 200);

  // Nothing made by malformed input: the same two requests in the same states, and not one
  // audit event since (no request, decision, credential fetch, login or token).
  auto list = b.call("admin", "GET", "/api/v1/access-requests?scope=all");
  REQUIRE(list.status == 200);
  std::map<std::string, std::string> requests;
  for (const auto& r : list.json.as_array())
    requests[std::string(r.at("id").as_string())] = std::string(r.at("status").as_string());
  CHECK(requests ==
        std::map<std::string, std::string>{{ctx.active_id, "ACTIVE"}, {ctx.pending_id, "PENDING"}});
  auto audit_after = b.call("admin", "GET", "/api/v1/audit?after=" + std::to_string(audit_head));
  REQUIRE(audit_after.status == 200);
  INFO(audit_after.body.substr(0, 2000));
  CHECK(audit_after.json.as_array().empty());
  auto metrics = b.call("", "GET", "/metrics");
  CHECK(metrics.body.find("apono_http_requests_total{class=\"5xx\"} 0") != std::string::npos);

  // A clean exit, and no sanitizer or internal-error report on the way.
  CHECK(b.stop() == 0);
  auto log = b.log();
  for (const auto* bad : {"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                          "runtime error:", "internal error", "handler for"}) {
    INFO(bad);
    CHECK(log.find(bad) == std::string::npos);
  }
}
