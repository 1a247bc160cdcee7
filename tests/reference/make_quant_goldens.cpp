// Writes tests/fixtures/quant/: F32 test rows, and for each ggml block format
// the exact bytes ggml's quantizer produces for them and the floats ggml
// dequantizes those bytes to. Also checks leanlm's fp16 conversions
// (src/base/fp16.h) against ggml's over every input and records ggml's
// results for a set of hard cases.
//
// It links against ggml built outside this repository (never committed). The
// committed fixtures were made with llama.cpp tag b4747 (commit c392e509,
// ggml-base built by CMake, Release, CPU only, GGML_NATIVE=ON, which leaves
// ggml-base itself at the x86-64 baseline):
//
//   g++ -std=c++20 -O2 -Isrc -I$LLAMA/ggml/include tests/reference/make_quant_goldens.cpp
//       -L$LLAMA/build/bin -lggml-base -Wl,-rpath,$LLAMA/build/bin -o /tmp/make_quant_goldens   (one line)
//   /tmp/make_quant_goldens tests/fixtures/quant
//
// Quantization goes through ggml_quantize_chunk with no importance matrix,
// exactly what llama-quantize calls without --imatrix; Q8_K (not a file
// format, absent from ggml_quantize_chunk) uses quantize_row_q8_K_ref.
// Dequantization uses ggml_get_type_traits(type)->to_float (dequantize_row_q8_K
// for Q8_K).
//
// Fixture layout (little-endian):
//   input.bin:   "LQI1", u32 rows, u32 n_per_row, f32[rows * n_per_row]
//   <type>.bin:  "LQG1", u32 ggml type id, u32 rows, u32 n_per_row, u64 nbytes,
//                u8[nbytes] quantized rows, f32[rows * n_per_row] dequantized
//   fp16.bin:    "LQH1", u32 count, f32[count] inputs, u16[count] ggml fp16
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/fp16.h"
#include "ggml.h"

extern "C" {
// Internal to ggml-base (ggml-quants.h), exported from the shared library.
void quantize_row_q8_K_ref(const float* x, void* y, int64_t k);
void dequantize_row_q8_K(const void* x, float* y, int64_t k);
}

namespace {

constexpr int kRows = 8;
constexpr int kPerRow = 512;

// splitmix64: a fixed, portable stream.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Gauss() {
    const double u1 = 1.0 - Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// One 32-value block of row 7, by kind: the cases a search or a clamp gets wrong.
void MixedBlock(int kind, Rng& rng, float* x) {
  for (int j = 0; j < 32; ++j) {
    float v = 0;
    switch (kind % 8) {
      case 0: v = 0.37f; break;                                             // constant: max == min
      case 1: v = static_cast<float>(static_cast<int>(rng.Next() % 16) - 8); break;  // exact ties
      case 2: v = 0.5f * static_cast<float>(static_cast<int>(rng.Next() % 33) - 16); break;
      case 3: v = static_cast<float>(3000.0 * rng.Gauss()); break;           // large scale
      case 4: v = j == 13 ? -5.0f : 0.0f; break;                            // single spike
      case 5: v = static_cast<float>(-0.5 - 1.5 * rng.Uniform()); break;   // all negative
      case 6: v = static_cast<float>(j < 16 ? 1e-4 * rng.Gauss() : rng.Gauss()); break;
      case 7: v = (j % 2 ? 1.0f : -1.0f) * static_cast<float>(0.1 + rng.Uniform()); break;
    }
    x[j] = v;
  }
}

std::vector<float> MakeInput() {
  Rng rng{20250220};
  std::vector<float> x(kRows * kPerRow);
  for (int r = 0; r < kRows; ++r) {
    float* row = x.data() + r * kPerRow;
    for (int j = 0; j < kPerRow; ++j) {
      double v = 0;
      switch (r) {
        case 0: v = rng.Gauss(); break;
        case 1: v = 2.0 * rng.Uniform() - 1.0; break;
        case 2: v = 0.02 * rng.Gauss() * (rng.Uniform() < 0.01 ? 40.0 : 1.0); break;  // outliers
        case 3: v = 0.0; break;
        case 4: v = 1e-5 * rng.Gauss(); break;  // fp16 scales become subnormal
        case 5: v = 0.5 + 1.5 * rng.Uniform(); break;  // all positive
        case 6: {                                      // ternary, half of it with noise
          const double t = static_cast<double>(static_cast<int>(rng.Next() % 3) - 1) * 0.7;
          v = j < kPerRow / 2 ? t : t + 0.01 * rng.Gauss();
          break;
        }
        default: break;
      }
      row[j] = static_cast<float>(v);
    }
    if (r == 7) {
      for (int b = 0; b < kPerRow / 32; ++b) MixedBlock(b, rng, row + 32 * b);
    }
  }
  return x;
}

bool WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

void Put(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}
void PutU32(std::vector<uint8_t>& out, uint32_t v) { Put(out, &v, 4); }

struct Format {
  ggml_type type;
  const char* name;
};

bool WriteGolden(const std::string& dir, const Format& f, const std::vector<float>& x) {
  const size_t row_size = ggml_row_size(f.type, kPerRow);
  std::vector<uint8_t> q(row_size * kRows, 0);  // zeroed: Q8_K leaves bsums of zero blocks untouched
  if (f.type == GGML_TYPE_Q8_K) {
    for (int r = 0; r < kRows; ++r) quantize_row_q8_K_ref(x.data() + r * kPerRow, q.data() + r * row_size, kPerRow);
  } else {
    const size_t n = ggml_quantize_chunk(f.type, x.data(), q.data(), 0, kRows, kPerRow, nullptr);
    if (n != q.size()) return false;
  }
  std::vector<float> y(x.size());
  for (int r = 0; r < kRows; ++r) {
    if (f.type == GGML_TYPE_Q8_K) {
      dequantize_row_q8_K(q.data() + r * row_size, y.data() + r * kPerRow, kPerRow);
    } else {
      ggml_get_type_traits(f.type)->to_float(q.data() + r * row_size, y.data() + r * kPerRow, kPerRow);
    }
  }
  std::vector<uint8_t> out;
  Put(out, "LQG1", 4);
  PutU32(out, static_cast<uint32_t>(f.type));
  PutU32(out, kRows);
  PutU32(out, kPerRow);
  const uint64_t nbytes = q.size();
  Put(out, &nbytes, 8);
  Put(out, q.data(), q.size());
  Put(out, y.data(), y.size() * sizeof(float));
  return WriteFile(dir + "/" + f.name + ".bin", out);
}

// Every float through both fp32->fp16 conversions, every half through both
// fp16->fp32 ones; returns the number of differences. A signalling NaN half is
// quieted by ggml (as by the F16C instruction) and kept by leanlm; that
// difference is reported but not counted, since any arithmetic quiets it too.
uint64_t CheckFp16Exhaustively() {
  uint64_t bad = 0, nan_payload = 0;
  for (uint64_t bits = 0; bits <= 0xffffffffull; ++bits) {
    float f;
    const auto b32 = static_cast<uint32_t>(bits);
    std::memcpy(&f, &b32, 4);
    if (ggml_fp32_to_fp16(f) != leanlm::Fp32ToFp16(f) && bad++ < 10) {
      std::fprintf(stderr, "fp32->fp16 differs at 0x%08x: ggml 0x%04x leanlm 0x%04x\n", b32, ggml_fp32_to_fp16(f),
                   leanlm::Fp32ToFp16(f));
    }
  }
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float a = ggml_fp16_to_fp32(static_cast<ggml_fp16_t>(h)), b = leanlm::Fp16ToFp32(static_cast<uint16_t>(h));
    if (std::memcmp(&a, &b, 4) == 0) continue;
    if (std::isnan(a) && std::isnan(b)) {
      ++nan_payload;
    } else if (bad++ < 10) {
      std::fprintf(stderr, "fp16->fp32 differs at 0x%04x\n", h);
    }
  }
  std::printf("fp16->fp32: %llu signalling NaN halves quieted by ggml only\n",
              static_cast<unsigned long long>(nan_payload));
  return bad;
}

// Inputs where fp32->fp16 rounding is decided: each half's rounding midpoint
// and its float neighbours (for a sample of halves over the whole range,
// normal and subnormal), the overflow threshold, specials.
bool WriteFp16Cases(const std::string& dir) {
  std::vector<float> in;
  const auto from_bits = [](uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; };
  const auto bits_of = [](float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; };
  for (uint32_t h = 0; h < 0x7c00; h += 37) {  // positive finite halves
    const float lo = leanlm::Fp16ToFp32(static_cast<uint16_t>(h));
    const float hi = leanlm::Fp16ToFp32(static_cast<uint16_t>(h + 1));  // 0x7c00 is inf: 65520 is the midpoint
    const float mid = h + 1 == 0x7c00 ? 65520.0f : static_cast<float>((static_cast<double>(lo) + hi) / 2);
    for (int d = -1; d <= 1; ++d) {
      const float v = from_bits(bits_of(mid) + d);
      in.push_back(v);
      in.push_back(-v);
    }
    in.push_back(lo);
  }
  for (float v : {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, 2.9802322e-8f, 65504.0f, 65519.996f, 65520.0f,
                  1e10f, 5.9604645e-8f, 6.1035156e-5f}) {
    in.push_back(v);
  }
  std::vector<uint8_t> out;
  Put(out, "LQH1", 4);
  PutU32(out, static_cast<uint32_t>(in.size()));
  Put(out, in.data(), in.size() * 4);
  for (float v : in) {
    const ggml_fp16_t h = ggml_fp32_to_fp16(v);
    Put(out, &h, 2);
  }
  return WriteFile(dir + "/fp16.bin", out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  // ggml_init fills the fp16->fp32 table that ggml's dequantizers read.
  ggml_init_params params = {1 << 20, nullptr, false};
  ggml_context* ctx = ggml_init(params);

  const std::vector<float> x = MakeInput();
  std::vector<uint8_t> input;
  Put(input, "LQI1", 4);
  PutU32(input, kRows);
  PutU32(input, kPerRow);
  Put(input, x.data(), x.size() * sizeof(float));
  if (!WriteFile(dir + "/input.bin", input)) return 1;

  const Format formats[] = {
      {GGML_TYPE_Q4_0, "q4_0"}, {GGML_TYPE_Q4_1, "q4_1"}, {GGML_TYPE_Q5_0, "q5_0"},     {GGML_TYPE_Q5_1, "q5_1"},
      {GGML_TYPE_Q8_0, "q8_0"}, {GGML_TYPE_Q2_K, "q2_K"}, {GGML_TYPE_Q3_K, "q3_K"},     {GGML_TYPE_Q4_K, "q4_K"},
      {GGML_TYPE_Q5_K, "q5_K"}, {GGML_TYPE_Q6_K, "q6_K"}, {GGML_TYPE_Q8_K, "q8_K"},     {GGML_TYPE_IQ4_NL, "iq4_nl"},
      {GGML_TYPE_TQ1_0, "tq1_0"}, {GGML_TYPE_TQ2_0, "tq2_0"},
  };
  for (const Format& f : formats) {
    if (std::strcmp(ggml_type_name(f.type), f.name) != 0 || !WriteGolden(dir, f, x)) {
      std::fprintf(stderr, "failed on %s\n", f.name);
      return 1;
    }
  }
  if (!WriteFp16Cases(dir)) return 1;
  const uint64_t bad = CheckFp16Exhaustively();
  std::printf("fp16 conversions: %llu differences between ggml and leanlm over all inputs\n",
              static_cast<unsigned long long>(bad));
  ggml_free(ctx);
  return bad == 0 ? 0 : 1;
}
