// QuantizeModel on a model whose rows hold 256-element blocks, so the
// K-quant recipes apply without fallbacks: every tensor gets the type
// llama-quantize (b4747) wrote for the same model (tables from its output),
// with the bytes of the reference quantizers. Slow: 3M weights x 15 recipes.
#include "quant/quantize_test_util.h"

namespace leanlm::quant_test {
namespace {

// llama-quantize's types for the K256 model.
const std::vector<Case>& K256Cases() {
  static const std::vector<Case> cases = {
      {"Q2_K", 10, Uniform("q2_K", "output=q6_K attn_v=q4_K attn_output=q3_K ffn_down=q3_K")},
      {"Q3_K_S", 11, Uniform("q3_K", "output=q6_K")},
      {"Q3_K_M", 12,
       Uniform("q3_K", "output=q6_K attn_v=q5_K,q5_K,q4_K,q4_K,q4_K,q4_K,q4_K,q4_K attn_output=q4_K ffn_down=q4_K")},
      {"Q3_K_L", 13, Uniform("q3_K", "output=q6_K attn_v=q5_K attn_output=q5_K ffn_down=q5_K")},
      {"Q4_K_S", 14,
       Uniform("q4_K",
               "output=q6_K attn_v=q5_K,q5_K,q5_K,q5_K,q4_K,q4_K,q4_K,q4_K "
               "ffn_down=q5_K,q4_K,q4_K,q4_K,q4_K,q4_K,q4_K,q4_K")},
      {"Q4_K_M", 15,
       Uniform("q4_K",
               "output=q6_K attn_v=q6_K,q4_K,q4_K,q6_K,q4_K,q4_K,q6_K,q6_K "
               "ffn_down=q6_K,q4_K,q4_K,q6_K,q4_K,q4_K,q6_K,q6_K")},
      {"Q5_K_S", 16, Uniform("q5_K", "output=q6_K")},
      {"Q5_K_M", 17,
       Uniform("q5_K",
               "output=q6_K attn_v=q6_K,q5_K,q5_K,q6_K,q5_K,q5_K,q6_K,q6_K "
               "ffn_down=q6_K,q5_K,q5_K,q6_K,q5_K,q5_K,q6_K,q6_K")},
      {"Q6_K", 18, Uniform("q6_K")},
      {"Q8_0", 7, Uniform("q8_0")},
      {"Q4_0", 2, Uniform("q4_0", "output=q6_K")},
      {"IQ4_NL", 25,
       Uniform("iq4_nl", "output=q6_K attn_v=q5_K ffn_down=q5_K,iq4_nl,iq4_nl,iq4_nl,iq4_nl,iq4_nl,iq4_nl,iq4_nl")},
      {"TQ1_0", 36, Uniform("tq1_0", "output=q6_K token_embd=q4_K")},
      {"TQ2_0", 37, Uniform("tq2_0", "output=q6_K token_embd=q4_K")},
      {"F16", 1, Uniform("f16")},
  };
  return cases;
}

TEST(QuantizeModelSlow, K256TypesAndBytesMatchLlamaQuantize) {
  TempDir tmp;
  RunCases(WriteModel(K256(), tmp.File("k256.gguf")), K256Cases(), tmp, 0);
}

}  // namespace
}  // namespace leanlm::quant_test
