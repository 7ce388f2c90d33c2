"""IF/CC/GA/SR exactly as docs/world.md defines them."""

from __future__ import annotations

import math

from edit_agent.world import Scene, SceneObject, render
from evals.scoring import psnr, score_session, score_turn


def O(cell: str, color: str = "red", shape: str = "circle", size: str = "large") -> SceneObject:
    return SceneObject(shape=shape, color=color, size=size, cell=cell)


def S(*objects: SceneObject, background: str = "white") -> Scene:
    return Scene(background=background, objects=objects)


T0 = S(O("top-left"), O("center", "blue"))
T1 = S(O("top-left", "green"), O("center", "blue"))  # turn 1 recolours the top-left circle


def test_perfect_turn():
    s = score_turn(prev_target=T0, target=T1, prev_parsed=T0, parsed=T1, ga_slots={0})
    assert (s.IF, s.CC, s.GA, s.SR) == (1.0, 1.0, 1.0, 1.0)


def test_missed_edit():
    s = score_turn(prev_target=T0, target=T1, prev_parsed=T0, parsed=T0, ga_slots={0})
    assert (s.IF, s.CC, s.GA, s.SR) == (0.0, 1.0, 0.0, 0.0)


def test_edit_done_but_something_else_changed():
    parsed = S(O("top-left", "green"), O("center", "blue"), background="beige")
    s = score_turn(prev_target=T0, target=T1, prev_parsed=T0, parsed=parsed, ga_slots={0})
    assert s.IF == 1.0 and s.SR == 0.0 and math.isclose(s.CC, 8 / 9)  # 9 untouched slots, background broke


def test_noop_turn_scores_if_only_when_nothing_changed():
    ok = score_turn(prev_target=T0, target=T0, prev_parsed=T0, parsed=T0, ga_slots=set())
    assert (ok.IF, ok.CC, ok.GA, ok.SR) == (1.0, 1.0, 1.0, 1.0)  # GA over no slots is 1
    bad = score_turn(prev_target=T0, target=T0, prev_parsed=T0, parsed=T1, ga_slots=set())
    assert bad.IF == 0.0 and math.isclose(bad.CC, 0.9)


def test_cc_compares_with_the_policys_own_previous_state():
    drifted = S(O("top-left"), O("center", "blue"), O("bottom-right"))  # an extra object from an earlier turn
    s = score_turn(prev_target=T0, target=T1, prev_parsed=drifted, parsed=S(O("top-left", "green"), O("center", "blue"), O("bottom-right")),
                   ga_slots={0})
    assert s.CC == 1.0 and s.IF == 1.0 and s.SR == 0.0  # kept its own (wrong) state: consistent, not successful


def test_ga_counts_earlier_changes_and_locked_objects():
    t2 = S(O("top-left", "green"), O("center", "blue"), background="beige")  # turn 2 changes the background
    targets = [T0, T1, t2]
    reverted = S(O("top-left"), O("center", "blue"), background="beige")  # turn 2 undid turn 1's edit by mistake
    scores = score_session(targets, [T1, reverted], locked_cells=[(), ("center",)])
    assert scores[1].IF == 1.0  # the background is right
    assert math.isclose(scores[1].GA, 2 / 3)  # slots: top-left (turn 1), background (turn 2), center (locked)
    assert scores[1].SR == 0.0
    assert math.isclose(scores[1].CC, 8 / 9)  # untouched by turn 2: the top-left changed against P_1


def test_session_uses_p0_equal_t0():
    [score] = score_session([T0, T1], [T1])
    assert score.SR == 1.0 and score.CC == 1.0


def test_psnr_beside_the_scores():
    assert psnr(render(T1), T1) == math.inf
    assert 0 < psnr(render(T0), T1) < 40
    assert psnr(render(T1, 48).resize((50, 50)), T1) > 0  # any size is taken to a canvas first
