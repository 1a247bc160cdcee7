#include "runtime/session.h"

#include <chrono>

namespace leanlm {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Session::Session(Model& model, ThreadPool& pool, int64_t n_ctx)
    : model_(model),
      pool_(pool),
      n_virtual_(model.llama().n_virtual()),
      cache_(model.config(), (n_ctx > 0 ? n_ctx : model.config().n_ctx_train) + n_virtual_),
      logits_(model.config().n_vocab) {}

Status Session::Feed(const std::vector<int32_t>& new_tokens) {
  std::vector<int32_t> tokens;
  if (pending_ >= 0) tokens.push_back(pending_);
  tokens.insert(tokens.end(), new_tokens.begin(), new_tokens.end());
  if (tokens.empty()) return Status::Ok();
  if (pos_ + static_cast<int64_t>(tokens.size()) > n_ctx()) {
    return Status::Error("context full: " + std::to_string(pos_) + " + " + std::to_string(tokens.size()) +
                         " tokens exceed the context of " + std::to_string(n_ctx()));
  }
  const auto start = std::chrono::steady_clock::now();
  LEANLM_RETURN_IF_ERROR(model_.llama().Forward(tokens.data(), static_cast<int64_t>(tokens.size()), pos_, cache_,
                                                logits_.data(), /*all_logits=*/false, pool_));
  last_feed_seconds_ = SecondsSince(start);
  last_feed_tokens_ = static_cast<int64_t>(tokens.size());
  pos_ += static_cast<int64_t>(tokens.size());
  last_token_ = tokens.back();
  pending_ = -1;
  return Status::Ok();
}

Result<GenerateStats> Session::Generate(const GenerateOptions& options,
                                        const std::function<void(std::string_view)>& on_text,
                                        std::vector<int32_t>* generated) {
  if (pending_ >= 0) LEANLM_RETURN_IF_ERROR(Feed({}));
  if (pos_ == 0) return Status::Error("nothing fed: generation needs at least one prompt token");
  GenerateStats stats;
  stats.n_prompt = last_feed_tokens_;
  stats.prompt_seconds = last_feed_seconds_;
  const Tokenizer& tok = model_.tokenizer();
  Sampler sampler(options.sampler);
  StreamDecoder decoder(tok);
  decoder.ContinueAfter(last_token_);  // after BOS the dummy-prefix space is dropped, as llama2.c prints
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; options.n_predict < 0 || i < options.n_predict; ++i) {
    if (pending_ >= 0) {  // the previous sample: run it only now that another token is wanted
      if (pos_ >= n_ctx()) break;
      LEANLM_RETURN_IF_ERROR(model_.llama().Forward(&pending_, 1, pos_, cache_, logits_.data(), false, pool_));
      ++pos_;
      pending_ = -1;
    }
    const int32_t id = sampler.Sample(logits_.data(), static_cast<int64_t>(logits_.size()));
    if (options.stop_at_end && (id == tok.bos() || tok.IsEndOfGeneration(id))) {
      pending_ = id;  // a chat's next turn follows the end-of-turn token, as the template expects
      break;
    }
    sampler.Accept(id);
    if (generated) generated->push_back(id);
    ++stats.n_generated;
    const std::string text = decoder.Push(id);
    if (!text.empty()) on_text(text);
    last_token_ = id;
    pending_ = id;
  }
  const std::string rest = decoder.Flush();
  if (!rest.empty()) on_text(rest);
  stats.generate_seconds = SecondsSince(start);
  return stats;
}

}  // namespace leanlm
