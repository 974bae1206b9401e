"""Outside programs, unmodified, on the simulated npu (a test double of torch_npu + CANN + the chip).

msprobe (PyPI ``mindstudio-probe``, Ascend's accuracy tool) dumps a small model on the simulated npu and
on the cpu, and ``msprobe compare`` must pass every row: it reads each device tensor's storage, so this is
the check that device tensors are real tensors with real memory. The dump lines are restated here.

The client suite: pytorch/examples imagenet (``--gpu 0``, then ``--resume``), its DDP tutorial under
torchrun on two devices (then a resume from the snapshot), nanoGPT (train.py, then sample.py on its
checkpoint) and sam3's SAM1-task predictor. The real programs run from a source tree named by
``$PYTORCH_EXAMPLES_SRC`` / ``$NANOGPT_SRC`` (skipped without one: CI cannot fetch them); the same
programs' device, checkpoint and metric lines, restated in ``scripts/``, run in CI. SAM2's image
predictor is in tests/fallbacks/test_python_level.py.
"""
from __future__ import annotations

import csv
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, run_python
from tests.sim.conftest import SIM, run_sim

DUMP = textwrap.dedent("""
    import sys, torch
    target, dump = sys.argv[1], sys.argv[2]
    if target == "npu":
        from npu_compat import npu
        npu.load_torch_npu()
    from msprobe.pytorch import PrecisionDebugger
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).to(target)
    x = torch.randn(3, 8).to(target)
    debugger = PrecisionDebugger(task="tensor", dump_path=dump, level="mix")
    debugger.start(model=model)
    y = model(x)
    debugger.stop()
    debugger.step()
    print("DUMPED", y.device)
""")


def test_msprobe_dump_on_the_simulated_npu_compares_equal_to_the_cpu(tmp_path: Path) -> None:
    pytest.importorskip("msprobe", reason="msprobe is not installed: pip install mindstudio-probe==26.2.0")
    msprobe = shutil.which("msprobe") or str(Path(sys.executable).parent / "msprobe")
    script = tmp_path / "dump.py"
    script.write_text(DUMP)
    for target in ("npu", "cpu"):
        proc = run_python(str(script), target, str(tmp_path / target),
                          env={"NPU_COMPAT_SIMULATE": SIM} if target == "npu" else {}, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"DUMPED {target}" in proc.stdout
    compared = subprocess.run([msprobe, "compare", "-tp", str(tmp_path / "npu" / "step0"), "-gp",
                               str(tmp_path / "cpu" / "step0"), "-o", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=600)
    assert compared.returncode == 0, compared.stderr[-3000:]
    (result,) = list((tmp_path / "out").glob("compare_result_*.csv"))
    rows = list(csv.DictReader(result.open()))
    assert len(rows) >= 20, len(rows)  # 2 linears and a relu: inputs, parameters, outputs at two levels
    assert {row["Result"] for row in rows} == {"pass"}, [(r["NPU Name"], r["Result"]) for r in rows]
    assert any(row["NPU Name"].endswith("parameters.weight") and float(row["Cosine"]) == 1.0 for row in rows)


# -- Real programs written for CUDA, run unmodified through ``python -m npu_compat.apply --device npu
# --simulate``: each test checks that the program took its CUDA path (the migration report lists redirected
# calls from the program's own file) and that it ran on the simulated npu (the report's target, and what
# it saved loads back as tensors of device npu).

SCRIPTS = Path(__file__).parent / "scripts"
EXAMPLES_ENV, NANOGPT_ENV = "PYTORCH_EXAMPLES_SRC", "NANOGPT_SRC"
EXAMPLES_HOWTO = ("set PYTORCH_EXAMPLES_SRC to a checkout of github.com/pytorch/examples at 8c246ba (its last "
                  "torch.cuda imagenet), e.g. git --git-dir=<mirror> archive 8c246ba imagenet "
                  "distributed/ddp-tutorial-series | tar -x -C <folder>")
NANOGPT_HOWTO = "set NANOGPT_SRC to a checkout of github.com/karpathy/nanoGPT (and pip install tiktoken: sample.py imports it)"


def _source_tree(variable: str, howto: str, *files: str) -> Path:
    value = os.environ.get(variable)
    if not value or not all((Path(value) / f).is_file() for f in files):
        pytest.skip(f"no {variable} tree: {howto}")
    return Path(value)


def _on_sim(*program: str, cwd: Path, report: Path, env: dict | None = None, timeout: int = 600) -> str:
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", SIM, "--report", str(report),
                      *program, cwd=cwd, env={"CUDA_VISIBLE_DEVICES": "", **(env or {})}, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["target"]["device"] == "npu" and data["target"]["backend"] == f"simulated npu (torch_npu {SIM.split('==')[1]})"
    return proc.stdout


def _rules_from(report: Path, program: Path) -> set[str]:
    """Rules that fired at call sites in ``program``, in the run's own process and in every process it started."""
    data = json.loads(report.read_text())
    calls = data["calls"] + [c for p in data.get("processes", []) for c in p["calls"]]
    return {c["rule"] for c in calls if Path(c["file"]).resolve() == program.resolve()}


def _saved_devices(path: Path) -> dict[str, list[str]]:
    """Load ``path`` on the simulated npu with torch.load's defaults (weights_only, no map_location): the
    devices of its tensors, by top-level key."""
    return run_sim(f"""
        def devices(value):
            if isinstance(value, torch.Tensor):
                return {{str(value.device)}}
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            return set().union(set(), *(devices(v) for v in items))
        saved = torch.load({str(path)!r}, weights_only=True)
        out.update({{key: sorted(devices(value)) for key, value in saved.items()}})
    """)


def _imagenet_resume(program: Path, tmp_path: Path, *options: str) -> str:
    """``--gpu 0`` for one epoch, then ``--resume`` from its checkpoint for a second one: the resumed run's output."""
    first = _on_sim("--", str(program), *options, "--gpu", "0", "--epochs", "1", "-p", "1", cwd=tmp_path,
                    report=tmp_path / "train.json")
    assert "Use GPU: 0 for training" in first and "Epoch: [0][1/" in first and " *   Acc@1 " in first, first
    assert re.search(r"Acc@1 +\d+\.\d\d \( +\d+\.\d\d\)", first), first  # :6.2f of a device scalar
    assert {"cuda.set_device", "device.Module.cuda", "device.Tensor.to", "device.Tensor.cuda"} <= \
        _rules_from(tmp_path / "train.json", program)
    saved = _saved_devices(tmp_path / "checkpoint.pth.tar")
    assert saved["state_dict"] == saved["best_acc1"] == saved["optimizer"] == ["npu:0"], saved
    resumed = _on_sim("--", str(program), *options, "--gpu", "0", "--epochs", "2", "-p", "1", "--resume",
                      "checkpoint.pth.tar", cwd=tmp_path, report=tmp_path / "resume.json")
    assert "device.torch.load" in _rules_from(tmp_path / "resume.json", program)  # map_location='cuda:0'
    return resumed


RESUMED_IMAGENET = ("=> loaded checkpoint 'checkpoint.pth.tar' (epoch 1)", "Epoch: [1][1/")


def test_imagenet_lines_train_then_resume_on_the_simulated_npu(tmp_path: Path) -> None:
    resumed = _imagenet_resume(SCRIPTS / "imagenet_lines.py", tmp_path)
    assert all(line in resumed for line in RESUMED_IMAGENET), resumed


@pytest.mark.slow
def test_pytorch_examples_imagenet_gpu_0_then_resume_on_the_simulated_npu(tmp_path: Path) -> None:
    """The real main.py on resnet18 over a 4-image ImageFolder (its --dummy FakeData is 1.28M images)."""
    from PIL import Image

    tree = _source_tree(EXAMPLES_ENV, EXAMPLES_HOWTO, "imagenet/main.py")
    noise = np.random.RandomState(0)
    for split in ("train", "val"):
        for label in ("a", "b"):
            (tmp_path / "data" / split / label).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(noise.randint(0, 255, (40, 40, 3), dtype=np.uint8)).save(
                    tmp_path / "data" / split / label / f"{i}.png")
    resumed = _imagenet_resume(tree / "imagenet" / "main.py", tmp_path, "data", "-b", "2", "-j", "1")
    assert all(line in resumed for line in RESUMED_IMAGENET), resumed


def _ddp_resume(program: Path, tmp_path: Path, *snapshot: str) -> str:
    """Two ranks under torchrun on two simulated devices, then the same command resuming from the snapshot:
    the resumed run's output."""
    port = str(29700 + os.getpid() % 200)
    runs = []
    for epochs, name in (("1", "train"), ("2", "resume")):
        log = tmp_path / f"sim-{name}"
        out = _on_sim("-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", port, str(program),
                      epochs, "1", *snapshot, "--batch_size", "16", cwd=tmp_path, report=tmp_path / f"{name}.json",
                      env={"NPU_COMPAT_SIM_LOG": str(log), "NPU_COMPAT_SIM_DEVICES": "2"})
        ranks = {json.loads(f.read_text())["rank"]: json.loads(f.read_text())["devices_used"]
                 for f in log.glob("sim-*.json")}
        assert {r: d for r, d in ranks.items() if r is not None} == {"0": ["npu:0"], "1": ["npu:1"]}, ranks
        workers = [p for p in json.loads((tmp_path / f"{name}.json").read_text())["processes"] if "rank" in p["process"]]
        assert len(workers) == 2 and all({"cuda.set_device", "dist.init_process_group", "dist.DDP.device_ids"} <=
                                         {c["rule"] for c in w["calls"]} for w in workers), workers
        runs.append(out)
    assert sorted(re.findall(r"\[GPU(\d)\] Epoch 0", runs[0])) == ["0", "1"], runs[0]
    assert "device.torch.load" in _rules_from(tmp_path / "resume.json", program)
    assert _saved_devices(tmp_path / (snapshot[0] if snapshot else "snapshot.pt"))["MODEL_STATE"] == ["npu:0"]
    return runs[1]


def test_ddp_tutorial_lines_under_torchrun_then_resume_on_the_simulated_npu(tmp_path: Path) -> None:
    resumed = _ddp_resume(SCRIPTS / "ddp_torchrun_lines.py", tmp_path, "snapshot.pt")
    assert resumed.count("Resuming training from snapshot at Epoch 0") == 2, resumed  # both ranks


@pytest.mark.slow
def test_pytorch_examples_ddp_tutorial_under_torchrun_then_resume_on_the_simulated_npu(tmp_path: Path) -> None:
    tree = _source_tree(EXAMPLES_ENV, EXAMPLES_HOWTO, "distributed/ddp-tutorial-series/multigpu_torchrun.py")
    resumed = _ddp_resume(tree / "distributed" / "ddp-tutorial-series" / "multigpu_torchrun.py", tmp_path)
    assert resumed.count("Resuming training from snapshot at Epoch 0") == 2, resumed  # both ranks


def test_nanogpt_lines_train_then_sample_on_the_simulated_npu(tmp_path: Path) -> None:
    program = SCRIPTS / "nanogpt_lines.py"
    trained = _on_sim("--", str(program), "train", "out", cwd=tmp_path, report=tmp_path / "train.json")
    assert "using fused AdamW: True" in trained and "saving checkpoint to out" in trained, trained
    assert {"cuda.is_available", "cuda.is_bf16_supported", "amp.autocast", "device.Module.to", "device.Tensor.to"} <= \
        _rules_from(tmp_path / "train.json", program)
    saved = _saved_devices(tmp_path / "out" / "ckpt.pt")
    assert saved["model"] == saved["optimizer"] == ["npu:0"], saved
    sampled = _on_sim("--", str(program), "sample", "out", cwd=tmp_path, report=tmp_path / "sample.json")
    assert "sampled 8 tokens on npu:0" in sampled, sampled
    assert {"device.torch.load", "device.torch.tensor"} <= _rules_from(tmp_path / "sample.json", program)


@pytest.mark.slow
def test_nanogpt_train_then_sample_on_the_simulated_npu(tmp_path: Path) -> None:
    """The real train.py (--device=cuda --compile=False) and sample.py, copied unmodified next to a tiny
    character data set (they read configurator.py and data/ from the working directory)."""
    tree = _source_tree(NANOGPT_ENV, NANOGPT_HOWTO, "train.py", "sample.py", "model.py", "configurator.py")
    tiktoken = pytest.importorskip("tiktoken", reason=NANOGPT_HOWTO)
    where = {"PYTHONPATH": f"{ROOT}{os.pathsep}{Path(tiktoken.__file__).resolve().parents[1]}"}  # wherever it is installed
    for name in ("train.py", "sample.py", "model.py", "configurator.py"):
        shutil.copy(tree / name, tmp_path / name)
    text = "to be or not to be\nthat is the question\n" * 20
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    (tmp_path / "data" / "tiny").mkdir(parents=True)
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    ids[:700].tofile(tmp_path / "data" / "tiny" / "train.bin")
    ids[700:].tofile(tmp_path / "data" / "tiny" / "val.bin")
    with open(tmp_path / "data" / "tiny" / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    trained = _on_sim("--", str(tmp_path / "train.py"), "--dataset=tiny", "--out_dir=out", "--n_layer=1", "--n_head=2", "--n_embd=16",
                      "--block_size=16", "--batch_size=4", "--max_iters=4", "--lr_decay_iters=4", "--warmup_iters=1",
                      "--eval_interval=2", "--eval_iters=1", "--log_interval=1", "--device=cuda", "--compile=False",
                      cwd=tmp_path, report=tmp_path / "train.json")
    assert "using fused AdamW: True" in trained and "saving checkpoint to out" in trained, trained
    assert {"cuda.is_bf16_supported", "amp.autocast", "device.Module.to", "device.Tensor.to"} <= \
        _rules_from(tmp_path / "train.json", tmp_path / "train.py")
    assert _saved_devices(tmp_path / "out" / "ckpt.pt")["model"] == ["npu:0"]
    sampled = _on_sim("--", str(tmp_path / "sample.py"), "--out_dir=out", "--device=cuda", "--num_samples=2", "--max_new_tokens=20",
                      "--compile=False", cwd=tmp_path, report=tmp_path / "sample.json", env=where)
    assert "Loading meta from data/tiny/meta.pkl" in sampled and sampled.count("---------------") == 2, sampled
    assert {"device.torch.load", "device.torch.tensor"} <= _rules_from(tmp_path / "sample.json", tmp_path / "sample.py")


def _sam1_task(tmp_path: Path, *mode: str) -> tuple[dict, Path]:
    program = SCRIPTS / "sam1_task_predictor.py"
    out = _on_sim("--", str(program), *mode, cwd=tmp_path, report=tmp_path / "report.json", timeout=1800)
    result = json.loads(out.strip().splitlines()[0])
    assert result["masks"] == [3, 60, 80] and result["scores"] == [3], result  # 3 masks at the image's size
    assert result["device"] == result["fpn"] == "npu:0", result
    assert "sam3.processor_device" in _rules_from(tmp_path / "report.json", program)
    data = json.loads((tmp_path / "report.json").read_text())
    in_sam3 = {c["rule"] for c in data["calls"] if "/sam3/model/" in c["file"]}
    assert {"device.torch.arange", "amp.autocast"} <= in_sam3, in_sam3  # sam3's own CUDA lines, redirected
    return result, program


def test_sam3_sam1_task_predictor_on_the_simulated_npu(tmp_path: Path) -> None:
    result, program = _sam1_task(tmp_path)
    assert result["low"] == [3, 72, 72], result  # 4x the tiny model's 18x18 grid
    assert "device.Module.cuda" in _rules_from(tmp_path / "report.json", program)


@pytest.mark.slow
def test_sam3_full_size_sam1_task_predictor_on_the_simulated_npu(tmp_path: Path) -> None:
    """build_sam3_image_model(enable_inst_interactivity=True), random weights (about 4 GB: run it under
    flock /tmp/fullsize.lock)."""
    result, _ = _sam1_task(tmp_path, "full")
    assert result["low"] == [3, 288, 288], result  # 4x the 72x72 token grid at 1008 px
