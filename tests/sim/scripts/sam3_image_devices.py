"""Run the tiny SAM3 image path (text and box prompts) as tools/sam3_demo.py does, written for CUDA,
and record the device of every tensor each aten op computes. Run it under the shim with the
simulated npu (a test double of the Ascend stack): ``python -m npu_compat.apply --device npu
--simulate torch_npu==X -- this.py OUT.json``."""
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

DEMO = Path(__file__).resolve().parents[3] / "npu_compat" / "commands" / "sam3_demo.py"


def _user_site() -> str:
    """file:line of the innermost frame outside torch, the kit and this script."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "site-packages/torch/" not in name and "/npu_compat/" not in name and name != __file__:
            return f"{Path(name).name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


# making, viewing, pinning and moving input data on the host is what CUDA code does too; computing is not
DATA_OPS = {"lift_fresh", "detach_", "detach", "alias", "to", "_to_copy", "copy_", "view", "permute", "select",
            "slice", "zeros", "empty", "unsqueeze", "reshape", "pin_memory", "_pin_memory"}


def _is_data_op(func) -> bool:
    return func._schema.name.split("::", 1)[1] in DATA_OPS


def _in_fallback() -> bool:
    """Inside one of the kit's fallbacks (which compute on the host on purpose)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "run_fallback":
            return True
        frame = frame.f_back
    return False


class OutputDevices(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.by_device = Counter()
        self.host_ops = Counter()
        self.sites = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.by_device[leaf.device.type] += 1
                if leaf.device.type != "npu":
                    kind = "in_fallback" if _in_fallback() else "data" if _is_data_op(func) else "compute"
                    self.host_ops[kind] += 1
                    self.sites[f"{kind}: {func} @ {_user_site()}"] += 1
        return out


def main(out_path: str) -> None:
    spec = importlib.util.spec_from_file_location("sam3_demo", DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    from sam3.model.sam3_image_processor import Sam3Processor

    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    model = build_tiny_sam3_image_model(seed=0).cuda().eval()
    processor = Sam3Processor(model, confidence_threshold=0.0)
    image = demo.load_image(None)
    mode = OutputDevices()
    with mode:
        state = processor.set_image(image)
        state = processor.set_text_prompt(prompt="person", state=state)
        text_scores = len(state["scores"])
        state = processor.add_geometric_prompt(box=[0.5, 0.5, 0.5, 0.5], label=True, state=state)
    result = {"by_device": dict(mode.by_device), "host_ops": dict(mode.host_ops), "host_sites": dict(mode.sites),
              "param_devices": sorted({str(p.device) for p in model.parameters()}),
              "state_devices": sorted({str(v.device) for v in state.values() if isinstance(v, torch.Tensor)}),
              "text_scores": text_scores, "box_scores": len(state["scores"])}
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
