// `apono login`, `apono logout`, `apono profiles list|set`.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <ostream>

#include "cli/api_client.hpp"
#include "cli/browser_login.hpp"
#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/profiles.hpp"
#include "common/error.hpp"

namespace apono::cli {

namespace json = boost::json;

namespace {

struct login_options {
  std::string server;
  std::string ca_file;
  std::string token;
  bool no_browser = false;
};

void run_login(const login_options& o, const global_options& g, io& streams) {
  auto f = load_profiles();
  std::string name = g.profile.empty() ? "default" : g.profile;
  profile p;
  p.name = name;
  for (const auto& existing : f.profiles)
    if (existing.name == name) p = existing;
  if (!o.server.empty()) p.server = o.server;
  if (p.server.empty()) throw usage_error("--server URL is required for a new profile");
  if (!o.ca_file.empty()) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(o.ca_file, ec);
    if (ec || !std::filesystem::is_regular_file(abs))
      throw usage_error("--ca-file " + o.ca_file + " is not a readable file");
    p.ca_file = abs.string();
  }
  if (!o.token.empty()) {
    p.token = o.token;
  } else {
    p.token = browser_login(p.server, p.ca_file, !o.no_browser, streams);
  }
  // Check the token before keeping it, so a typo never becomes the active profile.
  auto session = api_client(p).get("/api/v1/session");
  p.user = text(session, "user");

  bool replaced = false;
  for (auto& existing : f.profiles)
    if (existing.name == name) existing = p, replaced = true;
  if (!replaced) f.profiles.push_back(p);
  f.active = name;
  save_profiles(f);
  streams.out << "Logged in to " << p.server << " as " << p.user << " (profile " << name << ")\n";
}

void run_logout(const std::string& which, const global_options& g, io& streams) {
  auto f = load_profiles();
  const auto& p = resolve_profile(f, which.empty() ? g.profile : which);
  std::string name = p.name;
  try {
    api_client(p).post("/api/v1/session/revoke");
  } catch (const common::api_error& e) {
    // A token the broker cannot revoke (from its config, or already revoked) still leaves.
    streams.err << "[notice] the token was not revoked at the broker: " << e.what() << "\n";
  } catch (const std::exception& e) {
    streams.err << "[notice] the token was not revoked at the broker: " << e.what() << "\n";
  }
  std::erase_if(f.profiles, [&](const profile& x) { return x.name == name; });
  if (f.active == name) f.active = f.profiles.empty() ? "" : f.profiles.front().name;
  save_profiles(f);
  streams.out << "Logged out of profile " << name;
  if (!f.active.empty()) streams.out << "; active profile is now " << f.active;
  streams.out << "\n";
}

}  // namespace

void setup_login(CLI::App& app, global_options& g, io& streams) {
  auto o = std::make_shared<login_options>();
  auto* login = app.add_subcommand("login", "log in to a broker (browser, or --token)");
  login->add_option("--server", o->server, "broker URL, e.g. https://apono.example.com:8443");
  login->add_option("--ca-file", o->ca_file, "PEM CA file that verifies the broker");
  login->add_option("--token", o->token, "use this API token instead of the browser");
  login->add_flag("--no-browser", o->no_browser, "print the login URL without opening a browser");
  login->callback([o, &g, &streams] { run_login(*o, g, streams); });

  auto which = std::make_shared<std::string>();
  auto* logout = app.add_subcommand("logout", "revoke the token and forget the profile");
  logout->add_option("profile", *which, "profile name (default: the active one)");
  logout->callback([which, &g, &streams] { run_logout(*which, g, streams); });

  auto* profiles = app.add_subcommand("profiles", "list or switch profiles");
  profiles->require_subcommand(1);
  auto* list = profiles->add_subcommand("list", "list profiles");
  auto out = std::make_shared<std::string>("table");
  list->add_option("-o,--output", *out, "table, json or yaml");
  list->callback([out, &streams] {
    auto fmt = parse_format(*out);
    auto f = load_profiles();
    json::array data;
    table t{{"ACTIVE", "NAME", "SERVER", "USER"}, {}};
    for (const auto& p : f.profiles) {
      data.push_back(json::object{{"name", p.name},
                                  {"server", p.server},
                                  {"user", p.user},
                                  {"active", p.name == f.active}});
      t.rows.push_back({p.name == f.active ? "*" : "", p.name, p.server, p.user});
    }
    print_result(streams.out, fmt, data, t, "profiles");
  });
  auto* set = profiles->add_subcommand("set", "make a profile the active one");
  auto name = std::make_shared<std::string>();
  set->add_option("name", *name, "profile name")->required();
  set->callback([name, &streams] {
    auto f = load_profiles();
    f.active = resolve_profile(f, *name).name;
    save_profiles(f);
    streams.out << "Active profile is now " << f.active << "\n";
  });
}

}  // namespace apono::cli
