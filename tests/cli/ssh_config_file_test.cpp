// The ssh_config text editing behind `access use --ssh-config`: the one Include line at the top of
// the user's file (added once, every other byte kept), apono's file of Host blocks per request
// (replaced, removed, others kept), values quoted and %-escaped for ssh, and the Host aliases.
// What OpenSSH makes of the result is checked with `ssh -G`.
#include "cli/ssh_config_file.hpp"

#include <catch2/catch.hpp>

#include <fstream>

#include "cli/ssh_config_access.hpp"
#include "tests/support/process.hpp"

using namespace apono::cli;
namespace fs = std::filesystem;

namespace {

const std::string catch_all = "Host *.apono\n  ProxyCommand relay --alias '%n'\n";

std::string block(const std::string& alias, const std::string& user) {
  return "Host " + alias + "\n  HostName 127.0.0.1\n  User " + user + "\n";
}

// `ssh -G` for `host` with `config`: what ssh would use, one "keyword value" per line.
std::string ssh_settings(const fs::path& config, const std::string& host) {
  auto r = apono::test::run({"ssh", "-F", config.string(), "-G", host});
  REQUIRE(r.status == 0);
  return r.output;
}

}  // namespace

TEST_CASE("the Include goes first, once, and the user's lines stay byte for byte") {
  const fs::path inc = "/home/u/.config/apono/ssh/config";
  const std::string mine = "# mine\nHost box\n  User me\n";
  auto once = with_include(mine, inc);
  CHECK(once ==
        "# Added by apono: the Host blocks of your SSH grants (apono access use ID "
        "--ssh-config).\nInclude /home/u/.config/apono/ssh/config\n" +
            mine);
  CHECK(with_include(once, inc) == once);
  // Written by hand, in another spelling: still there, nothing added.
  auto by_hand = "include=" + inc.string() + "\n" + mine;
  CHECK(with_include(by_hand, inc) == by_hand);
  // An empty or missing file; CRLF files get CRLF lines.
  CHECK(with_include("", inc).find("Include " + inc.string() + "\n") != std::string::npos);
  auto crlf = with_include("Host a\r\n  User b\r\n", inc);
  CHECK(crlf.find("Include " + inc.string() + "\r\nHost a\r\n") != std::string::npos);
  // A path with a space is quoted.
  CHECK(with_include("", "/home/a b/c").find("Include \"/home/a b/c\"\n") != std::string::npos);
}

TEST_CASE("ssh_config values: % doubled, quoted with spaces, refused when ssh cannot read them") {
  CHECK(ssh_config_value("/a/b") == "/a/b");
  CHECK(ssh_config_value("/a/100%/b") == "/a/100%%/b");
  CHECK(ssh_config_value("/a b") == "\"/a b\"");
  CHECK_THROWS(ssh_config_value("/a\"b"));
  CHECK_THROWS(ssh_config_value("/a\nb"));
}

TEST_CASE("apono's file: a request's blocks replaced or removed, the others kept") {
  auto one = with_grant_blocks("", "AR-00001", block("web.ar-00001.apono", "root"), catch_all);
  auto two = with_grant_blocks(one, "AR-00002", block("db.ar-00002.apono", "pg"), catch_all);
  CHECK(grant_ids(two) == std::vector<std::string>{"AR-00001", "AR-00002"});
  CHECK(two.find(block("web.ar-00001.apono", "root")) != std::string::npos);
  CHECK(two.find(block("db.ar-00002.apono", "pg")) != std::string::npos);
  // The catch-all once, last.
  CHECK(two.find(catch_all) == two.size() - catch_all.size());
  CHECK(two.find("Host *.apono") == two.rfind("Host *.apono"));

  auto replaced =
      with_grant_blocks(two, "AR-00001", block("web.ar-00001.apono", "admin"), catch_all);
  CHECK(replaced.find("User root") == std::string::npos);
  CHECK(replaced.find(block("web.ar-00001.apono", "admin")) != std::string::npos);
  CHECK(replaced.find(block("db.ar-00002.apono", "pg")) != std::string::npos);

  auto removed = with_grant_blocks(replaced, "AR-00001", "", catch_all);
  CHECK(grant_ids(removed) == std::vector<std::string>{"AR-00002"});
  CHECK(removed.find("web.ar-00001") == std::string::npos);
  CHECK(with_grant_blocks(removed, "AR-00001", "", catch_all) == removed);
}

TEST_CASE("OpenSSH reads it: the grant's settings beat the user's, which still apply elsewhere") {
  apono::test::temp_dir d;
  auto apono_file = d.path / "apono_config";
  std::ofstream(apono_file) << with_grant_blocks(
      "", "AR-00001", block("web.ar-00001.apono", "root") + "  Port 2222\n", catch_all);
  auto user_file = d.path / "config";
  std::ofstream(user_file) << with_include("User me\nPort 22\nHost box\n  HostName box.invalid\n",
                                           apono_file);
  auto grant = ssh_settings(user_file, "web.ar-00001.apono");
  CHECK(grant.find("\nuser root\n") != std::string::npos);
  CHECK(grant.find("\nport 2222\n") != std::string::npos);
  auto ended = ssh_settings(user_file, "web.ar-00009.apono");
  CHECK(ended.find("proxycommand relay --alias '%n'") != std::string::npos);
  // The Host lines of the included file do not swallow the user's global lines after it.
  auto other = ssh_settings(user_file, "elsewhere");
  CHECK(other.find("\nuser me\n") != std::string::npos);
  CHECK(other.find("proxycommand") == std::string::npos);
}

TEST_CASE("Host aliases: the resource and the request, lower case, safe characters only") {
  CHECK(ssh_host_alias("AR-00012", "web-1") == "web-1.ar-00012.apono");
  CHECK(ssh_host_alias("AR-00012", "Web 1/prod") == "web-1-prod.ar-00012.apono");
  CHECK(ssh_host_alias("AR-00012", "web-1", "Admin") == "admin.web-1.ar-00012.apono");
}
