"""A plain os.fork() whose child uses "cuda" and leaves by a normal sys.exit (atexit handlers run)."""
import os
import sys

import torch

pid = os.fork()
if pid == 0:
    torch.zeros(1, device="cuda")
    sys.exit(0)
_, status = os.waitpid(pid, 0)
print("CHILD EXIT", os.waitstatus_to_exitcode(status))
