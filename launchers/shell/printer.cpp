// psql's print_aligned_text and print_aligned_vertical (fe_utils/print.c) for border 1, the ascii
// line style and no wrapping: what psql -X prints by default. Widths come from libpq's
// PQmblen/PQdsplen, the functions psql itself measures with, so wide and combining characters
// line up the same way.
#include "launchers/shell/printer.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>

namespace apono::launchers::shell {

namespace {

// One display line of a cell after psql's pg_wcsformat: control characters spelled out.
struct line {
  std::string text;
  int width = 0;
};

// pg_wcsformat: splits at newlines, expands tabs to the next multiple of 8, shows \r as "\r"
// and other control characters as \xNN or \uNNNN.
std::vector<line> format_lines(std::string_view s, int encoding) {
  std::vector<line> lines(1);
  // PQmblen and PQdsplen read up to 4 bytes past a lead byte; a copy guarantees the NUL.
  const std::string text(s);
  const char* p = text.c_str();
  std::size_t len = text.size();
  while (*p != '\0' && len > 0) {
    auto chlen = static_cast<std::size_t>(PQmblen(p, encoding));
    if (chlen == 0) chlen = 1;
    if (len < chlen) break;
    int w = PQdsplen(p, encoding);
    line& cur = lines.back();
    if (chlen == 1) {
      auto c = static_cast<unsigned char>(*p);
      if (c == '\n') {
        lines.emplace_back();
      } else if (c == '\r') {
        cur.text += "\\r";
        cur.width += 2;
      } else if (c == '\t') {
        do {
          cur.text += ' ';
          ++cur.width;
        } while (cur.width % 8 != 0);
      } else if (w < 0) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02X", c);
        cur.text += buf;
        cur.width += 4;
      } else {
        cur.text += static_cast<char>(c);
        cur.width += w;
      }
    } else if (w < 0) {
      if (encoding == utf8_encoding) {
        // utf8_to_unicode for the 2-4 byte sequences PQmblen reported.
        auto u = [&](std::size_t i) {
          return static_cast<unsigned>(static_cast<unsigned char>(p[i]));
        };
        unsigned cp = 0;
        if (chlen == 2) cp = ((u(0) & 0x1f) << 6) | (u(1) & 0x3f);
        if (chlen == 3) cp = ((u(0) & 0x0f) << 12) | ((u(1) & 0x3f) << 6) | (u(2) & 0x3f);
        if (chlen == 4)
          cp = ((u(0) & 0x07) << 18) | ((u(1) & 0x3f) << 12) | ((u(2) & 0x3f) << 6) | (u(3) & 0x3f);
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\u%04X", cp);
        cur.text += buf;
      } else {
        cur.text += "\\u????";
      }
      cur.width += 6;
    } else {
      cur.text.append(p, chlen);
      cur.width += w;
    }
    p += chlen;
    len -= chlen;
  }
  return lines;
}

int max_width(const std::vector<line>& lines) {
  int w = 0;
  for (const auto& l : lines) w = std::max(w, l.width);
  return w;
}

void pad(std::string& out, int n) {
  if (n > 0) out.append(static_cast<std::size_t>(n), ' ');
}

std::string rows_footer(std::size_t n) {
  return "(" + std::to_string(n) + (n == 1 ? " row)" : " rows)");
}

// footers_with_default: the explicit footers, else "(N rows)" unless turned off.
std::vector<std::string> footers_with_default(const table& t) {
  if (!t.footers.empty()) return t.footers;
  if (t.default_footer) return {rows_footer(t.rows.size())};
  return {};
}

const std::string& cell_text(const std::optional<std::string>& v) {
  static const std::string empty;
  return v ? *v : empty;
}

// print_aligned_vertical_line for border 1: "-[ RECORD n ]---+------".
void vertical_rule(std::string& out, unsigned long record, int hwidth, int dwidth) {
  out += '-';
  std::string label = "[ RECORD " + std::to_string(record) + " ]";
  out += label;
  int reclen = static_cast<int>(label.size()) + 1;
  for (int i = reclen; i < hwidth; ++i) out += '-';
  reclen -= hwidth;
  if (reclen-- <= 0) out += '-';
  if (reclen-- <= 0) out += '+';
  if (reclen-- <= 0) out += '-';
  if (reclen < 0) reclen = 0;
  for (int i = reclen; i < dwidth; ++i) out += '-';
  out += '\n';
}

std::string format_vertical(const table& t, int encoding) {
  std::string out;
  const std::size_t ncols = t.headers.size();
  if (t.rows.empty() || ncols == 0) {
    for (const auto& f : footers_with_default(t)) out += f + '\n';
    out += '\n';
    return out;
  }

  std::vector<std::vector<line>> headers;
  int hwidth = 0;
  for (const auto& h : t.headers) {
    headers.push_back(format_lines(h, encoding));
    hwidth = std::max(hwidth, max_width(headers.back()));
  }
  std::vector<std::vector<std::vector<line>>> cells;
  int dwidth = 0;
  bool dmultiline = false;
  for (const auto& row : t.rows) {
    auto& formatted = cells.emplace_back();
    for (std::size_t c = 0; c < ncols; ++c) {
      formatted.push_back(format_lines(c < row.size() ? cell_text(row[c]) : "", encoding));
      dwidth = std::max(dwidth, max_width(formatted.back()));
      if (formatted.back().size() > 1) dmultiline = true;
    }
  }

  if (!t.title.empty()) out += t.title + '\n';

  unsigned long record = 1;
  for (const auto& row : cells) {
    vertical_rule(out, record++, hwidth, dwidth);
    for (std::size_t c = 0; c < ncols; ++c) {
      const auto& hl = headers[c];
      const auto& dl = row[c];
      std::size_t hline = 0;
      std::size_t dline = 0;
      bool hcomplete = false;
      bool dcomplete = false;
      while (!dcomplete || !hcomplete) {
        if (!hcomplete) {
          out += hl[hline].text;
          pad(out, hwidth - hl[hline].width);
          if (hline + 1 < hl.size()) {
            out += '+';
            ++hline;
          } else {
            out += ' ';
            hcomplete = true;
          }
        } else {
          pad(out, hwidth + 1);
        }
        out += '|';
        if (!dcomplete) {
          out += ' ';
          out += dl[dline].text;
          if (dline + 1 < dl.size()) {
            if (dmultiline) {
              pad(out, dwidth - dl[dline].width);
              out += '+';
            }
            ++dline;
          } else {
            dcomplete = true;
          }
          out += '\n';
        } else {
          out += '\n';
        }
      }
    }
  }

  if (!t.footers.empty()) {
    out += '\n';
    for (const auto& f : t.footers) out += f + '\n';
  }
  out += '\n';
  return out;
}

std::string format_aligned(const table& t, const print_options& options, bool* too_wide) {
  const int encoding = options.encoding;
  const std::size_t ncols = t.headers.size();

  std::vector<std::vector<line>> headers;
  std::vector<int> width(ncols, 0);
  std::vector<int> header_width(ncols, 0);
  for (std::size_t c = 0; c < ncols; ++c) {
    headers.push_back(format_lines(t.headers[c], encoding));
    header_width[c] = max_width(headers.back());
    width[c] = header_width[c];
  }
  std::vector<std::vector<std::vector<line>>> cells;
  for (const auto& row : t.rows) {
    auto& formatted = cells.emplace_back();
    for (std::size_t c = 0; c < ncols; ++c) {
      formatted.push_back(format_lines(c < row.size() ? cell_text(row[c]) : "", encoding));
      width[c] = std::max(width[c], max_width(formatted.back()));
    }
  }

  int width_total = ncols == 0 ? 0 : static_cast<int>(ncols) * 3 - 1;
  int total_header_width = width_total;
  for (std::size_t c = 0; c < ncols; ++c) {
    width_total += width[c];
    total_header_width += header_width[c];
  }
  if (too_wide != nullptr) {
    *too_wide = options.columns > 0 && ncols > 1 &&
                (options.columns < total_header_width || options.columns < width_total);
    if (*too_wide) return {};
  }

  std::string out;
  if (!t.title.empty()) {
    int w = display_width(t.title, encoding);
    if (w < width_total) pad(out, (width_total - w) / 2);
    out += t.title + '\n';
  }

  // Headers, centred; a multi-line header continues with '+' on its right.
  std::vector<bool> header_done(ncols, false);
  std::size_t remaining = ncols;
  for (std::size_t nl = 0; remaining > 0; ++nl) {
    for (std::size_t c = 0; c < ncols; ++c) {
      out += ' ';
      if (!header_done[c]) {
        const line& l = headers[c][nl];
        int spare = width[c] - l.width;
        pad(out, spare / 2);
        out += l.text;
        pad(out, (spare + 1) / 2);
        if (nl + 1 >= headers[c].size()) {
          header_done[c] = true;
          --remaining;
        }
      } else {
        pad(out, width[c]);
      }
      out += header_done[c] ? ' ' : '+';
      if (c + 1 < ncols) out += '|';
    }
    out += '\n';
  }
  out += '-';
  for (std::size_t c = 0; c < ncols; ++c) {
    out.append(static_cast<std::size_t>(width[c]), '-');
    if (c + 1 < ncols) out += "-+-";
  }
  out += "-\n";

  // Rows; a multi-line value continues with '+' after its column.
  if (ncols > 0) {
    for (const auto& row : cells) {
      std::vector<std::size_t> cur(ncols, 0);
      bool more = true;
      while (more) {
        more = false;
        for (std::size_t c = 0; c < ncols; ++c) {
          const bool last = c + 1 == ncols;
          const bool right = c < t.aligns.size() && t.aligns[c] == alignment::right;
          out += ' ';
          int printed = width[c];
          if (cur[c] >= row[c].size()) {
            if (!last) pad(out, width[c]);
          } else {
            const line& l = row[c][cur[c]];
            printed = std::min(l.width, width[c]);
            if (right) pad(out, width[c] - printed);
            out += l.text;
            ++cur[c];
            if (cur[c] < row[c].size()) more = true;
          }
          const bool continues = cur[c] > 0 && cur[c] < row[c].size();
          if (!right && (!last || continues)) pad(out, width[c] - printed);
          if (continues)
            out += '+';
          else if (!last)
            out += ' ';
          if (!last) out += '|';
        }
        out += '\n';
      }
    }
  }

  for (const auto& f : footers_with_default(t)) out += f + '\n';
  out += '\n';
  return out;
}

}  // namespace

std::string format_table(const table& t, const print_options& options) {
  if (options.expanded == expanded_mode::on) return format_vertical(t, options.encoding);
  if (options.expanded == expanded_mode::automatic) {
    bool too_wide = false;
    auto out = format_aligned(t, options, &too_wide);
    if (too_wide) return format_vertical(t, options.encoding);
    return out;
  }
  return format_aligned(t, options, nullptr);
}

alignment column_alignment(unsigned type_oid) {
  switch (type_oid) {
    case 21:    // int2
    case 23:    // int4
    case 20:    // int8
    case 700:   // float4
    case 701:   // float8
    case 1700:  // numeric
    case 26:    // oid
    case 28:    // xid
    case 5069:  // xid8
    case 29:    // cid
    case 790:   // money
      return alignment::right;
    default:
      return alignment::left;
  }
}

int display_width(std::string_view text, int encoding) {
  return max_width(format_lines(text, encoding));
}

}  // namespace apono::launchers::shell
