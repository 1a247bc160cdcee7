// leanlm finetune: trains a fine-tuning method (full, LoRA, DoRA, QLoRA,
// bottleneck adapters, prompt, prefix, P-tuning v2) on a text or JSONL file
// and writes the result to --out: the adapter in Hugging Face PEFT's format
// (or the model as GGUF for full fine-tuning), loss.csv, loss.svg and the
// checkpoints that --resume continues from.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "io/convert.h"
#include "io/model_source.h"
#include "model/weights.h"
#include "peft/peft_format.h"
#include "train/checkpoint.h"
#include "train/llama_train_objective.h"
#include "train/peft_methods.h"
#include "train/trainer.h"

namespace leanlm::cli {
namespace {

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

double PeakMemoryMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// Full fine-tuning's result: the base with every trained tensor replaced by
// its F32 master copy, as a GGUF.
Status SaveFullModel(const ModelSource& base, const TrainableModel& model, const std::string& path) {
  ModelSource trained = base;
  for (const auto& t : model.tensors) {
    if (!trained.tensors.count(t->name)) continue;  // only base weights (full trains no extras)
    trained.tensors[t->name] = t->view();
  }
  return SaveGguf(trained, path);
}

// What the run leaves in out_dir besides the trainer's files: the adapter
// (PEFT directory "adapter") or the model ("model.gguf").
Status SaveResult(const ModelSource& base, TrainableModel& model, const MethodOptions& method, ThreadPool& pool,
                  const std::string& out_dir) {
  if (method.method == TrainMethod::kFull) return SaveFullModel(base, model, out_dir + "/model.gguf");
  if (method.method == TrainMethod::kAdapter) return Status::Ok();  // no PEFT form: the checkpoint holds it
  LEANLM_ASSIGN_OR_RETURN(Adapter adapter, ExportAdapter(model, method, pool));
  adapter.base_model = base.path;
  return SavePeftAdapter(adapter, base.config, out_dir + "/adapter");
}

// Bytes of the frozen base weights the graph reads (QLoRA's NF4 copies
// included) and what they would take in F32, a tied head counted once:
// "frozen base weights 0.16 MiB (14.3% of F32)".
std::string DescribeBaseMemory(TrainableModel& model) {
  double bytes = 0, f32_bytes = 0;
  // The visitor never fails, so neither does the walk.
  (void)ForEachTensor(model.config, model.weights, [&](const WeightSpec& spec, TensorView& view) {
    const bool tied_head = spec.name == "output.weight" && view.data == model.weights.token_embd.data;
    if (view.valid() && !tied_head && model.GradOf(view) == nullptr) {
      bytes += static_cast<double>(view.bytes());
      f32_bytes += 4.0 * static_cast<double>(view.elements());
    }
    return Status::Ok();
  });
  char text[96];
  std::snprintf(text, sizeof text, "frozen base weights %.2f MiB (%.1f%% of F32)", bytes / (1 << 20),
                f32_bytes > 0 ? 100.0 * bytes / f32_bytes : 0.0);
  return text;
}

}  // namespace

int FinetuneCommand(int argc, char** argv) {
  std::string model_path, tokenizer_path, data_path, val_path, method_name = "lora", out_dir, targets = "q,k,v,o";
  std::string target_regex, full_regex, optimizer = "adamw", schedule = "cosine", chat_template, format = "auto";
  std::string adapter_at = "attn,ffn";
  int64_t steps = 0, ctx = 256, batch = 4, grad_accum = 1, seed = 0, save_every = 0, eval_every = 0;
  int64_t eval_batches = 0, warmup = 0, r = 8, bottleneck = 16, virtual_tokens = 10, prefix_hidden = 0, threads = 0;
  double epochs = 1, lr = 1e-3, val_split = 0, alpha = 16, dropout = 0, weight_decay = 0, clip = 1;
  bool resume = false, rslora = false, recompute = false, skip_bad = false, quiet = false, qlora_embeddings = false;

  ArgParser args("finetune",
                 "Fine-tunes a model on a text or JSONL file ({\"text\"}, {\"prompt\",\"completion\"}: loss on the "
                 "completion, {\"messages\"}: loss on the assistant turns, with the model's chat template). --out DIR "
                 "receives the adapter as a Hugging Face PEFT directory DIR/adapter (full: DIR/model.gguf; adapter: "
                 "the checkpoint only), loss.csv, loss.svg and checkpoints.");
  args.AddString("-m,--model", &model_path, "base model (GGUF, Hugging Face directory, llama2.c .bin)", "MODEL");
  args.AddString("--tokenizer", &tokenizer_path, "tokenizer for models without one (llama2.c tokenizer.bin)",
                 "PATH");
  args.AddString("--data", &data_path, "training data: text, or .jsonl", "FILE");
  args.AddString("--val", &val_path, "validation data (same formats)", "FILE");
  args.AddFloat("--val-split", &val_split, "without --val: this fraction of the training sequences, by seed", 0,
                0.9);
  args.AddString("--format", &format, "data format: auto (.jsonl is JSONL), text or jsonl", "F");
  args.AddString("--chat-template", &chat_template,
                 "template for {\"messages\"} lines: a family name (chatml, llama3, ...); default: the model's", "T");
  args.AddFlag("--skip-bad", &skip_bad, "skip bad JSONL lines (counted) instead of stopping");
  args.AddString("--method", &method_name, "full, lora, dora, qlora, adapter, prompt, prefix or ptuning2", "M");
  args.AddInt("--steps", &steps, "optimizer steps (default: from --epochs)", 0, int64_t{1} << 40);
  args.AddFloat("--epochs", &epochs, "passes over the training data when --steps is not given", 1e-6, 1e6);
  args.AddInt("-c,--ctx", &ctx, "tokens per sequence", 2, 1 << 20);
  args.AddInt("--batch", &batch, "sequences per micro-batch", 1, 1 << 16);
  args.AddInt("--grad-accum", &grad_accum, "micro-batches per optimizer step", 1, 1 << 16);
  args.AddFloat("--lr", &lr, "peak learning rate", 0, 10);
  args.AddString("--optimizer", &optimizer, "adamw or sgd", "O");
  args.AddFloat("--weight-decay", &weight_decay, "AdamW's decoupled weight decay (SGD: L2)", 0, 10);
  args.AddString("--schedule", &schedule, "learning-rate schedule: constant, linear or cosine", "S");
  args.AddInt("--warmup", &warmup, "warm-up steps", 0, int64_t{1} << 40);
  args.AddFloat("--clip", &clip, "clip gradients to this global norm (0: off)", 0, 1e9);
  args.AddInt("--seed", &seed, "seed of initialisation, shuffling and dropout", 0, int64_t{1} << 62);
  args.AddInt("--eval-every", &eval_every, "steps between validations (0: start and end)", 0, int64_t{1} << 40);
  args.AddInt("--eval-batches", &eval_batches, "validation batches per evaluation (0: all)", 0, int64_t{1} << 40);
  args.AddInt("--save-every", &save_every, "steps between checkpoints (0: at the end)", 0, int64_t{1} << 40);
  args.AddString("--out", &out_dir, "output directory", "DIR");
  args.AddFlag("--resume", &resume, "continue from DIR's last checkpoint");
  args.AddFlag("--recompute", &recompute, "recompute each layer's activations in the backward (less memory)");
  args.AddInt("--r", &r, "LoRA rank", 1, 1 << 16);
  args.AddFloat("--alpha", &alpha, "LoRA alpha (scale alpha / r)", 1e-6, 1e6);
  args.AddFloat("--dropout", &dropout, "LoRA dropout on the adapter's input", 0, 0.99);
  args.AddFlag("--rslora", &rslora, "rank-stabilised LoRA: scale alpha / sqrt(r)");
  args.AddFlag("--qlora-embeddings", &qlora_embeddings, "qlora: token embeddings and head in NF4 too");
  args.AddString("--targets", &targets, "LoRA targets: q,k,v,o,gate,up,down", "LIST");
  args.AddString("--target-regex", &target_regex, "LoRA targets as a regex over blk.N.attn_q.weight-style names",
                 "RE");
  args.AddString("--full-regex", &full_regex, "full: train only the tensors this regex finds", "RE");
  args.AddInt("--bottleneck", &bottleneck, "adapter: bottleneck width", 1, 1 << 20);
  args.AddString("--adapter-at", &adapter_at, "adapter: after attn, ffn or both (attn,ffn)", "LIST");
  args.AddInt("--virtual-tokens", &virtual_tokens, "prompt, prefix, ptuning2: virtual tokens", 1, 1 << 16);
  args.AddInt("--prefix-hidden", &prefix_hidden, "prefix: hidden width of the reparameterization MLP (0: n_embd)",
              0, 1 << 20);
  args.AddInt("-t,--threads", &threads, "threads (default: all cores)", 0, 1024);
  args.AddFlag("--quiet", &quiet, "no progress bar");
  args.Require("--model");
  args.Require("--data");
  args.Require("--out");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  auto fail = [](const Status& s) { return Fail("finetune", s); };
  MethodOptions method;
  auto parsed_method = ParseTrainMethod(method_name);
  if (!parsed_method.ok()) return fail(parsed_method.status());
  method.method = *parsed_method;
  method.seed = static_cast<uint64_t>(seed);
  method.full_pattern = full_regex;
  method.r = r;
  method.alpha = static_cast<float>(alpha);
  method.dropout = static_cast<float>(dropout);
  method.rslora = rslora;
  method.targets = SplitList(targets);
  method.target_pattern = target_regex;
  method.qlora_embeddings = qlora_embeddings;
  method.bottleneck = bottleneck;
  const std::vector<std::string> at = SplitList(adapter_at);
  method.adapter_attn = std::find(at.begin(), at.end(), "attn") != at.end();
  method.adapter_ffn = std::find(at.begin(), at.end(), "ffn") != at.end();
  if (!method.adapter_attn && !method.adapter_ffn) {
    return fail(Status::Error("--adapter-at '" + adapter_at + "': expected attn, ffn or attn,ffn"));
  }
  method.n_virtual = virtual_tokens;
  method.prefix_hidden = prefix_hidden;

  TrainerOptions trainer;
  trainer.steps = steps;
  trainer.epochs = epochs;
  trainer.batch_size = batch;
  trainer.grad_accum = grad_accum;
  auto opt_kind = ParseOptimizerKind(optimizer);
  if (!opt_kind.ok()) return fail(opt_kind.status());
  trainer.optimizer.kind = *opt_kind;
  trainer.optimizer.weight_decay = weight_decay;
  auto sched_kind = ParseScheduleKind(schedule);
  if (!sched_kind.ok()) return fail(sched_kind.status());
  trainer.schedule.kind = *sched_kind;
  trainer.schedule.lr = lr;
  trainer.schedule.warmup_steps = warmup;
  trainer.max_grad_norm = clip;
  trainer.eval_every = eval_every;
  trainer.eval_batches = eval_batches;
  trainer.save_every = save_every;
  trainer.out_dir = out_dir;
  trainer.resume = resume;
  trainer.seed = static_cast<uint64_t>(seed);
  trainer.show_progress = !quiet;

  LoadOptions load;
  load.tokenizer_path = tokenizer_path;
  auto base = LoadModelSource(model_path, load);
  if (!base.ok()) return fail(base.status());
  if (!base->vocab.has_value()) {
    return fail(Status::Error(model_path + " has no tokenizer: give --tokenizer PATH"));
  }
  auto tokenizer = Tokenizer::Create(*base->vocab);
  if (!tokenizer.ok()) return fail(tokenizer.status());

  DatasetOptions data;
  data.train_path = data_path;
  data.val_path = val_path;
  data.val_split = val_split;
  data.seed = static_cast<uint64_t>(seed);
  data.data.ctx = ctx;
  data.data.skip_bad = skip_bad;
  data.data.chat_template = chat_template.empty() ? base->vocab->chat_template : chat_template;
  if (format == "text") {
    data.data.format = DataFormat::kText;
  } else if (format == "jsonl") {
    data.data.format = DataFormat::kJsonl;
  } else if (format != "auto") {
    return fail(Status::Error("--format '" + format + "': expected auto, text or jsonl"));
  }
  auto dataset = LoadDataset(**tokenizer, data);
  if (!dataset.ok()) return fail(dataset.status());
  std::fprintf(stderr, "data: %lld training sequences (%lld tokens with loss), %lld validation sequences\n",
               static_cast<long long>(dataset->train.size()),
               static_cast<long long>(dataset->train_stats.loss_tokens),
               static_cast<long long>(dataset->val.size()));

  auto weights = BindWeights(base->config, base->tensors, model_path);
  if (!weights.ok()) return fail(weights.status());
  ThreadPool pool(threads > 0 ? static_cast<int>(threads) : 0);
  auto model = BuildTrainableModel(base->config, *weights, method, pool);
  if (!model.ok()) return fail(model.status());
  std::fprintf(stderr, "method %s: %s\n", TrainMethodName(method.method), DescribeTrainable(**model).c_str());

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return fail(Status::Error("cannot create " + out_dir + ": " + ec.message()));
  trainer.on_checkpoint = [&](int64_t) { return SaveResult(*base, **model, method, pool, out_dir); };
  TrainGraphOptions graph;
  graph.recompute = recompute;
  LlamaObjective objective(**model, pool, graph);
  auto result = Train(objective, *dataset, trainer);
  if (!result.ok()) return fail(result.status());

  const double tokens_per_s = result->seconds > 0 ? static_cast<double>(result->tokens) / result->seconds : 0;
  std::printf("method %s: %s\n", TrainMethodName(method.method), DescribeTrainable(**model).c_str());
  std::printf("%s\n", DescribeBaseMemory(**model).c_str());
  std::printf("steps %lld/%lld, train loss %.4f, validation loss %.4f -> %.4f\n",
              static_cast<long long>(result->steps), static_cast<long long>(result->total_steps),
              result->last_train_loss, result->first_val_loss, result->last_val_loss);
  std::printf("%.0f tokens/s, %.1f s, peak memory %.1f MiB\n", tokens_per_s, result->seconds, PeakMemoryMiB());
  std::printf("wrote %s\n", out_dir.c_str());
  return 0;
}

}  // namespace leanlm::cli
