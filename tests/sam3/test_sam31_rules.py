"""SAM 3.1 (sam3@96914d2) through the shim, unmodified: the rows of npu_compat/sam3/sam31_rules.py.

The row functions are checked against torch directly; the CUDA-style scripts run on the 3.1
tree (tests that need it skip without $SAM3_31_SRC, see tests/conftest.py) on the cpu
target and on the simulated npu (a test double of torch_npu + CANN + the chip, release
2.7.1.post2: it checks data movement and coverage, not NPU numerics).
"""
from __future__ import annotations

import json
import math
import types

import pytest
import torch
import torch.nn.functional as F

from npu_compat.sam3.sam31_rules import COMPILE_ENV, addmm_activation, compute_dtype, sam31_rules, sdpa_attention
from npu_compat.sam3.video_io import synthetic_video, write_video
from npu_compat.target import CAPABILITIES, Target
from tests.conftest import ROOT, run_python

DEMO = ROOT / "tools" / "sam3_demo.py"
VIDEO_SCRIPT = ROOT / "tests" / "sam3" / "data" / "video31_user_script.py"
SIM = "torch_npu==2.7.1.post2"
NUM_FRAMES, HEIGHT, WIDTH = 4, 96, 128


def test_fa3_layout_attention_on_sdpa():
    """FA3 takes (batch, seq, heads, head_dim); the stand-in is softmax(q k^T / sqrt(d)) v in that layout."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 5, 3, 8, generator=g) for _ in range(3))
    out = sdpa_attention(q, k, v)
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))
    want = (torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(8), dim=-1) @ vh).transpose(1, 2)
    assert out.shape == q.shape and out.dtype == q.dtype
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("act, use_gelu", [(torch.nn.GELU, True), (torch.nn.ReLU, False), (F.gelu, True)])
def test_addmm_activation_equals_the_fused_op_in_fp32(act, use_gelu):
    g = torch.Generator().manual_seed(1)
    linear = torch.nn.Linear(6, 10)
    x = torch.randn(2, 3, 6, generator=g)
    out = addmm_activation(act, linear, x)
    fused = torch.ops.aten._addmm_activation(linear.bias, x.view(-1, 6), linear.weight.t(), use_gelu=use_gelu)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 10)
    torch.testing.assert_close(out.view(-1, 10), fused, rtol=1e-6, atol=1e-6)


def test_addmm_activation_follows_the_autocast_in_force():
    linear, x = torch.nn.Linear(4, 4), torch.randn(3, 4)
    assert compute_dtype(x) is torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert compute_dtype(x) is torch.bfloat16
        assert addmm_activation(torch.nn.ReLU, linear, x).dtype is torch.bfloat16
    with pytest.raises(ValueError, match="Unexpected activation"):
        addmm_activation(torch.nn.Tanh, linear, x)


def test_rows_by_target():
    cpu = {r.key for r in sam31_rules(Target("cpu", None, CAPABILITIES["cpu"]))}
    assert {"sam3.fa3.attention", "sam3.fused.addmm_act.vitdet", "sam3.upstream.init_state_offload_state",
            "sam3.sam31.neck_dtype", "sam3.sam31.bf16_scope.Sam3MultiplexVideoPredictor"} <= cpu
    cuda = {r.key for r in sam31_rules(Target("cuda", None, CAPABILITIES["cuda"]))}
    assert "sam3.upstream.init_state_offload_state" in cuda, "upstream's bug is fixed on every target"
    assert not any(key.startswith(("sam3.fused", "sam3.sam31.bf16_scope")) for key in cuda)


class _Multiplex:
    """Stands for the multiplex model's __init__: compile_model on the model and its detector, as upstream sets them."""

    def __init__(self, compile_model: bool = False):
        self.detector = types.SimpleNamespace()
        self.compile_model = self.detector.compile_model = compile_model


def _npu_row(key: str, original):
    from npu_compat.device_mapping import DeviceMapper
    from npu_compat.patcher import Context
    from npu_compat.report import MigrationReport
    from npu_compat.shim_options import ShimOptions

    target = Target("npu", None, CAPABILITIES["npu"])
    row = next(r for r in sam31_rules(target) if r.key == key)
    ctx = Context(target, MigrationReport(), ShimOptions(device="npu"), DeviceMapper(target))
    return row.make(ctx, row, original), ctx.report


def test_compile_true_is_turned_off_on_npu_logged_and_counted(monkeypatch, caplog):
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    init, report = _npu_row("sam3.sam31.compile", _Multiplex.__init__)
    monkeypatch.setattr(_Multiplex, "__init__", init)
    with caplog.at_level("WARNING", logger="npu_compat"):
        models = [_Multiplex(compile_model=True) for _ in range(2)]
    assert all(not m.compile_model and not m.detector.compile_model for m in models), "model and detector eager"
    assert [c["rule"] for c in report.calls()] == ["sam3.sam31.compile"] and report.calls()[0]["count"] == 2
    assert len([r for r in caplog.records if "runs eagerly" in r.getMessage()]) == 1, "said once"
    assert _Multiplex(compile_model=False).compile_model is False and report.calls()[0]["count"] == 2
    monkeypatch.setenv(COMPILE_ENV, "1")
    kept = _Multiplex(compile_model=True)
    assert kept.compile_model and kept.detector.compile_model, f"{COMPILE_ENV}=1 keeps upstream's compile"


def test_on_cuda_the_fused_mlp_takes_gradients_and_keeps_upstreams_kernel_without():
    """Upstream's addmm_act refuses gradients (its own bug): the cuda row runs linear + activation then."""
    from npu_compat.device_mapping import DeviceMapper
    from npu_compat.patcher import Context
    from npu_compat.report import MigrationReport
    from npu_compat.shim_options import ShimOptions

    def upstream(activation, linear, mat1):
        if torch.is_grad_enabled():
            raise ValueError("Expected grad to be disabled.")
        return "fused"

    target = Target("cuda", None, CAPABILITIES["cuda"])
    row = next(r for r in sam31_rules(target) if r.key == "sam3.upstream.addmm_act_grad.vitdet")
    ctx = Context(target, MigrationReport(), ShimOptions(device="cuda"), DeviceMapper(target))
    addmm_act = row.make(ctx, row, upstream)
    linear, x = torch.nn.Linear(4, 6), torch.randn(2, 4)
    out = addmm_act(torch.nn.GELU, linear, x)
    out.sum().backward()
    torch.testing.assert_close(out, F.gelu(linear(x)))
    assert linear.weight.grad is not None
    with torch.no_grad():
        assert addmm_act(torch.nn.GELU, linear, x) == "fused"
    assert [c["rule"] for c in ctx.report.calls()] == ["sam3.upstream.addmm_act_grad.vitdet"]


def test_compile_rows_only_on_npu():
    for kind in ("cpu", "cuda"):
        keys = {r.key for r in sam31_rules(Target(kind, None, CAPABILITIES[kind]))}
        assert "sam3.sam31.compile" not in keys, kind
    assert "sam3.sam31.compile" in {r.key for r in sam31_rules(Target("npu", None, CAPABILITIES["npu"]))}


# ---- the CUDA-style scripts on the 3.1 tree --------------------------------------------------
def _shim(device: str, report, *program: str, env: dict, timeout: int = 900):
    args = ["-m", "npu_compat.apply", "--device", device]
    if device == "npu":
        args += ["--simulate", SIM]
    return run_python(*args, "--report", str(report), "--", *program, env=env, timeout=timeout)


def _fired(report_path) -> set[str]:
    return {c["rule"] for c in json.loads(report_path.read_text())["calls"]}


@pytest.mark.parametrize("device", ["cpu", "npu"])
def test_image_demo_on_sam31(device, sam31_env, tmp_path):
    """tools/sam3_demo.py (.cuda(), torch.cuda.synchronize, autocast("cuda")) with the tiny model of 3.1's classes.
    On "npu" the device is the simulated npu (a test double)."""
    out, report = tmp_path / "out", tmp_path / "report.json"
    proc = _shim(device, report, str(DEMO), "--model", "tiny", "--threshold", "0.0", "--out", str(out), env=sam31_env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads((out / "result.json").read_text())
    assert result["device"].startswith(device)
    assert result["text"]["scores"] and result["box"]["scores"]
    assert all(math.isfinite(s) for s in result["text"]["scores"] + result["box"]["scores"])
    assert "sam3.fused.addmm_act.vitdet" in _fired(report), "3.1's fused bf16 MLP was met and redirected"


def _video(tmp_path):
    return write_video(tmp_path / "clip.mp4", synthetic_video(NUM_FRAMES, HEIGHT, WIDTH), fps=8)


def _check_video(data: dict) -> None:
    assert data["autocast_after_build"] is False, "the predictor's process-wide autocast must be gone"
    assert data["text_frame"] == 0 and data["text"]["ids"], "random weights at threshold 0 still detect"
    assert sorted(int(k) for k in data["frames"]) == list(range(NUM_FRAMES))
    for summary in [data["text"], *data["frames"].values()]:
        n = len(summary["ids"])
        assert summary["probs_len"] == n and summary["boxes_shape"] == [n, 4] and summary["probs_finite"]
        assert summary["masks_shape"] == [n, HEIGHT, WIDTH] and summary["masks_dtype"] == "bool"
    assert data["closed"]["is_success"] is True


@pytest.mark.parametrize("device", ["cpu", "npu"])
def test_multiplex_video_session_on_sam31(device, sam31_env, tmp_path):
    """Upstream's Sam3MultiplexVideoPredictor request API (start_session, text prompt, propagate, close)
    on the tiny multiplex model, FA3 and real RoPE on as upstream's defaults. "npu" is the simulated npu."""
    out, report = tmp_path / "out.json", tmp_path / "report.json"
    proc = _shim(device, report, str(VIDEO_SCRIPT), str(_video(tmp_path)), str(out), env=sam31_env)
    assert proc.returncode == 0 and "VIDEO31_SCRIPT_DONE" in proc.stdout, proc.stderr[-4000:]
    _check_video(json.loads(out.read_text()))
    fired = _fired(report)
    assert {"sam3.fa3.attention", "sam3.upstream.init_state_offload_state", "sam3.fused.addmm_act.vitdet"} <= fired


COMPILE_SCRIPT = """
import json, sys
import numpy as np
from torch._dynamo.utils import counters
from npu_compat.sam3.tiny_multiplex import TinyMultiplexConfig, build_tiny_sam3_multiplex_predictor
predictor = build_tiny_sam3_multiplex_predictor(config=TinyMultiplexConfig(compile=True))
session = predictor.handle_request({"type": "start_session", "resource_path": sys.argv[1]})["session_id"]
predictor.handle_request({"type": "add_prompt", "session_id": session, "frame_index": 0, "text": "shape"})
frames = [r["outputs"] for r in predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session})]
print(json.dumps({"compile_model": predictor.model.compile_model, "frames": len(frames),
                  "graphs": counters["stats"]["unique_graphs"], "breaks": sum(counters["graph_break"].values()),
                  "finite": all(np.isfinite(np.asarray(f["out_probs"], dtype=float)).all() for f in frames)}))
"""


@pytest.mark.slow
def test_compile_true_runs_eagerly_on_the_simulated_npu(sam31_env, tmp_path):
    """The tiny multiplex model with upstream's compile=True, on the simulated npu (a test double of
    torch_npu 2.7.1.post2): no graph is compiled, the session runs, and the choice is logged and reported."""
    script, report = tmp_path / "compile31.py", tmp_path / "report.json"
    script.write_text(COMPILE_SCRIPT)
    proc = _shim("npu", report, str(script), str(_video(tmp_path)), env=sam31_env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["compile_model"] is False, "built with compile=True, turned off on the npu target"
    assert out["frames"] == NUM_FRAMES and out["finite"]
    assert out["graphs"] == 0, "no torch.compile graph on the npu target"
    report_rules = {r["key"]: r["status"] for r in json.loads(report.read_text())["rules"]}
    assert report_rules["sam3.sam31.compile"] == "installed"  # the tiny model is built by the kit: no user call site
    assert proc.stderr.count("SAM 3.1 compile=True on npu: the model runs eagerly") == 1


@pytest.mark.slow
def test_compile_true_compiles_through_the_shim_on_the_cpu_target(sam31_env, tmp_path):
    """Upstream's compile=True (max-autotune, fullgraph=True) on the tiny multiplex model through the shim on
    the cpu target: graphs compile and the session runs (minutes: max-autotune benchmarks its kernels)."""
    script, report = tmp_path / "compile31.py", tmp_path / "report.json"
    script.write_text(COMPILE_SCRIPT)
    proc = _shim("cpu", report, str(script), str(_video(tmp_path)), env=sam31_env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["compile_model"] is True and out["frames"] == NUM_FRAMES and out["finite"], out
    assert out["graphs"] > 0 and out["breaks"] == 0, out  # upstream's fullgraph compile ran whole


def test_offload_state_true_is_a_clear_error(sam31_env, tmp_path):
    code = ("import npu_compat; npu_compat.apply(device='cpu')\n"
            "from sam3.model.sam3_multiplex_tracking import Sam3MultiplexTrackingWithInteractivity as M\n"
            "try:\n    M.init_state(None, 'x', offload_state_to_cpu=True)\n"
            "except NotImplementedError as err:\n    print('ERR', err)\n")
    proc = run_python("-c", code, env=sam31_env)
    assert proc.returncode == 0 and "ERR offload_state_to_cpu=True" in proc.stdout, proc.stderr[-2000:]


def test_download_is_stubbed_only_when_asked(sam31_env):
    code = ("import npu_compat; npu_compat.apply(device='cpu')\n"
            "import sam3.model_builder as b\nprint('CKPT', b.download_ckpt_from_hf(version='sam3.1'))\n")
    proc = run_python("-c", code, env={**sam31_env, "NPU_COMPAT_SAM3_RANDOM_INIT": "1", "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0 and "CKPT None" in proc.stdout and "RANDOM WEIGHTS" in proc.stderr, proc.stderr[-2000:]
    proc = run_python("-c", code, env={**sam31_env, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0 and "CKPT" not in proc.stdout, "without the variable upstream's download runs"


# ---- the kit's workloads on the 3.1 tree (tiny model of 3.1's classes, cpu target) ----------
def test_image_inference_tool_on_sam31(sam31_env, coco_mini, tmp_path):
    _, images = coco_mini
    out = tmp_path / "out"
    proc = run_python(str(ROOT / "tools" / "sam3_infer.py"), str(images / "chelsea.png"), "--prompt", "cat",
                      "--box", "0.5,0.5,0.4,0.4", "--model", "tiny", "--device", "cpu", "--threshold", "0.0",
                      "--out", str(out), env=sam31_env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dets = json.loads((out / "chelsea.json").read_text())["detections"]
    assert {d["prompt"] for d in dets} == {"cat", "box [0.5, 0.5, 0.4, 0.4]"}
    assert all(0.0 < d["score"] <= 1.0 for d in dets)


def test_coco_eval_tool_on_sam31(sam31_env, coco_mini, tmp_path):
    ann, images = coco_mini
    out = tmp_path / "preds.json"
    proc = run_python(str(ROOT / "tools" / "coco_eval.py"), "--coco-ann", str(ann), "--coco-img", str(images),
                      "--output-json", str(out), "--model", "tiny", "--device", "cpu", "--warmup", "0",
                      "--no-progress", "--prompt-batch", "3", "--eval", env=sam31_env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json.loads(out.read_text())
    assert {r["image_id"] for r in records} == {1, 2, 3, 4}
    assert "4/4 images done, 0 skipped" in proc.stdout
