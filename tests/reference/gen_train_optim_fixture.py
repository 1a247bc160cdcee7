#!/usr/bin/python3
"""Writes tests/fixtures/train/optim_reference.json for tests/train/optim_test.cpp.

Runs PyTorch's own torch.optim.AdamW / torch.optim.SGD, torch.nn.utils.clip_grad_norm_
and torch.optim.lr_scheduler.LambdaLR on fixed gradients, the way a Hugging Face
Trainer step does it: each of G micro-batch gradients is divided by G and summed
(loss / G), then the global norm is clipped, then optimizer.step(), then
scheduler.step(). The schedule lambdas restate transformers' formulas
(get_{constant,linear,cosine}_schedule_with_warmup, num_cycles=0.5); transformers
itself is not installed here. Run: /usr/bin/python3 tests/reference/gen_train_optim_fixture.py
"""
import json
import math
import os

import torch


def hf_lambda(kind, warmup, total):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        if kind == "constant":
            return 1.0
        if kind == "linear":
            return max(0.0, float(total - step) / float(max(1, total - warmup)))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    return f


def run_case(name, opt, sched, max_norm, accum, steps, shapes, no_wd, seed):
    gen = torch.Generator().manual_seed(seed)
    inits = [torch.randn(s, generator=gen, dtype=torch.float32) for s in shapes]
    params = [torch.nn.Parameter(x.clone()) for x in inits]
    decay = [p for p, n in zip(params, no_wd) if not n]
    nodecay = [p for p, n in zip(params, no_wd) if n]
    groups = [{"params": decay, "weight_decay": opt["weight_decay"]},
              {"params": nodecay, "weight_decay": 0.0}]
    if opt["kind"] == "adamw":
        o = torch.optim.AdamW(groups, lr=sched["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])
    else:
        o = torch.optim.SGD(groups, lr=sched["lr"], momentum=opt["momentum"], nesterov=opt["nesterov"])
    s = torch.optim.lr_scheduler.LambdaLR(o, hf_lambda(sched["kind"], sched["warmup"], sched["total"]))
    grads, expected, norms, lrs = [], [], [], []
    for step in range(steps):
        # Gradients of varying size, so that clipping acts on some steps only.
        scale = 0.05 + 1.5 * (step % 4)
        step_grads = [[(torch.randn(sh, generator=gen) * scale).float() for sh in shapes] for _ in range(accum)]
        for p in params:
            p.grad = torch.zeros_like(p)
        for micro in step_grads:
            for p, g in zip(params, micro):
                p.grad += g / accum
        if max_norm > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_norm)))
        else:
            norms.append(float(torch.norm(torch.stack([torch.norm(p.grad) for p in params]))))
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        s.step()
        grads.append([[g.flatten().tolist() for g in micro] for micro in step_grads])
        expected.append([p.detach().flatten().tolist() for p in params])
    return {
        "name": name, "optimizer": opt, "schedule": sched, "max_norm": max_norm, "accum": accum,
        "params": [{"name": f"p{i}", "shape": list(sh), "no_weight_decay": n, "init": x.flatten().tolist()}
                   for i, (sh, n, x) in enumerate(zip(shapes, no_wd, inits))],
        "grads": grads, "expected": expected, "norms": norms, "lrs": lrs,
    }


def main():
    adamw = {"kind": "adamw", "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8,
             "momentum": 0.0, "nesterov": False}
    sgd_nesterov = {"kind": "sgd", "weight_decay": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                    "momentum": 0.9, "nesterov": True}
    sgd_plain = dict(sgd_nesterov, momentum=0.0, nesterov=False, weight_decay=0.0)
    cases = [
        run_case("adamw_cosine_clip_accum", adamw, {"kind": "cosine", "lr": 1e-2, "warmup": 3, "total": 10},
                 1.0, 2, 10, [(3, 5), (7,), (2, 2, 3)], [False, True, False], 1),
        run_case("adamw_constant_warmup", dict(adamw, weight_decay=0.0, beta2=0.999),
                 {"kind": "constant", "lr": 3e-3, "warmup": 4, "total": 12}, 0.0, 1, 12, [(4, 4)], [False], 2),
        run_case("sgd_nesterov_linear_clip", sgd_nesterov, {"kind": "linear", "lr": 5e-2, "warmup": 2, "total": 10},
                 0.5, 1, 10, [(6,), (3, 3)], [False, True], 3),
        run_case("sgd_plain_accum3", sgd_plain, {"kind": "constant", "lr": 0.1, "warmup": 0, "total": 6},
                 0.0, 3, 6, [(5,)], [False], 4),
    ]
    schedules = []
    for kind in ["constant", "linear", "cosine"]:
        for warmup, total in [(0, 10), (3, 10), (5, 5), (0, 1), (4, 17)]:
            f = hf_lambda(kind, warmup, total)
            schedules.append({"kind": kind, "warmup": warmup, "total": total,
                              "factors": [f(step) for step in range(total + 3)]})
    out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "train", "optim_reference.json")
    with open(out, "w") as fh:
        json.dump({"torch_version": torch.__version__, "cases": cases, "schedules": schedules}, fh)
        fh.write("\n")


if __name__ == "__main__":
    main()
