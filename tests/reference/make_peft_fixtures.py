#!/usr/bin/python3
"""Writes tests/fixtures/peft/: a tiny random LLaMA (base.{json,bin}, and
base_adjacent.{json,bin}: the same model with llama.cpp's Q/K row order and
adjacent-pair RoPE), Hugging Face PEFT adapter directories for it, and the
logits of the model with those adapters applied, computed in float64 by the
plain PyTorch forward below, which follows PEFT's formulas. It shares no code
with leanlm.

The `peft` and `safetensors` Python packages are not installed here, so the
directories are written by this script from PEFT's documented layout
(checked against huggingface/peft's source: tuners/lora/model.py,
tuners/lora/dora.py, peft_model.py get_prompt, utils/other.py
_prepare_prompt_learning_config):
  adapter_config.json  - json.dumps(config, indent=2, sort_keys=True), PEFT's keys
  adapter_model.safetensors - base_model.model.<module>.lora_A.weight [r, in],
      .lora_B.weight [out, r], .lora_magnitude_vector [out] (DoRA),
      prompt_embeddings [n_virtual, n_embd] (prompt tuning) or
      [n_virtual, num_layers * 2 * n_head_kv * head_dim] (prefix tuning, rows
      viewed as (num_layers * 2, n_head_kv, head_dim): keys of layer l at 2l, values at 2l+1).
Formulas (PEFT, inference, no dropout), applied per adapter in order:
  LoRA:  y += s B A x,  s = alpha / r (alpha / sqrt(r) with use_rslora) times the user scale
  DoRA:  y = f (y + s B A x),  f = m / ||W + s B A||_row  (dora.py: (f - 1) y + f s B A x)
  prompt tuning: the virtual embeddings precede the token embeddings;
  prefix tuning: keys/values prepended in every layer (not rotated), and the
      tokens' positions start after them (transformers' cache_position).
Several adapters at once (leanlm's own semantics): prefixes first, then
prompt embeddings, then the tokens.

Run from the repository root: /usr/bin/python3 tests/reference/make_peft_fixtures.py
"""

import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_forward_fixtures as ff  # noqa: E402  (random weights, fixture writer, rope helpers)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "peft")
N_TOKENS = 10
HF_MODULES = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
              "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
              "ffn_down": "mlp.down_proj"}


def forward(c, w, tokens, loras=(), prefix=None, prompt=None):
    """Logits (T, vocab) of the tokens. loras: list of (adapter dict, user scale);
    prefix: per layer (K, V), each (Hkv, P, hd); prompt: (V, d)."""
    H, Hkv, hd = c["n_head"], c["n_head_kv"], c["head_dim"]
    x = w["token_embd.weight"][torch.tensor(tokens)]
    if prompt is not None:
        x = torch.cat((prompt, x), dim=0)
    x = x * c["embed_scale"]
    T = x.shape[0]
    P = 0 if prefix is None else prefix[0][0].shape[1]
    pos = torch.arange(P, P + T, dtype=torch.float64)
    freqs = torch.outer(pos, ff.inv_frequencies(c))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    act = torch.nn.functional.silu
    mask = torch.cat((torch.zeros(T, P, dtype=torch.float64),
                      torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)), dim=1)

    def linear(name, h):
        W = w[name]
        y = h @ W.T
        for ad, user_scale in loras:
            t = ad["targets"].get(name)
            if t is None:
                continue
            s = ad["scaling"] * user_scale
            lora = (h @ t["A"].T) @ t["B"].T
            if "m" in t:
                f = t["m"] / (W + s * t["B"] @ t["A"]).norm(dim=1)
                y = f * (y + s * lora)
            else:
                y = y + s * lora
        return y

    for l in range(c["n_layer"]):
        p = "blk.%d." % l
        h = ff.rms_norm(x, w[p + "attn_norm.weight"], c["norm_eps"])
        q, k, v = (linear(p + n + ".weight", h) for n in ("attn_q", "attn_k", "attn_v"))
        q = q.view(T, H, hd).transpose(0, 1)
        k = k.view(T, Hkv, hd).transpose(0, 1)
        v = v.view(T, Hkv, hd).transpose(0, 1)
        q, k = ff.apply_rope(q, cos, sin, hd), ff.apply_rope(k, cos, sin, hd)
        if prefix is not None:
            k = torch.cat((prefix[l][0], k), dim=1)
            v = torch.cat((prefix[l][1], v), dim=1)
        k = k.repeat_interleave(H // Hkv, dim=0)
        v = v.repeat_interleave(H // Hkv, dim=0)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * hd)
        x = x + linear(p + "attn_output.weight", o)
        h = ff.rms_norm(x, w[p + "ffn_norm.weight"], c["norm_eps"])
        x = x + linear(p + "ffn_down.weight", act(linear(p + "ffn_gate.weight", h)) * linear(p + "ffn_up.weight", h))
    x = ff.rms_norm(x, w["output_norm.weight"], c["norm_eps"])
    logits = x @ w["output.weight"].T
    return logits[T - len(tokens):]


# ---------------------------------------------------------------- files

def write_safetensors(path, tensors):
    """The published container: u64 header length, JSON header padded with
    spaces to 8 bytes, data in the reference writer's order (all F32/F16 here:
    alignment descending, then name)."""
    names = {torch.float32: "F32", torch.float16: "F16"}
    order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for n in order:
        b = tensors[n].contiguous().numpy().tobytes()
        header[n] = {"dtype": names[tensors[n].dtype], "shape": list(tensors[n].shape),
                     "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_adapter(name, config, tensors):
    d = os.path.join(OUT_DIR, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))
    write_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors)


def lora_config(r, alpha, modules, rslora=False, dora=False, layers=None):
    return {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "leanlm-peft-fixture",
            "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
            "layers_pattern": None, "layers_to_transform": layers, "lora_alpha": alpha, "lora_dropout": 0.05,
            "modules_to_save": None, "peft_type": "LORA", "r": r, "rank_pattern": {}, "revision": None,
            "target_modules": sorted(HF_MODULES[m].split(".")[1] for m in modules), "task_type": "CAUSAL_LM",
            "use_dora": dora, "use_rslora": rslora}


def make_lora(c, w, g, r, alpha, modules, layers, rslora=False, dora=False, dtype=torch.float32, name=""):
    """Random A and B (B far from PEFT's zero init so the update shows), as
    stored (rounded to dtype) and as used in float64."""
    scaling = alpha / (math.sqrt(r) if rslora else r)
    ad, tensors = {"scaling": scaling, "targets": {}}, {}
    for l in layers:
        for m in modules:
            W = w["blk.%d.%s.weight" % (l, m)]
            out, inp = W.shape
            A = (torch.randn(r, inp, generator=g, dtype=torch.float64) * inp ** -0.5).to(dtype)
            B = (torch.randn(out, r, generator=g, dtype=torch.float64) * 0.5 / scaling).to(dtype)
            key = "base_model.model.model.layers.%d.%s" % (l, HF_MODULES[m])
            tensors[key + ".lora_A.weight"], tensors[key + ".lora_B.weight"] = A, B
            t = {"A": A.to(torch.float64), "B": B.to(torch.float64)}
            if dora:
                norm = (W + scaling * t["B"] @ t["A"]).norm(dim=1)
                mag = (norm * (1 + 0.3 * torch.randn(out, generator=g, dtype=torch.float64))).to(dtype)
                tensors[key + ".lora_magnitude_vector"] = mag
                t["m"] = mag.to(torch.float64)
            ad["targets"]["blk.%d.%s.weight" % (l, m)] = t
    all_layers = len(layers) == c["n_layer"]
    write_adapter(name, lora_config(r, alpha, modules, rslora, dora, None if all_layers else list(layers)), tensors)
    return ad


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    ff.OUT_DIR = OUT_DIR
    c = dict(ff.BASE)
    c.update(n_vocab=48)
    w = ff.random_weights(c, 21)
    g = torch.Generator().manual_seed(2024)
    toks = torch.randint(0, c["n_vocab"], (N_TOKENS,), generator=g).tolist()
    base = forward(c, w, toks)
    ff.write_fixture("base", "base model of the PEFT fixtures (rotate_half layout)", c, w, toks, base)
    wp = dict(w)
    for l in range(c["n_layer"]):
        p = "blk.%d." % l
        wp[p + "attn_q.weight"] = ff.llama_cpp_permute(w[p + "attn_q.weight"], c["n_head"])
        wp[p + "attn_k.weight"] = ff.llama_cpp_permute(w[p + "attn_k.weight"], c["n_head_kv"])
    ff.write_fixture("base_adjacent", "base with llama.cpp's Q/K order and adjacent-pair RoPE; logits are base's",
                     dict(c, rope_neox=False), wp, toks, base)

    all_modules = list(HF_MODULES)
    lora = make_lora(c, w, g, 4, 8, all_modules, range(c["n_layer"]), name="lora")
    rslora = make_lora(c, w, g, 4, 6, ["attn_q", "attn_v"], [1], rslora=True, dtype=torch.float16, name="rslora_f16")
    dora = make_lora(c, w, g, 2, 4, all_modules, range(c["n_layer"]), dora=True, name="dora")

    n_virtual, kv = 3, c["n_head_kv"] * c["head_dim"]
    prompt = torch.randn(n_virtual, c["n_embd"], generator=g, dtype=torch.float64).to(torch.float32)
    write_adapter("prompt", {"base_model_name_or_path": "leanlm-peft-fixture", "inference_mode": True,
                             "num_attention_heads": c["n_head"], "num_layers": c["n_layer"],
                             "num_transformer_submodules": 1, "num_virtual_tokens": n_virtual,
                             "peft_type": "PROMPT_TUNING", "prompt_tuning_init": "RANDOM",
                             "prompt_tuning_init_text": None, "revision": None, "task_type": "CAUSAL_LM",
                             "token_dim": c["n_embd"], "tokenizer_kwargs": None, "tokenizer_name_or_path": None},
                  {"prompt_embeddings": prompt})
    prompt = prompt.to(torch.float64)

    n_prefix = 2
    flat = torch.randn(n_prefix, c["n_layer"] * 2 * kv, generator=g, dtype=torch.float64).to(torch.float32)
    write_adapter("prefix", {"base_model_name_or_path": "leanlm-peft-fixture", "encoder_hidden_size": kv,
                             "inference_mode": True, "num_attention_heads": c["n_head_kv"],
                             "num_layers": c["n_layer"], "num_transformer_submodules": 1,
                             "num_virtual_tokens": n_prefix, "peft_type": "PREFIX_TUNING",
                             "prefix_projection": False, "revision": None, "task_type": "CAUSAL_LM",
                             "token_dim": kv},
                  {"prompt_embeddings": flat})
    # peft_model.get_prompt: view (P, L*2, Hkv, hd), permute to (L*2, Hkv, P, hd), split into (K, V) per layer
    pkv = flat.to(torch.float64).view(n_prefix, c["n_layer"] * 2, c["n_head_kv"], c["head_dim"]).permute(1, 2, 0, 3)
    prefix = [(pkv[2 * l], pkv[2 * l + 1]) for l in range(c["n_layer"])]

    cases = [
        ("lora", [("lora", 1.0)], forward(c, w, toks, [(lora, 1.0)])),
        ("lora_scaled", [("lora", 0.5)], forward(c, w, toks, [(lora, 0.5)])),
        ("rslora_f16", [("rslora_f16", 1.0)], forward(c, w, toks, [(rslora, 1.0)])),
        ("dora", [("dora", 1.0)], forward(c, w, toks, [(dora, 1.0)])),
        ("prompt", [("prompt", 1.0)], forward(c, w, toks, prompt=prompt)),
        ("prefix", [("prefix", 1.0)], forward(c, w, toks, prefix=prefix)),
        ("several", [("lora", 0.5), ("rslora_f16", 1.5), ("dora", 1.0), ("prefix", 1.0), ("prompt", 1.0)],
         forward(c, w, toks, [(lora, 0.5), (rslora, 1.5), (dora, 1.0)], prefix=prefix, prompt=prompt)),
    ]
    doc = []
    for name, adapters, logits in cases:
        ff.must_differ(name, logits, base)
        with open(os.path.join(OUT_DIR, name + ".logits"), "wb") as f:
            f.write(logits.to(torch.float32).numpy().astype("<f4").tobytes())
        doc.append({"name": name, "adapters": adapters, "logits": name + ".logits"})
        print("%-12s |logits - base| max %.2f" % (name, (logits - base).abs().max().item()))
    with open(os.path.join(OUT_DIR, "cases.json"), "w") as f:
        json.dump({"n_tokens": N_TOKENS, "n_vocab": c["n_vocab"], "cases": doc}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
