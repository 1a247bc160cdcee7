#include "args.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace leanlm::cli {
namespace {

std::vector<std::string> SplitNames(const std::string& names) {
  std::vector<std::string> out;
  std::stringstream ss(names);
  std::string name;
  while (std::getline(ss, name, ',')) out.push_back(name);
  return out;
}

}  // namespace

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::AddString(const std::string& names, std::string* value, const std::string& help, const std::string& meta) {
  options_.push_back({SplitNames(names), Kind::kString, value, help, meta});
}
void ArgParser::AddStrings(const std::string& names, std::vector<std::string>* values, const std::string& help,
                           const std::string& meta) {
  options_.push_back({SplitNames(names), Kind::kStrings, values, help, meta});
}
void ArgParser::AddInt(const std::string& names, int64_t* value, const std::string& help, int64_t min, int64_t max) {
  Option opt{SplitNames(names), Kind::kInt, value, help, "N"};
  opt.imin = min;
  opt.imax = max;
  options_.push_back(opt);
}
void ArgParser::AddFloat(const std::string& names, double* value, const std::string& help, double min, double max) {
  Option opt{SplitNames(names), Kind::kFloat, value, help, "X"};
  opt.fmin = min;
  opt.fmax = max;
  options_.push_back(opt);
}
void ArgParser::AddFlag(const std::string& names, bool* value, const std::string& help) {
  options_.push_back({SplitNames(names), Kind::kFlag, value, help, ""});
}
void ArgParser::AddPositional(const std::string& name, std::string* value, const std::string& help, bool required) {
  positionals_.push_back({name, value, help, required});
}
void ArgParser::Require(const std::string& long_name) {
  if (Option* opt = Find(long_name)) opt->required = true;
}

ArgParser::Option* ArgParser::Find(const std::string& name) {
  for (auto& opt : options_) {
    for (const auto& n : opt.names) {
      if (n == name) return &opt;
    }
  }
  return nullptr;
}
const ArgParser::Option* ArgParser::Find(const std::string& name) const {
  return const_cast<ArgParser*>(this)->Find(name);
}

bool ArgParser::was_set(const std::string& long_name) const {
  const Option* opt = Find(long_name);
  return opt && opt->seen;
}

Status ArgParser::Assign(Option& opt, const std::string& flag, const std::string& value) {
  switch (opt.kind) {
    case Kind::kString:
      *static_cast<std::string*>(opt.target) = value;
      return Status::Ok();
    case Kind::kStrings:
      static_cast<std::vector<std::string>*>(opt.target)->push_back(value);
      return Status::Ok();
    case Kind::kInt: {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE) {
        return Status::Error(flag + " expects an integer, got '" + value + "'");
      }
      if (v < opt.imin || v > opt.imax) {
        return Status::Error(flag + " must be in [" + std::to_string(opt.imin) + ", " + std::to_string(opt.imax) +
                             "], got " + value);
      }
      *static_cast<int64_t*>(opt.target) = v;
      return Status::Ok();
    }
    case Kind::kFloat: {
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(v)) {
        return Status::Error(flag + " expects a number, got '" + value + "'");
      }
      if (v < opt.fmin || v > opt.fmax) {
        std::ostringstream os;
        os << flag << " must be in [" << opt.fmin << ", " << opt.fmax << "], got " << value;
        return Status::Error(os.str());
      }
      *static_cast<double*>(opt.target) = v;
      return Status::Ok();
    }
    case Kind::kFlag:
      *static_cast<bool*>(opt.target) = true;
      return Status::Ok();
  }
  return Status::Ok();
}

Status ArgParser::Parse(int argc, char** argv, int first) {
  size_t next_positional = 0;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      return Status::Ok();
    }
    if (arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && (std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.'))) {
      std::string value;
      bool has_inline = false;
      if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
      Option* opt = Find(arg);
      if (!opt) return Status::Error("unknown option '" + arg + "' for '" + command_ + "' (see --help)");
      opt->seen = true;
      if (opt->kind == Kind::kFlag) {
        if (has_inline) return Status::Error(arg + " takes no value");
        LEANLM_RETURN_IF_ERROR(Assign(*opt, arg, ""));
        continue;
      }
      if (!has_inline) {
        if (i + 1 >= argc) return Status::Error(arg + " needs a value");
        value = argv[++i];
      }
      LEANLM_RETURN_IF_ERROR(Assign(*opt, arg, value));
      continue;
    }
    if (next_positional >= positionals_.size()) {
      return Status::Error("unexpected argument '" + arg + "' for '" + command_ + "' (see --help)");
    }
    *positionals_[next_positional++].target = arg;
  }
  for (size_t p = next_positional; p < positionals_.size(); ++p) {
    if (positionals_[p].required) return Status::Error("missing " + positionals_[p].name + " (see --help)");
  }
  for (const auto& opt : options_) {
    if (opt.required && !opt.seen) return Status::Error("missing required option " + opt.names.back());
  }
  return Status::Ok();
}

std::string ArgParser::Usage() const {
  std::ostringstream os;
  os << "usage: leanlm " << command_;
  for (const auto& p : positionals_) os << (p.required ? " " : " [") << p.name << (p.required ? "" : "]");
  if (!options_.empty()) os << " [options]";
  os << "\n" << summary_ << "\n";
  if (!positionals_.empty() || !options_.empty()) os << "\n";
  for (const auto& p : positionals_) os << "  " << p.name << "\n      " << p.help << "\n";
  for (const auto& opt : options_) {
    os << "  ";
    for (size_t i = 0; i < opt.names.size(); ++i) os << (i ? ", " : "") << opt.names[i];
    if (!opt.meta.empty()) os << " " << opt.meta;
    if (opt.required) os << "  (required)";
    os << "\n      " << opt.help << "\n";
  }
  return os.str();
}

}  // namespace leanlm::cli
