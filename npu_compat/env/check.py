"""Judge HostFacts against the version table: a list of ok / warn / fail findings, each with a fix.

Every failure names a fix and the docs/env.md section that explains it (``doc``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from npu_compat.env import versions
from npu_compat.env.host import HostFacts, VideoProbe

Status = Literal["ok", "warn", "fail"]
DOCS = "docs/env.md"
NPU_ROW = re.compile(r"^\|\s*(\d+)\s+([0-9A-Za-z][\w-]*)\s*\|\s*(\w+)\s*\|", re.M)
NPU_SMI_VERSION = re.compile(r"Version:\s*(\S+)")
CHIP_910B = re.compile(r"^910B\d*$")


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    doc: str = ""

    def render(self) -> str:
        head = {"ok": "[ OK ]", "warn": "[WARN]", "fail": "[FAIL]"}[self.status]
        tail = f"\n       fix: {self.fix}" if self.fix and self.status != "ok" else ""
        see = f" (see {DOCS}#{self.doc})" if self.doc and self.status != "ok" else ""
        return f"{head} {self.name}: {self.detail}{tail}{see}"


def constraints_fix(line: versions.Line) -> str:
    pins = " ".join(f"{d}=={v}" for d, v in line.pins().items() if d in ("torch", "torchvision"))
    return (f"python -m npu_compat.env constraints --line {line.name} -o constraints.txt && "
            f"pip install --no-deps -c constraints.txt {pins}"
            + (f" --index-url {line.torch_index}" if line.torch_index else ""))


def parse_npu_smi(text: str) -> tuple[str | None, list[tuple[str, str]]]:
    """(npu-smi version, [(chip name, health), ...]) from ``npu-smi info`` output."""
    version = NPU_SMI_VERSION.search(text)
    chips = [(name, health) for _, name, health in NPU_ROW.findall(text) if not name.isdigit()]
    return (version.group(1) if version else None), chips


def check_platform(f: HostFacts, line: versions.Line) -> list[Finding]:
    detail = f"{f.os_name}, {f.system} {f.machine}, Python {f.python}"
    if f.system != "Linux":
        return [Finding("platform", "warn", detail, "Ascend NPUs and CANN run on Linux only",
                        "quickstart")]
    if not f.python.startswith(line.python + "."):
        return [Finding("platform", "warn", f"{detail}; line {line.name} was pinned for Python "
                        f"{line.python}", f"use the CANN image's Python {line.python}", "versions")]
    return [Finding("platform", "ok", detail)]


def check_npu(f: HostFacts, line: versions.Line) -> list[Finding]:
    run = ("on an Ascend host; in Docker pass --device /dev/davinciN, davinci_manager, devmm_svm, "
           "hisi_hdc and mount the driver, npu-smi and /usr/local/dcmi")
    out: list[Finding] = []
    if f.npu_smi is None:
        out.append(Finding("npu", "fail", "no NPU: npu-smi not found or it failed", f"run {run}",
                           "run"))
    else:
        smi_version, chips = parse_npu_smi(f.npu_smi)
        if not chips:
            out.append(Finding("npu", "fail", "no NPU: npu-smi lists no devices", f"run {run}", "run"))
        elif not all(CHIP_910B.match(name) for name, _ in chips):
            names = ", ".join(sorted({n for n, _ in chips}))
            out.append(Finding("npu", "fail", f"found {names}, but every table line is for 910B",
                               "this kit's lines are for Atlas A2 (910B); other chips need a "
                               "different CANN image (-910- is the older 910A) and torch_npu", "versions"))
        elif any(h != "OK" for _, h in chips):
            bad = ", ".join(f"{n} {h}" for n, h in chips if h != "OK")
            out.append(Finding("npu", "warn", f"{len(chips)} NPU(s), unhealthy: {bad}",
                               "check `npu-smi info` and the host's driver logs", "run"))
        else:
            out.append(Finding("npu", "ok", f"{len(chips)} x {chips[0][0]}, health OK "
                               f"(npu-smi {smi_version or '?'})"))
    if f.driver_version is None:
        out.append(Finding("driver", "fail", "no /usr/local/Ascend/driver/version.info",
                           "mount the host's driver: -v /usr/local/Ascend/driver:/usr/local/Ascend/driver:ro",
                           "run"))
    else:
        out.append(Finding("driver", "ok", f"driver {f.driver_version}"))
    return out


def check_cann(f: HostFacts, line: versions.Line, build: bool) -> list[Finding]:
    out: list[Finding] = []
    if f.cann_version is None:
        out.append(Finding("cann", "fail", "CANN toolkit not found (no ascend_toolkit_install.info "
                           "or compiler/version.info)", f"build FROM {line.base_image}", "quickstart"))
    elif f.cann_version.lower() != line.cann.lower():
        others = [n for n in versions.known_lines()
                  if versions.get_line(n).cann.lower() == f.cann_version.lower()]
        fix = (f"use the line made for it: --build-arg LINE={others[0]}" if others
               else f"build FROM {line.base_image}")
        out.append(Finding("cann", "fail", f"CANN {f.cann_version} ({f.cann_file}), but line "
                           f"{line.name} needs CANN {line.cann}", fix, "versions"))
    else:
        out.append(Finding("cann", "ok", f"CANN {f.cann_version} ({f.cann_file})"))
    if f.set_env_script is None:
        out.append(Finding("set_env", "fail", "no set_env.sh under /usr/local/Ascend",
                           f"build FROM {line.base_image}", "quickstart"))
    elif not f.set_env_sourced and not build:
        out.append(Finding("set_env", "fail", f"{f.set_env_script} was not sourced "
                           "(ASCEND_TOOLKIT_HOME unset)", f"source {f.set_env_script}; a derived "
                           "image must keep the base ENTRYPOINT or run a login shell", "set-env"))
    else:
        out.append(Finding("set_env", "ok", f"{f.set_env_script}"
                           + ("" if f.set_env_sourced else " (not sourced: build-only mode)")))
    return out


def check_torch(f: HostFacts, line: versions.Line) -> list[Finding]:
    pkgs, fix = f.packages, constraints_fix(line)
    torch, torch_npu = pkgs.get("torch"), pkgs.get("torch-npu")
    out: list[Finding] = []
    if torch is None:
        out.append(Finding("torch", "fail", "torch is not installed", fix, "torch-overridden"))
    elif f.torch_cuda:
        out.append(Finding("torch", "fail", f"torch {torch} is a CUDA {f.torch_cuda} build; torch_npu "
                           "fails with 'Two accelerators cannot be used at the same time'",
                           f"pip uninstall -y torch && {fix}", "two-accelerators"))
    elif versions.release(torch) != line.torch:
        out.append(Finding("torch", "fail", f"torch {torch}, but line {line.name} needs {line.torch} "
                           "(overridden by a later pip install?)", fix, "torch-overridden"))
    else:
        out.append(Finding("torch", "ok", f"torch {torch} (CPU build)"))
    if torch_npu is None:
        out.append(Finding("torch_npu", "fail", "torch_npu is not installed",
                           f"pip install --no-deps torch-npu=={line.torch_npu}", "quickstart"))
    else:
        needs = versions.torch_for_torch_npu(torch_npu)
        if torch and needs and versions.release(torch) != needs:
            out.append(Finding("torch_npu", "fail", f"torch_npu {torch_npu} needs torch {needs}, "
                               f"found {torch}", fix, "torch-overridden"))
        elif torch_npu != line.torch_npu:
            out.append(Finding("torch_npu", "fail", f"torch_npu {torch_npu}, but line {line.name} "
                               f"(CANN {line.cann}) needs {line.torch_npu}",
                               f"pip install --no-deps torch-npu=={line.torch_npu}", "versions"))
        else:
            out.append(Finding("torch_npu", "ok", f"torch_npu {torch_npu} (version read from "
                               "package metadata, not imported)"))
    tv = pkgs.get("torchvision")
    if tv is None or versions.release(tv) != line.torchvision:
        out.append(Finding("torchvision", "fail", f"torchvision {tv or 'not installed'}, line "
                           f"{line.name} needs {line.torchvision}", fix, "torch-overridden"))
    else:
        out.append(Finding("torchvision", "ok", f"torchvision {tv}"))
    return out


def check_python_packages(f: HostFacts, line: versions.Line) -> list[Finding]:
    pkgs, out = f.packages, []
    ta, triton = pkgs.get("triton-ascend"), pkgs.get("triton")
    if triton is not None:
        out.append(Finding("triton", "fail", f"community triton {triton} is installed; it owns the "
                           "same triton/ package as triton-ascend", "pip uninstall -y triton && pip "
                           f"install --no-deps triton-ascend=={line.triton_ascend}", "triton"))
    elif ta is None:
        out.append(Finding("triton", "warn", "triton-ascend is not installed (sam3 needs the kit's "
                           "EDT replacement then)", f"pip install --no-deps triton-ascend=={line.triton_ascend}",
                           "triton"))
    elif ta != line.triton_ascend:
        out.append(Finding("triton", "fail", f"triton-ascend {ta}, but CANN {line.cann} pairs with "
                           f"{line.triton_ascend}", f"pip install --no-deps triton-ascend=={line.triton_ascend}",
                           "versions"))
    else:
        out.append(Finding("triton", "ok", f"triton-ascend {ta}"))
    numpy = pkgs.get("numpy")
    release = versions.release(numpy or "") or "0.0.0"
    major_minor = tuple(int(x) for x in release.split(".")[:2])
    if numpy is None or major_minor < (1, 26):
        out.append(Finding("numpy", "fail", f"numpy {numpy or 'not installed'}; sam3 needs >= 1.26 "
                           "(CANN images ship 1.24.0)", f"pip install -c constraints.txt numpy=={line.numpy}",
                           "numpy"))
    elif major_minor >= (2, 0):
        out.append(Finding("numpy", "fail", f"numpy {numpy}; torch {line.torch} and a source-built "
                           "decord need numpy < 2", f"pip install -c constraints.txt numpy=={line.numpy}",
                           "numpy"))
    else:
        out.append(Finding("numpy", "ok", f"numpy {numpy}"))
    sam3 = pkgs.get("sam3")
    if sam3 != line.sam3:
        out.append(Finding("sam3", "warn", f"sam3 {sam3 or 'not installed'}; the kit targets {line.sam3}",
                           f"pip install -c constraints.txt sam3=={line.sam3}", "quickstart"))
    else:
        out.append(Finding("sam3", "ok", f"sam3 {sam3}"))
    return out


def check_combination(f: HostFacts, line: versions.Line) -> Finding:
    installed = dict(f.packages)
    name = versions.match_line(installed)
    if name:
        return Finding("combination", "ok", f"torch/torch_npu/torchvision/triton-ascend/numpy/sam3 "
                       f"match table line {name}")
    diff = [f"{d} {installed.get(d) or 'missing'} (want {v})" for d, v in line.pins().items()
            if (installed.get(d) or "").split("+")[0] != v]
    return Finding("combination", "fail", f"not a known-good combination; vs line {line.name}: "
                   + ", ".join(diff), constraints_fix(line), "versions")


def check_video(probe: VideoProbe | None, packages: dict[str, str | None]) -> Finding:
    if probe is None:
        return Finding("video", "warn", "decord not probed", "", "decord")
    wheel = "decord2 " + packages["decord2"] if packages.get("decord2") else "source-built decord"
    if probe.decord is None:
        err = probe.error or "not importable"
        if "libswscale" in err or "libav" in err:
            return Finding("video", "fail", f"decord cannot load FFmpeg: {err}", "register the "
                           "FFmpeg prefix: echo PREFIX/lib > /etc/ld.so.conf.d/ffmpeg.conf && ldconfig",
                           "libswscale")
        cv2 = packages.get("opencv-python-headless") or packages.get("opencv-python")
        effect = (f"mp4 input still works through cv2 (opencv {cv2}); decord is the optional second decoder"
                  if cv2 else "no mp4 decoder: video input works only from frame folders")
        return Finding("video", "warn", f"decord does not import ({err}); {effect}",
                       f"pip install decord2=={versions.load_table()['decord']['decord2']} "
                       "(aarch64 wheel) or env/build_decord.sh" + ("" if cv2 else "; or pip install opencv-python-headless"),
                       "decord")
    if probe.error or probe.frames != 12 or probe.halves is None:
        return Finding("video", "fail", f"decord {probe.decord} ({wheel}) imports but did not decode "
                       f"the test clip: {probe.error or f'{probe.frames} frames'}",
                       "rebuild FFmpeg with env/build_ffmpeg.sh (h264 decoder, mov demuxer)", "decord")
    left, right = probe.halves
    if abs(left - 16) > 6 or abs(right - 235) > 6:
        return Finding("video", "fail", f"decord decoded wrong pixels ({left:.0f}/{right:.0f}, "
                       "want 16/235)", "rebuild FFmpeg and decord with env/", "decord")
    return Finding("video", "ok", f"decord {probe.decord} ({wheel}) decodes H.264: 12 frames")


def pick_line(facts: HostFacts) -> str:
    """The line to judge against: the one installed exactly, else the one with the installed
    torch_npu, else the one with the installed CANN, else the table's default."""
    name = versions.match_line(dict(facts.packages))
    if name:
        return name
    for key, have in (("torch_npu", facts.packages.get("torch-npu")), ("cann", facts.cann_version)):
        for candidate in versions.known_lines():
            if have and getattr(versions.get_line(candidate), key).lower() == have.lower():
                return candidate
    return versions.default_line()


def run_checks(facts: HostFacts, line_name: str | None = None, build: bool = False) -> list[Finding]:
    """All findings for *facts* against a table line (by name, else the matching or default line).

    ``build=True`` is the Dockerfile's build-only mode: no NPU, driver or sourced set_env.sh is
    expected while an image builds, so those are not judged.
    """
    line = versions.get_line(line_name or pick_line(facts))
    findings = check_platform(facts, line)
    if not build:
        findings += check_npu(facts, line)
    findings += check_cann(facts, line, build)
    findings += check_torch(facts, line) + check_python_packages(facts, line)
    findings.append(check_combination(facts, line))
    findings.append(check_video(facts.video, dict(facts.packages)))
    return findings


def exit_status(findings: list[Finding]) -> int:
    """1 if any finding failed, else 0."""
    return 1 if any(x.status == "fail" for x in findings) else 0
