// Clicks and modals: the request form's changes, searches and submission; the buttons of the
// notification messages (approve, reject, access details, revoke, request again) and the
// modals they open. A click that may not act is refused with an ephemeral message before the
// service is asked, so nothing changes and nothing is audited; the service checks everything
// again in its own transaction, so a race between two approvers still decides once.
#include <spdlog/spdlog.h>

#include "broker/api/json_body.hpp"
#include "broker/policy.hpp"
#include "broker/slack/app.hpp"
#include "broker/slack/blocks.hpp"
#include "broker/slack/request_form.hpp"
#include "broker/slack/views.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"

namespace apono::broker::slack {

namespace json = boost::json;
using common::api_error;
using common::errc;
using common::status;

namespace {

http::response empty_ack() {
  return http::response{200, "", "", {}};
}

http::response errors_answer(json::object errors) {
  return api::json_response(
      200, json::object{{"response_action", "errors"}, {"errors", std::move(errors)}});
}

const json::object* object_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

// The value typed into input `block` (action id = block id) of a submitted view.
std::string input_value(const json::object& view, const std::string& block) {
  const auto* state = object_at(view, "state");
  const auto* values = state ? object_at(*state, "values") : nullptr;
  const auto* b = values ? object_at(*values, block) : nullptr;
  const auto* a = b ? object_at(*b, block) : nullptr;
  if (!a) return {};
  auto it = a->find("value");
  return it != a->end() && it->value().is_string() ? std::string(it->value().get_string())
                                                   : std::string();
}

std::string id_text(std::int64_t id) {
  return common::format_request_id(id);
}

// Why a request that is not PENDING can no longer be decided, in the words an approver wants.
std::string already(const common::access_request& r) {
  const auto id = id_text(r.id);
  const auto by = r.decided_by.empty() || r.decided_by == "automatic"
                      ? std::string()
                      : " by " + blocks::escape(r.decided_by);
  switch (r.state) {
    case status::granting:
    case status::active:
      return id + " was already approved" + by + " (it is " +
             std::string(common::to_string(r.state)) + "); nothing changed.";
    case status::rejected:
      return id + " was already rejected" + by + ": " + blocks::escape(r.reason) +
             "; nothing changed.";
    case status::failed:
      return id + " has failed (" + blocks::escape(r.reason.empty() ? "no reason" : r.reason) +
             "); it can no longer be decided.";
    default:
      return id + " is " + std::string(common::to_string(r.state)) +
             "; it can no longer be decided.";
  }
}

// Why `who` may not approve or reject `r`, or empty when they may.
std::string decision_refusal(const config& cfg, const caller& who, const common::access_request& r,
                             std::string_view action) {
  if (r.requester == who.user)
    return action == action::approve ? "You cannot approve your own request."
                                     : "You cannot reject your own request; revoke it instead.";
  const auto* flow = cfg.find_flow(r.flow);
  if (!flow || !is_approver(cfg, *flow, who.user))
    return "You are not an approver of access flow '" + blocks::escape(r.flow) + "', so " +
           id_text(r.id) + " is not yours to decide.";
  if (r.state != status::pending) return already(r);
  return {};
}

}  // namespace

http::response app::on_interaction(const json::object& p) {
  const auto type = field(p, {"type"});
  const auto user = field(p, {"user", "id"});
  if (user.empty() && type != "view_closed")
    throw api_error(errc::invalid_argument, "the interaction payload has no 'user.id'");
  if (type == "block_suggestion") {
    auto id = who(user);
    json::array options;
    const auto* view = object_at(p, "view");
    if (id.who && view && field(p, {"action_id"}) == "resources")
      options =
          suggest_resources(*config_.get(), id.who->user, read_form(*view), field(p, {"value"}));
    return api::json_response(200, json::object{{"options", std::move(options)}});
  }
  if (type == "view_submission") {
    const auto* view = object_at(p, "view");
    if (!view) throw api_error(errc::invalid_argument, "a view_submission needs a 'view'");
    const auto callback = field(*view, {"callback_id"});
    if (callback == request_form_callback) {
      auto id = who(user);
      if (!id.who) {
        const auto st = read_form(*view);
        return errors_answer(form_errors(st, id.refusal));
      }
      return on_form_submission(p, *id.who);
    }
    return on_modal_submission(p, callback);
  }
  if (type != "block_actions") return empty_ack();  // view_closed, shortcuts: nothing to do

  auto acts = p.find("actions");
  if (acts == p.end() || !acts->value().is_array() || acts->value().get_array().empty() ||
      !acts->value().get_array()[0].is_object())
    throw api_error(errc::invalid_argument, "block_actions needs a non-empty 'actions' list");
  const auto& act = acts->value().get_array()[0].get_object();
  const auto action_id = field(act, {"action_id"});
  if (const auto* view = object_at(p, "view");
      view && field(*view, {"callback_id"}) == request_form_callback) {
    later([this, p] { on_form_change(p); });
    return empty_ack();
  }
  for (auto known :
       {action::approve, action::reject, action::details, action::revoke, action::request_again}) {
    if (action_id != known) continue;
    const auto value = field(act, {"value"});
    if (!common::parse_request_id(value))
      throw api_error(errc::invalid_argument, "the button's value is not a request id");
    reply_to to{user, field(p, {"channel", "id"}), field(p, {"response_url"})};
    if (to.channel.empty()) to.channel = field(p, {"container", "channel_id"});
    later([this, known, value, to, trigger = field(p, {"trigger_id"})] {
      on_button(known, value, to, trigger);
    });
    return empty_ack();
  }
  return empty_ack();  // a link button or an element that needs no answer
}

void app::on_form_change(const json::object& p) {
  const auto user = field(p, {"user", "id"});
  const auto* view = object_at(p, "view");
  auto id = who(user);
  if (!id.who || !view) return;
  auto next = build_form(*config_.get(), id.who->user, read_form(*view));
  json::object args{{"view_id", field(*view, {"id"})}, {"view", std::move(next)}};
  // The hash makes Slack refuse an update computed from a state that has moved on since.
  if (auto h = field(*view, {"hash"}); !h.empty()) args["hash"] = h;
  auto r = call("views.update", args);
  if (!r.ok && r.error != "hash_conflict")
    spdlog::warn("slack: the request form of {} was not updated: {}", user, r.error);
}

http::response app::on_form_submission(const json::object& p, const caller& who) {
  const auto& view = *object_at(p, "view");
  const auto st = read_form(view);
  create_input in;
  try {
    in = to_input(st);
    in.dry_run = true;
    (void)service_.create(who, in);  // the API's dry run: the same checks, nothing stored
  } catch (const api_error& e) {
    return errors_answer(form_errors(st, e.what()));
  }
  in.dry_run = false;
  const reply_to to{field(p, {"user", "id"}), st.channel, {}};
  later([this, who, in, st, to] {
    try {
      auto r = service_.create(who, in);
      tell(to, created_message(r, repeat_command(st)));
    } catch (const api_error& e) {
      tell(to, ephemeral(":warning: The request was not created: " + blocks::escape(e.what())));
    }
  });
  return empty_ack();
}

http::response app::on_modal_submission(const json::object& p, std::string_view callback) {
  const auto& view = *object_at(p, "view");
  const auto meta = read_meta(view);
  const auto rid = common::parse_request_id(meta.request_id);
  if (callback != reject_callback && callback != again_callback) return empty_ack();
  if (!rid) throw api_error(errc::invalid_argument, "the modal carries no request id");
  const reply_to to{field(p, {"user", "id"}), meta.channel, {}};
  auto id = who(to.user);
  if (!id.who) {
    later([this, to, refusal = id.refusal] { tell(to, ephemeral(refusal)); });
    return empty_ack();
  }
  const caller c = *id.who;
  if (callback == reject_callback) {
    auto reason = input_value(view, "reason");
    if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
      return errors_answer(json::object{{"reason", "A reason is required to reject a request."}});
    later([this, c, rid, reason, to] { decide(action::reject, c, *rid, reason, to); });
    return empty_ack();
  }
  // Request again: checked like the API's dry run before the modal closes.
  const auto justification = input_value(view, "justification");
  const auto duration_text = input_value(view, "duration");
  std::optional<std::chrono::seconds> duration;
  if (!duration_text.empty()) {
    duration = common::parse_duration(duration_text);
    if (!duration)
      return errors_answer(
          json::object{{"duration", "Invalid duration '" + blocks::truncate(duration_text, 64) +
                                        "': use hours (0.75) or 90s, 45m, 1h30m."}});
  }
  if (justification.find_first_not_of(" \t\r\n") == std::string::npos)
    return errors_answer(json::object{{"justification", "A new justification is required."}});
  try {
    (void)service_.request_again(c, *rid, justification, duration, /*dry_run=*/true);
  } catch (const api_error& e) {
    std::string msg = e.what();
    return errors_answer(
        json::object{{msg.find("duration") != std::string::npos ? "duration" : "justification",
                      blocks::truncate(msg, 2000)}});
  }
  later([this, c, rid, justification, duration, to] {
    try {
      auto r = service_.request_again(c, *rid, justification, duration);
      form_state st;
      st.bundle_mode = !r.bundle.empty();
      st.bundle = r.bundle;
      st.integration = r.integration;
      st.resource_type = r.resource_type;
      for (const auto& u : r.units) {
        if (std::find(st.resources.begin(), st.resources.end(), u.resource) == st.resources.end())
          st.resources.push_back(u.resource);
        if (std::find(st.permissions.begin(), st.permissions.end(), u.permission) ==
            st.permissions.end())
          st.permissions.push_back(u.permission);
      }
      st.justification = justification;
      st.duration = common::format_duration(r.duration);
      tell(to, created_message(r, repeat_command(st)));
    } catch (const api_error& e) {
      tell(to, ephemeral(":warning: The request was not created: " + blocks::escape(e.what())));
    }
  });
  return empty_ack();
}

void app::open_modal(const std::string& trigger_id, const json::object& view, const reply_to& to) {
  auto r = call("views.open", json::object{{"trigger_id", trigger_id}, {"view", view}});
  if (!r.ok)
    tell(to, ephemeral(":warning: The dialog could not be opened (" + r.error +
                       "); click the button again."));
}

void app::on_button(std::string_view action, const std::string& request_id, const reply_to& to,
                    const std::string& trigger_id) {
  auto id = who(to.user);
  if (!id.who) return tell(to, ephemeral(id.refusal));
  const caller& c = *id.who;
  const auto rid = *common::parse_request_id(request_id);
  const auto cfg = config_.get();
  common::access_request r;
  try {
    r = service_.get(c, rid);
  } catch (const api_error& e) {
    if (e.code() != errc::not_found) throw;
    // Someone who may not see it may not act on it either; say so without telling more.
    const bool decision = action == action::approve || action == action::reject;
    return tell(to, ephemeral(decision ? "You are not an approver of " + id_text(rid) +
                                             "'s access flow; nothing changed."
                                       : id_text(rid) + " is not one of your requests."));
  }
  if (action == action::approve || action == action::reject) {
    if (auto why = decision_refusal(*cfg, c, r, action); !why.empty())
      return tell(to, ephemeral(":no_entry: " + why));
    // Flows have no setting that asks an approver for a reason, so Approve decides at once;
    // Reject always asks, since the requester is owed one.
    if (action == action::approve) return decide(action, c, rid, {}, to);
    return open_modal(trigger_id, reject_modal(r, to.channel), to);
  }
  if (action == action::details) {
    if (r.requester != c.user)
      return tell(to, ephemeral(":no_entry: Access details are shown only to the requester."));
    if (r.state != status::active)
      return tell(to, ephemeral(id_text(rid) + " is " + std::string(common::to_string(r.state)) +
                                "; access details exist only while it is ACTIVE."));
    common::access_details d;
    bool cloud = false;
    for (const auto& u : r.units)
      if (const auto* integ = cfg->find_integration(u.integration))
        cloud = cloud || integ->type == "aws" || integ->type == "kubernetes";
    if (cloud) {
      // Cloud credentials are made at the target on each fetch: the CLI fetches its own, and
      // the modal shows where they are for.
      d.request_id = id_text(rid);
      d.ends_at = r.ends_at.value_or(clock_.now());
      for (const auto& u : r.units) {
        common::unit_credentials x;
        x.integration = u.integration;
        x.resource = u.resource;
        x.permission = u.permission;
        if (const auto* integ = cfg->find_integration(u.integration)) {
          x.type = integ->type;
          x.region = integ->type == "aws" ? integ->region : "";
          x.server = integ->type == "kubernetes" ? integ->endpoint : "";
        }
        d.units.push_back(std::move(x));
      }
    } else {
      try {
        d = service_.access_details(c, rid);
      } catch (const api_error& e) {
        return tell(to, ephemeral(":warning: " + blocks::escape(e.what())));
      }
    }
    return open_modal(trigger_id, details_modal(r, d), to);
  }
  if (action == action::revoke) {
    if (common::is_final(r.state) || r.state == status::revoking)
      return tell(to, ephemeral(id_text(rid) + " is already " +
                                std::string(common::to_string(r.state)) + "; nothing to revoke."));
    if (!c.admin && r.requester != c.user) {
      const auto* flow = cfg->find_flow(r.flow);
      if (!flow || !is_approver(*cfg, *flow, c.user))
        return tell(to, ephemeral(":no_entry: Only the requester, an approver or an admin may "
                                  "revoke " +
                                  id_text(rid) + "."));
    }
    // The button asks Slack's own confirmation before the click reaches us.
    try {
      auto done = service_.revoke(c, rid, "revoked from Slack by " + c.user);
      return tell(
          to, ephemeral(":octagonal_sign: " + id_text(done.id) + " is " +
                        std::string(common::to_string(done.state)) + ": access is being removed."));
    } catch (const api_error& e) {
      return tell(to, ephemeral(":warning: " + blocks::escape(e.what()) + "; nothing changed."));
    }
  }
  // Request again.
  if (r.requester != c.user)
    return tell(to,
                ephemeral(":no_entry: Only the requester may request " + id_text(rid) + " again."));
  if (r.state != status::expired && r.state != status::revoked && r.state != status::rejected &&
      r.state != status::failed)
    return tell(to, ephemeral(id_text(rid) + " is " + std::string(common::to_string(r.state)) +
                              "; request it again once it has ended."));
  open_modal(trigger_id, again_modal(r, to.channel), to);
}

void app::decide(std::string_view action, const caller& who, std::int64_t id,
                 const std::string& reason, const reply_to& to) {
  try {
    auto r =
        action == action::approve ? service_.approve(who, id) : service_.reject(who, id, reason);
    tell(to, ephemeral(action == action::approve
                           ? ":white_check_mark: You approved " + id_text(id) + " for " +
                                 blocks::escape(r.requester) + "; access is being granted."
                           : ":x: You rejected " + id_text(id) + " for " +
                                 blocks::escape(r.requester) + ": " + blocks::escape(reason)));
  } catch (const api_error& e) {
    // Another approver may have decided between the check and now: say who.
    std::string why = blocks::escape(e.what());
    try {
      auto now = service_.get(who, id);
      if (now.state != status::pending) why = already(now);
    } catch (const api_error&) {
    }
    tell(to, ephemeral(":no_entry: " + why));
  }
}

}  // namespace apono::broker::slack
