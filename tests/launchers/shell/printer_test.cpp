// The shell's table printer against output captured from psql 15 (psql -X, LC_ALL=C.UTF-8).
#include "launchers/shell/printer.hpp"

#include <catch2/catch.hpp>

using apono::launchers::shell::alignment;
using apono::launchers::shell::column_alignment;
using apono::launchers::shell::display_width;
using apono::launchers::shell::expanded_mode;
using apono::launchers::shell::format_table;
using apono::launchers::shell::print_options;
using apono::launchers::shell::table;

namespace {

constexpr auto L = alignment::left;
constexpr auto R = alignment::right;

std::string aligned(const table& t) {
  return format_table(t, print_options{});
}

std::string expanded(const table& t) {
  print_options o;
  o.expanded = expanded_mode::on;
  return format_table(t, o);
}

table people() {
  table t;
  t.headers = {"id", "name", "note"};
  t.aligns = {R, L, L};
  t.rows = {{"1", "alice", std::nullopt}, {"22", "bob\nsmith", "n"}};
  return t;
}

}  // namespace

TEST_CASE("printer: a simple row, NULL printed empty, footer and blank line") {
  table t = people();
  t.rows.pop_back();
  CHECK(aligned(t) ==
        " id | name  | note \n"
        "----+-------+------\n"
        "  1 | alice | \n"
        "(1 row)\n"
        "\n");
}

TEST_CASE("printer: multi-line values and headers carry + markers") {
  table t;
  t.headers = {"n", "multi\nline", "tail"};
  t.aligns = {R, L, L};
  t.rows = {{"42", "a\nbb\nccc", "x"}};
  CHECK(aligned(t) ==
        " n  | multi+| tail \n"
        "    | line  |      \n"
        "----+-------+------\n"
        " 42 | a    +| x\n"
        "    | bb   +| \n"
        "    | ccc   | \n"
        "(1 row)\n"
        "\n");
}

TEST_CASE("printer: wide and multi-byte characters take their display width") {
  table t;
  t.headers = {"e", "han", "emoji", "num"};
  t.aligns = {L, L, L, R};
  t.rows = {{"é", "漢字", "😀", "3.5"}};
  CHECK(aligned(t) ==
        " e | han  | emoji | num \n"
        "---+------+-------+-----\n"
        " é | 漢字 | 😀    | 3.5\n"
        "(1 row)\n"
        "\n");
  CHECK(display_width("漢字") == 4);
  CHECK(display_width("é") == 1);
}

TEST_CASE("printer: tabs expand, control characters are spelled out") {
  table t;
  t.headers = {"t", "c", "ctl"};
  t.aligns = {L, L, L};
  t.rows = {{"tab\there", "cr\rx", "\x01"}};
  CHECK(aligned(t) ==
        "      t       |   c   | ctl  \n"
        "--------------+-------+------\n"
        " tab     here | cr\\rx | \\x01\n"
        "(1 row)\n"
        "\n");
}

TEST_CASE("printer: empty results and results without columns") {
  table none;
  none.headers = {"a"};
  none.aligns = {R};
  CHECK(aligned(none) ==
        " a \n"
        "---\n"
        "(0 rows)\n"
        "\n");

  table no_columns;
  CHECK(aligned(no_columns) == "--\n(0 rows)\n\n");
  no_columns.rows = {{}};
  CHECK(aligned(no_columns) == "--\n(1 row)\n\n");

  table many;
  many.headers = {"a"};
  many.aligns = {R};
  many.rows = {{"1"}, {"2"}};
  CHECK(aligned(many).ends_with("(2 rows)\n\n"));
}

TEST_CASE("printer: expanded records") {
  CHECK(expanded(people()) ==
        "-[ RECORD 1 ]\n"
        "id   | 1\n"
        "name | alice\n"
        "note | \n"
        "-[ RECORD 2 ]\n"
        "id   | 22\n"
        "name | bob  +\n"
        "     | smith\n"
        "note | n\n"
        "\n");

  table none;
  none.headers = {"a"};
  none.aligns = {R};
  CHECK(expanded(none) == "(0 rows)\n\n");

  table header;
  header.headers = {"multi\nheader", "b"};
  header.aligns = {L, R};
  header.rows = {{"x", "2"}};
  CHECK(expanded(header) ==
        "-[ RECORD 1 ]\n"
        "multi +| x\n"
        "header |\n"
        "b      | 2\n"
        "\n");
}

TEST_CASE("printer: expanded rule grows with wide headers and values") {
  table t;
  t.headers = {"a_rather_long_column_name", "b"};
  t.aligns = {L, L};
  t.rows = {{"value", "a value wider than the record label"}};
  CHECK(expanded(t) ==
        "-[ RECORD 1 ]-------------+------------------------------------\n"
        "a_rather_long_column_name | value\n"
        "b                         | a value wider than the record label\n"
        "\n");
}

TEST_CASE("printer: title centred, footers instead of the row count") {
  table t;
  t.title = "Table \"public.t\"";
  t.headers = {"Column", "Type"};
  t.aligns = {L, L};
  t.rows = {{"id", "integer"}};
  t.footers = {"Indexes:", "    \"t_pkey\" PRIMARY KEY, btree (id)"};
  CHECK(aligned(t) ==
        " Table \"public.t\"\n"
        " Column |  Type   \n"
        "--------+---------\n"
        " id     | integer\n"
        "Indexes:\n"
        "    \"t_pkey\" PRIMARY KEY, btree (id)\n"
        "\n");

  t.title = "List";
  t.footers.clear();
  t.default_footer = false;
  CHECK(aligned(t) ==
        "       List\n"
        " Column |  Type   \n"
        "--------+---------\n"
        " id     | integer\n"
        "\n");
}

TEST_CASE("printer: expanded auto switches only when the table is too wide") {
  table t = people();
  print_options o;
  o.expanded = expanded_mode::automatic;
  o.columns = 80;
  CHECK(format_table(t, o) == aligned(t));
  o.columns = 10;
  CHECK(format_table(t, o) == expanded(t));
  o.columns = 0;  // not a terminal
  CHECK(format_table(t, o) == aligned(t));
}

TEST_CASE("printer: psql's numeric column types align right") {
  for (unsigned oid : {20u, 21u, 23u, 26u, 28u, 29u, 700u, 701u, 790u, 1700u, 5069u})
    CHECK(column_alignment(oid) == R);
  for (unsigned oid : {16u, 25u, 1043u, 1082u, 1114u, 114u, 3802u, 17u, 1007u})
    CHECK(column_alignment(oid) == L);
}
