// The web portal's front end as aponod serves it: the files of web/dist, embedded in the
// binary at build time (broker/portal/embed.cmake), answered at `/` on the API's listener with
// a strict CSP, gzip when the browser takes it, and index.html for every other page path so
// deep links (`/requests/AR-00012`) reach the single-page app.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker/http/server.hpp"

namespace apono::broker::portal {

/// One embedded file.
struct asset {
  std::string_view path;                ///< URL path: `/index.html`, `/assets/index-3f2a1b9c.js`
  std::span<const unsigned char> body;  ///< the file's bytes
  std::span<const unsigned char> gzip;  ///< `gzip -9n` of them; empty when it saves too little
};

/// The files embedded in this program: defined by the .cpp that embed.cmake generates (empty
/// when web/dist did not exist at configure time); only aponod links one.
[[nodiscard]] std::span<const asset> embedded_assets();

/// The Content-Security-Policy of every portal answer: scripts, styles, fonts and fetches from
/// this origin only, images also as data: URLs, no framing, forms only to this origin.
inline constexpr std::string_view content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

/// True for the paths the portal answers: all but `/api/...`, `/healthz`, `/readyz`,
/// `/metrics`, `/login` and `/oauth/...` (each also with anything below it, in any case:
/// `/API/V1` is no page either), and but paths with `.` or `..` segments or an empty segment
/// before the last (`//`).
[[nodiscard]] bool is_portal_path(std::string_view path) noexcept;

/// The Content-Type for a file name, by its extension (`application/octet-stream` when
/// unknown); text types say `charset=utf-8`.
[[nodiscard]] std::string_view content_type_of(std::string_view path) noexcept;

/// True when an Accept-Encoding value takes gzip (`gzip` or `*` with a q-value above 0, gzip
/// not refused by name).
[[nodiscard]] bool accepts_gzip(std::string_view accept_encoding) noexcept;

/// Answers portal paths from a set of files. Thread-safe once built.
class files {
 public:
  /// No files: every page is a 503 HTML page saying the portal was not built.
  files() = default;
  /// Serves `assets` (which must outlive this object).
  explicit files(std::span<const asset> assets);

  /// How many files there are.
  [[nodiscard]] std::size_t size() const noexcept { return by_path_.size(); }

  /// The answer to `req` for `path` (percent-decoded, is_portal_path true): GET and HEAD only
  /// (else 404); `/assets/...` is that file or a 404, immutable for a year since its name
  /// carries its content's hash; any other path is the file of that name if there is one, else
  /// index.html, neither stored by caches. Every answer carries the portal's security headers.
  [[nodiscard]] http::response serve(const http::request& req, std::string_view path) const;

 private:
  std::unordered_map<std::string_view, const asset*> by_path_;
  const asset* index_ = nullptr;
};

}  // namespace apono::broker::portal
