"""Ray Serve's application, deployment and replica states as portable service states.

Every mapping is in the tables below. A service's state comes from its application's status
first (failed, being deleted, not yet built); while the application is deploying or running,
from its one deployment's status and how many of its replicas run:

=====================  ===========================  ==========================================
Serve                  status                       ServiceState
=====================  ===========================  ==========================================
application            NOT_STARTED                  PENDING
application            DEPLOY_FAILED                FAILED (the reason: Serve's message, which
                                                    holds the replica's last log lines)
application            DELETING                     STOPPING
deployment             UPDATING                     UPDATING after an update (version > 1),
                                                    STARTING on the first deploy
deployment             HEALTHY/UPSCALING/           READY with every desired replica running,
                       DOWNSCALING                  else NOT_READY
deployment             UNHEALTHY                    NOT_READY
deployment             DEPLOY_FAILED                FAILED
replica                STARTING/UPDATING/           STARTING
                       RECOVERING
replica                RUNNING/PENDING_MIGRATION    READY (Serve routes to it)
replica                STOPPING                     STOPPING
replica                STOPPED                      STOPPED
=====================  ===========================  ==========================================
"""

from __future__ import annotations

from portacloud.services.models import ServiceState

__all__ = ["APP_STATES", "DEPLOYMENT_STATES", "REPLICA_STATES", "service_state"]

_S = ServiceState

#: Application statuses that decide the service's state on their own.
APP_STATES: dict[str, ServiceState] = {
    "NOT_STARTED": _S.PENDING,
    "DEPLOY_FAILED": _S.FAILED,
    "DELETING": _S.STOPPING,
}

#: Deployment statuses; ``None``: decided by the count of running replicas.
DEPLOYMENT_STATES: dict[str, ServiceState | None] = {
    "UPDATING": _S.UPDATING,
    "HEALTHY": None,
    "UPSCALING": None,
    "DOWNSCALING": None,
    "UNHEALTHY": _S.NOT_READY,
    "DEPLOY_FAILED": _S.FAILED,
}

REPLICA_STATES: dict[str, ServiceState] = {
    "STARTING": _S.STARTING,
    "UPDATING": _S.STARTING,
    "RECOVERING": _S.STARTING,
    "RUNNING": _S.READY,
    "PENDING_MIGRATION": _S.READY,
    "STOPPING": _S.STOPPING,
    "STOPPED": _S.STOPPED,
}


def service_state(
    app_status: str,
    deployment_status: str | None,
    *,
    version: int,
    ready: int,
    desired: int,
) -> ServiceState:
    """The portable state of one service (see the module's table)."""
    if app_status in APP_STATES:
        return APP_STATES[app_status]
    if deployment_status is None:
        return _S.PENDING
    state = DEPLOYMENT_STATES.get(deployment_status, _S.NOT_READY)
    if state is _S.UPDATING and version <= 1:
        return _S.STARTING
    if state is None:
        return _S.READY if ready >= desired and ready > 0 else _S.NOT_READY
    return state
