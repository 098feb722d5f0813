// Lifecycle rules with a manual clock, a real SQLite store and a fake provisioner: every
// transition, retry and recovery path without waiting for wall-clock time.
#include "broker/service.hpp"

#include <catch2/catch.hpp>

#include <mutex>
#include <set>

#include "broker/scheduler.hpp"
#include "broker/store/sqlite_store.hpp"
#include "common/error.hpp"
#include "tests/support/process.hpp"

using namespace apono;
using namespace std::chrono_literals;
using broker::caller;
using common::errc;
using common::status;

namespace {

// Records calls; fails on demand. What a real target would hold is the `logins` set.
class fake_provisioner final : public broker::provisioner {
 public:
  void grant(const broker::provision_unit& u) override {
    std::lock_guard lock(mutex_);
    ++grants;
    last_valid_until = u.valid_until;
    if (grant_failures > 0) {
      --grant_failures;
      throw broker::provision_error("target unavailable");
    }
    logins.insert(u.login);
    secrets[u.login] = u.secret;
  }
  void revoke(const broker::provision_unit& u) override {
    std::lock_guard lock(mutex_);
    ++revokes;
    if (revoke_failures > 0) {
      --revoke_failures;
      throw broker::provision_error("cannot drop role");
    }
    logins.erase(u.login);
  }
  void reset(const broker::provision_unit& u) override {
    std::lock_guard lock(mutex_);
    secrets[u.login] = u.secret;
  }
  void check(const broker::integration_config&) override {}

  std::mutex mutex_;
  int grants = 0, revokes = 0, grant_failures = 0, revoke_failures = 0;
  std::set<std::string> logins;
  std::map<std::string, std::string> secrets;
  common::time_point last_valid_until{};
};

std::shared_ptr<const broker::config> make_config() {
  auto cfg = std::make_shared<broker::config>();
  cfg->users = {{"admin", "", {}, true},
                {"approver", "", {}, false},
                {"alice", "", {}, false},
                {"bob", "", {}, false}};
  cfg->groups = {{"engineers", {"alice", "bob"}}};
  broker::integration_config pg;
  pg.id = "pg";
  pg.name = "PG";
  pg.type = "postgresql";
  pg.resource_type = "database";
  pg.admin_url = "postgresql://x@127.0.0.1/postgres";
  pg.host = "127.0.0.1";
  pg.port = 5432;
  pg.resources = {{"appdb"}, {"other"}};
  pg.permissions = {
      {"read_only", {"SELECT 1"}}, {"read_write", {"SELECT 1"}}, {"admin", {"SELECT 1"}}};
  cfg->integrations = {pg};
  broker::access_flow_config autoflow;
  autoflow.name = "auto-read";
  autoflow.requestors.groups = {"engineers"};
  autoflow.targets = {{"pg", {"*"}, {"read_only"}}};
  autoflow.automatic = true;
  autoflow.max_duration = 8h;
  autoflow.default_duration = 1h;
  broker::access_flow_config manual;
  manual.name = "manual-write";
  manual.requestors.groups = {"engineers"};
  manual.targets = {{"pg", {"app*"}, {"read_write"}}};
  manual.automatic = false;
  manual.approvers.users = {"approver"};
  manual.max_duration = 4h;
  manual.default_duration = 1h;
  cfg->flows = {autoflow, manual};
  cfg->bundles = {{"both", {{"pg", {"appdb", "other"}, {"read_only"}}}}};
  return cfg;
}

struct harness {
  explicit harness(std::filesystem::path db = {})
      : dir(test::make_temp_dir("service-test")),
        clock(common::from_unix_ms(1'800'000'000'000)),
        holder(make_config()),
        st(db.empty() ? dir / "apono.db" : db),
        svc(st, holder, {{"postgresql", &prov}}, clock, stats),
        sched(st, svc, clock, 1) {}
  ~harness() { std::filesystem::remove_all(dir); }

  common::access_request create(const std::string& user, const std::string& perm,
                                std::optional<std::chrono::seconds> d = 10min,
                                std::vector<std::string> resources = {"appdb"}) {
    broker::create_input in;
    in.integration = "pg";
    in.resources = std::move(resources);
    in.permissions = {perm};
    in.duration = d;
    in.justification = "ticket 42";
    return svc.create(caller{user, false}, in);
  }
  common::access_request get(std::int64_t id) { return svc.get(caller{"admin", true}, id); }

  std::filesystem::path dir;
  common::manual_clock clock;
  broker::config_holder holder;
  broker::metrics stats;
  fake_provisioner prov;
  broker::sqlite_store st;
  broker::service svc;
  broker::scheduler sched;
};

errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const common::api_error& e) {
    return e.code();
  }
  FAIL("no api_error thrown");
  return errc::internal;
}

}  // namespace

TEST_CASE("automatic flow grants, and the clock starts when the grant is ACTIVE") {
  harness h;
  auto r = h.create("alice", "read_only");
  CHECK(r.state == status::granting);
  CHECK(r.flow == "auto-read");
  CHECK(common::format_request_id(r.id) == "AR-00001");
  h.prov.grant_failures = 1;  // first attempt fails: retried after 1 s
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::granting);
  CHECK(h.get(r.id).units[0].last_error == "target unavailable");
  h.clock.advance(1s);
  h.sched.run_once();
  auto active = h.get(r.id);
  REQUIRE(active.state == status::active);
  CHECK(*active.active_from == h.clock.now());
  CHECK(*active.ends_at == h.clock.now() + 10min);
  CHECK(h.prov.last_valid_until == *active.ends_at + 5s);
  REQUIRE(h.prov.logins.size() == 1);
  CHECK(h.prov.logins.begin()->rfind("apono_ar1_", 0) == 0);

  auto d = h.svc.access_details(caller{"alice", false}, r.id);
  CHECK(d.units.at(0).username == *h.prov.logins.begin());
  CHECK(d.units.at(0).password == h.prov.secrets[d.units.at(0).username]);
  CHECK(code_of([&] {
          (void)h.svc.access_details(caller{"bob", false}, r.id);
        }) == errc::not_found);
  CHECK(code_of([&] {
          (void)h.svc.access_details(caller{"admin", true}, r.id);
        }) == errc::permission_denied);

  h.clock.advance(10min - 1ms);
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::active);
  h.clock.advance(1ms);
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::expired);
  CHECK(h.get(r.id).units[0].state == status::expired);
  CHECK(h.prov.logins.empty());
  CHECK(code_of([&] {
          (void)h.svc.access_details(caller{"alice", false}, r.id);
        }) == errc::conflict);
}

TEST_CASE("manual flow: approvers only, never one's own, reject needs a reason") {
  harness h;
  auto r = h.create("alice", "read_write");
  CHECK(r.state == status::pending);
  CHECK(code_of([&] { h.svc.approve(caller{"alice", false}, r.id); }) == errc::permission_denied);
  CHECK(code_of([&] { h.svc.approve(caller{"bob", false}, r.id); }) == errc::not_found);
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::pending);
  CHECK(h.prov.grants == 0);
  h.svc.approve(caller{"approver", false}, r.id);
  CHECK(code_of([&] { h.svc.approve(caller{"approver", false}, r.id); }) == errc::conflict);
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::active);
  CHECK(h.get(r.id).decided_by == "approver");

  auto r2 = h.create("bob", "read_write");
  CHECK(code_of([&] {
          h.svc.reject(caller{"approver", false}, r2.id, "  ");
        }) == errc::invalid_argument);
  h.svc.reject(caller{"approver", false}, r2.id, "not during the freeze");
  auto rej = h.get(r2.id);
  CHECK(rej.state == status::rejected);
  CHECK(rej.reason == "not during the freeze");
}

TEST_CASE("a request pending for over 7 days fails") {
  harness h;
  auto r = h.create("alice", "read_write");
  h.clock.advance(std::chrono::hours{24 * 7} - 1s);
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::pending);
  h.clock.advance(1s);
  h.sched.run_once();
  auto f = h.get(r.id);
  CHECK(f.state == status::failed);
  CHECK(f.reason == "no approver decided within 7 days");
}

TEST_CASE("validation names what is wrong") {
  harness h;
  CHECK(code_of([&] { h.create("alice", "read_only", 9h); }) == errc::failed_precondition);
  CHECK(code_of([&] { h.create("alice", "read_write", 5h); }) == errc::failed_precondition);
  CHECK(code_of([&] { h.create("alice", "nope"); }) == errc::invalid_argument);
  CHECK(code_of([&] { h.create("alice", "read_only", 1h, {"missing"}); }) ==
        errc::invalid_argument);
  CHECK(code_of([&] { h.create("alice", "admin"); }) == errc::permission_denied);
  CHECK(code_of([&] { h.create("alice", "read_write", 1h, {"other"}); }) ==
        errc::permission_denied);
  CHECK(code_of([&] { h.create("approver", "read_only"); }) == errc::invalid_argument);
  broker::create_input in;
  in.integration = "pg";
  in.resources = {"appdb"};
  in.permissions = {"read_only"};
  CHECK(code_of([&] { h.svc.create(caller{"alice", false}, in); }) == errc::invalid_argument);
  in.justification = "why";
  in.dry_run = true;
  auto dry = h.svc.create(caller{"alice", false}, in);
  CHECK(dry.id == 0);
  CHECK(dry.duration == 1h);  // the flow's default
  CHECK(
      h.svc.list(caller{"alice", false}, broker::list_scope::mine, std::nullopt).requests.empty());
  try {
    h.create("alice", "read_only", 9h);
  } catch (const common::api_error& e) {
    CHECK(std::string(e.what()) ==
          "duration 9h exceeds the maximum of 8h allowed by access flow 'auto-read'");
  }
}

TEST_CASE("revoke: requester, approver or admin; a failing revoke stays REVOKING and retries") {
  harness h;
  auto r = h.create("alice", "read_only");
  h.sched.run_once();
  REQUIRE(h.get(r.id).state == status::active);
  CHECK(code_of([&] { h.svc.revoke(caller{"bob", false}, r.id, ""); }) == errc::not_found);
  h.prov.revoke_failures = 3;
  h.svc.revoke(caller{"admin", true}, r.id, "incident");
  CHECK(h.get(r.id).state == status::revoking);
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::revoking);
  CHECK(h.stats.revoke_failures == 1);
  // Backoff: 0.5 s, 1 s, 2 s between attempts; it never gives up.
  for (auto step : {500ms, 1000ms, 2000ms}) {
    h.clock.advance(step);
    h.sched.run_once();
  }
  auto done = h.get(r.id);
  CHECK(done.state == status::revoked);
  CHECK(done.reason == "incident");
  CHECK(h.prov.logins.empty());
  CHECK(code_of([&] { h.svc.revoke(caller{"alice", false}, r.id, ""); }) == errc::conflict);

  auto pending = h.create("alice", "read_write");
  h.svc.revoke(caller{"alice", false}, pending.id, "");
  CHECK(h.get(pending.id).state == status::revoked);
}

TEST_CASE("a grant that keeps failing ends FAILED and undoes what was created") {
  harness h;
  h.prov.grant_failures = 100;
  auto r = h.create("alice", "read_only", 10min, {"appdb", "other"});
  for (int i = 0; i < 8; ++i) {
    h.sched.run_once();
    h.clock.advance(30s);
  }
  auto f = h.get(r.id);
  CHECK(f.state == status::failed);
  CHECK(f.reason.find("target unavailable") != std::string::npos);
  CHECK(h.prov.revokes >= 1);
  CHECK(h.prov.logins.empty());
}

TEST_CASE("recovery: a new broker on the same store finishes and expires what is due") {
  auto dir = test::make_temp_dir("service-recovery");
  auto db = dir / "apono.db";
  std::int64_t granting_id = 0, active_id = 0;
  common::time_point ends{};
  std::set<std::string> target;
  {
    harness h(db);
    auto a = h.create("alice", "read_only", 1min);
    h.sched.run_once();
    active_id = a.id;
    ends = *h.get(a.id).ends_at;
    h.prov.grant_failures = 1;
    auto g = h.create("bob", "read_only");
    h.sched.run_once();  // fails once; stays GRANTING with a retry due in 1 s
    granting_id = g.id;
    target = h.prov.logins;
  }  // the broker "dies"
  harness h(db);
  h.prov.logins = target;
  h.clock.set(ends + 30s);  // it was down past the first grant's end
  h.sched.run_once();
  CHECK(h.get(active_id).state == status::expired);
  CHECK(h.get(granting_id).state == status::active);
  CHECK(h.prov.logins.size() == 1);
  CHECK(h.svc.list(caller{"admin", true}, broker::list_scope::all, std::nullopt).requests.size() ==
        2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("events and audit: each transition is recorded, callers see only their own") {
  harness h;
  auto r = h.create("alice", "read_only");
  h.sched.run_once();
  h.svc.revoke(caller{"alice", false}, r.id, "");
  h.sched.run_once();
  std::int64_t next = 0;
  auto ev = h.svc.events_after(caller{"alice", false}, 0, next);
  std::vector<std::string> statuses;
  for (const auto& e : ev) statuses.push_back(e.status);
  CHECK(statuses == std::vector<std::string>{"GRANTING", "ACTIVE", "REVOKING", "REVOKED"});
  std::int64_t bob_next = 0;
  CHECK(h.svc.events_after(caller{"bob", false}, 0, bob_next).empty());
  CHECK(bob_next == next);  // bob's cursor still moves past what he may not see
  auto audit = h.svc.audit(caller{"admin", true}, 0, r.id, 100);
  std::set<std::string> actions;
  for (const auto& a : audit) actions.insert(a.action);
  CHECK(actions.count("request.created"));
  CHECK(actions.count("unit.granted"));
  CHECK(actions.count("unit.revoked"));
  CHECK(code_of([&] {
          (void)h.svc.audit(caller{"alice", false}, 0, r.id, 100);
        }) == errc::permission_denied);
  for (const auto& a : audit)
    CHECK(a.detail.find(h.prov.secrets.begin()->second) == std::string::npos);
}

TEST_CASE("bundles and request-again") {
  harness h;
  broker::create_input in;
  in.bundle = "both";
  in.justification = "analytics";
  auto r = h.svc.create(caller{"alice", false}, in);
  CHECK(r.units.size() == 2);
  CHECK(r.state == status::granting);
  h.sched.run_once();
  CHECK(h.get(r.id).state == status::active);
  auto again = h.svc.request_again(caller{"alice", false}, r.id, "", std::nullopt);
  CHECK(again.id != r.id);
  CHECK(again.bundle == "both");
  CHECK(again.justification == "analytics");
  CHECK(code_of([&] {
          h.svc.request_again(caller{"admin", true}, r.id, "", std::nullopt);
        }) == errc::permission_denied);
}

TEST_CASE("plan: a selection split by access flow, each group created as planned") {
  harness h;
  const caller alice{"alice", false};
  broker::create_input in;
  in.integration = "pg";
  in.resources = {"appdb", "other"};
  in.permissions = {"read_only", "read_write"};
  in.justification = "ticket 42";
  // As one request it spans two flows (and one unit no flow allows): refused today.
  CHECK(code_of([&] { h.svc.create(alice, in); }) == errc::permission_denied);

  auto p = h.svc.plan(alice, in);
  REQUIRE(p.groups.size() == 2);
  const auto& read = p.groups[0];
  CHECK(read.flow == "auto-read");
  CHECK(read.automatic);
  CHECK(read.approvers.empty());
  CHECK(read.integration == "pg");
  CHECK(read.resource_type == "database");
  CHECK(read.resources == std::vector<std::string>{"appdb", "other"});
  CHECK(read.permissions == std::vector<std::string>{"read_only"});
  CHECK(read.max_duration == 8h);
  CHECK(read.duration == 1h);  // none asked: the flow's default
  const auto& write = p.groups[1];
  CHECK(write.flow == "manual-write");
  CHECK_FALSE(write.automatic);
  CHECK(write.approvers == std::vector<std::string>{"approver"});
  CHECK(write.resources == std::vector<std::string>{"appdb"});
  CHECK(write.permissions == std::vector<std::string>{"read_write"});
  CHECK(write.max_duration == 4h);
  REQUIRE(p.refused.size() == 1);
  CHECK(p.refused[0].resource == "other");
  CHECK(p.refused[0].permission == "read_write");
  CHECK(p.refused[0].reason == "no access flow lets alice request read_write on pg/other");

  // Each group, created as it stands, gets the flow the plan named.
  for (const auto& g : p.groups) {
    broker::create_input one;
    one.integration = g.integration;
    one.resources = g.resources;
    one.permissions = g.permissions;
    one.justification = in.justification;
    auto r = h.svc.create(alice, one);
    CHECK(r.flow == g.flow);
    CHECK(r.units.size() == g.resources.size() * g.permissions.size());
  }
  // Nothing was stored by the plan itself: two requests, the ones just created.
  CHECK(h.svc.list(caller{"admin", true}, broker::list_scope::all, std::nullopt).requests.size() ==
        2);
}

TEST_CASE("plan: the duration and justification count as they would in a create") {
  harness h;
  const caller bob{"bob", false};
  broker::create_input in;
  in.integration = "pg";
  in.resources = {"appdb"};
  in.permissions = {"read_only", "read_write"};
  in.justification = "ticket 7";
  in.duration = 6h;  // within auto-read's 8 h, over manual-write's 4 h
  auto p = h.svc.plan(bob, in);
  REQUIRE(p.groups.size() == 1);
  CHECK(p.groups[0].flow == "auto-read");
  CHECK(p.groups[0].duration == 6h);
  REQUIRE(p.refused.size() == 1);
  CHECK(p.refused[0].permission == "read_write");
  CHECK(p.refused[0].reason.find("exceeds the maximum of 4h") != std::string::npos);
  // A bundle is planned unit by unit like any selection.
  broker::create_input bundle;
  bundle.bundle = "both";
  bundle.justification = "x";
  auto b = h.svc.plan(bob, bundle);
  REQUIRE(b.groups.size() == 1);
  CHECK(b.groups[0].resources == std::vector<std::string>{"appdb", "other"});
  CHECK(b.refused.empty());
  // Bad input is refused as a create refuses it.
  in.resources = {"nope"};
  CHECK(code_of([&] { (void)h.svc.plan(bob, in); }) == errc::invalid_argument);
}
