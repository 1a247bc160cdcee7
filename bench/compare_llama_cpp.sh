#!/usr/bin/env bash
# Runs `leanlm bench` and llama.cpp's llama-bench on the same GGUF file, in
# alternating rounds so both see the same machine load, and prints both
# tables. llama.cpp is a peer built outside this repository:
#   bench/compare_llama_cpp.sh MODEL.gguf LLAMA_CPP_BIN_DIR [THREADS] [REPS] [ROUNDS] [PROMPT] [GEN]
set -euo pipefail
model="$1"
llama_bin="$2"
threads="${3:-2}"
reps="${4:-5}"
rounds="${5:-2}"
prompt="${6:-128}"
gen="${7:-64}"
leanlm="$(dirname "$0")/../build/release/leanlm"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# model: $model ($(du -h "$model" | cut -f1))"
for round in $(seq "$rounds"); do
  echo "## round $round: leanlm"
  # --no-mmap: weights in memory on huge pages, like llama-bench -mmp 0 below.
  "$leanlm" bench -m "$model" -p "$prompt" -n "$gen" -t "$threads" -r "$reps" --no-mmap
  echo "## round $round: llama.cpp ($("$llama_bin/llama-cli" --version 2>&1 | grep -m1 version || true))"
  # -mmp 0: load into memory, as GUIDE.md advises on these machines.
  "$llama_bin/llama-bench" -m "$model" -p "$prompt" -n "$gen" -t "$threads" -r "$reps" -mmp 0 -o md
done
