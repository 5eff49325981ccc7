"""The GPU taxonomy: one canonical name per GPU model, and every dialect that names it.

Clouds and tools disagree on GPU names (AWS ``A10G``, GCP ``nvidia-tesla-a100``, Azure
``StandardNDASv4_A100Family``, NVML ``NVIDIA A100-SXM4-80GB``, GPU Feature Discovery
``NVIDIA-A100-SXM4-40GB``). A wrong match costs money: a request for 80 GB that lands on a
40 GB card runs out of memory. So the canonical name carries the memory size where a model
comes in several (``A100`` is the 40 GB part, ``A100-80GB`` the 80 GB one, as in SkyPilot),
and :func:`canonical_gpu` maps any dialect onto it or refuses with the closest names.

The table lives in ``data/gpus.json`` next to the instance catalog; both are read lazily.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from portacloud.errors import InvalidArgumentError

__all__ = [
    "FamilyRule",
    "GpuModel",
    "GpuTaxonomy",
    "KnownShape",
    "canonical_gpu",
    "gpu_model",
    "gpu_models",
    "taxonomy",
]

# Words that name the vendor, the board or the memory technology, never the model: dropping
# them lets NVML, GFD and GCP names reach the model token ("nvidia-tesla-a100" -> A100).
_NOISE_TOKENS = frozenset(
    {
        "NVIDIA",
        "TESLA",
        "GPU",
        "SXM",
        "SXM2",
        "SXM3",
        "SXM4",
        "SXM5",
        "PCIE",
        "HBM2",
        "HBM2E",
        "HBM3",
        "HBM3E",
        "MEGA",
        "NVLINK",
        "STANDARD",
        "FAMILY",
    }
)
_MEMORY_TOKEN = re.compile(r"^(?P<gb>\d+)(?:GB|G|GIB)$")
# GB differences this small are the same part reported two ways (NVML says 94 GB for an H100
# NVL, some catalogs 95; 140 vs 141 for H200).
_MEMORY_SLACK_GB = 2.0


class GpuModel(BaseModel):
    """One GPU model as portacloud names it.

    Attributes:
        name: The canonical name (``A100-80GB``).
        vendor: ``nvidia`` (the only vendor the catalog carries today).
        family: The model family shared by memory variants (``A100``).
        memory_gb: Memory per GPU in GB, as the vendor markets it.
        form_factor: ``SXM``, ``PCIe`` or ``NVL``.
        counts: GPUs per instance that exist for this model on some provider.
        aliases: Other names for the same part (provider ids, NVML and GFD names).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    vendor: str
    family: str
    memory_gb: float = Field(gt=0)
    form_factor: str
    counts: tuple[int, ...]
    aliases: tuple[str, ...] = ()


class FamilyRule(BaseModel):
    """Which GPU an instance family carries.

    Attributes:
        pattern: A regular expression over the instance type; a named group ``count`` says
            the GPU count is part of the name (GCP ``a2-highgpu-8g``).
        gpu: The canonical GPU name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str
    gpu: str

    def match(self, instance_type: str) -> re.Match[str] | None:
        """The match of this rule on ``instance_type``, or ``None``."""
        return _compiled(self.pattern).search(instance_type)


class KnownShape(BaseModel):
    """An instance type whose GPUs are known from the provider's documentation.

    Attributes:
        provider: ``aws``, ``gcp`` or ``azure``.
        instance_type: The provider's type name.
        gpu: The canonical GPU name.
        count: GPUs per instance.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    instance_type: str
    gpu: str
    count: int = Field(gt=0)


class GpuTaxonomy(BaseModel):
    """The whole table: models, family rules per provider and known shapes.

    Attributes:
        models: Every canonical model.
        families: Provider name to the rules tying its instance families to a model.
        shapes: Instance types with documented GPU counts.
        sources: Where the names and numbers come from.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[GpuModel, ...]
    families: Mapping[str, tuple[FamilyRule, ...]]
    shapes: tuple[KnownShape, ...]
    sources: Mapping[str, str]

    def family_rule(self, provider: str, instance_type: str) -> FamilyRule | None:
        """The first rule of ``provider`` that matches ``instance_type``."""
        for rule in self.families.get(provider, ()):
            if rule.match(instance_type):
                return rule
        return None

    def known_shape(self, provider: str, instance_type: str) -> KnownShape | None:
        """The documented shape of ``instance_type``, if the table has one."""
        for shape in self.shapes:
            if shape.provider == provider and shape.instance_type == instance_type:
                return shape
        return None


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _compact(name: str) -> str:
    """The lookup key of a name: letters and digits only, upper case."""
    return "".join(re.findall(r"[A-Z0-9]+", name.upper()))


@functools.cache
def taxonomy() -> GpuTaxonomy:
    """The shipped taxonomy, read once from ``data/gpus.json``."""
    data = resources.files("portacloud.compute").joinpath("data").joinpath("gpus.json")
    text = data.read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return GpuTaxonomy(
        models=tuple(GpuModel.model_validate(m) for m in raw["models"]),
        families={
            provider: tuple(FamilyRule.model_validate(r) for r in rules)
            for provider, rules in raw["families"].items()
        },
        shapes=tuple(KnownShape.model_validate(s) for s in raw["shapes"]),
        sources=raw["sources"],
    )


def gpu_models() -> tuple[GpuModel, ...]:
    """Every canonical GPU model, in the table's order (oldest first)."""
    return taxonomy().models


@functools.cache
def _by_name() -> dict[str, GpuModel]:
    return {m.name: m for m in gpu_models()}


@functools.cache
def _by_key() -> dict[str, GpuModel]:
    """Compact key of every canonical name and alias to its model."""
    index: dict[str, GpuModel] = {}
    for model in gpu_models():
        for name in (model.name, *model.aliases):
            key = _compact(name)
            other = index.setdefault(key, model)
            if other is not model:
                # Two models claiming one name would make lookups depend on table order.
                raise ValueError(f"gpus.json: {name!r} names both {other.name} and {model.name}")
    return index


@functools.cache
def _families() -> dict[str, tuple[GpuModel, ...]]:
    grouped: dict[str, list[GpuModel]] = {}
    for model in gpu_models():
        grouped.setdefault(_compact(model.family), []).append(model)
    return {family: tuple(models) for family, models in grouped.items()}


def gpu_model(name: str) -> GpuModel:
    """The :class:`GpuModel` for any name :func:`canonical_gpu` accepts."""
    return _by_name()[canonical_gpu(name)]


def canonical_gpu(name: str) -> str:
    """Map any dialect's GPU name onto the canonical one.

    Exact aliases come first (``nvidia-tesla-t4``, ``StandardNDASv4_A100Family``). Other names
    are read as tokens: vendor and board words are dropped, a ``NN GB`` token picks the memory
    variant and ``NVL`` the NVL part, so NVML's ``NVIDIA A100-SXM4-80GB`` becomes
    ``A100-80GB`` and ``H100 80GB`` becomes ``H100``. A bare family name means its smallest
    memory variant, as in SkyPilot (``A100`` is 40 GB).

    Args:
        name: A GPU name in any supported dialect; case, spaces, ``-`` and ``_`` do not matter.

    Returns:
        The canonical name, such as ``A100-80GB``.

    Raises:
        InvalidArgumentError: the name is empty or unknown; the message lists the closest
            canonical names.

    Examples:
        >>> canonical_gpu("nvidia-tesla-a100")
        'A100'
        >>> canonical_gpu("NVIDIA A100-SXM4-80GB")
        'A100-80GB'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"a GPU name must be a non-empty string, not {name!r}")
    key = _compact(name)
    exact = _by_key().get(key)
    if exact is not None:
        return exact.name
    parsed = _parse_tokens(name)
    if parsed is not None:
        return parsed
    raise InvalidArgumentError(f"unknown GPU {name!r}; {_suggestion(name)}")


def _parse_tokens(name: str) -> str | None:
    """Resolve ``name`` from its tokens, or ``None`` when no model family appears in it.

    Raises:
        InvalidArgumentError: a known family with a memory size or variant it does not have.
    """
    families = _families()
    family: tuple[GpuModel, ...] | None = None
    memory: float | None = None
    nvl = False
    for part in re.findall(r"[A-Z0-9]+", name.upper()):
        if part in _NOISE_TOKENS:
            continue
        if part == "NVL":
            nvl = True
        elif (found := _MEMORY_TOKEN.match(part)) is not None:
            memory = float(found.group("gb"))
        elif part in families and family is None:
            family = families[part]
        elif part.endswith("NVL") and part[:-3] in families and family is None:
            family, nvl = families[part[:-3]], True
    if family is None:
        return None
    candidates = [m for m in family if (m.form_factor == "NVL") == nvl]
    if memory is not None:
        candidates = [m for m in candidates if abs(m.memory_gb - memory) <= _MEMORY_SLACK_GB]
    if not candidates:
        variants = ", ".join(f"{m.name} ({m.memory_gb:g} GB)" for m in family)
        raise InvalidArgumentError(
            f"unknown GPU {name!r}: the {family[0].family} comes as {variants}"
        )
    return min(candidates, key=lambda m: m.memory_gb).name


# "A100x8" and "8xA100" are how people write a count in prose; the request form is TYPE:COUNT.
_COUNT_IN_NAME = re.compile(r"^(?:(?P<a>.+?)\s*[xX*]\s*(?P<n>\d+)|(?P<m>\d+)\s*[xX*]\s*(?P<b>.+))$")


def _count_hint(name: str) -> str | None:
    """``A100:8`` for ``A100x8``, or ``None`` when ``name`` is not a model with a count."""
    found = _COUNT_IN_NAME.match(name.strip())
    if found is None:
        return None
    model, count = found.group("a") or found.group("b"), found.group("n") or found.group("m")
    key = _compact(model)
    if key not in _by_key():
        return None
    return f"{_by_key()[key].name}:{int(count)}"


def _suggestion(name: str) -> str:
    """A "did you mean" clause naming the closest canonical models."""
    keys = _by_key()
    known = ", ".join(m.name for m in gpu_models())
    hint = _count_hint(name)
    if hint is not None:
        return f"did you mean {hint} (TYPE:COUNT)? Known GPUs: {known}"
    close = difflib.get_close_matches(_compact(name), list(keys), n=8, cutoff=0.5)
    names: list[str] = []
    for key in close:
        canonical = keys[key].name
        if canonical not in names:
            names.append(canonical)
    if names:
        return f"did you mean {' or '.join(names[:3])}? Known GPUs: {known}"
    return f"known GPUs: {known}"
