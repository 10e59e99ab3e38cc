#!/bin/sh
# The documented small-preset run (docs/training-runs.md), stage 2 (after small-synth-stage1.sh): joint diffusion-reverse training from
# the frozen estimators, then the fp16 export. Re-running continues from the last checkpoint.
set -e
cd "$(dirname "$0")/../.."
R=runs/small-synth
.venv/bin/python -m training train synth:200 --out $R/train --init $R/align --size 128 \
    --batch 2 --steps 1000 --lr 1e-4 --chain-steps 2 --workers 1 --ckpt-every 50 --val-every 100 \
    --val-frames 8 --log-every 10 --no-progress --resume
.venv/bin/python -m training export $R/train $R/small-synth.safetensors --name small-synth
