"""The one table that turns Serve REST API failures into portacloud errors.

The Serve REST API answers through the same dashboard client as the Jobs API, so its
failures arrive in the same shapes (:mod:`portacloud_ray.errors`); the rows below refine the
bodies only the Serve API gives, and everything else goes through the jobs' table.
"""

from __future__ import annotations

import re

from portacloud.errors import InvalidArgumentError, PortaCloudError
from portacloud.providerkit import ErrorRule, scrub
from portacloud_ray.errors import http_failure, map_ray_error

__all__ = ["BY_BODY", "map_service_error"]

_R = ErrorRule

#: Sentences in the body of a failed Serve request, checked before the jobs' table.
BY_BODY: tuple[tuple[re.Pattern[str], ErrorRule], ...] = (
    # PUT /api/serve/applications/ answers 400 with pydantic's report on the config.
    (re.compile(r"validation errors? for ServeDeploySchema"), _R(InvalidArgumentError)),
)


def map_service_error(exc: BaseException) -> PortaCloudError | None:
    """Translate what the dashboard client raised for a Serve request into a portacloud
    error, or ``None`` when ``exc`` is not a Ray client failure."""
    failure = http_failure(exc)
    if failure is not None:
        status, body = failure
        for pattern, rule in BY_BODY:
            if pattern.search(body):
                return rule.build(f"Ray Serve answered HTTP {status}: {scrub(body, max_chars=500)}")
    return map_ray_error(exc)
