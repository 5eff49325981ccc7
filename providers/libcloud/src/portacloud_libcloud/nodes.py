"""Reading a libcloud ``Node``: its tags and details, wherever each driver keeps them.

Tags: EC2 and Azure tags, OpenStack server metadata, and on GCE one metadata entry
(``portacloud-tags``) holding the tags as JSON, because GCE labels cannot hold ``:``, ``@`` or
capitals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from portacloud_libcloud.compute_profiles import GCE_TAGS_KEY

__all__ = ["first", "node_details", "node_tags"]


def node_tags(driver: str, node: Any) -> dict[str, str]:
    """The portable tags of a node, wherever its driver keeps them."""
    extra = getattr(node, "extra", None) or {}
    if driver in ("ec2", "azure_arm"):
        raw = extra.get("tags") or {}
    elif driver == "openstack":
        raw = extra.get("metadata") or {}
    elif driver == "gce":
        items = (extra.get("metadata") or {}).get("items") or ()
        stored = next((i.get("value") for i in items if i.get("key") == GCE_TAGS_KEY), None)
        try:
            raw = json.loads(stored) if stored else {}
        except ValueError:
            raw = {}
    else:
        raw = {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def node_details(driver: str, region: str, node: Any) -> dict[str, Any]:
    """Id, instance type, image, region, creation time and spot flag of a node."""
    extra = getattr(node, "extra", None) or {}
    size = getattr(node, "size", None)
    image = getattr(node, "image", None)
    out: dict[str, Any] = {
        "id": str(node.id),
        "instance_type": getattr(size, "id", size) if size is not None else None,
        "image": getattr(image, "id", image) if image is not None else None,
        "region": region,
        "created_at": _utc(getattr(node, "created_at", None)),
        "spot": False,
    }
    if driver == "ec2":
        out["instance_type"] = extra.get("instance_type")
        out["image"] = extra.get("image_id")
        out["region"] = extra.get("availability") or region
        out["spot"] = extra.get("instance_lifecycle") == "spot"
    elif driver == "gce":
        out["id"] = str(node.name)
        out["instance_type"] = str(extra.get("machineType") or "").rsplit("/", 1)[-1] or None
        zone = extra.get("zone")
        out["region"] = getattr(zone, "name", zone) or region
        out["image"] = extra.get("image")
        out["created_at"] = _utc(extra.get("creationTimestamp"))
        scheduling = extra.get("scheduling") or {}
        out["spot"] = bool(
            scheduling.get("preemptible") or scheduling.get("provisioningModel") == "SPOT"
        )
    elif driver == "azure_arm":
        properties = extra.get("properties") or {}
        out["instance_type"] = (properties.get("hardwareProfile") or {}).get("vmSize")
        out["region"] = extra.get("location") or region
        ref = (properties.get("storageProfile") or {}).get("imageReference") or {}
        parts = [ref.get(k) for k in ("publisher", "offer", "sku", "version")]
        out["image"] = ":".join(str(p) for p in parts) if all(parts) else ref.get("id")
    elif driver == "openstack":
        out["instance_type"] = extra.get("flavorId")
        out["image"] = extra.get("imageId")
        out["region"] = extra.get("availability_zone") or region
    for name in ("instance_type", "image", "region"):
        if out[name] is not None:
            out[name] = str(out[name])
    return out


def first(values: object) -> str | None:
    if isinstance(values, list | tuple) and values:
        return str(values[0])
    return None


def _utc(value: object) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
