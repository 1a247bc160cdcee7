#include "io/rope_permute.h"

#include <cstring>

namespace leanlm {

int64_t RopeSourceRow(int64_t row, int64_t head_dim, RopeLayout to) {
  const int64_t half = head_dim / 2;
  const int64_t head = row / head_dim, r = row % head_dim;
  // interleaved row 2i + j  <->  halves row j * half + i
  if (to == RopeLayout::kInterleaved) return head * head_dim + (r % 2) * half + r / 2;
  return head * head_dim + 2 * (r % half) + r / half;
}

Status PermuteRopeRows(const TensorView& src, int64_t n_head, RopeLayout to, void* dst) {
  if (!src.valid()) return Status::Error("RoPE permutation of an invalid tensor");
  const bool is_vector = src.n_dims == 1;
  const TypeTraits* traits = FindTypeTraits(src.type);
  if (!traits) return Status::Error("RoPE permutation: unknown tensor type");
  if (is_vector && traits->block_size != 1) {
    return Status::Error(std::string("RoPE permutation of a 1-D ") + traits->name + " tensor");
  }
  const int64_t rows = is_vector ? src.ne[0] : src.rows();
  const size_t unit = is_vector ? traits->type_size : src.row_bytes();
  if (n_head <= 0 || rows % n_head != 0 || (rows / n_head) % 2 != 0) {
    return Status::Error("RoPE permutation: " + std::to_string(rows) + " rows do not split into " +
                         std::to_string(n_head) + " heads of even size");
  }
  const int64_t head_dim = rows / n_head;
  const auto* from = static_cast<const uint8_t*>(src.data);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(out + r * unit, from + RopeSourceRow(r, head_dim, to) * unit, unit);
  }
  return Status::Ok();
}

}  // namespace leanlm
