#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "base/mmap_file.h"
#include "io/safetensors.h"
#include "io/strict_json.h"

namespace leanlm {
namespace {

using Json = nlohmann::json;
constexpr const char* kRecordName = "checkpoint.json";
constexpr const char* kFormat = "leanlm-train-checkpoint";
constexpr int kVersion = 1;

std::string Hex(uint64_t x) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

Result<uint64_t> ParseHex(const Json& j, const std::string& what) {
  if (!j.is_string() || j.get<std::string>().size() != 16) return Status::Error(what + ": expected 16 hex digits");
  uint64_t x = 0;
  for (char c : j.get<std::string>()) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return Status::Error(what + ": expected 16 hex digits");
    x = x << 4 | static_cast<uint64_t>(d);
  }
  return x;
}

TensorView F32View(const float* data, int64_t n, const std::vector<int64_t>& ne) {
  TensorView v;
  v.data = data;
  v.type = DType::kF32;
  if (ne.empty()) {
    v.n_dims = 1;
    v.ne[0] = n;
  } else {
    v.n_dims = static_cast<int>(ne.size());
    for (size_t i = 0; i < ne.size(); ++i) v.ne[i] = ne[i];
  }
  return v;
}

// Makes the renames in `dir` durable (a crash of the machine, not only of the process).
void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

Status WriteText(const std::string& path, const std::string& text) {
  LEANLM_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::Create(path));
  LEANLM_RETURN_IF_ERROR(writer->Write(text.data(), text.size()));
  return writer->Commit();
}

Result<int64_t> Count(const Json& record, const char* key, const std::string& what) {
  if (!record.contains(key) || !record.at(key).is_number_integer() || record.at(key).get<int64_t>() < 0) {
    return Status::Error(what + ": \"" + key + "\" must be a count");
  }
  return record.at(key).get<int64_t>();
}

// Checks a tensor (copy = false) or copies it into dest (copy = true).
Status Restore(const SafetensorsFile& file, const std::string& name, float* dest, int64_t n, bool copy,
               std::map<std::string, bool>& used) {
  const SafetensorsTensor* t = file.Find(name);
  if (t == nullptr) return Status::Error(file.source() + ": no tensor '" + name + "'");
  if (t->dtype != "F32" || t->elements() != n) {
    return Status::Error(file.source() + ": tensor '" + name + "' is " + t->dtype + " with " +
                         std::to_string(t->elements()) + " elements, expected F32 with " + std::to_string(n));
  }
  if (copy) std::memcpy(dest, t->data, static_cast<size_t>(n) * sizeof(float));
  used[name] = true;
  return Status::Ok();
}

}  // namespace

uint64_t DataFingerprint(const std::vector<Sequence>& sequences) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the ids and a separator per sequence
  auto mix = [&h](uint64_t x) {
    for (int i = 0; i < 4; ++i, x >>= 16) h = (h ^ (x & 0xffff)) * 0x100000001b3ULL;
  };
  for (const Sequence& s : sequences) {
    for (int32_t t : s.tokens) mix(static_cast<uint32_t>(t));
    for (int32_t l : s.labels) mix(static_cast<uint32_t>(l));
    mix(~uint64_t{0});
  }
  return h;
}

bool CheckpointExists(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(dir) / kRecordName, ec);
}

Status SaveCheckpoint(const std::string& dir, Optimizer& optimizer, const TrainState& state) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Error("cannot create checkpoint directory " + dir + ": " + ec.message());
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%08lld.safetensors", static_cast<long long>(state.step));
  const std::string tensor_path = (std::filesystem::path(dir) / name).string();

  std::map<std::string, TensorView> tensors;
  for (const TrainParam& p : optimizer.params()) tensors["param." + p.name] = F32View(p.value, p.n, p.ne);
  for (const OptimizerStateBuffer& b : optimizer.StateBuffers()) tensors["optim." + b.name] = F32View(b.data, b.n, {});
  LEANLM_RETURN_IF_ERROR(WriteSafetensors(tensor_path, tensors,
                                          {{"format", kFormat}, {"step", std::to_string(state.step)}}));

  Json record = {
      {"format", kFormat},
      {"version", kVersion},
      {"tensors", name},
      {"step", state.step},
      {"optimizer", OptimizerName(optimizer.options().kind)},
      {"optimizer_steps", optimizer.steps()},
      {"tokens", state.tokens},
      {"seconds", state.seconds},
      {"data_epoch", state.data.epoch},
      {"data_index", state.data.index},
      {"data_fingerprint", Hex(state.data_fingerprint)},
      {"rng", {Hex(state.rng[0]), Hex(state.rng[1]), Hex(state.rng[2]), Hex(state.rng[3])}},
  };
  LEANLM_RETURN_IF_ERROR(WriteText((std::filesystem::path(dir) / kRecordName).string(), record.dump(2) + "\n"));
  SyncDirectory(dir);
  // The record now names the new file: older tensor files are garbage.
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file != name && file.starts_with("checkpoint-") && file.ends_with(".safetensors")) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  return Status::Ok();
}

Result<TrainState> LoadCheckpoint(const std::string& dir, Optimizer& optimizer) {
  const std::string record_path = (std::filesystem::path(dir) / kRecordName).string();
  LEANLM_ASSIGN_OR_RETURN(std::string text, ReadTextFile(record_path, 1 << 20));
  LEANLM_ASSIGN_OR_RETURN(Json record, ParseStrictJson(text, record_path));
  if (!record.is_object() || record.value("format", Json()) != kFormat) {
    return Status::Error(record_path + ": not a leanlm training checkpoint");
  }
  if (record.value("version", Json()) != kVersion) {
    return Status::Error(record_path + ": unsupported checkpoint version (expected " + std::to_string(kVersion) + ")");
  }
  TrainState state;
  LEANLM_ASSIGN_OR_RETURN(state.step, Count(record, "step", record_path));
  LEANLM_ASSIGN_OR_RETURN(const int64_t optimizer_steps, Count(record, "optimizer_steps", record_path));
  LEANLM_ASSIGN_OR_RETURN(state.tokens, Count(record, "tokens", record_path));
  LEANLM_ASSIGN_OR_RETURN(state.data.epoch, Count(record, "data_epoch", record_path));
  LEANLM_ASSIGN_OR_RETURN(state.data.index, Count(record, "data_index", record_path));
  if (!record.contains("seconds") || !record["seconds"].is_number() || !(record["seconds"].get<double>() >= 0)) {
    return Status::Error(record_path + ": \"seconds\" must be a number >= 0");
  }
  state.seconds = record["seconds"].get<double>();
  LEANLM_ASSIGN_OR_RETURN(state.data_fingerprint,
                          ParseHex(record.value("data_fingerprint", Json()), record_path + ": data_fingerprint"));
  const Json rng = record.value("rng", Json());
  if (!rng.is_array() || rng.size() != 4) return Status::Error(record_path + ": \"rng\" must hold 4 words");
  for (size_t i = 0; i < 4; ++i) {
    LEANLM_ASSIGN_OR_RETURN(state.rng[i], ParseHex(rng[i], record_path + ": rng"));
  }
  const Json opt = record.value("optimizer", Json());
  if (!opt.is_string() || opt.get<std::string>() != OptimizerName(optimizer.options().kind)) {
    return Status::Error(record_path + ": the checkpoint was made with optimizer " + opt.dump() + ", not " +
                         OptimizerName(optimizer.options().kind));
  }
  const Json file_name = record.value("tensors", Json());
  if (!file_name.is_string() || file_name.get<std::string>().find('/') != std::string::npos ||
      !file_name.get<std::string>().starts_with("checkpoint-")) {
    return Status::Error(record_path + ": \"tensors\" must name a checkpoint file in the same directory");
  }

  const std::string tensor_path = (std::filesystem::path(dir) / file_name.get<std::string>()).string();
  LEANLM_ASSIGN_OR_RETURN(SafetensorsFile file, OpenSafetensors(tensor_path));
  const auto meta = file.metadata().find("step");
  if (meta == file.metadata().end() || meta->second != std::to_string(state.step)) {
    return Status::Error(tensor_path + ": its step does not match " + record_path);
  }
  // Everything is checked before anything is overwritten.
  std::map<std::string, bool> used;
  for (bool copy : {false, true}) {
    for (const TrainParam& p : optimizer.params()) {
      LEANLM_RETURN_IF_ERROR(Restore(file, "param." + p.name, p.value, p.n, copy, used));
    }
    for (const OptimizerStateBuffer& b : optimizer.StateBuffers()) {
      LEANLM_RETURN_IF_ERROR(Restore(file, "optim." + b.name, b.data, b.n, copy, used));
    }
    if (used.size() == file.tensors().size()) continue;
    for (const SafetensorsTensor& t : file.tensors()) {
      if (!used.count(t.name)) {
        return Status::Error(tensor_path + ": tensor '" + t.name +
                             "' is not trained in this run (another method or other targets?)");
      }
    }
  }
  optimizer.set_steps(optimizer_steps);
  return state;
}

}  // namespace leanlm
