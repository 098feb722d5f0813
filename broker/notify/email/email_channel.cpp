// One email attempt: the recipient's address, the message, one SMTP exchange.
#include "broker/notify/email/email_channel.hpp"

#include <boost/json.hpp>

#include "broker/notify/email/message.hpp"
#include "broker/notify/email/smtp_client.hpp"
#include "broker/notify/notice.hpp"
#include "broker/notify/recipients.hpp"

namespace apono::broker::notify {

namespace {

std::string timestamp_of(const std::string& payload) {
  boost::system::error_code ec;
  auto v = boost::json::parse(payload, ec);
  if (ec || !v.is_object()) return {};
  auto* t = v.as_object().if_contains("timestamp");
  return t && t->is_string() ? std::string(t->as_string()) : std::string();
}

}  // namespace

attempt_result email_channel::attempt(const delivery& d, const notifications_config& cfg) {
  using outcome = attempt_result::outcome;
  const auto key = split_endpoint(d.endpoint);
  if (!cfg.email || cfg.email->name != key.endpoint)
    return {outcome::dropped, 0, "email is no longer configured", {}};
  if (key.recipient.empty())
    return {outcome::dropped, 0, "an email delivery names no recipient", {}};
  const auto all = config_.get();
  const auto* user = all->find_user(key.recipient);
  if (!user)
    return {outcome::dropped, 0, "user " + key.recipient + " is no longer in the config", {}};
  if (user->email.empty())
    return {outcome::dropped,
            0,
            "user " + key.recipient + " has no email address in the config (users: email)",
            {}};
  const auto& e = *cfg.email;
  email::envelope env{e.from,      e.from_address, user->name,
                      user->email, d.webhook_id,   timestamp_of(d.payload)};
  const auto message = email::build_message(make_notice(d.payload, cfg), env);
  email::smtp_options o{e.host, e.port,     e.tls,      e.ca_file,
                        e.helo, e.username, e.password, cfg.timeout};
  const auto sent = email::smtp_send(o, e.from_address, user->email, message);
  switch (sent.result) {
    case email::smtp_result::outcome::sent:
      return {outcome::delivered, 0, {}, {}};
    case email::smtp_result::outcome::permanent:
      return {outcome::dropped, 0, "to " + user->name + ": " + sent.error, {}};
    case email::smtp_result::outcome::temporary:
      break;
  }
  return {outcome::failed, 0, "to " + user->name + ": " + sent.error, {}};
}

}  // namespace apono::broker::notify
