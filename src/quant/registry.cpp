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

namespace q = quant;

namespace {

template <int kBits, int kGroup>
void SetIntGroup(std::span<TypeTraits> rows, DType t, const char* name) {
  rows[static_cast<uint32_t>(t)] = {name,
                                    kGroup,
                                    sizeof(q::BlockIntGroup<kBits, kGroup>),
                                    true,
                                    q::DequantizeRowIntGroup<kBits, kGroup>,
                                    q::QuantizeRowIntGroup<kBits, kGroup>};
}

}  // namespace

void RegisterBlockFormats(std::span<TypeTraits> rows) {
  LEANLM_CHECK(rows.size() == kMaxTypeId);
  const auto set = [&](DType t, const char* name, int64_t block, size_t bytes, RowToFloatFn to, RowFromFloatFn from) {
    rows[static_cast<uint32_t>(t)] = {name, block, bytes, true, to, from};
  };
  set(DType::kQ4_0, "q4_0", q::kQK4_0, sizeof(q::BlockQ4_0), q::DequantizeRowQ4_0, q::QuantizeRowQ4_0);
  set(DType::kQ4_1, "q4_1", q::kQK4_1, sizeof(q::BlockQ4_1), q::DequantizeRowQ4_1, q::QuantizeRowQ4_1);
  set(DType::kQ5_0, "q5_0", q::kQK5_0, sizeof(q::BlockQ5_0), q::DequantizeRowQ5_0, q::QuantizeRowQ5_0);
  set(DType::kQ5_1, "q5_1", q::kQK5_1, sizeof(q::BlockQ5_1), q::DequantizeRowQ5_1, q::QuantizeRowQ5_1);
  set(DType::kQ8_0, "q8_0", q::kQK8_0, sizeof(q::BlockQ8_0), q::DequantizeRowQ8_0, q::QuantizeRowQ8_0);
  set(DType::kQ2_K, "q2_K", q::kQK_K, sizeof(q::BlockQ2_K), q::DequantizeRowQ2_K, q::QuantizeRowQ2_K);
  set(DType::kQ3_K, "q3_K", q::kQK_K, sizeof(q::BlockQ3_K), q::DequantizeRowQ3_K, q::QuantizeRowQ3_K);
  set(DType::kQ4_K, "q4_K", q::kQK_K, sizeof(q::BlockQ4_K), q::DequantizeRowQ4_K, q::QuantizeRowQ4_K);
  set(DType::kQ5_K, "q5_K", q::kQK_K, sizeof(q::BlockQ5_K), q::DequantizeRowQ5_K, q::QuantizeRowQ5_K);
  set(DType::kQ6_K, "q6_K", q::kQK_K, sizeof(q::BlockQ6_K), q::DequantizeRowQ6_K, q::QuantizeRowQ6_K);
  set(DType::kQ8_K, "q8_K", q::kQK_K, sizeof(q::BlockQ8_K), q::DequantizeRowQ8_K, q::QuantizeRowQ8_K);
  set(DType::kIQ4_NL, "iq4_nl", q::kQK4_NL, sizeof(q::BlockIQ4_NL), q::DequantizeRowIQ4_NL, q::QuantizeRowIQ4_NL);
  set(DType::kTQ1_0, "tq1_0", q::kQK_K, sizeof(q::BlockTQ1_0), q::DequantizeRowTQ1_0, q::QuantizeRowTQ1_0);
  set(DType::kTQ2_0, "tq2_0", q::kQK_K, sizeof(q::BlockTQ2_0), q::DequantizeRowTQ2_0, q::QuantizeRowTQ2_0);

  set(kNF4, "nf4", q::kQKNf4, sizeof(q::BlockNf4), q::DequantizeRowNf4, q::QuantizeRowNf4);
  set(kFP4, "fp4", q::kQKFp4, sizeof(q::BlockFp4), q::DequantizeRowFp4, q::QuantizeRowFp4);
  SetIntGroup<4, 32>(rows, kInt4G32, "int4_g32");
  SetIntGroup<4, 64>(rows, kInt4G64, "int4_g64");
  SetIntGroup<4, 128>(rows, kInt4G128, "int4_g128");
  SetIntGroup<8, 32>(rows, kInt8G32, "int8_g32");
  SetIntGroup<8, 64>(rows, kInt8G64, "int8_g64");
  SetIntGroup<8, 128>(rows, kInt8G128, "int8_g128");
}

}  // namespace leanlm
