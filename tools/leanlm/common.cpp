#include "common.h"

#include <cstdio>
#include <thread>

#include "base/mmap_file.h"

namespace leanlm::cli {

int Fail(const std::string& command, const Status& status) {
  std::fflush(stdout);
  std::fprintf(stderr, "leanlm %s: error: %s\n", command.c_str(), status.message().c_str());
  return 1;
}

void ModelFlags::Register(ArgParser& args) {
  args.AddString("-m,--model", &model_path, "model: GGUF file, Hugging Face directory, or llama2.c .bin", "PATH");
  args.AddString("--tokenizer", &tokenizer_path, "tokenizer file (llama2.c tokenizer.bin, tokenizer.json, GGUF)",
                 "PATH");
  args.AddInt("-t,--threads", &threads, "threads (default: all cores)", 0, 1024);
  args.AddFlag("--no-mmap", &no_mmap, "load weights into memory instead of mapping the file");
  args.Require("--model");
}

ModelOptions ModelFlags::options() const {
  ModelOptions o;
  o.tokenizer_path = tokenizer_path;
  o.load_into_memory = no_mmap;
  return o;
}

int ModelFlags::n_threads() const {
  return threads > 0 ? static_cast<int>(threads) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Result<std::string> ReadTextArgument(const std::string& text, const std::string& file, bool text_given) {
  if (text_given && !file.empty()) return Status::Error("give either -p TEXT or -f FILE, not both");
  if (!file.empty()) return ReadTextFile(file);
  if (!text_given) return Status::Error("give -p TEXT or -f FILE");
  return text;
}

int ParseOrExit(ArgParser& args, int argc, char** argv) {
  const Status st = args.Parse(argc, argv);
  if (!st.ok()) {
    std::fprintf(stderr, "leanlm: error: %s\n", st.message().c_str());
    return 2;
  }
  if (args.help_requested()) {
    std::fputs(args.Usage().c_str(), stdout);
    return 0;
  }
  return -1;
}

}  // namespace leanlm::cli
