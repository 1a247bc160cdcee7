#include "quant/registry.h"

#include "base/status.h"
#include "quant/formats/fp4.h"
#include "quant/formats/int_group.h"
#include "quant/formats/iq4_nl.h"
#include "quant/formats/nf4.h"
#include "quant/formats/q2_k.h"
#include "quant/formats/q3_k.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_1.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q5_0.h"
#include "quant/formats/q5_1.h"
#include "quant/formats/q5_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"
#include "quant/formats/q8_k.h"
#include "quant/formats/tq1_0.h"
#include "quant/formats/tq2_0.h"

namespace leanlm {

void RegisterBlockFormats(std::span<TypeTraits> rows) {
  LEANLM_CHECK(rows.size() == kMaxTypeId);
  using namespace quant;  // NOLINT(build/namespaces): the table reads better unqualified
  const auto set = [&](DType t, const char* name, int64_t block, size_t bytes, RowToFloatFn to, RowFromFloatFn from) {
    rows[static_cast<uint32_t>(t)] = {name, block, bytes, true, to, from};
  };
  set(DType::kQ4_0, "q4_0", kQK4_0, sizeof(BlockQ4_0), DequantizeRowQ4_0, QuantizeRowQ4_0);
  set(DType::kQ4_1, "q4_1", kQK4_1, sizeof(BlockQ4_1), DequantizeRowQ4_1, QuantizeRowQ4_1);
  set(DType::kQ5_0, "q5_0", kQK5_0, sizeof(BlockQ5_0), DequantizeRowQ5_0, QuantizeRowQ5_0);
  set(DType::kQ5_1, "q5_1", kQK5_1, sizeof(BlockQ5_1), DequantizeRowQ5_1, QuantizeRowQ5_1);
  set(DType::kQ8_0, "q8_0", kQK8_0, sizeof(BlockQ8_0), DequantizeRowQ8_0, QuantizeRowQ8_0);
  set(DType::kQ2_K, "q2_K", kQK_K, sizeof(BlockQ2_K), DequantizeRowQ2_K, QuantizeRowQ2_K);
  set(DType::kQ3_K, "q3_K", kQK_K, sizeof(BlockQ3_K), DequantizeRowQ3_K, QuantizeRowQ3_K);
  set(DType::kQ4_K, "q4_K", kQK_K, sizeof(BlockQ4_K), DequantizeRowQ4_K, QuantizeRowQ4_K);
  set(DType::kQ5_K, "q5_K", kQK_K, sizeof(BlockQ5_K), DequantizeRowQ5_K, QuantizeRowQ5_K);
  set(DType::kQ6_K, "q6_K", kQK_K, sizeof(BlockQ6_K), DequantizeRowQ6_K, QuantizeRowQ6_K);
  set(DType::kQ8_K, "q8_K", kQK_K, sizeof(BlockQ8_K), DequantizeRowQ8_K, QuantizeRowQ8_K);
  set(DType::kIQ4_NL, "iq4_nl", kQK4_NL, sizeof(BlockIQ4_NL), DequantizeRowIQ4_NL, QuantizeRowIQ4_NL);
  set(DType::kTQ1_0, "tq1_0", kQK_K, sizeof(BlockTQ1_0), DequantizeRowTQ1_0, QuantizeRowTQ1_0);
  set(DType::kTQ2_0, "tq2_0", kQK_K, sizeof(BlockTQ2_0), DequantizeRowTQ2_0, QuantizeRowTQ2_0);

  set(kNF4, "nf4", kQKNf4, sizeof(BlockNf4), DequantizeRowNf4, QuantizeRowNf4);
  set(kFP4, "fp4", kQKFp4, sizeof(BlockFp4), DequantizeRowFp4, QuantizeRowFp4);
  set(kInt4G32, "int4_g32", 32, sizeof(BlockIntGroup<4, 32>), DequantizeRowIntGroup<4, 32>, QuantizeRowIntGroup<4, 32>);
  set(kInt4G64, "int4_g64", 64, sizeof(BlockIntGroup<4, 64>), DequantizeRowIntGroup<4, 64>, QuantizeRowIntGroup<4, 64>);
  set(kInt4G128, "int4_g128", 128, sizeof(BlockIntGroup<4, 128>), DequantizeRowIntGroup<4, 128>,
      QuantizeRowIntGroup<4, 128>);
  set(kInt8G32, "int8_g32", 32, sizeof(BlockIntGroup<8, 32>), DequantizeRowIntGroup<8, 32>, QuantizeRowIntGroup<8, 32>);
  set(kInt8G64, "int8_g64", 64, sizeof(BlockIntGroup<8, 64>), DequantizeRowIntGroup<8, 64>, QuantizeRowIntGroup<8, 64>);
  set(kInt8G128, "int8_g128", 128, sizeof(BlockIntGroup<8, 128>), DequantizeRowIntGroup<8, 128>,
      QuantizeRowIntGroup<8, 128>);
}

}  // namespace leanlm
