// PostgreSQL provisioner: login roles with VALID UNTIL, permission SQL, and clean removal.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/provision/provisioner.hpp"

namespace apono::broker {

/// Grants by creating a login role and running the permission's SQL in the resource database;
/// revokes by terminating the role's backends, dropping what it owns and dropping the role.
class postgres_provisioner final : public provisioner {
 public:
  postgres_provisioner();
  ~postgres_provisioner() override;
  void grant(const provision_unit& u) override;
  void revoke(const provision_unit& u) override;
  void reset(const provision_unit& u) override;
  void check(const integration_config& integration) override;

 private:
  struct pool;
  std::unique_ptr<pool> pool_;
};

}  // namespace apono::broker
