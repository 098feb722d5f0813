// aponod under test.
#include "tests/support/broker_fixture.hpp"

#include <csignal>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <cctype>

#include "common/secrets.hpp"

namespace apono::test {

namespace json = boost::json;

raw_answer raw_https(const broker_fixture& b, const std::string& method, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body) {
  namespace net = boost::asio;
  namespace ssl = net::ssl;
  namespace beast = boost::beast;
  namespace http = beast::http;
  const auto authority = b.url().substr(std::string("https://").size());
  const auto colon = authority.rfind(':');
  const auto host = authority.substr(0, colon);
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(b.ca_file().string());
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_callback(ssl::host_name_verification(host));
  net::ip::tcp::resolver resolver(ioc);
  beast::get_lowest_layer(stream).connect(resolver.resolve(host, authority.substr(colon + 1)));
  stream.handshake(ssl::stream_base::client);
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, authority);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  // The answer to HEAD announces a body it does not send (RFC 9110 §9.3.2).
  if (method == "HEAD") parser.skip(true);
  http::read(stream, buffer, parser);
  auto& res = parser.get();
  raw_answer a;
  a.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    a.headers[name] = std::string(f.value());
  }
  a.body = res.body();
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  return a;
}

broker_fixture::broker_fixture(const pg_fixture& pg, std::vector<std::string> extra_args,
                               std::string binary)
    : pg_(pg), extra_args_(std::move(extra_args)), binary_(std::move(binary)) {
  dir_ = make_temp_dir("aponod-test") / "data";
  port_ = free_port();
  start();
}

broker_fixture::broker_fixture(const pg_fixture& pg, std::vector<std::string> extra_args,
                               const broker_fixture& first)
    : pg_(pg), extra_args_(std::move(extra_args)) {
  dir_ = make_temp_dir("aponod-test") / "data";
  port_ = free_port();
  common::ensure_private_dir(dir_);
  for (const char* name : {"dev-credentials.json", "ssh_user_ca.pem", "store.key"})
    std::filesystem::copy_file(first.data_dir() / name, dir_ / name);
  start();
}

broker_fixture::~broker_fixture() {
  clients_.clear();
  proc_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_.parent_path(), ec);
}

void broker_fixture::start() {
  clients_.clear();
  proc_.reset();
  // The credentials file keeps the last run's URL; clear it so readiness means this process.
  auto creds = dir_ / "dev-credentials.json";
  if (std::filesystem::exists(creds)) {
    auto v = json::parse(common::read_file(creds));
    v.as_object()["api_url"] = nullptr;
    common::write_private_file(creds, json::serialize(v));
  }
  std::vector<std::string> argv{binary_, "--dev", "--data-dir", dir_.string()};
  argv.insert(argv.end(), {"--listen", "127.0.0.1:" + std::to_string(port_), "--pg-target",
                           pg_.admin_url(), "--log-level", "debug"});
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  proc_ = std::make_unique<child_process>(argv, dir_.parent_path() / "aponod.log");
  wait_ready();
}

void broker_fixture::wait_ready() {
  auto creds = dir_ / "dev-credentials.json";
  bool ok = wait_until(
      [&] {
        if (!proc_->running()) throw std::runtime_error("aponod exited at start:\n" + log());
        std::error_code ec;
        if (!std::filesystem::exists(creds, ec)) return false;
        try {
          auto v = json::parse(common::read_file(creds));
          if (!v.at("api_url").is_string()) return false;
          url_ = std::string(v.at("api_url").as_string());
          for (const auto& u : v.at("users").as_array()) {
            std::string name(u.at("name").as_string());
            tokens_[name] = std::string(u.at("token").as_string());
            passwords_[name] = std::string(u.at("password").as_string());
          }
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds{30});
  if (!ok) throw std::runtime_error("aponod did not become ready:\n" + log());
  ok = wait_until(
      [&] {
        try {
          return call("", "GET", "/readyz").status == 200;
        } catch (const std::exception&) {
          return false;  // not listening yet
        }
      },
      std::chrono::seconds{30});
  if (!ok) throw std::runtime_error("aponod /readyz did not answer 200:\n" + log());
}

void broker_fixture::kill9() {
  clients_.clear();
  proc_->signal(SIGKILL);
  proc_->wait(std::chrono::seconds{10});
}

int broker_fixture::stop() {
  clients_.clear();
  proc_->signal(SIGTERM);
  return proc_->wait(std::chrono::seconds{20});
}

std::string broker_fixture::token(const std::string& user) const {
  return tokens_.at(user);
}

std::string broker_fixture::password(const std::string& user) const {
  return passwords_.at(user);
}

api_answer broker_fixture::call(const std::string& user, const std::string& method,
                                const std::string& target, const std::string& body) {
  auto& c = clients_[user];
  if (!c) {
    common::http_client_options o;
    o.base_url = url_;
    o.ca_file = ca_file();
    if (!user.empty()) o.bearer_token = tokens_.at(user);
    c = std::make_unique<common::http_client>(o);
  }
  auto res = c->request(method, target, body);
  api_answer a;
  a.status = res.status;
  a.body = res.body;
  boost::system::error_code ec;
  auto v = json::parse(res.body, ec);
  if (!ec) a.json = std::move(v);
  return a;
}

std::string broker_fixture::log() const {
  try {
    return common::read_file(dir_.parent_path() / "aponod.log");
  } catch (const std::exception&) {
    return {};
  }
}

api_answer create_request(broker_fixture& b, const std::string& user, const std::string& resource,
                          const std::string& permission, const std::string& duration,
                          const std::string& justification) {
  json::object body{{"integration", "pg-local"},
                    {"resource_type", "database"},
                    {"resources", json::array{json::value(resource)}},
                    {"permissions", json::array{json::value(permission)}},
                    {"duration", duration},
                    {"justification", justification}};
  return b.call(user, "POST", "/api/v1/access-requests", json::serialize(body));
}

std::string request_status(broker_fixture& b, const std::string& user, const std::string& id) {
  auto a = b.call(user, "GET", "/api/v1/access-requests/" + id);
  if (a.status != 200 || !a.json.is_object()) return {};
  return std::string(a.json.at("status").as_string());
}

common::time_point status_changed_at(broker_fixture& b, const std::string& id,
                                     const std::string& status) {
  auto a = b.call("admin", "GET", "/api/v1/events?after=0&timeout=0");
  if (a.status == 200 && a.json.is_object()) {
    for (const auto& e : a.json.at("events").as_array()) {
      if (e.at("request_id") != id.c_str() || e.at("status") != status.c_str()) continue;
      if (auto at = common::parse_rfc3339(e.at("at").as_string())) return *at;
    }
  }
  throw std::runtime_error("no " + status + " event for " + id + " in the feed: " + a.body);
}

}  // namespace apono::test
