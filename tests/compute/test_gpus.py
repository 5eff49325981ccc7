"""The GPU taxonomy: every dialect maps onto one canonical name, or fails with suggestions."""

from __future__ import annotations

import pytest

from portacloud.compute.gpus import canonical_gpu, gpu_model, gpu_models, taxonomy
from portacloud.errors import ErrorCode, InvalidArgumentError


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        # canonical names, any case
        ("A100", "A100"),
        ("a100-80gb", "A100-80GB"),
        ("h100-nvl", "H100-NVL"),
        # AWS DescribeInstanceTypes GpuInfo names
        ("T4", "T4"),
        ("A10G", "A10G"),
        ("L40S", "L40S"),
        ("T4g", "T4G"),
        # GCP accelerator ids
        ("nvidia-tesla-t4", "T4"),
        ("nvidia-tesla-v100", "V100"),
        ("nvidia-tesla-a100", "A100"),
        ("nvidia-a100-80gb", "A100-80GB"),
        ("nvidia-l4", "L4"),
        ("nvidia-h100-80gb", "H100"),
        ("nvidia-h100-mega-80gb", "H100"),
        ("nvidia-h200-141gb", "H200"),
        # Azure SKU families
        ("StandardNDASv4_A100Family", "A100"),
        ("standardNDAMSv4_A100Family", "A100-80GB"),
        ("StandardNCadsH100v5Family", "H100-NVL"),
        ("StandardNCASv3_T4Family", "T4"),
        ("standardNDSv2Family", "V100-32GB"),
        # GPU Feature Discovery labels (nvidia.com/gpu.product)
        ("NVIDIA-A100-SXM4-40GB", "A100"),
        ("NVIDIA-A100-SXM4-80GB", "A100-80GB"),
        ("NVIDIA-H100-80GB-HBM3", "H100"),
        ("Tesla-T4", "T4"),
        ("NVIDIA-A10G", "A10G"),
        # NVML device names
        ("NVIDIA A100-SXM4-80GB", "A100-80GB"),
        ("NVIDIA A100-PCIE-40GB", "A100"),
        ("Tesla V100-SXM2-16GB", "V100"),
        ("Tesla V100-SXM2-32GB", "V100-32GB"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H100 NVL", "H100-NVL"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA H200", "H200"),  # as nvidia-smi printed it on a real H200 machine
        # how people type them
        ("H100 80GB", "H100"),
        ("A100 80GB", "A100-80GB"),
        ("a100_80gb", "A100-80GB"),
        ("H100_NVLINK_80GB", "H100"),
    ],
)
def test_every_dialect_maps_to_its_canonical_name(name: str, canonical: str) -> None:
    assert canonical_gpu(name) == canonical


def test_a_bare_family_means_its_smallest_memory_variant() -> None:
    # SkyPilot's convention: asking for A100 must never hand out (and bill) the 80 GB part.
    assert canonical_gpu("A100") == "A100"
    assert gpu_model("A100").memory_gb == 40
    assert canonical_gpu("V100") == "V100"
    assert gpu_model("V100-32GB").memory_gb == 32


def test_memory_per_gpu_is_the_marketed_size() -> None:
    memory = {m.name: m.memory_gb for m in gpu_models()}
    assert memory["A100-80GB"] == 80
    assert memory["H100"] == 80
    assert memory["H100-NVL"] == 94
    assert memory["H200"] == 141
    assert memory["T4"] == 16
    assert memory["A10G"] == memory["A10"] == memory["L4"] == 24


@pytest.mark.parametrize(
    ("typo", "suggested"), [("A1000", "A100"), ("H1000", "H100"), ("L40", "L40S")]
)
def test_an_unknown_name_suggests_the_closest_ones(typo: str, suggested: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        canonical_gpu(typo)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert "did you mean" in caught.value.message
    assert suggested in caught.value.message.split("?")[0]


def test_a_memory_size_the_model_does_not_come_in_lists_its_variants() -> None:
    with pytest.raises(InvalidArgumentError, match=r"A100 \(40 GB\), A100-80GB \(80 GB\)"):
        canonical_gpu("A100-20GB")


def test_a_name_with_no_model_in_it_lists_the_known_ones() -> None:
    with pytest.raises(InvalidArgumentError, match="known GPUs: K80") as caught:
        canonical_gpu("GeForce RTX 4090")
    assert "did you mean" not in caught.value.message


@pytest.mark.parametrize("bad", ["", "   ", None, 8])
def test_empty_or_non_string_names_are_refused(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="non-empty string"):
        canonical_gpu(bad)  # type: ignore[arg-type]


def test_the_table_is_consistent() -> None:
    tax = taxonomy()
    names = {m.name for m in tax.models}
    assert len(names) == len(tax.models)
    for model in tax.models:
        assert canonical_gpu(model.name) == model.name
        for alias in model.aliases:
            assert canonical_gpu(alias) == model.name, alias
    for rules in tax.families.values():
        assert {r.gpu for r in rules} <= names
    for shape in tax.shapes:
        assert shape.count in gpu_model(shape.gpu).counts, shape


@pytest.mark.parametrize(
    ("provider", "instance_type", "gpu"),
    [
        ("aws", "p4d.24xlarge", "A100"),
        ("aws", "p4de.24xlarge", "A100-80GB"),
        ("aws", "g5.xlarge", "A10G"),
        ("aws", "g5g.xlarge", "T4G"),
        ("aws", "p5.48xlarge", "H100"),
        ("aws", "p5en.48xlarge", "H200"),
        ("gcp", "a2-ultragpu-8g", "A100-80GB"),
        ("gcp", "a3-megagpu-8g", "H100"),
        ("azure", "Standard_NC40ads_H100_v5", "H100-NVL"),
        ("azure", "Standard_ND96isr_H100_v5", "H100"),
        ("azure", "Standard_NV36ads_A10_v5", "A10"),
    ],
)
def test_instance_families_name_their_gpu(provider: str, instance_type: str, gpu: str) -> None:
    rule = taxonomy().family_rule(provider, instance_type)
    assert rule is not None
    assert rule.gpu == gpu


def test_a_cpu_family_has_no_gpu_rule() -> None:
    assert taxonomy().family_rule("aws", "m6i.large") is None
    assert taxonomy().family_rule("gcp", "n2-standard-8") is None


def test_known_shapes_include_the_anchor_types() -> None:
    shape = taxonomy().known_shape("aws", "p4d.24xlarge")
    assert shape is not None
    assert (shape.gpu, shape.count) == ("A100", 8)
    shape = taxonomy().known_shape("azure", "Standard_ND96isr_H100_v5")
    assert shape is not None
    assert (shape.gpu, shape.count) == ("H100", 8)
