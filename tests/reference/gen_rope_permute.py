#!/usr/bin/python3
"""Prints the row orders of the two published Q/K permutations, for tests/io/rope_permute_test.cpp.

- llama.cpp convert_hf_to_gguf.py (HF halves -> GGUF interleaved):
    w.reshape(n_head, 2, rows // n_head // 2, *rest).swapaxes(1, 2).reshape(w.shape)
- transformers convert_llama_weights_to_hf.py (Meta interleaved -> HF halves):
    w.view(n_head, rows // n_head // 2, 2, cols).transpose(1, 2).reshape(rows, cols)
Each row of the input holds its own index, so the output lists source rows.
"""
import torch


def to_interleaved(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def to_halves(w, n_head):
    rows, cols = w.shape
    return w.view(n_head, rows // n_head // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


for rows, n_head in [(8, 1), (12, 3), (16, 2), (24, 4)]:
    w = torch.arange(rows, dtype=torch.float64).reshape(rows, 1)
    a = [int(x) for x in to_interleaved(w, n_head).flatten().tolist()]
    b = [int(x) for x in to_halves(w, n_head).flatten().tolist()]
    print(f"{{{rows}, {n_head}, {{{', '.join(map(str, a))}}}, {{{', '.join(map(str, b))}}}}},")
