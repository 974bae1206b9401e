import pytest
import torch

from npu_compat.parity.e2e import box_iou_pairwise, compare_pipelines, mask_iou_pairwise
from npu_compat.parity.pipeline import STAGES, synthetic_inputs
from npu_compat.parity.planted_faults import planted_fault
from npu_compat.parity.sam3_runs import e2e_sam3


def _stages(seed=0):
    g = torch.Generator().manual_seed(seed)
    boxes = torch.rand(2, 4, 4, generator=g, dtype=torch.float64)
    boxes[..., 2:] += boxes[..., :2]
    return {"backbone": {"vision_features": torch.randn(1, 8, 4, 4, generator=g, dtype=torch.float64)},
            "text": {"language_features": torch.randn(5, 2, 8, generator=g, dtype=torch.float64)},
            "logits": {"pred_logits": torch.randn(2, 4, 1, generator=g, dtype=torch.float64)},
            "boxes": {"boxes_xyxy": boxes},
            "scores": {"scores": torch.rand(2, 4, generator=g, dtype=torch.float64)},
            "masks": {"mask_logits": torch.randn(2, 4, 16, 16, generator=g, dtype=torch.float64)}}


def test_identical_pipelines_pass_and_a_perturbed_stage_is_named_first():
    reference = _stages()
    assert compare_pipelines(_stages(), reference, "fp32").passed
    perturbed = _stages()
    perturbed["logits"]["pred_logits"] += 0.5
    perturbed["scores"]["scores"] += 0.1
    result = compare_pipelines(perturbed, reference, "fp32")
    assert not result.passed and result.first_divergence == "logits"
    assert [s.stage for s in result.stages] == list(STAGES)
    assert "first diverging stage is 'logits'" in result.summary()


def test_iou_helpers():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 0.0, 3.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    assert torch.allclose(box_iou_pairwise(a, b), torch.tensor([1 / 3, 1.0], dtype=torch.float64))
    m = torch.zeros(2, 4, 4, dtype=torch.bool)
    n = m.clone()
    m[0, :2], n[0, 1:3] = True, True
    assert torch.allclose(mask_iou_pairwise(m, n), torch.tensor([1 / 3, 1.0], dtype=torch.float64))


def test_tiny_sam3_cpu_vs_cpu_passes():
    result = e2e_sam3("tiny", "cpu", precision="fp32", reference="fp64", inputs=synthetic_inputs(0))
    assert result.passed, result.summary()


def test_tiny_sam3_bf16_autocast_vs_fp32_passes():
    result = e2e_sam3("tiny", "cpu", precision="bf16", reference="fp32", inputs=synthetic_inputs(1))
    assert result.passed, result.summary()


def test_planted_fault_fails_e2e_naming_the_backbone():
    """The fp32 layer_norm is wrong (eps + 1e-2), the fp64 reference is not: the ViT diverges first."""
    with planted_fault("layer_norm_eps", torch.float32):
        result = e2e_sam3("tiny", "cpu", precision="fp32", reference="fp64", inputs=synthetic_inputs(0))
    assert not result.passed
    assert result.first_divergence == "backbone", result.summary()


def test_fp64_precision_is_cpu_only():
    from npu_compat.parity.pipeline import _precision_context

    with pytest.raises(ValueError, match="CPU reference"):
        _precision_context(torch.device("meta"), "fp64")


def test_plant_fault_hits_the_device_run_only():
    """Both sides in fp32: a fault on both would pass; e2e_sam3(fault=...) fails, so only the device had it."""
    result = e2e_sam3("tiny", "cpu", precision="fp32", reference="fp32", inputs=synthetic_inputs(0),
                      fault="layer_norm_eps")
    assert not result.passed and result.first_divergence == "backbone", result.summary()
