"""The cut run's progress tells the truth: what runs, in words, and an ETA that counts the
adaptation to the keys from the start and, once the first in-between is sampled, stays within 30 %
of the time really left. Timed with a fake clock: every kind of work costs a fixed number of fake
seconds (the adaptation dearest per frame, as on a CPU), and the background thread runs inline so
the fake time is the run's whole time."""
from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

import opdm_studio.engine.composite as composite_mod
import opdm_studio.engine.progress as progress_mod
from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.paint import IntervalPainter
from opdm_studio.engine.project import ColorizeSettings, Project
from opdm_studio.engine.run import Colorizer
from opdm_studio.pipelines.base import Step

#: Fake seconds per unit of work (per adaptation step, per frame sampled, measured, finished,
#: per key copied), deliberately unlike the progress model's prior ratios.
COST = {"setup": 4.0, "adapt": 1.0, "sample": 3.0, "finish": 1.5, "light": 0.2}
ADAPT_PER_FRAME = 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


class InlineExecutor:
    """The finishing thread's work done at once, in the caller's thread."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def submit(self, fn, *args):
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as the pool would
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True) -> None:
        pass


@pytest.fixture
def timed_run(cut_noholds, tmp_path, monkeypatch):
    """A run of a 10-frame cut with keys 0, 5, 9 where each kind of work costs COST fake seconds;
    returns (events, total fake seconds, clock)."""
    return _timed_run(cut_noholds, tmp_path, monkeypatch)


def _timed_run(cut_noholds, tmp_path, monkeypatch, kept=(), cost=None, adapt_per_frame=ADAPT_PER_FRAME):
    """(``kept``: key intervals whose adapted network an earlier run left, so no step is run;
    ``cost``: fake seconds per unit, COST by default.) The run is the ``flow`` method's (no model
    to load), timed as ``cost`` says; with the default costs, a model's run (adapting to the
    keys), estimated with the model's prior ratios."""
    cost = cost or COST
    clock = FakeClock()
    monkeypatch.setattr(progress_mod, "ThreadPoolExecutor", InlineExecutor)
    if cost is COST:
        monkeypatch.setattr(progress_mod, "PRIORS", {})
    monkeypatch.setattr(FrameColorizer, "adapt_steps",
                        lambda self, length: adapt_per_frame * max(1, length - 2))
    adapted: set[tuple[int, int]] = set()
    real_guess = Colorizer.color_guess

    def color_guess(self, fc, item, cancel, preview=None):
        if item.keys not in adapted:             # the network adapts once per key interval
            adapted.add(item.keys)
            clock.spend(cost["setup"])           # the flow chained through the interval first
            h, w = self.project.cut.line(item.index).shape
            preview(np.zeros((h, w, 3), np.uint8))
            n = 0 if (item.prev, item.next) in kept else fc.adapt_steps(item.next - item.prev + 1)
            for i in range(1, n + 1):
                clock.spend(cost["adapt"])
                yield Step(i, n + 1, "adapt")
        clock.spend(cost["sample"])
        return (yield from real_guess(self, fc, item, cancel, preview))

    def costs(kind, fn):
        def wrapped(*args, **kwargs):
            clock.spend(cost.get(kind, 0.0))
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(Colorizer, "color_guess", color_guess)
    # Measuring a sampled frame runs on the finishing thread beside the next frame's sampling: it
    # costs the run no time of its own here (the engine counts only what it needs beyond the
    # sampling still to do).
    monkeypatch.setattr(FrameColorizer, "finish", costs("finish", FrameColorizer.finish))
    monkeypatch.setattr(Colorizer, "key_frame", costs("light", Colorizer.key_frame))
    if "measure" in cost:       # measuring dearer than sampling: the run waits for it
        monkeypatch.setattr(IntervalPainter, "evidence", costs("measure", IntervalPainter.evidence))
    if "learn" in cost:         # learning the keys' trace-line treatment, once per run
        monkeypatch.setattr(composite_mod, "learn_trace_treatment",
                            costs("learn", composite_mod.learn_trace_treatment))
    project = Project.create(cut_noholds, tmp_path / "out", keys=[0, 5, 9],
                             settings=ColorizeSettings(method="flow", snap="auto"))
    colorizer = Colorizer(project)
    colorizer.clock = clock
    events = list(colorizer.run())
    return events, clock.now, project


def test_the_eta_stays_within_30_percent_after_the_first_in_between(timed_run):
    events, total, _ = timed_run
    assert events[-1].kind == "finished"
    # Expected fake time: 7 in-betweens x (sample + finish), 2 x 4 + 2 x 3 adapt steps after a
    # set-up per interval, 3 keys.
    assert total == pytest.approx(7 * (3.0 + 1.5) + 2 * 4.0 + 14 * 1.0 + 3 * 0.2)
    first_sampled = next(i for i, e in enumerate(events) if e.kind == "step" and e.phase == "sample")
    checked = 0
    for ev in events[first_sampled + 1:-1]:
        truth = total - ev.elapsed
        if truth < 0.1 * total:
            break                                # the last seconds: a fraction of one frame
        assert ev.eta is not None
        assert abs(ev.eta - truth) <= 0.3 * truth, (ev.kind, ev.name, ev.eta, truth)
        checked += 1
    assert checked >= 10


def test_the_first_eta_counts_every_adaptation_step_still_to_come(timed_run):
    events, total, _ = timed_run
    adapting = [e for e in events if e.kind == "step" and e.phase == "adapt"]
    # The first step also builds the network's copy: the estimate starts with the second, and
    # both intervals' adaptation (14 steps of 1 s) is in it from there on.
    assert adapting[1].eta is not None and adapting[1].eta >= 12 * COST["adapt"]
    # Before the run timed anything, it does not guess.
    start = next(e for e in events if e.kind == "start")
    assert start.eta is None


def test_progress_says_what_runs(timed_run):
    events, _, project = timed_run
    name = project.frame_name
    adapting = [e.message for e in events if e.kind == "step" and e.phase == "adapt"]
    assert adapting[0] == f"adapting to keys {name(0)} and {name(5)}: step 1/8"
    assert adapting[-1] == f"adapting to keys {name(5)} and {name(9)}: step 6/6"
    colouring = [e.message for e in events if e.kind == "frame" and e.phase == "sample"]
    assert f"colouring {name(3)}" in colouring
    deciding = [e for e in events if e.kind == "decide"]
    assert [e.keys for e in deciding] == [(name(0), name(5)), (name(5), name(9))]
    assert deciding[0].message.startswith(f"deciding the paint of {name(1)}-{name(4)}")
    # The bar moves with the work's cost: monotonic, and past halfway only once half the time is spent.
    shares = [e.fraction for e in events]
    assert shares == sorted(shares)
    total = events[-1].elapsed
    half = next(e for e in events if e.fraction >= 0.5)
    assert half.elapsed >= 0.35 * total


def test_every_in_between_is_shown_before_its_interval_is_decided(timed_run):
    events, _, project = timed_run
    w, h = project.cut.size
    for f in (1, 2, 3, 4, 6, 7, 8):
        preview = next(i for i, e in enumerate(events) if e.kind == "preview" and e.index == f)
        done = next(i for i, e in enumerate(events) if e.kind == "done" and e.index == f)
        decide = next(i for i, e in enumerate(events)
                      if e.kind == "decide" and e.keys[0] <= project.frame_name(f) <= e.keys[1])
        assert preview < decide < done
        assert events[preview].picture.shape == (h, w, 3)


def test_an_adaptation_kept_from_an_earlier_run_leaves_the_eta(cut_noholds, tmp_path, monkeypatch):
    """The second interval's network was adapted by an earlier run (kept): its planned steps
    leave the estimate when its first frame samples without them (until then the estimate
    counts them: which intervals need none is known only once their pairs are made)."""
    events, total, _ = _timed_run(cut_noholds, tmp_path, monkeypatch, kept={(5, 9)})
    assert total == pytest.approx(7 * (3.0 + 1.5) + 2 * 4.0 + 8 * 1.0 + 3 * 0.2)
    assert not [e for e in events if e.phase == "adapt" and e.keys[0] == "0005.png"]
    second = next(i for i, e in enumerate(events)
                  if e.kind == "step" and e.phase == "sample" and e.keys[0] == "0005.png")
    checked = 0
    for ev in events[second:-1]:
        truth = total - ev.elapsed
        if truth < 0.1 * total:
            break
        assert abs(ev.eta - truth) <= 0.3 * truth, (ev.kind, ev.name, ev.eta, truth)
        checked += 1
    assert checked >= 3


#: The ``flow`` method's costs: no adaptation, the chained flow's set-up dear, sampling cheap next
#: to measuring, finishing and copying a key (as `opdm-studio bench --cut --method flow` times
#: them), and learning how the keys treat trace lines once per run (seconds for many keys).
FLOW_COST = {"setup": 4.3, "sample": 0.28, "measure": 0.5, "finish": 0.17, "light": 0.63, "learn": 3.0}


def test_the_flow_methods_eta_stays_within_30_percent_after_the_first_in_between(
        cut_noholds, tmp_path, monkeypatch):
    """Its own prior ratios: with the model's, the first measured frame set the cost of every
    kind not timed yet (60-80 % off on the cut bench). The keys' trace-line treatment is learnt
    before the first key is copied, not timed as a copy (the keys left would each cost it)."""
    events, total, _ = _timed_run(cut_noholds, tmp_path, monkeypatch, cost=FLOW_COST, adapt_per_frame=0)
    assert events[-1].kind == "finished"
    assert not [e for e in events if e.phase == "adapt"]
    first_sampled = next(i for i, e in enumerate(events) if e.kind == "step" and e.phase == "sample")
    checked = 0
    for ev in events[first_sampled + 1:-1]:
        truth = total - ev.elapsed
        if truth < 0.1 * total:
            break
        assert ev.eta is not None
        assert abs(ev.eta - truth) <= 0.3 * truth, (ev.kind, ev.name, ev.eta, truth)
        checked += 1
    assert checked >= 10


def test_measuring_dearer_than_sampling_counts_as_done_where_the_run_waited_for_it():
    """Where measuring (on the finishing thread) takes longer than sampling, the run waits for it
    before each decision: that wait is work done, so the run's pace stays 1 and the ETA is the
    work left (counted as done only by the sampling, the pace came out 2x and so did the ETA)."""
    from types import SimpleNamespace

    clock = FakeClock()
    project = SimpleNamespace(settings=SimpleNamespace(method="flow"))
    items = [SimpleNamespace(kind="color") for _ in range(10)]
    p = progress_mod.RunProgress(project, 10, items, clock=clock)
    p.frame_started()
    for _ in range(3):
        p.note("sample", 1.0)
        p.note("measure", 2.0)       # in the background; the run waits for it
        clock.spend(2.0)
    left, _, _ = p._totals(p.unit_seconds())
    assert p.eta() == pytest.approx(left)
