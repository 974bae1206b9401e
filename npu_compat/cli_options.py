"""Command-line options shared by ``python -m npu_compat.apply`` and the tools in ``tools/``."""
from __future__ import annotations

import argparse
import os

from npu_compat import rule_packs
from npu_compat.errors import NpuCompatError
from npu_compat.fallbacks import check_off_names
from npu_compat.npu import RuntimeProfile, SimulateAction
from npu_compat.report import LOG_LEVELS
from npu_compat.shim_options import ShimOptions
from npu_compat.target import KNOWN_DEVICES, parse_device
from npu_compat.workloads.inputs import positive_int

_TRI = {"on": True, "off": False, "keep": None}
_PACK_DESTS = "_pack_option_dests"  # in the parsed arguments: which dest is which pack's option
AUTOCAST_POLICIES = ("auto", "keep", "fp32", "bf16", "fp16")


def device_spec(text: str) -> str:
    """An argparse type for ``--device``: a known device, optionally ``:N`` (an empty one is refused, not auto)."""
    try:
        parse_device(text)
    except NpuCompatError as err:
        raise argparse.ArgumentTypeError(" ".join(str(err).split())) from None
    return text


def existing_file(text: str) -> str:
    """An argparse type: a path that names a readable file."""
    if not os.path.isfile(text) or not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text[:200]!r} is not a readable file; check the path")
    return text


def add_shim_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("shim")
    g.add_argument("--device", type=device_spec, help=f"target device: {', '.join(KNOWN_DEVICES)} (optionally :N). "
                   "Default: $NPU_COMPAT_DEVICE, else the best available (npu > cuda > xpu > mps > cpu)")
    g.add_argument("--strict", action="store_true", help="turn any op fallback or rule signature drift into an error")
    g.add_argument("--log-level", choices=list(LOG_LEVELS), help="verbosity (default $NPU_COMPAT_LOG or 'summary'); "
                   "'calls' logs each redirected call site when first seen")
    g.add_argument("--cuda-available", choices=["target", "truth", "false"], default="target",
                   help="what torch.cuda.is_available() answers to the script: 'target' (True: the target stands in "
                   "for CUDA), 'truth', or 'false'. Libraries on the exclusion list always see the truth")
    g.add_argument("--autocast", choices=list(AUTOCAST_POLICIES), default=None,
                   help="dtype of the script's CUDA autocast regions: 'auto' (default, $NPU_COMPAT_AUTOCAST): keep the "
                   "script's dtype where the target runs it natively, else fp32; 'keep' always keeps it; 'fp32' turns "
                   "them off; 'bf16'/'fp16' force that dtype")
    g.add_argument("--device-count", type=positive_int, default=1, metavar="N",
                   help="cpu target: the number of CUDA devices the script sees, all of them the CPU (default 1); "
                   "for scripts that start one process per GPU")
    g.add_argument("--truthful", action="append", default=[], metavar="MODULE",
                   help="also give the real is_available() to this module prefix (repeatable)")
    g.add_argument("--no-pack", action="append", default=[], metavar="NAME",
                   help=f"leave out one rule pack (repeatable; found here: {', '.join(rule_packs.available()) or 'none'})")
    _add_pack_arguments(g)
    g.add_argument("--fallback-off", action="append", default=[], metavar="OP", help="disable one op fallback (repeatable)")
    g.add_argument("--jit-compile", choices=list(_TRI), default="off", help="npu: torch_npu online compilation (default off)")
    g.add_argument("--internal-format", choices=list(_TRI), default="off", help="npu: private tensor formats (default off)")
    g.add_argument("--conv-hf32", choices=list(_TRI), default="keep", help="npu: HF32 for fp32 convolutions (default keep)")
    g.add_argument("--matmul-hf32", choices=list(_TRI), default="keep", help="npu: HF32 for fp32 matmuls (default keep)")
    g.add_argument("--fused-attention", action="store_true", help="npu: run fp16/bf16 scaled_dot_product_attention "
                   "calls with no mask or a boolean mask on torch_npu.npu_fusion_attention (default off)")
    # SimulateAction sets NPU_COMPAT_SIMULATE; the simulator itself is never imported here
    g.add_argument("--simulate", action=SimulateAction, metavar="torch_npu==X", help="npu: run on the simulated npu, "
                   "a test double of torch_npu X's kernel coverage on the host (docs/simulated-npu.md)")


def _add_pack_arguments(group: argparse._ArgumentGroup) -> None:
    """The options each installed rule pack declares (``RulePack.options``, ``off_flag``): none is named here."""
    dests: dict[str, tuple[str, str]] = {}  # argparse dest -> (pack, key in ShimOptions.pack_options[pack])
    for pack in rule_packs.loadable_packs():
        try:
            if pack.off_flag:
                group.add_argument(pack.off_flag, action="append_const", const=pack.name, dest="no_pack",
                                   help=f"same as --no-pack {pack.name}")
            for opt in pack.options:
                action = group.add_argument(opt.flag, metavar=opt.metavar, type=opt.type, help=f"{opt.help} [{pack.name} pack]")
                dests[action.dest] = (pack.name, opt.key)
        except argparse.ArgumentError as err:
            raise NpuCompatError(f"rule pack '{pack.name}' declares an option that is already taken ({err})",
                                 f"rename it in the pack, or leave the pack out with --no-pack {pack.name}") from None
    group.set_defaults(**{_PACK_DESTS: dests})


def _pack_options(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """``{pack: {key: value}}`` for the pack options given on the command line."""
    options: dict[str, dict[str, object]] = {}
    for dest, (pack, key) in getattr(args, _PACK_DESTS, {}).items():
        value = getattr(args, dest, None)
        if value is not None:
            options.setdefault(pack, {})[key] = value
    return options


def shim_options(args: argparse.Namespace) -> ShimOptions:
    check_off_names(args.fallback_off)
    return ShimOptions(
        device=args.device,
        strict=args.strict,
        cuda_available=args.cuda_available,
        truthful=tuple(args.truthful),
        npu_profile=RuntimeProfile(
            jit_compile=_TRI[args.jit_compile],
            allow_internal_format=_TRI[args.internal_format],
            conv_hf32=_TRI[args.conv_hf32],
            matmul_hf32=_TRI[args.matmul_hf32],
        ),
        packs_off=tuple(dict.fromkeys(args.no_pack)),
        pack_options=_pack_options(args),
        fallback_off=tuple(args.fallback_off),
        log_level=args.log_level,
        autocast=args.autocast or os.environ.get("NPU_COMPAT_AUTOCAST") or None,
        device_count=args.device_count,
        fused_attention=args.fused_attention,
    )
