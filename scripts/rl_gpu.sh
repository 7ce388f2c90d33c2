#!/usr/bin/env bash
# RL on a GPU within a wall-time budget: rollouts/second (image-only and joint), then a joint run that
# stops in time to evaluate on world-test and copy its results. Everything lands under $OUT.
#
#   OUT=/some/folder scripts/rl_gpu.sh 480            # 8 minutes in all
#   OUT=/some/folder scripts/rl_gpu.sh 480 rl/configs/world.yaml
#
# Budget split: ~10% per throughput measurement, 15% (at least 60 s) kept for the evaluation and copying,
# the rest for training (the trainer's own time_budget_s, so it ends at a step boundary and saves).
set -uo pipefail

budget=${1:?usage: OUT=DIR scripts/rl_gpu.sh BUDGET_SECONDS [CONFIG]}
config=${2:-rl/configs/world.yaml}
out=${OUT:-rl/runs/gpu}
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
log() { echo "[rl_gpu $(( $(date +%s) - start ))s] $*" | tee -a "$out/rl_gpu.log"; }

mkdir -p "$out"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
log "budget ${budget}s, config $config"

# GPU batches: more sessions per step than the CPU defaults (the editor is tiny; the LLM batches well)
gpu_sets=(--set sessions_per_step=8 --set group_size=8 --set threads=4)

# 1. rollouts per second
slice=$(( budget / 10 ))
timeout "$slice" python scripts/rl_throughput.py --config "$config" --mode image --text-policy rules \
    --batches 3 --threads 4 --run-dir "$out/throughput-image" --out "$out/throughput.jsonl" \
    >> "$out/rl_gpu.log" 2>&1 || log "image-only throughput did not finish in ${slice}s"
timeout "$slice" python scripts/rl_throughput.py --config "$config" --batches 2 --threads 4 \
    --run-dir "$out/throughput-joint" --out "$out/throughput.jsonl" \
    >> "$out/rl_gpu.log" 2>&1 || log "joint throughput did not finish in ${slice}s"
log "throughput: $(cat "$out/throughput.jsonl" 2>/dev/null | tr '\n' ' ')"

# 2. the joint run: train for what is left minus the evaluation reserve, then evaluate on world-test
reserve=$(( budget * 15 / 100 )); (( reserve < 60 )) && reserve=60
train_budget=$(( $(left) - reserve - 45 ))  # 45 s: loading SmolLM2 and the editor
if (( train_budget < 30 )); then
    log "no time left to train (${train_budget}s)"; exit 0
fi
log "joint run: ${train_budget}s of training, then world-test evaluation"
timeout "$(( $(left) - 10 ))" edit-agent train --config "$config" --out "$out/joint" --no-progress \
    --set time_budget_s="$train_budget" --set steps=100000 --set save_every=20 \
    --set eval_sessions=20 --set eval_turns=5 "${gpu_sets[@]}" >> "$out/rl_gpu.log" 2>&1 \
    || log "the joint run ended early (status $?); its last checkpoint and log are in $out/joint"

# 3. what the report needs, small enough to copy back (checkpoints stay out)
rm -rf "$out/joint/checkpoints" "$out"/throughput-*/checkpoints
python - "$out/joint/log.jsonl" <<'EOF' >> "$out/rl_gpu.log" 2>&1 || true
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
quarter = max(1, len(records) // 4)
mean = lambda rows, key: sum(r[key] for r in rows) / len(rows)
print(f"{len(records)} steps; reward first/last quarter {mean(records[:quarter], 'reward'):.3f} -> "
      f"{mean(records[-quarter:], 'reward'):.3f}; s/step {mean(records, 'seconds'):.2f}")
EOF
log "done in $(( $(date +%s) - start ))s"
