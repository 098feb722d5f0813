// Tool listing, argument checking and the tools/call result shape.
#include "cli/mcp/tool_registry.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cmath>

#include "cli/mcp/lifecycle.hpp"
#include "common/error.hpp"

namespace apono::cli::mcp {

namespace json = boost::json;

cancel_token::cancel_token() {
  if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) fds_[0] = fds_[1] = -1;
}

cancel_token::~cancel_token() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

void cancel_token::cancel() {
  if (cancelled_.exchange(true)) return;
  if (fds_[1] >= 0) {
    char c = 'x';
    [[maybe_unused]] auto n = ::write(fds_[1], &c, 1);
  }
}

bool cancel_token::sleep_for(std::chrono::milliseconds d) const {
  if (cancelled()) return false;
  pollfd p{fd(), POLLIN, 0};
  (void)::poll(&p, 1, static_cast<int>(d.count()));
  return !cancelled();
}

void tool_registry::add(tool t) {
  tools_.push_back(std::move(t));
}

const tool* tool_registry::find(const std::string& name) const {
  for (const auto& t : tools_)
    if (t.name == name) return &t;
  return nullptr;
}

json::array tool_registry::list(
    const std::string& version,
    const std::function<void(const std::string&, json::object&)>& annotate) const {
  const bool structured = has_structured_output(version);
  json::array out;
  for (const auto& t : tools_) {
    json::object o{
        {"name", t.name}, {"description", t.description}, {"inputSchema", t.input_schema}};
    json::object a = t.annotations;
    a["title"] = t.title;
    if (annotate) annotate(t.name, a);
    // Titles and output schemas came with 2025-06-18; older clients get the JSON as text only.
    if (structured) {
      o["title"] = t.title;
      o["outputSchema"] = t.output_schema;
    }
    o["annotations"] = std::move(a);
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

json::object error_result(const std::string& message) {
  return {{"content", json::array{json::object{{"type", "text"}, {"text", message}}}},
          {"isError", true}};
}

std::string type_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

bool type_matches(const json::value& v, std::string_view type) {
  auto t = type_of(v);
  if (type == "number") return t == "integer" || t == "number";
  if (type == "integer" && t == "number") {
    double d = v.get_double();
    return std::abs(d) < 9e15 && d == std::trunc(d);
  }
  return t == type;
}

double as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

}  // namespace

std::string check_arguments(const json::object& schema, const json::value& v,
                            const std::string& where) {
  const std::string name = where.empty() ? "arguments" : "'" + where + "'";
  if (const auto* t = schema.if_contains("type")) {
    bool ok = false;
    std::string expected;
    if (t->is_string()) {
      ok = type_matches(v, t->get_string());
      expected = std::string(t->get_string());
    } else if (t->is_array()) {
      for (const auto& x : t->as_array()) {
        ok = ok || type_matches(v, x.as_string());
        expected += (expected.empty() ? "" : " or ") + std::string(x.as_string());
      }
    }
    if (!ok) return name + " must be " + expected + ", not " + type_of(v);
  }
  if (const auto* e = schema.if_contains("enum")) {
    bool found = false;
    std::string allowed;
    for (const auto& x : e->as_array()) {
      found = found || x == v;
      allowed += (allowed.empty() ? "" : ", ") + json::serialize(x);
    }
    if (!found) return name + " must be one of " + allowed;
  }
  if (v.is_string()) {
    if (const auto* m = schema.if_contains("minLength");
        m && v.get_string().size() < static_cast<std::size_t>(m->to_number<std::int64_t>()))
      return name + " must not be empty";
  }
  if (v.is_number()) {
    if (const auto* m = schema.if_contains("minimum"); m && as_number(v) < as_number(*m))
      return name + " must be at least " + json::serialize(*m);
    if (const auto* m = schema.if_contains("maximum"); m && as_number(v) > as_number(*m))
      return name + " must be at most " + json::serialize(*m);
  }
  if (v.is_array()) {
    const auto& a = v.as_array();
    if (const auto* m = schema.if_contains("minItems");
        m && a.size() < static_cast<std::size_t>(m->to_number<std::int64_t>()))
      return name + " needs at least " + json::serialize(*m) + " item(s)";
    if (const auto* items = schema.if_contains("items"); items && items->is_object())
      for (std::size_t i = 0; i < a.size(); ++i)
        if (auto why =
                check_arguments(items->as_object(), a[i],
                                (where.empty() ? "item" : where) + "[" + std::to_string(i) + "]");
            !why.empty())
          return why;
  }
  if (v.is_object()) {
    const auto& o = v.as_object();
    const json::object* props = nullptr;
    if (const auto* p = schema.if_contains("properties"); p && p->is_object())
      props = &p->as_object();
    if (const auto* req = schema.if_contains("required"); req && req->is_array())
      for (const auto& r : req->as_array())
        if (!o.contains(r.as_string()))
          return "missing required argument '" + std::string(r.as_string()) + "'";
    for (const auto& [k, val] : o) {
      const json::value* ps = props ? props->if_contains(k) : nullptr;
      if (!ps) {
        if (const auto* ap = schema.if_contains("additionalProperties");
            ap && ap->is_bool() && !ap->get_bool()) {
          std::string known;
          if (props)
            for (const auto& [pk, pv] : *props)
              known += (known.empty() ? "" : ", ") + std::string(pk);
          return "unknown argument '" + std::string(k) + "' (known: " + known + ")";
        }
        continue;
      }
      if (auto why = check_arguments(ps->as_object(), val, std::string(k)); !why.empty())
        return why;
    }
  }
  return {};
}

json::object tool_registry::call(const tool& t, const json::object& args, tool_context& ctx,
                                 const std::string& version) const {
  if (auto why = check_arguments(t.input_schema, args); !why.empty())
    return error_result("invalid arguments for " + t.name + ": " + why);
  try {
    json::object structured = t.run(args, ctx);
    json::object r{{"content", json::array{json::object{{"type", "text"},
                                                        {"text", json::serialize(structured)}}}}};
    if (has_structured_output(version)) r["structuredContent"] = std::move(structured);
    r["isError"] = false;
    return r;
  } catch (const tool_error& e) {
    return error_result(e.what());
  } catch (const usage_error& e) {
    return error_result(e.what());
  } catch (const common::api_error& e) {
    return error_result(std::string("the broker refused: ") + e.what());
  } catch (const std::exception& e) {
    return error_result(e.what());
  }
}

std::string string_arg(const json::object& args, const char* key) {
  if (const auto* v = args.if_contains(key); v && v->is_string())
    return std::string(v->get_string());
  return {};
}

std::vector<std::string> strings_arg(const json::object& args, const char* key) {
  std::vector<std::string> out;
  if (const auto* v = args.if_contains(key)) {
    if (v->is_string()) out.emplace_back(v->get_string());
    if (v->is_array())
      for (const auto& x : v->as_array())
        if (x.is_string() && !x.get_string().empty()) out.emplace_back(x.get_string());
  }
  return out;
}

std::int64_t int_arg(const json::object& args, const char* key, std::int64_t fallback) {
  if (const auto* v = args.if_contains(key)) {
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    // Out of range, a cast would be undefined; the schemas bound every integer anyway.
    if (v->is_double() && std::abs(v->get_double()) < 9e15)
      return static_cast<std::int64_t>(v->get_double());
  }
  return fallback;
}

}  // namespace apono::cli::mcp
