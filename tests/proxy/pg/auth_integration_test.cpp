// Upstream authentication against a real PostgreSQL 15 over a plain blocking loopback socket:
// the encoder builds the client's messages, the decoder reads the server's, scram.hpp answers
// SCRAM-SHA-256 and MD5. A login must end in ReadyForQuery and serve a simple query.
#include "proxy/pg/scram.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "proxy/pg/decoder.hpp"
#include "proxy/pg/encoder.hpp"
#include "tests/support/pg_fixture.hpp"

namespace {

namespace pg = apono::proxy::pg;
using apono::test::pg_fixture;
using namespace std::string_literals;

/// A typed message copied out of the receive buffer.
struct owned_message {
  char type = 0;
  std::string body;

  [[nodiscard]] pg::bytes view() const {
    return {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()};
  }
};

/// One blocking TCP connection to 127.0.0.1; every read gives up after 20 seconds, so a
/// protocol mistake fails the test instead of hanging it.
class connection {
 public:
  explicit connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket: "s + std::strerror(errno));
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      const int e = errno;
      ::close(fd_);
      throw std::runtime_error("connect: "s + std::strerror(e));
    }
  }
  ~connection() { ::close(fd_); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const auto n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send: "s + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
  }

  owned_message read() {
    while (true) {
      pg::message m;
      std::size_t used = 0;
      const pg::bytes in{reinterpret_cast<const std::uint8_t*>(buffer_.data()), buffer_.size()};
      switch (pg::decode_message(in, m, used, 1 << 20)) {
        case pg::decode_status::ready: {
          owned_message out{
              m.type, std::string(reinterpret_cast<const char*>(m.body.data()), m.body.size())};
          buffer_.erase(0, used);
          return out;
        }
        case pg::decode_status::bad:
          throw std::runtime_error("the server sent a malformed message");
        case pg::decode_status::need_more:
          break;
      }
      char chunk[4096];
      // Small reads on purpose: messages then arrive split, as they may from a real network.
      const auto n = ::recv(fd_, chunk, 1 + buffer_.size() % 97, 0);
      if (n <= 0) throw std::runtime_error("recv: the server closed or timed out");
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

/// What a login attempt saw.
struct login_result {
  std::vector<std::int32_t> auth_codes;  // every AuthenticationRequest code, in order
  bool server_signature_ok = false;      // SCRAM: the server proved it knows the verifier
  std::vector<std::pair<std::string, std::string>> parameters;
  std::optional<pg::backend_key> key;
  char ready_status = 0;  // ReadyForQuery's status; 0 when the login failed
  pg::error_fields error;

  [[nodiscard]] bool saw(std::int32_t code) const {
    return std::find(auth_codes.begin(), auth_codes.end(), code) != auth_codes.end();
  }
};

/// Starts up as `user` and answers whatever authentication the server asks for.
login_result login(connection& c, const std::string& user, const std::string& password) {
  std::string out;
  pg::append_startup(out, {{"user", user}, {"database", "postgres"}, {"application_name", "t"}});
  c.send(out);

  login_result r;
  std::optional<pg::scram_client> scram;
  while (true) {
    const auto m = c.read();
    out.clear();
    switch (m.type) {
      case 'R': {
        auto req = pg::parse_auth_request(m.view());
        REQUIRE(req);
        r.auth_codes.push_back(req->code);
        if (req->code == 10) {
          REQUIRE(std::find(req->mechanisms.begin(), req->mechanisms.end(), "SCRAM-SHA-256") !=
                  req->mechanisms.end());
          scram.emplace(password);
          pg::append_sasl_initial(out, "SCRAM-SHA-256", scram->client_first());
        } else if (req->code == 11) {
          REQUIRE(scram);
          std::string error;
          auto final_message = scram->client_final(req->data, error);
          INFO(error);
          REQUIRE(final_message);
          pg::append_sasl_response(out, *final_message);
        } else if (req->code == 12) {
          REQUIRE(scram);
          r.server_signature_ok = scram->verify_server_final(req->data);
        } else if (req->code == 5) {
          pg::append_password(out, pg::md5_password(user, password, req->md5_salt));
        } else {
          REQUIRE(req->code == 0);
        }
        if (!out.empty()) c.send(out);
        break;
      }
      case 'S': {
        const auto nul = m.body.find('\0');
        REQUIRE(nul != std::string::npos);
        r.parameters.emplace_back(m.body.substr(0, nul),
                                  m.body.substr(nul + 1, m.body.size() - nul - 2));
        break;
      }
      case 'K':
        r.key = pg::parse_backend_key(m.view());
        REQUIRE(r.key);
        break;
      case 'N':
        break;
      case 'E': {
        auto f = pg::parse_error_fields(m.view());
        REQUIRE(f);
        r.error = *f;
        return r;
      }
      case 'Z':
        REQUIRE(m.body.size() == 1);
        r.ready_status = m.body[0];
        return r;
      default:
        FAIL("unexpected message type " << m.type << " during login");
    }
  }
}

/// Runs `SELECT 1` as a simple Query and returns the DataRow's only value.
std::string select_one(connection& c) {
  c.send("Q\0\0\0\015SELECT 1\0"s);  // length 13: itself, "SELECT 1", NUL
  std::string value;
  while (true) {
    const auto m = c.read();
    if (m.type == 'D') {
      // Int16 column count, then Int32 length and the text of each value.
      REQUIRE(m.body.size() >= 6);
      REQUIRE(m.body.substr(0, 2) == "\0\1"s);
      const auto len = pg::read_i32(reinterpret_cast<const std::uint8_t*>(m.body.data()) + 2);
      REQUIRE(len >= 0);
      REQUIRE(m.body.size() == 6 + static_cast<std::size_t>(len));
      value = m.body.substr(6);
    } else if (m.type == 'E') {
      FAIL("SELECT 1 failed: " << pg::field(*pg::parse_error_fields(m.view()), 'M'));
    } else if (m.type == 'Z') {
      return value;
    }
  }
}

void terminate(connection& c) {
  c.send("X\0\0\0\4"s);
}

std::string param(const login_result& r, const std::string& name) {
  for (const auto& [k, v] : r.parameters)
    if (k == name) return v;
  return {};
}

/// One server for the file; each test case uses its own roles.
pg_fixture& server() {
  static pg_fixture pg;
  return pg;
}

void expect_logged_in(const login_result& r) {
  INFO("error: " << pg::field(r.error, 'C') << " " << pg::field(r.error, 'M'));
  CHECK(r.error.empty());
  CHECK(r.saw(0));
  CHECK(r.ready_status == 'I');
  CHECK(r.key.has_value());
  CHECK(param(r, "server_version").starts_with("15"));
  CHECK(param(r, "application_name") == "t");
}

}  // namespace

TEST_CASE("SCRAM-SHA-256 login, a query, and a second login from the cache") {
  auto& pg = server();
  pg.psql("CREATE ROLE apono_scram LOGIN PASSWORD 'scram-Secret-1'");
  REQUIRE(pg.psql("SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'apono_scram'") ==
          "SCRAM-SHA-256$");

  for (int round = 0; round < 2; ++round) {
    INFO("connection " << round + 1);
    connection c(pg.port());
    const auto r = login(c, "apono_scram", "scram-Secret-1");
    expect_logged_in(r);
    CHECK(r.auth_codes == std::vector<std::int32_t>{10, 11, 12, 0});
    CHECK(r.server_signature_ok);
    CHECK(select_one(c) == "1");
    terminate(c);
  }
}

TEST_CASE("SCRAM-SHA-256 with a wrong password gets 28P01") {
  auto& pg = server();
  pg.psql("CREATE ROLE apono_scram_wrong LOGIN PASSWORD 'right-password'");
  connection c(pg.port());
  const auto r = login(c, "apono_scram_wrong", "wrong-password");
  CHECK(r.ready_status == 0);
  CHECK_FALSE(r.saw(0));
  CHECK(pg::field(r.error, 'C') == "28P01");
  CHECK(pg::field(r.error, 'V') == "FATAL");
}

TEST_CASE("MD5 login where pg_hba allows md5, and SCRAM still used for SCRAM-stored roles") {
  auto& pg = server();
  pg.psql("SET password_encryption = 'md5'; CREATE ROLE apono_md5 LOGIN PASSWORD 'md5-Secret-2'");
  pg.psql("CREATE ROLE apono_scram_md5hba LOGIN PASSWORD 'scram-Secret-3'");
  REQUIRE(pg.psql("SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'apono_md5'") ==
          "md5");

  // The fixture's initdb sets scram-sha-256 for TCP, which refuses MD5-stored passwords. The
  // superuser can rewrite pg_hba.conf through the server and reload it; the first lines let
  // these two roles use md5, the rest is what initdb wrote.
  const auto hba = pg.psql("SHOW hba_file");
  pg.psql(
      "COPY (SELECT line FROM (VALUES "
      "(1, 'host all apono_md5,apono_scram_md5hba 127.0.0.1/32 md5'), "
      "(2, 'local all all trust'), "
      "(3, 'host all all 127.0.0.1/32 scram-sha-256'), "
      "(4, 'host all all ::1/128 scram-sha-256')) AS v(n, line) ORDER BY n) TO '" +
      hba + "'");
  REQUIRE(pg.psql("SELECT pg_reload_conf()") == "t");

  // The postmaster applies the reload asynchronously: wait until it asks for MD5.
  login_result r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (true) {
    connection c(pg.port());
    r = login(c, "apono_md5", "md5-Secret-2");
    if (r.saw(5) || std::chrono::steady_clock::now() > deadline) {
      if (r.ready_status != 0) CHECK(select_one(c) == "1");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(r.saw(5));
  expect_logged_in(r);
  CHECK(r.auth_codes == std::vector<std::int32_t>{5, 0});

  {
    connection c(pg.port());
    const auto wrong = login(c, "apono_md5", "md5-Secret-X");
    CHECK(wrong.auth_codes == std::vector<std::int32_t>{5});
    CHECK(pg::field(wrong.error, 'C') == "28P01");
  }
  {
    // With md5 in pg_hba, a role whose password is stored as SCRAM still gets SCRAM.
    connection c(pg.port());
    const auto scram = login(c, "apono_scram_md5hba", "scram-Secret-3");
    expect_logged_in(scram);
    CHECK(scram.auth_codes == std::vector<std::int32_t>{10, 11, 12, 0});
    CHECK(scram.server_signature_ok);
    CHECK(select_one(c) == "1");
  }
}
