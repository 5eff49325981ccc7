"""The controller's pure rules: what to start and drain (no processes)."""

from __future__ import annotations

from portacloud.services.controller_state import Phase, Replica
from portacloud.services.models import UpdatePolicy
from portacloud.services.rollout import plan_moves


def _r(number: int, version: int, phase: Phase = Phase.READY, **extra: object) -> Replica:
    return Replica(id=f"s-v{version}-{number}", version=version, phase=phase, **extra)  # type: ignore[arg-type]


def test_a_new_service_starts_every_replica() -> None:
    moves = plan_moves([], version=1, count=3, update=UpdatePolicy())
    assert moves.start == 3
    assert moves.drain == ()


def test_surge_starts_one_new_replica_and_drains_nothing_until_it_is_ready() -> None:
    old = [_r(1, 1), _r(2, 1)]
    moves = plan_moves(old, version=2, count=2, update=UpdatePolicy(max_surge=1))
    assert moves.start == 1
    assert moves.drain == ()
    starting = [*old, _r(3, 2, Phase.STARTING)]
    moves = plan_moves(starting, version=2, count=2, update=UpdatePolicy(max_surge=1))
    assert moves.start == 0
    assert moves.drain == ()


def test_a_ready_new_replica_lets_one_old_one_go() -> None:
    replicas = [_r(1, 1), _r(2, 1), _r(3, 2)]
    moves = plan_moves(replicas, version=2, count=2, update=UpdatePolicy(max_surge=1))
    assert [r.id for r in moves.drain] == ["s-v1-2"]
    assert moves.start == 0


def test_max_unavailable_drains_first_when_no_surge_is_allowed() -> None:
    old = [_r(1, 1), _r(2, 1)]
    policy = UpdatePolicy(max_surge=0, max_unavailable=1)
    moves = plan_moves(old, version=2, count=2, update=policy)
    assert len(moves.drain) == 1
    assert moves.start == 0
    draining = [_r(1, 1), _r(2, 1, Phase.DRAINING)]
    moves = plan_moves(draining, version=2, count=2, update=policy)
    assert moves.drain == ()
    assert moves.start == 0
    stopped = [_r(1, 1)]
    moves = plan_moves(stopped, version=2, count=2, update=policy)
    assert moves.start == 1
    assert moves.drain == ()


def test_old_replicas_that_are_not_ready_go_at_once() -> None:
    replicas = [_r(1, 1, Phase.WAITING), _r(2, 1)]
    moves = plan_moves(replicas, version=2, count=2, update=UpdatePolicy(max_surge=1))
    assert [r.id for r in moves.drain] == ["s-v1-1"]


def test_scale_down_drains_unready_then_newest() -> None:
    replicas = [_r(1, 1), _r(2, 1, Phase.STARTING), _r(3, 1), _r(4, 1)]
    moves = plan_moves(replicas, version=1, count=2, update=UpdatePolicy())
    assert [r.id for r in moves.drain] == ["s-v1-2", "s-v1-4"]
    assert moves.start == 0


def test_a_failed_replica_keeps_its_slot() -> None:
    replicas = [_r(1, 1, Phase.FAILED), _r(2, 1)]
    moves = plan_moves(replicas, version=1, count=2, update=UpdatePolicy())
    assert moves.start == 0
    assert moves.drain == ()


def test_a_renewing_replica_is_replaced_surge_style_even_without_surge() -> None:
    replicas = [_r(1, 1, renewing=True), _r(2, 1)]
    policy = UpdatePolicy(max_surge=0, max_unavailable=1)
    moves = plan_moves(replicas, version=1, count=2, update=policy)
    assert moves.start == 1
    assert moves.drain == ()
    ready_successor = [*replicas, _r(3, 1)]
    moves = plan_moves(ready_successor, version=1, count=2, update=UpdatePolicy())
    assert [r.id for r in moves.drain] == ["s-v1-1"]
    assert moves.start == 0
