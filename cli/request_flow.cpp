// Making a request: validate with a dry run so a mistake never leaves a stored request
// behind, create it, then watch it until the broker has an answer worth showing.
#include "cli/request_flow.hpp"

#include <unistd.h>

#include <boost/json.hpp>

#include <ostream>
#include <thread>

#include "cli/catalog.hpp"
#include "cli/output.hpp"
#include "common/duration.hpp"

namespace apono::cli {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// Draws on stderr only when a person watches it; erasing in the destructor keeps the line
// clean however the wait ends (answer, timeout or a thrown broker error).
class spinner {
 public:
  spinner(std::ostream& err, std::string message)
      : err_(err), message_(std::move(message)), enabled_(::isatty(2) == 1) {}
  ~spinner() {
    if (drawn_) err_ << "\r\033[K" << std::flush;
  }
  spinner(const spinner&) = delete;
  spinner& operator=(const spinner&) = delete;

  void tick() {
    if (!enabled_) return;
    static constexpr const char* frames[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
    err_ << "\r" << frames[frame_++ % std::size(frames)] << " " << message_ << std::flush;
    drawn_ = true;
  }

 private:
  std::ostream& err_;
  std::string message_;
  bool enabled_;
  bool drawn_ = false;
  std::size_t frame_ = 0;
};

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

std::string repeat_command(const request_spec& spec) {
  std::string cmd = "apono request";
  auto add = [&](std::string_view flag, const std::string& value) {
    cmd += " ";
    cmd += flag;
    cmd += " " + shell_quote(value);
  };
  if (!spec.bundle.empty()) {
    add("--bundle", spec.bundle);
  } else {
    add("-i", spec.integration);
    if (!spec.resource_type.empty()) add("-t", spec.resource_type);
    for (const auto& r : spec.resources) add("-r", r);
    for (const auto& p : spec.permissions) add("-p", p);
  }
  add("-j", spec.justification);
  if (!spec.duration.empty()) add("-d", spec.duration);
  return cmd;
}

json::value wait_for_request(api_client& api, const std::string& id,
                             const std::function<bool(const std::string&)>& done,
                             const std::string& goal, std::chrono::seconds timeout, io& streams) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string target = "/api/v1/access-requests/" + url_encode(id);
  spinner spin(streams.err, "Waiting for " + id + " to " + goal + "...");
  for (;;) {
    auto r = api.get(target);
    if (done(text(r, "status")) || std::chrono::steady_clock::now() >= deadline) return r;
    // Two frames per poll: the spinner moves smoothly and the broker sees 5 calls a second.
    for (int i = 0; i < 2; ++i) {
      spin.tick();
      std::this_thread::sleep_for(100ms);
    }
  }
}

json::object request_body(api_client& api, const request_spec& spec) {
  json::object body;
  if (!spec.bundle.empty()) {
    body["bundle"] = spec.bundle;
  } else {
    // The broker takes ids only; people type names and type/name too.
    body["integration"] = text(find_integration(api, spec.integration), "id");
    if (!spec.resource_type.empty()) body["resource_type"] = spec.resource_type;
    body["resources"] = strings(spec.resources);
    body["permissions"] = strings(spec.permissions);
  }
  if (!spec.duration.empty()) body["duration"] = spec.duration;
  body["justification"] = spec.justification;
  return body;
}

json::value submit_request(api_client& api, const request_spec& spec, bool wait,
                           std::chrono::seconds timeout, io& streams) {
  json::object body = request_body(api, spec);
  body["dry_run"] = true;
  (void)api.post("/api/v1/access-requests", body);
  body["dry_run"] = false;
  auto created = api.post("/api/v1/access-requests", body);
  if (!wait || text(created, "status") != "GRANTING") return created;
  // Any status but GRANTING is an answer: ACTIVE, REJECTED, FAILED, PENDING (an approver must
  // act, which can take hours) or one already ended by someone else.
  return wait_for_request(
      api, text(created, "id"), [](const std::string& s) { return s != "GRANTING"; }, "be granted",
      timeout, streams);
}

void print_request_result(std::ostream& out, const json::value& request, const request_spec& spec) {
  auto line = [&](std::string_view label, const std::string& value) {
    std::string l(label);
    l += ":";
    l.resize(std::max<std::size_t>(l.size() + 1, 15), ' ');
    out << l << value << "\n";
  };
  const auto status = text(request, "status");
  line("ID", text(request, "id"));
  line("Status", status);
  // What the broker stored, not what was typed: names become ids, defaults become explicit.
  request_spec again = spec;
  if (!text(request, "bundle").empty()) {
    again.bundle = text(request, "bundle");
    line("Bundle", again.bundle);
  } else {
    if (!text(request, "integration").empty()) again.integration = text(request, "integration");
    if (again.resource_type.empty()) again.resource_type = text(request, "resource_type");
    line("Integration", again.integration);
    line("Resources", join(request.at("resources")));
    line("Permissions", join(request.at("permissions")));
  }
  line("Justification", text(request, "justification"));
  if (status == "PENDING") out << "Waiting for an approver.\n";
  if (auto reason = text(request, "reason"); !reason.empty()) line("Reason", reason);
  if (again.duration.empty())
    if (const auto* d = request.as_object().if_contains("duration_seconds");
        d && d->is_int64() && d->get_int64() > 0)
      again.duration = common::format_duration(std::chrono::seconds{d->get_int64()});
  out << "\n[notice] To request this access again, run: " << repeat_command(again) << "\n";
}

}  // namespace apono::cli
