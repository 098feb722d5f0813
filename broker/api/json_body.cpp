// The API's JSON bodies: strict parsing of requests, serialized answers; see the header.
#include "broker/api/json_body.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace apono::broker::api {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

constexpr std::size_t max_depth = 32;

// A SAX handler that only tracks the keys of each open object, to find a repeated one.
struct key_checker {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::vector<std::set<std::string, std::less<>>> open;  // keys seen, per open object
  std::string key;                                       // the key being read
  std::string repeated;                                  // the first repeated key

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    open.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    open.pop_back();
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code& ec) {
    key.append(s.data(), s.size());
    if (!open.back().insert(key).second) {
      repeated = std::move(key);
      ec = json::error::syntax;  // stops the parse; `repeated` says why
      return false;
    }
    key.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

json::object parse_json_object(std::string_view body) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  boost::system::error_code ec;
  auto v = json::parse(body, ec, {}, opts);
  if (ec)
    throw api_error(errc::invalid_argument, "request body is not valid JSON: " + ec.message());
  if (!v.is_object()) throw api_error(errc::invalid_argument, "request body must be a JSON object");
  // Valid JSON now; a second pass finds repeated keys, which the value above no longer shows.
  json::basic_parser<key_checker> checker(opts);
  checker.write_some(false, body.data(), body.size(), ec);
  if (!checker.handler().repeated.empty())
    throw api_error(errc::invalid_argument,
                    "key '" + checker.handler().repeated.substr(0, 64) + "' appears twice");
  return std::move(v.get_object());
}

http::response json_response(int status, const json::value& v) {
  http::response res;
  res.status = status;
  res.body = json::serialize(v);
  return res;
}

}  // namespace apono::broker::api
