"""Fixtures for the parity tests: tiny SAM3 inventories captured once per session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_inventory_fp32():
    """Every aten op of a tiny SAM3 image run (image, text, box, batched prompts) on the CPU, fp32."""
    from npu_compat.parity.sam3_runs import capture_sam3

    return capture_sam3("tiny", "cpu")


@pytest.fixture(scope="session")
def tiny_inventory_bf16():
    """The same runs under CPU bf16 autocast: the ops a bf16 device run executes, in their dtypes."""
    from npu_compat.parity.sam3_runs import capture_sam3

    return capture_sam3("tiny", "cpu", autocast_bf16=True)
