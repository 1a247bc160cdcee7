#include "runtime/model.h"

#include <thread>

#include "base/thread_pool.h"
#include "peft/adapter_io.h"

namespace leanlm {

Result<std::unique_ptr<Model>> Model::Load(const std::string& path, const ModelOptions& options) {
  LoadOptions load;
  load.tokenizer_path = options.tokenizer_path;
  // Packing copies weights into memory anyway: map the file first and load
  // it into memory only if nothing packs.
  const bool into_memory = options.load_into_memory && !options.pack_weights;
  load.mode = into_memory ? MappedFile::Mode::kLoadIntoMemory
              : options.prefault ? MappedFile::Mode::kMapPopulate
                                 : MappedFile::Mode::kMap;
  std::unique_ptr<Model> model(new Model());
  LEANLM_ASSIGN_OR_RETURN(model->source_, LoadModelSource(path, load));
  ModelSource& src = model->source_;
  if (!src.vocab) {
    return Status::Error(path + " carries no tokenizer: pass one with --tokenizer (llama2.c tokenizer.bin, "
                         "tokenizer.json or GGUF)");
  }
  LEANLM_RETURN_IF_ERROR(src.config.Validate(path));
  if (static_cast<int64_t>(src.vocab->tokens.size()) > src.config.n_vocab) {
    return Status::Error("tokenizer has " + std::to_string(src.vocab->tokens.size()) + " tokens but " + path +
                         " has an embedding for " + std::to_string(src.config.n_vocab));
  }
  LEANLM_ASSIGN_OR_RETURN(ModelWeights weights, BindWeights(src.config, src.tensors, path));
  LEANLM_ASSIGN_OR_RETURN(model->tokenizer_, Tokenizer::Create(*src.vocab));
  model->llama_ = std::make_unique<LlamaModel>(src.config, std::move(weights));
  if (options.pack_weights) {
    ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    // The packed copy replaces the mapped bytes for inference: those leave
    // the resident set (they stay in the page cache for the views' other
    // readers), so a packed model takes the memory of one copy, not two.
    auto release = [&src](const TensorView& v) {
      for (const auto& file : src.files) file->ReleasePages(v.data, v.bytes());
    };
    LEANLM_ASSIGN_OR_RETURN(const size_t packed, model->llama_->PackWeights(pool, release));
    if (packed == 0 && options.load_into_memory) {
      ModelOptions unpacked = options;
      unpacked.pack_weights = false;
      return Load(path, unpacked);
    }
  }
  if (!options.adapters.empty()) LEANLM_RETURN_IF_ERROR(model->SetAdapters(options.adapters));
  return model;
}

Status Model::SetAdapters(const std::vector<std::string>& specs) {
  std::vector<std::shared_ptr<const Adapter>> adapters;
  for (const std::string& arg : specs) {
    LEANLM_ASSIGN_OR_RETURN(const AdapterSpec spec, ParseAdapterSpec(arg));
    LEANLM_ASSIGN_OR_RETURN(Adapter adapter, LoadAdapter(spec, config()));
    adapters.push_back(std::make_shared<const Adapter>(std::move(adapter)));
  }
  return llama_->SetAdapters(std::move(adapters));
}

}  // namespace leanlm
