// Browser login. The verifier never leaves this process until the token exchange, so a code
// intercepted on the redirect is useless to anyone else (RFC 7636).
#include "cli/browser_login.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <fcntl.h>

#include <chrono>
#include <ostream>
#include <thread>

#include "cli/api_client.hpp"
#include "common/http_client.hpp"
#include "common/secrets.hpp"

extern char** environ;

namespace apono::cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

std::string sha256_base64url(std::string_view s) {
  auto hex = common::sha256_hex(s);
  std::string raw;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return common::base64url(raw);
}

void try_open(const std::string& url) {
  // Best effort: a headless machine has no opener, and the printed URL is enough.
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if (posix_spawnp(&pid, "xdg-open", &fa, nullptr, const_cast<char**>(argv), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
  }
  posix_spawn_file_actions_destroy(&fa);
}

std::string page(const std::string& title, const std::string& text) {
  return "<!doctype html><meta charset=utf-8><title>" + title + "</title><p>" + text + "</p>";
}

}  // namespace

std::string browser_login(const std::string& server, const std::string& ca_file, bool open_browser,
                          io& streams) {
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  auto port = acceptor.local_endpoint().port();
  std::string redirect = "http://127.0.0.1:" + std::to_string(port) + "/callback";
  std::string verifier = common::base64url(common::random_bytes(32));
  std::string state = common::base64url(common::random_bytes(16));
  std::string url = server + "/login?response_type=code&client_id=apono-cli&redirect_uri=" +
                    url_encode(redirect) + "&code_challenge=" + sha256_base64url(verifier) +
                    "&code_challenge_method=S256&state=" + state;
  streams.err << "Open this URL in a browser to log in:\n  " << url << "\n"
              << "Waiting for the browser (5 minutes at most)...\n";
  streams.err.flush();
  if (open_browser) try_open(url);

  // Serve the redirect: one request that carries our state, anything else gets a 404 and we
  // keep waiting (browsers also ask for /favicon.ico).
  std::string code;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes{5};
  while (code.empty()) {
    beast::tcp_stream stream(ioc);
    boost::system::error_code ec;
    // Accept without blocking past the deadline: poll every 50 ms.
    acceptor.non_blocking(true);
    while (true) {
      tcp::socket s(ioc);
      acceptor.accept(s, ec);
      if (!ec) {
        stream.socket() = std::move(s);
        break;
      }
      if (ec != net::error::would_block && ec != net::error::try_again)
        throw std::runtime_error("login callback listener failed: " + ec.message());
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("login timed out: no answer from the browser within 5 minutes");
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    stream.socket().non_blocking(false);
    stream.expires_after(std::chrono::seconds{10});
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::read(stream, buf, req, ec);
    if (ec) continue;
    http::response<http::string_body> res;
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.set(http::field::connection, "close");
    auto parsed =
        boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
    std::string got_state, got_code, error;
    if (parsed && parsed->path() == "/callback") {
      for (auto p : parsed->params()) {
        if (p.key == "state") got_state = p.value;
        if (p.key == "code") got_code = p.value;
        if (p.key == "error") error = p.value;
      }
    }
    if (!parsed || parsed->path() != "/callback") {
      res.result(http::status::not_found);
      res.body() = page("Not found", "Not found.");
    } else if (!common::constant_time_equal(got_state, state)) {
      res.result(http::status::bad_request);
      res.body() = page(
          "apono login",
          "This login link does not belong to the waiting apono login. Run apono login again.");
    } else if (!error.empty() || got_code.empty()) {
      res.result(http::status::bad_request);
      res.body() = page("apono login", "Login failed. You can close this tab.");
      res.prepare_payload();
      http::write(stream, res, ec);
      throw std::runtime_error("login failed in the browser" +
                               (error.empty() ? std::string() : ": " + error));
    } else {
      res.result(http::status::ok);
      res.body() =
          page("apono login",
               "You are logged in to apono. You can close this tab and return to the terminal.");
      code = got_code;
    }
    res.prepare_payload();
    http::write(stream, res, ec);
  }

  common::http_client token_client({server, ca_file, "", std::chrono::seconds{30}});
  json::object body{{"grant_type", "authorization_code"},
                    {"code", code},
                    {"code_verifier", verifier},
                    {"redirect_uri", redirect},
                    {"client_id", "apono-cli"}};
  auto r = token_client.request("POST", "/oauth/token", json::serialize(body));
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (r.status != 200 || ec || !v.is_object() || !v.as_object().contains("access_token")) {
    std::string msg = "the broker refused the login code";
    if (!ec && v.is_object())
      if (auto* e = v.as_object().if_contains("error"); e && e->is_object())
        if (auto* m = e->as_object().if_contains("message"); m && m->is_string())
          msg += ": " + std::string(m->get_string());
    throw std::runtime_error(msg);
  }
  return std::string(v.at("access_token").as_string());
}

}  // namespace apono::cli
