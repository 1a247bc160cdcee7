#!/usr/bin/env bash
# Quantizes BASE to each type and compares every copy with BASE on the same
# text: bits per weight, perplexity, mean KL divergence and top-1 agreement,
# as one markdown table (the issue-3 table in bench/RESULTS.md).
#   bench/quant_quality.sh BASE TEXT SEP OUT_DIR TYPE...
# SEP: document separator (each document scored from BOS), or "" for
# llama.cpp's chunks. The fallbacks leanlm chose for rows that do not fit a
# block are listed under the table.
set -euo pipefail
base="$1"
text="$2"
sep="$3"
out_dir="$4"
shift 4
leanlm="${LEANLM:-$(dirname "$0")/../build/release/leanlm}"  # LEANLM: another build
mkdir -p "$out_dir"
docs=()
[[ -n "$sep" ]] && docs=(--docs "$sep")

field() {  # field JSON KEY_PATTERN: the first number after the pattern
  grep -o "$2[^,}]*" <<<"$1" | head -1 | sed 's/.*: //'
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) base: $base, text: $text"
echo
echo "| type | bits/weight | PPL | PPL ratio | mean KLD | top-1 agreement |"
echo "|---|---:|---:|---:|---:|---:|"
notes=()
for type in "$@"; do
  model="$out_dir/$(basename "${base%.*}")-$type.gguf"
  log=$("$leanlm" quantize "$base" "$model" "$type" 2>&1 >/dev/null | tr '\r' '\n')
  bpw=$(grep -o '[0-9.]* bits per weight' <<<"$log" | tail -1 | cut -d' ' -f1)
  while read -r line; do notes+=("$type: ${line#warning: }"); done < <(grep '^warning: fallback' <<<"$log" || true)
  json=$("$leanlm" compare "$base" "$model" -f "$text" "${docs[@]}" --json 2>/dev/null)
  printf "| %s | %s | %.4f | %.5f | %.6f | %.2f%% |\n" "$type" "$bpw" \
    "$(field "$json" '"ppl": {"value": ')" "$(field "$json" '"ppl_ratio": {"value": ')" \
    "$(field "$json" '"kld": {"mean": {"value": ')" "$(awk "BEGIN{print 100*$(field "$json" '"same_top": {"value": ')}")"
done
echo
echo "Base PPL: $(field "$json" '"ppl_base": {"value": ')"
for note in "${notes[@]}"; do echo "- $note"; done
