#include "tokenizer/vocab.h"

#include <algorithm>
#include <string_view>
#include "tokenizer/token_index.h"
#include "tokenizer/unicode.h"

namespace leanlm {

int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = text[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

std::string ByteTokenText(uint8_t byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("<0x") + kHex[byte >> 4] + kHex[byte & 15] + ">";
}

namespace {

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (s.size() > 40) out += "...";
  return out + "'";
}

}  // namespace

Status VocabData::Validate(const std::string& source) const {
  LEANLM_RETURN_IF_ERROR(ValidateExceptMerges(source));
  if (merges.empty()) return Status::Ok();
  TokenIndex index(&tokens, tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) index.Add(static_cast<int32_t>(i));
  std::string joined;
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& merge = merges[i];
    // As llama.cpp: the separator is the first space after the first byte.
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size()) {
      return Status::Error(source + ": merge " + std::to_string(i) + " " + Quote(merge) +
                           " is not two tokens separated by a space");
    }
    const std::string_view left(merge.data(), space), right(merge.data() + space + 1, merge.size() - space - 1);
    joined.assign(left).append(right);
    for (std::string_view part : {left, right, std::string_view(joined)}) {
      if (index.Find(part) < 0) {
        return Status::Error(source + ": merge " + std::to_string(i) + " " + Quote(merge) + " refers to " +
                             Quote(part) + ", which is not in the vocabulary");
      }
    }
  }
  return Status::Ok();
}

Status VocabData::ValidateExceptMerges(const std::string& source) const {
  auto error = [&](const std::string& what) { return Status::Error(source + ": " + what); };
  if (model != "llama" && model != "gpt2") {
    return error("unsupported tokenizer model '" + model +
                 "' (supported: 'llama' = SentencePiece BPE, 'gpt2' = byte-level BPE)");
  }
  if (model == "gpt2") {
    const auto& pres = SupportedPreTokenizers();
    if (std::find(pres.begin(), pres.end(), pre) == pres.end()) {
      return error("unsupported pre-tokenizer '" + pre + "' for a byte-level BPE vocabulary");
    }
  }
  if (tokens.empty()) return error("the vocabulary has no tokens");
  if (tokens.size() > (size_t{1} << 30)) return error("too many tokens: " + std::to_string(tokens.size()));
  const auto n = static_cast<int64_t>(tokens.size());
  if (!scores.empty() && scores.size() != tokens.size()) {
    return error("tokenizer.ggml.scores has " + std::to_string(scores.size()) + " entries, expected " +
                 std::to_string(n) + " (one per token)");
  }
  if (!token_types.empty() && token_types.size() != tokens.size()) {
    return error("tokenizer.ggml.token_type has " + std::to_string(token_types.size()) +
                 " entries, expected " + std::to_string(n) + " (one per token)");
  }
  for (size_t i = 0; i < token_types.size(); ++i) {
    if (token_types[i] < 0 || token_types[i] > 6) {
      return error("token " + std::to_string(i) + " has token type " + std::to_string(token_types[i]) +
                   ", expected 0..6");
    }
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!IsValidUtf8(tokens[i])) {
      return error("token " + std::to_string(i) + " " + Quote(tokens[i]) + " is not valid UTF-8");
    }
  }
  const std::pair<const char*, int32_t> ids[] = {
      {"bos", bos_id}, {"eos", eos_id}, {"unknown", unk_id}, {"padding", pad_id}, {"eot", eot_id}};
  for (const auto& [name, id] : ids) {
    if (id < -1 || id >= n) {
      return error(std::string(name) + " token id " + std::to_string(id) + " is out of range [0, " +
                   std::to_string(n) + ")");
    }
  }
  if (add_bos && bos_id < 0) return error("add_bos_token is set but there is no BOS token");
  if (add_eos && eos_id < 0) return error("add_eos_token is set but there is no EOS token");
  if (model == "llama" && !merges.empty()) return error("a SentencePiece ('llama') vocabulary has merges");
  return Status::Ok();
}

}  // namespace leanlm
