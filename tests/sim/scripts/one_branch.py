"""A model with one used and one unused layer: DistributedDataParallel(find_unused_parameters=True) must find
the unused layer's parameters at every step (its reducer then stages through pinned host memory)."""
import torch


class OneBranch(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.used, self.unused = torch.nn.Linear(4, width), torch.nn.Linear(4, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)
