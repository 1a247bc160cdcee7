// Helpers shared by the tokenizer tests: where ../shared/data is and how
// llama.cpp's .inp/.out tokenizer vectors are laid out.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace leanlm::testing {

inline std::string DataDir() { return std::string(LEANLM_SOURCE_DIR) + "/../shared/data"; }

inline bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// NAME.gguf.inp holds the strings separated by "\n__ggml_vocab_test__\n";
// NAME.gguf.out one line of space-separated ids per string (llama.cpp's
// tests/test-tokenizer-0.cpp reads them the same way). Returns nothing when
// the two files disagree on the number of cases.
inline std::vector<VocabCase> ReadVocabCases(const std::string& inp_path, const std::string& out_path) {
  const std::string raw = ReadFile(inp_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(raw.substr(pos));
      break;
    }
    texts.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<VocabCase> cases;
  std::ifstream out(out_path);
  std::string line;
  for (size_t i = 0; std::getline(out, line); ++i) {
    if (i >= texts.size()) return {};
    VocabCase c;
    c.text = texts[i];
    std::istringstream ids(line);
    int64_t id;
    while (ids >> id) c.ids.push_back(static_cast<int32_t>(id));
    cases.push_back(std::move(c));
  }
  if (cases.size() != texts.size()) return {};
  return cases;
}

}  // namespace leanlm::testing
