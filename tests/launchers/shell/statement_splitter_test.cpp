// Statement splitting as psql's lexer does it: what ends a statement, the text sent, and the
// continuation state shown in the prompt.
#include "launchers/shell/statement_splitter.hpp"

#include <catch2/catch.hpp>

using apono::launchers::shell::continuation;
using apono::launchers::shell::prompt_char;
using apono::launchers::shell::split_event;
using apono::launchers::shell::statement_splitter;

namespace {

// Feeds `lines` and returns the statements ("SQL") and commands ("\cmd") found, in order.
std::vector<std::string> run(statement_splitter& s, std::initializer_list<std::string_view> lines) {
  std::vector<std::string> out;
  for (auto line : lines)
    for (auto& e : s.feed(line))
      out.push_back(e.type == split_event::kind::statement ? e.text : "\\" + e.text);
  return out;
}

std::vector<std::string> run(std::initializer_list<std::string_view> lines) {
  statement_splitter s;
  return run(s, lines);
}

using list = std::vector<std::string>;

}  // namespace

TEST_CASE("splitter: a semicolon ends a statement, several per line") {
  CHECK(run({"select 1;"}) == list{"select 1;"});
  CHECK(run({"select 1; select 2;"}) == list{"select 1;", "select 2;"});
  CHECK(run({"select", "  1", ";"}) == list{"select\n  1\n;"});
}

TEST_CASE("splitter: leading whitespace and -- comments are dropped, later ones kept") {
  CHECK(run({"  -- leading comment", "  select 1 -- trailing",
             "  /* mid */ , 2;   select 3;  -- after"}) ==
        list{"select 1 -- trailing\n  /* mid */ , 2;", "select 3;"});
  CHECK(run({"/* lead */ select 4;"}) == list{"/* lead */ select 4;"});
  CHECK(run({"", "", "select 1;"}) == list{"select 1;"});
}

TEST_CASE("splitter: semicolons inside quotes and comments do not count") {
  CHECK(run({"select ';', \"a;b\" from t;"}) == list{"select ';', \"a;b\" from t;"});
  CHECK(run({"select 'it''s;';"}) == list{"select 'it''s;';"});
  CHECK(run({"select E'\\';', 1;"}) == list{"select E'\\';', 1;"});
  CHECK(run({"select $$ ; $$, $tag$ $$ ; $tag$;"}) == list{"select $$ ; $$, $tag$ $$ ; $tag$;"});
  CHECK(run({"select /* a /* nested ; */ still ; */ 1;"}) ==
        list{"select /* a /* nested ; */ still ; */ 1;"});
  CHECK(run({"select 1 -- not the end;", ";"}) == list{"select 1 -- not the end;\n;"});
}

TEST_CASE("splitter: standard strings keep backslashes literal") {
  CHECK(run({"select 'a\\';"}) == list{"select 'a\\';"});
  statement_splitter old(false);
  CHECK(run(old, {"select 'a\\';", "';"}) == list{"select 'a\\';\n';"});
}

TEST_CASE("splitter: dollar signs that are not quotes") {
  CHECK(run({"prepare p as select $1;"}) == list{"prepare p as select $1;"});
  CHECK(run({"select a$b$ from t;"}) == list{"select a$b$ from t;"});
  CHECK(run({"select $a$ x $b$ y $a$;"}) == list{"select $a$ x $b$ y $a$;"});
}

TEST_CASE("splitter: parentheses and BEGIN ATOMIC bodies hold semicolons") {
  statement_splitter s;
  CHECK(run(s, {"select (1"}).empty());
  CHECK(s.state() == continuation::paren);
  CHECK(run(s, {";"}).empty());
  CHECK(run(s, {");"}) == list{"select (1\n;\n);"});

  CHECK(run({"create function f() returns int language sql", "begin atomic", "  select 1;",
             "  select case when true then 1 end;", "end;"}) ==
        list{"create function f() returns int language sql\nbegin atomic\n  select 1;\n"
             "  select case when true then 1 end;\nend;"});
  CHECK(run({"create or replace procedure p() begin atomic select 1; end;"}) ==
        list{"create or replace procedure p() begin atomic select 1; end;"});
  // BEGIN alone is a transaction, not a body.
  CHECK(run({"begin; select 1; end;"}) == list{"begin;", "select 1;", "end;"});
}

TEST_CASE("splitter: continuation state for the prompt") {
  statement_splitter s;
  CHECK(s.state() == continuation::none);
  CHECK(prompt_char(s.state()) == '=');
  (void)s.feed("select");
  CHECK(prompt_char(s.state()) == '-');
  (void)s.feed("'abc");
  CHECK(prompt_char(s.state()) == '\'');
  (void)s.feed("' , \"x");
  CHECK(prompt_char(s.state()) == '"');
  (void)s.feed("\", $q$");
  CHECK(prompt_char(s.state()) == '$');
  (void)s.feed("$q$ /*");
  CHECK(prompt_char(s.state()) == '*');
  (void)s.feed("*/ (");
  CHECK(prompt_char(s.state()) == '(');
  CHECK(s.feed(");").size() == 1);
  CHECK(s.state() == continuation::none);
  CHECK(s.buffer().empty());
}

TEST_CASE("splitter: backslash commands take the rest of the line") {
  CHECK(run({"\\x"}) == list{"\\x"});
  CHECK(run({"\\d  my_table  "}) == list{"\\d  my_table  "});
  CHECK(run({"select 6; \\x"}) == list{"select 6;", "\\x"});
  statement_splitter s;
  CHECK(run(s, {"select 5 \\g"}) == list{"\\g"});
  CHECK(s.buffer() == "select 5 ");
  CHECK(s.take() == "select 5 ");
  // A line with only a command adds no newline to the statement around it.
  CHECK(run(s, {"select", "\\x", "1;"}) == list{"\\x", "select\n1;"});
  CHECK(run(s, {"select", "  \\x", "1;"}) == list{"\\x", "select\n  \n1;"});
  CHECK(s.buffer().empty());
  // Inside quotes a backslash is just text; \; puts a semicolon in without ending.
  CHECK(run({"select '\\x';"}) == list{"select '\\x';"});
  CHECK(run({"select 1 \\; select 2;"}) == list{"select 1 ; select 2;"});
}

TEST_CASE("splitter: clear drops the buffer and the state") {
  statement_splitter s;
  (void)s.feed("select 'unterminated");
  s.clear();
  CHECK(s.state() == continuation::none);
  CHECK(run(s, {"select 1;"}) == list{"select 1;"});
}
