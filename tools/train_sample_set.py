"""`train-sample-set` from a clone: the command is npu_compat.commands.train_sample_set (pip installs it as train-sample-set)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this clone's npu_compat, installed or not
from npu_compat.commands.train_sample_set import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
