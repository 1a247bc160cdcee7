#include "quant/quantize_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>

#include "base/log.h"
#include "base/progress.h"
#include "base/thread_pool.h"
#include "io/convert.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "io/model_source.h"

namespace leanlm {
namespace {

// Removes a file when it goes out of scope (the intermediate GGUF of a
// non-GGUF input).
class ScopedRemove {
 public:
  explicit ScopedRemove(std::string path) : path_(std::move(path)) {}
  ~ScopedRemove() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  ScopedRemove(const ScopedRemove&) = delete;
  ScopedRemove& operator=(const ScopedRemove&) = delete;

 private:
  std::string path_;
};

Status CheckOutputPath(const std::string& out) {
  namespace fs = std::filesystem;
  if (out.empty()) return Status::Error("no output path given");
  std::error_code ec;
  if (fs::is_directory(out, ec)) return Status::Error(out + ": is a directory (expected the output GGUF file)");
  fs::path dir = fs::path(out).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec))
    return Status::Error(out + ": the output directory '" + dir.string() + "' does not exist");
  return Status::Ok();
}

// The input as a GGUF: itself, or (HF directory, llama2.c) the file `leanlm
// convert` would write, next to the output and removed when done.
Result<std::unique_ptr<GgufFile>> OpenInput(const std::string& in, const std::string& out,
                                            const QuantizeOptions& options, std::unique_ptr<ScopedRemove>* tmp) {
  LEANLM_ASSIGN_OR_RETURN(const ModelFormat format, DetectModelFormat(in));
  if (format == ModelFormat::kGguf) return GgufFile::Open(in);
  const std::string tmp_path = out + ".src.tmp";
  {
    LoadOptions load;
    load.tokenizer_path = options.tokenizer_path;
    LEANLM_ASSIGN_OR_RETURN(const ModelSource source, LoadModelSource(in, load));
    *tmp = std::make_unique<ScopedRemove>(tmp_path);
    LEANLM_RETURN_IF_ERROR(SaveGguf(source, tmp_path).WithContext(in));
  }
  return GgufFile::Open(tmp_path);
}

bool AllFinite(const float* x, int64_t n) {
  float acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += x[i] * 0.0f;  // NaN for any NaN or infinity
  return acc == 0;
}

// Reused across tensors: the F32 rows and the converted rows of one chunk.
struct ChunkBuffers {
  std::vector<float> f32;
  std::vector<uint8_t> out;
};

// Converts `src` to `to` chunk by chunk, each chunk's rows in parallel, and
// hands the bytes to `sink`.
// The memory used is bounded by max_chunk_elements (at least one row), not by
// the model or its largest tensor.
Status ConvertTensor(const std::string& name, const TensorView& src, DType to, int64_t max_chunk_elements,
                     ThreadPool& pool, ChunkBuffers& buf, const GgufWriter::TensorSink& sink) {
  const TypeTraits& from_traits = GetTypeTraits(src.type);
  const TypeTraits& to_traits = GetTypeTraits(to);
  const int64_t ne0 = src.ne[0], rows = src.rows();
  LEANLM_ASSIGN_OR_RETURN(const size_t out_row, RowBytes(to, ne0));
  const int64_t chunk = std::clamp<int64_t>(max_chunk_elements / ne0, 1, rows);
  const bool direct = src.type == DType::kF32;  // rows are read in place
  if (!direct && buf.f32.size() < static_cast<size_t>(chunk * ne0)) buf.f32.resize(chunk * ne0);
  if (buf.out.size() < chunk * out_row) buf.out.resize(chunk * out_row);
  const int64_t grain = std::max<int64_t>(1, 4096 / ne0);

  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t n = std::min(chunk, rows - r0);
    std::atomic<int64_t> bad_row{-1};
    pool.ParallelFor(n, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* x = nullptr;
        if (direct) {
          x = src.f32() + (r0 + r) * ne0;
        } else {
          float* y = buf.f32.data() + r * ne0;
          from_traits.to_float(src.row(r0 + r), y, ne0);
          x = y;
        }
        if (!AllFinite(x, ne0)) {
          int64_t none = -1;
          bad_row.compare_exchange_strong(none, r0 + r);
          continue;
        }
        to_traits.from_float(x, buf.out.data() + r * out_row, ne0);
      }
    });
    if (bad_row.load() >= 0) {
      return Status::Error("tensor '" + name + "' row " + std::to_string(bad_row.load()) +
                           " holds NaN or infinity: refusing to quantize it");
    }
    LEANLM_RETURN_IF_ERROR(sink(buf.out.data(), n * out_row));
  }
  return Status::Ok();
}

}  // namespace

Status QuantizeModel(const std::string& in, const std::string& out, const QuantizeOptions& options,
                     QuantizeReport* report) {
  LEANLM_ASSIGN_OR_RETURN(const Recipe recipe, FindRecipe(options.recipe));
  PlanOptions plan_options;
  plan_options.recipe = recipe;
  plan_options.keep_output = options.keep_output;
  for (const std::string& spec : options.tensor_types) {
    LEANLM_ASSIGN_OR_RETURN(TensorTypeOverride o, ParseTensorTypeOverride(spec));
    plan_options.overrides.push_back(std::move(o));
  }
  LEANLM_RETURN_IF_ERROR(CheckOutputPath(out));

  std::unique_ptr<ScopedRemove> tmp;
  LEANLM_ASSIGN_OR_RETURN(const std::unique_ptr<GgufFile> gguf, OpenInput(in, out, options, &tmp));
  const std::string& src_name = gguf->name();
  if (const GgufValue* split = gguf->Find("split.count"); split && split->is_integer() && split->as_int() > 1) {
    return Status::Error(src_name + ": is one part of a split GGUF (split.count " + std::to_string(split->as_int()) +
                         "); merge the parts first (llama-gguf-split --merge)");
  }
  LEANLM_ASSIGN_OR_RETURN(const ModelConfig config, ConfigFromGguf(*gguf));
  const ModelShape shape{config.arch, config.n_layer, config.n_head, config.n_head_kv};

  std::vector<TensorDesc> descs;
  for (const GgufTensorInfo& t : gguf->tensors()) descs.push_back({t.name, t.view.type, t.view.n_dims, t.view.ne});
  LEANLM_ASSIGN_OR_RETURN(std::vector<TensorPlan> plan, PlanQuantization(descs, shape, plan_options));
  const std::vector<std::string> fallbacks = DescribeFallbacks(plan);
  for (const std::string& line : fallbacks) LEANLM_WARN("fallback quantization: %s", line.c_str());

  GgufWriter writer;
  for (const auto& [key, value] : gguf->metadata()) {
    if (key == "general.quantization_version" || key == "general.file_type" || key.rfind("split.", 0) == 0) continue;
    writer.Set(key, value);
  }
  writer.Set("general.quantization_version", GgufValue::U32(2));
  writer.Set("general.file_type", GgufValue::U32(recipe.file_type));

  ThreadPool pool(options.n_threads);
  ChunkBuffers buffers;
  Progress progress("quantize " + recipe.name, static_cast<int64_t>(plan.size()), "tensors");
  QuantizeReport r;
  for (size_t i = 0; i < plan.size(); ++i) {
    const TensorPlan& p = plan[i];
    const TensorView src = gguf->FindTensor(p.in.name)->view;
    r.bytes_in += src.bytes();
    r.n_elements += src.elements();
    LEANLM_ASSIGN_OR_RETURN(const size_t out_bytes, TensorBytes(p.out, src.ne.data(), src.n_dims));
    r.bytes_out += out_bytes;
    auto fill = [&, i, src](const GgufWriter::TensorSink& sink) -> Status {
      const TensorPlan& t = plan[i];
      Status st = t.convert ? ConvertTensor(t.in.name, src, t.out, options.max_chunk_elements, pool, buffers, sink)
                            : sink(src.data, src.bytes());
      progress.Update(static_cast<int64_t>(i) + 1, t.in.name + " " + TypeName(t.out));
      return st;
    };
    LEANLM_RETURN_IF_ERROR(writer.AddTensor(p.in.name, p.out, src.n_dims, src.ne, fill).WithContext(out));
  }
  LEANLM_RETURN_IF_ERROR(writer.Write(out));
  progress.Finish();

  if (report) {
    r.recipe = recipe;
    r.tensors = std::move(plan);
    r.fallbacks = fallbacks;
    *report = std::move(r);
  }
  return Status::Ok();
}

}  // namespace leanlm
