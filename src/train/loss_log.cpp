#include "train/loss_log.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/mmap_file.h"

namespace leanlm {
namespace {

std::string Number(double x) {
  if (!std::isfinite(x)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

Status WriteAtomically(const std::string& path, const std::string& text) {
  LEANLM_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::Create(path));
  LEANLM_RETURN_IF_ERROR(writer->Write(text.data(), text.size()));
  return writer->Commit();
}

Result<double> ParseDouble(const std::string& field, bool allow_empty, const std::string& where) {
  if (field.empty()) {
    if (allow_empty) return NAN;
    return Status::Error(where + ": empty field");
  }
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(field.c_str(), &end);
  if (end != field.c_str() + field.size() || errno == ERANGE || !std::isfinite(x)) {
    return Status::Error(where + ": '" + field + "' is not a finite number");
  }
  return x;
}

Result<int64_t> ParseInt(const std::string& field, const std::string& where) {
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(field.c_str(), &end, 10);
  if (field.empty() || end != field.c_str() + field.size() || errno == ERANGE || x < 0) {
    return Status::Error(where + ": '" + field + "' is not a count");
  }
  return static_cast<int64_t>(x);
}

std::string EscapeXml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  return out;
}

// The tick spacing of 1, 2 or 5 times a power of ten giving about `target` intervals.
double NiceStep(double range, int target) {
  const double raw = range / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10.0 * power;
}

std::string Fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

}  // namespace

void LossLog::Add(const LossRecord& r) {
  if (!records_.empty() && records_.back().step == r.step) {
    LossRecord& last = records_.back();
    if (std::isfinite(r.train_loss)) last.train_loss = r.train_loss;
    if (std::isfinite(r.val_loss)) last.val_loss = r.val_loss;
    if (std::isfinite(r.lr)) last.lr = r.lr;
    if (std::isfinite(r.grad_norm)) last.grad_norm = r.grad_norm;
    last.tokens = std::max(last.tokens, r.tokens);
    last.seconds = std::max(last.seconds, r.seconds);
    return;
  }
  TruncateAfter(r.step - 1);
  records_.push_back(r);
}

void LossLog::TruncateAfter(int64_t step) {
  while (!records_.empty() && records_.back().step > step) records_.pop_back();
}

std::string LossLog::ToCsv() const {
  std::string out = std::string(kLossCsvHeader) + "\n";
  for (const LossRecord& r : records_) {
    out += std::to_string(r.step) + "," + Number(r.train_loss) + "," + Number(r.val_loss) + "," + Number(r.lr) +
           "," + Number(r.grad_norm) + "," + std::to_string(r.tokens) + "," + Number(r.seconds) + "\n";
  }
  return out;
}

Result<LossLog> LossLog::FromCsv(std::string_view text, const std::string& source) {
  LossLog log;
  size_t pos = 0;
  for (int64_t line_no = 1; pos < text.size(); ++line_no) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string line(text.substr(pos, eol - pos));
    pos = eol + 1;
    const std::string where = source + ":" + std::to_string(line_no);
    if (line_no == 1) {
      if (line != kLossCsvHeader) return Status::Error(where + ": expected the header '" + kLossCsvHeader + "'");
      continue;
    }
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1) {
      f.push_back(line.substr(start, comma - start));
    }
    f.push_back(line.substr(start));
    if (f.size() != 7) return Status::Error(where + ": expected 7 fields, found " + std::to_string(f.size()));
    LossRecord r;
    LEANLM_ASSIGN_OR_RETURN(r.step, ParseInt(f[0], where));
    LEANLM_ASSIGN_OR_RETURN(r.train_loss, ParseDouble(f[1], true, where));
    LEANLM_ASSIGN_OR_RETURN(r.val_loss, ParseDouble(f[2], true, where));
    LEANLM_ASSIGN_OR_RETURN(r.lr, ParseDouble(f[3], true, where));
    LEANLM_ASSIGN_OR_RETURN(r.grad_norm, ParseDouble(f[4], true, where));
    LEANLM_ASSIGN_OR_RETURN(r.tokens, ParseInt(f[5], where));
    LEANLM_ASSIGN_OR_RETURN(r.seconds, ParseDouble(f[6], false, where));
    if (!log.records_.empty() && r.step <= log.records_.back().step) {
      return Status::Error(where + ": steps must increase");
    }
    log.records_.push_back(r);
  }
  return log;
}

Status LossLog::WriteCsv(const std::string& path) const { return WriteAtomically(path, ToCsv()); }

Status LossLog::WriteSvg(const std::string& path, const std::string& title) const {
  return WriteAtomically(path, LossCurveSvg(records_, title));
}

std::string LossCurveSvg(const std::vector<LossRecord>& records, const std::string& title) {
  constexpr double kWidth = 800, kHeight = 480;
  constexpr double kLeft = 70, kRight = 20, kTop = 40, kBottom = 50;
  constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const LossRecord& r : records) {
    for (double y : {r.train_loss, r.val_loss}) {
      if (!std::isfinite(y)) continue;
      x_lo = std::min(x_lo, static_cast<double>(r.step));
      x_hi = std::max(x_hi, static_cast<double>(r.step));
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // nothing measured yet
  if (x_hi == x_lo) x_hi = x_lo + 1;
  if (y_hi == y_lo) y_lo -= 0.5, y_hi += 0.5;
  const double y_pad = 0.05 * (y_hi - y_lo);
  y_lo -= y_pad;
  y_hi += y_pad;
  const auto px = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * kPlotW; };
  const auto py = [&](double y) { return kTop + (y_hi - y) / (y_hi - y_lo) * kPlotH; };

  std::string s = Fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\"", kWidth) +
                  Fmt(" height=\"%.0f\"", kHeight) + Fmt(" viewBox=\"0 0 %.0f", kWidth) + Fmt(" %.0f\"", kHeight) +
                  " font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += Fmt("<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", kWidth / 2) + EscapeXml(title) +
       "</text>\n";
  // Grid lines and tick labels.
  const double y_step = NiceStep(y_hi - y_lo, 6), x_step = std::max(1.0, NiceStep(x_hi - x_lo, 8));
  for (double y = std::ceil(y_lo / y_step) * y_step; y <= y_hi + 1e-9 * y_step; y += y_step) {
    s += Fmt("<line x1=\"%.1f\"", kLeft) + Fmt(" x2=\"%.1f\"", kLeft + kPlotW) + Fmt(" y1=\"%.1f\"", py(y)) +
         Fmt(" y2=\"%.1f\" stroke=\"#ddd\"/>\n", py(y));
    s += Fmt("<text x=\"%.1f\"", kLeft - 6) + Fmt(" y=\"%.1f\" text-anchor=\"end\">", py(y) + 4) +
         Fmt("%g", std::abs(y) < 1e-12 * y_step ? 0.0 : y) + "</text>\n";
  }
  for (double x = std::ceil(x_lo / x_step) * x_step; x <= x_hi + 1e-9; x += x_step) {
    s += Fmt("<line x1=\"%.1f\"", px(x)) + Fmt(" x2=\"%.1f\"", px(x)) + Fmt(" y1=\"%.1f\"", kTop) +
         Fmt(" y2=\"%.1f\" stroke=\"#ddd\"/>\n", kTop + kPlotH);
    s += Fmt("<text x=\"%.1f\"", px(x)) + Fmt(" y=\"%.1f\" text-anchor=\"middle\">", kTop + kPlotH + 18) +
         Fmt("%.0f", x) + "</text>\n";
  }
  // Axes and their labels.
  s += Fmt("<rect x=\"%.1f\"", kLeft) + Fmt(" y=\"%.1f\"", kTop) + Fmt(" width=\"%.1f\"", kPlotW) +
       Fmt(" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n", kPlotH);
  s += Fmt("<text x=\"%.1f\"", kLeft + kPlotW / 2) + Fmt(" y=\"%.1f\" text-anchor=\"middle\">step</text>\n", kHeight - 10);
  s += Fmt("<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\"", kTop + kPlotH / 2) +
       Fmt(" transform=\"rotate(-90 16 %.1f)\">loss</text>\n", kTop + kPlotH / 2);
  // The series: train as a line, validation as a line with markers (it is sparse).
  struct Series {
    const char* name;
    const char* color;
    double LossRecord::*field;
  };
  const Series series[] = {{"train", "#1f77b4", &LossRecord::train_loss},
                           {"validation", "#ff7f0e", &LossRecord::val_loss}};
  int legend_row = 0;
  std::string legend;  // drawn last, over the curves
  for (const Series& ser : series) {
    std::string points, markers;
    for (const LossRecord& r : records) {
      const double y = r.*ser.field;
      if (!std::isfinite(y)) continue;
      const std::string xy = Fmt("%.2f", px(static_cast<double>(r.step))) + "," + Fmt("%.2f", py(y));
      points += (points.empty() ? "" : " ") + xy;
      if (ser.field == &LossRecord::val_loss) {
        markers += Fmt("<circle cx=\"%.2f\"", px(static_cast<double>(r.step))) + Fmt(" cy=\"%.2f\" r=\"3\"", py(y)) +
                   " fill=\"" + ser.color + "\"/>\n";
      }
    }
    if (points.empty()) continue;
    s += std::string("<polyline class=\"") + ser.name + "\" fill=\"none\" stroke=\"" + ser.color +
         "\" stroke-width=\"1.5\" points=\"" + points + "\"/>\n" + markers;
    const double ly = kTop + 16 + 18 * legend_row++;
    legend += Fmt("<line x1=\"%.1f\"", kLeft + kPlotW - 120) + Fmt(" x2=\"%.1f\"", kLeft + kPlotW - 96) +
         Fmt(" y1=\"%.1f\"", ly) + Fmt(" y2=\"%.1f\" stroke=\"", ly) + ser.color + "\" stroke-width=\"2\"/>\n";
    legend += Fmt("<text x=\"%.1f\"", kLeft + kPlotW - 90) + Fmt(" y=\"%.1f\">", ly + 4) + ser.name + "</text>\n";
  }
  if (legend_row > 0) {
    s += Fmt("<rect x=\"%.1f\"", kLeft + kPlotW - 128) + Fmt(" y=\"%.1f\" width=\"120\"", kTop + 4) +
         Fmt(" height=\"%.0f\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n", 6.0 + 18 * legend_row) + legend;
  }
  s += "</svg>\n";
  return s;
}

}  // namespace leanlm
