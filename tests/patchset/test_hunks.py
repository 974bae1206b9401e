"""Parsing: malformed hunk counts and binary hunks are refused with one clear line."""

import pytest

from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.hunks import parse_diff

GOOD = """--- a/pkg/x.py
+++ b/pkg/x.py
@@ -1,3 +1,3 @@
 a
-b
+B
 c
"""


def test_parse_counts_and_sides():
    [change] = parse_diff(GOOD)
    assert change.path == "pkg/x.py" and not change.is_new and not change.is_deleted
    [hunk] = change.hunks
    assert hunk.old_lines == ["a\n", "b\n", "c\n"] and hunk.new_lines == ["a\n", "B\n", "c\n"]
    assert (hunk.leading, hunk.trailing) == (1, 1)


@pytest.mark.parametrize("header", ["@@ -1,4 +1,3 @@", "@@ -1,3 +1,5 @@", "@@ -1,2 +1,2 @@"])
def test_malformed_hunk_count_is_one_line_error(header):
    bad = GOOD.replace("@@ -1,3 +1,3 @@", header)
    with pytest.raises(PatchError) as err:
        parse_diff(bad, "evil.patch")
    message = str(err.value)
    assert "\n" not in message and "evil.patch" in message and "malformed" in message


def test_binary_hunk_not_supported():
    binary = ("diff --git a/pkg/w.bin b/pkg/w.bin\nindex 1111111..2222222 100644\n"
              "Binary files a/pkg/w.bin and b/pkg/w.bin differ\n")
    with pytest.raises(PatchError, match="not supported"):
        parse_diff(binary, "bin.patch")
    git_binary = ("diff --git a/pkg/w.bin b/pkg/w.bin\nindex 1111111..2222222 100644\n"
                  "GIT binary patch\nliteral 3\nKcmZ?wd;kCi0RR91\n\nliteral 0\nHcmV?d00001\n\n")
    with pytest.raises(PatchError, match="not supported"):
        parse_diff(git_binary, "bin.patch")


def test_no_newline_marker_strips_the_line_ending():
    text = ("--- a/p/x.txt\n+++ b/p/x.txt\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
            "+c\n\\ No newline at end of file\n")
    [change] = parse_diff(text)
    assert change.hunks[0].old_lines == ["a\n", "b"] and change.hunks[0].new_lines == ["a\n", "c"]
