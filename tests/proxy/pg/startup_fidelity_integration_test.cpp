// The proxy's startup phase against PostgreSQL 15's own, case by case: every case sends the
// same bytes to a real server and to the proxy in front of it, over TCP (both with TLS) and
// over the unix socket, and both must answer alike: the same single-byte answers, the same
// messages (severity, SQLSTATE, text, detail, hint; the server's source location aside), or
// the same silent close. Authentication requests are compared by type only: the server asks
// for SCRAM or trusts the socket, the proxy asks TCP clients for its one-time password.
#include "proxy/server.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/secrets.hpp"
#include "common/x509.hpp"
#include "tests/proxy/pg/wire.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/ready_clock.hpp"

namespace {

using namespace apono;
using test::be32;
using namespace std::chrono_literals;

// A TLS-enabled PostgreSQL 15 and a proxy in front of it with TLS on its TCP listener.
struct rig {
  test::pg_fixture pg{true};
  test::temp_dir dir{"apono-fidelity"};
  test::ready_clock clock;
  std::string role = "apono_f_" + common::random_lower_alnum(6);
  std::string password = common::random_password(20);
  std::unique_ptr<proxy::grant_watch> watch;
  std::unique_ptr<proxy::proxy_server> proxy;

  rig() {
    clock.release();
    pg.psql("CREATE DATABASE appdb");
    pg.psql("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
    watch = std::make_unique<proxy::grant_watch>("AR-00001", clock.now() + 10min, clock);
    namespace x509 = common::x509;
    auto ca_key = x509::generate_key();
    auto ca = x509::make_ca(ca_key.get(), "fidelity CA", 3600);
    auto key = x509::generate_key();
    auto leaf = x509::make_server_cert(key.get(), ca.get(), ca_key.get(), {"127.0.0.1"}, 3600);
    proxy::proxy_options o;
    o.upstream = {"127.0.0.1", pg.port(), "prefer", {}, {{"appdb", role, password}}};
    o.unix_dir = dir.path / "run";
    o.tcp_port = 0;
    o.tcp_password = common::random_password(16);
    o.tls_cert_pem = x509::cert_pem(leaf.get());
    o.tls_key_pem = x509::key_pem(key.get());
    o.warnings = {};
    proxy = std::make_unique<proxy::proxy_server>(std::move(o), *watch);
    proxy->start();
  }
};

/// Where a case connects.
struct target {
  std::string name;  // for messages
  int tcp_port = 0;  // TCP on 127.0.0.1 when set, else `socket`
  std::string socket;
};

// A raw client, plain or (after start_tls) TLS, with blocking reads bounded by SO_RCVTIMEO.
class wire_client {
 public:
  explicit wire_client(const target& t) {
    if (t.tcp_port) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(t.tcp_port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::snprintf(a.sun_path, sizeof a.sun_path, "%s", t.socket.c_str());
      connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~wire_client() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  wire_client(const wire_client&) = delete;
  wire_client& operator=(const wire_client&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] bool tls() const { return ssl_ != nullptr; }

  void send(const std::string& bytes) {
    if (ssl_) {
      (void)SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    } else {
      (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
  }
  void shut() { ::shutdown(fd_, SHUT_WR); }

  /// One plain byte (the answer to SSLRequest or GSSENCRequest); nullopt on close or timeout.
  std::optional<char> read_one() {
    char c = 0;
    if (::recv(fd_, &c, 1, 0) != 1) return std::nullopt;
    return c;
  }

  /// The next bytes: > 0 read, 0 closed (EOF or reset), -1 nothing within the timeout.
  int read(std::string& into) {
    char buf[4096];
    int n = 0;
    if (ssl_) {
      n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        const int saved = errno;
        int err = SSL_get_error(ssl_, n);
        ERR_clear_error();
        if (err == SSL_ERROR_WANT_READ || (err == SSL_ERROR_SYSCALL && saved == EAGAIN)) return -1;
        return 0;
      }
    } else {
      auto r = ::recv(fd_, buf, sizeof buf, 0);
      if (r < 0) return errno == EAGAIN ? -1 : 0;
      n = static_cast<int>(r);
      if (n == 0) return 0;
    }
    into.append(buf, static_cast<std::size_t>(n));
    return n;
  }

  /// A TLS handshake over the connection (no verification: this is about framing).
  bool start_tls() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    bool ok = SSL_connect(ssl_) == 1;
    ERR_clear_error();
    return ok;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

std::uint32_t get_be32(const std::string& s, std::size_t at) {
  auto b = [&](std::size_t i) { return std::uint32_t{static_cast<unsigned char>(s[at + i])}; };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

std::string hex(const std::string& s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// An ErrorResponse body as "S=FATAL V=FATAL C=08P01 M=... [D=...] [H=...]"; the server's
// F (file), L (line) and R (routine) fields say where in its source it was raised.
std::string error_text(const std::string& body) {
  std::string out;
  for (std::size_t at = 0; at < body.size() && body[at] != '\0';) {
    auto end = body.find('\0', at + 1);
    if (end == std::string::npos) return out + " <unterminated>";
    char code = body[at];
    if (code != 'F' && code != 'L' && code != 'R')
      out +=
          (out.empty() ? "" : " ") + std::string(1, code) + "=" + body.substr(at + 1, end - at - 1);
    at = end + 1;
  }
  return out;
}

/// What the server answers from now on, as lines: messages, then "closed" (or "R" when it
/// asks for authentication and so waits for the client, or "no answer" after 10 s).
void read_answers(wire_client& c, std::vector<std::string>& out) {
  std::string buf;
  for (;;) {
    while (!buf.empty()) {
      const char type = buf[0];
      // Protocol 1.x/2.x clients get PostgreSQL's old error format: no length, NUL-ended.
      if (type == 'E' && buf.size() >= 7 && buf.compare(1, 6, "FATAL:") == 0) {
        auto nul = buf.find('\0');
        if (nul == std::string::npos) break;
        out.push_back("E(v2) " + buf.substr(1, nul - 1));
        buf.erase(0, nul + 1);
        continue;
      }
      // A TLS alert record on a connection the client never turned into TLS.
      if (!c.tls() && type == '\x15' && buf.size() >= 5) {
        std::size_t len = 5 + ((std::size_t{static_cast<unsigned char>(buf[3])} << 8) |
                               static_cast<unsigned char>(buf[4]));
        if (buf.size() < len) break;
        buf.erase(0, len);
        continue;
      }
      if (buf.size() < 5) break;
      const std::size_t len = get_be32(buf, 1);
      if (buf.size() < 1 + len) break;
      const std::string body = buf.substr(5, len - 4);
      buf.erase(0, 1 + len);
      if (type == 'R') {
        out.emplace_back("R");
        return;
      }
      if (type == 'E' || type == 'N') {
        out.push_back(std::string(1, type) + " " + error_text(body));
      } else if (type == 'v') {
        out.push_back("v " + hex(body));
      } else {
        out.push_back(std::string(1, type) + " " + hex(body));
      }
    }
    int n = c.read(buf);
    if (n == 0) {
      if (!buf.empty()) out.push_back("partial " + hex(buf));
      out.emplace_back("closed");
      return;
    }
    if (n < 0) {
      out.emplace_back("no answer");
      return;
    }
  }
}

/// One step of a case.
struct step {
  enum class kind { send, shut, request } what;
  std::string bytes;       // send: what to send; request: the request packet
  bool handshake = false;  // request: on 'S', make the TLS handshake
};

step send(std::string b) {
  return {step::kind::send, std::move(b)};
}
step shut() {
  return {step::kind::shut, {}};
}
// Sends an SSLRequest (or `packet`) and reads the one-byte answer, nothing more.
step request_only(std::string packet = be32(8) + be32(80877103)) {
  return {step::kind::request, std::move(packet), false};
}
// The same, and on 'S' the TLS handshake.
step request_tls(std::string packet = be32(8) + be32(80877103)) {
  return {step::kind::request, std::move(packet), true};
}

/// Runs `steps` against `t`; returns the transcript.
std::vector<std::string> run_case(const target& t, const std::vector<step>& steps) {
  wire_client c(t);
  std::vector<std::string> out;
  if (!c.connected()) return {"cannot connect to " + t.name};
  for (const auto& s : steps) {
    switch (s.what) {
      case step::kind::send:
        c.send(s.bytes);
        break;
      case step::kind::shut:
        c.shut();
        break;
      case step::kind::request: {
        c.send(s.bytes);
        auto answer = c.read_one();
        if (!answer) {
          out.emplace_back("no answer to the request");
          return out;
        }
        out.push_back(std::string("byte ") + *answer);
        if (*answer == 'S' && s.handshake && !c.start_tls()) {
          out.emplace_back("TLS handshake failed");
          return out;
        }
        break;
      }
    }
  }
  read_answers(c, out);
  return out;
}

std::string params(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (const auto& [k, v] : kv) out += k + '\0' + v + '\0';
  return out + '\0';
}

std::string startup(std::uint32_t version, const std::string& body) {
  return be32(static_cast<std::uint32_t>(8 + body.size())) + be32(version) + body;
}

const std::string ssl_request = be32(8) + be32(80877103);
const std::string gss_request = be32(8) + be32(80877104);
std::string login(const std::string& user = "postgres") {
  return startup(196608, params({{"user", user}, {"database", "appdb"}}));
}

/// A case of the table: what a client sends, where, and PostgreSQL 15's answer.
struct fidelity_case {
  std::string name;
  std::vector<step> steps;
  std::vector<std::string> expected;  // PostgreSQL's answer (see read_answers)
  bool tcp = true;                    // run over TCP (TLS offered by both)
  bool unix_socket = true;            // run over the unix socket (plain for both)
  // Over TCP after TLS the answer differs from the socket's by the leading 'S' only.
  std::vector<std::string> expected_tcp{};
};

std::string fatal(const std::string& code, const std::string& msg, const std::string& extra = {}) {
  return "E S=FATAL V=FATAL C=" + code + " M=" + msg + extra;
}

const std::string mitm =
    " D=This could be either a client-software bug or evidence of an attempted "
    "man-in-the-middle attack.";

std::vector<fidelity_case> cases() {
  const std::string layout =
      fatal("08P01", "invalid startup packet layout: expected terminator as last byte");
  std::string at_limit_value(10004 - 8 - 1 - 5 - 9 - 17 - 1, 'x');
  std::string at_limit =
      startup(196608, params({{"user", "postgres"}, {"application_name", at_limit_value}}));
  REQUIRE(at_limit.size() == 10004);
  return {
      {"connect, send nothing, close", {shut()}, {"closed"}},
      {"Terminate before the startup packet", {send("X" + be32(4))}, {"closed"}},
      {"half a length word, then close", {send(std::string("\0\0", 2)), shut()}, {"closed"}},
      {"truncated startup packet, then close",
       {send(be32(40) + be32(196608) + std::string("user\0", 5)), shut()},
       {"closed"}},
      {"length under 8", {send(be32(4) + be32(196608))}, {"closed"}},
      {"negative length", {send(be32(0xffffffffu) + be32(196608))}, {"closed"}},
      {"length over 10004", {send(be32(10005) + be32(196608))}, {"closed"}},
      {"length of exactly 10004 is accepted", {send(at_limit)}, {"R"}, true, false},
      {"protocol 2.0",
       {send(startup(0x20000, params({{"user", "postgres"}})))},
       {"E(v2) FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n", "closed"}},
      {"protocol 4.0",
       {send(startup(0x40000, params({{"user", "postgres"}})))},
       {fatal("0A000", "unsupported frontend protocol 4.0: server supports 3.0 to 3.0"), "closed"}},
      {"an unknown request code (1234.5555)",
       {send(be32(8) + be32(0x04d215b3))},
       {fatal("0A000", "unsupported frontend protocol 1234.5555: server supports 3.0 to 3.0"),
        "closed"}},
      {"StartupMessage with no parameters at all", {send(startup(196608, ""))}, {layout, "closed"}},
      {"unterminated parameter list",
       {send(startup(196608, std::string("user\0postgres\0database\0ap", 26)))},
       {layout, "closed"}},
      {"a parameter without a value",
       {send(startup(196608, std::string("user\0postgres\0database\0\0", 24)))},
       {layout, "closed"}},
      {"startup with no user",
       {send(startup(196608, params({{"database", "appdb"}})))},
       {fatal("28000", "no PostgreSQL user name specified in startup packet"), "closed"}},
      {"startup with an empty user",
       {send(startup(196608, params({{"user", ""}})))},
       {fatal("28000", "no PostgreSQL user name specified in startup packet"), "closed"}},
      {"replication=banana",
       {send(startup(196608, params({{"user", "postgres"}, {"replication", "banana"}})))},
       {fatal("22023", "invalid value for parameter \"replication\": \"banana\"",
              " H=Valid values are: \"false\", 0, \"true\", 1, \"database\"."),
        "closed"}},
      {"protocol 3.1: NegotiateProtocolVersion, then login",
       {send(startup(0x30001, params({{"user", "postgres"}, {"database", "appdb"}})))},
       {"v " + hex(be32(0x30000) + be32(0)), "R"}},
      {"a _pq_ option: NegotiateProtocolVersion naming it, then login",
       {send(startup(
           196608,
           params({{"user", "postgres"}, {"database", "appdb"}, {"_pq_.compression", "on"}})))},
       {"v " + hex(be32(0x30000) + be32(1) + std::string("_pq_.compression\0", 17)), "R"}},
      {"CancelRequest with a wrong key",
       {send(be32(16) + be32(80877102) + be32(1) + be32(2))},
       {"closed"}},
      {"CancelRequest of the wrong length",
       {send(be32(12) + be32(80877102) + be32(1))},
       {"closed"}},
      {"SSLRequest, then a login",
       {request_tls(), send(login())},
       {"byte N", "R"},
       true,
       true,
       {"byte S", "R"}},
      {"SSLRequest of 12 bytes is still an SSLRequest",
       {request_tls(be32(12) + be32(80877103) + be32(0)), send(login())},
       {"byte N", "R"},
       true,
       true,
       {"byte S", "R"}},
      {"SSLRequest with bytes sent before its answer",
       {request_tls(ssl_request + login())},
       {"byte N", fatal("08P01", "received unencrypted data after SSL request", mitm), "closed"},
       true,
       true,
       {"byte S", fatal("08P01", "received unencrypted data after SSL request", mitm), "closed"}},
      {"SSLRequest answered, then garbage instead of a handshake or startup",
       {request_only(), send("garbage!garbage!")},
       {"byte N", "closed"},
       true,
       true,
       {"byte S", "closed"}},
      {"a second SSLRequest is read as protocol 1234.5679",
       {request_tls(), send(ssl_request)},
       {"byte N",
        fatal("0A000", "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0"),
        "closed"},
       true,
       true,
       {"byte S",
        fatal("0A000", "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0"),
        "closed"}},
      {"GSSENCRequest answered N, then a login",
       {request_tls(gss_request), send(login())},
       {"byte N", "R"},
       false,
       true},
      {"GSSENCRequest with bytes sent before its answer",
       {request_tls(gss_request + login())},
       {"byte N", fatal("08P01", "received unencrypted data after GSSAPI encryption request", mitm),
        "closed"},
       false,
       true},
      {"GSSENCRequest, then SSLRequest, then a login",
       {request_tls(gss_request), request_tls(), send(login())},
       {"byte N", "byte N", "R"},
       false,
       true},
  };
}

}  // namespace

TEST_CASE("the startup phase answers as PostgreSQL 15 does, case by case", "[proxy]") {
  rig r;
  const target pg_tcp{"PostgreSQL over TCP", r.pg.port(), {}};
  const target proxy_tcp{"the proxy over TCP", r.proxy->tcp_port(), {}};
  const target pg_unix{"PostgreSQL's socket", 0, r.pg.socket_path().string()};
  const target proxy_unix{"the proxy's socket", 0, r.proxy->socket_path().string()};
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += "\n    " + l;
    return s;
  };
  for (const auto& c : cases()) {
    for (bool tcp : {true, false}) {
      if (tcp ? !c.tcp : !c.unix_socket) continue;
      const auto& expected = tcp && !c.expected_tcp.empty() ? c.expected_tcp : c.expected;
      auto server = run_case(tcp ? pg_tcp : pg_unix, c.steps);
      auto proxied = run_case(tcp ? proxy_tcp : proxy_unix, c.steps);
      INFO(c.name << (tcp ? " (TCP)" : " (unix socket)") << "\n  expected:" << join(expected)
                  << "\n  PostgreSQL:" << join(server) << "\n  proxy:" << join(proxied));
      CHECK(server == expected);
      CHECK(proxied == server);
    }
  }
}

TEST_CASE("GSSENCRequest over TCP: the proxy answers N, as PostgreSQL without GSSAPI does",
          "[proxy]") {
  // Debian's PostgreSQL is built with GSSAPI and answers 'G' on TCP (then needs Kerberos);
  // the proxy has no GSSAPI, so it answers as such a server and as every unix socket does.
  rig r;
  auto out = run_case({"the proxy over TCP", r.proxy->tcp_port(), {}},
                      {request_tls(gss_request), request_tls(), send(login())});
  CHECK(out == std::vector<std::string>{"byte N", "byte S", "R"});
}

TEST_CASE("a cancel with the right key reaches the query, directly and through the proxy",
          "[proxy]") {
  rig r;
  for (const auto& [name, conninfo] : std::vector<std::pair<std::string, std::string>>{
           {"PostgreSQL", "host=" + r.pg.socket_path().parent_path().string() + " port=" +
                              std::to_string(r.pg.port()) + " dbname=appdb user=postgres"},
           {"the proxy", "host=" + r.proxy->socket_path().parent_path().string() +
                             " port=5432 dbname=appdb user=anyone"}}) {
    INFO(name);
    PGconn* c = PQconnectdb(conninfo.c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    const std::string sql = "select pg_sleep(30) -- " + name;
    REQUIRE(PQsendQuery(c, sql.c_str()) == 1);
    r.pg.wait_running(sql);
    PGcancel* cancel = PQgetCancel(c);
    char errbuf[256];
    CHECK(PQcancel(cancel, errbuf, sizeof errbuf) == 1);
    PQfreeCancel(cancel);
    PGresult* res = PQgetResult(c);
    CHECK(std::string(PQresultErrorField(res, PG_DIAG_SQLSTATE)
                          ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                          : "") == "57014");
    PQclear(res);
    while ((res = PQgetResult(c))) PQclear(res);
    PQfinish(c);
  }
}
