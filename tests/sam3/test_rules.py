"""The SAM3 import/build fixes, on real sam3 0.1.4."""
import torch

from npu_compat.sam3.rules import sam3_rules
from npu_compat.target import resolve_target
from tests.conftest import run_python

NO_TRITON = "import sys; sys.modules['triton'] = None\n"  # triton reads as not installed (torch's own check too)


def test_sam3_imports_and_the_tiny_model_runs_without_triton_under_the_shim():
    code = NO_TRITON + (
        "import torch, npu_compat\n"
        "try:\n    import sam3\nexcept ImportError as e:\n    print('UPSTREAM-FAILS', e.name)\n"
        "for m in [k for k in sys.modules if k.startswith('sam3')]: del sys.modules[m]\n"
        "npu_compat.apply(device='cpu')\n"
        "import sam3, sam3.model.edt as edt, sam3.perflib.nms as nms\n"
        "from sam3.model.sam3_image_processor import Sam3Processor\n"
        "from npu_compat.sam3.tiny import build_tiny_sam3_image_model\n"
        "m = build_tiny_sam3_image_model().cuda()\n"
        "p = Sam3Processor(m, confidence_threshold=0.0)\n"
        "st = p.set_image(torch.rand(3, 64, 80))\n"
        "st = p.set_text_prompt('cat', st)\n"
        "print('RESULT', edt.__name__, nms.__name__, st['scores'].shape[0], bool(torch.isfinite(st['scores']).all()))\n"
    )
    proc = run_python("-c", code, env={"NPU_COMPAT_LOG": "quiet"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "UPSTREAM-FAILS triton" in proc.stdout
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    _, edt, nms, n, finite = line.split()
    assert edt == "npu_compat.sam3.kernels.edt" and nms == "npu_compat.sam3.kernels.mask_nms"
    assert int(n) > 0 and finite == "True"


def test_upstream_kernels_are_kept_on_the_cuda_target_when_triton_imports():
    keys = {r.key for r in sam3_rules(resolve_target("cpu", environ={}))}
    assert "sam3.kernel.edt" in keys and "sam3.kernel.nms" in keys
    from npu_compat.target import CAPABILITIES, Target

    cuda_keys = {r.key for r in sam3_rules(Target("cuda", None, CAPABILITIES["cuda"]))}
    assert not any(k.startswith("sam3.kernel.") for k in cuda_keys)  # triton is importable here


def test_model_built_with_any_device_string_lands_on_the_target(shim_cpu):
    import sam3.model_builder as mb

    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    model = build_tiny_sam3_image_model()
    out = mb._setup_device_and_mode(model, "npu", True)
    assert next(out.parameters()).device == shim_cpu.target.device()
    sites = [c for c in shim_cpu.report.calls() if c["rule"] == "sam3.model_device"]
    assert sites and sites[0]["old"] == "npu" and sites[0]["file"] == __file__


def test_processor_default_device_becomes_the_target(shim_cpu):
    from sam3.model.sam3_image_processor import Sam3Processor

    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    processor = Sam3Processor(build_tiny_sam3_image_model())
    assert processor.device == "cpu"
    assert processor.find_stage.img_ids.device.type == "cpu"


def test_missing_bpe_path_is_resolved_by_the_shim(shim_cpu, tmp_path):
    import sam3.model_builder as mb

    enc = mb._create_text_encoder(str(tmp_path / "nope.txt.gz"))
    assert enc is not None
    site = next(c for c in shim_cpu.report.calls() if c["rule"] == "sam3.bpe")
    assert site["new"].endswith("bpe_simple_vocab_16e6.txt.gz")


def test_random_weights_notice_and_text_params_initialised(shim_cpu, capsys):
    """The random-init wrapper around a builder, fed a tiny model whose text params are NaN
    (what sam3's ``torch.empty`` can leave), instead of a 3.8 GB full build."""
    from npu_compat.sam3 import rules as r
    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    tiny = build_tiny_sam3_image_model()
    for name, p in tiny.named_parameters():
        if name.endswith(("positional_embedding", "text_projection")):
            p.data.fill_(float("nan"))
    rule = next(x for x in sam3_rules(shim_cpu.target) if x.key == "sam3.random_init")

    def builder(checkpoint_path=None, load_from_HF=True):
        return tiny

    build = r._random_init(shim_cpu.patcher.ctx, rule, builder)
    model = build(checkpoint_path=None, load_from_HF=False)
    assert "RANDOM WEIGHTS" in capsys.readouterr().err
    assert all(torch.isfinite(p).all() for p in model.parameters())
    build(checkpoint_path="given.pt", load_from_HF=False)
    assert "RANDOM WEIGHTS" not in capsys.readouterr().err
