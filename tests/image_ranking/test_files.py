from __future__ import annotations

import pytest

from image_ranking.media.files import atomic_file, atomic_write


def test_atomic_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "sub" / "head.json"
    atomic_write(path, b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["head.json"]


def test_an_error_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "head.json"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_file(path) as handle:
        handle.write(b"half")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["head.json"]
