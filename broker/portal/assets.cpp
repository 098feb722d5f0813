// Serving the embedded portal. Nothing here touches the file system or the store: a lookup in a
// table made at start, so these answers cost the I/O thread next to nothing.
#include "broker/portal/assets.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <utility>

#include "common/error.hpp"

namespace apono::broker::portal {

namespace {

constexpr std::string_view not_built_page = R"(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>apono: portal not built</title></head>
<body>
<h1>The web portal is not built</h1>
<p>The apono web portal is not part of this aponod: web/dist did not exist when aponod was built.
Build the front end and aponod again (scripts/build does both). The API and the CLI work as
usual.</p>
</body>
</html>
)";

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 §12.4.2: a qvalue is 0 to 1 with up to three decimals; only the zeros refuse.
bool positive_q(std::string_view params) noexcept {
  while (!params.empty()) {
    auto semi = params.find(';');
    auto p = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
    auto v = trim(p.substr(2));
    if (v.empty() || v[0] != '0') return true;
    return v.find_first_not_of("0.", 1) != std::string_view::npos;
  }
  return true;
}

bool is_under(std::string_view path, std::string_view prefix) noexcept {
  return path.size() >= prefix.size() && iequals(path.substr(0, prefix.size()), prefix) &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

http::response json_error(common::errc code, std::string_view message) {
  return http::response{
      common::http_status(code), common::error_body(code, message), "application/json", {}};
}

std::string bytes(std::span<const unsigned char> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

bool is_portal_path(std::string_view path) noexcept {
  if (path.empty() || path.front() != '/') return false;
  for (std::string_view reserved :
       {"/api", "/healthz", "/readyz", "/metrics", "/login", "/oauth", "/slack"})
    if (is_under(path, reserved)) return false;
  // `/x/../api/v1/audit` is no page of the app: a path that a proxy in front might normalize
  // into an API path is left to the API's router, which refuses it.
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = std::min(path.find('/', start), path.size());
    auto segment = path.substr(start, end - start);
    if (segment == "." || segment == ".." || (segment.empty() && end != path.size())) return false;
    start = end + 1;
  }
  return true;
}

std::string_view content_type_of(std::string_view path) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 21> types{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".avif", "image/avif"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".xml", "application/xml"},
      {".wasm", "application/wasm"},
  }};
  auto slash = path.rfind('/');
  auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  auto ext = name.substr(dot);
  for (const auto& [e, type] : types)
    if (iequals(e, ext)) return type;
  return "application/octet-stream";
}

bool accepts_gzip(std::string_view accept_encoding) noexcept {
  std::optional<bool> gzip, any;
  while (!accept_encoding.empty()) {
    auto comma = accept_encoding.find(',');
    auto item = trim(accept_encoding.substr(0, comma));
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    auto semi = item.find(';');
    auto coding = trim(item.substr(0, semi));
    bool ok = semi == std::string_view::npos || positive_q(item.substr(semi + 1));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
      gzip = ok;
    else if (coding == "*")
      any = ok;
  }
  return gzip.value_or(any.value_or(false));
}

files::files(std::span<const asset> assets) {
  for (const auto& a : assets) {
    by_path_.emplace(a.path, &a);
    if (a.path == "/index.html") index_ = &a;
  }
}

http::response files::serve(const http::request& req, std::string_view path) const {
  http::response res;
  const asset* file = nullptr;
  bool immutable = false;
  if (req.method != "GET" && req.method != "HEAD") {
    res = json_error(common::errc::not_found, "no such endpoint: " + req.method.substr(0, 32) +
                                                  " " + std::string(path.substr(0, 200)));
  } else if (is_under(path, "/assets")) {
    // Hashed names: a missing one is a stale page asking for an old build's file, and
    // index.html in its place would only fail to parse as a script.
    if (auto it = by_path_.find(path); it != by_path_.end()) {
      file = it->second;
      immutable = true;
    } else {
      res =
          json_error(common::errc::not_found, "no such file: " + std::string(path.substr(0, 200)));
    }
  } else if (auto it = by_path_.find(path); it != by_path_.end()) {
    file = it->second;
  } else if (index_) {
    file = index_;  // a page of the app: the app routes it
  } else {
    res.status = 503;
    res.body = not_built_page;
    res.content_type = "text/html; charset=utf-8";
  }

  if (file) {
    res.status = 200;
    res.content_type = std::string(content_type_of(file->path));
    res.headers.emplace_back("Cache-Control",
                             immutable ? "public, max-age=31536000, immutable" : "no-store");
    std::string accepted;
    for (const auto& [name, value] : req.headers)
      if (name == "accept-encoding") accepted += value + ",";
    if (!file->gzip.empty()) {
      res.headers.emplace_back("Vary", "Accept-Encoding");
      if (accepts_gzip(accepted)) {
        res.body = bytes(file->gzip);
        res.headers.emplace_back("Content-Encoding", "gzip");
      } else {
        res.body = bytes(file->body);
      }
    } else {
      res.body = bytes(file->body);
    }
  }
  res.headers.emplace_back("Content-Security-Policy", std::string(content_security_policy));
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  res.headers.emplace_back("X-Frame-Options", "DENY");
  res.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  return res;
}

}  // namespace apono::broker::portal
