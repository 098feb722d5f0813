// Runs the checker script on one message.
#include "tests/support/adaptive_card_check.hpp"

#include <boost/json.hpp>

#include <stdexcept>

#include "tests/support/process.hpp"

namespace apono::test {

boost::json::object adaptive_card_check(const std::string& message) {
  const std::filesystem::path source(APONO_SOURCE_DIR);
  auto r = run({"node", (source / "tests/support/adaptive_card_check.mjs").string()}, message,
               {{"APONO_WEB_DIR", (source / "web").string()}});
  if (r.status != 0) throw std::runtime_error("adaptive_card_check.mjs failed:\n" + r.output);
  boost::system::error_code ec;
  auto v = boost::json::parse(r.output, ec);
  if (ec || !v.is_object())
    throw std::runtime_error("adaptive_card_check.mjs printed no JSON:\n" + r.output);
  return std::move(v.as_object());
}

}  // namespace apono::test
