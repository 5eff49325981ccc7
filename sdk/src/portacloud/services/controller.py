"""The services controller: one detached process per service, shared by local:// and slurm://.

Run as ``python -m portacloud.services.controller --state DIR --launcher local|MODULE:FACTORY
[--launcher-options JSON]``. The driver starts it in a new session (it outlives the client),
writes ``desired.json`` (spec, version, replica count, deleted), and reads ``status.json``.
Each tick (about 20 a second) the controller:

1. keeps the router running (restarted on the same port if it dies);
2. polls every replica through the :class:`~portacloud.services.launcher.ReplicaLauncher`;
   an exited one is restarted with exponential backoff, or marked FAILED with its last log
   lines after ``max_start_failures`` crashes in a row before it was ever ready;
3. probes replicas (readiness path, period, timeout, initial delay) on a thread pool; a
   starting replica whose probe passes becomes READY; a ready one that fails
   ``failure_threshold`` probes in a row is taken out of traffic and restarted;
4. marks replicas whose launcher reports a walltime ending within ``--renew-margin`` for
   replacement;
5. asks :func:`~portacloud.services.rollout.plan_moves` what to start and drain (rolling
   updates, scaling, renewals), starts WAITING replicas whose backoff is over and stops
   DRAINING ones whose drain grace is over and to which the router has no request in flight
   (``inflight.json``);
6. writes ``backends.json`` (READY replicas only), ``controller.json`` and ``status.json``.

Everything it needs to find its replicas again (launcher tokens, ports, GPUs) is in
``controller.json``, so a controller started again adopts the replicas of a dead one, and a
driver can tear a service down with :func:`teardown` when its controller is gone.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from portacloud.private_files import private_dir
from portacloud.services.controller_state import (
    PID_FILE,
    STATUS_FILE,
    ControllerState,
    Desired,
    Phase,
    Replica,
    log_path,
    read_desired,
    shipped_dir,
)
from portacloud.services.controller_status import service_status, tail_lines
from portacloud.services.launcher import Launched, LaunchState, ReplicaLauncher, ReplicaPlan
from portacloud.services.models import PORT_ENV, ServiceSpec, ServiceState
from portacloud.services.placement import Placement, Placer
from portacloud.services.probes import Prober, ProbeResult
from portacloud.services.processes import process_token
from portacloud.services.rollout import plan_moves
from portacloud.services.router import BACKENDS_FILE, IN_FLIGHT_FILE, write_json
from portacloud.services.router_process import RouterProcess

__all__ = ["LAUNCHERS", "Controller", "Timing", "load_launcher", "main", "teardown"]

#: Launcher names ``--launcher`` accepts besides ``MODULE:FACTORY``.
LAUNCHERS = {"local": "portacloud.services.local_launcher:make_launcher"}


@dataclass(frozen=True, kw_only=True)
class Timing:
    """The controller's clocks (seconds).

    Attributes:
        tick: The pause between two reconciliations.
        drain_grace: How long a replica out of traffic may finish its requests before it stops.
        stop_grace: How long a stopped replica has between TERM and KILL.
        backoff_base: The first restart delay; it doubles with each crash in a row.
        backoff_cap: The longest restart delay.
        renew_margin: How long before a reported walltime ends a replacement starts.
        max_drain: How long after its grace a drained replica may still wait for the
            requests the router has in flight to it.
    """

    tick: float = 0.05
    drain_grace: float = 1.0
    stop_grace: float = 5.0
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    renew_margin: float = 120.0
    max_drain: float = 60.0


def load_launcher(name: str, state: Path, options: dict[str, Any]) -> ReplicaLauncher:
    """The launcher ``name`` (a key of :data:`LAUNCHERS`, or ``MODULE:FACTORY``) makes.

    A factory is called as ``factory(state_dir, options)``.
    """
    module, _, attr = LAUNCHERS.get(name, name).partition(":")
    if not attr:
        raise SystemExit(f"unknown launcher {name!r}: one of {sorted(LAUNCHERS)} or MODULE:FACTORY")
    launcher: ReplicaLauncher = getattr(importlib.import_module(module), attr)(state, options)
    return launcher


def teardown(state: Path, launcher: ReplicaLauncher, *, stop_grace: float = 5.0) -> None:
    """Stop everything of the service in ``state``: traffic, replicas, GPUs, the router.

    Used by the controller on delete and by a driver whose controller is gone; safe to run
    twice (stopping an ended replica is not an error).
    """
    write_json(state / BACKENDS_FILE, {"backends": []})
    cstate = ControllerState.load(state)
    if cstate is None:
        return
    placer = launcher if isinstance(launcher, Placer) else None
    for replica in cstate.replicas:
        if replica.token is not None:
            launcher.stop(replica.token, grace=stop_grace)
        if placer is not None:
            placer.release(replica.id)
    RouterProcess(state, host="", token=cstate.router_token).stop(grace=stop_grace)
    cstate.replicas = []
    cstate.router_token = None
    cstate.save(state)


class Controller:
    """Reconciles one service's replicas with its ``desired.json``."""

    def __init__(
        self, state: Path, launcher: ReplicaLauncher, *, router_host: str, timing: Timing
    ) -> None:
        self.dir = state
        self.launcher = launcher
        self.placer = launcher if isinstance(launcher, Placer) else None
        self.timing = timing
        self.cstate = ControllerState.load(state) or ControllerState(pid=os.getpid())
        self.cstate.pid = os.getpid()
        self.router = RouterProcess(state, host=router_host, token=self.cstate.router_token)
        self.prober = Prober()
        self.specs: dict[int, ServiceSpec] = {}
        self.pending: set[str] = set()
        self.stopping = False
        self._backends: list[str] | None = None
        self._status: str | None = None
        self._saved: dict[str, object] | None = None

    def run(self) -> None:
        """Reconcile until the service is deleted (or the controller is told to stop)."""
        try:
            while not self.stopping:
                try:
                    desired = read_desired(self.dir)
                except FileNotFoundError:
                    return  # the driver has forgotten the service
                self.specs[desired.version] = desired.spec
                if desired.deleted:
                    self.delete(desired)
                    return
                try:
                    self.tick(desired)
                except Exception:  # noqa: BLE001 - one bad tick must not stop the service
                    traceback.print_exc()
                    time.sleep(1.0)
                time.sleep(self.timing.tick)
        finally:
            self.prober.close()

    def tick(self, desired: Desired) -> None:
        """One reconciliation."""
        now = time.time()
        if self.router.ensure():
            self.cstate.router_token = self.router.token
        for replica in list(self.cstate.replicas):
            self._watch(replica, desired, now)
        self._mark_renewals(now)
        spec = desired.spec
        moves = plan_moves(
            self.cstate.replicas,
            version=desired.version,
            count=desired.replicas,
            update=spec.update,
        )
        for replica in moves.drain:
            self._drain(replica, now)
        for _ in range(moves.start):
            self.cstate.new_replica(spec.name, desired.version)
        self._write_backends()
        for replica in list(self.cstate.replicas):
            if replica.phase is Phase.WAITING and now >= replica.next_start_at:
                if replica.version == desired.version:
                    self._launch(replica, desired)
            elif replica.phase is Phase.DRAINING and self._drained(replica, now):
                self._stop(replica)
        self._write_backends()
        record = self.cstate.to_json()
        if record != self._saved:  # twenty ticks a second: write only what changed
            self.cstate.save(self.dir)
            self._saved = record
        self._write_status(service_status(self.dir, self.cstate, desired, pending=self.pending))

    def delete(self, desired: Desired) -> None:
        """Stop serving, stop every replica and the router, and write a final STOPPED."""
        stopping = ServiceState.STOPPING
        self._write_status(
            service_status(self.dir, self.cstate, desired, pending=self.pending, final=stopping)
        )
        self.cstate.save(self.dir)
        teardown(self.dir, self.launcher, stop_grace=self.timing.stop_grace)
        self.cstate.replicas = []
        final = service_status(
            self.dir, self.cstate, desired, pending=set(), final=ServiceState.STOPPED
        )
        self._write_status(final)

    # ------------------------------------------------------------------ one replica

    def _spec(self, replica: Replica, desired: Desired) -> ServiceSpec:
        return self.specs.get(replica.version, desired.spec)

    def _plan(self, replica: Replica, desired: Desired) -> ReplicaPlan:
        spec = self._spec(replica, desired)
        env = {**spec.env, "PORTACLOUD_SERVICE": spec.name, "PORTACLOUD_REPLICA": replica.id}
        if replica.port is not None:
            env[PORT_ENV] = str(replica.port)
        return ReplicaPlan(
            service=spec.name,
            replica=replica.id,
            version=replica.version,
            spec=spec,
            env=env,
            port=replica.port,
            gpus=tuple(replica.gpus),
            log_path=log_path(self.dir, replica.id),
            workdir=self.dir / "work" / replica.id,
        )

    def _watch(self, replica: Replica, desired: Desired, now: float) -> None:
        """Poll a launched replica, handle its exit, and probe it."""
        if replica.token is None or replica.phase not in (Phase.STARTING, Phase.READY):
            return
        launched = self.launcher.poll(replica.token, self._plan(replica, desired))
        if launched.url:
            replica.url = launched.url
        if launched.expires_at is not None:
            replica.expires_at = launched.expires_at.timestamp()
        if launched.state is LaunchState.PENDING:
            self.pending.add(replica.id)
            replica.reason = launched.reason or "waiting for the backend to start it"
            return
        self.pending.discard(replica.id)
        if launched.state is LaunchState.EXITED:
            self._exited(replica, desired, launched, now)
            return
        spec = self._spec(replica, desired)
        result = self.prober.result(replica.id)
        if result is not None:
            self._probed(replica, result, spec, now)
        readiness = spec.readiness
        old_enough = now - (replica.started_at or now) >= readiness.initial_delay
        probing = replica.phase in (Phase.STARTING, Phase.READY) and replica.url
        if probing and old_enough and self.prober.due(replica.id, readiness.period):
            self.prober.start(
                replica.id, f"{replica.url}{readiness.path}", timeout=readiness.timeout
            )

    def _probed(self, replica: Replica, result: ProbeResult, spec: ServiceSpec, now: float) -> None:
        if result.ok:
            replica.probe_failures = 0
            if replica.phase is Phase.STARTING:
                replica.phase = Phase.READY
                replica.start_failures = 0
                replica.reason = None
                self.cstate.ever_ready = True
            return
        if replica.phase is Phase.STARTING:
            replica.reason = f"not ready yet: {result.detail}"
            return
        replica.probe_failures += 1
        failures = replica.probe_failures
        replica.reason = f"readiness probe failed {failures} time(s) in a row: {result.detail}"
        if failures >= spec.readiness.failure_threshold:
            self._restart(replica, f"not ready ({replica.reason}); restarted", now)

    def _exited(self, replica: Replica, desired: Desired, launched: Launched, now: float) -> None:
        code = launched.exit_code
        what = f"exited with code {code}" if code is not None else (launched.reason or "exited")
        replica.token = None
        before_ready = replica.phase is Phase.STARTING
        tail = tail_lines(log_path(self.dir, replica.id))
        lines = f"; last log lines:\n{tail}" if tail else ""
        spec = self._spec(replica, desired)
        if before_ready:
            replica.start_failures += 1
            if replica.start_failures >= spec.max_start_failures:
                self._release(replica)
                replica.phase = Phase.FAILED
                replica.reason = (
                    f"crashed {replica.start_failures} time(s) in a row before it was ready "
                    f"({what}){lines}"
                )
                return
        self._restart(replica, f"{what}; restarting{lines}", now)

    def _restart(self, replica: Replica, reason: str, now: float) -> None:
        """Take a replica out of traffic, stop it, and start it again after its backoff."""
        replica.phase = Phase.WAITING
        self._write_backends()
        if replica.token is not None:
            self.launcher.stop(replica.token, grace=self.timing.stop_grace)
            replica.token = None
        self._release(replica)
        self.prober.forget(replica.id)
        replica.restarts += 1
        replica.probe_failures = 0
        delay = self.timing.backoff_base * 2 ** max(0, replica.start_failures - 1)
        replica.next_start_at = now + min(delay, self.timing.backoff_cap)
        replica.reason = reason

    def _release(self, replica: Replica) -> None:
        if self.placer is not None:
            self.placer.release(replica.id)
        replica.gpus = []

    def _launch(self, replica: Replica, desired: Desired) -> None:
        spec = desired.spec
        placement = Placement(port=None)
        if self.placer is not None:
            placed = self.placer.place(replica.id, spec.resources.gpu_count)
            if placed is None:
                replica.reason = f"waiting for {spec.resources.gpu_count} free GPU(s)"
                return
            placement = placed
        replica.port = placement.port
        replica.gpus = list(placement.gpus)
        replica.url = None
        self.cstate.save(self.dir)  # GPUs taken are on record before anything can fail
        self._fresh_workdir(replica)
        replica.phase = Phase.STARTING
        replica.started_at = time.time()
        replica.probe_failures = 0
        replica.reason = None
        replica.token = self.launcher.start(self._plan(replica, desired))
        self.cstate.save(self.dir)

    def _fresh_workdir(self, replica: Replica) -> None:
        """Give the replica a fresh copy of its version's workdir (or an empty directory)."""
        target = self.dir / "work" / replica.id
        shutil.rmtree(target, ignore_errors=True)
        shipped = shipped_dir(self.dir, replica.version)
        if shipped.is_dir():
            shutil.copytree(shipped, target, symlinks=True)
        private_dir(target)

    def _drain(self, replica: Replica, now: float) -> None:
        grace = self.timing.drain_grace if replica.phase is Phase.READY else 0.0
        replica.phase = Phase.DRAINING
        replica.drain_until = now + grace
        replica.reason = "taken out of traffic; stopping"
        self.prober.forget(replica.id)

    def _drained(self, replica: Replica, now: float) -> bool:
        """Whether a replica out of traffic may stop: its grace is over and the router has
        no request of it in flight (or it has waited ``max_drain`` for them)."""
        until = replica.drain_until or 0.0
        if now < until or replica.url is None or now >= until + self.timing.max_drain:
            return now >= until
        try:
            data = json.loads((self.dir / IN_FLIGHT_FILE).read_text())
        except (OSError, ValueError):
            return True
        return not data.get("in_flight", {}).get(replica.url)

    def _stop(self, replica: Replica) -> None:
        if replica.token is not None:
            self.launcher.stop(replica.token, grace=self.timing.stop_grace)
        self._release(replica)
        self.prober.forget(replica.id)
        self.pending.discard(replica.id)
        self.cstate.replicas.remove(replica)
        shutil.rmtree(self.dir / "work" / replica.id, ignore_errors=True)

    def _mark_renewals(self, now: float) -> None:
        margin = self.timing.renew_margin
        for replica in self.cstate.replicas:
            expires = replica.expires_at
            due = expires is not None and now >= expires - margin
            if replica.phase is Phase.READY and due and not replica.renewing:
                replica.renewing = True

    # ------------------------------------------------------------------ files

    def _write_backends(self) -> None:
        urls = [r.url for r in self.cstate.replicas if r.phase is Phase.READY and r.url]
        if urls != self._backends:
            write_json(self.dir / BACKENDS_FILE, {"backends": [{"url": u} for u in urls]})
            self._backends = urls

    def _write_status(self, status: Any) -> None:
        text = status.model_dump_json()
        if text != self._status:
            tmp = self.dir / f".{STATUS_FILE}.tmp"
            tmp.write_text(text)
            os.replace(tmp, self.dir / STATUS_FILE)
            self._status = text


def _lock(state: Path) -> IO[str] | None:
    """Hold ``controller.lock`` for life: one controller per service, however it was started."""
    handle = open(state / "controller.lock", "a")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m portacloud.services.controller")
    parser.add_argument("--state", required=True, type=Path, help="the service's state dir")
    parser.add_argument("--launcher", required=True, help="local, or MODULE:FACTORY")
    parser.add_argument("--launcher-options", default="{}", help="a JSON object")
    parser.add_argument("--router-host", default="127.0.0.1")
    parser.add_argument("--drain-grace", type=float, default=Timing.drain_grace)
    parser.add_argument("--stop-grace", type=float, default=Timing.stop_grace)
    parser.add_argument("--renew-margin", type=float, default=Timing.renew_margin)
    parser.add_argument("--max-drain", type=float, default=Timing.max_drain)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run one service's controller until the service is deleted."""
    args = _parser().parse_args(argv)
    state: Path = args.state
    held = _lock(state)
    if held is None:
        print("another controller runs this service; exiting", file=sys.stderr)
        return
    # The one that holds the lock says so, whoever started it (two clients may race).
    (state / PID_FILE).write_text(process_token(os.getpid()))
    launcher = load_launcher(args.launcher, state, json.loads(args.launcher_options))
    timing = Timing(
        drain_grace=args.drain_grace,
        stop_grace=args.stop_grace,
        renew_margin=args.renew_margin,
        max_drain=args.max_drain,
    )
    controller = Controller(state, launcher, router_host=args.router_host, timing=timing)

    def on_term(_signum: int, _frame: object) -> None:
        controller.stopping = True  # replicas run on; a new controller adopts them

    signal.signal(signal.SIGTERM, on_term)
    controller.run()


if __name__ == "__main__":
    main()
