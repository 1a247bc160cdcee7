#!/usr/bin/python3
"""Writes tests/fixtures/forward/NAME.{json,bin}: small random LLaMA-family
models and the logits of every position, computed by the plain PyTorch
forward below (Hugging Face conventions: RMSNorm, rotate_half RoPE, repeat_kv
grouped-query attention, SwiGLU), in float64. It shares no code with leanlm.

Run from the repository root with Debian's torch 1.13:
    /usr/bin/python3 tests/reference/make_forward_fixtures.py

NAME.json holds the config (ModelConfig field names), the input token ids,
and for each tensor its llama.cpp name, type (f32, f16, bf16), ggml shape
(ne, fastest dimension first) and byte offset into NAME.bin; "logits" gives
the offset of the float32 (n_tokens, n_vocab) reference. All little-endian.
"""

import json
import math
import os
import sys

import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "forward")
N_TOKENS = 12


# ---------------------------------------------------------------- the model

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def inv_frequencies(c):
    rot = c["rope_dim"] or c["head_dim"]
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
    if c["rope_scaling"] == "llama3":  # transformers' _compute_llama3_parameters
        factor, low, high = c["rope_factor"], c["rope_low_freq_factor"], c["rope_high_freq_factor"]
        old_ctx = c["rope_orig_ctx"]
        low_freq_wavelen, high_freq_wavelen = old_ctx / low, old_ctx / high
        wavelen = 2 * math.pi / inv
        inv_llama = torch.where(wavelen > low_freq_wavelen, inv / factor, inv)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama
        medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
        inv = torch.where(medium, smoothed, inv_llama)
    return inv


def llama3_rope_freqs(c):
    """llama.cpp's convert_hf_to_gguf stores Llama-3.1 scaling as per-pair divisors."""
    rot = c["rope_dim"] or c["head_dim"]
    factor, low, high = c["rope_factor"], c["rope_low_freq_factor"], c["rope_high_freq_factor"]
    old_ctx = c["rope_orig_ctx"]
    out = []
    for i in range(0, rot, 2):
        freq = 1.0 / (c["rope_theta"] ** (i / rot))
        wavelen = 2 * math.pi / freq
        if wavelen < old_ctx / high:
            out.append(1.0)
        elif wavelen > old_ctx / low:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return out


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin, rot):
    # x: (heads, T, head_dim); the first `rot` dimensions turn, the rest pass
    xr, xp = x[..., :rot], x[..., rot:]
    return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)


def forward(c, w, tokens):
    """Logits (T, vocab) for token ids at positions 0..T-1, float64."""
    T, H, Hkv, hd = len(tokens), c["n_head"], c["n_head_kv"], c["head_dim"]
    rot = c["rope_dim"] or hd
    pos = torch.arange(T, dtype=torch.float64)
    if c["rope_scaling"] == "linear":
        pos = pos / c["rope_factor"]
    freqs = torch.outer(pos, inv_frequencies(c))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    act = torch.nn.functional.silu if c["activation"] == "silu" else (
        lambda t: torch.nn.functional.gelu(t, approximate="tanh"))
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)

    x = w["token_embd.weight"][torch.tensor(tokens)] * c["embed_scale"]
    for l in range(c["n_layer"]):
        p = "blk.%d." % l
        h = rms_norm(x, w[p + "attn_norm.weight"], c["norm_eps"])
        q, k, v = (h @ w[p + n + ".weight"].T for n in ("attn_q", "attn_k", "attn_v"))
        if c["qkv_bias"]:
            q, k, v = q + w[p + "attn_q.bias"], k + w[p + "attn_k.bias"], v + w[p + "attn_v.bias"]
        q = q.view(T, H, hd).transpose(0, 1)
        k = k.view(T, Hkv, hd).transpose(0, 1)
        v = v.view(T, Hkv, hd).transpose(0, 1)
        q, k = apply_rope(q, cos, sin, rot), apply_rope(k, cos, sin, rot)
        k = k.repeat_interleave(H // Hkv, dim=0)  # repeat_kv
        v = v.repeat_interleave(H // Hkv, dim=0)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * hd)
        x = x + o @ w[p + "attn_output.weight"].T
        h = rms_norm(x, w[p + "ffn_norm.weight"], c["norm_eps"])
        x = x + (act(h @ w[p + "ffn_gate.weight"].T) * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
    x = rms_norm(x, w["output_norm.weight"], c["norm_eps"])
    head = w["token_embd.weight"] if c["tied_embeddings"] else w["output.weight"]
    return x @ head.T


# ---------------------------------------------------------------- fixtures

BASE = dict(n_vocab=64, n_embd=32, n_layer=2, n_head=4, n_head_kv=2, n_ff=48, head_dim=8, n_ctx_train=64,
            norm_eps=1e-5, rope_theta=10000.0, rope_neox=True, rope_dim=0, rope_scaling="none", rope_factor=1.0,
            rope_low_freq_factor=1.0, rope_high_freq_factor=4.0, rope_orig_ctx=8192, tied_embeddings=False,
            qkv_bias=False, activation="silu", embed_scale=1.0)


def random_weights(c, seed):
    """Weights in PyTorch layout ([out, in]) under llama.cpp names, scaled so
    that attention is far from uniform and every feature moves the logits."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, std=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std

    d, qd, kvd, ff = c["n_embd"], c["n_head"] * c["head_dim"], c["n_head_kv"] * c["head_dim"], c["n_ff"]
    w = {"token_embd.weight": randn(c["n_vocab"], d), "output_norm.weight": 1 + randn(d, std=0.2)}
    if not c["tied_embeddings"]:
        w["output.weight"] = randn(c["n_vocab"], d, std=d ** -0.5)
    for l in range(c["n_layer"]):
        p = "blk.%d." % l
        w[p + "attn_norm.weight"] = 1 + randn(d, std=0.2)
        w[p + "attn_q.weight"] = randn(qd, d, std=2 * d ** -0.5)
        w[p + "attn_k.weight"] = randn(kvd, d, std=2 * d ** -0.5)
        w[p + "attn_v.weight"] = randn(kvd, d, std=d ** -0.5)
        w[p + "attn_output.weight"] = randn(d, qd, std=qd ** -0.5)
        if c["qkv_bias"]:
            w[p + "attn_q.bias"] = randn(qd, std=0.5)
            w[p + "attn_k.bias"] = randn(kvd, std=0.5)
            w[p + "attn_v.bias"] = randn(kvd, std=0.5)
        w[p + "ffn_norm.weight"] = 1 + randn(d, std=0.2)
        w[p + "ffn_gate.weight"] = randn(ff, d, std=d ** -0.5)
        w[p + "ffn_up.weight"] = randn(ff, d, std=d ** -0.5)
        w[p + "ffn_down.weight"] = randn(d, ff, std=ff ** -0.5)
    # float32 values: what leanlm reads is exactly what the reference computes with
    return {name: t.to(torch.float32).to(torch.float64) for name, t in w.items()}


def llama_cpp_permute(t, n_head):
    """convert_hf_to_gguf's permute: rotate_half rows -> adjacent-pair rows."""
    return t.reshape(n_head, 2, t.shape[0] // n_head // 2, *t.shape[1:]).swapaxes(1, 2).reshape(t.shape)


def rounded(w, dtype, matrices_only):
    """The weights as stored in `dtype` (f16 keeps 1-D tensors in f32, as llama.cpp does)."""
    out, types = {}, {}
    for name, t in w.items():
        if matrices_only and t.dim() == 1:
            out[name], types[name] = t, "f32"
        else:
            out[name], types[name] = t.to(dtype).to(torch.float64), {torch.float16: "f16", torch.bfloat16: "bf16"}[dtype]
    return out, types


def tensor_bytes(t, type_name):
    if type_name == "f32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if type_name == "f16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()


def write_fixture(name, description, c, w, tokens, logits, types=None, extra=None):
    blob, entries = bytearray(), []
    for tname, t in w.items():
        ty = (types or {}).get(tname, "f32")
        while len(blob) % 32:
            blob.append(0)
        entries.append({"name": tname, "type": ty, "ne": list(reversed(t.shape)), "offset": len(blob)})
        blob += tensor_bytes(t, ty)
    while len(blob) % 32:
        blob.append(0)
    logits_offset = len(blob)
    blob += logits.to(torch.float32).numpy().astype("<f4").tobytes()
    doc = {"description": description, "config": c, "tokens": tokens, "tensors": entries,
           "logits": {"offset": logits_offset, "n_tokens": len(tokens), "n_vocab": c["n_vocab"]}}
    doc.update(extra or {})
    with open(os.path.join(OUT_DIR, name + ".json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT_DIR, name + ".bin"), "wb") as f:
        f.write(blob)
    print("%-10s %6d bytes  |logits| max %.2f" % (name, len(blob), logits.abs().max().item()))


def must_differ(what, a, b):
    """The fixture is only a test if the feature it covers moves the logits."""
    diff = (a - b).abs().max().item()
    if diff < 1e-2:
        sys.exit("%s changes the logits by only %.2g: the fixture would not catch a bug" % (what, diff))


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(0)

    def cfg(**kw):
        c = dict(BASE)
        c.update(kw)
        return c

    def tokens_for(c, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.randint(0, c["n_vocab"], (N_TOKENS,), generator=g).tolist()

    # (a) grouped-query attention, separate head; also stored as f16 and bf16
    c = cfg()
    w = random_weights(c, 1)
    toks = tokens_for(c, 101)
    logits_a = forward(c, w, toks)
    write_fixture("gqa", "GQA 4 heads / 2 kv heads, untied head, rotate_half RoPE", c, w, toks, logits_a)
    for dtype, tname, matrices_only in ((torch.float16, "gqa_f16", True), (torch.bfloat16, "gqa_bf16", False)):
        wr, types = rounded(w, dtype, matrices_only)
        write_fixture(tname, "gqa with weights rounded to %s (reference uses the rounded values)" % tname[4:],
                      c, wr, toks, forward(c, wr, toks), types)

    # (g) the same model with llama.cpp's Q/K row permutation and adjacent-pair RoPE
    wp = dict(w)
    for l in range(c["n_layer"]):
        p = "blk.%d." % l
        wp[p + "attn_q.weight"] = llama_cpp_permute(w[p + "attn_q.weight"], c["n_head"])
        wp[p + "attn_k.weight"] = llama_cpp_permute(w[p + "attn_k.weight"], c["n_head_kv"])
    must_differ("the Q/K permutation", forward(c, wp, toks), logits_a)
    write_fixture("adjacent", "gqa's weights with llama.cpp's Q/K permutation, for adjacent-pair RoPE "
                  "(rope_neox false); logits are gqa's", cfg(rope_neox=False), wp, toks, logits_a)

    # (b) tied embeddings (no output.weight), multi-head attention
    c = cfg(n_head_kv=4, tied_embeddings=True, rope_theta=500000.0)
    w = random_weights(c, 2)
    toks = tokens_for(c, 102)
    write_fixture("tied", "MHA, head tied to token_embd (no output.weight)", c, w, toks, forward(c, w, toks))

    # (c) Qwen2-style Q/K/V biases
    c = cfg(qkv_bias=True, rope_theta=1000000.0, norm_eps=1e-6, n_vocab=80)
    w = random_weights(c, 3)
    toks = tokens_for(c, 103)
    logits = forward(c, w, toks)
    must_differ("the biases", forward(dict(c, qkv_bias=False), w, toks), logits)
    write_fixture("qkv_bias", "Q/K/V biases (Qwen2), rotate_half RoPE", c, w, toks, logits)

    # (d) linear RoPE scaling on a partial rotary dimension
    c = cfg(rope_scaling="linear", rope_factor=4.0, rope_dim=4, rope_theta=100.0)
    w = random_weights(c, 4)
    toks = tokens_for(c, 104)
    logits = forward(c, w, toks)
    must_differ("linear scaling", forward(dict(c, rope_scaling="none"), w, toks), logits)
    must_differ("partial rotary", forward(dict(c, rope_dim=8), w, toks), logits)
    write_fixture("linear", "linear RoPE scaling (factor 4), rotary dim 4 of head_dim 8", c, w, toks, logits)

    # (e) Llama-3.1 RoPE scaling; head_dim 16 so q_dim (64) != n_embd (32)
    c = cfg(head_dim=16, rope_scaling="llama3", rope_factor=8.0, rope_low_freq_factor=1.0,
            rope_high_freq_factor=4.0, rope_orig_ctx=32, rope_theta=100.0)
    w = random_weights(c, 5)
    toks = tokens_for(c, 105)
    logits = forward(c, w, toks)
    must_differ("llama3 scaling", forward(dict(c, rope_scaling="none"), w, toks), logits)
    write_fixture("llama3", "Llama-3.1 RoPE scaling (factor 8, low 1, high 4, original context 32), head_dim 16",
                  c, w, toks, logits, extra={"rope_freqs": llama3_rope_freqs(c)})

    # (f) multi-query attention
    c = cfg(n_head_kv=1, n_vocab=100)
    w = random_weights(c, 6)
    toks = tokens_for(c, 106)
    write_fixture("mqa", "MQA: 4 query heads share 1 kv head", c, w, toks, forward(c, w, toks))

    # (h) Gemma-like: GELU-tanh gate, scaled embeddings, tied head, head_dim 16 with 2 heads
    c = cfg(n_head=2, n_head_kv=1, head_dim=16, activation="gelu_tanh", embed_scale=math.sqrt(32),
            tied_embeddings=True, rope_theta=10000.0)
    w = random_weights(c, 7)
    toks = tokens_for(c, 107)
    logits = forward(c, w, toks)
    must_differ("the activation", forward(dict(c, activation="silu"), w, toks), logits)
    write_fixture("gelu", "GELU-tanh gated FFN, embeddings scaled by sqrt(n_embd), tied head", c, w, toks, logits)


if __name__ == "__main__":
    main()
