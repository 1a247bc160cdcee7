#!/usr/bin/python3
"""Writes tests/fixtures/hf_tiny_llama/: a sharded Hugging Face LLaMA directory in miniature.

What transformers' save_pretrained(max_shard_size=...) leaves for a LlamaForCausalLM:
config.json, model-0000K-of-00002.safetensors, model.safetensors.index.json
({"metadata": {"total_size"}, "weight_map"}). Weights are random BF16 from PyTorch
(seeded), named and shaped as transformers names them (Linear weights [out, in]).
Shard 1 also holds a legacy rotary_emb.inv_freq buffer, as older checkpoints do.
probes.json lists full values of a few tensors in PyTorch order.

Run from the repository root: /usr/bin/python3 tests/reference/gen_hf_tiny_llama.py
"""
import json
import os
import struct

import torch

OUT = "tests/fixtures/hf_tiny_llama"
VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, FF = 8, 8, 2, 2, 1, 12
HEAD_DIM = HIDDEN // HEADS
ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
         "I64", "U64"]
NAMES = {torch.bfloat16: "BF16", torch.float32: "F32"}

config = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": HIDDEN,
    "initializer_range": 0.02, "intermediate_size": FF, "max_position_embeddings": 64, "mlp_bias": False,
    "model_type": "llama", "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
    "num_key_value_heads": KV_HEADS, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
    "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "transformers_version": "4.44.0", "use_cache": True, "vocab_size": VOCAB,
}

g = torch.Generator().manual_seed(1234)


def rand(*shape):
    return torch.randn(*shape, generator=g).to(torch.bfloat16)


shards = [{}, {}]
shards[0]["model.embed_tokens.weight"] = rand(VOCAB, HIDDEN)
for layer in range(LAYERS):
    s = shards[layer]
    p = f"model.layers.{layer}."
    s[p + "input_layernorm.weight"] = (1 + 0.1 * torch.randn(HIDDEN, generator=g)).to(torch.bfloat16)
    s[p + "self_attn.q_proj.weight"] = rand(HEADS * HEAD_DIM, HIDDEN)
    s[p + "self_attn.k_proj.weight"] = rand(KV_HEADS * HEAD_DIM, HIDDEN)
    s[p + "self_attn.v_proj.weight"] = rand(KV_HEADS * HEAD_DIM, HIDDEN)
    s[p + "self_attn.o_proj.weight"] = rand(HIDDEN, HEADS * HEAD_DIM)
    s[p + "post_attention_layernorm.weight"] = (1 + 0.1 * torch.randn(HIDDEN, generator=g)).to(torch.bfloat16)
    s[p + "mlp.gate_proj.weight"] = rand(FF, HIDDEN)
    s[p + "mlp.up_proj.weight"] = rand(FF, HIDDEN)
    s[p + "mlp.down_proj.weight"] = rand(HIDDEN, FF)
shards[0]["model.layers.0.self_attn.rotary_emb.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
shards[1]["model.norm.weight"] = (1 + 0.1 * torch.randn(HIDDEN, generator=g)).to(torch.bfloat16)
shards[1]["lm_head.weight"] = rand(VOCAB, HIDDEN)


def raw(t):
    return (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).contiguous().numpy().tobytes()


def write_safetensors(path, tensors, metadata):
    order = sorted(tensors, key=lambda n: (-ORDER.index(NAMES[tensors[n].dtype]), n))
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in order:
        data = raw(tensors[name])
        header[name] = {"dtype": NAMES[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return offset


os.makedirs(OUT, exist_ok=True)
weight_map, total = {}, 0
for i, tensors in enumerate(shards):
    name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
    total += write_safetensors(os.path.join(OUT, name), tensors, {"format": "pt"})
    weight_map.update({t: name for t in tensors})
with open(os.path.join(OUT, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    f.write("\n")
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
    f.write("\n")

all_tensors = {**shards[0], **shards[1]}
probes = {n: {"shape": list(all_tensors[n].shape), "values": all_tensors[n].float().tolist()}
          for n in ["model.embed_tokens.weight", "model.layers.1.self_attn.q_proj.weight",
                    "model.layers.0.self_attn.k_proj.weight", "model.layers.1.mlp.down_proj.weight",
                    "model.norm.weight"]}
with open(os.path.join(OUT, "probes.json"), "w") as f:
    json.dump(probes, f)
    f.write("\n")
