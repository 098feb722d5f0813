// `apono integrations`, `resource-types -i`, `resources -i -t`, `permissions -i -t`, `bundles`.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/api_client.hpp"
#include "cli/catalog.hpp"
#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace apono::cli {

namespace json = boost::json;

namespace {

struct catalog_options {
  std::string integration;
  std::string resource_type;
  std::string output = "table";
};

void add_output(CLI::App* cmd, catalog_options& o) {
  cmd->add_option("-o,--output", o.output, "table, json or yaml")->capture_default_str();
}

// resources and permissions share their shape: ID and NAME of what the caller may request.
void list_named(const std::string& what, const catalog_options& o, const global_options& g,
                io& streams) {
  auto fmt = parse_format(o.output);
  auto api = connect(g);
  auto integ = find_integration(api, o.integration);
  std::string target = "/api/v1/" + what + "?integration=" + url_encode(text(integ, "id"));
  if (!o.resource_type.empty()) target += "&resource_type=" + url_encode(o.resource_type);
  auto data = api.get(target);
  table t{{"ID", "NAME"}, {}};
  for (const auto& r : data.as_array()) t.rows.push_back({text(r, "id"), text(r, "name")});
  print_result(streams.out, fmt, data, t, what);
}

}  // namespace

void setup_catalog(CLI::App& app, global_options& g, io& streams) {
  auto o = std::make_shared<catalog_options>();

  auto* integrations = app.add_subcommand("integrations", "list the integrations you may request");
  add_output(integrations, *o);
  integrations->callback([o, &g, &streams] {
    auto fmt = parse_format(o->output);
    auto data = connect(g).get("/api/v1/integrations");
    table t{{"ID", "NAME", "TYPE", "RESOURCE TYPES"}, {}};
    for (const auto& i : data.as_array())
      t.rows.push_back(
          {text(i, "id"), text(i, "name"), text(i, "type"), join(i.at("resource_types"))});
    print_result(streams.out, fmt, data, t, "integrations");
  });

  auto* types = app.add_subcommand("resource-types", "list an integration's resource types");
  types->add_option("-i,--integration", o->integration, "integration id or type/name")->required();
  add_output(types, *o);
  types->callback([o, &g, &streams] {
    auto fmt = parse_format(o->output);
    auto api = connect(g);
    auto integ = find_integration(api, o->integration);
    auto data =
        api.get("/api/v1/integrations/" + url_encode(text(integ, "id")) + "/resource-types");
    table t{{"ID", "NAME"}, {}};
    for (const auto& r : data.as_array()) t.rows.push_back({text(r, "id"), text(r, "name")});
    print_result(streams.out, fmt, data, t, "resource types");
  });

  for (const char* what : {"resources", "permissions"}) {
    auto* cmd = app.add_subcommand(what, std::string("list the ") + what + " you may request");
    cmd->add_option("-i,--integration", o->integration, "integration id or type/name")->required();
    cmd->add_option("-t,--resource-type", o->resource_type, "resource type, e.g. database");
    add_output(cmd, *o);
    cmd->callback([o, what, &g, &streams] { list_named(what, *o, g, streams); });
  }

  auto* bundles = app.add_subcommand("bundles", "list the bundles you may request");
  add_output(bundles, *o);
  bundles->callback([o, &g, &streams] {
    auto fmt = parse_format(o->output);
    auto data = connect(g).get("/api/v1/bundles");
    table t{{"NAME", "CONTENTS"}, {}};
    for (const auto& b : data.as_array()) {
      std::string contents;
      for (const auto& tg : b.at("targets").as_array())
        contents += (contents.empty() ? "" : "; ") + text(tg, "integration") + ": " +
                    join(tg.at("resources")) + " (" + join(tg.at("permissions")) + ")";
      t.rows.push_back({text(b, "name"), contents});
    }
    print_result(streams.out, fmt, data, t, "bundles");
  });
}

}  // namespace apono::cli
