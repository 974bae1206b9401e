"""3-way merge verdicts: merged / conflict(k) / upstreamed."""

from npu_compat.patchset.merge import three_way

BASE = "".join(f"l{i}\n" for i in range(12))


def test_merged_when_changes_are_apart():
    ours = BASE.replace("l2\n", "L2\n")
    theirs = BASE.replace("l9\n", "L9\n")
    result = three_way(BASE, ours, theirs)
    assert result.status == "merged" and "L2\n" in result.text and "L9\n" in result.text


def test_conflict_counted():
    ours = BASE.replace("l2\n", "A\n").replace("l9\n", "A9\n")
    theirs = BASE.replace("l2\n", "B\n").replace("l9\n", "B9\n")
    result = three_way(BASE, ours, theirs)
    assert result.describe() == "conflict(2)" and result.text.count("<<<<<<<") == 2


def test_upstreamed_when_theirs_has_our_change():
    ours = BASE.replace("l4\n", "L4\n")
    theirs = ours.replace("l10\n", "L10\n")
    assert three_way(BASE, ours, theirs).status == "upstreamed"
