#!/bin/sh
# Real run of issue 7: stage 1 + stage 2 of the small preset on synthetic cuts, this CPU.
# Runs the code snapshot in /work/run_snapshot (copied at start) so edits to the tree don't leak in.
set -e
cd /work/main
export PYTHONPATH=/work/run_snapshot
PY=.venv/bin/python
R=runs/small-synth
$PY -m training align synth:200 --out $R/align --preset small --size 128 \
    --batch 8 --steps 1000 --lr 1e-3 --workers 1 --ckpt-every 50 --val-every 100 --val-frames 16 \
    --log-every 10 --no-progress --resume
$PY -m training train synth:200 --out $R/train --init $R/align --size 128 \
    --batch 2 --steps 1000 --lr 1e-4 --chain-steps 4 --workers 1 --ckpt-every 50 --val-every 100 \
    --val-frames 8 --log-every 10 --no-progress --resume
$PY -m training export $R/train $R/small-synth.safetensors --name small-synth
echo ALL DONE
