// A throwaway PostgreSQL 15 server for integration tests. Layout of the temp dir:
//   data/            the cluster (postmaster.pid lives here)
//   log/postgresql.log  the server log (log_statement=all; pg_current_logfile() names it)
//   pg_ctl.log       the postmaster's stderr before the log collector takes over
//   fixture.info     owner pid and pid file path, so that a later fixture can stop a server
//                    whose test process was killed and never ran the destructor
#include "tests/support/pg_fixture.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "common/secrets.hpp"
#include "tests/support/process.hpp"

namespace apono::test {
namespace {

std::string pg_bindir() {
  const char* dir = std::getenv("APONO_PG_BINDIR");
  return (dir != nullptr && *dir != '\0') ? dir : "/usr/lib/postgresql/15/bin";
}

std::string bin(const char* name) {
  return pg_bindir() + "/" + name;
}

/// Runs a server-side tool; as root through runuser, because initdb and postgres refuse root.
run_result run_as_server_owner(std::vector<std::string> argv) {
  if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return run(argv, {}, {}, std::chrono::seconds{120});
}

void give_to_server_owner(const std::filesystem::path& p) {
  if (::geteuid() != 0) return;
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) throw std::runtime_error("pg_fixture: no `postgres` user to run the server");
  if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
    throw std::runtime_error("pg_fixture: chown " + p.string() + " failed");
}

std::string conf_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string percent_encode(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string trim_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

/// Stops the server (if any) and deletes everything; never throws.
void stop_and_remove(const std::filesystem::path& dir) noexcept {
  try {
    if (std::filesystem::exists(dir / "data" / "postmaster.pid"))
      (void)run_as_server_owner(
          {bin("pg_ctl"), "stop", "-D", (dir / "data").string(), "-m", "immediate", "-w"});
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

/// Stops and deletes fixtures whose test process died without running the destructor (kill -9,
/// Ctrl-C, a SIGPIPE'd pipeline): each would otherwise keep a server running until reboot.
/// A directory without fixture.info, or whose owner is alive, is left alone.
void sweep_orphans(const std::filesystem::path& tmp) noexcept {
  try {
    for (const auto& entry : std::filesystem::directory_iterator(tmp)) {
      if (!entry.path().filename().string().starts_with("apono-pg-")) continue;
      std::ifstream info(entry.path() / "fixture.info");
      std::string line;
      long owner = 0;
      while (std::getline(info, line))
        if (line.starts_with("owner_pid=")) owner = std::strtol(line.c_str() + 10, nullptr, 10);
      if (owner <= 0 || ::kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) continue;
      stop_and_remove(entry.path());
    }
  } catch (...) {
    // A sweep is a courtesy; an unreadable tmp dir must not fail the test that triggered it.
  }
}

/// Environment for psql: the password (not on the command line, which ps shows), NOTICEs kept
/// out of the output, and a bounded connect.
std::map<std::string, std::string> psql_env(const std::string& password) {
  return {{"PGPASSWORD", password},
          {"PGOPTIONS", "-c client_min_messages=warning"},
          {"PGCONNECT_TIMEOUT", "10"}};
}

}  // namespace

namespace {

// A CA and a server certificate for IP:127.0.0.1 (no DNS name, so verify-full against
// "localhost" fails as it must), made with the openssl tool into `dir`.
void make_server_certificate(const std::filesystem::path& dir) {
  auto ossl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = run(args);
    if (r.status != 0) throw std::runtime_error("pg_fixture: openssl failed:\n" + r.output);
  };
  auto p = [&](const char* name) { return (dir / name).string(); };
  ossl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=pg_fixture CA"});
  ossl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        p("server.key"), "-out", p("server.csr"), "-subj", "/CN=pg_fixture server"});
  std::ofstream(dir / "server.ext") << "subjectAltName = IP:127.0.0.1\n";
  ossl({"x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("server.pem"), "-days", "2", "-extfile", p("server.ext")});
  std::filesystem::permissions(
      dir / "server.key", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace

std::string pg_fixture::ca_pem() const {
  std::ifstream in(dir_ / "tls" / "ca.pem");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

pg_fixture::pg_fixture(bool tls) {
  dir_ = make_temp_dir("apono-pg-");
  sweep_orphans(dir_.parent_path());
  try {
    const auto data = dir_ / "data";
    {
      std::ofstream info(dir_ / "fixture.info");
      info << "owner_pid=" << ::getpid() << "\npid_file=" << (data / "postmaster.pid").string()
           << "\n";
    }
    give_to_server_owner(dir_);

    password_ = common::random_password(32);
    const auto pwfile = dir_ / "pwfile";
    {
      std::ofstream out(pwfile);
      out << password_ << "\n";
    }
    std::filesystem::permissions(
        pwfile, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    give_to_server_owner(pwfile);
    auto init = run_as_server_owner({bin("initdb"), "-D", data.string(), "-U", "postgres",
                                     "--pwfile=" + pwfile.string(), "--auth-local=trust",
                                     "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                                     "--no-sync", "--no-instructions"});
    std::filesystem::remove(pwfile);
    if (init.status != 0) throw std::runtime_error("pg_fixture: initdb failed:\n" + init.output);

    {
      std::ofstream conf(data / "postgresql.conf", std::ios::app);
      conf << "\n# pg_fixture\n"
           << "listen_addresses = '127.0.0.1'\n"
           << "unix_socket_directories = " << conf_literal(dir_.string()) << "\n"
           << "fsync = off\n"
           << "synchronous_commit = off\n"
           << "full_page_writes = off\n"
           << "max_connections = 300\n"
           << "logging_collector = on\n"
           << "log_directory = " << conf_literal((dir_ / "log").string()) << "\n"
           << "log_filename = 'postgresql.log'\n"
           << "log_statement = 'all'\n"
           << "log_line_prefix = '%m [%p] %q%u@%d '\n";
      if (tls) {
        std::filesystem::create_directory(dir_ / "tls");
        make_server_certificate(dir_ / "tls");
        give_to_server_owner(dir_ / "tls");
        for (const auto& f : std::filesystem::directory_iterator(dir_ / "tls"))
          give_to_server_owner(f.path());
        conf << "ssl = on\n"
             << "ssl_cert_file = " << conf_literal((dir_ / "tls" / "server.pem").string()) << "\n"
             << "ssl_key_file = " << conf_literal((dir_ / "tls" / "server.key").string()) << "\n";
      }
    }

    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      {
        // The last setting in the file wins, so a retry simply appends another port.
        std::ofstream conf(data / "postgresql.conf", std::ios::app);
        conf << "port = " << port_ << "\n";
      }
      auto start = run_as_server_owner({bin("pg_ctl"), "start", "-w", "-t", "60", "-D",
                                        data.string(), "-l", (dir_ / "pg_ctl.log").string()});
      if (start.status == 0) break;
      std::string log = read_all(dir_ / "pg_ctl.log") + read_all(dir_ / "log" / "postgresql.log");
      // free_port() only says the port was free a moment ago; another test may have taken it.
      bool port_taken = log.find("could not bind") != std::string::npos ||
                        log.find("Address already in use") != std::string::npos;
      if (attempt == 0 && port_taken) continue;
      throw std::runtime_error("pg_fixture: pg_ctl start failed:\n" + start.output + "\n" + log);
    }
  } catch (...) {
    stop_and_remove(dir_);
    throw;
  }
}

pg_fixture::~pg_fixture() {
  stop_and_remove(dir_);
}

void pg_fixture::stop() {
  auto r = run_as_server_owner(
      {bin("pg_ctl"), "stop", "-D", (dir_ / "data").string(), "-m", "immediate", "-w"});
  if (r.status != 0) throw std::runtime_error("pg_fixture: pg_ctl stop failed:\n" + r.output);
}

void pg_fixture::start() {
  auto r = run_as_server_owner({bin("pg_ctl"), "start", "-w", "-t", "60", "-D",
                                (dir_ / "data").string(), "-l", (dir_ / "pg_ctl.log").string()});
  if (r.status != 0)
    throw std::runtime_error("pg_fixture: pg_ctl start failed:\n" + r.output + "\n" +
                             read_all(dir_ / "pg_ctl.log"));
}

std::string pg_fixture::admin_url(const std::string& db) const {
  return "postgresql://postgres:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/" +
         percent_encode(db);
}

void pg_fixture::wait_running(const std::string& query, int count,
                              std::chrono::milliseconds timeout) const {
  const std::string sql =
      "select count(*) from pg_stat_activity where state = 'active' and query = '" + query + "'";
  std::string seen;
  const bool running = wait_until(
      [&] {
        seen = psql(sql);
        return std::stoi(seen) >= count;
      },
      timeout);
  // Thrown, not REQUIREd: this library also serves the benchmarks, which have no Catch2.
  if (!running)
    throw std::runtime_error("waited for " + std::to_string(count) +
                             " backend(s) running: " + query + "; saw " + seen);
}

std::string pg_fixture::psql(const std::string& sql, const std::string& db) const {
  auto r =
      run({bin("psql"), "-X", "-w", "-v", "ON_ERROR_STOP=1", "-At", "-d",
           "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + percent_encode(db),
           "-c", sql},
          {}, psql_env(password_));
  if (r.status != 0)
    throw std::runtime_error("psql failed (status " + std::to_string(r.status) + ") running `" +
                             sql + "`:\n" + r.output);
  return trim_trailing_newlines(std::move(r.output));
}

std::pair<int, std::string> pg_fixture::psql_as(const std::string& user,
                                                const std::string& password, const std::string& db,
                                                const std::string& sql) const {
  auto r = run({bin("psql"), "-X", "-w", "-v", "ON_ERROR_STOP=1", "-At", "-h", "127.0.0.1", "-p",
                std::to_string(port_), "-U", user, "-d", db, "-c", sql},
               {}, psql_env(password));
  return {r.status, trim_trailing_newlines(std::move(r.output))};
}

}  // namespace apono::test
