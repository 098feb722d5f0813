// The email channel: each delivery is one person's (`email:<user>`), sent to the address of that
// user in the broker's config through the configured SMTP server. The message is built from the
// stored body at each attempt with the same Message-ID, boundary and Date, so a retry is the same
// mail. A user with no address, or no longer in the config, is not retried: the delivery is dead
// at once with the reason, which admins see in its last_error.
#pragma once

#include "broker/config_holder.hpp"
#include "broker/notify/channel.hpp"

namespace apono::broker::notify {

/// The email channel.
class email_channel final : public channel {
 public:
  /// Reads users' addresses from `cfg` at each attempt (a reload that adds one takes effect).
  explicit email_channel(config_holder& cfg) : config_(cfg) {}
  [[nodiscard]] std::string_view name() const override { return "email"; }
  [[nodiscard]] attempt_result attempt(const delivery& d, const notifications_config& cfg) override;

 private:
  config_holder& config_;
};

}  // namespace apono::broker::notify
