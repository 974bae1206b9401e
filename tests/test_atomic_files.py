import json
import os
import stat

import pytest

from npu_compat.atomic_files import (atomic_path, open_append, replace_link, write_atomic, write_json_atomic,
                                     write_text_atomic)


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


@pytest.mark.parametrize("writer", ["text", "json", "callback", "append"])
def test_a_link_at_the_output_path_is_replaced_and_its_target_left_alone(tmp_path, writer):
    target = tmp_path / "precious"
    target.write_text("do not touch\n")
    link = tmp_path / "out.txt"
    link.symlink_to(target)
    if writer == "text":
        write_text_atomic(link, "new\n")
    elif writer == "json":
        write_json_atomic(link, {"new": 1})
    elif writer == "callback":
        write_atomic(link, lambda tmp: tmp.write_text("new\n"))
    else:
        with open_append(link) as handle:
            handle.write("new\n")
    assert target.read_text() == "do not touch\n"
    assert not link.is_symlink() and "new" in link.read_text()


def test_append_keeps_what_is_there_and_a_dangling_link_is_replaced(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("1\n")
    with open_append(log, binary=True) as handle:
        handle.write(b"2\n")
    assert log.read_text() == "1\n2\n"
    dangling = tmp_path / "gone.jsonl"
    dangling.symlink_to(tmp_path / "nowhere" / "x")
    replace_link(dangling)
    assert not dangling.exists() and not dangling.is_symlink() and not (tmp_path / "nowhere").exists()


def test_write_atomic_gives_the_writer_a_name_with_the_targets_extension(tmp_path):
    seen = []
    write_atomic(tmp_path / "a.png", lambda tmp: (seen.append(tmp.suffix), tmp.write_bytes(b"x")))
    assert seen == [".png"] and (tmp_path / "a.png").read_bytes() == b"x"
