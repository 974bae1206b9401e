"""A CUDA user's SAM 3.1 video script, unmodified for the shim: upstream's multiplex predictor
(``build_sam3_predictor(version="sam3.1")`` with its defaults: FA3 in fp8, bf16 autocast,
``.cuda()``), no device argument anywhere. Usage: video31_user_script.py VIDEO OUT_JSON [--full]

--full builds upstream's full-size predictor; otherwise the tiny one (same sam3@96914d2 classes,
npu_compat/sam3/tiny_multiplex.py). Both go through upstream's request API.
"""
import json
import sys

import numpy as np
import torch

video, out_path = sys.argv[1], sys.argv[2]
if "--full" in sys.argv:
    from sam3.model_builder import build_sam3_predictor

    predictor = build_sam3_predictor(version="sam3.1", async_loading_frames=False)
else:
    from npu_compat.sam3.tiny_multiplex import build_tiny_sam3_multiplex_predictor

    predictor = build_tiny_sam3_multiplex_predictor()
assert torch.cuda.is_available()
autocast_after_build = torch.is_autocast_enabled("cuda")


def summary(outputs):
    ids = np.asarray(outputs["out_obj_ids"])
    masks = np.asarray(outputs["out_binary_masks"])
    return {"ids": ids.tolist(), "probs_len": int(len(outputs["out_probs"])),
            "boxes_shape": list(np.asarray(outputs["out_boxes_xywh"]).reshape(-1, 4).shape),
            "masks_shape": list(masks.shape), "masks_dtype": str(masks.dtype),
            "probs_finite": bool(np.isfinite(np.asarray(outputs["out_probs"], dtype=np.float64)).all())}


session_id = predictor.handle_request({"type": "start_session", "resource_path": video})["session_id"]
text = predictor.handle_request({"type": "add_prompt", "session_id": session_id, "frame_index": 0, "text": "shape"})
frames = {}
for response in predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session_id}):
    frames[response["frame_index"]] = summary(response["outputs"])
closed = predictor.handle_request({"type": "close_session", "session_id": session_id})
with open(out_path, "w") as fh:
    json.dump({"autocast_after_build": autocast_after_build, "text": summary(text["outputs"]),
               "text_frame": text["frame_index"], "frames": frames, "closed": closed}, fh)
print("VIDEO31_SCRIPT_DONE")
