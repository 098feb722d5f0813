// Who a notification is for, for the channels that address people (email, and Slack direct
// messages): the requester for their request's status changes, the approvers for a request that
// waits for them. One table, so an event added to the vocabulary is one line here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/config.hpp"
#include "broker/store/store.hpp"
#include "common/model.hpp"

namespace apono::broker::notify {

/// Whom an event type addresses.
enum class audience {
  nobody,     ///< not sent to people (request.created: the requester just made it; audit.*)
  requester,  ///< the person who asked for the access
  approvers,  ///< who may decide: the flow's approvers but the requester
  asker,      ///< the admin who asked for it (notification.test)
};

/// The audience of event `type` (request.*, notification.test, audit.*).
[[nodiscard]] audience audience_of(std::string_view type);

/// Who may approve `r`: its flow's approvers, users and group members, but the requester, in
/// config order, each once; empty for an automatic flow or an unknown one.
[[nodiscard]] std::vector<std::string> approvers_of(const common::access_request& r,
                                                    const config& cfg);

/// The user names event `type` from audit event `ev` about request `r` (null: none) goes to.
/// Nobody is told of their own action (a requester who withdraws their request).
[[nodiscard]] std::vector<std::string> recipients_of(std::string_view type, const audit_event& ev,
                                                     const common::access_request* r,
                                                     const config& cfg);

/// The user names a channel that follows each request in direct messages (Slack) sends event
/// `type` to: the requester for every status change of their request, their own included (a
/// thread follows the request from its creation), and the approvers for the request waiting
/// for them and for its decision (approved, rejected, withdrawn or timed out while pending), so
/// each approver's copy can show the outcome.
[[nodiscard]] std::vector<std::string> chat_recipients_of(std::string_view type,
                                                          const audit_event& ev,
                                                          const common::access_request* r,
                                                          const config& cfg);

/// The endpoint name of a delivery to `user` through endpoint `endpoint`: `email:alice`. Each
/// recipient has deliveries of their own, so a bad address holds back nobody else.
[[nodiscard]] std::string recipient_endpoint(std::string_view endpoint, std::string_view user);

/// `email:alice` split into its endpoint and recipient; the recipient is empty for an endpoint
/// that addresses no one (a webhook's name).
struct endpoint_key {
  std::string endpoint;   ///< the configured endpoint's name
  std::string recipient;  ///< the user, or empty
};
[[nodiscard]] endpoint_key split_endpoint(std::string_view stored);

}  // namespace apono::broker::notify
