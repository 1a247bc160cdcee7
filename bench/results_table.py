#!/usr/bin/env python3
"""Turns matmul_bench's JSON (run with --benchmark_repetitions=N
--benchmark_report_aggregates_only=true --benchmark_out=FILE) into the
markdown rows of bench/RESULTS.md: median and min-max range of the rate
(GB/s for decode and bandwidth, GFLOP/s for prompt processing)."""
import json
import sys


def rate(entry):
    if "GFLOP/s" in entry and not entry["name"].startswith("BM_Decode") and \
            not entry["name"].startswith("BM_ReadBandwidth"):
        return entry["GFLOP/s"], "GFLOP/s"
    if "bytes_per_second" in entry:
        return entry["bytes_per_second"] / 1e9, "GB/s"
    return 1e9 / entry["real_time"] if entry.get("time_unit") == "ns" else None, "calls/µs"


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for e in data["benchmarks"]:
        if e.get("run_type") != "aggregate":
            continue
        name, agg = e["run_name"], e["aggregate_name"]
        rows.setdefault(name, {})[agg] = e
    print("| benchmark | label | median | range (min-max) | time median |")
    print("|---|---|---|---|---|")
    for name, aggs in rows.items():
        med = aggs.get("median")
        if med is None:
            continue
        value, unit = rate(med)
        # Statistics apply to each counter: "min" holds the lowest rate.
        lo, _ = rate(aggs["min"]) if "min" in aggs else (value, unit)
        hi, _ = rate(aggs["max"]) if "max" in aggs else (value, unit)
        if name.startswith("BM_ForkJoin"):
            print(f"| {name} | | {med['real_time']:.0f} ns | {aggs['min']['real_time']:.0f}-"
                  f"{aggs['max']['real_time']:.0f} ns | |")
            continue
        ms = med["real_time"] / 1e6 if med.get("time_unit") == "ns" else med["real_time"]
        print(f"| {name.replace('/real_time', '')} | {med.get('label', '')} | {value:.1f} {unit} | "
              f"{lo:.1f}-{hi:.1f} | {ms:.2f} ms |")


if __name__ == "__main__":
    main(sys.argv[1])
