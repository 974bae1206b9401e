"""sam3's SAM1-task predictor (the 0.1.4 wheel's ``Sam3Image.predict_inst`` over
``SAM3InteractiveImagePredictor``) on "cuda", with random weights, at tiny size.

What ``build_sam3_image_model(enable_inst_interactivity=True)`` builds, from the kit's tiny parts: the
image model with the dual neck that also has the SAM2 neck, and a tracker under the predictor. The
predictor's feature sizes are the tiny grid's (upstream writes the full model's 288/144/72 in its
constructor). Then sam3's own calls: ``Sam3Processor(model).set_image`` and ``model.predict_inst`` with
a point prompt. Prints one JSON line.

``full`` instead: sam3's own ``build_sam3_image_model(enable_inst_interactivity=True)`` at full size
(random weights, about 4 GB).
"""
import json, sys, warnings
import numpy as np
import torch
from PIL import Image
warnings.simplefilter("ignore")
from sam3.model.sam1_task_predictor import SAM3InteractiveImagePredictor
from sam3.model.sam3_image_processor import Sam3Processor
from npu_compat.sam3.tiny import build_tiny_sam3_image_model
from npu_compat.sam3.tiny_video import TinyVideoConfig, _detector, _tracker

if sys.argv[1:] == ["full"]:
    from sam3.model_builder import build_sam3_image_model

    model = build_sam3_image_model(device="cuda", load_from_HF=False, enable_inst_interactivity=True, eval_mode=True)
else:
    config = TinyVideoConfig()
    model = build_tiny_sam3_image_model(seed=0, config=config.image)
    model.backbone = _detector(model, config).backbone  # the dual neck with the SAM2 neck, as enable_inst_interactivity builds it
    predictor = SAM3InteractiveImagePredictor(_tracker(config))
    grid = config.image.resolution // config.image.patch_size
    predictor._bb_feat_sizes = [(grid * 4, grid * 4), (grid * 2, grid * 2), (grid, grid)]
    model.inst_interactive_predictor = predictor
    model = model.cuda().eval()
processor = Sam3Processor(model, device="cuda")
image = Image.fromarray(np.random.RandomState(0).randint(0, 255, (60, 80, 3), dtype=np.uint8))
state = processor.set_image(image)
masks, scores, low = model.predict_inst(state, point_coords=np.array([[40, 30]]), point_labels=np.array([1]),
                                        multimask_output=True)
print(json.dumps({"masks": list(masks.shape), "scores": list(scores.shape), "low": list(low.shape),
                  "device": str(next(model.parameters()).device),
                  "fpn": str(state["backbone_out"]["sam2_backbone_out"]["backbone_fpn"][0].device)}))
