#!/usr/bin/env bash
# RL on a GPU within a wall-time budget: rollouts/second (image-only and joint), then a joint run that
# stops in time to evaluate on world-test and copy its results. Everything lands under $OUT.
#
#   OUT=/some/folder scripts/rl_gpu.sh 480            # 8 minutes in all
#   OUT=/some/folder scripts/rl_gpu.sh 480 rl/configs/world.yaml
#   OUT=/some/folder RL_GPU_RUNS="joint image4000" scripts/rl_gpu.sh 540   # also the image-only check
#
# Budget split: 8% and 17% for the two throughput measurements; the rest shared by the runs, each keeping 15% (at least 60 s)
# for its evaluation; training stops by the trainer's own time_budget_s, at a step boundary, and saves.
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

# GPU batches: more sessions per step than the CPU defaults (the editor is tiny; the LLM batches well, so it
# decodes 256 requests at once where a CPU is fastest at 32: text_generation_batch).
# RL_GPU_SETS replaces them, e.g. for the world LM, whose text RL needs many more prompts per step
# (evals/reports/rl_world_lm.md, "Probes"):
#   RL_GPU_SETS="--set sessions_per_step=128 --set group_size=8 --set micro_batch=256 --set text_lr=3e-4 --set threads=4
#                --set text_generation_batch=1024"
gpu_sets=(${RL_GPU_SETS:---set sessions_per_step=8 --set group_size=8 --set micro_batch=16 --set threads=4
          --set text_generation_batch=256})

# 1. rollouts per second
slice=$(( budget * 8 / 100 ))
timeout "$slice" python scripts/rl_throughput.py --config "$config" --mode image --text-policy rules \
    --batches 3 --threads 4 --run-dir "$out/throughput-image" --out "$out/throughput.jsonl" \
    >> "$out/rl_gpu.log" 2>&1 || log "image-only throughput did not finish in ${slice}s"
slice=$(( budget * 17 / 100 ))  # loading SmolLM2 and generating take longer
timeout "$slice" python scripts/rl_throughput.py --config "$config" --batches 2 --threads 4 \
    --set text_generation_batch=256 --run-dir "$out/throughput-joint" --out "$out/throughput.jsonl" \
    >> "$out/rl_gpu.log" 2>&1 || log "joint throughput did not finish in ${slice}s"
log "throughput: $(cat "$out/throughput.jsonl" 2>/dev/null | tr '\n' ' ')"

# 2. training runs, sharing what is left minus the evaluation reserve of each:
#    joint      rl/configs/world.yaml as it is (SmolLM2 + the SFT adapter in rl/adapters/world-sft + shipped editor)
#    image4000  image-only from the earlier 4000-step editor (carry rl/runs/base), rule reasoner, GPU-sized batch:
#               checks whether a large batch lets the image side's reward rise (it did not at CPU batch sizes)
runs=(${RL_GPU_RUNS:-joint})
for index in "${!runs[@]}"; do
    name=${runs[$index]}
    remaining_runs=$(( ${#runs[@]} - index ))
    share=$(( $(left) / remaining_runs ))
    reserve=$(( share * 15 / 100 )); (( reserve < 60 )) && reserve=60
    train_budget=$(( share - reserve - 45 ))  # 45 s: loading SmolLM2 and the editor
    if (( train_budget < 30 )); then
        log "no time left to train $name (${train_budget}s)"; continue
    fi
    extra=()
    if [[ $name == image4000 ]]; then
        if [[ ! -f rl/runs/base/world_editor_4000.safetensors ]]; then
            log "image4000 needs rl/runs/base/world_editor_4000.safetensors (see evals/reports/rl_world.md)"; continue
        fi
        extra=(--set mode=image --set text_policy=rules --set image_model=rl/runs/base/world_editor_4000.safetensors
               --set image_lr=1e-4 --set eval_sessions=100)
    fi
    log "$name: ${train_budget}s of training, then world-test evaluation"
    timeout "$(( share - 10 ))" python -m rl.cli --config "$config" --out "$out/$name" --no-progress \
        --set time_budget_s="$train_budget" --set steps=100000 --set save_every=20 \
        --set eval_sessions=20 --set eval_turns=5 "${gpu_sets[@]}" "${extra[@]}" >> "$out/rl_gpu.log" 2>&1 \
        || log "$name ended early (status $?); its last checkpoint and log are in $out/$name"
    rm -rf "$out/$name/checkpoints"  # keep what comes back small
    [[ -f $out/$name/log.jsonl ]] && python scripts/rl_log_summary.py "$out/$name/log.jsonl" | tee -a "$out/rl_gpu.log"
done
rm -rf "$out"/throughput-*/checkpoints
log "done in $(( $(date +%s) - start ))s"
