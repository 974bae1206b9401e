import torch

from npu_compat.parity.capture import OpRecorder, capture_callable


def _plain_run():
    conv = torch.nn.Conv2d(3, 4, 3)
    x = conv(torch.randn(1, 3, 8, 8))
    y = torch.nn.functional.layer_norm(x, (x.shape[-1],))
    q = torch.randn(1, 2, 5, 8)
    torch.nn.functional.scaled_dot_product_attention(q, q, q)
    torch.nn.functional.interpolate(y, size=(12, 12), mode="bilinear")
    return y


def test_records_backend_ops_with_metadata():
    with torch.no_grad():
        _, inventory = capture_callable(_plain_run, label="plain")
    ops = inventory.ops()
    assert {"aten.convolution.default", "aten.native_layer_norm.default",
            "aten.upsample_bilinear2d.default"} <= ops
    conv = next(e for e in inventory if e.op == "aten.convolution.default")
    assert conv.args[0]["shape"] == [1, 3, 8, 8] and conv.args[3] == [1, 1] and conv.runs == ["plain"]


def test_inference_mode_is_decomposed_like_autograd_mode():
    """Under inference_mode the mode would see linear/layer_norm; the recorder decomposes them."""
    with torch.inference_mode():
        _, inference = capture_callable(_plain_run)
    with torch.no_grad():
        _, no_grad = capture_callable(_plain_run)
    assert "aten.layer_norm.default" not in inference.ops()
    assert {op for op in inference.ops() if "randn" not in op} == {op for op in no_grad.ops() if "randn" not in op}


def test_undecomposed_mode_keeps_composite_ops():
    recorder = OpRecorder(decompose=False)
    with torch.inference_mode(), recorder.recording("r"):
        torch.nn.functional.layer_norm(torch.randn(2, 4), (4,))
    assert "aten.layer_norm.default" in recorder.inventory.ops()


def test_tiny_sam3_inventory_is_non_trivial(tiny_inventory_fp32):
    ops = tiny_inventory_fp32.ops()
    assert len(ops) >= 40, sorted(ops)
    assert tiny_inventory_fp32.runs == ["image", "text", "box", "batched"]
    required = {"aten.convolution.default", "aten.native_layer_norm.default", "aten.grid_sampler_2d.default",
                "aten.view_as_complex.default", "aten.view_as_real.default"}
    assert required <= ops, required - ops
    assert ops & {"aten._scaled_dot_product_flash_attention_for_cpu.default", "aten.mm.default",
                  "aten.addmm.default", "aten.bmm.default"}
    assert any(op.startswith("aten.upsample") or op.startswith("aten._upsample") for op in ops)
    complex_mul = [e for e in tiny_inventory_fp32 if e.op == "aten.mul.Tensor" and "complex64" in e.dtypes]
    assert complex_mul, "the ViT RoPE's complex64 multiply is missing"
    assert "torchvision.roi_align.default" in ops
