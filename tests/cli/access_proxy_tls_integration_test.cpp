// TLS on `apono access proxy`'s TCP port, end to end with the real psql, apono, aponod and
// PostgreSQL: sslmode=require and verify-full with the root certificate it prints, a plain
// client as before, one local CA kept in the config dir across proxies, and the cut at the
// grant's end reaching a TLS client with the same message as a plain one.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <regex>

#include "common/time.hpp"
#include "tests/support/access_stack.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The common stack, and a directory for the proxies' and clients' output.
struct stack : access_stack {
  temp_dir logs{"apono-tls-logs"};
};

// `apono access proxy ID --port P` running, and what it printed.
struct running_proxy {
  int port = free_port();
  fs::path log;
  std::unique_ptr<child_process> proc;
  std::string text, password, root, url;

  running_proxy(stack& s, const std::string& id, const std::string& name)
      : log(s.logs.path / (name + ".log")) {
    proc = std::make_unique<child_process>(
        std::vector<std::string>{APONO_BINARY, "access", "proxy", id, "--port",
                                 std::to_string(port)},
        log, s.env());
    REQUIRE(
        wait_until([&] { return read_text(log).find("Press Ctrl-C") != std::string::npos; }, 15s));
    text = read_text(log);
    INFO(text);
    std::smatch m;
    REQUIRE(std::regex_search(text, m, std::regex("Password: +(\\S+)")));
    password = m[1];
    REQUIRE(std::regex_search(text, m, std::regex("Root cert: +(\\S+)")));
    root = m[1];
    REQUIRE(std::regex_search(text, m, std::regex("URL: +(\\S+)")));
    url = m[1];
  }
  // psql -c SQL with `conninfo` added to this proxy's host, port, database and user.
  [[nodiscard]] run_result psql(const std::string& conninfo, const std::string& sql) const {
    return run({"psql", "-X", "-w", "-At", "-d",
                "host=127.0.0.1 port=" + std::to_string(port) + " dbname=appdb user=x " + conninfo,
                "-c", sql},
               {}, {{"PGPASSWORD", password}});
  }
};

}  // namespace

TEST_CASE("access proxy: psql with sslmode=require and verify-full, plain psql, one local CA") {
  stack s;
  auto id = s.grant("10m");
  running_proxy p(s, id, "first");
  INFO(p.text);

  // The root is the CLI's own CA in the config dir: key 0600, directory 0700.
  CHECK(fs::path(p.root) == s.cli.config_dir() / "local-ca.pem");
  CHECK(file_mode(s.cli.config_dir()) == 0700);
  CHECK(file_mode(s.cli.config_dir() / "local-ca-key.pem") == 0600);
  CHECK(p.text.find("SSL mode:  verify-full") != std::string::npos);

  auto require = p.psql("sslmode=require", "\\conninfo");
  INFO(require.output);
  CHECK(require.status == 0);
  CHECK(require.output.find("SSL connection (protocol: TLSv1.3") != std::string::npos);

  auto full = p.psql("sslmode=verify-full sslrootcert=" + p.root, "select body from notes");
  INFO(full.output);
  CHECK(full.status == 0);
  CHECK(full.output == "hello\n");
  // The leaf names localhost and ::1 as well as 127.0.0.1.
  auto by_name = run({"psql", "-X", "-w", "-At", "-d",
                      "host=localhost hostaddr=127.0.0.1 port=" + std::to_string(p.port) +
                          " dbname=appdb user=x sslmode=verify-full sslrootcert=" + p.root,
                      "-c", "select 1"},
                     {}, {{"PGPASSWORD", p.password}});
  INFO(by_name.output);
  CHECK(by_name.output == "1\n");
  // The printed URL as it is.
  auto url = run({"psql", "-X", "-w", "-At", "-d", p.url, "-c", "select 'by url'"});
  INFO(url.output);
  CHECK(url.output == "by url\n");

  // verify-full against another CA fails: the proxy's certificate is really checked.
  auto wrong = p.psql("sslmode=verify-full sslrootcert=" + s.b->ca_file().string(), "select 1");
  CHECK(wrong.status != 0);
  CHECK(wrong.output.find("certificate verify failed") != std::string::npos);

  auto plain = p.psql("sslmode=disable", "\\conninfo");
  INFO(plain.output);
  CHECK(plain.status == 0);
  CHECK(plain.output.find("SSL connection") == std::string::npos);
  CHECK(plain.output.find("You are connected to database \"appdb\"") != std::string::npos);

  // The unix socket stays plain, like PostgreSQL's (libpq does not even ask there; a raw
  // SSLRequest on it gets 'N': tests/proxy/pg/startup_fidelity_integration_test.cpp).
  std::smatch m;
  REQUIRE(std::regex_search(p.text, m, std::regex("host=(\\S+) port=5432")));
  auto sock = run({"psql", "-X", "-w", "-At", "-d",
                   "host=" + m[1].str() + " port=5432 dbname=appdb user=x sslmode=require", "-c",
                   "\\conninfo"});
  INFO(sock.output);
  CHECK(sock.status == 0);
  CHECK(sock.output.find("via socket in") != std::string::npos);
  CHECK(sock.output.find("SSL connection") == std::string::npos);

  const std::string ca_before = read_text(p.root);
  p.proc->signal(SIGINT);
  CHECK(p.proc->wait(15s) == 0);

  // A second proxy: the same CA (clients keep their sslrootcert), a fresh leaf.
  running_proxy again(s, id, "second");
  CHECK(again.root == p.root);
  CHECK(read_text(again.root) == ca_before);
  auto second = again.psql("sslmode=verify-full sslrootcert=" + again.root, "select 2");
  CHECK(second.output == "2\n");
  again.proc->signal(SIGINT);
  CHECK(again.proc->wait(15s) == 0);
}

TEST_CASE("a TLS client is cut at the grant's end with the same message as a plain one") {
  stack s;
  auto id = s.grant("20s");
  auto ends = s.ends_at(id);
  running_proxy p(s, id, "cut");
  const std::string conn = "host=127.0.0.1 port=" + std::to_string(p.port) + " dbname=appdb user=x";
  child_process tls_psql(
      {"psql", "-X", "-w", "-d", conn + " sslmode=verify-full sslrootcert=" + p.root, "-c",
       "select pg_sleep(60) -- tls"},
      s.logs.path / "tls.log", {{"PGPASSWORD", p.password}});
  child_process plain_psql(
      {"psql", "-X", "-w", "-d", conn + " sslmode=disable", "-c", "select pg_sleep(60) -- plain"},
      s.logs.path / "plain.log", {{"PGPASSWORD", p.password}});
  s.pg.wait_running("select pg_sleep(60) -- tls", 1, 15s);
  s.pg.wait_running("select pg_sleep(60) -- plain", 1, 15s);
  require_before_end("both sessions running", ends);
  int tls_status = -1, plain_status = -1;
  std::vector<ending> all{
      {"psql over TLS", [&] { return (tls_status = tls_psql.wait(0ms)) != -1; }},
      {"psql in the clear", [&] { return (plain_status = plain_psql.wait(0ms)) != -1; }},
  };
  watch_endings(all, 40s);
  check_ended_within_1s(all, ends, "grant end", 100ms);
  const std::string message = "access " + id + " ended at ";
  auto tls_out = read_text(s.logs.path / "tls.log");
  auto plain_out = read_text(s.logs.path / "plain.log");
  INFO("TLS psql:\n" << tls_out << "\nplain psql:\n" << plain_out);
  CHECK(tls_status != 0);
  CHECK(tls_out.find("FATAL:  " + message) != std::string::npos);
  CHECK(tls_out.find("(the grant expired); request it again: apono requests again " + id) !=
        std::string::npos);
  // Word for word the same as the plain client's.
  auto fatal_line = [](const std::string& out) {
    auto at = out.find("FATAL:");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
  };
  CHECK(fatal_line(tls_out) == fatal_line(plain_out));
  CHECK_FALSE(fatal_line(tls_out).empty());
  CHECK(p.proc->wait(10s) == 3);
}
