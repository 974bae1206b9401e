"""A CUDA user's SAM3 video script, unmodified for the shim: `.cuda()` models, torch.cuda calls,
no device argument anywhere. Usage: video_user_script.py VIDEO OUT_JSON [--full]

--full builds upstream's full-size predictor (build_sam3_video_predictor); otherwise the tiny
model (same sam3 classes) through upstream's Sam3VideoPredictor request API.
"""
import json
import sys

import numpy as np
import torch

video, out_path = sys.argv[1], sys.argv[2]
if "--full" in sys.argv:
    from sam3.model_builder import build_sam3_video_predictor

    predictor = build_sam3_video_predictor()
else:
    from npu_compat.sam3.tiny_video import tiny_video_predictor_class

    predictor = tiny_video_predictor_class()()
assert torch.cuda.is_available()
device_index = torch.cuda.current_device()
autocast_after_build = torch.is_autocast_enabled("cuda")


def summary(outputs):
    ids = np.asarray(outputs["out_obj_ids"])
    return {
        "ids": ids.tolist(),
        "probs_len": int(len(outputs["out_probs"])),
        "boxes_shape": list(np.asarray(outputs["out_boxes_xywh"]).reshape(-1, 4).shape),
        "masks_shape": list(np.asarray(outputs["out_binary_masks"]).shape),
        "masks_dtype": str(np.asarray(outputs["out_binary_masks"]).dtype),
        "keys": sorted(outputs),
    }


session_id = predictor.handle_request({"type": "start_session", "resource_path": video})["session_id"]
text = predictor.handle_request({"type": "add_prompt", "session_id": session_id, "frame_index": 0, "text": "shape"})
frames, autocast_between_steps = {}, []
for response in predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session_id}):
    autocast_between_steps.append(torch.is_autocast_enabled("cuda"))
    frames[response["frame_index"]] = summary(response["outputs"])
point = predictor.handle_request({"type": "add_prompt", "session_id": session_id, "frame_index": 2,
                                  "points": [[0.5, 0.4]], "point_labels": [1], "obj_id": 99})
after_point = []
for response in predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session_id,
                                                 "start_frame_index": 2, "propagation_direction": "forward"}):
    after_point.append(summary(response["outputs"])["ids"])
visible = summary(point["outputs"])["ids"]
removed_id = int(visible[0]) if visible else 99
removed = predictor.handle_request({"type": "remove_object", "session_id": session_id, "obj_id": removed_id})
after_remove = []
for response in predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session_id,
                                                 "start_frame_index": 2, "propagation_direction": "forward"}):
    after_remove.append(summary(response["outputs"])["ids"])
reset = predictor.handle_request({"type": "reset_session", "session_id": session_id})
closed = predictor.handle_request({"type": "close_session", "session_id": session_id})
memory = {"allocated": torch.cuda.memory_allocated(), "max_allocated": torch.cuda.max_memory_allocated()}
with open(out_path, "w") as fh:
    json.dump({"device_index": device_index, "autocast_after_build": autocast_after_build,
               "autocast_between_steps": autocast_between_steps, "text": summary(text["outputs"]),
               "text_frame": text["frame_index"], "frames": frames, "point": summary(point["outputs"]),
               "point_frame": point["frame_index"], "after_point": after_point, "removed": removed, "removed_id": removed_id,
               "after_remove": after_remove, "reset": reset, "closed": closed, "memory": memory}, fh)
print("VIDEO_SCRIPT_DONE")
