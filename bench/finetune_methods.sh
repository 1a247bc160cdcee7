#!/usr/bin/env bash
# Fine-tunes one base model with every method on the same data and prints the
# table of issue 4: trainable parameters, validation loss before and after,
# tokens/s and peak memory.
#   bench/finetune_methods.sh BASE TEXT OUT_DIR [STEPS] [METHOD...]
# TEXT is split by lines: the first 90% train, the last 10% validate (no
# window of the validation text is ever trained on).
set -euo pipefail
base="$1"
text="$2"
out_dir="$3"
steps="${4:-200}"
shift $(( $# < 4 ? $# : 4 ))
methods=("$@")
[[ ${#methods[@]} -eq 0 ]] && methods=(full lora dora qlora adapter prompt prefix ptuning2)
leanlm="${LEANLM:-$(dirname "$0")/../build/release/leanlm}"
mkdir -p "$out_dir"
lines=$(wc -l < "$text")
head -n $(( lines * 9 / 10 )) "$text" > "$out_dir/train.txt"
tail -n +$(( lines * 9 / 10 + 1 )) "$text" > "$out_dir/val.txt"

# Learning rates: full fine-tuning moves every weight, so it takes smaller steps.
flags() {
  case "$1" in
    full) echo "--lr 2e-3" ;;
    lora | dora) echo "--lr 1e-2 --r 2 --alpha 4 --targets q,k,v,o,gate,up,down" ;;
    qlora) echo "--lr 1e-2 --r 2 --alpha 4 --targets q,k,v,o,gate,up,down --qlora-embeddings" ;;
    adapter) echo "--lr 1e-2 --bottleneck 8" ;;
    prompt) echo "--lr 1e-1 --virtual-tokens 16" ;;
    prefix | ptuning2) echo "--lr 1e-2 --virtual-tokens 16" ;;
  esac
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) base: $base; train: first 90% of the lines of $text, validation: the rest;"
echo "# $steps steps of 8 x 128 tokens, AdamW, cosine schedule with 10 warm-up steps, clip 1.0, seed 1, 2 threads"
echo
echo "| method | trainable parameters | validation loss before | after | reduction | tokens/s | peak memory | frozen base weights |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for method in "${methods[@]}"; do
  rm -rf "${out_dir:?}/$method"  # a fresh run (finetune refuses to overwrite a checkpoint)
  # shellcheck disable=SC2046
  summary=$("$leanlm" finetune -m "$base" --data "$out_dir/train.txt" --val "$out_dir/val.txt" --method "$method" \
    --steps "$steps" --ctx 128 --batch 8 --warmup 10 --eval-batches 16 --seed 1 -t 2 --quiet \
    --out "$out_dir/$method" $(flags "$method") 2>/dev/null)
  trainable=$(grep -o -m1 'trainable [0-9,]* / [0-9,]* parameters ([0-9.]*%)' <<<"$summary" | sed 's/trainable //; s/ parameters//')
  read -r before after < <(grep -o 'validation loss [0-9.]* -> [0-9.]*' <<<"$summary" | awk '{print $3, $5}')
  speed=$(grep -o '[0-9]* tokens/s' <<<"$summary" | cut -d' ' -f1)
  memory=$(grep -o 'peak memory [0-9.]* MiB' <<<"$summary" | cut -d' ' -f3)
  base=$(grep -o 'frozen base weights .*' <<<"$summary" | sed 's/frozen base weights //')
  printf "| %s | %s | %.4f | %.4f | %.4f | %s | %s MiB | %s |\n" "$method" "$trainable" "$before" "$after" \
    "$(awk "BEGIN{print $before - $after}")" "$speed" "$memory" "$base"
done
