// `apono admin deliveries [list|show|redeliver]` and `apono admin endpoints [list|test|enable]`:
// the notification outbox for admins (the broker refuses everyone else), over
// /api/v1/notifications.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace apono::cli {

namespace json = boost::json;

namespace {

struct admin_options {
  std::string status;
  std::string endpoint;
  int limit = 50;
  std::string id;
  std::string name;
  std::string output = "table";
};

void add_output(CLI::App* cmd, admin_options& o) {
  cmd->add_option("-o,--output", o.output, "table, json or yaml")->capture_default_str();
}

void list_deliveries(const admin_options& o, const global_options& g, io& streams) {
  auto fmt = parse_format(o.output);
  if (!o.status.empty() && o.status != "pending" && o.status != "delivered" && o.status != "dead")
    throw usage_error("--status must be pending, delivered or dead");
  std::string target = "/api/v1/notifications/deliveries?limit=" + std::to_string(o.limit);
  if (!o.status.empty()) target += "&status=" + o.status;
  if (!o.endpoint.empty()) target += "&endpoint=" + url_encode(o.endpoint);
  auto data = connect(g).get(target);
  table t{{"ID", "ENDPOINT", "TYPE", "REQUEST", "STATUS", "ATTEMPTS", "LAST ERROR", "CREATED"}, {}};
  for (const auto& d : data.as_array())
    t.rows.push_back({text(d, "id"), text(d, "endpoint"), text(d, "type"), text(d, "request_id"),
                      text(d, "status"), text(d, "attempts"), text(d, "last_error"),
                      text(d, "created_at")});
  print_result(streams.out, fmt, data, t, "deliveries");
}

void describe(std::ostream& out, const json::value& d) {
  for (const char* k : {"id", "endpoint", "channel", "type", "webhook_id", "request_id", "status",
                        "attempts", "next_attempt_at", "give_up_at", "last_error",
                        "last_http_status", "created_at", "delivered_at"}) {
    auto v = text(d, k);
    if (v.empty()) continue;
    std::string label = k;
    label += ":";
    label.resize(std::max<std::size_t>(label.size() + 1, 18), ' ');
    out << label << v << "\n";
  }
  if (auto* p = d.as_object().if_contains("payload")) {
    out << "payload:\n";
    print_json(out, *p);
  }
}

void list_endpoints(const admin_options& o, const global_options& g, io& streams) {
  auto fmt = parse_format(o.output);
  auto data = connect(g).get("/api/v1/notifications/endpoints");
  table t{{"NAME", "CHANNEL", "URL", "EVENTS", "STATE"}, {}};
  for (const auto& e : data.as_array()) {
    auto state = e.at("disabled").as_bool() ? "disabled since " + text(e, "disabled_at") + ": " +
                                                  text(e, "disabled_reason")
                                            : std::string("enabled");
    t.rows.push_back(
        {text(e, "name"), text(e, "channel"), text(e, "url"), join(e.at("events")), state});
  }
  print_result(streams.out, fmt, data, t, "notification endpoints");
}

}  // namespace

void setup_admin(CLI::App& app, global_options& g, io& streams) {
  auto* admin = app.add_subcommand("admin", "operate the broker (admins): notification deliveries");
  admin->require_subcommand(1);

  auto o = std::make_shared<admin_options>();
  auto add_filters = [&](CLI::App* cmd) {
    cmd->add_option("--status", o->status, "only pending, delivered or dead ones");
    cmd->add_option("--endpoint", o->endpoint, "only this endpoint's");
    cmd->add_option("--limit", o->limit, "the newest N (1 to 500)")
        ->check(CLI::Range(1, 500))
        ->capture_default_str();
    add_output(cmd, *o);
  };
  auto* deliveries =
      admin->add_subcommand("deliveries", "list notification deliveries, newest first");
  deliveries->require_subcommand(0, 1);
  add_filters(deliveries);
  // Runs after any subcommand's callback; alone, `apono admin deliveries` lists.
  deliveries->callback([deliveries, o, &g, &streams] {
    if (deliveries->get_subcommands().empty()) list_deliveries(*o, g, streams);
  });
  auto* list = deliveries->add_subcommand("list", "list deliveries, newest first");
  add_filters(list);
  list->callback([o, &g, &streams] { list_deliveries(*o, g, streams); });

  auto* show = deliveries->add_subcommand("show", "show one delivery with the body it sends");
  show->add_option("id", o->id, "delivery id")->required();
  add_output(show, *o);
  show->callback([o, &g, &streams] {
    auto fmt = parse_format(o->output);
    auto d = connect(g).get("/api/v1/notifications/deliveries/" + url_encode(o->id));
    if (fmt == format::table)
      describe(streams.out, d);
    else
      print_result(streams.out, fmt, d, {}, "");
  });

  auto* again = deliveries->add_subcommand(
      "redeliver", "send a delivery again now, with the same webhook-id and body");
  again->add_option("id", o->id, "delivery id")->required();
  add_output(again, *o);
  again->callback([o, &g, &streams] {
    auto fmt = parse_format(o->output);
    auto d =
        connect(g).post("/api/v1/notifications/deliveries/" + url_encode(o->id) + "/redeliver");
    if (fmt == format::table)
      streams.out << "Delivery " << text(d, "id") << " (" << text(d, "webhook_id")
                  << ") queued again for " << text(d, "endpoint") << "\n";
    else
      print_result(streams.out, fmt, d, {}, "");
  });

  auto* endpoints = admin->add_subcommand("endpoints", "list notification endpoints");
  endpoints->require_subcommand(0, 1);
  add_output(endpoints, *o);
  endpoints->callback([endpoints, o, &g, &streams] {
    if (endpoints->get_subcommands().empty()) list_endpoints(*o, g, streams);
  });
  auto* elist = endpoints->add_subcommand("list", "list endpoints with their state");
  add_output(elist, *o);
  elist->callback([o, &g, &streams] { list_endpoints(*o, g, streams); });

  auto* test = endpoints->add_subcommand("test", "send a notification.test event to an endpoint");
  test->add_option("name", o->name, "endpoint name")->required();
  add_output(test, *o);
  test->callback([o, &g, &streams] {
    auto fmt = parse_format(o->output);
    auto d = connect(g).post("/api/v1/notifications/endpoints/" + url_encode(o->name) + "/test");
    if (fmt == format::table)
      streams.out << "Test event queued for " << o->name << ": delivery " << text(d, "id") << " ("
                  << text(d, "webhook_id") << "); follow it with `apono admin deliveries show "
                  << text(d, "id") << "`\n";
    else
      print_result(streams.out, fmt, d, {}, "");
  });

  auto* enable = endpoints->add_subcommand(
      "enable", "enable an endpoint that a 410 Gone disabled; it gets events from now on");
  enable->add_option("name", o->name, "endpoint name")->required();
  add_output(enable, *o);
  enable->callback([o, &g, &streams] {
    auto fmt = parse_format(o->output);
    auto e = connect(g).post("/api/v1/notifications/endpoints/" + url_encode(o->name) + "/enable");
    if (fmt == format::table)
      streams.out << "Endpoint " << text(e, "name") << " is enabled\n";
    else
      print_result(streams.out, fmt, e, {}, "");
  });
}

}  // namespace apono::cli
