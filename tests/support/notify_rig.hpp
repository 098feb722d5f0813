// What the notification unit tests share: the access config their requests live in (users, a
// group of approvers, a PostgreSQL integration, a manual access flow) and a channel that records
// what it is asked to send. Header only: the test support library does not link the broker.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "broker/notify/channel.hpp"

namespace apono::test {

/// The shared config followed by a `notifications:` section made of `notifications` (its
/// lines, indented by two). alice requests `write` on pg/appdb; carol and the group
/// `approvers` (approver and alice) approve.
inline std::string notify_config_yaml(const std::string& notifications) {
  return R"(users:
  - name: alice
  - name: approver
  - name: carol
groups:
  - name: approvers
    members: [approver, alice]
integrations:
  - id: pg
    type: postgresql
    admin_url: postgresql://postgres@127.0.0.1:5432/postgres
    resources: [appdb]
access_flows:
  - name: write
    requestors: {users: [alice]}
    targets: [{integration: pg, resources: ["*"], permissions: [read_write]}]
    approval: manual
    approvers: {users: [carol], groups: [approvers]}
notifications:
)" + notifications;
}

/// A `webhook` channel that records every attempt and answers as `answer` says (204 when it is
/// empty). Thread-safe; read `seen` when no dispatcher runs.
struct recording_channel final : broker::notify::channel {
  [[nodiscard]] std::string_view name() const override { return "webhook"; }
  [[nodiscard]] broker::notify::attempt_result attempt(
      const broker::delivery& d, const broker::notify::notifications_config&) override {
    std::lock_guard lock(mutex);
    seen.push_back(d);
    if (answer) return answer(d);
    return {broker::notify::attempt_result::outcome::delivered, 204, {}, {}};
  }
  std::function<broker::notify::attempt_result(const broker::delivery&)> answer;  ///< or 204
  std::vector<broker::delivery> seen;  ///< every attempt, in order
  std::mutex mutex;                    ///< guards seen during attempts
};

}  // namespace apono::test
