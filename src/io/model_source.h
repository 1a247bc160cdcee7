// Opens a model from any supported format and hands it over in one shape:
// llama.cpp tensor names and ggml shapes, a ModelConfig and the vocabulary.
//   - GGUF file (.gguf)
//   - Hugging Face directory (config.json, *.safetensors [+ index], tokenizer.json)
//   - llama2.c checkpoint (.bin v0 float32); its tokenizer comes separately
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mmap_file.h"
#include "model/config.h"
#include "model/weights.h"
#include "tokenizer/vocab.h"

namespace leanlm {

enum class ModelFormat { kGguf, kHfDir, kLlama2c };

struct ModelSource {
  ModelFormat format = ModelFormat::kGguf;
  std::string path;
  ModelConfig config;
  TensorMap tensors;                     // GGUF names, ggml shapes, views into mapped files/buffers
  std::optional<VocabData> vocab;        // absent when the format carries none (llama2.c)
  std::vector<std::shared_ptr<const void>> keep_alive;  // mappings and buffers the views point into
  std::vector<std::shared_ptr<const MappedFile>> files;  // the mapped files among them (ReleasePages)
};

struct LoadOptions {
  MappedFile::Mode mode = MappedFile::Mode::kMap;
  std::string tokenizer_path;  // overrides/adds the vocabulary (llama2.c tokenizer.bin, tokenizer.json, GGUF)
};

Result<ModelFormat> DetectModelFormat(const std::string& path);
Result<ModelSource> LoadModelSource(const std::string& path, const LoadOptions& options = {});

// Loads only a vocabulary: a GGUF (vocab-only is fine), a tokenizer.json, an
// HF directory, or a llama2.c tokenizer.bin.
Result<VocabData> LoadVocab(const std::string& path);

}  // namespace leanlm
