// The catalog the portal's accessibility suites run against (issue 15, must show 5): one
// PostgreSQL and one aponod per case, shared by the axe suites and the keyboard suite, each its
// own test file so each runs well within ctest's limit under a sanitizer build.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

namespace apono::test {

// A catalog with enough in it that the screens look as they do in use: more databases than the
// resource picker shows without a search box, and a second integration, so the form's first
// choices are really made rather than made for the user.
struct catalog_stack {
  pg_fixture pg;
  temp_dir dir{"apono-a11y-test"};
  std::unique_ptr<broker_fixture> b;

  catalog_stack() {
    // The dev catalog lists the target's databases; 9 of them plus postgres pass the picker's
    // threshold of 8 for a search box.
    for (const char* db : {"appdb", "billing", "inventory", "orders", "payments", "reports",
                           "sessions", "shipping", "users"})
      pg.psql(std::string("CREATE DATABASE ") + db);
    const auto extra = dir.path / "extra.yaml";
    std::ofstream(extra) << "integrations:\n"
                            "  - id: pg-reports\n"
                            "    name: Reporting PostgreSQL\n"
                            "    type: postgresql\n"
                            "    admin_url: \""
                         << pg.admin_url()
                         << "\"\n"
                            "    resources: [reports]\n"
                            "    permissions: {read_only: default}\n"
                            "access_flows:\n"
                            "  - name: engineers-reports\n"
                            "    requestors: {groups: [engineers]}\n"
                            "    targets:\n"
                            "      - {integration: pg-reports, resources: [\"*\"], "
                            "permissions: [\"*\"]}\n"
                            "    approval: automatic\n"
                            "    max_duration: 8h\n"
                            // The admin's catalog page lists what the admin may request.
                            "  - name: admins-read-only\n"
                            "    requestors: {users: [admin]}\n"
                            "    targets:\n"
                            "      - {integration: pg-local, resources: [\"*\"], "
                            "permissions: [read_only]}\n"
                            "      - {integration: pg-reports, resources: [\"*\"], "
                            "permissions: [read_only]}\n"
                            "    approval: automatic\n"
                            "    max_duration: 1h\n";
    b = std::make_unique<broker_fixture>(pg,
                                         std::vector<std::string>{"--dev-extra", extra.string()});
  }
};

}  // namespace apono::test
