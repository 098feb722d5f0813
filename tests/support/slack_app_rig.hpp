// What the Slack app's end-to-end tests share: PostgreSQL, the Slack stand-in, and aponod --dev
// configured for it (the dev users are members of the stand-in's workspace with their dev
// emails), plus the user's side of a modal: a view's state as Slack sends it back after the
// user picked values, the block_actions of a pick and the view_submission of a submit.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/slack_fixture.hpp"

namespace apono::test {

/// PostgreSQL with `appdb`, the Slack stand-in, and aponod pointed at both.
struct slack_rig {
  /// Starts everything; `extra` is YAML added to --dev-extra after the notifications section
  /// (e.g. `access_flows:` and `integrations:` lists); `databases` are made besides `appdb`
  /// (before aponod starts, so pg-local lists them).
  explicit slack_rig(const std::string& extra = {}, const std::vector<std::string>& databases = {});
  pg_fixture pg;
  slack_fixture slack;
  temp_dir dir{"slack-app"};
  std::map<std::string, std::string> id;  ///< dev user (admin, approver, alice, bob) -> U...
  std::unique_ptr<broker_fixture> broker;

  /// aponod's base URL.
  [[nodiscard]] const std::string& url() const { return broker->url(); }
  /// Waits (30 s) for request `rid` to reach `status`, as admin sees it; fails the test
  /// with what it saw otherwise.
  void wait_status(const std::string& rid, const std::string& status);
  /// The audit rows of `rid` whose detail says `via: slack`.
  std::size_t slack_audit_rows(const std::string& rid);
  /// Waits (30 s) for a message in `user`'s DM that satisfies `pred`; returns it.
  slack_message wait_message(const std::string& user,
                             const std::function<bool(const slack_message&)>& pred,
                             const std::string& what);
  /// Waits (30 s) for an ephemeral message shown to `user` anywhere that contains `text`.
  slack_message wait_ephemeral(const std::string& user, const std::string& text);
  /// Waits (30 s) for `user`'s open modal to have callback `callback` and satisfy `pred`.
  boost::json::object wait_view(const std::string& user, const std::string& callback,
                                const std::function<bool(const boost::json::object&)>& pred,
                                const std::string& what);
};

/// True when `m` shows a button `action_id` whose value is `value` (any value when empty).
bool has_button(const slack_message& m, const std::string& action_id,
                const std::string& value = {});
/// The whole message (text and blocks) as one string, for searching.
std::string message_text(const slack_message& m);

/// What the user picked in a modal: block_id -> the values (one for a select or a text input).
using picks = std::map<std::string, std::vector<std::string>>;

/// `view` with `state.values` as Slack sends it: each input block's current value, from `p`
/// when picked there, else from its initial value.
boost::json::object with_state(boost::json::object view, const picks& p);
/// The block_actions payload of picking `p` in `view`, the action being block `block_id`'s.
boost::json::object pick_payload(const boost::json::object& view, const picks& p,
                                 const std::string& block_id);
/// The view_submission payload of submitting `view` with `p`.
boost::json::object submit_payload(const boost::json::object& view, const picks& p);
/// The block of `view` with `block_id`, or null.
const boost::json::object* find_block(const boost::json::object& view, const std::string& block_id);
/// The option values offered by block `block_id` of `view` (empty when none).
std::vector<std::string> offered(const boost::json::object& view, const std::string& block_id);

}  // namespace apono::test
