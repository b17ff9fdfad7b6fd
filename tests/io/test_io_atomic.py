import os
import stat

import pytest

from neuralscope.io.atomic import atomic_directory, atomic_path, write_text_atomic


def test_atomic_write_replaces_whole_file_with_normal_mode(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "hello")
    assert target.read_text() == "hello"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_directory_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_directory(out) as staging:
            (staging / "metrics.json").write_text("{}")
            raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with atomic_directory(out) as staging:
        (staging / "metrics.json").write_text("{}")
        (staging / "figures").mkdir()
        (staging / "figures" / "a.png").write_bytes(b"x")
    assert (out / "metrics.json").exists() and (out / "figures" / "a.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
