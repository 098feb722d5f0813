// libFuzzer target for the broker's config loader: the input is the YAML of aponod.yaml.
// parse_config either returns a config or throws config_error, the one error type load_config
// and parse_config document; anything else escaping (a yaml-cpp exception, std::out_of_range,
// ...) aborts. A config_error's what() is one line without control characters,
// `fuzz.yaml:LINE: message`, with LINE inside the input. A loaded config keeps the loader's
// promises: unique names, known references, durations within 1 s..366 days with the default
// at most the maximum, absolute data_dir, ports in range, 64-hex token hashes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <typeinfo>

#include "broker/config.hpp"
#include "fuzz/input.hpp"

namespace {

using apono::broker::config;
using apono::broker::config_error;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "config_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

void check_error(std::string_view yaml, std::string_view what) {
  constexpr std::string_view file = "fuzz.yaml:";
  check(what.starts_with(file), "error does not start with the file name", what);
  check(!apono::fuzz::has_control(what), "error message is not one line of text", what);
  std::size_t i = file.size();
  std::size_t line = 0;
  while (i < what.size() && what[i] >= '0' && what[i] <= '9' && line < 100000000)
    line = line * 10 + static_cast<std::size_t>(what[i++] - '0');
  check(i > file.size() && what.substr(i).starts_with(": ") && what.size() > i + 2,
        "error is not FILE:LINE: message", what);
  // Generous: \r may end a line too, and an error at the end may name the line after.
  std::size_t lines = 2;
  for (char c : yaml) lines += c == '\n' || c == '\r';
  check(line >= 1 && line <= lines, "error names a line outside the file", what);
}

template <class T, class F>
void check_unique(const std::vector<T>& items, F name, const char* what) {
  std::set<std::string> seen;
  for (const auto& item : items) check(seen.insert(name(item)).second, what, name(item));
}

void check_config(const config& c) {
  using namespace std::chrono;
  constexpr auto max = hours{366 * 24};
  check(c.server.data_dir.is_absolute(), "data_dir is not absolute", c.server.data_dir.string());
  check(c.server.provision_workers >= 1 && c.server.provision_workers <= 64, "provision_workers");
  check_unique(
      c.users, [](const auto& u) { return u.name; }, "duplicate user");
  check_unique(
      c.groups, [](const auto& g) { return g.name; }, "duplicate group");
  check_unique(
      c.integrations, [](const auto& i) { return i.id; }, "duplicate integration");
  check_unique(
      c.flows, [](const auto& f) { return f.name; }, "duplicate flow");
  check_unique(
      c.bundles, [](const auto& b) { return b.name; }, "duplicate bundle");
  for (const auto& u : c.users) {
    check(!u.name.empty(), "empty user name");
    for (const auto& h : u.token_hashes)
      check(h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos,
            "token hash is not 64 lowercase hex", h);
  }
  for (const auto& g : c.groups)
    for (const auto& m : g.members) check(c.find_user(m) != nullptr, "unknown group member", m);
  for (const auto& i : c.integrations) {
    check(!i.id.empty() && !i.name.empty(), "integration without id or name", i.id);
    check(i.port >= 1 && i.port <= 65535, "integration port out of range", i.id);
    for (const auto& r : i.resources)
      check(r.port >= 1 && r.port <= 65535, "resource port out of range", r.name);
    check_unique(
        i.permissions, [](const auto& p) { return p.name; }, "duplicate permission");
  }
  for (const auto& f : c.flows) {
    check(f.max_duration >= seconds{1} && f.max_duration <= max, "max_duration out of range",
          f.name);
    check(f.default_duration >= seconds{1} && f.default_duration <= f.max_duration,
          "default_duration out of range", f.name);
    check(!f.targets.empty(), "flow without targets", f.name);
    for (const auto& t : f.targets)
      check(c.find_integration(t.integration) != nullptr, "flow names an unknown integration",
            t.integration);
    if (!f.automatic)
      check(!f.approvers.users.empty() || !f.approvers.groups.empty(),
            "manual flow without approvers", f.name);
  }
  for (const auto& b : c.bundles)
    for (const auto& t : b.targets) {
      const auto* i = c.find_integration(t.integration);
      check(i != nullptr, "bundle names an unknown integration", t.integration);
      for (const auto& r : t.resources)
        check(i->find_resource(r) != nullptr, "bundle names an unknown resource", r);
      for (const auto& p : t.permissions)
        check(i->find_permission(p) != nullptr, "bundle names an unknown permission", p);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  // The loader reads the PEM and token files a config names; a device or a kernel file could
  // block or never end, which is the administrator's choice and not what this target tests.
  // Double-quoted YAML can spell the slash as an escape.
  for (std::string_view dir : {"/dev", "/proc", "/sys", "\\/", "\\x2", "\\u002", "\\U0000002"})
    if (yaml.find(dir) != std::string::npos) return 0;
  try {
    const auto cfg = apono::broker::parse_config(yaml, "fuzz.yaml");
    check(cfg != nullptr, "parse_config returned null");
    check_config(*cfg);
  } catch (const config_error& e) {
    check_error(yaml, e.what());
  } catch (const std::exception& e) {
    fail((std::string("parse_config threw ") + typeid(e).name()).c_str(), e.what());
  }
  return 0;
}
