// The audience of each event and the people it comes to.
#include "broker/notify/recipients.hpp"

#include <algorithm>
#include <utility>

namespace apono::broker::notify {

namespace {

// Event types that address people. request.reminder and request.expiring_soon come from a timer
// (docs/notifications.md); an event not listed goes to nobody by email.
constexpr std::pair<std::string_view, audience> audiences[] = {
    {"request.pending_approval", audience::approvers},
    {"request.reminder", audience::approvers},
    {"request.approved", audience::requester},
    {"request.rejected", audience::requester},
    {"request.active", audience::requester},
    {"request.expiring_soon", audience::requester},
    {"request.expired", audience::requester},
    {"request.revoked", audience::requester},
    {"request.failed", audience::requester},
    {"notification.test", audience::asker},
};

}  // namespace

audience audience_of(std::string_view type) {
  for (const auto& [t, a] : audiences)
    if (t == type) return a;
  return audience::nobody;
}

std::vector<std::string> approvers_of(const common::access_request& r, const config& cfg) {
  std::vector<std::string> names;
  const auto* f = cfg.find_flow(r.flow);
  if (!f || f->automatic) return names;
  auto add = [&](const std::string& u) {
    if (u != r.requester && std::find(names.begin(), names.end(), u) == names.end())
      names.push_back(u);
  };
  for (const auto& u : f->approvers.users) add(u);
  for (const auto& g : f->approvers.groups)
    for (const auto& grp : cfg.groups)
      if (grp.name == g)
        for (const auto& m : grp.members) add(m);
  return names;
}

std::vector<std::string> recipients_of(std::string_view type, const audit_event& ev,
                                       const common::access_request* r, const config& cfg) {
  std::vector<std::string> out;
  switch (audience_of(type)) {
    case audience::nobody:
    case audience::asker:  // made by the test itself, never by the fan-out
      return out;
    case audience::requester:
      if (r) out.push_back(r->requester);
      break;
    case audience::approvers:
      if (r) out = approvers_of(*r, cfg);
      break;
  }
  // An automatic flow's approval is the flow's act, though its audit event (the creation) is
  // the requester's.
  const bool automatic = type == "request.approved" && ev.action == "request.created";
  if (!automatic) std::erase(out, ev.actor);
  return out;
}

std::vector<std::string> chat_recipients_of(std::string_view type, const audit_event& ev,
                                            const common::access_request* r, const config& cfg) {
  std::vector<std::string> out;
  if (!r) return out;
  if (type == "request.pending_approval" || type == "request.reminder")
    return approvers_of(*r, cfg);
  if (type != "request.created" && audience_of(type) != audience::requester) return out;
  out.push_back(r->requester);
  // The decisions that end a wait for approval: every approver's copy shows the outcome.
  const bool decided_pending =
      type == "request.approved" || type == "request.rejected" ||
      (type == "request.failed" && ev.action == "request.pending_timeout") ||
      (type == "request.revoked" && ev.status == "REVOKED");
  if (decided_pending && ev.action != "request.created")
    for (auto& a : approvers_of(*r, cfg)) out.push_back(std::move(a));
  return out;
}

std::string recipient_endpoint(std::string_view endpoint, std::string_view user) {
  std::string out(endpoint);
  out.append(":").append(user);
  return out;
}

endpoint_key split_endpoint(std::string_view stored) {
  // Endpoint names are a-z, 0-9, - and _: the first ':' ends one.
  const auto colon = stored.find(':');
  if (colon == std::string_view::npos) return {std::string(stored), {}};
  return {std::string(stored.substr(0, colon)), std::string(stored.substr(colon + 1))};
}

}  // namespace apono::broker::notify
