"""How many swatches the keys' paint makes at each merging tolerance (docs/colour-model.md):

    .venv/bin/python docs/runs/colour-model-merge.py ../shared/evaldata

The sample cut (keys 0, 12, 23) and the konobi clips (colour frames only, keys: the first and the
last frame), their keys' flat paint colours read as the app reads them (engine.fixes.key_paint_colours),
merged as the palette merges them (engine.colour_model.cluster, most used first); and the
closest two paints of the sample's palette.json."""
import sys
from pathlib import Path

import numpy as np

from opdm_studio.engine.colour_model import cluster, lab, read_colour_model
from opdm_studio.engine.fixes import key_paint_colours
from opdm_studio.engine.project_home import sample_cut_path
from opdm_studio.imaging.cut import open_cut

TOLERANCES = (0, 2, 4, 6, 8, 10, 15)
data = Path(sys.argv[1])
sample = sample_cut_path()
model = [m.rgb for m in read_colour_model(sample / "palette.json")]
d = np.linalg.norm(lab(model)[:, None] - lab(model)[None], axis=2)
d[np.eye(len(model), dtype=bool)] = np.inf
print(f"sample palette.json: {len(model)} paints, the closest two {d.min():.1f} ΔE apart")
print("| cut | keys | " + " | ".join(f"ΔE {t}" for t in TOLERANCES) + " |")
print("|---|---|" + "---|" * len(TOLERANCES))
cases = [("sample cut", sample, [0, 12, 23])]
for name in ("EISAI_konobi_s01e007_000282", "EISAI_konobi_s01e012_000339"):
    if (data / name).is_dir():
        cases.append((name, data / name, None))
for name, folder, keys in cases:
    cut = open_cut(folder)
    keys = keys if keys is not None else [0, len(cut) - 1]
    colours = key_paint_colours([(cut.color(k), cut.line(k)) for k in keys])
    counts = [len(set(cluster(colours, t))) for t in TOLERANCES]
    print(f"| {name} | {', '.join(map(str, keys))} | " + " | ".join(map(str, counts)) + " |")
