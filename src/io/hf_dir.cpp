// An HF directory with its tokenizer: the model files (hf_load.cpp,
// hf_save.cpp) plus tokenizer.json and tokenizer_config.json.
#include "io/hf_dir.h"

#include <sys/stat.h>

#include "base/log.h"
#include "tokenizer/vocab_loaders.h"

namespace leanlm {
namespace {

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<ModelSource> LoadHfDir(const std::string& dir, const LoadOptions& options) {
  LEANLM_ASSIGN_OR_RETURN(ModelSource src, LoadHfModelFiles(dir, options));
  // An override is read as a tokenizer.json (with the tokenizer_config.json
  // beside it); LoadModelSource reads other vocabulary formats itself.
  const bool overridden = !options.tokenizer_path.empty();
  const std::string tokenizer = overridden ? options.tokenizer_path : dir + "/tokenizer.json";
  if (!overridden && !IsFile(tokenizer)) {
    LEANLM_WARN("%s: no tokenizer.json; the model is loaded without a vocabulary", dir.c_str());
    return src;
  }
  const size_t slash = tokenizer.rfind('/');
  const std::string config = (slash == std::string::npos ? std::string(".") : tokenizer.substr(0, slash)) +
                             "/tokenizer_config.json";  // a missing one means no extra settings
  LEANLM_ASSIGN_OR_RETURN(src.vocab, VocabFromTokenizerJson(tokenizer, config));
  return src;
}

Status SaveHfDir(const ModelSource& source, const std::string& dir) {
  LEANLM_RETURN_IF_ERROR(SaveHfModelFiles(source, dir));
  if (!source.vocab) {
    LEANLM_WARN("%s: the model has no vocabulary; no tokenizer.json written", dir.c_str());
    return Status::Ok();
  }
  return VocabToTokenizerJson(*source.vocab, dir + "/tokenizer.json", dir + "/tokenizer_config.json");
}

}  // namespace leanlm
