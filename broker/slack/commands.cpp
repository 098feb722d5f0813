// `/apono request`, `/apono my requests`, `/apono help`: the slash command's subcommands.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "broker/api/json_body.hpp"
#include "broker/slack/app.hpp"
#include "broker/slack/blocks.hpp"
#include "broker/slack/request_form.hpp"
#include "broker/slack/views.hpp"
#include "common/error.hpp"

namespace apono::broker::slack {

namespace json = boost::json;

namespace {

// The words of the command, lower-cased and single-spaced: `My  Requests` is `my requests`.
std::string words(std::string_view text) {
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

}  // namespace

http::response app::on_command(const command& c) {
  const auto sub = words(c.text);
  if (sub.empty() || sub == "help") return api::json_response(200, help_message());
  if (sub == "request") {
    later([this, c] { open_form(c); });
    return http::response{200, "", "", {}};
  }
  if (sub == "my requests" || sub == "my-requests" || sub == "requests") {
    later([this, c] { my_requests(c); });
    return http::response{200, "", "", {}};
  }
  // A typo gets the help, and says what was not understood.
  return api::json_response(
      200, help_message("Unknown subcommand `" + blocks::escape(blocks::truncate(c.text, 100)) +
                        "`: try `/apono request`, `/apono my requests` or `/apono help`."));
}

void app::open_form(const command& c) {
  const reply_to to{c.user_id, c.channel_id, c.response_url};
  auto id = who(c.user_id);
  if (!id.who) return tell(to, ephemeral(id.refusal));
  form_state st;
  st.channel = c.channel_id;
  auto view = build_form(*config_.get(), id.who->user, st);
  auto r = call("views.open", json::object{{"trigger_id", c.trigger_id}, {"view", view}});
  if (!r.ok)
    tell(to, ephemeral(":warning: The form could not be opened (" + r.error +
                       "); try `/apono request` again."));
}

void app::my_requests(const command& c) {
  const reply_to to{c.user_id, c.channel_id, c.response_url};
  auto id = who(c.user_id);
  if (!id.who) return tell(to, ephemeral(id.refusal));
  page_query recent;
  recent.limit = 100;
  auto shown = service_.list(*id.who, list_scope::mine, 7, recent).requests;
  // Active grants made before the week still count: they are what the person holds now.
  page_query active;
  active.limit = 100;
  active.statuses = {common::status::active};
  for (auto& r : service_.list(*id.who, list_scope::mine, std::nullopt, active).requests)
    if (std::none_of(shown.begin(), shown.end(),
                     [&](const common::access_request& s) { return s.id == r.id; }))
      shown.push_back(std::move(r));
  // Active first (what matters now), then newest first.
  std::stable_sort(shown.begin(), shown.end(), [](const auto& a, const auto& b) {
    const bool aa = a.state == common::status::active, ba = b.state == common::status::active;
    if (aa != ba) return aa;
    return a.id > b.id;
  });
  tell(to, my_requests_message(shown, clock_.now()));
}

}  // namespace apono::broker::slack
