#!/usr/bin/env bash
# One lease of a GPU machine (15 minutes in all here): the run variants side by side on one GPU,
# each ending within $MINUTES, then each one's projection (train_head.py), then slim checkpoints
# in $OUT (slim.py; bring them back with `slim.py unpack`). Needs the repository,
# training/work/corpus.pt.xz (encode_corpus.py --xz) and python3 with torch on the machine.
# A 3-step smoke run of every later stage runs beside the variants, so that a mistake shows in
# the first minute; the script ends early when every variant has failed.
#
#   MINUTES=6.5 OUT=/tmp/out bash training/device_run.sh             # the first lease: ft, ftd, scratch
#   MINUTES=2.6 RUNS=ftd1 SMOKE=0 OUT=/tmp/out bash training/device_run.sh   # the second
# A variant's flags come after the common ones, so they win (argparse keeps the last).
set -uo pipefail
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
: "${MINUTES:=6.5}" "${RUNS:=ft ftd scratch}" "${SMOKE:=1}" "${OUT:?OUT: where the slim checkpoints go}"
t0=$(date +%s)
since() { echo "$(( $(date +%s) - t0 )) s"; }
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

common=(--ret-batch 128 --batch 256 --sts-batch 64 --sts-weight 1.0 --monitor-every 400 --ckpt-every 100000
        --ret-weights flores-ict=0.57,help-ict=0.43,help-title=0 --threads 4 --minutes "$MINUTES")
declare -A variants=(
  # the bundled model's weights, every weight trained with retrieval mixed in
  [ft]="--init-hf ../public/models/m3-mini --lr 1e-4 --warmup 100"
  # the same, the translation and STS embeddings held to the bundled model's
  [ftd]="--init-hf ../public/models/m3-mini --lr 1e-4 --warmup 100 --distill 10"
  # a full schedule from the SVD init, retrieval mixed in from the first step
  [scratch]="--lr 5e-4 --warmup 200"
  # ftd with the embeddings and layer 1 kept: 1-layer exits stay the bundled model's bit for bit
  [ftd1]="--init-hf ../public/models/m3-mini --lr 1e-4 --warmup 100 --distill 10 --freeze-layers 1"
  # scratch with twice and four times the translation batch (more in-batch negatives, more pairs per
  # launch-bound step), the peak learning rate scaled by the square root of the batch
  [big]="--lr 7e-4 --warmup 200 --batch 512 --sts-batch 128 --ret-batch 256"
  [huge]="--lr 1e-3 --warmup 200 --batch 1024 --sts-batch 256 --ret-batch 256"
  # big, its translation and STS embeddings pulled toward the bundled model's: the translation space
  # that scratch runs took ~5,000 CPU steps to build, taught directly while retrieval trains
  [bigd]="--lr 7e-4 --warmup 200 --batch 512 --sts-batch 128 --ret-batch 256 --teacher ../public/models/m3-mini --distill 5"
  # big with UI strings -> the help sections that name them among the queries (the ui-help ablation)
  [bigu]="--lr 7e-4 --warmup 200 --batch 512 --sts-batch 128 --ret-batch 256 --ret-weights flores-ict=0.45,help-ict=0.3,ui-help=0.25"
)
declare -A pids
for v in $RUNS; do
  rm -rf "work/runs/$v"
  # shellcheck disable=SC2086
  python3 train.py --run "$v" "${common[@]}" ${variants[$v]} > "work/$v.log" 2>&1 &
  pids[$v]=$!
done

rm -rf work/runs/smoke
if [ "$SMOKE" = 0 ]; then
  echo "no smoke run"
elif python3 train.py --run smoke --init-hf ../public/models/m3-mini --steps 3 --batch 16 --sts-batch 8 \
     --ret-batch 8 --distill 1 --monitor-every 1000 --ckpt-every 1000 --threads 2 > work/smoke.log 2>&1 &&
   python3 train_head.py --run smoke --pairs 1:128 --epochs 1 >> work/smoke.log 2>&1 &&
   python3 slim.py pack --run smoke --out /tmp/smoke >> work/smoke.log 2>&1; then
  echo "smoke passed after $(since)"
else
  echo "smoke FAILED after $(since)"; tail -n 30 work/smoke.log
fi

trained=()
for v in $RUNS; do
  if wait "${pids[$v]}"; then trained+=("$v"); else echo "$v FAILED"; tail -n 30 "work/$v.log"; fi
done
echo "trained (${trained[*]}) after $(since)"
for v in "${trained[@]}"; do
  python3 train_head.py --run "$v" --pairs 7:5120,11:5120,13:5120,17:5120 --epochs 20 > "work/$v-head.log" 2>&1 &
done
wait
for v in "${trained[@]}"; do
  python3 slim.py pack --run "$v" --out "$OUT"
  { echo "== $v"; cat "work/$v.log" "work/$v-head.log"; } >> "$OUT/logs.txt"
  echo "== $v"; grep 's a step\|done\|Error' "work/$v.log"; grep '"dev"' "work/$v.log" | tail -n 2
  grep 'monitor\|fitted\|Error' "work/$v-head.log"
done
echo "all done after $(since)"
