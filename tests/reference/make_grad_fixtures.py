#!/usr/bin/python3
"""Writes tests/fixtures/grad/: a small random LLaMA model (2 layers, GQA,
untied head) and, for each training method, the float64 PyTorch autograd
gradient of the masked mean cross-entropy with respect to every trainable
parameter. It shares no code with leanlm.

Run from the repository root with Debian's torch 1.13:
    /usr/bin/python3 tests/reference/make_grad_fixtures.py

base.{json,bin} (and variant.{json,bin}, a second model): config (ModelConfig field names), tokens and targets (B, T;
target -1 = no loss), the frozen weights (llama.cpp names, ggml shapes, f32).
METHOD.{json,bin}: the base it uses, the method's options, each trainable tensor's initial value
and its gradient (ggml shape, byte offsets into METHOD.bin), and the loss.
The trainable values are random (LoRA's B and the adapters' up-projections
included, which real training initialises to zero), so every gradient is
non-zero and checked. A method may take some initial values from another
fixture (params_from). All little-endian float32.

Conventions (leanlm's; the C++ test follows them):
  lora:     y = W x + s B (A x), s = alpha / r; A ne {in, r}, B ne {r, out}.
  dora:     y = m / ||W + s B A||_row * (W x + s B A x), the norm per output
            row; gradient through the norm (detach_norm false), or with the
            norm treated as a constant as PEFT does (detach_norm true).
  adapter:  after the attention and the MLP sublayers, before the residual:
            u + up(gelu_tanh(down u + down_bias)) + up_bias.
  prompt:   P learned embeddings before the tokens, positions 0..P+T-1.
  prefix:   (leanlm's prefix and ptuning2 methods) per layer P keys and
            values (post-RoPE, as HF's past_key_values) seen by every query; the tokens sit at positions P..P+T-1. With
            the reparameterization: tanh MLP from (P, token_dim) embeddings,
            output row p = [layer 0 key, layer 0 value, layer 1 key, ...].
"""

import json
import math
import os

import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "grad")

CONFIG = dict(n_vocab=64, n_embd=32, n_layer=2, n_head=4, n_head_kv=2, n_ff=48, head_dim=8, n_ctx_train=64,
              norm_eps=1e-5, rope_theta=10000.0, rope_neox=True, rope_dim=0, rope_scaling="none", rope_factor=1.0,
              rope_low_freq_factor=1.0, rope_high_freq_factor=4.0, rope_orig_ctx=8192, tied_embeddings=False,
              qkv_bias=False, activation="silu", embed_scale=1.0)
VARIANT = dict(CONFIG, n_vocab=24, n_embd=16, n_head=2, n_head_kv=1, n_ff=16, head_dim=8, rope_neox=False,
               rope_theta=100.0, tied_embeddings=True, qkv_bias=True, activation="gelu_tanh", embed_scale=4.0)
B, T = 2, 8
LINEARS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, cos, sin, neox):
    """x: (..., S, head_dim); cos, sin: (S, head_dim / 2). neox: pairs are
    (i, i + head_dim/2) (HF's rotate_half), else adjacent (2i, 2i+1)."""
    if neox:
        cos, sin = torch.cat((cos, cos), dim=-1), torch.cat((sin, sin), dim=-1)
        return x * cos + rotate_half(x) * sin
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).reshape(x.shape)


def gelu(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


def linear_dims(c):
    d, qd, kvd, ff = c["n_embd"], c["n_head"] * c["head_dim"], c["n_head_kv"] * c["head_dim"], c["n_ff"]
    return {"attn_q": (d, qd), "attn_k": (d, kvd), "attn_v": (d, kvd), "attn_output": (qd, d),
            "ffn_gate": (d, ff), "ffn_up": (d, ff), "ffn_down": (ff, d)}  # (in, out)


def linear(c, w, m, l, name, x):
    """x @ W.T with the method's LoRA / DoRA on top."""
    W = w["blk.%d.%s.weight" % (l, name)]
    p = "blk.%d.%s." % (l, name)
    bias = w.get(p + "bias")
    if m["method"] not in ("lora", "dora") or p + "lora_a" not in m["params"]:
        return x @ W.T + (0 if bias is None else bias)
    A, Bm = m["params"][p + "lora_a"], m["params"][p + "lora_b"]
    s = m["alpha"] / m["r"]
    y = x @ W.T + s * (x @ A.T) @ Bm.T
    if m["method"] == "dora":
        norm = (W + s * Bm @ A).norm(dim=1)
        if m["detach_norm"]:
            norm = norm.detach()
        y = y * (m["params"][p + "lora_m"] / norm)
    return y


def bottleneck(m, key, u):
    prm = m["params"]
    if m["method"] != "adapter" or key + ".down" not in prm:
        return u
    h = gelu(u @ prm[key + ".down"].T + prm[key + ".down_bias"])
    return u + h @ prm[key + ".up"].T + prm[key + ".up_bias"]


def prefix_kv(c, m):
    """(P, n_layer * 2 * kv_dim) keys and values of the prefix."""
    prm = m["params"]
    if "prefix.mlp1.weight" not in prm:
        return prm["prefix.embd"]
    h = torch.tanh(prm["prefix.embd"] @ prm["prefix.mlp1.weight"].T + prm["prefix.mlp1.bias"])
    return h @ prm["prefix.mlp2.weight"].T + prm["prefix.mlp2.bias"]


def forward(c, w, tokens, m):
    """Logits (B, T, vocab) of the text positions, float64."""
    H, Hkv, hd, d = c["n_head"], c["n_head_kv"], c["head_dim"], c["n_embd"]
    kvd = Hkv * hd
    method, prm = m["method"], m["params"]
    nb, nt = tokens.shape
    x = w["token_embd.weight"][tokens] * c["embed_scale"]
    n_virtual = n_prefix = 0
    if method == "prompt":
        n_virtual = prm["prompt.embd"].shape[0]  # scaled like the tokens (HF scales inputs_embeds)
        x = torch.cat((prm["prompt.embd"].expand(nb, -1, -1) * c["embed_scale"], x), dim=1)
    elif method == "prefix":
        kv = prefix_kv(c, m)
        n_prefix = kv.shape[0]
    S = x.shape[1]
    pos = torch.arange(n_prefix, n_prefix + S, dtype=torch.float64)
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    angles = torch.outer(pos, inv)
    cos, sin = angles.cos(), angles.sin()
    # query i sees every prefix key and text keys 0..i
    mask = torch.full((S, S), float("-inf"), dtype=torch.float64).triu(1)
    mask = torch.cat((torch.zeros(S, n_prefix, dtype=torch.float64), mask), dim=1)

    for l in range(c["n_layer"]):
        pfx = "blk.%d." % l
        h = rms_norm(x, w[pfx + "attn_norm.weight"], c["norm_eps"])
        q = linear(c, w, m, l, "attn_q", h).view(nb, S, H, hd).transpose(1, 2)
        k = linear(c, w, m, l, "attn_k", h).view(nb, S, Hkv, hd).transpose(1, 2)
        v = linear(c, w, m, l, "attn_v", h).view(nb, S, Hkv, hd).transpose(1, 2)
        q, k = rope(q, cos, sin, c["rope_neox"]), rope(k, cos, sin, c["rope_neox"])
        if n_prefix:
            pk = kv[:, (2 * l) * kvd:(2 * l + 1) * kvd].view(n_prefix, Hkv, hd).transpose(0, 1)
            pv = kv[:, (2 * l + 1) * kvd:(2 * l + 2) * kvd].view(n_prefix, Hkv, hd).transpose(0, 1)
            k = torch.cat((pk.expand(nb, -1, -1, -1), k), dim=2)
            v = torch.cat((pv.expand(nb, -1, -1, -1), v), dim=2)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(nb, S, H * hd)
        x = x + bottleneck(m, pfx + "adapter_attn", linear(c, w, m, l, "attn_output", o))
        h = rms_norm(x, w[pfx + "ffn_norm.weight"], c["norm_eps"])
        act = torch.nn.functional.silu if c["activation"] == "silu" else gelu
        g = act(linear(c, w, m, l, "ffn_gate", h)) * linear(c, w, m, l, "ffn_up", h)
        x = x + bottleneck(m, pfx + "adapter_ffn", linear(c, w, m, l, "ffn_down", g))
    x = rms_norm(x, w["output_norm.weight"], c["norm_eps"])
    head = w["token_embd.weight"] if c["tied_embeddings"] else w["output.weight"]
    return (x @ head.T)[:, n_virtual:]


def loss_of(c, w, tokens, targets, m):
    logits = forward(c, w, tokens, m)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, c["n_vocab"]), targets.reshape(-1),
                                             ignore_index=-1, reduction="mean")


# ---------------------------------------------------------------- fixtures

def random_weights(c, g):
    def randn(*shape, std=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std

    d = c["n_embd"]
    w = {"token_embd.weight": randn(c["n_vocab"], d), "output_norm.weight": 1 + randn(d, std=0.2)}
    if not c["tied_embeddings"]:
        w["output.weight"] = randn(c["n_vocab"], d, std=d ** -0.5)
    for l in range(c["n_layer"]):
        p = "blk.%d." % l
        w[p + "attn_norm.weight"] = 1 + randn(d, std=0.2)
        w[p + "ffn_norm.weight"] = 1 + randn(d, std=0.2)
        for name, (n_in, n_out) in linear_dims(c).items():
            w[p + name + ".weight"] = randn(n_out, n_in, std=(2.0 if name in ("attn_q", "attn_k") else 1.0) * n_in ** -0.5)
            if c["qkv_bias"] and name in ("attn_q", "attn_k", "attn_v"):
                w[p + name + ".bias"] = randn(n_out, std=0.5)
    return {name: t.to(torch.float32).to(torch.float64) for name, t in w.items()}


def f32(t):
    return t.to(torch.float32).to(torch.float64)


def write_tensors(blob, entries, tensors):
    for name, t in tensors.items():
        while len(blob) % 32:
            blob.append(0)
        entries.append({"name": name, "ne": list(reversed(t.shape)), "offset": len(blob)})
        blob += t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()


def write_json(name, doc, blob):
    with open(os.path.join(OUT_DIR, name + ".json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))  # compact: the fixtures stay under 300 KB
        f.write("\n")
    with open(os.path.join(OUT_DIR, name + ".bin"), "wb") as f:
        f.write(blob)
    print("%-14s %6d bytes" % (name, len(blob)))


def write_method(name, c, w, tokens, targets, m, options, params_from=None, shared=(), base="base"):
    """params_from names the fixture that stores the values of the `shared`
    parameters (not repeated here, to keep the fixtures small)."""
    leaves = {}
    if m["method"] == "full":
        leaves = {k: v.clone().requires_grad_(True) for k, v in w.items()}
        wm = leaves
    else:
        wm = w
        leaves = {k: v.clone().requires_grad_(True) for k, v in m["params"].items()}
        m = dict(m, params=leaves)
    loss = loss_of(c, wm, tokens, targets, m)
    loss.backward()
    blob, params, grads = bytearray(), [], []
    if m["method"] != "full":
        write_tensors(blob, params, {k: v for k, v in leaves.items() if k not in shared})
    write_tensors(blob, grads, {k: v.grad for k, v in leaves.items()})
    smallest = min(v.grad.abs().max().item() for v in leaves.values())
    assert smallest > 1e-4, "%s: a gradient is ~0 (%g): the fixture would not test it" % (name, smallest)
    doc = {"method": m["method"], "base": base, "options": options, "loss": loss.item(), "params": params,
           "grads": grads}
    if params_from:
        doc["params_from"] = params_from
    write_json(name, doc, blob)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    c = CONFIG
    g = torch.Generator().manual_seed(4)
    w = random_weights(c, g)
    tokens = torch.randint(0, c["n_vocab"], (B, T), generator=g)
    targets = torch.randint(0, c["n_vocab"], (B, T), generator=g)
    targets[0, :3] = -1  # a prompt without loss
    targets[1, 5] = -1
    blob, entries = bytearray(), []
    write_tensors(blob, entries, w)
    write_json("base", {"description": "2-layer GQA model for gradient fixtures", "config": c,
                        "batch": B, "seq": T, "tokens": tokens.tolist(), "targets": targets.tolist(),
                        "tensors": entries}, blob)

    def randn(*shape, std=1.0):
        return f32(torch.randn(*shape, generator=g, dtype=torch.float64) * std)

    d, kvd, L = c["n_embd"], c["n_head_kv"] * c["head_dim"], c["n_layer"]
    write_method("full", c, w, tokens, targets, {"method": "full", "params": {}}, {})

    r, alpha = 4, 8.0
    lora = {}
    for l in range(L):
        for name, (n_in, n_out) in linear_dims(c).items():
            p = "blk.%d.%s." % (l, name)
            lora[p + "lora_a"] = randn(r, n_in, std=n_in ** -0.5)
            lora[p + "lora_b"] = randn(n_out, r, std=0.3)
    opts = {"r": r, "alpha": alpha, "targets": list(LINEARS)}
    write_method("lora", c, w, tokens, targets, {"method": "lora", "r": r, "alpha": alpha, "params": lora}, opts)

    dora = dict(lora)
    for l in range(L):
        for name in LINEARS:
            p = "blk.%d.%s." % (l, name)
            W = w[p + "weight"]
            dora[p + "lora_m"] = f32((W + alpha / r * lora[p + "lora_b"] @ lora[p + "lora_a"]).norm(dim=1)
                                     * (1 + 0.2 * torch.randn(W.shape[0], generator=g, dtype=torch.float64)))
    for detach in (False, True):
        m = {"method": "dora", "r": r, "alpha": alpha, "detach_norm": detach, "params": dora}
        write_method("dora_detached" if detach else "dora", c, w, tokens, targets, m,
                     dict(opts, detach_norm=detach), "dora" if detach else "lora",
                     dora.keys() if detach else lora.keys())

    nb = 6
    ad = {}
    for l in range(L):
        for key in ("adapter_attn", "adapter_ffn"):
            p = "blk.%d.%s" % (l, key)
            ad[p + ".down"], ad[p + ".down_bias"] = randn(nb, d, std=d ** -0.5), randn(nb, std=0.5)
            ad[p + ".up"], ad[p + ".up_bias"] = randn(d, nb, std=0.5), randn(d, std=0.1)
    write_method("adapter", c, w, tokens, targets, {"method": "adapter", "params": ad}, {"bottleneck": nb})

    P = 3
    write_method("prompt", c, w, tokens, targets, {"method": "prompt", "params": {"prompt.embd": randn(P, d)}},
                 {"n_virtual": P})
    write_method("prefix", c, w, tokens, targets,
                 {"method": "prefix", "params": {"prefix.embd": randn(P, L * 2 * kvd)}}, {"n_virtual": P})
    hidden = 16
    mlp = {"prefix.embd": randn(P, d), "prefix.mlp1.weight": randn(hidden, d, std=d ** -0.5),
           "prefix.mlp1.bias": randn(hidden, std=0.3), "prefix.mlp2.weight": randn(L * 2 * kvd, hidden),
           "prefix.mlp2.bias": randn(L * 2 * kvd, std=0.3)}
    write_method("prefix_mlp", c, w, tokens, targets, {"method": "prefix", "params": mlp},
                 {"n_virtual": P, "token_dim": d, "hidden": hidden})

    # A second, smaller model for the features the first lacks: tied head,
    # Q/K/V biases, GELU gate, scaled embeddings, adjacent-pair RoPE, MQA.
    c = VARIANT
    g = torch.Generator().manual_seed(5)
    w = random_weights(c, g)
    tokens = torch.randint(0, c["n_vocab"], (B, T), generator=g)
    targets = torch.randint(0, c["n_vocab"], (B, T), generator=g)
    targets[1, :2] = -1
    blob, entries = bytearray(), []
    write_tensors(blob, entries, w)
    write_json("variant", {"description": "tied head, qkv biases, GELU, embed scale, adjacent RoPE, MQA",
                           "config": c, "batch": B, "seq": T, "tokens": tokens.tolist(),
                           "targets": targets.tolist(), "tensors": entries}, blob)
    write_method("full_variant", c, w, tokens, targets, {"method": "full", "params": {}}, {}, base="variant")
    prompt = f32(torch.randn(2, c["n_embd"], generator=g, dtype=torch.float64) * 0.3)
    write_method("prompt_variant", c, w, tokens, targets, {"method": "prompt", "params": {"prompt.embd": prompt}},
                 {"n_virtual": 2}, base="variant")


if __name__ == "__main__":
    main()
