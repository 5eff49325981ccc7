"""Tags round-trip, managed tags mark portacloud's instances, and list filters by tags."""

from __future__ import annotations

from datetime import datetime

import portacloud
from portacloud.compute.models import MANAGED_TAG
from portacloud_conformance.compute import support
from portacloud_conformance.compute.support import (
    RUN_ID,
    RUN_TAG,
    Launch,
    require,
    unique,
)

#: The suite's fixture that terminates what a test creates.
launch = support.launch


def test_tags_round_trip_with_the_managed_tags(compute: portacloud.Compute, launch: Launch) -> None:
    require(compute, "tags")
    name = unique("tagged")
    created = launch(name=name, tags={"team": "ml-platform", "cost-center": "42"})
    for described in (created, compute.get(created.id)):
        tags = dict(described.tags)
        assert described.name == name
        assert tags["team"] == "ml-platform"
        assert tags["cost-center"] == "42"
        assert tags[RUN_TAG] == RUN_ID
        assert tags[MANAGED_TAG] == "true"
        assert tags["portacloud:creator"]
        assert datetime.fromisoformat(tags["portacloud:created-at"]).tzinfo is not None
        assert described.managed is True


def test_list_filters_by_a_unique_tag(compute: portacloud.Compute, launch: Launch) -> None:
    require(compute, "tags")
    batch = unique("batch")
    first = launch(tags={"batch": batch, "index": "0"})
    second = launch(tags={"batch": batch, "index": "1"})
    other = launch(tags={"batch": unique("batch"), "index": "0"})
    assert {i.id for i in compute.list(tags={"batch": batch})} == {first.id, second.id}
    assert [i.id for i in compute.list(tags={"batch": batch, "index": "1"})] == [second.id]
    assert compute.list(tags={"batch": unique("nothing")}) == []
    assert other.id in {i.id for i in compute.list(tags={RUN_TAG: RUN_ID})}


def test_list_managed_keeps_only_portacloud_instances(
    compute: portacloud.Compute, launch: Launch
) -> None:
    require(compute, "tags")
    created = launch()
    managed = compute.list(managed=True)
    assert created.id in {i.id for i in managed}
    assert all(i.managed for i in managed)
    assert all(i.tags.get(MANAGED_TAG) == "true" for i in managed)


def test_tag_values_with_wildcard_characters_match_exactly(
    compute: portacloud.Compute, launch: Launch
) -> None:
    require(compute, "tags")
    batch = unique("batch")
    literal = launch(tags={"batch": batch, "pattern": "a*"})
    launch(tags={"batch": batch, "pattern": "abc"})
    found = compute.list(tags={"batch": batch, "pattern": "a*"})
    assert [i.id for i in found] == [literal.id]
