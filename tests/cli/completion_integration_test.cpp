// `apono completion`: each script is loaded by its real shell (bash, zsh, fish) and asked for
// completions the way the shell would, so a script that is malformed, or that misses commands
// and flags anyone registers, fails here. Runs without a login, in a private config dir.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/cli_fixture.hpp"

using namespace apono::test;
using Catch::Matchers::VectorContains;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// What `apono completion <shell>` printed, saved in a file the shells can source.
struct script {
  cli_fixture cli;
  std::filesystem::path path;

  explicit script(const std::string& shell) : path(cli.home() / ("apono." + shell)) {
    auto r = cli.apono({"completion", shell});
    INFO(r.err);
    REQUIRE(r.status == 0);
    REQUIRE(r.err.empty());
    std::ofstream(path) << r.out;
  }
};

// The top-level commands, read from `apono --help`, so the test follows the live tree too.
std::vector<std::string> top_level_commands(const cli_fixture& cli) {
  auto r = cli.apono({"--help"});
  REQUIRE(r.status == 0);
  std::vector<std::string> names;
  bool in_list = false;
  for (const auto& line : lines_of(r.out)) {
    if (line == "Subcommands:") {
      in_list = true;
    } else if (in_list && line.starts_with("  ")) {
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
    } else {
      in_list = false;
    }
  }
  REQUIRE(names.size() >= 5);
  return names;
}

// Calls _apono as bash's programmable completion would: `words` are COMP_WORDS, the last one
// being completed (empty after a space). Returns COMPREPLY.
std::vector<std::string> bash_complete(const script& s, const std::vector<std::string>& words) {
  std::vector<std::string> argv{
      "bash",
      "--norc",
      "--noprofile",
      "-c",
      "source \"$0\" && COMP_WORDS=(\"$@\") && COMP_CWORD=$(($# - 1)) && _apono && "
      "printf '%s\\n' \"${COMPREPLY[@]}\"",
      s.path.string()};
  argv.insert(argv.end(), words.begin(), words.end());
  auto r = run(argv, {}, s.cli.env());
  INFO(r.output);
  REQUIRE(r.status == 0);
  return lines_of(r.output);
}

// `complete -C line` in fish: the candidates without their descriptions.
std::vector<std::string> fish_complete(const script& s, const std::string& line) {
  auto r = run({"fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", "--",
                s.path.string(), line},
               {}, s.cli.env());
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::vector<std::string> words;
  for (const auto& l : lines_of(r.output)) words.push_back(l.substr(0, l.find('\t')));
  return words;
}

// Runs an interactive zsh on a pseudo-terminal (zpty), types `line` and a Tab, and returns
// every match the completion functions added: compadd is wrapped to record them.
std::vector<std::string> zsh_complete(const script& s, const std::string& line) {
  auto setup = s.cli.home() / "zsh-setup";
  auto matches = s.cli.home() / "zsh-matches";
  std::filesystem::remove(matches);
  std::ofstream(setup) << R"(PROMPT=''
autoload -U compinit; compinit -u -D
source "$APONO_SCRIPT"
bindkey '^I' complete-word
zstyle ':completion:*' insert-tab false
compadd() {
  # Calls that only ask which words match (-O, -A, -D) add nothing themselves.
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a __matched
  builtin compadd -O __matched "$@"
  (( $#__matched )) && print -rl -- $__matched >> "$APONO_MATCHES"
  builtin compadd "$@"
}
_apono_test_done() { print -r -- '--done--' >> "$APONO_MATCHES"; exit }
comppostfuncs=( _apono_test_done )
)";
  std::string driver =
      "zmodload zsh/zpty\n"
      "zpty t zsh -f -i\n"
      "zpty -w t \"source ${(q)1}\"\n"
      "zpty -w -n t \"$2\"$'\\t'\n"
      "for i in {1..100}; do\n"
      "  [[ -f $APONO_MATCHES ]] && grep -q -- --done-- $APONO_MATCHES && break\n"
      "  sleep 0.1\n"
      "done\n"
      "zpty -d t\n"
      "cat $APONO_MATCHES\n";
  auto env = s.cli.env();
  env["APONO_SCRIPT"] = s.path.string();
  env["APONO_MATCHES"] = matches.string();
  auto r = run({"zsh", "-f", "-c", driver, "zsh", setup.string(), line}, {}, env);
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto words = lines_of(r.output);
  REQUIRE(!words.empty());
  REQUIRE(words.back() == "--done--");
  words.pop_back();
  return words;
}

}  // namespace

TEST_CASE("completion needs a known shell", "[cli][completion]") {
  cli_fixture cli;
  auto r = cli.apono({"completion", "tcsh"});
  CHECK(r.status == 2);
  CHECK(r.err.starts_with("Error: "));
  CHECK(r.err.find("tcsh") != std::string::npos);
  CHECK(r.out.empty());

  auto none = cli.apono({"completion"});
  CHECK(none.status == 2);
  CHECK(none.err.starts_with("Error: "));
}

TEST_CASE("bash completes commands, subcommands, flags and values", "[cli][completion]") {
  script s("bash");
  CHECK(s.cli.apono({"completion", "bash"}).out.find("complete -F _apono apono") !=
        std::string::npos);

  auto top = bash_complete(s, {"apono", ""});
  for (const auto& name : top_level_commands(s.cli)) CHECK_THAT(top, VectorContains(name));
  CHECK_THAT(top, !VectorContains(std::string("--help")));

  auto req = bash_complete(s, {"apono", "req"});
  CHECK_THAT(req, VectorContains(std::string("request")));
  CHECK_THAT(req, VectorContains(std::string("requests")));
  for (const auto& w : req) CHECK(w.starts_with("req"));

  auto requests = bash_complete(s, {"apono", "requests", ""});
  for (const char* sub : {"list", "describe", "revoke"})
    CHECK_THAT(requests, VectorContains(std::string(sub)));

  auto profiles = bash_complete(s, {"apono", "profiles", ""});
  CHECK(profiles == std::vector<std::string>{"list", "set"});

  auto flags = bash_complete(s, {"apono", "integrations", "-"});
  CHECK_THAT(flags, VectorContains(std::string("--output")));
  CHECK_THAT(flags, VectorContains(std::string("-o")));
  CHECK_THAT(flags, !VectorContains(std::string("--help")));
  CHECK_THAT(bash_complete(s, {"apono", "login", "--"}),
             VectorContains(std::string("--no-browser")));
  CHECK_THAT(bash_complete(s, {"apono", "-"}), VectorContains(std::string("--profile")));

  auto formats = std::vector<std::string>{"table", "json", "yaml"};
  CHECK(bash_complete(s, {"apono", "integrations", "--output", ""}) == formats);
  CHECK(bash_complete(s, {"apono", "integrations", "-o", "j"}) == std::vector<std::string>{"json"});
  // COMP_WORDBREAKS makes `--output=j` three words.
  CHECK(bash_complete(s, {"apono", "integrations", "--output", "=", "j"}) ==
        std::vector<std::string>{"json"});
  CHECK(bash_complete(s, {"apono", "integrations", "--output", "="}) == formats);
  // A flag's value is not taken for a subcommand.
  CHECK_THAT(bash_complete(s, {"apono", "--profile", "profiles", "prof"}),
             VectorContains(std::string("profiles")));
  CHECK(bash_complete(s, {"apono", "--profile", "dev", "profiles", ""}) ==
        std::vector<std::string>{"list", "set"});

  CHECK(bash_complete(s, {"apono", "completion", ""}) ==
        std::vector<std::string>{"bash", "zsh", "fish", "powershell"});

  // A value nothing knows about is a file name.
  std::ofstream(s.cli.home() / "ca-bundle.pem") << "x";
  CHECK(bash_complete(s, {"apono", "login", "--ca-file", (s.cli.home() / "ca-b").string()}) ==
        std::vector<std::string>{(s.cli.home() / "ca-bundle.pem").string()});
}

TEST_CASE("zsh loads the script and completes from it", "[cli][completion]") {
  script s("zsh");
  CHECK(s.cli.apono({"completion", "zsh"}).out.starts_with("#compdef apono\n"));

  SECTION("sourced after compinit") {
    auto r = run({"zsh", "-f", "-c",
                  "autoload -U compinit; compinit -u -D; source <(\"$0\" completion zsh) && "
                  "whence -w _apono && print -r -- $_comps[apono]",
                  APONO_BINARY},
                 {}, s.cli.env());
    CHECK(r.status == 0);
    CHECK(r.output == "_apono: function\n_apono\n");
  }
  SECTION("autoloaded from $fpath, as the file _apono") {
    auto dir = s.cli.home() / "zfunc";
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(s.path, dir / "_apono");
    auto r = run({"zsh", "-f", "-c",
                  "fpath=(\"$0\" $fpath); autoload -U compinit; compinit -u -D; "
                  "print -r -- $_comps[apono]",
                  dir.string()},
                 {}, s.cli.env());
    CHECK(r.status == 0);
    CHECK(r.output == "_apono\n");
  }
  SECTION("completions, through a pseudo-terminal") {
    auto top = zsh_complete(s, "apono ");
    for (const auto& name : top_level_commands(s.cli)) CHECK_THAT(top, VectorContains(name));

    auto req = zsh_complete(s, "apono req");
    CHECK_THAT(req, VectorContains(std::string("request")));
    CHECK_THAT(req, VectorContains(std::string("requests")));

    auto requests = zsh_complete(s, "apono requests ");
    for (const char* sub : {"list", "describe", "revoke"})
      CHECK_THAT(requests, VectorContains(std::string(sub)));

    auto profiles = zsh_complete(s, "apono profiles ");
    CHECK_THAT(profiles, VectorContains(std::string("list")));
    CHECK_THAT(profiles, VectorContains(std::string("set")));

    auto flags = zsh_complete(s, "apono integrations -");
    CHECK_THAT(flags, VectorContains(std::string("--output")));
    CHECK_THAT(zsh_complete(s, "apono integrations --output "),
               VectorContains(std::string("json")));
    CHECK_THAT(zsh_complete(s, "apono completion "), VectorContains(std::string("fish")));
  }
}

TEST_CASE("fish completes commands, subcommands, flags and values", "[cli][completion]") {
  script s("fish");

  auto top = fish_complete(s, "apono ");
  for (const auto& name : top_level_commands(s.cli)) CHECK_THAT(top, VectorContains(name));

  CHECK_THAT(fish_complete(s, "apono prof"), VectorContains(std::string("profiles")));
  auto req = fish_complete(s, "apono req");
  CHECK_THAT(req, VectorContains(std::string("request")));
  CHECK_THAT(req, VectorContains(std::string("requests")));

  auto profiles = fish_complete(s, "apono profiles ");
  CHECK(profiles == std::vector<std::string>{"list", "set"});
  auto requests = fish_complete(s, "apono requests ");
  for (const char* sub : {"list", "describe", "revoke"})
    CHECK_THAT(requests, VectorContains(std::string(sub)));

  CHECK_THAT(fish_complete(s, "apono integrations -"), VectorContains(std::string("--output")));
  CHECK_THAT(fish_complete(s, "apono integrations --output "), VectorContains(std::string("json")));
  CHECK_THAT(fish_complete(s, "apono --profile dev prof"), VectorContains(std::string("profiles")));
  CHECK_THAT(fish_complete(s, "apono completion "), VectorContains(std::string("powershell")));
}

TEST_CASE("powershell registers a completer that knows every command", "[cli][completion]") {
  cli_fixture cli;
  auto r = cli.apono({"completion", "powershell"});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("Register-ArgumentCompleter -Native -CommandName 'apono'") != std::string::npos);
  for (const auto& name : top_level_commands(cli))
    CHECK(r.out.find("Name = '" + name + "'") != std::string::npos);
  CHECK(r.out.find("'--output'") != std::string::npos);
}
