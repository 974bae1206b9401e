"""Big-model style loading written for CUDA: accelerate's init_empty_weights / init_on_device put
the weights on the meta device, then the model is materialised on "cuda" and loaded."""
import torch
from accelerate import init_empty_weights, init_on_device


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 8)
        self.norm = torch.nn.LayerNorm(8)
        self.register_buffer("scale", torch.ones(8))

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


with init_empty_weights():
    model = Net()
assert model.fc.weight.device.type == "meta", model.fc.weight.device
with init_on_device(torch.device("meta"), include_buffers=True):
    other = Net()
assert other.scale.device.type == "meta" and other.fc.weight.device.type == "meta", other.scale.device
with torch.device("meta"):
    third = Net()
assert third.fc.weight.device.type == "meta", third.fc.weight.device

reference = Net()
model = model.to_empty(device="cuda")
model.load_state_dict({k: v.to("cuda") for k, v in reference.state_dict().items()})
x = torch.randn(2, 16, device="cuda")
same = torch.allclose(model(x).cpu(), reference(x.cpu()))
print(f"meta init ok; materialised on {model.fc.weight.device.type}; same outputs {same}")
