"""The hostile cases of issue 27 against every command, with their exit codes (docs/trust.md).

Run from the repository root: ``python docs/runs/trust-cases.py > /tmp/trust-table.md``. Works
in a temporary folder; prints one Markdown table row per case: item, command (paths shortened),
exit status, the first line the command printed on stderr (shortened), and seconds.
Most commands run in this process (``opdm_studio.cli.main`` / ``training.__main__.main``); the
ones about memory, signals or a fresh process run as child processes.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from opdm_studio.cli import main as cli_main  # noqa: E402
from training.__main__ import main as training_main  # noqa: E402

ROWS: list[str] = []
TMP = Path(tempfile.mkdtemp(prefix="opdm-trust-"))


def _short(text: str) -> str:
    text = text.replace(str(TMP) + "/", "").replace(str(TMP), ".").replace("\n", "\\n")
    return text if len(text) <= 110 else text[:107] + "..."


def _first_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("\r")]
    errors = [x for x in lines if "error:" in x or "stopped" in x]
    warns = [x for x in lines if "warning:" in x]
    return (errors or warns or lines or [""])[0].strip()


def case(item: str, argv: list[str], fn=cli_main, prog: str = "opdm-studio") -> int:
    """Run one command in this process and record its row."""
    err, out = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = int(fn([str(a) for a in argv]) or 0)
        except SystemExit as exc:       # argparse --help and the like
            code = int(exc.code or 0)
    seconds = time.perf_counter() - start
    said = err.getvalue() or "\n".join(x for x in out.getvalue().splitlines() if "skipped" in x)
    row(item, prog + " " + " ".join(str(a) for a in argv), code, said, seconds)
    return code


def row(item: str, command: str, code: int, err: str, seconds: float, extra: str = "") -> None:
    """One Markdown row."""
    cells = [item, f"`{_short(command)}`", str(code), _short(_first_line(err)).replace("|", "\\|"),
             f"{seconds:.1f}{extra}"]
    ROWS.append("| " + " | ".join(cells) + " |")


def spawn(item: str, argv: list[str], limit_mb: int | None = None) -> int:
    """Run ``python -m opdm_studio ARGV`` as a child (peak memory recorded in the row)."""
    pre = None
    if limit_mb:
        def pre() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "opdm_studio", *map(str, argv)], cwd=TMP,
                          capture_output=True, text=True, preexec_fn=pre, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    row(item, "opdm-studio " + " ".join(map(str, argv)), proc.returncode, proc.stderr, seconds,
        f" (own process; peak RSS {peak:.0f} MB)")
    return proc.returncode


def cut(name: str, n: int = 10, keys: tuple[int, ...] = (0, 9)) -> Path:
    """A synthetic cut ``name/lineart`` + ``name/color`` (72x40)."""
    from opdm_studio.synth.cut import write_cut
    folder = TMP / name
    write_cut(folder, n_frames=n, size=(72, 40), seed=3, keyframes=list(keys), holds=False)
    (folder / "palette.json").unlink(missing_ok=True)
    return folder


def colorize(c: Path, out: Path | str, *extra: str) -> list:
    return ["colorize", c, "--keys", "0,9", "--out", out, "--method", "flow", "-q", *extra]


def items_1_to_4() -> None:
    sp = cut("sp")
    os.chdir(TMP)
    (TMP / "link-to-sp").symlink_to(sp)
    for out in ("sp", "sp/", "sp/../sp", "link-to-sp", "sp/lineart/x", "sp/color/y",
                "sp/color/../lineart/q", "sp/lineart/color"):
        case("1", colorize(Path("sp/lineart"), out))
    case("1", colorize(Path("sp"), "sp"))
    case("1", colorize(Path("sp/lineart"), "sp/opdm"))            # allowed: the app's place
    for out in ("sp", "sp/lineart/x", "link-to-sp/color/z"):
        case("1", ["export", "sp/opdm", "--out", out, "-q"])
    case("2", colorize(Path("sp/lineart"), "sp/opdm", "--frames", "0-99999999999", "--force"))
    spawn("2", colorize(Path("sp/lineart"), "sp/opdm", "--frames", "0-99999999999", "--force"),
          limit_mb=1500)
    spawn("2", ["export", "sp/opdm", "--out", "e-frames", "--frames", "0-99999999999", "-q"],
          limit_mb=1500)
    case("2", colorize(Path("sp/lineart"), "sp/opdm", "--frames", "50-99999999999"))
    case("2", colorize(Path("sp/lineart"), "sp/opdm", "--frames", "9-2"))
    case("2", colorize(Path("sp/lineart"), "sp/opdm", "--frames", "x"))
    c3 = cut("c3")
    case("3", colorize(c3, "omA"))
    (TMP / "omA").rename(TMP / "omB")
    case("3", colorize(c3, "omB", "--force"))
    c4 = cut("c4")
    case("4", colorize(c4, "o4"))
    (c4 / "lineart" / "0004.png").unlink()
    case("4", ["export", "o4", "--out", "e4", "-q"])
    case("4", colorize(c4, "o4"))
    (c4 / "lineart" / "0003.png").rename(c4 / "lineart" / "0003b.png")
    case("4", colorize(c4, "o4"))
    c5 = cut("c5")
    case("4", colorize(c5, "o5"))
    c5.rename(TMP / "c5-moved")
    case("4", ["export", "o5", "--out", "e5", "-q"])
    case("4", ["export", "o5", "--out", "e5", "-q", "--cut", "c5-moved"])
    case("4", colorize(TMP / "c5-moved", "o5"))
    c6 = cut("c6")
    case("4", colorize(c6, "c6/opdm"))
    c6.rename(TMP / "c6-moved")
    case("4", ["export", "c6-moved/opdm", "--out", "e6", "-q"])


def item_5() -> None:
    cuts = TMP / "cuts"
    _toy_cuts(cuts)
    out = TMP / "run-sig"
    for sig in (signal.SIGINT, signal.SIGTERM):
        shutil.rmtree(out, ignore_errors=True)
        argv = ["train", str(cuts), "--out", str(out), "--preset", "tiny", "--size", "32",
                "--steps", "100000", "--workers", "0", "--device", "cpu", "--dtype", "fp32",
                "--chain-steps", "1", "--val-frames", "0", "--no-progress", "--log-every", "1"]
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "training", *argv], cwd=TMP, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        while not (out / "log.jsonl").is_file() and time.perf_counter() - start < 120:
            time.sleep(0.2)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        row("5", f"python -m training {' '.join(argv)}  + {sig.name}", proc.returncode, err,
            time.perf_counter() - start)
        step = json.loads((out / "log.jsonl").read_text().splitlines()[-1]).get("step")
        case("5", ["train", str(cuts), "--out", str(out), "--preset", "tiny", "--size", "32",
                   "--steps", str(int(step) + 2), "--workers", "0", "--device", "cpu", "--dtype",
                   "fp32", "--chain-steps", "1", "--val-frames", "0", "--no-progress", "--resume"],
             training_main, "python -m training")


def _toy_cuts(root: Path) -> None:
    from opdm_studio.synth.cut import write_cut
    for i in range(3):
        write_cut(root / f"cut{i}", n_frames=8, size=(64, 64), seed=i, keyframes=None, holds=False)


def items_6_7_12_models() -> None:
    import torch
    from safetensors.torch import save_file

    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.config import InferenceSpec, ModelConfig
    from opdm_studio.core.model import OPDM
    c = cut("c-model")
    header = {"format": "opdm-studio-checkpoint", "format_version": "2",
              "config": ModelConfig.preset("paper").to_json(), "metadata": "{}"}
    small = TMP / "claims-paper.safetensors"
    save_file({"in_conv.weight": torch.zeros(2)}, str(small), metadata=header)
    case("6", ["colorize", c, "--keys", "0,9", "--out", "o-model", "--model", small, "-q"])
    torch.manual_seed(0)
    tiny = OPDM(ModelConfig.preset("tiny"))
    for field, value in (("adapt_per_frame", 10**9), ("steps", 10**9)):
        spec = json.loads(InferenceSpec.refine(t_start=35, steps=1, refs="chain-warped",
                                               adapt_per_frame=2).to_json())
        spec[field] = value
        path = TMP / f"endless-{field}.safetensors"
        save_checkpoint(path, tiny, inference=InferenceSpec.refine(t_start=35))
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata())
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta["inference"] = json.dumps(spec)
        save_file(tensors, str(path), metadata=meta)
        case("12", ["colorize", c, "--keys", "0,9", "--out", "o-model", "--model", path, "-q"])
    cuts = TMP / "cuts"
    frame = cuts / "cut1" / "color" / "0003.png"
    data = frame.read_bytes()
    frame.write_bytes(data[: len(data) // 2])
    case("7", ["check", cuts], training_main, "python -m training")
    frame.write_bytes(data)


BAD_TRAIN = [["--lr", "-1"], ["--batch", "-1"], ["--ema", "5"], ["--accum", "0"],
             ["--minutes", "-1"], ["--minutes", "0"], ["--minutes", "nan"], ["--minutes", "inf"],
             ["--gap", "5,2"], ["--crop", "7"], ["--workers", "-3"], ["--device", "cuda"],
             ["--dtype", "bf16"], ["--dtype", "fp16", "--device", "cpu"], ["--flow-size", "-1"],
             ["--ckpt-every", "0"], ["--steps", "1", "--minutes", "0"], ["--size", "100"],
             ["--seed", "x"], ["--t-range", "60,10"]]

BAD_BENCH = [["--repeats", "-1"], ["--threads", "0"], ["--peak-size", "0"], ["--size", "100"],
             ["--cut", "--frames", "0"], ["--cut", "--size", "0x0"], ["--cut", "--preset", "x"],
             ["--gui", "--frames", "0"], ["--gui", "--methods", "nope"],
             ["--imaging", "--size", "100000x100000"], ["--imaging", "--repeat", "0"],
             ["--fixes", "--frames", "0"], ["--fixes", "--seeds", "a"],
             ["--fixes", "--keys", "5,2"]]


def items_8_9_10() -> None:
    cuts = TMP / "cuts"
    for bad in BAD_TRAIN:
        case("8", ["train", cuts, "--out", TMP / "r8", "--preset", "tiny", "--steps", "1", *bad],
             training_main, "python -m training")
    case("8", ["refine", "--out", TMP / "r8", "--t-range", "9"], training_main,
         "python -m training")
    case("8", ["bench", "--steps", "0"], training_main, "python -m training")
    for bad in BAD_BENCH:
        case("9", ["bench", *bad])
    lineart = TMP / "sp" / "lineart"
    case("9", ["bench", "--cut", "--method", "flow", "--frames", "3", "--size", "64x64", "--keep",
               lineart])
    from training.config import TrainConfig
    from training.state import latest_checkpoint
    from training.trainer import run
    with contextlib.redirect_stdout(io.StringIO()):
        run(TrainConfig(data=str(cuts), out=str(TMP / "r10"), objective="paper", preset="tiny",
                        size=32, steps=1, batch=1, workers=0, device="cpu", dtype="fp32",
                        chain_steps=1, val_frames=0, progress=False))
    ckpt = latest_checkpoint(TMP / "r10")
    for target in (ckpt, cuts / "cut0" / "color" / "0000.png",
                   TMP / "r10" / "checkpoints" / "x.safetensors"):
        case("10", ["export", TMP / "r10", target, "--force"], training_main, "python -m training")
    case("10", ["export", TMP / "r10", TMP / "mine.safetensors"], training_main,
         "python -m training")
    case("10", ["check", cuts, "--preview", cuts / "cut0" / "p.png"], training_main,
         "python -m training")
    data = TMP / "evaldata"
    shutil.copytree(cuts / "cut0" / "color", data / "clip")
    for out in (data, data / "clip", data / "report"):
        case("10", ["evaluate", data, "--gaps", "2", "--methods", "nearest", "--size224-only",
                    "--out", out])


def items_11_12_13() -> None:
    c = cut("c11")
    case("11", colorize(c, "o11"))
    secret = TMP / "secret.png"
    shutil.copy(c / "color" / "0000.png", secret)
    doc = json.loads((TMP / "o11" / "opdm-project.json").read_text())
    doc["keyframes"][0].update(source="file", path=str(secret))
    (TMP / "o11" / "opdm-project.json").write_text(json.dumps(doc))
    case("11", ["export", "o11", "--out", "e11", "-q"])
    doc["keyframes"][0].update(source="file", path="../secret.png")
    (TMP / "o11" / "opdm-project.json").write_text(json.dumps(doc))
    case("11", ["export", "o11", "--out", "e11b", "-q"])
    for template in ("{frame}\n.png", "{frame}.png ", "{cut}_{frame:04d}.jpg"):
        case("12", colorize(c, "o12", "--template", template))
    case("13", ["evaluate", "/nonexistent_dir"])
    (TMP / "a-file").write_text("x")
    case("13", colorize(c, "a-file"))
    case("13", ["train", "bogus"])
    big = cut("c13")
    _bomb(big / "lineart" / "0005.png", 13000, 13000)
    case("13", colorize(big, "o13"))


def _bomb(path: Path, w: int, h: int) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def main() -> None:
    """Run every case and print the table."""
    try:
        items_1_to_4()
        item_5()
        items_6_7_12_models()
        items_8_9_10()
        items_11_12_13()
    finally:
        print("| item | command | exit | first line on stderr | s |")
        print("|---|---|---|---|---|")
        print("\n".join(ROWS))
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
