"""A CUDA-written script with a planted host-tensor bug: ``torch.zeros(n)`` made with no device and
mixed with device tensors. The cpu target hides it (host and device are the same memory); every
accelerator, and the simulated npu, refuses it."""
import torch

scores = torch.rand(8, device="cuda")
penalty = torch.zeros(8)  # the bug: no device=, so this lives on the host
penalty[::2] = 0.5
print("kept", int(((scores - penalty) > 0.25).sum()))
