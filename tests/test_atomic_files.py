import json
import os
import stat

import pytest

from npu_compat.atomic_files import atomic_path, write_json_atomic, write_text_atomic


def test_json_round_trip_with_user_permissions(tmp_path):
    out = write_json_atomic(tmp_path / "sub" / "r.json", {"a": [1, 2]})
    assert json.loads(out.read_text()) == {"a": [1, 2]}
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_text_keeps_newlines_as_given(tmp_path):
    out = write_text_atomic(tmp_path / "p.patch", "a\r\nb\n", fsync=True)
    assert out.read_bytes() == b"a\r\nb\n"


def test_a_folder_as_target_fails_and_leaves_no_temp(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        write_text_atomic(tmp_path / "d", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["d"]
