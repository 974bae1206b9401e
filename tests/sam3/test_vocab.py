import gzip
import hashlib

import pytest

from npu_compat.errors import NpuCompatError
from npu_compat.sam3.vocab import BPE_SIZE, find_bpe


def test_finds_the_byte_identical_vocabulary_from_open_clip():
    path = find_bpe()
    data = path.read_bytes()
    assert len(data) == BPE_SIZE
    assert hashlib.md5(data).hexdigest() == "933b7abbbbde62c36f02f0e6ccde464f"
    assert gzip.decompress(data).startswith(b"\"bpe_simple_vocab_16e6.txt#version")


def test_environment_variable_and_explicit_path(tmp_path, monkeypatch):
    custom = tmp_path / "v.txt.gz"
    custom.write_bytes(b"x")
    monkeypatch.setenv("SAM3_BPE_PATH", str(custom))
    assert find_bpe() == custom
    assert find_bpe(custom) == custom
    with pytest.raises(NpuCompatError, match="--bpe"):
        find_bpe(tmp_path / "missing.gz")
