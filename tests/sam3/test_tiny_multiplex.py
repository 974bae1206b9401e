"""The tiny SAM 3.1 multiplex model is sam3@96914d2's own classes at small widths, seeded and
deterministic (runs on the 3.1 tree: skips without $SAM3_31_SRC, see tests/conftest.py)."""
from __future__ import annotations

import json

from tests.conftest import run_python

PROBE = """
import json, torch
import npu_compat
npu_compat.apply(device="cpu")
from npu_compat.sam3.tiny_multiplex import build_tiny_sam3_multiplex_model, build_tiny_sam3_multiplex_predictor
from sam3.model.sam3_multiplex_detector import Sam3MultiplexDetector
from sam3.model.sam3_multiplex_base import Sam3MultiplexPredictorWrapper
from sam3.model.sam3_multiplex_tracking import Sam3MultiplexTrackingWithInteractivity
from sam3.model.sam3_multiplex_video_predictor import Sam3MultiplexVideoPredictor
from sam3.model.video_tracking_multiplex_demo import Sam3VideoTrackingMultiplexDemo
a, b, c = (build_tiny_sam3_multiplex_model(seed=s) for s in (3, 3, 4))
sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
p = build_tiny_sam3_multiplex_predictor()
print(json.dumps({
    "types": [type(a) is Sam3MultiplexTrackingWithInteractivity, type(a.detector) is Sam3MultiplexDetector,
              type(a.tracker) is Sam3MultiplexPredictorWrapper, type(a.tracker.model) is Sam3VideoTrackingMultiplexDemo,
              type(p) is Sam3MultiplexVideoPredictor],
    "eval": not a.training, "params": sum(t.numel() for t in a.parameters()),
    "same_seed_equal": all(torch.equal(sa[k], sb[k]) for k in sa),
    "other_seed_differs": any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point()),
    "finite": all(bool(torch.isfinite(v).all()) for v in sa.values() if v.is_floating_point()),
    "fa3": {part: [m.use_fa3 for m in module.modules() if hasattr(m, "use_fa3")]
            for part, module in {"vit": a.detector.backbone.vision_backbone.trunk,
                                 "detector transformer": a.detector.transformer,
                                 "memory attention": a.tracker.model.transformer}.items()},
    "multiplex_count": a.tracker.model.multiplex_controller.multiplex_count,
    "autocast_on": torch.is_autocast_enabled("cpu"),
}))
"""


def test_sam31_classes_small_and_seeded(sam31_env):
    proc = run_python("-c", PROBE, env=sam31_env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(out["types"]) and out["eval"]
    assert out["params"] < 20_000_000, out["params"]
    assert out["same_seed_equal"] and out["other_seed_differs"] and out["finite"]
    for part, flags in out["fa3"].items():  # upstream's SAM mask decoders build their own attention without it
        assert flags and all(flags), f"upstream's default: FA3 on in the {part}"
    assert out["multiplex_count"] == 4
    assert out["autocast_on"] is False, "the predictor's process-wide bf16 autocast is exited under the shim"
