"""A portable service as a Ray Serve application config (the Serve REST API's schema).

Each service is one Serve application named after it, routed at ``/NAME`` on the Serve proxy,
whose one deployment (``replica``) is :class:`portacloud_ray.services_replica.ServiceReplica`.
The application's ``args`` carry what the replicas need and, under ``portacloud``, what the
driver reads back (the spec and the version): the cluster is the only record of a service.
"""

from __future__ import annotations

import math
from typing import Any

from portacloud.services.models import ReplicaRange, ServiceSpec
from portacloud_ray.capacity import GIB
from portacloud_ray.services_replica import DEPLOYMENT

__all__ = ["IMPORT_PATH", "META", "app_config", "spec_version"]

IMPORT_PATH = "portacloud_ray.services_replica:build"
#: The key of ``args`` the replicas ignore and the driver reads back.
META = "portacloud"
#: Requests one replica's proxy forwards at once (Serve's default of 5 queues too early for
#: a forwarding proxy; the command's own server is what limits concurrency).
_MAX_ONGOING = 100
#: Seconds Serve lets a stopping replica finish its requests before it kills it.
_GRACEFUL_TIMEOUT_S = 30.0


def _argv(spec: ServiceSpec) -> list[str]:
    if isinstance(spec.command, str):
        return ["/bin/sh", "-c", spec.command]
    return list(spec.command)


def _rollout(spec: ServiceSpec, replicas: int) -> dict[str, Any]:
    """``update.max_surge``/``max_unavailable`` in Serve's percentages of the count."""
    count = max(replicas, 1)
    step = max(spec.update.max_surge, spec.update.max_unavailable, 1)
    return {
        "max_surge_percent": min(100, math.ceil(100 * spec.update.max_surge / count)),
        "rolling_update_percentage": min(1.0, step / count),
    }


def _actor_options(spec: ServiceSpec) -> dict[str, Any]:
    res = spec.resources
    options: dict[str, Any] = {"num_cpus": res.cpus or 0}
    if res.gpu_count:
        options["num_gpus"] = res.gpu_count
    if res.gpu_type:
        options["accelerator_type"] = res.gpu_type
    if res.memory_gb:
        options["memory"] = int(res.memory_gb * GIB)
    return options


def app_config(
    spec: ServiceSpec,
    *,
    version: int,
    created_at: float,
    runtime_env: dict[str, Any],
    replicas: int | None = None,
) -> dict[str, Any]:
    """The Serve application that runs ``spec`` (``replicas`` overrides its count).

    The count is not in ``args``: a change of ``args`` is a new version of the deployment's
    code, which Serve rolls out replica by replica, where a new count is only scaled.
    """
    readiness = spec.readiness
    deployment: dict[str, Any] = {
        "name": DEPLOYMENT,
        "max_ongoing_requests": _MAX_ONGOING,
        "health_check_period_s": readiness.period,
        # The replica's own probe has readiness.timeout; Serve's call needs a little more.
        "health_check_timeout_s": readiness.timeout + 2.0,
        "graceful_shutdown_timeout_s": _GRACEFUL_TIMEOUT_S,
        "ray_actor_options": _actor_options(spec),
    }
    autoscaled = spec.replicas if spec.autoscaled else None
    if replicas is None and isinstance(autoscaled, ReplicaRange):
        low, high = autoscaled.min, autoscaled.max
        deployment["autoscaling_config"] = {
            "min_replicas": low,
            "max_replicas": high,
            "initial_replicas": low,
        }
        deployment.update(_rollout(spec, low))
    else:
        count = spec.initial_replicas if replicas is None else replicas
        deployment["num_replicas"] = count
        deployment.update(_rollout(spec, count))
    return {
        "name": spec.name,
        "route_prefix": f"/{spec.name}",
        "import_path": IMPORT_PATH,
        "runtime_env": runtime_env,
        "args": {
            "service": spec.name,
            "argv": _argv(spec),
            "env": dict(spec.env),
            "readiness": readiness.model_dump(mode="json"),
            META: {
                "version": version,
                "created_at": created_at,
                "spec": spec.model_dump(mode="json"),
            },
        },
        "deployments": [deployment],
    }


def spec_version(app: dict[str, Any]) -> tuple[ServiceSpec, int, float] | None:
    """The spec, version and creation time of a deployed application config, or ``None``
    when the application is not a portacloud service."""
    meta = (app.get("args") or {}).get(META)
    if not isinstance(meta, dict) or "spec" not in meta:
        return None
    try:
        spec = ServiceSpec.model_validate(meta["spec"])
    except ValueError:
        return None
    return spec, int(meta.get("version", 1)), float(meta.get("created_at", 0.0))
