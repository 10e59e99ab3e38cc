#!/bin/sh
# Stage 2 of the issue-7 run (stage 1 finished by run.sh), after the bf16 SSIM fix.
set -e
cd /work/main
export PYTHONPATH=/work/run_snapshot
PY=.venv/bin/python
R=runs/small-synth
$PY -m training train synth:200 --out $R/train --init $R/align --size 128 \
    --batch 2 --steps 1000 --lr 1e-4 --chain-steps 2 --workers 1 --ckpt-every 50 --val-every 100 \
    --val-frames 8 --log-every 10 --no-progress --resume
$PY -m training export $R/train $R/small-synth.safetensors --name small-synth
echo ALL DONE
