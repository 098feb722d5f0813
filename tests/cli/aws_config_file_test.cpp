// upsert_aws_profile on realistic ~/.aws/config files: appends and in-place edits that keep every
// other byte, botocore's reading of section names (checked against the real aws CLI when it is
// installed), refusals, and the file written 0600 through edit_private_file.
#include "cli/aws_config_file.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/private_file.hpp"
#include "tests/support/process.hpp"

using namespace apono::cli;
namespace fs = std::filesystem;
using apono::test::file_mode;
using apono::test::on_path;
using apono::test::scoped_env;

namespace {

const aws_settings apono_settings = {
    {"credential_process", "/usr/local/bin/apono access aws-credentials AR-00012"},
    {"region", "eu-west-1"},
};

const std::string apono_body =
    "credential_process = /usr/local/bin/apono access aws-credentials AR-00012\n"
    "region = eu-west-1\n";

// A config as people have it: SSO, services, comments of both kinds, nested s3 settings.
const std::string head =
    "# ~/.aws/config -- managed by hand\n"
    "; old-style comment\n"
    "[default]\n"
    "region = us-east-1\n"
    "output = json\n"
    "\n"
    "[profile dev]\n"
    "sso_session = corp\n"
    "sso_account_id = 111122223333\n"
    "sso_role_name = Developer\n"
    "region=eu-central-1\n"
    "s3 =\n"
    "  addressing_style = path\n"
    "  max_concurrent_requests = 20\n"
    "\n"
    "[sso-session corp]\n"
    "sso_start_url = https://corp.awsapps.com/start\n"
    "sso_region = us-east-1\n"
    "sso_registration_scopes = sso:account:access\n"
    "\n";
const std::string tail =
    "# local endpoints for tests\n"
    "; (kept with the section below)\n"
    "\n"
    "[services local]\n"
    "s3 =\n"
    "  endpoint_url = http://127.0.0.1:9000\n"
    "\n"
    "[profile prod]\n"
    "role_arn = arn:aws:iam::444455556666:role/Admin\n"
    "source_profile = dev\n";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("a new profile is appended after one blank line, the rest untouched") {
  auto text = head + tail;
  auto out = upsert_aws_profile(text, "apono", apono_settings);
  CHECK(out == text + "\n[profile apono]\n" + apono_body);
}

TEST_CASE("appending handles a missing final newline, trailing blank lines and an empty file") {
  CHECK(upsert_aws_profile("[default]\nregion = us-east-1", "apono", apono_settings) ==
        "[default]\nregion = us-east-1\n\n[profile apono]\n" + apono_body);
  CHECK(upsert_aws_profile("[default]\n\n\n", "apono", apono_settings) ==
        "[default]\n\n\n[profile apono]\n" + apono_body);
  CHECK(upsert_aws_profile("", "apono", apono_settings) == "[profile apono]\n" + apono_body);
  CHECK(upsert_aws_profile("# nothing yet\n", "apono", apono_settings) ==
        "# nothing yet\n\n[profile apono]\n" + apono_body);
}

TEST_CASE("an existing profile's body is replaced; comments before the next section stay") {
  auto old_section =
      "[profile apono]\n"
      "credential_process = /usr/local/bin/apono access aws-credentials AR-00001\n"
      "# a note inside the body\n"
      "region = us-west-2\n"
      "role_arn = arn:aws:iam::1:role/Leftover\n"
      "\n";
  auto text = head + old_section + tail;
  auto out = upsert_aws_profile(text, "apono", apono_settings);
  // Everything before the header and from the next section's comments on is byte for byte.
  CHECK(out == head + "[profile apono]\n" + apono_body + "\n" + tail);
  CHECK(upsert_aws_profile(out, "apono", apono_settings) == out);
}

TEST_CASE("the last section of a file is replaced, with or without a final newline") {
  CHECK(upsert_aws_profile("[default]\nx = 1\n[profile apono]\nregion = x", "apono",
                           apono_settings) == "[default]\nx = 1\n[profile apono]\n" + apono_body);
  CHECK(upsert_aws_profile("[profile apono]", "apono", apono_settings) ==
        "[profile apono]\n" + apono_body);
}

TEST_CASE("upserting twice gives the same text, also after changing the settings") {
  for (const auto& text : {head + tail, std::string{}, std::string("[default]"), head}) {
    auto once = upsert_aws_profile(text, "apono", apono_settings);
    CHECK(upsert_aws_profile(once, "apono", apono_settings) == once);
    auto other = upsert_aws_profile(once, "apono", {{"credential_process", "true"}});
    CHECK(other != once);
    CHECK(upsert_aws_profile(other, "apono", apono_settings) == once);
  }
}

TEST_CASE("the default profile is [default], and botocore's last default section is edited") {
  CHECK(upsert_aws_profile("", "default", apono_settings) == "[default]\n" + apono_body);
  CHECK(upsert_aws_profile("[default]\nregion = x\n\n[profile b]\n", "default", apono_settings) ==
        "[default]\n" + apono_body + "\n[profile b]\n");
  // botocore files both under "default"; the later one in the file wins, so that one is edited.
  CHECK(upsert_aws_profile("[default]\na = 1\n[profile default]\nb = 2\n", "default",
                           apono_settings) == "[default]\na = 1\n[profile default]\n" + apono_body);
  CHECK(upsert_aws_profile("[profile default]\nb = 2\n[default]\na = 1\n", "default",
                           apono_settings) == "[profile default]\nb = 2\n[default]\n" + apono_body);
}

TEST_CASE("section names are matched as botocore reads them") {
  // Spaces inside the brackets after `profile` and quotes are shlex-split away: still apono.
  CHECK(upsert_aws_profile("[profile  apono ]  ; mine\nx = 1\n[b]\n", "apono", apono_settings) ==
        "[profile  apono ]  ; mine\n" + apono_body + "[b]\n");
  CHECK(upsert_aws_profile("[profile \"apono\"]\nx = 1\n", "apono", apono_settings) ==
        "[profile \"apono\"]\n" + apono_body);
  // A leading space makes " profile apono" no profile at all for botocore: a new one is added.
  CHECK(upsert_aws_profile("[ profile apono]\nx = 1\n", "apono", apono_settings) ==
        "[ profile apono]\nx = 1\n\n[profile apono]\n" + apono_body);
  // Neither is a services or sso-session section of the same name, nor another profile.
  CHECK(upsert_aws_profile("[sso-session apono]\nx = 1\n[profile apono2]\ny = 2\n", "apono",
                           apono_settings) ==
        "[sso-session apono]\nx = 1\n[profile apono2]\ny = 2\n\n[profile apono]\n" + apono_body);
  // Two spellings of one profile: botocore uses the last, so that one is edited, the first kept.
  CHECK(upsert_aws_profile("[profile apono]\nx = 1\n[profile  apono]\ny = 2\n", "apono",
                           apono_settings) ==
        "[profile apono]\nx = 1\n[profile  apono]\n" + apono_body);
}

TEST_CASE("an indented header is edited with its indentation") {
  CHECK(upsert_aws_profile("  [profile apono]\n  x = 1\n  [profile b]\n  y = 2\n", "apono",
                           apono_settings) ==
        "  [profile apono]\n"
        "  credential_process = /usr/local/bin/apono access aws-credentials AR-00012\n"
        "  region = eu-west-1\n"
        "  [profile b]\n"
        "  y = 2\n");
}

TEST_CASE("CRLF files get CRLF lines") {
  std::string text = "[default]\r\nregion = us-east-1\r\n\r\n[profile apono]\r\nx = 1\r\n";
  auto out = upsert_aws_profile(text, "apono", apono_settings);
  CHECK(out ==
        "[default]\r\nregion = us-east-1\r\n\r\n[profile apono]\r\n"
        "credential_process = /usr/local/bin/apono access aws-credentials AR-00012\r\n"
        "region = eu-west-1\r\n");
  auto appended = upsert_aws_profile("[default]\r\nregion = us-east-1", "new", apono_settings);
  CHECK(appended ==
        "[default]\r\nregion = us-east-1\r\n\r\n[profile new]\r\n"
        "credential_process = /usr/local/bin/apono access aws-credentials AR-00012\r\n"
        "region = eu-west-1\r\n");
}

TEST_CASE("empty values are written as `key =`") {
  CHECK(upsert_aws_profile("", "apono", {{"region", ""}}) == "[profile apono]\nregion =\n");
}

TEST_CASE("profile names, keys and values the file cannot hold are refused") {
  for (const char* name : {"", "a b", "a]b", "a[b", "tab\tname", "new\nline", "q'uote", "q\"uote",
                           "back\\slash", "ctl\x01"})
    CHECK_THROWS_AS(upsert_aws_profile("", name, apono_settings), std::invalid_argument);
  CHECK_THROWS_WITH(upsert_aws_profile("", "a b", apono_settings),
                    Catch::Contains("invalid AWS profile name \"a b\""));
  CHECK_THROWS_WITH(upsert_aws_profile("", "apono", {{"credential_process", "a\nb"}}),
                    Catch::Contains("line break"));
  CHECK_THROWS_AS(upsert_aws_profile("", "apono", {{"region", "x\r"}}), std::invalid_argument);
  CHECK_THROWS_AS(upsert_aws_profile("", "apono", {{"region", " x"}}), std::invalid_argument);
  CHECK_THROWS_AS(upsert_aws_profile("", "apono", {{"a = b", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(upsert_aws_profile("", "apono", {{"", "x"}}), std::invalid_argument);
  CHECK_THROWS_WITH(upsert_aws_profile("", "apono", {{"region", "a"}, {"Region", "b"}}),
                    Catch::Contains("given twice"));
}

TEST_CASE("files that aws itself cannot read are refused with the line") {
  auto refused = [](const std::string& text, const std::string& what) {
    CHECK_THROWS_WITH(upsert_aws_profile(text, "apono", apono_settings), Catch::Contains(what));
  };
  refused("[profile apono]\nx = 1\n[profile apono]\n", "line 3 repeats section [profile apono]");
  refused("region = x\n[default]\n", "line 1 is outside any [section]");
  refused("[default]\njust words\n", "line 2 is neither a section, a setting nor a comment");
  refused("[default]\nregion = a\nREGION = b\n", "line 3 repeats region");
  refused("[default]\n= x\n", "line 2 has a setting without a name");
  refused("[x]\ns3 =\n  addressing_style = path\n  oops\n", "line 2 has a nested setting");
  refused("[default]\rregion = x\r", "bare CR");
  CHECK_THROWS_WITH(upsert_aws_profile("a = 1\n", "apono", apono_settings),
                    "aws config: line 1 is outside any [section]; aws cannot read this file "
                    "either, so apono will not edit it");
}

TEST_CASE("an edit that would change how other lines read is refused") {
  // Without settings above it, the indented line is a section; under ours it would continue our
  // last value. The safety net sees the section vanish.
  CHECK_THROWS_WITH(
      upsert_aws_profile("[profile apono]\n  [other]\nk = v\n", "apono", apono_settings),
      Catch::Contains("would change other settings"));
}

TEST_CASE("aws_config_path follows AWS_CONFIG_FILE and HOME") {
  scoped_env home("HOME", "/home/dev");
  {
    scoped_env file("AWS_CONFIG_FILE", std::nullopt);
    CHECK(aws_config_path() == fs::path("/home/dev/.aws/config"));
  }
  {
    scoped_env file("AWS_CONFIG_FILE", "~/dotfiles/aws");
    CHECK(aws_config_path() == fs::path("/home/dev/dotfiles/aws"));
  }
  {
    scoped_env file("AWS_CONFIG_FILE", "/etc/aws/config");
    CHECK(aws_config_path() == fs::path("/etc/aws/config"));
  }
  {
    scoped_env file("AWS_CONFIG_FILE", "");
    CHECK(aws_config_path() == fs::path("/home/dev/.aws/config"));
  }
}

TEST_CASE("the file is written 0600 in a new 0700 directory; a refusal writes nothing") {
  apono::test::temp_dir tmp;
  auto file = tmp.path / "home" / ".aws" / "config";
  auto edit = [](const aws_settings& s) {
    return [&s](std::string_view old) { return upsert_aws_profile(old, "apono", s); };
  };
  CHECK(edit_private_file(file, edit(apono_settings)));
  CHECK(slurp(file) == "[profile apono]\n" + apono_body);
  CHECK(file_mode(file) == 0600);
  CHECK(file_mode(file.parent_path()) == 0700);

  std::ofstream(file, std::ios::binary) << head + tail;
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  CHECK(edit_private_file(file, edit(apono_settings)));
  CHECK(slurp(file) == head + tail + "\n[profile apono]\n" + apono_body);
  CHECK(file_mode(file) == 0600);
  CHECK_FALSE(edit_private_file(file, edit(apono_settings)));

  std::ofstream(file, std::ios::binary) << "[default]\n[default]\n";
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(edit_private_file(file, edit(apono_settings)),
                    Catch::StartsWith(file.string() + ": aws config: line 2 repeats"));
  CHECK(slurp(file) == "[default]\n[default]\n");
  CHECK(file_mode(file) == 0644);
  aws_settings bad = {{"region", "a\nb"}};
  CHECK_THROWS_AS(edit_private_file(file, edit(bad)), std::invalid_argument);
  CHECK(slurp(file) == "[default]\n[default]\n");
}

TEST_CASE("the aws CLI reads our profile and the others unchanged") {
  if (!on_path("aws")) {
    WARN("aws CLI not on PATH: skipped");
    return;
  }
  apono::test::temp_dir tmp;
  auto file = tmp.path / "aws-config";
  std::ofstream(file, std::ios::binary) << head + tail;
  std::map<std::string, std::string> env = {
      {"HOME", tmp.path.string()},
      {"AWS_CONFIG_FILE", file.string()},
      {"AWS_SHARED_CREDENTIALS_FILE", (tmp.path / "no-credentials").string()},
      {"AWS_PROFILE", "default"},
  };
  auto get = [&env](const std::string& key, const std::string& profile) {
    auto r = apono::test::run({"aws", "configure", "get", key, "--profile", profile}, {}, env);
    INFO(r.output);
    return r.status == 0 ? r.output : "<exit " + std::to_string(r.status) + ">";
  };
  // Each aws start costs a second or more, so only a few values are asked for; the unit tests
  // above check the bytes of every other line.
  CHECK(edit_private_file(
      file, [](std::string_view old) { return upsert_aws_profile(old, "apono", apono_settings); }));
  CHECK(get("credential_process", "apono") ==
        "/usr/local/bin/apono access aws-credentials AR-00012\n");
  CHECK(get("region", "apono") == "eu-west-1\n");
  CHECK(get("region", "default") == "us-east-1\n");
  CHECK(get("sso_session", "dev") == "corp\n");

  // Edited again, and the default profile, as aws sees them.
  CHECK(edit_private_file(file, [](std::string_view old) {
    return upsert_aws_profile(old, "apono", {{"credential_process", "/bin/apono x AR-2"}});
  }));
  CHECK(get("credential_process", "apono") == "/bin/apono x AR-2\n");
  CHECK(edit_private_file(file, [](std::string_view old) {
    return upsert_aws_profile(old, "default", {{"credential_process", "/bin/apono y AR-3"}});
  }));
  CHECK(get("credential_process", "default") == "/bin/apono y AR-3\n");
  CHECK(get("role_arn", "prod") == "arn:aws:iam::444455556666:role/Admin\n");
}

TEST_CASE("the aws CLI uses the section apono edits when a profile is spelled twice") {
  if (!on_path("aws")) {
    WARN("aws CLI not on PATH: skipped");
    return;
  }
  apono::test::temp_dir tmp;
  auto file = tmp.path / "aws-config";
  std::ofstream(file, std::ios::binary)
      << "[profile apono]\ncredential_process = first\n[profile  \"apono\" ]\nregion = x\n";
  CHECK(edit_private_file(
      file, [](std::string_view old) { return upsert_aws_profile(old, "apono", apono_settings); }));
  CHECK(slurp(file) ==
        "[profile apono]\ncredential_process = first\n[profile  \"apono\" ]\n" + apono_body);
  auto r =
      apono::test::run({"aws", "configure", "get", "credential_process", "--profile", "apono"}, {},
                       {{"HOME", tmp.path.string()},
                        {"AWS_CONFIG_FILE", file.string()},
                        {"AWS_SHARED_CREDENTIALS_FILE", (tmp.path / "none").string()}});
  CHECK(r.output == "/usr/local/bin/apono access aws-credentials AR-00012\n");
}

TEST_CASE("write_aws_profile writes the file aws_config_path names") {
  apono::test::temp_dir tmp;
  scoped_env home("HOME", tmp.path.string());
  {
    scoped_env file("AWS_CONFIG_FILE", std::nullopt);
    CHECK(write_aws_profile("apono", apono_settings) == tmp.path / ".aws" / "config");
    CHECK(slurp(tmp.path / ".aws" / "config") == "[profile apono]\n" + apono_body);
    CHECK(file_mode(tmp.path / ".aws" / "config") == 0600);
    CHECK(file_mode(tmp.path / ".aws") == 0700);
    CHECK_THROWS_WITH(write_aws_profile("apono", {{"region", "a"}, {"region", "b"}}),
                      Catch::Contains("given twice"));
    CHECK(slurp(tmp.path / ".aws" / "config") == "[profile apono]\n" + apono_body);
  }
  {
    scoped_env file("AWS_CONFIG_FILE", "~/dotfiles/aws-config");
    CHECK(write_aws_profile("default", apono_settings) == tmp.path / "dotfiles" / "aws-config");
    CHECK(slurp(tmp.path / "dotfiles" / "aws-config") == "[default]\n" + apono_body);
  }
}
