"""Planning: key pairs, frames outside the keyed range, keyframes, held drawings."""
import pytest

from opdm_studio.engine.plan import key_pair, make_plan
from opdm_studio.errors import ProjectError


def test_each_frame_gets_previous_and_next_key():
    plan = {it.index: it for it in make_plan(range(12), keys=[2, 5, 9], n_frames=12)}
    assert plan[0].keys == (2, 2) and plan[1].keys == (2, 2)          # before the first key
    assert plan[3].keys == (2, 5) and plan[4].keys == (2, 5)
    assert plan[6].keys == (5, 9) and plan[8].keys == (5, 9)
    assert plan[10].keys == (9, 9) and plan[11].keys == (9, 9)        # after the last key
    assert plan[3].t == pytest.approx(1 / 3) and plan[8].t == pytest.approx(3 / 4)
    for k in (2, 5, 9):
        assert plan[k].kind == "key" and plan[k].source == k
    assert all(plan[i].kind == "color" for i in (0, 1, 3, 4, 6, 7, 8, 10, 11))


def test_held_drawings_are_coloured_once():
    # frames 2-3 repeat the drawing of frame 1; frame 8 repeats the drawing of keyframe 7
    holds = [0, 1, 1, 1, 4, 5, 6, 7, 7, 9]
    plan = {it.index: it for it in make_plan(range(10), keys=[0, 7, 9], n_frames=10, hold_of=holds)}
    assert plan[1].kind == "color"
    assert plan[2].kind == "held" and plan[2].source == 1 and plan[2].keys == plan[1].keys
    assert plan[3].kind == "held" and plan[3].source == 1
    assert plan[8].kind == "held" and plan[8].source == 7 and plan[8].keys == (7, 7)
    colored = [i for i, it in plan.items() if it.kind == "color"]
    assert colored == [1, 4, 5, 6]


def test_hold_starting_before_the_range_is_coloured_in_range():
    holds = [0, 1, 1, 1, 4, 5]
    plan = make_plan([2, 3, 4], keys=[0, 5], n_frames=6, hold_of=holds)
    assert [(it.index, it.kind, it.source) for it in plan] == [(2, "color", 2), (3, "held", 2),
                                                               (4, "color", 4)]


def test_key_inside_a_hold_gives_the_hold_its_colours():
    holds = [0, 1, 1, 1, 4]
    plan = {it.index: it for it in make_plan(range(5), keys=[0, 3], n_frames=5, hold_of=holds)}
    assert plan[1].kind == "held" and plan[1].source == 3
    assert plan[2].kind == "held" and plan[2].source == 3


def test_key_pair_single_key():
    assert key_pair(0, [4]) == (4, 4, 0.0) and key_pair(9, [4]) == (4, 4, 0.0)


def test_bad_plans_raise_user_errors():
    with pytest.raises(ProjectError, match="no keyframes"):
        make_plan(range(3), keys=[], n_frames=3)
    with pytest.raises(ProjectError, match="outside"):
        make_plan([5], keys=[0], n_frames=3)
