"""A multiprocessing pool (start method from argv) whose tasks use "cuda" tensors."""
import multiprocessing as mp
import sys

import torch


def work(i: int) -> float:
    return float(torch.ones(1, device="cuda").item() * i)


if __name__ == "__main__":
    pool = mp.get_context(sys.argv[1]).Pool(2)
    print("TOTAL", sum(pool.map(work, range(4))))
    pool.close()
    pool.join()
