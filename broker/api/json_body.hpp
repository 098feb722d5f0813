// The API's JSON bodies, both ways. Requests are strict: one object, nested at most 32 deep,
// each key at most once per object. Boost.JSON keeps only the last of repeated keys, so without the
// check a client (or a proxy in front) and the broker could read the same body as two different
// requests.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string_view>

#include "broker/http/server.hpp"

namespace apono::broker::api {

/// Parses `body` as a JSON object. Throws common::api_error(invalid_argument) naming the
/// problem for malformed JSON, nesting deeper than 32, a value other than an object, or a key
/// that appears twice in one object.
[[nodiscard]] boost::json::object parse_json_object(std::string_view body);

/// An answer with `status` and `v` serialized as its body (application/json).
[[nodiscard]] http::response json_response(int status, const boost::json::value& v);

}  // namespace apono::broker::api
