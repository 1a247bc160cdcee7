#include "model/config.h"

#include <cmath>

namespace leanlm {
namespace {

// Generous bounds that no real model reaches; they keep products such as
// n_layer * n_ctx * kv_dim far from overflow.
constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxVocab = int64_t{1} << 30;  // ids are int32

Status Bad(const std::string& source, const std::string& what) {
  return Status::Error(source + ": invalid model config: " + what);
}

Status CheckRange(const std::string& source, const char* name, int64_t v, int64_t max) {
  if (v <= 0 || v > max) {
    return Bad(source, std::string(name) + " is " + std::to_string(v) + ", expected 1.." + std::to_string(max));
  }
  return Status::Ok();
}

Status CheckPositive(const std::string& source, const char* name, float v) {
  if (!std::isfinite(v) || v <= 0) return Bad(source, std::string(name) + " is " + std::to_string(v) + ", expected > 0");
  return Status::Ok();
}

}  // namespace

Status ModelConfig::Validate(const std::string& source) const {
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "n_vocab", n_vocab, kMaxVocab));
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "n_embd", n_embd, kMaxWidth));
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "n_layer", n_layer, kMaxLayers));
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "n_head", n_head, kMaxWidth));
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "n_head_kv", n_head_kv, kMaxWidth));
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "n_ff", n_ff, kMaxWidth));
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "head_dim", head_dim, kMaxWidth));
  LEANLM_RETURN_IF_ERROR(CheckRange(source, "n_ctx_train", n_ctx_train, kMaxWidth * 64));
  if (n_head % n_head_kv != 0) {
    return Bad(source, "n_head (" + std::to_string(n_head) + ") is not a multiple of n_head_kv (" +
                           std::to_string(n_head_kv) + ")");
  }
  if (q_dim() > kMaxWidth) return Bad(source, "n_head * head_dim = " + std::to_string(q_dim()) + " is too large");
  if (rope_dim < 0 || rotary_dim() > head_dim || rotary_dim() % 2 != 0) {
    return Bad(source, "rope_dim " + std::to_string(rope_dim) + " must be even and at most head_dim (" +
                           std::to_string(head_dim) + "); 0 means head_dim");
  }
  LEANLM_RETURN_IF_ERROR(CheckPositive(source, "norm_eps", norm_eps));
  LEANLM_RETURN_IF_ERROR(CheckPositive(source, "rope_theta", rope_theta));
  LEANLM_RETURN_IF_ERROR(CheckPositive(source, "rope_factor", rope_factor));
  LEANLM_RETURN_IF_ERROR(CheckPositive(source, "embed_scale", embed_scale));
  if (rope_scaling == RopeScaling::kLlama3) {
    LEANLM_RETURN_IF_ERROR(CheckPositive(source, "rope_low_freq_factor", rope_low_freq_factor));
    LEANLM_RETURN_IF_ERROR(CheckPositive(source, "rope_high_freq_factor", rope_high_freq_factor));
    LEANLM_RETURN_IF_ERROR(CheckRange(source, "rope_orig_ctx", rope_orig_ctx, kMaxWidth * 64));
    if (rope_high_freq_factor <= rope_low_freq_factor) {
      return Bad(source, "llama3 rope scaling needs rope_high_freq_factor (" + std::to_string(rope_high_freq_factor) +
                             ") > rope_low_freq_factor (" + std::to_string(rope_low_freq_factor) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace leanlm
