"""``aws://REGION``: EC2 instances through boto3.

boto3 is imported in :meth:`EC2Provider.open_compute`, never at import time. URL options:
``endpoint_url`` (moto, LocalStack, a VPC endpoint), ``profile`` (a named AWS profile),
``subnet_id`` and ``security_group_ids`` (comma-separated) for the network instances join.
Credentials come from the AWS chain, never the URL.

States map through one table, :data:`EC2_STATES`. ``billing`` follows AWS's own "instance usage
billing" column: only ``running`` is charged for the instance itself. A stopped instance does
not bill compute hours, but its EBS volumes (and any Elastic IP) still bill until it is
terminated.

Spot capacity is asked for as a one-time request that terminates on interruption: a persistent
request would launch a replacement after ``terminate``, which is the opposite of leak-free. EC2
cannot stop a one-time spot instance; ``stop`` then fails with UNSUPPORTED (EC2's
``UnsupportedOperation``).

botocore's own retries are off. The portable :class:`~portacloud.compute.Compute` does not
retry, so this driver owns the retries of its calls (docs/decisions/0001-retries.md): every
call it makes is safe to repeat (describes; start, stop and terminate; ``RunInstances`` with a
``ClientToken`` that makes a repeat return the first launch; a key pair import under a name
derived from the key itself).
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import importlib
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult

from portacloud.compute.driver import LaunchRequest
from portacloud.compute.models import ComputeCapabilities, Instance, InstanceState
from portacloud.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnavailableError,
)
from portacloud.providerkit import ListingGuard, RetryPolicy, call_with_retry, parse_options
from portacloud.providerkit.fork_pools import fresh_pools_in_children
from portacloud_aws.boto import client_config, is_aws_endpoint, renew_botocore_pools, utc
from portacloud_aws.options import EC2Options

__all__ = [
    "EC2_STATES",
    "IMAGES",
    "EC2Driver",
    "EC2Provider",
    "PortableImage",
    "ec2_state",
    "key_pair_name",
    "provider",
]

#: The one table: EC2 state name -> (portable state, whether the instance itself bills).
#: Billing is AWS's "instance usage billing": pending, stopping (unless hibernating), stopped,
#: shutting-down and terminated are not charged; EBS volumes bill in every state but terminated.
EC2_STATES: Mapping[str, tuple[InstanceState, bool]] = {
    "pending": (InstanceState.PENDING, False),
    "running": (InstanceState.RUNNING, True),
    "stopping": (InstanceState.STOPPING, False),
    "stopped": (InstanceState.STOPPED, False),
    "shutting-down": (InstanceState.TERMINATING, False),
    "terminated": (InstanceState.TERMINATED, False),
}


def ec2_state(name: str | None) -> tuple[InstanceState, bool]:
    """Map an EC2 state name onto the portable state and billing flag.

    An unknown name (a state AWS adds later) is UNKNOWN and counted as billing, so that leak
    hunting shows it rather than hides it.
    """
    return EC2_STATES.get(name or "", (InstanceState.UNKNOWN, True))


@dataclass(frozen=True, slots=True)
class PortableImage:
    """Where AWS publishes the current image of a portable name.

    Attributes:
        ssm_parameter: The public SSM parameter holding the current AMI id of the region.
        owner: The publisher's account id (Canonical, Amazon), for the ``describe_images``
            fallback; never search public images by name alone, anyone can publish a name.
        name_pattern: The ``name`` filter of that fallback; the newest match wins.
        architecture: ``x86_64`` or ``arm64``.
    """

    ssm_parameter: str
    owner: str
    name_pattern: str
    architecture: str


_CANONICAL = "099720109477"
_AMAZON = "137112412989"
_UBUNTU = {"16.04": "xenial", "18.04": "bionic", "20.04": "focal", "22.04": "jammy"}


def _images() -> dict[str, PortableImage]:
    table: dict[str, PortableImage] = {}
    for arch, ssm_arch, suffix in (("x86_64", "amd64", ""), ("arm64", "arm64", "-arm64")):
        for release, codename in _UBUNTU.items():
            table[f"ubuntu-{release}{suffix}"] = PortableImage(
                f"/aws/service/canonical/ubuntu/server/{release}/stable/current/{ssm_arch}/hvm/"
                "ebs-gp2/ami-id",
                _CANONICAL,
                f"ubuntu/images/hvm-ssd*/ubuntu-{codename}-{release}-{ssm_arch}-server-*",
                arch,
            )
        table[f"ubuntu-24.04{suffix}"] = PortableImage(
            f"/aws/service/canonical/ubuntu/server/24.04/stable/current/{ssm_arch}/hvm/"
            "ebs-gp3/ami-id",
            _CANONICAL,
            f"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{ssm_arch}-server-*",
            arch,
        )
        table[f"amazon-linux-2023{suffix}"] = PortableImage(
            f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}",
            _AMAZON,
            f"al2023-ami-2023.*-kernel-*-{arch}",
            arch,
        )
        table[f"amazon-linux-2{suffix}"] = PortableImage(
            f"/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-{arch}-gp2",
            _AMAZON,
            f"amzn2-ami-hvm-2.0.*-{arch}-gp2",
            arch,
        )
    return table


#: Portable image names (``-arm64`` for Graviton types) and where AWS publishes each.
IMAGES: Mapping[str, PortableImage] = _images()

_log = logging.getLogger("portacloud.ec2")
_ONCE = RetryPolicy(attempts=1)
_AMI_ID = re.compile(r"^ami-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_SSH_KEY = re.compile(r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+)\s+([A-Za-z0-9+/=]+)(?:\s.*)?$")


def key_pair_name(public_key: str) -> str:
    """The EC2 key pair name for an OpenSSH public key: the same key always gets the same name.

    The name hashes the key type and body only, so a changed comment reuses the key pair.

    Raises:
        InvalidArgumentError: if ``public_key`` is not one OpenSSH public key line.
    """
    match = _SSH_KEY.match(public_key.strip())
    if match is None:
        raise InvalidArgumentError(
            "ssh_public_key must be one OpenSSH public key line ('ssh-ed25519 AAAA... comment')"
        )
    try:
        body = base64.b64decode(match.group(2), validate=True)
    except ValueError:
        raise InvalidArgumentError("ssh_public_key: the key body is not valid base64") from None
    digest = hashlib.sha256(match.group(1).encode() + b" " + body).hexdigest()
    return f"portacloud-{digest[:24]}"


def _tag_value_is_literal(value: str) -> bool:
    # EC2 filter values treat * and ? as wildcards; values holding them are matched here instead.
    return not any(c in value for c in "*?\\")


class EC2Driver:
    """EC2 instances of one region; see the module docstring."""

    provider = "aws"

    def __init__(
        self,
        client: Any,
        *,
        region: str,
        ssm_client: Callable[[], Any],
        subnet_id: str | None = None,
        security_group_ids: tuple[str, ...] = (),
        custom_endpoint: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Wrap a boto3 EC2 client.

        Args:
            client: The boto3 EC2 client of ``region``.
            region: The region instances are created in.
            ssm_client: Builds the SSM client public image parameters are read with (only
                called when a portable image name is first resolved).
            subnet_id: The subnet instances join (default: the default VPC's).
            security_group_ids: Security groups for new instances (default: the VPC's default).
            custom_endpoint: The endpoint URL when it is not AWS's own, for the notes.
            retry: The retry policy of every call (default: the portable one).
        """
        self.client: Any = client
        self.region = region
        self._ssm_factory = ssm_client
        self._ssm: Any = None
        self._subnet_id = subnet_id
        self._security_group_ids = security_group_ids
        self._retry = retry or RetryPolicy()
        self._images: dict[str, str] = {}
        self._lock = threading.Lock()
        notes = [
            "billing is the instance charge only: EBS volumes still bill while STOPPED",
            "spot instances are one-time requests and cannot be stopped (UNSUPPORTED)",
        ]
        if custom_endpoint is not None:
            notes.append(
                f"endpoint {custom_endpoint} is not AWS: states, errors and images are the "
                "server's own"
            )
        self.capabilities = ComputeCapabilities(catalog="aws", location=True, notes=tuple(notes))

    def reported_region(self) -> str:
        """The region EC2 itself names for the zones this client launches into."""
        zones = self._ec2("describe_availability_zones").get("AvailabilityZones") or []
        if not zones or not zones[0].get("RegionName"):
            raise UnavailableError(f"EC2 in {self.region} reported no availability zones")
        return str(zones[0]["RegionName"]).lower()

    # ------------------------------------------------------------------ plumbing

    def _call(
        self, client: Any, method: str, /, *, retry: RetryPolicy | None = None, **params: Any
    ) -> dict[str, Any]:
        """One API call, mapped to portacloud errors and retried by the policy."""
        fn = getattr(client, method)

        def once() -> dict[str, Any]:
            try:
                response: dict[str, Any] = fn(**params)
            except Exception as exc:
                mapped = self.map_error(exc)
                if mapped is None:
                    raise
                raise mapped from exc
            return response

        return call_with_retry(retry or self._retry, once)

    def _ec2(self, method: str, /, **params: Any) -> dict[str, Any]:
        return self._call(self.client, method, **params)

    def _instance(self, data: Mapping[str, Any]) -> Instance:
        state, billing = ec2_state(data.get("State", {}).get("Name"))
        tags = {str(t["Key"]): str(t.get("Value", "")) for t in data.get("Tags") or ()}
        placement = data.get("Placement") or {}
        return Instance(
            id=str(data["InstanceId"]),
            name=tags.get("Name"),
            state=state,
            billing=billing,
            instance_type=data.get("InstanceType"),
            region=placement.get("AvailabilityZone") or self.region,
            image=data.get("ImageId"),
            tags=tags,
            created_at=utc(data.get("LaunchTime")),
            public_ip=data.get("PublicIpAddress"),
            private_ip=data.get("PrivateIpAddress"),
            spot=data.get("InstanceLifecycle") == "spot",
            provider=self.provider,
        )

    def _describe(self, **params: Any) -> Iterator[Mapping[str, Any]]:
        # A server that hands back a cursor it gave before would page for ever.
        guard = ListingGuard(self.provider, ordered=False)
        token: str | None = None
        while True:
            page = self._ec2(
                "describe_instances", **params, **({"NextToken": token} if token else {})
            )
            found = [i for r in page.get("Reservations", ()) for i in r.get("Instances", ())]
            next_token = page.get("NextToken") or None
            guard.check_page([str(i.get("InstanceId", "")) for i in found], token, next_token)
            yield from found
            if next_token is None:
                return
            token = next_token

    # ------------------------------------------------------------------ ComputeDriver

    def create(self, request: LaunchRequest) -> Instance:
        """``RunInstances`` with every tag on the instance and its volumes."""
        tags = [{"Key": k, "Value": v} for k, v in {"Name": request.name, **request.tags}.items()]
        params: dict[str, Any] = {
            "ImageId": request.image,
            "InstanceType": request.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            # Makes a retried launch return the first one instead of starting a second.
            "ClientToken": uuid.uuid4().hex,
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tags},
                {"ResourceType": "volume", "Tags": tags},
            ],
        }
        if request.spot:
            params["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {
                    "SpotInstanceType": "one-time",
                    "InstanceInterruptionBehavior": "terminate",
                },
            }
        if request.ssh_public_key:
            params["KeyName"] = self._key_pair(request.ssh_public_key, request.tags)
        if self._subnet_id:
            params["SubnetId"] = self._subnet_id
        if self._security_group_ids:
            params["SecurityGroupIds"] = list(self._security_group_ids)
        response = self._ec2("run_instances", **params)
        return self._instance(response["Instances"][0])

    def _key_pair(self, public_key: str, tags: Mapping[str, str]) -> str:
        """Import the key under its deterministic name; an existing one of that name is it."""
        name = key_pair_name(public_key)
        managed = [{"Key": k, "Value": v} for k, v in tags.items() if k.startswith("portacloud:")]
        # The name is the key's hash, so an existing pair of that name holds this very key.
        with contextlib.suppress(AlreadyExistsError):
            self._ec2(
                "import_key_pair",
                KeyName=name,
                PublicKeyMaterial=public_key.strip().encode(),
                TagSpecifications=[{"ResourceType": "key-pair", "Tags": managed}],
            )
        return name

    def get(self, instance_id: str) -> Instance:
        """``DescribeInstances`` of one id; NOT_FOUND when EC2 does not know it."""
        for data in self._describe(InstanceIds=[instance_id]):
            if data.get("InstanceId") == instance_id:
                return self._instance(data)
        raise NotFoundError("no such instance", resource=instance_id)

    def list(self, tags: Mapping[str, str]) -> builtins.list[Instance]:
        """Instances carrying every tag, filtered by EC2 and checked again here."""
        filters = [
            {"Name": f"tag:{key}", "Values": [value]}
            for key, value in tags.items()
            if _tag_value_is_literal(key) and _tag_value_is_literal(value)
        ]
        found = []
        for data in self._describe(**({"Filters": filters} if filters else {})):
            instance = self._instance(data)
            if all(instance.tags.get(k) == v for k, v in tags.items()):
                found.append(instance)
        found.sort(key=lambda i: (i.created_at or datetime.min.replace(tzinfo=UTC), i.id))
        return found

    def _live(self, instance_id: str, operation: str) -> Instance:
        """The instance, unless it is (being) terminated: then starting or stopping it is
        refused here, the same on every server (moto would let a terminated one stop)."""
        current = self.get(instance_id)
        if current.state in (InstanceState.TERMINATED, InstanceState.TERMINATING):
            raise FailedPreconditionError(
                f"cannot {operation} a {current.state.value} instance", resource=instance_id
            )
        return current

    def start(self, instance_id: str) -> Instance:
        """``StartInstances``; starting a running instance is not an error."""
        self._live(instance_id, "start")
        self._ec2("start_instances", InstanceIds=[instance_id])
        return self.get(instance_id)

    def stop(self, instance_id: str) -> Instance:
        """``StopInstances``; stopping a stopped instance is not an error."""
        self._live(instance_id, "stop")
        self._ec2("stop_instances", InstanceIds=[instance_id])
        return self.get(instance_id)

    def terminate(self, instance_id: str) -> Instance:
        """``TerminateInstances``, skipped for an instance EC2 already reports terminated.

        An id EC2 has forgotten (terminated instances stay visible for about an hour) is
        NOT_FOUND, as is one that never existed: EC2 cannot tell the two apart.
        """
        current = self.get(instance_id)
        if current.state is InstanceState.TERMINATED:
            return current
        self._ec2("terminate_instances", InstanceIds=[instance_id])
        return self.get(instance_id)

    def resolve_image(self, image: str) -> str:
        """An AMI id for a portable name (see :data:`IMAGES`); ``ami-...`` ids pass through.

        The public SSM parameter is read first (AWS's own answer to "the current image");
        where it is missing or not readable, the newest available image of the publisher whose
        name matches the pattern is taken.

        Raises:
            InvalidArgumentError: for a name that is neither a known portable name nor an id.
            NotFoundError: when the region has no such image.
        """
        if _AMI_ID.match(image):
            return image
        known = IMAGES.get(image)
        if known is None:
            raise InvalidArgumentError(
                f"unknown image {image!r}: give an AMI id (ami-...) or one of "
                f"{', '.join(sorted(IMAGES))}"
            )
        with self._lock:
            cached = self._images.get(image)
        if cached is not None:
            return cached
        found = self._from_ssm(known) or self._from_describe_images(known)
        if found is None:
            raise NotFoundError(
                f"no AMI for {image!r} in {self.region}: SSM parameter {known.ssm_parameter} "
                f"is missing and no image of owner {known.owner} is named "
                f"{known.name_pattern!r}",
                resource=image,
            )
        with self._lock:
            self._images[image] = found
        return found

    def _from_ssm(self, image: PortableImage) -> str | None:
        with self._lock:
            if self._ssm is None:
                self._ssm = self._ssm_factory()
            ssm = self._ssm
        try:
            # One try: whatever keeps SSM from answering (a missing parameter, no ssm right, an
            # endpoint that serves EC2 only), describe_images can still answer.
            response = self._call(ssm, "get_parameter", retry=_ONCE, Name=image.ssm_parameter)
        except PortaCloudError as exc:
            _log.debug("SSM parameter %s unusable (%s); searching images", image.ssm_parameter, exc)
            return None
        value = str(response.get("Parameter", {}).get("Value", ""))
        return value if _AMI_ID.match(value) else None

    def _from_describe_images(self, image: PortableImage) -> str | None:
        response = self._ec2(
            "describe_images",
            Owners=[image.owner],
            Filters=[
                {"Name": "name", "Values": [image.name_pattern]},
                {"Name": "architecture", "Values": [image.architecture]},
                {"Name": "state", "Values": ["available"]},
            ],
        )
        candidates = [
            i
            for i in response.get("Images", ())
            if i.get("OwnerId") == image.owner and i.get("State", "available") == "available"
        ]
        if not candidates:
            return None
        # ISO-8601 creation dates sort as strings; the name's date stamp breaks ties.
        newest = max(candidates, key=lambda i: (str(i.get("CreationDate", "")), str(i["Name"])))
        return str(newest["ImageId"])

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate a botocore/urllib3 exception through :mod:`portacloud_aws.errors`."""
        from portacloud_aws.errors import map_ec2_error

        return map_ec2_error(exc)

    def native(self) -> object | None:
        """The boto3 EC2 client."""
        client: object = self.client
        return client

    def close(self) -> None:
        """Close the clients' connection pools."""
        self.client.close()
        if self._ssm is not None:
            self._ssm.close()


# --------------------------------------------------------------------------- provider


class EC2Provider:
    """Opens ``aws://REGION`` compute handles."""

    def open_compute(
        self, url: SplitResult, options: Mapping[str, Any], *, retry: RetryPolicy | None = None
    ) -> EC2Driver:
        """Build the boto3 EC2 client of the URL's region.

        Args:
            url: The split ``aws://`` URL; its netloc is the region (``aws://`` alone takes
                the region of the AWS configuration).
            options: URL query and keyword options: ``endpoint_url``, ``profile``,
                ``subnet_id``, ``security_group_ids``.
            retry: The policy of every call the driver makes (it owns their retries);
                default: the portable one.

        Raises:
            InvalidArgumentError: for a bad region, path or option, or when no region is known.
        """
        from portacloud_aws.errors import map_ec2_error, open_or_map

        settings = parse_options(EC2Options, "aws", options)
        if url.path not in ("", "/"):
            raise InvalidArgumentError("aws:// URLs name a region only: aws://us-east-1")
        region = url.netloc or None
        if region is not None and not _REGION.match(region):
            raise InvalidArgumentError(f"aws://{region}: not an AWS region name (us-east-1...)")
        policy = retry or RetryPolicy()
        return open_or_map(lambda: _open_driver(region, settings, policy), map_ec2_error, "EC2")


def _open_driver(region: str | None, settings: EC2Options, retry: RetryPolicy) -> EC2Driver:
    boto3 = importlib.import_module("boto3")
    session = boto3.session.Session(profile_name=settings.profile, region_name=region)
    region = region or session.region_name
    if not region:
        raise InvalidArgumentError(
            "aws:// needs a region: aws://us-east-1, or a region in the AWS configuration"
        )
    # The driver owns retries (see the module docstring): botocore must not add its own.
    config = client_config(region_name=region, connect_timeout=10, read_timeout=60)
    endpoint_url = settings.endpoint_url

    def client(service: str) -> Any:
        # A forked child must not send requests into the parent's pooled connections.
        made = session.client(service, endpoint_url=endpoint_url, config=config)
        return fresh_pools_in_children(made, renew_botocore_pools)

    ec2 = client("ec2")
    actual = str(ec2.meta.endpoint_url)
    return EC2Driver(
        ec2,
        region=region,
        ssm_client=lambda: client("ssm"),
        subnet_id=settings.subnet_id,
        security_group_ids=settings.security_group_ids,
        custom_endpoint=None if is_aws_endpoint(actual, suffixes=(".api.aws",)) else actual,
        retry=retry,
    )


provider = EC2Provider()
