"""Variants measured in session 11 against what ships (docs/benchmarks.md, "bf16 without AMX";
docs/evaluation.md, "A flat key's track painted without most frames snapping alone"): any
`opdm-studio` command with a variant patched in.

    VARIANT=fp32 .venv/bin/python docs/runs/cpu-and-track-variants.py bench --cut --json
    VARIANT=bf16adapt .venv/bin/python docs/runs/cpu-and-track-variants.py evaluate ../shared/evaldata --clips 'EISAI_konobi_s01e007*' --gaps 8 --model resources/models/default.safetensors --out DIR
    VARIANT=flatkey .venv/bin/python docs/runs/cpu-and-track-variants.py bench --fixes --json

Variants: ``fp32`` (``auto`` keeps fp32 on a CPU with AVX512-BF16, as before session 11),
``bf16adapt`` (the adaptation to the keys trained under bf16 autocast; measured on a CPU where
``auto`` computes the network in bf16), ``flatkey`` (a track reaching a flat key of exact paint
is painted on every frame whose guess supports that paint, without most of its frames snapping
alone). No variant: as shipped.
"""
import os
import sys


def patch(variant: str) -> None:
    if variant == "fp32":
        import opdm_studio.core.device as device
        device.cpu_fast_bf16 = lambda: False
    elif variant == "bf16adapt":
        import torch

        import opdm_studio.pipelines.adapt as adapt
        loss = adapt.refine_loss

        def under_autocast(*args, **kwargs):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return loss(*args, **kwargs)
        adapt.refine_loss = under_autocast
    elif variant == "flatkey":
        import opdm_studio.imaging.paint_tracks as paint_tracks
        paint_tracks.KEY_NEEDS_SNAP = False
    elif variant:
        raise SystemExit(f"unknown VARIANT {variant!r}: fp32, bf16adapt or flatkey")


if __name__ == "__main__":      # the cut bench writes its synthetic cut in a child process
    patch(os.environ.get("VARIANT", ""))
    from opdm_studio.cli import main
    sys.exit(main(sys.argv[1:]))
