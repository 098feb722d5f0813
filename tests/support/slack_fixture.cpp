// The Slack stand-in: the broker's HTTPS server with one handler that authenticates like Slack
// (the bot token first: `not_authed`, `invalid_auth`), then checks the arguments and Block Kit
// limits as Slack does, then changes the workspace's state (conversations, messages, modals)
// and records the call. Slack's side of the app (signed commands and interactions) posts to
// aponod with the common HTTP client.
#include "tests/support/slack_fixture.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "broker/http/server.hpp"
#include "broker/slack/request_check.hpp"
#include "broker/tls/certificates.hpp"
#include "common/http_client.hpp"
#include "common/secrets.hpp"
#include "tests/support/process.hpp"

namespace apono::test {
namespace {

namespace net = boost::asio;
namespace json = boost::json;
namespace http = broker::http;
using namespace std::chrono_literals;

constexpr auto trigger_lifetime = 3s;
constexpr int response_url_uses = 5;
constexpr std::size_t view_stack_limit = 3;

std::string upper_alnum(std::size_t n) {
  auto s = common::random_password(n);
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

json::object form_to_json(std::string_view body) {
  json::object o;
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    o[url_decode(pair.substr(0, eq))] = url_decode(pair.substr(eq + 1));
  }
  return o;
}

const std::string* header(const http::request& req, std::string_view name) {
  for (const auto& [n, v] : req.headers)
    if (n == name) return &v;
  return nullptr;
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// An error answer as Slack words it; Slack answers most of them with HTTP 200.
struct slack_error {
  std::string error;
  std::string detail{};  // response_metadata.messages[0]
  int status = 200;
};

// Methods that read their arguments from a form (or the query) only, as Slack's read methods
// do: a JSON body there is ignored.
bool form_only(std::string_view method) {
  return method == "users.info" || method == "users.lookupByEmail";
}

struct view_entry {
  json::object view;
  std::string user;
};

struct response_hook {
  std::string user;
  std::string channel;
  std::string message_ts;  // the message the interaction came from, if any
  int uses = 0;
};

}  // namespace

struct slack_fixture::impl {
  impl()
      : dir("apono-slack-fixture"),
        tls(broker::ensure_tls(dir.path / "tls", {"127.0.0.1"})),
        bot_token("xoxb-" + common::random_password(24)),
        signing_secret(common::hex(common::random_bytes(16))),
        server(ioc, {"127.0.0.1", 0, tls.server_cert, tls.server_key, 1024 * 1024},
               [this](http::request req) { return handle(this, std::move(req)); }),
        thread([this] { ioc.run(); }) {}

  ~impl() {
    server.stop();
    thread.join();
  }

  temp_dir dir;
  broker::tls_files tls;
  std::string bot_token;
  std::string signing_secret;
  std::filesystem::path aponod_ca;
  const std::string team_id = "T" + upper_alnum(8);
  const std::string bot_user = "U" + upper_alnum(8);

  mutable std::mutex mu;
  mutable std::condition_variable changed;
  std::vector<slack_call> log;
  std::vector<slack_user> users;
  std::map<std::string, std::vector<slack_message>> channels;   // by channel id
  std::map<std::string, common::time_point> triggers;           // unused trigger ids
  std::map<std::string, std::vector<std::string>> view_stacks;  // user -> view ids
  std::map<std::string, view_entry> views;                      // by view id
  std::map<std::string, response_hook> hooks;                   // by hook id
  std::vector<slack_fault> faults;
  long long ts_counter = 0;
  long long id_counter = 0;

  net::io_context ioc;
  http::server server;
  std::thread thread;  // last: it starts once everything it uses exists

  std::string url() const { return "https://127.0.0.1:" + std::to_string(server.port()); }

  static common::time_point now() {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }

  static net::awaitable<http::response> handle(impl* self, http::request req) {
    std::chrono::milliseconds delay{0};
    {
      std::lock_guard guard(self->mu);
      delay = self->fault_delay(req);
    }
    if (delay.count() > 0) {
      net::steady_timer t(co_await net::this_coro::executor, delay);
      boost::system::error_code ec;
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    co_return self->serve(req);
  }

  static std::string method_of(const http::request& req) {
    auto path = req.target.substr(0, req.target.find('?'));
    if (path.starts_with("/api/")) return path.substr(5);
    if (path.starts_with("/hooks/")) return "response_url";
    return {};
  }

  // The delay of the fault that will answer this call (the fault itself is taken in serve()).
  std::chrono::milliseconds fault_delay(const http::request& req) {
    const auto method = method_of(req);
    for (const auto& f : faults)
      if (f.count > 0 && (f.method.empty() || f.method == method)) return f.delay;
    return {};
  }

  std::optional<slack_fault> take_fault(const std::string& method) {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->count <= 0 || !(it->method.empty() || it->method == method)) continue;
      auto f = *it;
      if (--it->count == 0) faults.erase(it);
      return f;
    }
    return std::nullopt;
  }

  http::response serve(const http::request& req) {
    std::lock_guard guard(mu);
    slack_call call;
    call.at = now();
    call.method = method_of(req);
    const std::string content_type = req.content_type;
    if (content_type.starts_with("application/json")) {
      boost::system::error_code ec;
      auto v = json::parse(req.body, ec);
      if (!ec && v.is_object()) call.args = std::move(v.as_object());
    } else {
      call.args = form_to_json(req.body);
    }
    if (auto q = req.target.find('?'); q != std::string::npos)
      for (auto& [k, v] : form_to_json(std::string_view(req.target).substr(q + 1)))
        call.args[k] = v;
    if (const auto* auth = header(req, "authorization"); auth && auth->starts_with("Bearer "))
      call.token = auth->substr(7);

    http::response res;
    json::object answer;
    try {
      if (call.method.empty() || req.method != "POST") throw slack_error{"unknown_method", {}, 404};
      if (auto f = take_fault(call.method)) {
        if (f->http_status == 429) {
          res.status = 429;
          res.headers.emplace_back("Retry-After", std::to_string(f->retry_after.count()));
          throw slack_error{"ratelimited", {}, 429};
        }
        if (f->http_status != 200) throw slack_error{"internal_error", {}, f->http_status};
        if (!f->error.empty()) throw slack_error{f->error};
      }
      if (call.method == "response_url") {
        answer = response_url(req, call);
      } else {
        if (call.token.empty()) throw slack_error{"not_authed"};
        if (call.token != bot_token) throw slack_error{"invalid_auth"};
        if (content_type.starts_with("application/json") && form_only(call.method)) {
          // Slack reads these from the form only: the JSON body's arguments are not there.
          call.args = {};
        }
        if (content_type.starts_with("application/json") &&
            content_type.find("charset=utf-8") == std::string::npos)
          call.answer["warning"] = "missing_charset";
        answer = method(call.method, call.args);
      }
      answer["ok"] = true;
      res.status = 200;
    } catch (const slack_error& e) {
      answer = {{"ok", false}, {"error", e.error}};
      if (!e.detail.empty())
        answer["response_metadata"] = json::object{{"messages", json::array{e.detail}}};
      res.status = e.status;
      call.error = e.error;
    }
    res.body = json::serialize(answer);
    res.content_type = "application/json; charset=utf-8";
    call.http_status = res.status;
    call.answer = answer;
    log.push_back(std::move(call));
    changed.notify_all();
    return res;
  }

  std::string next_ts() {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch());
    // Slack's form: seconds, a dot, six digits that order messages within the second.
    auto seq = std::to_string(++ts_counter % 1000000);
    return std::to_string(s.count()) + "." + std::string(6 - seq.size(), '0') + seq;
  }

  const slack_user* user_by_id(const std::string& id) const {
    for (const auto& u : users)
      if (u.id == id) return &u;
    return nullptr;
  }

  static std::string dm_of(const std::string& user_id) { return "D" + user_id.substr(1); }

  // A channel argument as chat.postMessage takes it: a DM channel, or a user id (the app's DM
  // with them).
  std::string resolve_channel(const std::string& channel, bool user_ok) {
    if (channel.empty()) throw slack_error{"channel_not_found"};
    if (user_ok && (channel[0] == 'U' || channel[0] == 'W')) {
      if (!user_by_id(channel)) throw slack_error{"channel_not_found"};
      return dm_of(channel);
    }
    if (channel[0] == 'D') {
      for (const auto& u : users)
        if (dm_of(u.id) == channel) return channel;
      throw slack_error{"channel_not_found"};
    }
    // A public channel the bot was never invited to.
    throw slack_error{"not_in_channel"};
  }

  void check_message(const json::object& args) {
    const auto* blocks = args.if_contains("blocks");
    if (blocks) {
      json::array parsed;
      if (blocks->is_string()) {  // form-encoded calls send blocks as a JSON string
        boost::system::error_code ec;
        auto v = json::parse(blocks->as_string(), ec);
        if (ec || !v.is_array()) throw slack_error{"invalid_blocks_format"};
        parsed = v.as_array();
      } else if (blocks->is_array()) {
        parsed = blocks->as_array();
      } else {
        throw slack_error{"invalid_blocks_format"};
      }
      if (auto p = slack_block_problem(parsed, false)) throw slack_error{"invalid_blocks", *p};
    }
    const auto text = str(args, "text");
    if (text.empty() && !blocks) throw slack_error{"no_text"};
    if (text.size() > 40000) throw slack_error{"msg_too_long"};
  }

  static json::array blocks_of(const json::object& args) {
    const auto* b = args.if_contains("blocks");
    if (!b) return {};
    if (b->is_array()) return b->as_array();
    boost::system::error_code ec;
    auto v = json::parse(b->as_string(), ec);
    return !ec && v.is_array() ? v.as_array() : json::array{};
  }

  slack_message* find_message(const std::string& channel, const std::string& ts) {
    auto it = channels.find(channel);
    if (it == channels.end()) return nullptr;
    for (auto& m : it->second)
      if (m.ts == ts) return &m;
    return nullptr;
  }

  json::object view_answer(const std::string& id) {
    auto v = views.at(id).view;
    v["id"] = id;
    v["team_id"] = team_id;
    return {{"view", v}};
  }

  void take_trigger(const json::object& args) {
    const auto trigger = str(args, "trigger_id");
    auto it = triggers.find(trigger);
    if (trigger.empty() || it == triggers.end()) throw slack_error{"invalid_trigger_id"};
    const auto issued = it->second;
    triggers.erase(it);  // one use, whatever comes of it
    if (now() - issued > trigger_lifetime) throw slack_error{"expired_trigger_id"};
  }

  json::object view_arg(const json::object& args) {
    const auto* v = args.if_contains("view");
    json::value parsed;
    if (v && v->is_string()) {
      boost::system::error_code ec;
      parsed = json::parse(v->as_string(), ec);
      if (ec) throw slack_error{"invalid_arguments", "[ERROR] view is not JSON"};
    } else if (v) {
      parsed = *v;
    }
    if (!parsed.is_object()) throw slack_error{"invalid_arguments", "[ERROR] missing view"};
    if (auto p = slack_view_problem(parsed.as_object())) throw slack_error{"invalid_arguments", *p};
    return parsed.as_object();
  }

  std::string new_view(json::object view, const std::string& user) {
    const auto id = "V" + std::to_string(++id_counter) + upper_alnum(6);
    view["hash"] = std::to_string(id_counter) + "." + common::random_lower_alnum(8);
    views[id] = {std::move(view), user};
    return id;
  }

  json::object method(const std::string& m, const json::object& args) {
    if (m == "auth.test")
      return {{"url", "https://apono-test.slack.com/"},
              {"team", "Apono Test"},
              {"user", "apono"},
              {"team_id", team_id},
              {"user_id", bot_user},
              {"bot_id", "B" + bot_user.substr(1)}};
    if (m == "conversations.open") {
      auto who = str(args, "users");
      if (who.empty() || who.find(',') != std::string::npos)
        throw slack_error{"users_list_not_supplied"};
      if (!user_by_id(who)) throw slack_error{"user_not_found"};
      return {{"channel", json::object{{"id", dm_of(who)}}}};
    }
    if (m == "chat.postMessage") {
      const auto channel = resolve_channel(str(args, "channel"), true);
      check_message(args);
      slack_message msg;
      msg.channel = channel;
      msg.ts = next_ts();
      msg.text = str(args, "text");
      msg.blocks = blocks_of(args);
      if (auto parent_ts = str(args, "thread_ts"); !parent_ts.empty()) {
        auto* parent = find_message(channel, parent_ts);
        if (!parent) throw slack_error{"thread_not_found"};
        msg.thread_ts = parent->thread_ts.empty() ? parent_ts : parent->thread_ts;
      }
      channels[channel].push_back(msg);
      return {{"channel", channel},
              {"ts", msg.ts},
              {"message", json::object{{"text", msg.text}, {"ts", msg.ts}}}};
    }
    if (m == "chat.update") {
      const auto channel = str(args, "channel");
      if (channel.empty() || channel[0] != 'D') throw slack_error{"channel_not_found"};
      resolve_channel(channel, false);
      check_message(args);
      auto* msg = find_message(channel, str(args, "ts"));
      if (!msg || msg->ephemeral) throw slack_error{"message_not_found"};
      msg->text = str(args, "text");
      msg->blocks = blocks_of(args);
      ++msg->updates;
      return {{"channel", channel}, {"ts", msg->ts}, {"text", msg->text}};
    }
    if (m == "chat.postEphemeral") {
      const auto channel = resolve_channel(str(args, "channel"), true);
      const auto user = str(args, "user");
      if (!user_by_id(user)) throw slack_error{"user_not_found"};
      check_message(args);
      slack_message msg;
      msg.channel = channel;
      msg.ts = next_ts();
      msg.text = str(args, "text");
      msg.blocks = blocks_of(args);
      msg.ephemeral = true;
      msg.user = user;
      channels[channel].push_back(msg);
      return {{"message_ts", msg.ts}};
    }
    if (m == "views.open" || m == "views.push") {
      auto view = view_arg(args);
      take_trigger(args);
      // Whose modal: the user the trigger came from is not in the call; the stand-in keeps the
      // trigger's user in its id.
      const auto user = str(args, "trigger_id").substr(0, str(args, "trigger_id").find('.'));
      auto& stack = view_stacks[user];
      if (m == "views.push") {
        if (stack.empty()) throw slack_error{"not_found"};
        if (stack.size() >= view_stack_limit) throw slack_error{"push_limit_reached"};
      } else {
        stack.clear();
      }
      const auto id = new_view(std::move(view), user);
      stack.push_back(id);
      return view_answer(id);
    }
    if (m == "views.update") {
      auto view = view_arg(args);
      std::string id = str(args, "view_id");
      if (id.empty())
        if (auto ext = str(args, "external_id"); !ext.empty())
          for (const auto& [vid, e] : views)
            if (str(e.view, "external_id") == ext) id = vid;
      auto it = views.find(id);
      if (id.empty() || it == views.end()) throw slack_error{"not_found"};
      if (auto hash = str(args, "hash"); !hash.empty() && hash != str(it->second.view, "hash"))
        throw slack_error{"hash_conflict"};
      view["hash"] = std::to_string(++id_counter) + "." + common::random_lower_alnum(8);
      it->second.view = std::move(view);
      return view_answer(id);
    }
    if (m == "users.info") {
      const auto* u = user_by_id(str(args, "user"));
      if (!u) throw slack_error{"user_not_found"};
      json::object profile{{"display_name", u->name}, {"real_name", u->name}};
      if (!u->email.empty()) profile["email"] = u->email;
      return {{"user", json::object{{"id", u->id},
                                    {"team_id", team_id},
                                    {"name", u->name},
                                    {"is_bot", false},
                                    {"profile", profile}}}};
    }
    if (m == "users.lookupByEmail") {
      const auto email = str(args, "email");
      for (const auto& u : users)
        if (!u.email.empty() && u.email.size() == email.size() &&
            std::equal(u.email.begin(), u.email.end(), email.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) ==
                     std::tolower(static_cast<unsigned char>(b));
            }))
          return {{"user", json::object{{"id", u.id},
                                        {"name", u.name},
                                        {"profile", json::object{{"email", u.email}}}}}};
      throw slack_error{"users_not_found"};
    }
    throw slack_error{"unknown_method", {}, 200};
  }

  // A post to an interaction's response_url: a new (ephemeral by default) message, or the
  // original one replaced or deleted.
  json::object response_url(const http::request& req, slack_call& call) {
    const auto id = req.target.substr(std::string("/hooks/").size());
    auto it = hooks.find(id);
    if (it == hooks.end()) throw slack_error{"no_such_url", {}, 404};
    auto& hook = it->second;
    if (++hook.uses > response_url_uses) throw slack_error{"used_url", {}, 404};
    const auto& args = call.args;
    if (args.contains("blocks")) check_message(args);
    const bool replace = args.contains("replace_original") && args.at("replace_original").is_bool()
                             ? args.at("replace_original").as_bool()
                             : false;
    const bool remove = args.contains("delete_original") && args.at("delete_original").is_bool()
                            ? args.at("delete_original").as_bool()
                            : false;
    if ((replace || remove) && !hook.message_ts.empty()) {
      auto& list = channels[hook.channel];
      if (remove) {
        std::erase_if(list, [&](const slack_message& m) { return m.ts == hook.message_ts; });
        return {};
      }
      if (auto* msg = find_message(hook.channel, hook.message_ts)) {
        msg->text = str(args, "text");
        msg->blocks = blocks_of(args);
        ++msg->updates;
        return {};
      }
      throw slack_error{"message_not_found"};
    }
    if (str(args, "text").empty() && !args.contains("blocks")) throw slack_error{"no_text"};
    slack_message msg;
    msg.channel = hook.channel;
    msg.ts = next_ts();
    msg.text = str(args, "text");
    msg.blocks = blocks_of(args);
    msg.ephemeral = str(args, "response_type") != "in_channel";
    msg.user = msg.ephemeral ? hook.user : std::string();
    msg.thread_ts = str(args, "thread_ts");
    channels[hook.channel].push_back(msg);
    return {};
  }

  // A fresh trigger id for `user` (what Slack hands an app with each command or click).
  std::string new_trigger(const std::string& user) {
    auto id = user + "." + std::to_string(++id_counter) + "." + common::random_lower_alnum(16);
    triggers[id] = now();
    return id;
  }

  std::string new_hook(const std::string& user, const std::string& channel,
                       const std::string& message_ts) {
    auto id = team_id + "/" + std::to_string(++id_counter) + "/" + common::random_lower_alnum(24);
    hooks[id] = {user, channel, message_ts, 0};
    return url() + "/hooks/" + id;
  }

  slack_reply post(const std::string& url, const std::string& path, const std::string& body) {
    const auto ts = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count());
    return send(url + path, "application/x-www-form-urlencoded",
                {{"X-Slack-Request-Timestamp", ts},
                 {"X-Slack-Signature", broker::slack::sign_v0(signing_secret, ts, body)}},
                body);
  }

  slack_reply send(const std::string& url, const std::string& content_type,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body) {
    // `https://host:port/path`: the client takes the origin, the request the path.
    const auto scheme_end = url.find("://");
    const auto path_at = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    const auto origin = url.substr(0, path_at);
    const auto path = path_at == std::string::npos ? std::string("/") : url.substr(path_at);
    common::http_client client({origin, aponod_ca, {}, 30s});
    std::vector<std::pair<std::string, std::string>> all{
        {"Content-Type", content_type},
        {"User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)"}};
    all.insert(all.end(), headers.begin(), headers.end());
    const auto start = std::chrono::steady_clock::now();
    auto res = client.request("POST", path, body, all, 30s);
    slack_reply out;
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    out.status = res.status;
    out.body = res.body;
    boost::system::error_code ec;
    auto v = json::parse(res.body, ec);
    if (!ec) out.json = std::move(v);
    return out;
  }

  json::object who(const std::string& user_id) {
    const auto* u = user_by_id(user_id);
    if (!u) throw std::invalid_argument("slack_fixture: no user " + user_id);
    return {{"id", u->id}, {"username", u->name}, {"name", u->name}, {"team_id", team_id}};
  }
};

slack_fixture::slack_fixture() : impl_(std::make_unique<impl>()) {}
slack_fixture::~slack_fixture() = default;

std::string slack_fixture::api_url() const {
  return impl_->url() + "/api";
}

std::filesystem::path slack_fixture::ca_file() const {
  return impl_->tls.ca_cert;
}

const std::string& slack_fixture::bot_token() const {
  return impl_->bot_token;
}

const std::string& slack_fixture::signing_secret() const {
  return impl_->signing_secret;
}

std::string slack_fixture::config_yaml(int indent) const {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  return pad + "slack:\n" + pad + "  api_base_url: " + api_url() + "\n" + pad +
         "  ca_file: " + ca_file().string() + "\n" + pad + "  bot_token: \"" + bot_token() +
         "\"\n" + pad + "  signing_secret: \"" + signing_secret() + "\"\n";
}

void slack_fixture::set_aponod_ca(std::filesystem::path ca_file) {
  std::lock_guard guard(impl_->mu);
  impl_->aponod_ca = std::move(ca_file);
}

std::string slack_fixture::add_user(const std::string& name, const std::string& email) {
  std::lock_guard guard(impl_->mu);
  slack_user u{"U" + upper_alnum(10), name, email};
  impl_->users.push_back(u);
  return u.id;
}

void slack_fixture::fail(slack_fault f) {
  std::lock_guard guard(impl_->mu);
  impl_->faults.push_back(std::move(f));
}

void slack_fixture::recover() {
  std::lock_guard guard(impl_->mu);
  impl_->faults.clear();
}

slack_reply slack_fixture::command(const std::string& aponod_url, const std::string& user_id,
                                   const std::string& text) {
  std::string body;
  {
    std::lock_guard guard(impl_->mu);
    const auto u = impl_->who(user_id);
    const auto channel = impl::dm_of(user_id);
    const std::vector<std::pair<std::string, std::string>> fields{
        {"token", "legacy-verification-token"},
        {"team_id", impl_->team_id},
        {"team_domain", "apono-test"},
        {"channel_id", channel},
        {"channel_name", "directmessage"},
        {"user_id", user_id},
        {"user_name", std::string(u.at("username").as_string())},
        {"command", "/apono"},
        {"text", text},
        {"api_app_id", "A" + impl_->bot_user.substr(1)},
        {"is_enterprise_install", "false"},
        {"response_url", impl_->new_hook(user_id, channel, {})},
        {"trigger_id", impl_->new_trigger(user_id)}};
    for (const auto& [k, v] : fields) {
      if (!body.empty()) body += '&';
      body += k + "=" + common::url_encode(v);
    }
  }
  return impl_->post(aponod_url, "/slack/commands", body);
}

slack_reply slack_fixture::interact(const std::string& aponod_url, const std::string& user_id,
                                    json::object payload) {
  {
    std::lock_guard guard(impl_->mu);
    if (!payload.contains("user")) payload["user"] = impl_->who(user_id);
    if (!payload.contains("team"))
      payload["team"] = json::object{{"id", impl_->team_id}, {"domain", "apono-test"}};
    if (!payload.contains("api_app_id")) payload["api_app_id"] = "A" + impl_->bot_user.substr(1);
    if (!payload.contains("token")) payload["token"] = "legacy-verification-token";
    if (!payload.contains("trigger_id")) payload["trigger_id"] = impl_->new_trigger(user_id);
    if (!payload.contains("response_url") && str(payload, "type") == "block_actions") {
      std::string channel = impl::dm_of(user_id), ts;
      if (const auto* c = payload.if_contains("container"); c && c->is_object()) {
        if (auto ch = str(c->as_object(), "channel_id"); !ch.empty()) channel = ch;
        ts = str(c->as_object(), "message_ts");
      }
      payload["response_url"] = impl_->new_hook(user_id, channel, ts);
    }
  }
  return impl_->post(aponod_url, "/slack/interactions",
                     "payload=" + common::url_encode(json::serialize(payload)));
}

slack_reply slack_fixture::post_raw(const std::string& url, const std::string& content_type,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body) {
  return impl_->send(url, content_type, headers, body);
}

slack_reply slack_fixture::click(const std::string& aponod_url, const std::string& user_id,
                                 const slack_message& m, const std::string& action_id) {
  // Only a button the message shows can be clicked.
  const json::object* button = nullptr;
  std::string block_id;
  for (const auto& b : m.blocks) {
    if (!b.is_object()) continue;
    const auto& bo = b.as_object();
    auto consider = [&](const json::value& e) {
      if (e.is_object() && str(e.as_object(), "type") == "button" &&
          str(e.as_object(), "action_id") == action_id) {
        button = &e.as_object();
        block_id = str(bo, "block_id");
      }
    };
    if (const auto* els = bo.if_contains("elements"); els && els->is_array())
      for (const auto& e : els->as_array()) consider(e);
    if (const auto* acc = bo.if_contains("accessory")) consider(*acc);
  }
  if (!button)
    throw std::runtime_error("slack_fixture: message " + m.ts + " shows no button " + action_id);
  std::string action_ts;
  {
    std::lock_guard guard(impl_->mu);
    action_ts = impl_->next_ts();
  }
  json::object action{{"type", "button"},
                      {"action_id", action_id},
                      {"block_id", block_id},
                      {"text", button->at("text")},
                      {"action_ts", action_ts}};
  if (button->contains("value")) action["value"] = button->at("value");
  json::object payload{
      {"type", "block_actions"},
      {"container", json::object{{"type", "message"},
                                 {"message_ts", m.ts},
                                 {"channel_id", m.channel},
                                 {"is_ephemeral", m.ephemeral}}},
      {"channel", json::object{{"id", m.channel}, {"name", "directmessage"}}},
      {"message",
       json::object{{"type", "message"}, {"ts", m.ts}, {"text", m.text}, {"blocks", m.blocks}}},
      {"actions", json::array{action}}};
  return interact(aponod_url, user_id, std::move(payload));
}

std::vector<slack_call> slack_fixture::calls() const {
  std::lock_guard guard(impl_->mu);
  return impl_->log;
}

std::vector<slack_call> slack_fixture::calls(const std::string& method) const {
  std::vector<slack_call> out;
  for (auto& c : calls())
    if (c.method == method) out.push_back(std::move(c));
  return out;
}

std::vector<slack_message> slack_fixture::messages(const std::string& channel_or_user) const {
  std::lock_guard guard(impl_->mu);
  auto channel = channel_or_user;
  if (!channel.empty() && (channel[0] == 'U' || channel[0] == 'W')) channel = impl::dm_of(channel);
  auto it = impl_->channels.find(channel);
  return it == impl_->channels.end() ? std::vector<slack_message>{} : it->second;
}

std::optional<json::object> slack_fixture::open_view(const std::string& user_id) const {
  std::lock_guard guard(impl_->mu);
  auto it = impl_->view_stacks.find(user_id);
  if (it == impl_->view_stacks.end() || it->second.empty()) return std::nullopt;
  const auto& id = it->second.back();
  auto v = impl_->views.at(id).view;
  v["id"] = id;
  return v;
}

bool slack_fixture::wait_until(const std::function<bool()>& pred,
                               std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    // Woken by every call the stand-in answers; the bound covers a change made elsewhere.
    std::unique_lock lock(impl_->mu);
    impl_->changed.wait_for(lock, 50ms);
  }
  return pred();
}

}  // namespace apono::test
