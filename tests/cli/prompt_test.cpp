// The prompt widgets' state machines and key decoding, without a terminal: filtering,
// wrap-around, toggling, automatic answers, empty filters, text validation.
#include "cli/prompt.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace apono::cli;
using kind = key::kind;

namespace {

// Feeds the keys of `typed` (as a terminal would send them) and returns the last action.
prompt_action type(list_prompt& p, std::string_view typed) {
  auto action = prompt_action::redraw;
  for (const auto& k : decode_keys(typed)) action = p.on_key(k);
  return action;
}

prompt_action type(text_prompt& p, std::string_view typed) {
  auto action = prompt_action::redraw;
  for (const auto& k : decode_keys(typed)) action = p.on_key(k);
  return action;
}

const std::string up = "\x1b[A";
const std::string down = "\x1b[B";

std::vector<std::string> labels(const list_prompt& p) {
  std::vector<std::string> v;
  for (auto i : p.visible()) v.push_back(p.options()[i]);
  return v;
}

}  // namespace

TEST_CASE("decode_keys: arrows, enter, backspace, control keys and text") {
  CHECK(decode_keys("\x1b[A\x1b[B\x1bOA\x1bOB") ==
        std::vector<key>{{kind::up}, {kind::down}, {kind::up}, {kind::down}});
  CHECK(decode_keys("\r\n\n") == std::vector<key>{{kind::enter}, {kind::enter}});
  CHECK(decode_keys("\x7f\x08") == std::vector<key>{{kind::backspace}, {kind::backspace}});
  CHECK(decode_keys("\x03\x04\x15") ==
        std::vector<key>{{kind::interrupt}, {kind::eof}, {kind::kill_line}});
  CHECK(decode_keys("a /") ==
        std::vector<key>{key::character('a'), key::character(' '), key::character('/')});
  CHECK(decode_keys("\x1b") == std::vector<key>{{kind::escape}});
  CHECK(decode_keys("\x1bx") == std::vector<key>{{kind::escape}, key::character('x')});
  CHECK(decode_keys("\x1b[1~\x1b[4~\x1b[H\x1b[F") ==
        std::vector<key>{{kind::home}, {kind::end}, {kind::home}, {kind::end}});
  // Unknown sequences are swallowed whole, not typed as text.
  CHECK(decode_keys("\x1b[3;5~x") == std::vector<key>{{kind::other}, key::character('x')});
  CHECK(decode_keys("\x1b[1;5C") == std::vector<key>{{kind::other}});
  // UTF-8 arrives byte by byte.
  CHECK(decode_keys("é").size() == 2);
}

TEST_CASE("list_prompt: arrows and j/k wrap around") {
  list_prompt p({"a", "b", "c"}, false);
  CHECK(p.current() == 0);
  CHECK(type(p, up) == prompt_action::redraw);
  CHECK(p.current() == 2);
  (void)type(p, down);
  CHECK(p.current() == 0);
  (void)type(p, "jj");
  CHECK(p.current() == 2);
  (void)type(p, "j");
  CHECK(p.current() == 0);
  (void)type(p, "k");
  CHECK(p.current() == 2);
  (void)type(p, "\x1b[H");
  CHECK(p.current() == 0);
  (void)type(p, "\x1b[F");
  CHECK(p.current() == 2);
  CHECK(type(p, "\r") == prompt_action::submit);
  CHECK(p.answer() == std::vector<std::size_t>{2});
}

TEST_CASE("list_prompt: / filters case-insensitively, Backspace edits, Esc clears") {
  list_prompt p({"appdb", "postgres", "Reports", "app_archive"}, false);
  CHECK_FALSE(p.filtering());
  (void)type(p, "/");
  CHECK(p.filtering());
  (void)type(p, "APP");
  CHECK(p.filter() == "APP");
  CHECK(labels(p) == std::vector<std::string>{"appdb", "app_archive"});
  // j and k are text while filtering, not movement.
  (void)type(p, "_");
  CHECK(labels(p) == std::vector<std::string>{"app_archive"});
  (void)type(p, "\x7f");
  CHECK(labels(p) == std::vector<std::string>{"appdb", "app_archive"});
  // Widening and clearing the filter keep the cursor on the same option.
  CHECK(p.options()[p.current()] == "app_archive");
  (void)type(p, "\x1b");
  CHECK_FALSE(p.filtering());
  CHECK(p.filter().empty());
  CHECK(p.visible().size() == 4);
  CHECK(p.options()[p.current()] == "app_archive");
  // Backspace on an empty filter leaves filter mode.
  (void)type(p, "/r\x7f");
  CHECK(p.filtering());
  (void)type(p, "\x7f");
  CHECK_FALSE(p.filtering());
  // Typing while filtering with j/k.
  (void)type(p, "/jk");
  CHECK(p.filter() == "jk");
}

TEST_CASE("list_prompt: wrap-around stays inside the filtered list") {
  list_prompt p({"appdb", "postgres", "app_archive"}, false);
  (void)type(p, "/app");
  CHECK(p.options()[p.current()] == "appdb");
  (void)type(p, up);
  CHECK(p.options()[p.current()] == "app_archive");
  (void)type(p, down);
  CHECK(p.options()[p.current()] == "appdb");
  CHECK(type(p, "\r") == prompt_action::submit);
  CHECK(p.answer() == std::vector<std::size_t>{0});
}

TEST_CASE("list_prompt: a filter with no matches refuses Enter until cleared") {
  list_prompt p({"appdb", "postgres"}, false);
  (void)type(p, "/zzz");
  CHECK(p.visible().empty());
  CHECK(p.current() == p.options().size());
  (void)type(p, up + down);  // moving over nothing does nothing
  CHECK(type(p, "\r") == prompt_action::redraw);
  CHECK_FALSE(p.hint().empty());
  auto lines = render_list("Resource", p, 10);
  CHECK(lines.at(0) == "? Resource: /zzz");
  CHECK(lines.at(1) == "  (no matches)");
  CHECK(lines.back().find("nothing matches") != std::string::npos);
  // The hint lasts one key.
  (void)type(p, "\x1b");
  CHECK(p.hint().empty());
  CHECK(p.visible().size() == 2);
  CHECK(type(p, "\r") == prompt_action::submit);
  CHECK(p.answer() == std::vector<std::size_t>{0});
}

TEST_CASE("list_prompt: multi-select toggles with space and needs at least one") {
  list_prompt p({"appdb", "postgres", "reports"}, true);
  CHECK(type(p, "\r") == prompt_action::redraw);
  CHECK(p.hint() == "select at least one (space toggles)");
  (void)type(p, " ");
  CHECK(p.selected(0));
  (void)type(p, down + down + " ");
  CHECK(p.selected(2));
  (void)type(p, up + up + " ");  // toggles appdb off again
  CHECK_FALSE(p.selected(0));
  (void)type(p, " ");
  // Space toggles while filtering too; the selection survives the filter.
  (void)type(p, "/post ");
  CHECK(p.selected(1));
  CHECK(p.filter() == "post");
  (void)type(p, "\x1b");
  CHECK(type(p, "\r") == prompt_action::submit);
  CHECK(p.answer() == std::vector<std::size_t>{0, 1, 2});
  auto lines = render_list("Resources", p, 10);
  CHECK(lines.at(1) == "  [x] appdb");
  CHECK(lines.at(2) == "> [x] postgres");  // the cursor stayed where the filter put it
}

TEST_CASE("list_prompt: in a single-select, space is filter text") {
  list_prompt p({"Local PostgreSQL (postgresql)", "Local SSH (ssh)"}, false);
  (void)type(p, "/local s");
  CHECK(labels(p) == std::vector<std::string>{"Local SSH (ssh)"});
  CHECK(type(p, "\r") == prompt_action::submit);
  CHECK(p.answer() == std::vector<std::size_t>{1});
}

TEST_CASE("list_prompt: one option is answered without asking") {
  list_prompt one({"pg-local"}, false);
  CHECK(one.answered_automatically());
  CHECK(one.answer() == std::vector<std::size_t>{0});
  list_prompt one_multi({"appdb"}, true);
  CHECK(one_multi.answered_automatically());
  CHECK(one_multi.answer() == std::vector<std::size_t>{0});
  CHECK_FALSE(list_prompt({"a", "b"}, false).answered_automatically());
  CHECK_THROWS(list_prompt({}, false));
}

TEST_CASE("list_prompt: Ctrl-C and Ctrl-D abort, in and out of filter mode") {
  list_prompt p({"a", "b"}, true);
  CHECK(type(p, "\x03") == prompt_action::abort);
  CHECK(type(p, "/a\x04") == prompt_action::abort);
}

TEST_CASE("render_list: a window around the cursor for long lists") {
  std::vector<std::string> many;
  for (int i = 0; i < 30; ++i) many.push_back("db" + std::to_string(i));
  list_prompt p(many, false);
  auto lines = render_list("Resource", p, 5);
  REQUIRE(lines.size() == 7);  // title, 5 rows, position
  CHECK(lines[1] == "> db0");
  CHECK(lines[6] == "  (1/30)");
  (void)type(p, up);  // wraps to the last one: the window follows
  lines = render_list("Resource", p, 5);
  CHECK(lines[5] == "> db29");
  CHECK(lines[6] == "  (30/30)");
  CHECK(render_list("What do you want to do?", p, 5)[0].rfind("? What do you want to do? [", 0) ==
        0);
}

TEST_CASE("text_prompt: default, editing, validation") {
  auto hours = [](const std::string& v) {
    return v == "0.5" || v == "1" ? std::string() : "not a duration: " + v;
  };
  text_prompt d("1", hours);
  CHECK(type(d, "\r") == prompt_action::submit);
  CHECK(d.answer() == "1");

  text_prompt t("1", hours);
  CHECK(type(t, "0.7\r") == prompt_action::redraw);
  CHECK(t.error() == "not a duration: 0.7");
  (void)type(t, "\x7f");
  CHECK(t.error().empty());
  CHECK(type(t, "5 \r") == prompt_action::submit);  // blanks around the answer are dropped
  CHECK(t.answer() == "0.5");

  text_prompt u("", [](const std::string& v) { return v.empty() ? "required" : ""; });
  CHECK(type(u, "   \r") == prompt_action::redraw);
  CHECK(u.error() == "required");
  (void)type(u, "\x15hé");
  CHECK(u.typed() == "hé");
  (void)type(u, "\x7f");
  CHECK(u.typed() == "h");  // é went in one Backspace
  (void)type(u, "\x15INC 42\r");
  CHECK(u.answer() == "INC 42");
  CHECK(type(u, "\x03") == prompt_action::abort);
}
