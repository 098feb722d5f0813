// One proxied connection: accept to close, the startup phase (every message decoded) and the
// upstream login. The relay phase, which passes bytes through untouched and only follows the
// server's message boundaries, is in session_relay.cpp.
#include "proxy/session.hpp"

#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstring>

#include "common/secrets.hpp"
#include "proxy/pg/encoder.hpp"
#include "proxy/pg/scram.hpp"
#include "proxy/pg/startup_rules.hpp"

namespace apono::proxy {

namespace {

using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Big enough that bulk transfers move in few system calls; two per connection.
constexpr std::size_t buffer_size = 64 * 1024;
// A client gets this long to finish its startup and password; a server, to log us in.
constexpr auto startup_timeout = 15s;
constexpr auto upstream_connect_timeout = 10s;
constexpr std::size_t max_password_message = 8 * 1024;

std::string raw_message(const pg::message& m) {
  // The body views into the read buffer right after its 5-byte header.
  return {reinterpret_cast<const char*>(m.body.data()) - 5, m.body.size() + 5};
}

std::int32_t random_key() {
  std::int32_t k = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof k) != 1) {
    k = static_cast<std::int32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return k;
}

std::uint64_t key_id(std::int32_t pid, std::int32_t key) {
  return (std::uint64_t{static_cast<std::uint32_t>(pid)} << 32) | static_cast<std::uint32_t>(key);
}

}  // namespace

session::session(proxy_context& ctx, net::generic::stream_protocol::socket client, bool tcp)
    : ctx_(ctx),
      client_(std::move(client)),
      tcp_(tcp),
      up_(client_.get_executor(), *ctx.tls),
      deadline_(client_.get_executor()),
      side_done_(client_.get_executor()),
      linger_(client_.get_executor()),
      relay_end_(client_.get_executor()),
      cbuf_{std::vector<std::uint8_t>(buffer_size)},
      sbuf_{std::vector<std::uint8_t>(buffer_size)} {}

net::awaitable<void> session::run() {
  auto self = shared_from_this();
  ++ctx_.counters.accepted;
  ++ctx_.counters.active;
  deadline_.expires_after(startup_timeout);
  auto started = co_await (startup() || deadline_.async_wait(use_tuple));
  bool ok = started.index() == 0 && std::get<0>(started);
  if (started.index() == 1 && !closed_ && ctx_.log) ctx_.log("a client took too long to log in");
  if (ok && !closed_) {
    relaying_ = true;
    ++ctx_.counters.relayed;
    deadline_.expires_at(net::steady_timer::time_point::max());
    co_await relay();
  } else {
    ++ctx_.counters.refused;
  }
  if (ending_) {
    // Every client first, every server connection after the grace: each server close wakes
    // a backend that ends, and when a thousand of them end at once on the same cores, those
    // wake-ups would hold up the FATALs and client closes still waiting on this thread.
    // A proxy that stops (its client exited) closes everything at once instead: that wait
    // would hold up the exit of `apono access connect` by the whole grace.
    close_client();
    if (!closed_all_) {
      linger_.expires_at(cut_at_ + cut_grace);
      co_await linger_.async_wait(use_tuple);
    }
  }
  close_all();
  if (cancel_id_) ctx_.cancel_keys.erase(cancel_id_);
  --ctx_.counters.active;
  ctx_.sessions.erase(self);
}

net::mutable_buffer phase_buffer::space() {
  std::memmove(data.data(), data.data() + used, have - used);
  have -= used;
  used = 0;
  return net::buffer(data.data() + have, data.size() - have);
}

// Reads until a whole typed message from the client is buffered. `bad` also covers a
// closed or failed socket: either way the session is over.
net::awaitable<pg::decode_status> session::read_client_message(pg::message& m) {
  for (;;) {
    std::size_t used = 0;
    auto st = pg::decode_message(cbuf_.pending(), m, used, max_password_message);
    if (st == pg::decode_status::ready) cbuf_.used += used;
    if (st != pg::decode_status::need_more) co_return st;
    auto space = cbuf_.space();
    if (space.size() == 0) co_return pg::decode_status::bad;  // the limits make this unreachable
    auto [ec, n] = co_await client_read_some(space);
    if (ec) {
      closed_ = true;
      co_return pg::decode_status::bad;
    }
    cbuf_.have += n;
  }
}

net::awaitable<std::tuple<boost::system::error_code, std::size_t>> session::client_read_some(
    net::mutable_buffer b) {
  if (tls_client_) co_return co_await tls_client_->async_read_some(b, use_tuple);
  co_return co_await client_.async_read_some(b, use_tuple);
}

net::awaitable<std::tuple<boost::system::error_code, std::size_t>> session::client_write(
    net::const_buffer b) {
  if (tls_client_) co_return co_await net::async_write(*tls_client_, b, use_tuple);
  co_return co_await net::async_write(client_, b, use_tuple);
}

net::awaitable<void> session::answer_and_close(const std::string& bytes, const std::string& why) {
  if (ctx_.log) ctx_.log("refused a connection: " + why);
  if (!closed_ && !bytes.empty()) co_await client_write(net::buffer(bytes));
  close_all();
}

net::awaitable<pg::decode_status> session::read_server_message(pg::message& m) {
  for (;;) {
    std::size_t used = 0;
    auto st = pg::decode_message(sbuf_.pending(), m, used, buffer_size - 5);
    if (st == pg::decode_status::ready) sbuf_.used += used;
    if (st != pg::decode_status::need_more) co_return st;
    auto space = sbuf_.space();
    if (space.size() == 0) co_return pg::decode_status::bad;
    auto [ec, n] = co_await up_.read_some(space);
    if (ec) co_return pg::decode_status::need_more;  // the server went away: the caller says so
    sbuf_.have += n;
  }
}

net::awaitable<void> session::refuse(const std::string& severity, const std::string& code,
                                     const std::string& message) {
  std::string out;
  pg::append_error(out, pg::make_fields(severity, code, message));
  co_await answer_and_close(out, message);
}

// PostgreSQL 15's ProcessStartupPacket, answer for answer: what it closes on without a word
// (a bad length, a client gone before its packet was whole, any CancelRequest) closes here
// without a word too; what it answers, with which SQLSTATE and text, is answered the same.
net::awaitable<bool> session::startup() {
  pg::startup_packet sp;
  bool ssl_done = false;
  bool gss_done = false;
  for (;;) {
    std::size_t used = 0;
    auto st = pg::decode_startup(cbuf_.pending(), sp, used);
    if (st == pg::decode_status::bad) {
      // PostgreSQL only logs "invalid length of startup packet"; a client that sent
      // Terminate first, or a port scanner, must not get an error it has no handler for.
      if (ctx_.log) ctx_.log("closed a connection: invalid length of startup packet");
      co_return false;
    }
    if (st == pg::decode_status::need_more) {
      auto space = cbuf_.space();
      if (space.size() == 0) co_return false;
      auto [ec, n] = co_await client_read_some(space);
      if (ec) co_return false;  // gone before the packet was whole: silent, as PostgreSQL
      cbuf_.have += n;
      continue;
    }
    cbuf_.used += used;
    using kind = pg::startup_packet::kind;
    if (sp.type == kind::cancel_request) {
      co_await cancel_backend(sp.cancel_pid, sp.cancel_key);
      co_return false;
    }
    if (sp.type == kind::ssl_request && !ssl_done) {
      if (!co_await negotiate_tls(ssl_done, gss_done)) co_return false;
      continue;
    }
    if (sp.type == kind::gssenc_request && !gss_done) {
      // Like a PostgreSQL without GSSAPI, and like every unix socket: encryption, if any,
      // is TLS on the local hop and the integration's sslmode towards the server.
      char no = 'N';
      if (auto [ec, n] = co_await client_write(net::buffer(&no, 1)); ec) co_return false;
      if (!cbuf_.pending().empty()) {
        co_await answer_and_close(pg::unencrypted_data_error(false), "unencrypted data");
        co_return false;
      }
      gss_done = true;
      continue;
    }
    // Anything else, including a second SSLRequest, is a StartupMessage whose version the
    // rules below judge (PostgreSQL reads 1234.5679 as a version too).
    sp.type = kind::startup;
    break;
  }

  auto verdict = pg::check_startup(sp);
  if (!verdict.proceed) {
    co_await answer_and_close(verdict.reply, "the startup packet was refused as PostgreSQL does");
    co_return false;
  }
  if (!verdict.reply.empty()) {
    if (auto [ec, n] = co_await client_write(net::buffer(verdict.reply)); ec) co_return false;
  }
  if (ctx_.watch && ctx_.watch->ended()) {
    co_await refuse("FATAL", "28000", ctx_.watch->message());
    co_return false;
  }
  if (verdict.replication) {
    co_await refuse("FATAL", "42501", "replication connections are not part of this grant");
    co_return false;
  }
  auto db = sp.param("database").value_or("");
  const upstream_login* login = ctx_.upstream.find(db);
  // libpq names the user as the database when none is given; the grant's default stands in.
  if (!login && (db.empty() || db == sp.param("user").value_or("")))
    login = ctx_.upstream.logins.empty() ? nullptr : &ctx_.upstream.logins.front();
  if (!login) {
    // Built outside the co_await: GCC 12 destroys temporaries of a conditional expression
    // inside a co_await operand twice.
    std::string grant = ctx_.watch ? ctx_.watch->request_id() : std::string("this grant");
    std::string msg = "database \"" + db + "\" is not part of " + grant +
                      "; it covers: " + ctx_.upstream.database_list();
    co_await refuse("FATAL", "3D000", msg);
    co_return false;
  }
  client_params_ = std::move(sp.params);
  if (tcp_ && !co_await check_password()) co_return false;
  co_return co_await login_upstream(*login);
}

// Answers an SSLRequest: 'S' and a TLS handshake on a TCP listener with a certificate,
// 'N' elsewhere (the unix socket stays plain, like PostgreSQL's). Bytes that came with the
// request were never encrypted: PostgreSQL refuses them after the answer (CVE-2021-23214).
net::awaitable<bool> session::negotiate_tls(bool& ssl_done, bool& gss_done) {
  const bool tls = tcp_ && ctx_.client_tls != nullptr;
  const char answer = tls ? 'S' : 'N';
  if (auto [ec, n] = co_await net::async_write(client_, net::buffer(&answer, 1), use_tuple); ec)
    co_return false;
  if (tls) {
    tls_client_.emplace(client_, *ctx_.client_tls);
    if (auto [ec] = co_await tls_client_->async_handshake(net::ssl::stream_base::server, use_tuple);
        ec) {
      // PostgreSQL logs "could not accept SSL connection" and closes.
      if (ctx_.log) ctx_.log("closed a connection: TLS handshake failed: " + ec.message());
      co_return false;
    }
  }
  if (!cbuf_.pending().empty()) {
    co_await answer_and_close(pg::unencrypted_data_error(true), "unencrypted data");
    co_return false;
  }
  ssl_done = true;
  gss_done = gss_done || tls;
  co_return true;
}

net::awaitable<bool> session::check_password() {
  std::string ask;
  pg::append_auth_cleartext_request(ask);
  if (auto [ec, n] = co_await client_write(net::buffer(ask)); ec) co_return false;
  pg::message m;
  auto st = co_await read_client_message(m);
  if (closed_) co_return false;
  std::optional<std::string> pw;
  if (st == pg::decode_status::ready && m.type == 'p') pw = pg::parse_password(m.body);
  if (!pw) {
    co_await refuse("FATAL", "08P01", "expected a password message");
    co_return false;
  }
  if (!common::constant_time_equal(*pw, ctx_.tcp_password)) {
    co_await refuse("FATAL", "28P01",
                    "password authentication failed: this local proxy takes the one-time "
                    "password that `apono access proxy` printed");
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> session::login_upstream(const upstream_login& login) {
  std::string why;
  if (auto ec = co_await up_.connect(ctx_.upstream, upstream_connect_timeout, why); ec) {
    co_await refuse("FATAL", "08006",
                    "cannot reach the database at " + ctx_.upstream.host + ":" +
                        std::to_string(ctx_.upstream.port) + ": " + why);
    co_return false;
  }
  std::vector<std::pair<std::string, std::string>> params{{"user", login.username},
                                                          {"database", login.database}};
  for (auto& p : client_params_)
    if (p.first != "user" && p.first != "database" && p.first != "replication" &&
        !p.first.starts_with("_pq_."))
      params.push_back(std::move(p));
  std::string out;
  pg::append_startup(out, params);
  if (auto [ec, n] = co_await up_.write(net::buffer(out)); ec) {
    co_await refuse("FATAL", "08006", "the database closed the connection during login");
    co_return false;
  }

  std::optional<pg::scram_client> scram;
  pg::message m;
  for (bool authenticated = false; !authenticated;) {
    auto st = co_await read_server_message(m);
    if (st != pg::decode_status::ready) {
      std::string msg = st == pg::decode_status::bad
                            ? "the database sent an invalid message during login"
                            : "the database closed the connection during login";
      co_await refuse("FATAL", "08006", msg);
      co_return false;
    }
    out.clear();
    if (m.type == 'E' || m.type == 'N' || m.type == 'v') {
      auto raw = raw_message(m);
      co_await client_write(net::buffer(raw));
      if (m.type == 'E') co_return false;
      continue;
    }
    auto req = m.type == 'R' ? pg::parse_auth_request(m.body) : std::nullopt;
    if (!req) {
      co_await refuse("FATAL", "08P01", "the database sent an unexpected message during login");
      co_return false;
    }
    switch (req->code) {
      case 0:
        authenticated = true;
        continue;
      case 3:
        pg::append_password(out, login.password);
        break;
      case 5:
        pg::append_password(out, pg::md5_password(login.username, login.password, req->md5_salt));
        break;
      case 10: {
        bool offered = false;
        for (const auto& mech : req->mechanisms) offered |= mech == "SCRAM-SHA-256";
        if (!offered) {
          co_await refuse("FATAL", "28000",
                          "the database offers no SASL mechanism the proxy speaks");
          co_return false;
        }
        scram.emplace(login.password);
        pg::append_sasl_initial(out, "SCRAM-SHA-256", scram->client_first());
        break;
      }
      case 11: {
        std::string error;
        auto final_msg = scram ? scram->client_final(req->data, error) : std::nullopt;
        if (!final_msg) {
          co_await refuse("FATAL", "08P01", "SCRAM exchange with the database failed: " + error);
          co_return false;
        }
        pg::append_sasl_response(out, *final_msg);
        break;
      }
      case 12:
        // The server proves it knows the verifier; without that it could be anyone.
        if (!scram || !scram->verify_server_final(req->data)) {
          co_await refuse("FATAL", "28000", "the database's SCRAM signature did not verify");
          co_return false;
        }
        continue;
      default:
        co_await refuse("FATAL", "28000",
                        "the database asks for an authentication method the proxy does not "
                        "speak (code " +
                            std::to_string(req->code) + ")");
        co_return false;
    }
    if (auto [ec, n] = co_await up_.write(net::buffer(out)); ec) {
      co_await refuse("FATAL", "08006", "the database closed the connection during login");
      co_return false;
    }
  }

  // Logged in: the client sees AuthenticationOk, then the server's own startup messages
  // with the cancel key swapped for a local one, all in one write.
  out.clear();
  pg::append_auth_ok(out);
  for (;;) {
    auto st = co_await read_server_message(m);
    if (st != pg::decode_status::ready) {
      if (!out.empty()) co_await client_write(net::buffer(out));
      co_await refuse("FATAL", "08006", "the database closed the connection during login");
      co_return false;
    }
    if (m.type == 'K') {
      auto server_key = pg::parse_backend_key(m.body);
      if (!server_key) {
        co_await refuse("FATAL", "08P01", "the database sent an invalid BackendKeyData");
        co_return false;
      }
      pg::backend_key local{server_key->pid, random_key()};
      while (ctx_.cancel_keys.contains(key_id(local.pid, local.key))) local.key = random_key();
      cancel_id_ = key_id(local.pid, local.key);
      ctx_.cancel_keys[cancel_id_] = *server_key;
      pg::append_backend_key(out, local);
      continue;
    }
    out += raw_message(m);
    if (m.type == 'E') {
      co_await client_write(net::buffer(out));
      co_return false;
    }
    if (m.type == 'Z') break;
  }
  if (auto [ec, n] = co_await client_write(net::buffer(out)); ec) co_return false;
  // Anything either side sent early belongs to the relay.
  if (auto rest = sbuf_.pending(); !rest.empty()) {
    (void)tracker_.feed(rest);
    co_await client_write(net::buffer(rest.data(), rest.size()));
  }
  if (auto rest = cbuf_.pending(); !rest.empty())
    co_await up_.write(net::buffer(rest.data(), rest.size()));
  sbuf_.have = sbuf_.used = cbuf_.have = cbuf_.used = 0;
  co_return !closed_;
}

net::awaitable<void> session::cancel_backend(std::int32_t pid, std::int32_t key) {
  auto it = ctx_.cancel_keys.find(key_id(pid, key));
  // PostgreSQL ignores unknown keys silently, so a guesser learns nothing; so do we.
  if (it == ctx_.cancel_keys.end()) co_return;
  auto server_key = it->second;
  upstream_stream s(client_.get_executor(), *ctx_.tls);
  std::string why;
  if (auto ec = co_await s.connect(ctx_.upstream, upstream_connect_timeout, why); ec) {
    if (ctx_.log) ctx_.log("cannot forward a cancel request: " + why);
    co_return;
  }
  std::string out;
  pg::append_cancel_request(out, server_key.pid, server_key.key);
  co_await s.write(net::buffer(out));
  // The server closes once it has read the request; waiting for that keeps it from being
  // dropped by an early close.
  char c;
  co_await s.read_some(net::buffer(&c, 1));
  s.close();
}

void session::close_client() {
  closed_ = true;
  boost::system::error_code ignored;
  client_.shutdown(net::socket_base::shutdown_both, ignored);
  client_.close(ignored);
  client_fd_.reset(true);
}

void session::close_all() {
  closed_all_ = true;
  // The relay loop gives the descriptors back, and relay_ended() closes them.
  if (handed_off_ && !relay_over_) ctx_.relay->close(relay_id_);
  close_client();
  up_.close();
  server_fd_.reset();
  deadline_.cancel();
  side_done_.cancel();
  linger_.cancel();
}

}  // namespace apono::proxy
