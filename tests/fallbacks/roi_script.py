"""A user script: one roi_align call on line ROI_LINE, prints the max difference to a saved reference."""
import sys

import torch
import torchvision

feat = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16) / 100
boxes = torch.tensor([[0, 1.0, 1.0, 9.0, 7.0], [1, 2.5, 0.5, 15.0, 12.0]])
out = torchvision.ops.roi_align(feat, boxes, output_size=(4, 4), spatial_scale=1.0, sampling_ratio=2)  # ROI_LINE
ref = torch.ops.torchvision.roi_align(feat, boxes, 1.0, 4, 4, 2, False)
print("MAXDIFF", float((out - ref).abs().max()))
