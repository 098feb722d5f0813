// Runs apono with stdout and stderr captured separately (through files: no pipe deadlock).
#include "tests/support/cli_fixture.hpp"

#include "common/secrets.hpp"

namespace apono::test {

cli_fixture::cli_fixture() {
  std::filesystem::create_directories(home_.path / "config");
}

std::map<std::string, std::string> cli_fixture::env() const {
  return {{"XDG_CONFIG_HOME", (home_.path / "config").string()},
          {"HOME", home_.path.string()},
          {"NO_COLOR", "1"}};
}

cli_result cli_fixture::apono(const std::vector<std::string>& args, const std::string& input,
                              const std::map<std::string, std::string>& extra) const {
  auto e = env();
  for (const auto& [k, v] : extra) e[k] = v;
  auto err_file = home_.path / ("stderr." + common::random_lower_alnum(8));
  // sh only redirects stderr to a file; stdout comes back through run()'s pipe.
  std::string cmd = "exec \"$0\" \"$@\" 2>" + err_file.string();
  std::vector<std::string> argv{"sh", "-c", cmd, APONO_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, input, e, std::chrono::seconds{60});
  cli_result out{r.status, r.output, {}};
  try {
    out.err = common::read_file(err_file);
  } catch (const std::exception&) {
  }
  std::filesystem::remove(err_file);
  return out;
}

}  // namespace apono::test
