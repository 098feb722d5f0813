// Profile storage. The file holds tokens, so it is written like every secret here: 0600 via
// a temp file and rename.
#include "cli/profiles.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <stdexcept>

#include "common/secrets.hpp"

namespace apono::cli {

namespace json = boost::json;

std::filesystem::path config_dir() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    return std::filesystem::path(x) / "apono";
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw std::runtime_error("neither XDG_CONFIG_HOME nor HOME is set");
  return std::filesystem::path(home) / ".config" / "apono";
}

namespace {

std::filesystem::path config_file() {
  return config_dir() / "config.json";
}

std::string field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

}  // namespace

profiles_file load_profiles() {
  profiles_file f;
  auto path = config_file();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return f;
  try {
    auto v = json::parse(common::read_file(path));
    const auto& o = v.as_object();
    f.active = field(o, "active");
    for (const auto& [name, pv] : o.at("profiles").as_object()) {
      const auto& p = pv.as_object();
      f.profiles.push_back({std::string(name), field(p, "server"), field(p, "ca_file"),
                            field(p, "token"), field(p, "user")});
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(path.string() + " is damaged (" + e.what() +
                             "): fix it or remove it and run `apono login`");
  }
  return f;
}

void save_profiles(const profiles_file& f) {
  json::object profiles;
  for (const auto& p : f.profiles)
    profiles[p.name] = json::object{
        {"server", p.server}, {"ca_file", p.ca_file}, {"token", p.token}, {"user", p.user}};
  json::object doc{{"active", f.active}, {"profiles", std::move(profiles)}};
  common::ensure_private_dir(config_dir());
  common::write_private_file(config_file(), json::serialize(doc) + "\n");
}

const profile& resolve_profile(const profiles_file& f, const std::string& name) {
  if (f.profiles.empty()) throw std::runtime_error("no profiles configured, run `apono login`");
  const auto& wanted = name.empty() ? f.active : name;
  for (const auto& p : f.profiles)
    if (p.name == wanted) return p;
  throw std::runtime_error("profile " + wanted + " not exists");
}

}  // namespace apono::cli
