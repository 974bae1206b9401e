"""A DataLoader with pin_memory and spawn workers whose dataset builds its items on "cuda"."""
import torch
from torch.utils.data import DataLoader, Dataset


class OnDevice(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.full((2,), float(i), device="cuda").cpu()  # CUDA code inside the worker


if __name__ == "__main__":
    loader = DataLoader(OnDevice(), batch_size=2, num_workers=2, multiprocessing_context="spawn", pin_memory=True)
    print("SUM", float(sum(batch.sum() for batch in loader)))
