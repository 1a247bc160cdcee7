// A small command-line flag parser for the subcommands. Every value is
// untrusted: a number that does not parse, a flag that does not exist, or a
// missing value gives an error naming the flag, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace leanlm::cli {

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  // `names` is "-m,--model" style; `meta` names the value in the usage line.
  void AddString(const std::string& names, std::string* value, const std::string& help, const std::string& meta = "S");
  void AddStrings(const std::string& names, std::vector<std::string>* values, const std::string& help,
                  const std::string& meta = "S");  // repeatable
  void AddInt(const std::string& names, int64_t* value, const std::string& help, int64_t min, int64_t max);
  void AddFloat(const std::string& names, double* value, const std::string& help, double min, double max);
  void AddFlag(const std::string& names, bool* value, const std::string& help);
  // Positional arguments, in order; required ones come first.
  void AddPositional(const std::string& name, std::string* value, const std::string& help, bool required = true);
  void Require(const std::string& long_name);  // a named option that must be given

  // Parses argv[first..argc). --help prints usage and sets help_requested().
  Status Parse(int argc, char** argv, int first = 2);
  bool help_requested() const { return help_; }
  bool was_set(const std::string& long_name) const;
  std::string Usage() const;

 private:
  enum class Kind { kString, kStrings, kInt, kFloat, kFlag };
  struct Option {
    std::vector<std::string> names;
    Kind kind;
    void* target;
    std::string help, meta;
    int64_t imin = 0, imax = 0;
    double fmin = 0, fmax = 0;
    bool required = false, seen = false;
  };
  struct Positional {
    std::string name;
    std::string* target;
    std::string help;
    bool required;
  };
  Option* Find(const std::string& name);
  const Option* Find(const std::string& name) const;
  Status Assign(Option& opt, const std::string& flag, const std::string& value);

  std::string command_, summary_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
  bool help_ = false;
};

}  // namespace leanlm::cli
