// The request form as a state machine: each list is what the user's flows allow, each choice
// narrows the next, changing the integration drops the choices made for the old one, long
// lists are searched, the modal keeps to Slack's limits, a submission becomes the create input
// the API takes, errors land on the block they concern, and the CLI command repeats it.
#include "broker/slack/request_form.hpp"

#include <catch2/catch.hpp>

#include "broker/slack/blocks.hpp"
#include "common/error.hpp"

using namespace apono::broker;
using namespace apono::broker::slack;
namespace json = boost::json;
using strings = std::vector<std::string>;

namespace {

std::shared_ptr<const config> cfg() {
  std::string many;
  for (int i = 0; i < 150; ++i) many += (i ? ", " : "") + std::string("shard") + std::to_string(i);
  return parse_config(R"(users:
  - name: alice
  - name: approver
  - name: mallory
groups:
  - name: engineers
    members: [alice]
integrations:
  - id: pg
    name: Main PostgreSQL
    type: postgresql
    admin_url: postgresql://postgres@127.0.0.1:5432/postgres
    resources: [appdb, billing, secretdb]
  - id: shards
    name: Shards
    type: postgresql
    admin_url: postgresql://postgres@127.0.0.1:5432/postgres
    resources: [)" + many +
                          R"(]
access_flows:
  - name: read
    requestors: {groups: [engineers]}
    targets:
      - {integration: pg, resources: ["*db"], permissions: [read_only]}
      - {integration: shards, resources: ["*"], permissions: [read_only]}
    approval: automatic
    max_duration: 8h
    default_duration: 1h
  - name: write
    requestors: {groups: [engineers]}
    targets: [{integration: pg, resources: [appdb], permissions: [read_write]}]
    approval: manual
    approvers: {users: [approver]}
    max_duration: 4h
bundles:
  - name: all-read
    targets: [{integration: pg, resources: [appdb, secretdb], permissions: [read_only]}]
)",
                      "test.yaml");
}

// The block of `view` with `block_id`, or null.
const json::object* block(const json::object& view, const std::string& id) {
  for (const auto& b : view.at("blocks").as_array())
    if (b.as_object().contains("block_id") && b.at("block_id") == id.c_str()) return &b.as_object();
  return nullptr;
}

strings option_values(const json::object& element, const char* key = "options") {
  strings out;
  if (!element.contains(key)) return out;
  for (const auto& o : element.at(key).as_array()) out.emplace_back(o.at("value").as_string());
  return out;
}

// A view whose state holds these selections, as Slack sends it back.
json::object view_with(json::object values, const std::string& channel = "C1") {
  return json::object{{"private_metadata", json::serialize(json::object{{"channel", channel}})},
                      {"state", json::object{{"values", std::move(values)}}}};
}

json::object one(const std::string& v) {
  return json::object{{"type", "static_select"}, {"selected_option", json::object{{"value", v}}}};
}

json::object many(const strings& vs) {
  json::array a;
  for (const auto& v : vs) a.push_back(json::object{{"value", v}});
  return json::object{{"type", "multi_static_select"}, {"selected_options", a}};
}

json::object text(const std::string& v) {
  return json::object{{"type", "plain_text_input"}, {"value", v}};
}

}  // namespace

TEST_CASE("the first form lists the user's integrations and bundles only") {
  auto c = cfg();
  auto v = build_form(*c, "alice", {});
  INFO(json::serialize(v));
  CHECK(blocks::check_modal(v).empty());
  CHECK(v.at("callback_id") == "apono_request_form");
  REQUIRE(block(v, "integration"));
  CHECK(option_values(block(v, "integration")->at("element").as_object()) ==
        strings{"pg", "shards"});
  CHECK(block(v, "integration")->at("dispatch_action") == true);
  CHECK(block(v, "mode"));           // alice may request the bundle
  CHECK(!block(v, "resources:pg"));  // nothing to list before an integration is chosen
  // Someone no flow allows gets a form that says so, with nothing to submit.
  auto none = build_form(*c, "mallory", {});
  CHECK(blocks::check_modal(none).empty());
  CHECK(!none.contains("submit"));
  CHECK(!block(none, "integration"));
}

TEST_CASE("each choice narrows the next") {
  auto c = cfg();
  form_state st;
  st.integration = "pg";
  auto v = build_form(*c, "alice", st);
  REQUIRE(block(v, "resource_type:pg"));
  CHECK(option_values(block(v, "resource_type:pg")->at("element").as_object()) ==
        strings{"database"});
  REQUIRE(block(v, "resources:pg"));
  // The flows allow `*db` and appdb: billing is not listed.
  CHECK(option_values(block(v, "resources:pg")->at("element").as_object()) ==
        strings{"appdb", "secretdb"});
  CHECK(option_values(block(v, "permissions:pg")->at("element").as_object()) ==
        strings{"read_only", "read_write"});

  st.resources = {"appdb", "secretdb"};
  v = build_form(*c, "alice", st);
  // read_write is allowed on appdb only, so not on both together.
  CHECK(option_values(block(v, "permissions:pg")->at("element").as_object()) ==
        strings{"read_only"});
  CHECK(option_values(block(v, "resources:pg")->at("element").as_object(), "initial_options") ==
        strings{"appdb", "secretdb"});

  st.resources = {"appdb"};
  st.permissions = {"read_write"};
  v = build_form(*c, "alice", st);
  INFO(json::serialize(v));
  CHECK(blocks::check_modal(v).empty());
  // The flow that will govern it is shown before submitting.
  CHECK(json::serialize(v).find("Access flow *write*: approved by approver") != std::string::npos);
}

TEST_CASE("the view's state is read back, and a new integration drops the old choices") {
  auto c = cfg();
  auto st = read_form(
      view_with(json::object{{"integration", json::object{{"integration", one("pg")}}},
                             {"resources:pg", json::object{{"resources", many({"appdb"})}}},
                             {"permissions:pg", json::object{{"permissions", many({"read_only"})}}},
                             {"duration", json::object{{"duration", text("1.5")}}},
                             {"justification", json::object{{"justification", text("INC-1")}}}}));
  CHECK(st.integration == "pg");
  CHECK(st.resources == strings{"appdb"});
  CHECK(st.permissions == strings{"read_only"});
  CHECK(st.duration == "1.5");
  CHECK(st.justification == "INC-1");
  CHECK(st.channel == "C1");

  // The user picks another integration: Slack still sends the old blocks' state.
  auto moved = read_form(
      view_with(json::object{{"integration", json::object{{"integration", one("shards")}}},
                             {"resources:pg", json::object{{"resources", many({"appdb"})}}}}));
  CHECK(moved.integration == "shards");
  CHECK(moved.resources.empty());

  // A choice the user may not make is dropped, whatever the payload says.
  form_state forged;
  forged.integration = "pg";
  forged.resources = {"billing", "appdb"};
  forged.permissions = {"admin", "read_only"};
  auto n = normalize(*c, "alice", forged);
  CHECK(n.resources == strings{"appdb"});
  CHECK(n.permissions == strings{"read_only"});
  CHECK(n.resource_type == "database");
  CHECK(normalize(*c, "mallory", forged).integration.empty());
  // Odd shapes read as nothing chosen.
  CHECK(read_form(json::object{{"state", 3}}).integration.empty());
  CHECK(read_form(json::object{{"private_metadata", "{not json"}}).channel.empty());
}

TEST_CASE("a long resource list is searched, not listed") {
  auto c = cfg();
  form_state st;
  st.integration = "shards";
  auto v = build_form(*c, "alice", st);
  INFO(json::serialize(v));
  CHECK(blocks::check_modal(v).empty());
  const auto& el = block(v, "resources:shards")->at("element").as_object();
  CHECK(el.at("type") == "multi_external_select");
  CHECK(!el.contains("options"));
  auto found = suggest_resources(*c, "alice", st, "SHARD14");
  strings names;
  for (const auto& o : found) names.emplace_back(o.at("value").as_string());
  CHECK(names == strings{"shard14", "shard140", "shard141", "shard142", "shard143", "shard144",
                         "shard145", "shard146", "shard147", "shard148", "shard149"});
  CHECK(suggest_resources(*c, "alice", st, "").size() == blocks::limits::options);
  CHECK(suggest_resources(*c, "mallory", st, "").empty());
}

TEST_CASE("the bundle choice") {
  auto c = cfg();
  form_state st;
  st.bundle_mode = true;
  st.bundle = "all-read";
  auto v = build_form(*c, "alice", st);
  INFO(json::serialize(v));
  CHECK(blocks::check_modal(v).empty());
  CHECK(option_values(block(v, "bundle")->at("element").as_object()) == strings{"all-read"});
  CHECK(!block(v, "integration"));
  auto in = to_input(st);
  CHECK(in.bundle == "all-read");
  CHECK(in.integration.empty());
  CHECK(repeat_command(st) == "apono requests create --bundle all-read -j ''");
}

TEST_CASE("a submission becomes the API's create input; errors land on their block") {
  form_state st;
  st.integration = "pg";
  st.resource_type = "database";
  st.resources = {"appdb"};
  st.permissions = {"read_write"};
  st.duration = "1.5";
  st.justification = "INC-7 it's down";
  auto in = to_input(st);
  CHECK(in.integration == "pg");
  CHECK(in.resources == strings{"appdb"});
  REQUIRE(in.duration);
  CHECK(in.duration->count() == 5400);
  CHECK(repeat_command(st) ==
        "apono requests create -i pg -t database -r appdb -p read_write -j 'INC-7 it'\\''s "
        "down' -d 1.5");
  st.duration = "forever";
  CHECK_THROWS_AS(to_input(st), apono::common::api_error);

  CHECK(form_errors(st, "a justification is required by access flow 'write'")
            .contains("justification"));
  CHECK(form_errors(st, "duration 9h exceeds the maximum of 4h allowed by access flow 'write'")
            .contains("duration"));
  CHECK(form_errors(st, "no access flow lets alice request admin on pg/appdb")
            .contains("permissions:pg"));
  CHECK(form_errors(st, "at least one resource is required").contains("resources:pg"));
  form_state empty;
  CHECK(form_errors(empty, "an integration or a bundle is required").contains("integration"));
}
