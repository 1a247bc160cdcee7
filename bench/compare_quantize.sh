#!/usr/bin/env bash
# Quantizes one GGUF with `leanlm quantize` and llama.cpp's llama-quantize
# (a peer built outside this repository) to each recipe, and compares the
# results tensor by tensor with bench/gguf_diff.py: types, bytes, metadata.
# llama-quantize refuses some shapes (rows not a multiple of 32 for Q4_0..Q8_0,
# IQ4_NL) and then leaves a partial file: its exit status is printed.
#   bench/compare_quantize.sh MODEL.gguf LLAMA_CPP_BIN_DIR [RECIPE...]
#   (e.g. MODEL from `leanlm init --preset stories110m --type f32 -o s110.gguf`)
set -euo pipefail
model="$1"
llama_bin="$2"
shift 2
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(Q8_0 Q4_0 Q4_K_M)
here="$(cd "$(dirname "$0")" && pwd)"
leanlm="${LEANLM:-$here/../build/release/leanlm}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for r in "${recipes[@]}"; do
  set +e
  "$llama_bin/llama-quantize" "$model" "$out/llama.gguf" "$r" 2 > "$out/llama.log" 2>&1
  rc_llama=$?
  "$leanlm" quantize "$model" "$out/leanlm.gguf" "$r" -t 2 > "$out/leanlm.log" 2>&1
  rc_leanlm=$?
  set -e
  echo "## $r: llama-quantize exit $rc_llama, leanlm quantize exit $rc_leanlm"
  grep -h "bits per weight\|fallback" "$out/leanlm.log" || true
  if [ $rc_llama -eq 0 ] && [ $rc_leanlm -eq 0 ]; then
    python3 "$here/gguf_diff.py" "$out/llama.gguf" "$out/leanlm.gguf"
  fi
done
