"""The kit as ``pip install`` delivers it: the wheel is built from the clone's files, installed (not editable)
into a fresh folder, and every console script runs from outside the clone: ``--help``, then one real tiny run.

Offline and fast: ``pip wheel --no-build-isolation`` on a copy of the package's files (nothing is written into
the clone), ``pip install --no-deps --target`` (torch, sam3 and the other dependencies come from this
environment). The runs use cwd elsewhere and a PYTHONPATH that holds only the install folder, and the first
test proves the installed copy, not the clone, is what Python imports.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_coco_mini

PACKAGE_FILES = ("pyproject.toml", "README.md", "npu_compat", "patches")
COMMANDS = ("sam3-demo", "sam3-infer", "sam3-video", "coco-eval", "compare-runs", "npu-compat-bench",
            "verify-patches", "extract-npu-kernels", "train-sample-set")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel installed into a fresh folder: returns that folder (its bin/ holds the console scripts)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in PACKAGE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((work / "dist").glob("npu_compat-*.whl"))
    target = work / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return target


def run_installed(target: Path, *argv: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """A console script of the install (or ``python`` for argv[0] == "python"), from ``cwd``, without the clone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NPU_COMPAT_", "PYTHON"))}
    env["PYTHONPATH"] = str(target)
    program = [sys.executable] if argv[0] == "python" else [str(target / "bin" / argv[0])]
    return subprocess.run([*program, *argv[1:]], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def test_the_wheel_carries_the_data_files_and_every_command(installed):
    wheel = next(installed.parent.glob("dist/*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("npu_compat/bench/count_budget.json", "npu_compat/env/versions.toml", "npu_compat/patch_series/series",
                 "npu_compat/training/configs/skimage_sample/tiny_ft.yaml"):
        assert data in names, data
    series = (ROOT / "patches" / "series").read_text().split()
    assert all(f"npu_compat/patch_series/{entry}" in names for entry in series if entry.endswith(".patch"))
    assert sorted(p.name for p in (installed / "bin").iterdir()) == sorted(COMMANDS)


def test_python_imports_the_installed_copy_not_the_clone(installed, tmp_path):
    done = run_installed(installed, "python", "-c", "import npu_compat; print(npu_compat.__file__)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(installed / "npu_compat" / "__init__.py")


def test_the_installed_data_files_load(installed, tmp_path):
    """The bench's count budget and the version table, read by the library from the install."""
    code = ("from npu_compat.bench.budget import BUDGET_FILE, load_budget; from npu_compat.env import versions; "
            "print(BUDGET_FILE); print(len(load_budget()) > 0, len(versions.known_lines()) > 0)")
    done = run_installed(installed, "python", "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    path, loaded = done.stdout.split("\n")[:2]
    assert path.startswith(str(installed)) and loaded == "True True"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_from_outside_the_clone(installed, tmp_path, command):
    done = run_installed(installed, command, "--help", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:") and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def _tiny_run(command: str, folder: Path) -> tuple[list[str], list[Path]]:
    """argv for one real run of ``command`` on the tiny model (inputs written into ``folder``), and what it writes."""
    from PIL import Image

    out = folder / "out"
    if command == "sam3-demo":
        return ["--model", "tiny", "--device", "cpu", "--out", str(out)], [out / "overlay.png", out / "result.json"]
    if command == "sam3-infer":
        Image.new("RGB", (96, 64), (40, 160, 90)).save(folder / "photo.png")
        return ([str(folder / "photo.png"), "--prompt", "cat", "--model", "tiny", "--device", "cpu", "--out", str(out)],
                [out / "photo.json", out / "photo.overlay.png"])
    if command == "sam3-video":
        from npu_compat.sam3.video_io import synthetic_video, write_video

        write_video(folder / "clip.mp4", synthetic_video(3, 48, 64), fps=3)
        return ([str(folder / "clip.mp4"), "--text", "shape", "--model", "tiny", "--device", "cpu", "--out", str(out)],
                [out / "frames.json"])
    if command == "coco-eval":
        ann, images = write_coco_mini(folder / "coco")
        return (["--coco-ann", str(ann), "--coco-img", str(images), "--output-json", str(out / "preds.json"),
                 "--model", "tiny", "--device", "cpu", "--max-images", "1", "--no-progress"], [out / "preds.json"])
    if command == "compare-runs":
        (folder / "a.json").write_text(json.dumps({"Losses/train_all_loss": 3.0}) + "\n")
        (folder / "b.json").write_text(json.dumps({"Losses/train_all_loss": 2.0}) + "\n")
        return ["--a", str(folder / "a.json"), "--b", str(folder / "b.json"), "--json", str(out / "t.json")], [out / "t.json"]
    if command == "npu-compat-bench":  # the quickest sub-benchmark (counts takes minutes on a busy 2-core host)
        return (["postprocess", "--quick", "--device", "cpu", "--log-level", "quiet", "--json", str(out / "bench.json")],
                [out / "bench.json"])
    if command == "verify-patches":  # the default series is the one in the package
        import sam3

        shutil.copytree(Path(sam3.__file__).resolve().parent, folder / "upstream" / "sam3",
                        ignore=shutil.ignore_patterns("__pycache__"))
        return (["apply", "--upstream", f"dir:{folder / 'upstream'}", "--out", str(out / "tree")],
                [out / "tree" / "sam3" / "__init__.py"])
    if command == "extract-npu-kernels":
        wheel = folder / "torch_npu-3.0.0-cp311-cp311-manylinux_2_28_aarch64.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr("torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml",
                             "backend: NPU\nsupported:\n- relu\n")
            archive.writestr("torch_npu/version.py", "__version__ = '3.0.0'\n")
            archive.writestr("torch_npu/npu/__init__.py", "__all__ = ['utilization']\ndef utilization():\n    pass\n")
        return ([str(wheel), "--out-dir", str(out), "--surface-dir", str(out / "surface")],
                [out / "torch_npu-3.0.0.json", out / "surface" / "torch_npu-3.0.0.json"])
    assert command == "train-sample-set"
    return ["--out", str(out)], [out / "skimage-sample" / "train" / "_annotations.coco.json"]


def link_outputs(paths: list[Path], folder: Path) -> Path:
    """A symbolic link at each output path, all to one file that must stay as it is; returns that file."""
    precious = folder / "precious.txt"
    precious.write_text("not yours to write\n")
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(precious)
    return precious


@pytest.mark.parametrize("command", COMMANDS)
def test_one_tiny_run_from_outside_the_clone_replacing_links_at_its_outputs(installed, tmp_path, command):
    """Each output file is written by the kit's one writer: a link there is replaced, its target left alone."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    argv, written = _tiny_run(command, tmp_path)
    linked = [] if command == "verify-patches" else written  # apply --out must be a new folder
    precious = link_outputs(linked, tmp_path)
    done = run_installed(installed, command, *argv, cwd=work)
    assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    for path in written:
        assert path.is_file() and not path.is_symlink(), f"{command} did not write {path}"
    assert precious.read_text() == "not yours to write\n", f"{command} wrote through a link"
    assert str(ROOT) not in done.stdout + done.stderr, "the clone was used"


def test_the_readmes_wheel_main_job_runs_from_the_install(installed, tmp_path):
    """The README's last wheel line (``python3 -m npu_compat.apply ... -m npu_compat.commands.sam3_demo``), tiny."""
    import re
    import shlex

    block = re.search(r"### Two ways to install.*?```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    line = block.strip().splitlines()[-1]
    argv = shlex.split(line)
    assert argv[:3] == ["python3", "-m", "npu_compat.apply"] and "npu_compat.commands.sam3_demo" in argv, line
    precious = link_outputs([tmp_path / "out" / "migration-report.json"], tmp_path)
    done = run_installed(installed, "python", *argv[1:], "--model", "tiny", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert precious.read_text() == "not yours to write\n"
    assert (tmp_path / "out" / "overlay.png").exists() and (tmp_path / "out" / "migration-report.json").exists()
    report = json.loads((tmp_path / "out" / "migration-report.json").read_text())
    assert any(call["file"].endswith("npu_compat/commands/sam3_demo.py") for call in report["calls"])
