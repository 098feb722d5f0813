// Shell quoting of the commands apono prints for people to copy, read back by a real sh.
#include "common/shell.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "tests/support/process.hpp"

using apono::common::shell_quote;

TEST_CASE("shell quoting: plain words stay as typed, the rest is single-quoted") {
  CHECK(shell_quote("AR-00012") == "AR-00012");
  CHECK(shell_quote("user@example.com") == "user@example.com");
  CHECK(shell_quote("host=/tmp/x,port=5432:a+b%c_d") == "host=/tmp/x,port=5432:a+b%c_d");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("two words") == "'two words'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("~root") == "'~root'");
}

TEST_CASE("shell quoting: sh reads every quoted word back unchanged") {
  const std::string words[] = {"",       "plain", "two words", "it's",     "''",
                               "$HOME",  "`id`",  "$(id)",     "a\\b",     "*",
                               "~",      "a;b",   "a|b&c",     "\"dq\"",   "line\nbreak",
                               "tab\tx", "!bang", "#hash",     "é ü 漢字", "-n",
                               "{a,b}",  "[ab]",  "x=1 y",     "%s %d",    "a'b'c"};
  for (const auto& w : words) {
    INFO("word: [" << w << "] quoted: " << shell_quote(w));
    // printf rather than echo: no option or escape of the word's own is interpreted.
    auto r = apono::test::run({"sh", "-c", "printf '%s' " + shell_quote(w)});
    CHECK(r.status == 0);
    CHECK(r.output == w);
  }
}
