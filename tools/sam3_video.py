"""`sam3-video` from a clone: the command is npu_compat.commands.sam3_video (pip installs it as sam3-video)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this clone's npu_compat, installed or not
from npu_compat.commands.sam3_video import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
