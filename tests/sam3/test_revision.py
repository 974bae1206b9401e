"""The rule pack tells the sam3 revision by its files, without importing sam3."""
from __future__ import annotations

from pathlib import Path

from npu_compat.sam3.revision import MAIN, SAM31, WHEEL, detect_revision, revision_of, sam3_folder
from tests.conftest import run_python


def _tree(root: Path, *files: str) -> Path:
    folder = root / "sam3"
    for name in ("__init__.py", "model_builder.py", *files):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("")
    return folder


def test_revisions_by_their_files(tmp_path):
    assert revision_of(_tree(tmp_path / "a")) == WHEEL
    assert revision_of(_tree(tmp_path / "b", "assets/bpe_simple_vocab_16e6.txt.gz")) == MAIN
    assert revision_of(_tree(tmp_path / "c", "assets/bpe_simple_vocab_16e6.txt.gz", "perflib/fa3.py",
                             "model/sam3_multiplex_video_predictor.py")) == SAM31
    assert revision_of(_tree(tmp_path / "d", "perflib/fa3.py")) == WHEEL, "one sign alone is not 3.1"


def test_installed_wheel_is_014_and_not_imported():
    assert sam3_folder() is not None and detect_revision() == WHEEL
    proc = run_python("-c", "import sys; from npu_compat.sam3.revision import detect_revision; "
                      "print(detect_revision(), 'sam3' in sys.modules)")
    assert proc.returncode == 0 and proc.stdout.split() == [WHEEL, "False"], proc.stderr[-2000:]


def test_sam31_tree_first_on_the_path(sam31_env):
    proc = run_python("-c", "from npu_compat.sam3.revision import detect_revision; print(detect_revision())",
                      env=sam31_env)
    assert proc.returncode == 0 and proc.stdout.strip() == SAM31, proc.stderr[-2000:]
