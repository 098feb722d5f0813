// The Slack app's test rig and the user's side of a modal.
#include "tests/support/slack_app_rig.hpp"

#include <catch2/catch.hpp>

#include "common/secrets.hpp"

namespace apono::test {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string str(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                  : std::string();
}

json::object chosen(const std::string& v) {
  return json::object{{"text", json::object{{"type", "plain_text"}, {"text", v}}}, {"value", v}};
}

// The state Slack keeps for one input element holding `values`.
json::object element_state(const json::object& element, const std::vector<std::string>& values) {
  const auto type = str(element, "type");
  json::object s{{"type", type}};
  if (type == "plain_text_input") {
    s["value"] = values.empty() ? json::value(nullptr) : json::value(values.front());
  } else if (type.starts_with("multi_")) {
    json::array a;
    for (const auto& v : values) a.push_back(chosen(v));
    s["selected_options"] = std::move(a);
  } else {
    s["selected_option"] = values.empty() ? json::value(nullptr) : json::value(chosen(values[0]));
  }
  return s;
}

// What an element shows before the user touches it.
std::vector<std::string> initial_values(const json::object& element) {
  std::vector<std::string> out;
  if (auto v = str(element, "initial_value"); !v.empty()) out.push_back(v);
  if (auto it = element.find("initial_option"); it != element.end() && it->value().is_object())
    out.push_back(str(it->value().get_object(), "value"));
  if (auto it = element.find("initial_options"); it != element.end() && it->value().is_array())
    for (const auto& o : it->value().get_array()) out.push_back(str(o.as_object(), "value"));
  return out;
}

}  // namespace

slack_rig::slack_rig(const std::string& extra, const std::vector<std::string>& databases) {
  pg.psql("CREATE DATABASE appdb");
  for (const auto& d : databases) pg.psql("CREATE DATABASE " + d);
  for (const char* u : {"admin", "approver", "alice", "bob"})
    id[u] = slack.add_user(u, std::string(u) + "@example.com");
  const auto path = dir.path / "extra.yaml";
  common::write_private_file(path,
                             "notifications:\n"
                             "  retry: {initial: 1s, max: 1s, jitter: false}\n" +
                                 slack.config_yaml(2) + extra);
  broker =
      std::make_unique<broker_fixture>(pg, std::vector<std::string>{"--dev-extra", path.string()});
  slack.set_aponod_ca(broker->ca_file());
}

void slack_rig::wait_status(const std::string& rid, const std::string& status) {
  std::string seen;
  bool ok = wait_until(
      [&] {
        seen = request_status(*broker, "admin", rid);
        return seen == status;
      },
      30s);
  INFO(rid << ": awaited " << status << ", saw " << seen);
  REQUIRE(ok);
}

std::size_t slack_rig::slack_audit_rows(const std::string& rid) {
  auto a = broker->call("admin", "GET", "/api/v1/audit?request=" + rid + "&limit=1000");
  REQUIRE(a.status == 200);
  std::size_t n = 0;
  for (const auto& ev : a.json.as_array()) {
    const auto& d = ev.at("detail").as_object();
    if (d.contains("via") && d.at("via") == "slack") ++n;
  }
  return n;
}

slack_message slack_rig::wait_message(const std::string& user,
                                      const std::function<bool(const slack_message&)>& pred,
                                      const std::string& what) {
  std::optional<slack_message> found;
  slack.wait_until(
      [&] {
        for (const auto& m : slack.messages(id.at(user)))
          if (pred(m)) found = m;
        return found.has_value();
      },
      30s);
  if (!found) {
    std::string all;
    for (const auto& m : slack.messages(id.at(user))) all += message_text(m) + "\n---\n";
    INFO("awaited in " << user << "'s DM: " << what << "; saw:\n" << all);
    REQUIRE(found);
  }
  return *found;
}

slack_message slack_rig::wait_ephemeral(const std::string& user, const std::string& text) {
  std::optional<slack_message> found;
  auto scan = [&] {
    for (const auto& [name, uid] : id)
      for (const auto& m : slack.messages(uid))
        if (m.ephemeral && m.user == id.at(user) && message_text(m).find(text) != std::string::npos)
          found = m;
    return found.has_value();
  };
  slack.wait_until(scan, 30s);
  if (!found) {
    std::string all;
    for (const auto& [name, uid] : id)
      for (const auto& m : slack.messages(uid))
        if (m.ephemeral) all += name + ": " + message_text(m) + "\n";
    INFO("awaited an ephemeral message to " << user << " with '" << text << "'; saw:\n" << all);
    REQUIRE(found);
  }
  return *found;
}

json::object slack_rig::wait_view(const std::string& user, const std::string& callback,
                                  const std::function<bool(const json::object&)>& pred,
                                  const std::string& what) {
  std::optional<json::object> found;
  slack.wait_until(
      [&] {
        auto v = slack.open_view(id.at(user));
        if (v && str(*v, "callback_id") == callback && pred(*v)) found = v;
        return found.has_value();
      },
      30s);
  if (!found) {
    auto v = slack.open_view(id.at(user));
    INFO("awaited " << user << "'s modal " << callback << ": " << what << "; saw "
                    << (v ? json::serialize(*v) : std::string("none")));
    REQUIRE(found);
  }
  return *found;
}

bool has_button(const slack_message& m, const std::string& action_id, const std::string& value) {
  for (const auto& b : m.blocks) {
    const auto* els = b.as_object().if_contains("elements");
    if (!els || !els->is_array()) continue;
    for (const auto& e : els->as_array())
      if (e.is_object() && str(e.as_object(), "type") == "button" &&
          str(e.as_object(), "action_id") == action_id &&
          (value.empty() || str(e.as_object(), "value") == value))
        return true;
  }
  return false;
}

std::string message_text(const slack_message& m) {
  return m.text + " " + json::serialize(m.blocks);
}

json::object with_state(json::object view, const picks& p) {
  json::object values;
  for (const auto& b : view.at("blocks").as_array()) {
    const auto& bo = b.as_object();
    if (str(bo, "type") != "input") continue;
    const auto block_id = str(bo, "block_id");
    const auto& el = bo.at("element").as_object();
    auto it = p.find(block_id);
    auto vals = it != p.end() ? it->second : initial_values(el);
    values[block_id] = json::object{{str(el, "action_id"), element_state(el, vals)}};
  }
  view["state"] = json::object{{"values", std::move(values)}};
  return view;
}

const json::object* find_block(const json::object& view, const std::string& block_id) {
  for (const auto& b : view.at("blocks").as_array())
    if (str(b.as_object(), "block_id") == block_id) return &b.as_object();
  return nullptr;
}

std::vector<std::string> offered(const json::object& view, const std::string& block_id) {
  std::vector<std::string> out;
  const auto* b = find_block(view, block_id);
  if (!b) return out;
  const auto& el = b->at("element").as_object();
  if (const auto* o = el.if_contains("options"))
    for (const auto& x : o->as_array()) out.push_back(str(x.as_object(), "value"));
  return out;
}

json::object pick_payload(const json::object& view, const picks& p, const std::string& block_id) {
  auto v = with_state(view, p);
  const auto* b = find_block(v, block_id);
  REQUIRE(b);
  const auto& el = b->at("element").as_object();
  json::object action{{"type", str(el, "type")},
                      {"action_id", str(el, "action_id")},
                      {"block_id", block_id},
                      {"action_ts", "1700000000.000100"}};
  const auto& st = v.at("state").at("values").at(block_id).at(str(el, "action_id")).as_object();
  for (const auto& kv : st)
    if (kv.key() != "type") action[kv.key()] = kv.value();
  return json::object{{"type", "block_actions"},
                      {"container", json::object{{"type", "view"}, {"view_id", str(v, "id")}}},
                      {"view", v},
                      {"actions", json::array{action}}};
}

json::object submit_payload(const json::object& view, const picks& p) {
  return json::object{{"type", "view_submission"}, {"view", with_state(view, p)}};
}

}  // namespace apono::test
