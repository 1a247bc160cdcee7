#!/usr/bin/python3
"""Writes tests/fixtures/safetensors/torch_mixed.safetensors and its expected values.

Tensor bytes come from PyTorch (Debian's torch 1.13; the `safetensors` package is
not available here), so dtype encodings (bf16, f16, bool, int64) and C-order
layouts are PyTorch's, not leanlm's. The container follows the published format:
u64 little-endian header length, compact JSON header padded with spaces to 8 bytes,
data in the reference writer's order (dtype alignment descending, then name).
The JSON keys are deliberately written in a different order than the data, as
readers must sort by data_offsets.

Run from the repository root: /usr/bin/python3 tests/reference/gen_safetensors_fixture.py
"""
import json
import struct

import torch

OUT = "tests/fixtures/safetensors/torch_mixed"

# safetensors dtype name, in the reference implementation's alignment order.
ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
         "I64", "U64"]
NAMES = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.float16: "F16",
         torch.bfloat16: "BF16", torch.int32: "I32", torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def values(t):
    if t.dtype == torch.bool:
        return [int(v) for v in t.flatten().tolist()]
    if t.dtype.is_floating_point:
        return [float(v) for v in t.float().flatten().tolist()] if t.dtype != torch.float64 else t.flatten().tolist()
    return t.flatten().tolist()


tensors = {
    "model.embed_tokens.weight": ((torch.arange(12, dtype=torch.float32) - 5.5) / 4).reshape(3, 4),
    "model.norm.weight": torch.tensor([1.0, -2.5, 3.14159, 1e-3, -65280.0, 0.1], dtype=torch.bfloat16),
    "half": torch.linspace(-1, 1, 8).to(torch.float16).reshape(2, 2, 2),
    "ids": torch.tensor([0, -1, 2 ** 40], dtype=torch.int64),
    "mask": torch.tensor([[True, False, True], [False, False, True]]),
    "bytes": torch.tensor([0, 127, 128, 255], dtype=torch.uint8),
    "scalar": torch.tensor(42.5, dtype=torch.float32),
    "i32": torch.tensor([-7, 123456789], dtype=torch.int32),
    "f64": torch.tensor([[0.1], [-1e300]], dtype=torch.float64),
    "i8": torch.tensor([-128, 5, 127], dtype=torch.int8),
    "i16": torch.tensor([-32768, 300], dtype=torch.int16),
}
metadata = {"format": "pt", "note": "leanlm fixture"}

order = sorted(tensors, key=lambda n: (-ORDER.index(NAMES[tensors[n].dtype]), n))
infos, blobs, offset = {}, [], 0
for name in order:
    t = tensors[name]
    data = raw_bytes(t)
    infos[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)

header = {name: infos[name] for name in sorted(infos, reverse=True)}
header["__metadata__"] = metadata
text = json.dumps(header, separators=(",", ":")).encode("utf-8")
text += b" " * ((8 - len(text) % 8) % 8)
with open(OUT + ".safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for blob in blobs:
        f.write(blob)

expected = {"__metadata__": metadata, "data_order": order, "tensors": {}}
for name, t in tensors.items():
    expected["tensors"][name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "values": values(t),
                                 "data_offsets": infos[name]["data_offsets"]}
with open(OUT + ".expected.json", "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
