// split_lines and friends: endings kept apart from the text, CRLF, a last line without an ending.
#include "cli/text_lines.hpp"

#include <catch2/catch.hpp>

using namespace apono::cli;

TEST_CASE("split_lines keeps each line's ending and offset") {
  std::string_view text = "a\r\nbb\n\ncc";
  auto lines = split_lines(text);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].body == "a");
  CHECK(lines[0].eol == "\r\n");
  CHECK(lines[1].begin == 3);
  CHECK(lines[1].body == "bb");
  CHECK(lines[1].eol == "\n");
  CHECK(lines[2].body.empty());
  CHECK(lines[3].body == "cc");
  CHECK(lines[3].eol.empty());
  CHECK(line_offset(lines, 4, text.size()) == text.size());
  CHECK(split_lines("").empty());
  CHECK(split_lines("x\n").size() == 1);
}

TEST_CASE("line_ending follows the first line; bare CRs are found") {
  CHECK(line_ending(split_lines("a\r\nb\n")) == "\r\n");
  CHECK(line_ending(split_lines("a\nb\r\n")) == "\n");
  CHECK(line_ending(split_lines("")) == "\n");
  CHECK(has_bare_cr("a\rb"));
  CHECK(has_bare_cr("a\r"));
  CHECK_FALSE(has_bare_cr("a\r\nb\n"));
}
