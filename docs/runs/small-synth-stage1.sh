#!/bin/sh
# The documented small-preset run (docs/training-runs.md), stage 1: the small preset's offset estimators on synthetic cuts (this CPU).
# Run from anywhere; uses the repository's .venv. Re-running continues from the last checkpoint.
# (The documented run executed these arguments from a copy of the code taken at its start.)
set -e
cd "$(dirname "$0")/../.."
R=runs/small-synth
.venv/bin/python -m training align synth:200 --out $R/align --preset small --size 128 \
    --batch 8 --steps 1000 --lr 1e-3 --workers 1 --ckpt-every 50 --val-every 100 --val-frames 16 \
    --log-every 10 --no-progress --resume
