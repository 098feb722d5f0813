// The built-in shell against psql 15 on a real server: the same scripts through `psql -X` and
// through run_shell must print the same bytes on stdout, and the same stderr once psql's
// "psql:" prefix reads "apono:". Also exit statuses and the end of access.
#include "launchers/shell/shell.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include "common/time.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

namespace {

using apono::launchers::run_shell;
using apono::launchers::shell_options;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

apono::test::pg_fixture& server() {
  static apono::test::pg_fixture pg;
  static const bool ready = [] {
    pg.psql(
        "create role reader login connection limit 2 valid until '2031-05-06 07:08:09+00';"
        "create role nologin_role nologin; grant reader to nologin_role;"
        "create table items (id int primary key, name text not null default 'x', "
        "price numeric(10,2), qty int, ratio float8, active bool, born date, seen timestamp, "
        "meta json, raw bytea, tags text[], note varchar(20) collate \"C\" unique, "
        "check (qty > -100));"
        "create index items_name_idx on items (name);"
        "create table parts (id serial primary key, item int references items(id) on delete "
        "cascade, label text);"
        "create view cheap as select id, name from items where price < 10;"
        "create table meas (id int generated always as identity, logdate date not null, "
        "peak int, double_peak int generated always as (peak * 2) stored, "
        "primary key (id, logdate)) partition by range (logdate);"
        "create table meas_2024 partition of meas for values from ('2024-01-01') to "
        "('2025-01-01');"
        "create function touch() returns trigger language plpgsql as $$ begin return new; end "
        "$$;"
        "create trigger parts_touch before insert on parts for each row execute function "
        "touch();"
        "alter table parts enable row level security;"
        "create policy mine on parts for select to reader using (label <> 'secret');"
        "create statistics parts_stats (dependencies) on id, item from parts;"
        "create table kid (extra int) inherits (parts);");
    pg.psql("create database other");
    return true;
  }();
  (void)ready;
  return pg;
}

std::string psql_binary() {
  if (access("/usr/lib/postgresql/15/bin/psql", X_OK) == 0)
    return "/usr/lib/postgresql/15/bin/psql";
  return "psql";
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct captured {
  int status = -1;
  std::string out;
  std::string err;
};

// psql -X with `args` (already quoted), stdin from `input` (or /dev/null).
captured run_psql(const apono::test::temp_dir& dir, const std::string& args,
                  const std::string& input = "/dev/null") {
  const auto out = dir.path / "psql.out";
  const auto err = dir.path / "psql.err";
  auto r = apono::test::run(
      {"sh", "-c",
       "exec " + psql_binary() + " -X " + args + " <" + apono::test::quote(input) + " >" +
           apono::test::quote(out.string()) + " 2>" + apono::test::quote(err.string())},
      {}, {{"LC_ALL", "C.UTF-8"}, {"PGCONNECT_TIMEOUT", "10"}});
  return {r.status, read_all(out), read_all(err)};
}

// run_shell with stdout and stderr in files, stdin from `input`.
captured run_apono(const apono::test::temp_dir& dir, shell_options options,
                   const std::string& input = "/dev/null") {
  const auto out = dir.path / "apono.out";
  const auto err = dir.path / "apono.err";
  options.out = std::fopen(out.c_str(), "w");
  options.err = std::fopen(err.c_str(), "w");
  options.in = std::fopen(input.c_str(), "r");
  REQUIRE(options.out != nullptr);
  REQUIRE(options.err != nullptr);
  REQUIRE(options.in != nullptr);
  captured c;
  c.status = run_shell(options);
  std::fclose(options.out);
  std::fclose(options.err);
  std::fclose(options.in);
  c.out = read_all(out);
  c.err = read_all(err);
  return c;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// \timing prints measured times; everything else must match exactly.
std::string without_times(const std::string& s) {
  static const std::regex time(R"(Time: [0-9.]+ ms( \([0-9:. d]+\))?)");
  return std::regex_replace(s, time, "Time: N ms");
}

std::string diff(const apono::test::temp_dir& dir, const std::string& expected,
                 const std::string& actual) {
  std::ofstream(dir.path / "expected") << expected;
  std::ofstream(dir.path / "actual") << actual;
  return apono::test::run(
             {"diff", "-u", (dir.path / "expected").string(), (dir.path / "actual").string()})
      .output;
}

void check_same(const apono::test::temp_dir& dir, const captured& psql, const captured& apono) {
  const std::string expected_out = without_times(psql.out);
  const std::string actual_out = without_times(apono.out);
  INFO("stdout diff (psql -> apono):\n" << diff(dir, expected_out, actual_out));
  CHECK(actual_out == expected_out);
  const std::string expected_err = replace_all(psql.err, "psql:", "apono:");
  INFO("stderr diff (psql -> apono):\n" << diff(dir, expected_err, apono.err));
  CHECK(apono.err == expected_err);
  CHECK(apono.status == psql.status);
}

const char* const script = R"SQL(truncate parts, items restart identity;
select * from items order by id;
select id, name from items where false;
insert into items (id, name, price, qty, ratio, active, born, seen, meta, raw, tags, note)
values (1, 'widget', 9.99, 3, 0.5, true, '2024-01-02', '2024-01-02 03:04:05', '{"a": 1}',
        '\xdeadbeef', '{a,b}', 'n1'),
       (2, 'gadget', 19.5, null, 1e10, false, null, null, null, null, null, null),
       (3, E'multi\nline', 0, -7, -0.25, null, '1999-12-31', '2000-01-01 00:00:00', '[1, 2]',
        '', '{}', 'n3');
select * from items order by id;
update items set qty = 1 where id <= 2;
delete from items where id = 99;
insert into parts (item, label) values (1, 'bolt') returning id, label;
select 'é' as e, '漢字' as han, '😀 emoji' as emoji, 'plain' as "ünïcode header";
select repeat('w', 210) as wide, 1 as one;
select 1 as "a very wide column name that goes on and on and on and on", null as n;
select E'a\nb\nc' as ml, 2 as two, E'x\ny' as "multi
line header";
select null::int as n, 1::int2 as s, 2::int8 as b, 1.5::float4 as f, 12.50::money as m,
  'x'::char(3) as c, 42::oid as o, true as t, interval '1 day 2 hours' as i,
  array[1,2,3] as arr, '{"k": [1, 2]}'::jsonb as j, 3.14159::numeric(10,5) as num;
create table later (a int);
drop table later;
-- a comment before an error
select nosuch from items;
select id,
  nosuch2
from items;
insert into items (id, name) values (1, 'dup');
select no_such_function(1);
select 1/0;
do $$ begin raise notice 'hello from %', 'plpgsql'; end $$;
select $tag$ ; inside ; $tag$ as dollar, 'semi;colon' as q;
copy (select id, name from items order by id) to stdout;
copy parts (item, label) from stdin;
2	nut
3	\N
\.
select * from parts order by id;
select 5 as five \g
\g
select 'dropped'
\r
select 'kept'
\x
as kept;
\x
begin;
select 1 as in_tx;
rollback;
\x
select * from items where id = 1;
select id from items where false;
\x off
\x on
\d items
\x auto
select 1 as auto_narrow;
\x off
\dt
\dt it*
\dt nosuch
\d
\d items
\d parts
\d cheap
\d items_pkey
\d meas
\d meas_2024
\d kid
\di
\dti it*
\dt postgres.public.item*
\dt other.public.items
\d parts_id_seq
\d nosuch
\du
\du read*
\l
\l other
\foo bar
\timing on
select 1 as timed;
\timing off
\conninfo
\i INNER
select 'after include' as back;
select 'no semicolon at the end' as last
)SQL";

const char* const inner_script = R"SQL(select 'inner' as here;
select broken_inner;
\x
select 1 as a, 2 as b;
\x
)SQL";

}  // namespace

TEST_CASE("shell: a script under -f prints what psql -X -f prints", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  const auto inner = dir.path / "inner.sql";
  std::ofstream(inner) << inner_script;
  const auto file = dir.path / "script.sql";
  std::ofstream(file) << replace_all(script, "INNER", inner.string());

  auto psql =
      run_psql(dir, "-d " + apono::test::quote(pg.admin_url()) + " -f " + apono::test::quote(file));
  REQUIRE(psql.status == 0);
  shell_options o;
  o.conninfo = pg.admin_url();
  o.file = file.string();
  auto apono = run_apono(dir, o);
  check_same(dir, psql, apono);
  // Guards against a vacuous pass: the script really exercised the interesting paths.
  CHECK(psql.out.find("-[ RECORD 1 ]") != std::string::npos);
  CHECK(psql.out.find("Indexes:") != std::string::npos);
  CHECK(psql.err.find("LINE 2:") != std::string::npos);
  CHECK(psql.err.find("HINT:") != std::string::npos);
  CHECK(psql.err.find("DETAIL:") != std::string::npos);
  CHECK(psql.err.find("NOTICE:") != std::string::npos);
  for (const char* footer :
       {"Partition key:", "Policies:", "Triggers:", "Statistics objects:", "Inherits: parts",
        "Referenced by:", "COPY 2", "List of roles", "List of databases", "Owned by:", "Time: "})
    CHECK(psql.out.find(footer) != std::string::npos);
}

TEST_CASE("shell: statements piped on stdin print what psql < file prints", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  const auto inner = dir.path / "inner.sql";
  std::ofstream(inner) << inner_script;
  const auto file = dir.path / "script.sql";
  std::ofstream(file) << replace_all(script, "INNER", inner.string());

  auto psql = run_psql(dir, "-d " + apono::test::quote(pg.admin_url()), file.string());
  shell_options o;
  o.conninfo = pg.admin_url();
  auto apono = run_apono(dir, o, file.string());
  check_same(dir, psql, apono);
}

TEST_CASE("shell: -c runs one query string and exits 0 or 1 like psql -c", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  for (std::string command :
       {"select 1 as x; select 2 as y", "select nosuch", "select 1; select 1/0; select 3",
        "  -- comment\n  select 'leading' as l", "\\dt", "\\d items", "\\foo", "\\d nosuch",
        "update items set qty = qty where false"}) {
    INFO("-c " << command);
    auto psql = run_psql(
        dir, "-d " + apono::test::quote(pg.admin_url()) + " -c " + apono::test::quote(command));
    shell_options o;
    o.conninfo = pg.admin_url();
    o.command = command;
    auto apono = run_apono(dir, o);
    check_same(dir, psql, apono);
  }
}

TEST_CASE("shell: exit statuses", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  shell_options o;
  o.conninfo = pg.admin_url();
  o.command = "select 1";
  CHECK(run_apono(dir, o).status == 0);
  o.command = "select nosuch";
  CHECK(run_apono(dir, o).status == 1);

  // An unreachable server: 2, with libpq's message as psql shows it.
  const std::string unreachable = "postgresql://postgres@127.0.0.1:1/postgres";
  auto psql = run_psql(dir, "-d " + apono::test::quote(unreachable) + " -c 'select 1'");
  o.conninfo = unreachable;
  auto apono = run_apono(dir, o);
  CHECK(apono.status == 2);
  CHECK(apono.err == replace_all(psql.err, "psql:", "apono:"));
  CHECK(
      apono.err.starts_with("apono: error: connection to server at \"127.0.0.1\", port 1 failed"));

  // An unreadable -f file: 1.
  o.conninfo = pg.admin_url();
  o.command.clear();
  o.file = (dir.path / "missing.sql").string();
  apono = run_apono(dir, o);
  CHECK(apono.status == 1);
  CHECK(apono.err == "apono: error: " + o.file + ": No such file or directory\n");

  // \q stops a script with 0.
  const auto quit = dir.path / "quit.sql";
  std::ofstream(quit) << "select 1 as before;\n\\q\nselect 2 as after;\n";
  o.file = quit.string();
  apono = run_apono(dir, o);
  CHECK(apono.status == 0);
  CHECK(apono.out.find("after") == std::string::npos);
}

TEST_CASE("shell: a dropped connection is reported like psql and exits 2", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  const auto file = dir.path / "kill.sql";
  std::ofstream(file) << "select 1 as alive;\nselect pg_terminate_backend(pg_backend_pid());\n"
                         "select 2 as never;\n";
  auto psql =
      run_psql(dir, "-d " + apono::test::quote(pg.admin_url()) + " -f " + apono::test::quote(file));
  shell_options o;
  o.conninfo = pg.admin_url();
  o.file = file.string();
  auto apono = run_apono(dir, o);
  CHECK(psql.status == 2);
  check_same(dir, psql, apono);
}

namespace {

// Runs the shell on another thread and, once the server shows its session in `state` (so the
// shell is in the wait under test, however long it took to get there), ends access as the
// grant's end would; returns the shell's status and how long it took to notice.
std::pair<int, std::chrono::milliseconds> end_access_while(shell_options o,
                                                           apono::proxy::grant_watch& watch,
                                                           std::string& err_text,
                                                           const apono::test::temp_dir& dir,
                                                           const std::string& state) {
  auto& pg = server();
  const auto err_path = dir.path / "end.err";
  o.watch = &watch;
  o.out = std::fopen((dir.path / "end.out").c_str(), "w");
  o.err = std::fopen(err_path.c_str(), "w");
  auto done = std::async(std::launch::async, [o] { return run_shell(o); });
  const std::string seen_sql =
      "select count(*) from pg_stat_activity where application_name = 'apono' and state = '" +
      state + "'";
  {
    INFO("waited for the shell's session to be " << state << " on the server");
    REQUIRE(apono::test::wait_until(
        [&] { return pg.psql(seen_sql) == "1" || done.wait_for(0ms) == std::future_status::ready; },
        60s));
    // The shell must still be waiting: nothing else would end it.
    REQUIRE(done.wait_for(0ms) == std::future_status::timeout);
  }
  const auto ended = std::chrono::steady_clock::now();
  watch.end(apono::proxy::end_cause::expired);
  REQUIRE(done.wait_for(5s) == std::future_status::ready);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - ended);
  const int status = done.get();
  std::fclose(o.out);
  std::fclose(o.err);
  err_text = read_all(err_path);
  return {status, took};
}

}  // namespace

TEST_CASE("shell: the end of access stops a shell waiting for input", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  apono::common::system_clock clock;
  apono::proxy::grant_watch watch("AR-00042", clock.now() + 1min, clock);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  shell_options o;
  o.conninfo = pg.admin_url();
  o.in = ::fdopen(fds[0], "r");  // a pipe that never sends anything
  std::string err;
  auto [status, took] = end_access_while(o, watch, err, dir, "idle");
  std::fclose(o.in);
  ::close(fds[1]);
  CHECK(status == apono::launchers::exit_access_ended);
  CHECK(took < 1s);
  CHECK(err == "FATAL:  " + watch.message() + "\n");
}

TEST_CASE("shell: the end of access stops a running query", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  apono::common::system_clock clock;
  apono::proxy::grant_watch watch("AR-00043", clock.now() + 1min, clock);
  shell_options o;
  o.conninfo = pg.admin_url();
  o.command = "select pg_sleep(30)";
  std::string err;
  auto [status, took] = end_access_while(o, watch, err, dir, "active");
  CHECK(status == apono::launchers::exit_access_ended);
  CHECK(took < 1s);
  CHECK(err == "FATAL:  " + watch.message() + "\n");
  // The abandoned backend would sleep on; the next tests do not need it.
  (void)pg.psql(
      "select pg_cancel_backend(pid) from pg_stat_activity where query = 'select pg_sleep(30)'");
}

TEST_CASE("shell: an access that already ended refuses to start", "[integration]") {
  auto& pg = server();
  apono::test::temp_dir dir("apono-shell-");
  apono::common::system_clock clock;
  apono::proxy::grant_watch watch("AR-00044", clock.now(), clock);
  watch.end(apono::proxy::end_cause::revoked);
  shell_options o;
  o.conninfo = pg.admin_url();
  o.command = "select 1";
  o.watch = &watch;
  auto c = run_apono(dir, o);
  CHECK(c.status == apono::launchers::exit_access_ended);
  CHECK(c.err == "FATAL:  " + watch.message() + "\n");
  CHECK(c.out.empty());
}
