"""The adaptation recipes measured against the shipped one (docs/benchmarks.md, docs/evaluation.md,
"cheaper adaptation recipes"): FLOPs of one adaptation step, and `opdm-studio evaluate` with a
variant patched in.

    .venv/bin/python docs/runs/adapt-variants.py flops
    VARIANT=crop96 .venv/bin/python docs/runs/adapt-variants.py evaluate ../shared/evaldata --gaps 8,16 --model resources/models/default.safetensors --out DIR

Variants: ``cropN`` (crops of N px instead of 128), ``frozen`` (the reference encoder and the
Offset-Adapter not trained while adapting); one step per in-between is the shipped file with
``adapt_per_frame`` 1 in its header (``onestep``: written to DIR/adapt1.safetensors by
``... adapt-variants.py onestep DIR``)."""
import json
import os
import sys
from pathlib import Path

import torch

import opdm_studio.pipelines.adapt as A
from opdm_studio.core.model import OPDM

MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "default.safetensors"


def patch(variant: str) -> None:
    if variant.startswith("crop"):
        A.ADAPT_CROP = int(variant[4:])
    elif variant == "frozen":
        load = OPDM.load_state_dict

        def frozen(self, sd, *args, **kwargs):
            out = load(self, sd, *args, **kwargs)
            if self.training:
                for mod in (self.ref_encoder, self.offset_adapter):
                    for p in mod.parameters():
                        p.requires_grad_(False)
            return out
        OPDM.load_state_dict = frozen


def flops() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from opdm_studio.core.diffusion import GaussianDiffusion
    from opdm_studio.engine.models import load_model
    lm = load_model(MODEL, "cpu")
    diffusion = GaussianDiffusion.from_config(lm.config)
    g = torch.Generator().manual_seed(0)
    warp = torch.rand(1, 3, 224, 400, generator=g) * 2 - 1
    item = {"line": torch.rand(1, 1, 224, 400, generator=g) * 2 - 1, "prev": warp, "next": warp,
            "prop": warp, "target": torch.rand(1, 3, 224, 400, generator=g) * 2 - 1,
            "confidence": torch.rand(1, 1, 224, 400, generator=g)}
    net = OPDM(lm.config)
    net.load_state_dict({k: v.detach().float() for k, v in lm.model.state_dict().items()})
    net.train()
    for name, frozen, crop in (("shipped", (), 128), ("frozen", ("ref_encoder", "offset_adapter"), 128),
                               ("crop96", (), 96)):
        for p in net.parameters():
            p.requires_grad_(True)
        for mod in frozen:
            for p in getattr(net, mod).parameters():
                p.requires_grad_(False)
        gen = torch.Generator().manual_seed(0)
        batch = A._crops([item], gen, A.ADAPT_BATCH, crop)
        with FlopCounterMode(display=False) as counter:
            A.refine_loss(net, diffusion, lm.inference, batch, gen)["loss"].backward()
        print(f"{name}: {counter.get_total_flops() / 1e9:.1f} GFLOP per adaptation step")


def onestep(out: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(MODEL), "pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    spec = json.loads(meta["inference"])
    spec["adapt_per_frame"] = 1
    meta["inference"] = json.dumps(spec, sort_keys=True)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapt1.safetensors"), metadata=meta)
    print(out / "adapt1.safetensors")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "flops":
        flops()
    elif what == "onestep":
        onestep(Path(sys.argv[2]))
    else:
        patch(os.environ.get("VARIANT", ""))
        from opdm_studio.cli import main
        sys.exit(main(sys.argv[1:]))
