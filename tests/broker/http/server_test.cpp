// The HTTPS server end to end, driven through apono::common::http_client and a raw Beast
// client: round trips, keep-alive, limits, handler failures, TLS trust, timeouts and stop().
#include "broker/http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "broker/tls/certificates.hpp"
#include "common/http_client.hpp"
#include "tests/support/process.hpp"

namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using apono::broker::http::request;
using apono::broker::http::response;
using namespace std::chrono_literals;

using apono::test::temp_dir;

// Echoes the request as JSON; /throw throws, /slow waits 3 s before answering.
net::awaitable<response> echo(request req) {
  if (req.target == "/throw") throw std::runtime_error("boom");
  if (req.target == "/slow") {
    net::steady_timer timer(co_await net::this_coro::executor, 3s);
    co_await timer.async_wait(net::use_awaitable);
  }
  json::object o;
  o["method"] = req.method;
  o["target"] = req.target;
  o["authorization"] = req.authorization;
  o["content_type"] = req.content_type;
  o["body"] = req.body;
  o["remote"] = req.remote;
  json::array headers;
  for (const auto& [name, value] : req.headers) headers.push_back(json::array{name, value});
  o["headers"] = std::move(headers);
  response res;
  res.body = json::serialize(o);
  res.headers.emplace_back("X-Test", "yes");
  co_return res;
}

// A server on 127.0.0.1:<free port> with its io_context run by two threads, so per-connection
// strands matter.
struct fixture {
  temp_dir dir;
  apono::broker::tls_files tls = apono::broker::ensure_tls(dir.path, {"localhost", "127.0.0.1"});
  net::io_context ioc;
  apono::broker::http::server server{
      ioc, {"127.0.0.1", 0, tls.server_cert, tls.server_key, 1024 * 1024}, echo};
  std::thread t1{[this] { ioc.run(); }};
  std::thread t2{[this] { ioc.run(); }};

  ~fixture() {
    server.stop();
    t1.join();
    t2.join();
  }

  [[nodiscard]] std::string url() const {
    return "https://127.0.0.1:" + std::to_string(server.port());
  }

  [[nodiscard]] apono::common::http_client client(std::chrono::milliseconds timeout = 10s) const {
    return apono::common::http_client({url(), tls.ca_cert, {}, timeout});
  }
};

json::object parse(const std::string& body) {
  return json::parse(body).as_object();
}

// The raw HTTP/1.1 exchange, for what http_client does not expose (headers, bad requests).
beast::http::response<beast::http::string_body> raw_exchange(const fixture& f,
                                                             const std::string& bytes) {
  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file(f.tls.ca_cert.string());
  ctx.set_verify_mode(net::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), f.server.port()));
  stream.handshake(net::ssl::stream_base::client);
  net::write(stream, net::buffer(bytes));
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> res;
  beast::http::read(stream, buffer, res);
  return res;
}

}  // namespace

TEST_CASE("server answers GET and POST through the client", "[http]") {
  fixture f;
  auto client = f.client();

  auto get = client.request("GET", "/v1/things?x=1");
  CHECK(get.status == 200);
  CHECK(get.content_type == "application/json");
  auto o = parse(get.body);
  CHECK(o["method"] == "GET");
  CHECK(o["target"] == "/v1/things?x=1");
  CHECK(o["authorization"] == "");
  CHECK(o["body"] == "");

  client.set_token("apn_secret");
  auto post = client.request("POST", "/v1/requests", R"({"a":1})");
  CHECK(post.status == 200);
  o = parse(post.body);
  CHECK(o["method"] == "POST");
  CHECK(o["authorization"] == "Bearer apn_secret");
  CHECK(o["content_type"] == "application/json");
  CHECK(o["body"] == R"({"a":1})");
}

TEST_CASE("handlers see every header; the client can send exactly the headers it chose", "[http]") {
  fixture f;
  auto client = f.client();
  client.set_token("apn_not_sent");
  auto res = client.request("POST", "/signed", "Action=X",
                            {{"Content-Type", "application/x-www-form-urlencoded"},
                             {"X-Amz-Date", "20150830T123600Z"},
                             {"Authorization", "AWS4-HMAC-SHA256 ..."}},
                            10s);
  REQUIRE(res.status == 200);
  auto o = parse(res.body);
  CHECK(o["content_type"] == "application/x-www-form-urlencoded");
  CHECK(o["authorization"] == "AWS4-HMAC-SHA256 ...");
  // Lower-cased names in the order sent; no User-Agent, Accept or bearer token was added.
  const json::array expected = {json::array{"host", client.host_header()},
                                json::array{"content-type", "application/x-www-form-urlencoded"},
                                json::array{"x-amz-date", "20150830T123600Z"},
                                json::array{"authorization", "AWS4-HMAC-SHA256 ..."},
                                json::array{"content-length", "8"}};
  CHECK(o["headers"] == expected);
  CHECK(client.host_header() == "127.0.0.1:" + std::to_string(f.server.port()));
  CHECK(client.request_target("/x?y=1") == "/x?y=1");

  // Without a Content-Type of its own, a body is still sent as JSON.
  o = parse(client.request("POST", "/signed", "{}", {}, 10s).body);
  CHECK(o["content_type"] == "application/json");
  // Header injection is refused before anything is sent.
  CHECK_THROWS_AS(client.request("GET", "/", "", {{"X-A", "1\r\nX-B: 2"}}, 10s),
                  std::invalid_argument);
  CHECK_THROWS_AS(client.request("GET", "/", "", {{"Host", "elsewhere"}}, 10s),
                  std::invalid_argument);

  // The plain overloads still send their usual headers.
  o = parse(client.request("GET", "/plain").body);
  bool has_agent = false, has_bearer = false;
  for (const auto& h : o["headers"].as_array()) {
    has_agent = has_agent || h.as_array()[0] == "user-agent";
    has_bearer = has_bearer || h.as_array()[1] == "Bearer apn_not_sent";
  }
  CHECK(has_agent);
  CHECK(has_bearer);
}

TEST_CASE("server keeps the connection alive between requests", "[http]") {
  fixture f;
  auto client = f.client();
  auto first = parse(client.request("GET", "/a").body);
  auto second = parse(client.request("GET", "/b").body);
  // Same peer port means the same TCP connection.
  CHECK(first["remote"] == second["remote"]);
  auto other = f.client();
  CHECK(parse(other.request("GET", "/c").body)["remote"] != first["remote"]);
}

TEST_CASE("server answers 413 to a body over the limit and closes", "[http]") {
  fixture f;
  auto client = f.client();
  auto first = parse(client.request("GET", "/before").body);
  auto res = client.request("POST", "/big", std::string(2 * 1024 * 1024, 'x'));
  CHECK(res.status == 413);
  CHECK(res.content_type == "application/json");
  CHECK(res.body ==
        R"({"error":{"code":"payload_too_large","message":"request body exceeds 1048576 bytes"}})");
  // The client reconnects on its own after the server closed.
  auto after = client.request("GET", "/after");
  CHECK(after.status == 200);
  CHECK(parse(after.body)["remote"] != first["remote"]);
}

TEST_CASE("server answers 500 when the handler throws", "[http]") {
  fixture f;
  auto client = f.client();
  auto res = client.request("GET", "/throw");
  CHECK(res.status == 500);
  CHECK(res.body == R"({"error":{"code":"internal","message":"internal error"}})");
  CHECK(client.request("GET", "/fine").status == 200);
}

TEST_CASE("server sets its headers and answers 400 to malformed HTTP", "[http]") {
  fixture f;
  auto ok = raw_exchange(f, "GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(ok.result_int() == 200);
  CHECK(ok[beast::http::field::server] == "aponod");
  CHECK(ok[beast::http::field::cache_control] == "no-store");
  CHECK(ok[beast::http::field::content_type] == "application/json");
  CHECK(ok["X-Test"] == "yes");

  auto bad = raw_exchange(f, "NOT HTTP AT ALL\r\n\r\n");
  CHECK(bad.result_int() == 400);
  CHECK(!bad.keep_alive());
  auto o = parse(bad.body());
  CHECK(o["error"].as_object()["code"] == "invalid_argument");
}

TEST_CASE("client refuses a server its CA did not sign", "[http]") {
  fixture f;
  temp_dir other;
  const auto other_tls = apono::broker::ensure_tls(other.path, {"127.0.0.1"});
  apono::common::http_client client({f.url(), other_tls.ca_cert, {}, 5s});
  CHECK_THROWS_WITH(client.request("GET", "/"),
                    Catch::Contains("TLS verification failed for " + f.url()));
}

TEST_CASE("client refuses a certificate for another name", "[http]") {
  temp_dir dir;
  const auto tls = apono::broker::ensure_tls(dir.path, {"broker.example"});
  net::io_context ioc;
  apono::broker::http::server server{ioc, {"127.0.0.1", 0, tls.server_cert, tls.server_key}, echo};
  std::thread t{[&] { ioc.run(); }};
  apono::common::http_client client(
      {"https://127.0.0.1:" + std::to_string(server.port()), tls.ca_cert, {}, 5s});
  CHECK_THROWS_WITH(client.request("GET", "/"), Catch::Contains("TLS verification failed") &&
                                                    Catch::Contains("IP address mismatch"));
  server.stop();
  t.join();
}

TEST_CASE("client reports an unreachable server plainly", "[http]") {
  net::io_context ioc;
  net::ip::tcp::acceptor probe(ioc, {net::ip::make_address("127.0.0.1"), 0});
  const auto port = probe.local_endpoint().port();
  probe.close();
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  apono::common::http_client client({url, {}, {}, 5s});
  CHECK_THROWS_WITH(client.request("GET", "/"),
                    Catch::Equals("cannot reach " + url + ": Connection refused"));
  apono::common::http_client plain({"http://127.0.0.1:" + std::to_string(port), {}, {}, 5s});
  CHECK_THROWS_WITH(plain.request("GET", "/"), Catch::StartsWith("cannot reach http://"));
}

// A plain-HTTP peer that promises keep-alive but closes after every response, as a server
// does when its idle timeout fires between two requests.
net::awaitable<void> forgetful_server(net::ip::tcp::acceptor& acceptor, int& accepted,
                                      std::atomic<int>& closed) {
  for (;;) {
    {
      auto socket = co_await acceptor.async_accept(net::use_awaitable);
      ++accepted;
      beast::flat_buffer buffer;
      beast::http::request<beast::http::string_body> req;
      co_await beast::http::async_read(socket, buffer, req, net::use_awaitable);
      beast::http::response<beast::http::string_body> res{beast::http::status::ok, 11};
      res.set(beast::http::field::content_type, "text/plain");
      res.body() = req.target();
      res.keep_alive(true);
      res.prepare_payload();
      co_await beast::http::async_write(socket, res, net::use_awaitable);
    }
    ++closed;  // the socket went with its scope, keep-alive promised or not
  }
}

TEST_CASE("client resends once on a fresh connection when the old one was closed", "[http]") {
  net::io_context ioc;
  net::ip::tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  int accepted = 0;
  std::atomic<int> closed = 0;
  net::co_spawn(ioc, forgetful_server(acceptor, accepted, closed), [](std::exception_ptr) {});
  std::thread t{[&] { ioc.run(); }};
  apono::common::http_client client({"http://127.0.0.1:" + std::to_string(port), {}, {}, 5s});
  auto first = client.request("GET", "/one");
  CHECK(first.status == 200);
  CHECK(first.body == "/one");
  CHECK(first.content_type == "text/plain");
  // The second request must find the kept connection closed under it.
  REQUIRE(apono::test::wait_until([&] { return closed.load() == 1; }, 30s));
  CHECK(client.request("POST", "/two", "{}").body == "/two");
  ioc.stop();
  t.join();
  CHECK(accepted == 2);
}

TEST_CASE("client rejects unusable base URLs", "[http]") {
  CHECK_THROWS_WITH(apono::common::http_client({"ftp://127.0.0.1:1", {}, {}, 1s}),
                    Catch::Contains("unsupported URL scheme"));
  CHECK_THROWS_WITH(apono::common::http_client({"not a url", {}, {}, 1s}),
                    Catch::Contains("invalid URL"));
}

TEST_CASE("server bind failure names the address", "[http]") {
  fixture f;
  net::io_context ioc;
  CHECK_THROWS_WITH(
      apono::broker::http::server(
          ioc, {"127.0.0.1", f.server.port(), f.tls.server_cert, f.tls.server_key}, echo),
      Catch::StartsWith("cannot listen on 127.0.0.1:" + std::to_string(f.server.port()) + ": "));
}

TEST_CASE("client times out on a slow handler, and stop() cancels it", "[http]") {
  fixture f;
  auto client = f.client(500ms);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(client.request("GET", "/slow"),
                    Catch::Equals("timed out after 500ms waiting for " + f.url()));
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  // The client recovers with a new connection.
  CHECK(client.request("GET", "/fine").status == 200);

  // The /slow handler is still waiting on its 3 s timer; stop() must cut it short.
  const auto stop_start = std::chrono::steady_clock::now();
  f.server.stop();
  f.t1.join();
  f.t2.join();
  CHECK(std::chrono::steady_clock::now() - stop_start < 1s);
  f.t1 = std::thread([] {});
  f.t2 = std::thread([] {});
}
