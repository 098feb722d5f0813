// The dispatch: lifecycle first, then ping, tools/list and tools/call; notifications are
// never answered; a cancelled call gets no answer at all.
#include "cli/mcp/server.hpp"

#include <boost/json.hpp>

#include <atomic>

#include "cli/mcp/jsonrpc.hpp"

namespace apono::cli::mcp {

namespace json = boost::json;
using namespace std::chrono_literals;

/// A request being served on its own thread.
struct server::call {
  json::value id;
  cancel_token cancel;
  std::thread thread;
  std::atomic<bool> done{false};
};

/// One of our requests to the client, waiting for its answer.
struct server::pending {
  std::optional<json::object> answer;  // the whole response
};

server::server(const global_options& g, server_settings settings, const tool_registry& tools,
               grant_sessions& sessions, stdio_transport& transport,
               std::function<void(const std::string&)> log, query_hint_source hints)
    : g_(g),
      settings_(settings),
      tools_(tools),
      sessions_(sessions),
      transport_(transport),
      log_(std::move(log)),
      hints_(std::move(hints)) {}

server::~server() {
  reap(true);
}

void server::send(const json::value& m) {
  (void)transport_.send(m);
}

int server::run() {
  std::string line;
  bool too_long = false;
  while (transport_.read_line(line, too_long)) {
    if (too_long) {
      send(make_error(nullptr, errc::parse_error, "Parse error: the line is longer than 8 MiB"));
      continue;
    }
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    handle_line(line);
    reap(false);
  }
  log_("the client closed the input: shutting down");
  // Calls already running may still answer (a client may close its input right after its
  // last request), for a short while; then they are cancelled.
  const auto grace = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    bool busy = false;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [k, c] : calls_) busy = busy || !c->done;
    }
    if (!busy || std::chrono::steady_clock::now() >= grace) break;
    std::this_thread::sleep_for(20ms);
  }
  reap(true);
  return 0;
}

void server::handle_line(const std::string& line) {
  boost::system::error_code ec;
  json::value m = json::parse(line, ec);
  if (ec) {
    send(make_error(nullptr, errc::parse_error, "Parse error: " + ec.message()));
    return;
  }
  std::string why;
  switch (classify(m, why)) {
    case message_kind::request:
      return on_request(m.as_object());
    case message_kind::notification:
      return on_notification(m.as_object());
    case message_kind::response:
      return on_response(m.as_object());
    case message_kind::invalid: {
      // Answer with the id when there is a usable one, so the sender can match it.
      json::value id = nullptr;
      if (m.is_object())
        if (const auto* i = m.as_object().if_contains("id"); i && (i->is_string() || i->is_int64()))
          id = *i;
      send(make_error(id, errc::invalid_request, "Invalid Request: " + why));
      return;
    }
  }
}

void server::on_request(const json::object& m) {
  const auto& id = m.at("id");
  const std::string method(m.at("method").as_string());
  static const json::object no_params;
  const auto* p = m.if_contains("params");
  const json::object& params = p ? p->as_object() : no_params;

  if (method == "ping") return send(make_result(id, {}));
  if (method == "initialize") {
    std::lock_guard lock(mutex_);
    if (client_) {
      send(make_error(id, errc::invalid_request, "Invalid Request: already initialized"));
      return;
    }
    std::string requested;
    if (const auto* v = params.if_contains("protocolVersion"); v && v->is_string())
      requested = std::string(v->get_string());
    client_ = read_client(params, negotiate_version(requested));
    log_("client " + (client_->name.empty() ? std::string("(unnamed)") : client_->name) +
         " asked for revision " + (requested.empty() ? std::string("(none)") : requested) +
         ", speaking " + client_->version +
         (client_->elicitation ? " with elicitation" : " without elicitation"));
    send(make_result(id, initialize_result(*client_)));
    return;
  }
  if (method == "tools/list" || method == "tools/call") {
    {
      std::lock_guard lock(mutex_);
      if (!client_) {
        send(make_error(id, errc::invalid_request,
                        "Invalid Request: send initialize before " + method));
        return;
      }
    }
    if (method == "tools/list") return start(id, [this](call& c) { list_tools(c); });
    json::object copy = params;
    return start(id, [this, copy](call& c) { run_tool(c, copy); });
  }
  send(make_error(id, errc::method_not_found, "Method not found: " + method));
}

void server::on_notification(const json::object& m) {
  const std::string method(m.at("method").as_string());
  if (method == "notifications/initialized") {
    std::lock_guard lock(mutex_);
    initialized_ = true;
    return;
  }
  if (method == "notifications/cancelled") {
    const auto* p = m.if_contains("params");
    if (!p) return;
    const auto* rid = p->as_object().if_contains("requestId");
    if (!rid) return;
    std::lock_guard lock(mutex_);
    if (auto it = calls_.find(json::serialize(*rid)); it != calls_.end()) {
      it->second->cancel.cancel();
      log_("request " + it->first + " cancelled by the client");
    }
    answered_.notify_all();
    return;
  }
  // Other notifications (roots changed, progress of ours...) need nothing from us.
}

void server::on_response(const json::object& m) {
  const auto& id = m.at("id");
  if (!id.is_string()) return;
  std::lock_guard lock(mutex_);
  if (auto it = pending_.find(std::string(id.get_string())); it != pending_.end()) {
    it->second->answer = m;
    answered_.notify_all();
  }
}

void server::start(const json::value& id, std::function<void(call&)> work) {
  auto c = std::make_shared<call>();
  c->id = id;
  const auto key = json::serialize(id);
  std::lock_guard lock(mutex_);
  if (calls_.contains(key)) {
    send(make_error(id, errc::invalid_request, "Invalid Request: id " + key + " is in use"));
    return;
  }
  calls_[key] = c;
  c->thread = std::thread([c, work = std::move(work)] {
    work(*c);
    c->done = true;
  });
}

void server::reap(bool all) {
  std::vector<std::shared_ptr<call>> finished;
  {
    std::lock_guard lock(mutex_);
    if (all) shutting_down_ = true;
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (all) it->second->cancel.cancel();
      if (all || it->second->done) {
        finished.push_back(it->second);
        it = calls_.erase(it);
      } else {
        ++it;
      }
    }
    answered_.notify_all();
  }
  for (auto& c : finished)
    if (c->thread.joinable()) c->thread.join();
}

void server::list_tools(call& c) {
  std::optional<bool> read_only = hints_ ? hints_(g_) : std::nullopt;
  std::string version;
  {
    std::lock_guard lock(mutex_);
    version = client_->version;
    listed_hint_ = read_only;
    listed_ = true;
  }
  auto list = tools_.list(version, [&](const std::string& name, json::object& a) {
    if (name != "query_database") return;
    const bool ro = read_only.value_or(false);
    a["readOnlyHint"] = ro;
    a["destructiveHint"] = !ro;
  });
  if (!c.cancel.cancelled()) send(make_result(c.id, {{"tools", std::move(list)}}));
}

// Sent before the answer of the call that changed it, so a client reading in order lists
// again with the new hints before it acts on the answer.
void server::check_hints() {
  {
    std::lock_guard lock(mutex_);
    if (!listed_ || !hints_) return;
  }
  auto now = hints_(g_);
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = now != listed_hint_;
    if (changed) listed_hint_ = now;
  }
  if (changed) send(make_notification("notifications/tools/list_changed", {}));
}

elicit_answer server::elicit(const cancel_token& cancel, const std::string& message,
                             const json::object& schema) {
  auto p = std::make_shared<pending>();
  std::string id;
  std::string version;
  {
    std::lock_guard lock(mutex_);
    id = "apono-" + std::to_string(next_id_++);
    pending_[id] = p;
    version = client_->version;
  }
  json::object params{{"message", message}, {"requestedSchema", schema}};
  if (version >= std::string_view("2025-11-25")) params["mode"] = "form";
  send(make_request(id, "elicitation/create", std::move(params)));
  std::unique_lock lock(mutex_);
  // A person reads the form: no deadline but the client's own, cancellation and shutdown.
  answered_.wait(lock, [&] { return p->answer || cancel.cancelled() || shutting_down_; });
  pending_.erase(id);
  if (!p->answer) throw std::runtime_error("the call was cancelled while asking the user");
  const auto& a = *p->answer;
  if (const auto* e = a.if_contains("error")) {
    std::string msg;
    if (e->is_object())
      if (const auto* mm = e->as_object().if_contains("message"); mm && mm->is_string())
        msg = std::string(mm->get_string());
    throw std::runtime_error("the client could not ask the user: " + msg);
  }
  elicit_answer out;
  if (const auto* r = a.if_contains("result"); r && r->is_object()) {
    const auto& ro = r->as_object();
    if (const auto* act = ro.if_contains("action"); act && act->is_string())
      out.action = std::string(act->get_string());
    if (const auto* ct = ro.if_contains("content"); ct && ct->is_object())
      out.content = ct->as_object();
  }
  if (out.action != "accept" && out.action != "decline" && out.action != "cancel")
    throw std::runtime_error("the client answered the confirmation without an action");
  return out;
}

void server::run_tool(call& c, const json::object& params) {
  const auto* name = params.if_contains("name");
  if (!name || !name->is_string()) {
    send(make_error(c.id, errc::invalid_params, "Invalid params: tools/call needs a tool name"));
    return;
  }
  const tool* t = tools_.find(std::string(name->get_string()));
  if (!t) {
    send(
        make_error(c.id, errc::invalid_params, "Unknown tool: " + std::string(name->get_string())));
    return;
  }
  json::object args;
  if (const auto* a = params.if_contains("arguments"); a && !a->is_null()) {
    if (!a->is_object()) {
      send(make_error(c.id, errc::invalid_params,
                      "Invalid params: \"arguments\" must be an object"));
      return;
    }
    args = a->as_object();
  }
  json::value token = nullptr;
  if (const auto* meta = params.if_contains("_meta"); meta && meta->is_object())
    if (const auto* pt = meta->as_object().if_contains("progressToken");
        pt && (pt->is_string() || pt->is_int64()))
      token = *pt;
  client_info client;
  {
    std::lock_guard lock(mutex_);
    client = *client_;
  }
  tool_context ctx{g_, settings_, sessions_, c.cancel, {}, {}, log_};
  double last = -1;
  ctx.progress = [&, token](double progress, std::optional<double> total,
                            const std::string& message) {
    // The spec wants progress to grow with every notification.
    if (token.is_null() || progress <= last || c.cancel.cancelled()) return;
    last = progress;
    json::object p{{"progressToken", token}, {"progress", progress}};
    if (total) p["total"] = *total;
    if (!message.empty()) p["message"] = message;
    send(make_notification("notifications/progress", std::move(p)));
  };
  if (client.elicitation)
    ctx.elicit = [this, &c](const std::string& message, const json::object& schema) {
      return elicit(c.cancel, message, schema);
    };
  log_("tools/call " + t->name);
  auto result = tools_.call(*t, args, ctx, client.version);
  if (c.cancel.cancelled()) {
    // The spec: a cancelled request gets no answer.
    log_("tools/call " + t->name + " ended after its cancellation; no answer sent");
    return;
  }
  check_hints();
  send(make_result(c.id, std::move(result)));
}

}  // namespace apono::cli::mcp
