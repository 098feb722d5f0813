// Connecting to the real server: TCP with a deadline, then TLS as libpq's sslmode would.
#include "proxy/upstream.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <stdexcept>
#include <variant>

#include "proxy/pg/encoder.hpp"

namespace apono::proxy {

namespace {

using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

bool wants_tls(const std::string& mode) {
  return mode != "disable" && mode != "allow";
}
bool needs_tls(const std::string& mode) {
  return mode == "require" || mode == "verify-ca" || mode == "verify-full";
}

}  // namespace

const upstream_login* upstream_endpoint::find(const std::string& database) const {
  for (const auto& l : logins)
    if (l.database == database) return &l;
  return nullptr;
}

std::string upstream_endpoint::database_list() const {
  std::string s;
  for (const auto& l : logins) s += (s.empty() ? "" : ", ") + l.database;
  return s;
}

std::shared_ptr<net::ssl::context> make_upstream_tls(const upstream_endpoint& ep) {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (ep.sslmode == "verify-ca" || ep.sslmode == "verify-full") {
    boost::system::error_code ec;
    ctx->add_certificate_authority(net::buffer(ep.ssl_root_cert), ec);
    if (ec || ep.ssl_root_cert.empty())
      throw std::runtime_error("cannot load the database's CA certificate (sslmode " + ep.sslmode +
                               "): " + (ec ? ec.message() : "none was given"));
    ctx->set_verify_mode(net::ssl::verify_peer);
  } else {
    // prefer and require encrypt without checking who answers, exactly as libpq does.
    ctx->set_verify_mode(net::ssl::verify_none);
  }
  return ctx;
}

upstream_stream::upstream_stream(const net::any_io_executor& ex, net::ssl::context& tls)
    : stream_(ex, tls) {}

net::awaitable<boost::system::error_code> upstream_stream::connect(
    const upstream_endpoint& ep, std::chrono::milliseconds timeout, std::string& why) {
  auto& sock = stream_.next_layer();
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(timeout);
  auto timed_out = [&](auto&& result) {
    if (result.index() == 1) {
      why = "timed out";
      return true;
    }
    return false;
  };

  // An address needs no resolver, whose thread hand-off would cost every connection.
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code aec;
  if (auto literal = net::ip::make_address(ep.host, aec); !aec) {
    endpoints.emplace_back(literal, static_cast<unsigned short>(ep.port));
  } else {
    tcp::resolver resolver(co_await net::this_coro::executor);
    auto resolved = co_await (resolver.async_resolve(ep.host, std::to_string(ep.port), use_tuple) ||
                              timer.async_wait(use_tuple));
    if (timed_out(resolved)) co_return net::error::timed_out;
    auto [rec, results] = std::get<0>(resolved);
    if (rec) {
      why = "cannot resolve " + ep.host + ": " + rec.message();
      co_return rec;
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  auto connected =
      co_await (net::async_connect(sock, endpoints, use_tuple) || timer.async_wait(use_tuple));
  if (timed_out(connected)) co_return net::error::timed_out;
  if (auto [cec, _] = std::get<0>(connected); cec) {
    why = cec.message();
    co_return cec;
  }
  boost::system::error_code ignored;
  sock.set_option(tcp::no_delay(true), ignored);
  if (!wants_tls(ep.sslmode)) co_return boost::system::error_code{};

  std::string req;
  pg::append_ssl_request(req);
  char answer = 0;
  auto wrote =
      co_await (net::async_write(sock, net::buffer(req), use_tuple) || timer.async_wait(use_tuple));
  if (timed_out(wrote)) co_return net::error::timed_out;
  if (auto [wec, _] = std::get<0>(wrote); wec) {
    why = wec.message();
    co_return wec;
  }
  auto got = co_await (net::async_read(sock, net::buffer(&answer, 1), use_tuple) ||
                       timer.async_wait(use_tuple));
  if (timed_out(got)) co_return net::error::timed_out;
  if (auto [gec, _] = std::get<0>(got); gec) {
    why = gec.message();
    co_return gec;
  }
  if (answer == 'N') {
    if (!needs_tls(ep.sslmode)) co_return boost::system::error_code{};
    why = "the server does not support SSL, but sslmode is " + ep.sslmode;
    co_return net::error::no_protocol_option;
  }
  if (answer != 'S') {
    why = "the server answered the SSL request with neither S nor N";
    co_return net::error::no_protocol_option;
  }

  SSL* ssl = stream_.native_handle();
  if (ep.sslmode == "verify-full") {
    // verify-full checks the name (or IP SAN) as libpq does; verify-ca only the chain.
    int ok = !aec ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ep.host.c_str())
                  : SSL_set1_host(ssl, ep.host.c_str());
    if (ok != 1) {
      why = "cannot check the server certificate against " + ep.host;
      co_return net::error::invalid_argument;
    }
  }
  if (aec) SSL_set_tlsext_host_name(ssl, ep.host.c_str());
  auto shaken = co_await (stream_.async_handshake(net::ssl::stream_base::client, use_tuple) ||
                          timer.async_wait(use_tuple));
  if (timed_out(shaken)) co_return net::error::timed_out;
  if (auto [hec] = std::get<0>(shaken); hec) {
    long verify = SSL_get_verify_result(ssl);
    why = verify != X509_V_OK
              ? std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify)
              : "TLS handshake failed: " + hec.message();
    co_return hec;
  }
  tls_ = true;
  co_return boost::system::error_code{};
}

net::awaitable<std::tuple<boost::system::error_code, std::size_t>> upstream_stream::read_some(
    net::mutable_buffer b) {
  if (tls_) co_return co_await stream_.async_read_some(b, use_tuple);
  co_return co_await stream_.next_layer().async_read_some(b, use_tuple);
}

net::awaitable<std::tuple<boost::system::error_code, std::size_t>> upstream_stream::write(
    net::const_buffer b) {
  if (tls_) co_return co_await net::async_write(stream_, b, use_tuple);
  co_return co_await net::async_write(stream_.next_layer(), b, use_tuple);
}

void upstream_stream::close() {
  boost::system::error_code ignored;
  stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.next_layer().close(ignored);
}

}  // namespace apono::proxy
