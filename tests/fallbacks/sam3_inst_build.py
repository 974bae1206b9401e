"""Build sam3's SAM1-task (instance interactivity) predictor on the shim's target: its constructor
scripts torchvision's Resize (which calls F.interpolate) with ``torch.jit.script``.

``tiny``: ``SAM3InteractiveImagePredictor`` over the kit's tiny tracker; ``full``: sam3's own
``build_sam3_image_model(enable_inst_interactivity=True)`` with random weights. Prints one JSON line.
"""
import json
import sys
import warnings

import torch

warnings.simplefilter("ignore")
mode = sys.argv[1]
if mode == "tiny":
    from sam3.model.sam1_task_predictor import SAM3InteractiveImagePredictor

    from npu_compat.sam3.tiny_video import TinyVideoConfig, _tracker

    predictor = SAM3InteractiveImagePredictor(_tracker(TinyVideoConfig()).cuda())
else:
    from sam3.model_builder import build_sam3_image_model

    predictor = build_sam3_image_model(device="cuda", load_from_HF=False, enable_inst_interactivity=True,
                                       eval_mode=True).inst_interactive_predictor
image = torch.rand(3, 20, 30).cuda()
resized = predictor._transforms.transforms(image)  # the scripted Resize + Normalize, on the device
print(json.dumps({"scripted": type(predictor._transforms.transforms).__name__, "device": str(resized.device),
                  "shape": list(resized.shape), "finite": bool(torch.isfinite(resized).all())}))
