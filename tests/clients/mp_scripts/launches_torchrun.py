"""A driver script that starts torchrun itself (as many training launchers do)."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
port = os.environ.get("MASTER_PORT", "29500")
cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", port,
       os.path.join(here, "torchrun_nccl.py")]
sys.exit(subprocess.run(cmd).returncode)
