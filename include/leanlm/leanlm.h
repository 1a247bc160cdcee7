// leanlm's public API: load a model from GGUF, a Hugging Face directory or a
// llama2.c checkpoint, generate text, and score it.
//
//   auto model = leanlm::Model::Load("model.gguf").value();
//   leanlm::ThreadPool pool;
//   leanlm::Session session(*model, pool);
//   session.Feed(model->tokenizer().Encode("Once upon a time", true, false));
//   session.Generate({.n_predict = 64}, [](std::string_view s) { fwrite(s.data(), 1, s.size(), stdout); });
#pragma once

#include "base/status.h"        // Status, Result<T>
#include "base/thread_pool.h"   // ThreadPool
#include "eval/perplexity.h"    // ComputePerplexity
#include "runtime/model.h"      // Model, ModelOptions
#include "runtime/session.h"    // Session, GenerateOptions, GenerateStats
#include "tokenizer/tokenizer.h"  // Tokenizer, StreamDecoder
