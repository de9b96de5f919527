"""IDX and CIFAR-10 binary parsers on generated files, well-formed and malformed."""

import gzip

import numpy as np
import pytest

from cs231n_bn.kit.data.formats import (FormatError, parse_cifar_batch, parse_idx, parse_idx_pair, read_bytes,
                                    read_cifar_batch, read_idx)
from fixtures.data_fixtures import cifar_bytes, gzip_bytes, idx_bytes


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip_every_type(dtype):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    parsed = parse_idx(idx_bytes(array))
    assert parsed.dtype == np.dtype(dtype) and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, array)


def test_idx_header_layout_is_big_endian():
    data = idx_bytes(np.zeros((2, 3), np.uint8))
    assert data[:4] == b"\x00\x00\x08\x02"
    assert data[4:12] == b"\x00\x00\x00\x02\x00\x00\x00\x03"


def test_read_idx_raw_and_gzip_files_give_the_same_array(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (tmp_path / "raw").write_bytes(idx_bytes(array))
    (tmp_path / "packed.gz").write_bytes(gzip_bytes(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "raw", ndim=3, dtype=np.uint8), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed.gz", ndim=3, dtype=np.uint8), array)
    np.testing.assert_array_equal(read_idx(gzip_bytes(idx_bytes(array))), array)


def test_read_bytes_returns_writable_content(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    data = read_bytes(tmp_path / "f")
    data[0] = 0  # a bytearray: arrays made from it are writable
    assert bytes(data) == b"\x00bc"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"\x00\x01" + d[2:], "bad magic number 0x00010801"),
    (lambda d: b"\x00\x00\x07" + d[3:], "bad magic number 0x00000701"),
    (lambda d: d[:3] + b"\x00" + d[4:], "bad magic number 0x00000800"),
    (lambda d: d[:2], "too short for an IDX header"),
    (lambda d: d[:6], "truncated header"),
    (lambda d: d[:-1], "truncated: the header declares shape (10,), i.e. 10 bytes of data, but only 9"),
    (lambda d: d + b"\x00\x00", "2 unexpected bytes after the 10 bytes of data"),
])
def test_malformed_idx_is_a_clear_error(mutate, message):
    good = idx_bytes(np.arange(10, dtype=np.uint8))
    with pytest.raises(FormatError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        parse_idx(mutate(good), name="labels-file")
    assert str(info.value).startswith("labels-file: ")


def test_idx_expected_dimensions_and_type_are_enforced():
    images = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FormatError, match=r"wrong dimensions: expected a 1-dimensional array.*\(2, 28, 28\)"):
        parse_idx(images, ndim=1)
    with pytest.raises(FormatError, match=r"wrong element type: expected uint8.*0x0D"):
        parse_idx(idx_bytes(np.zeros(3, np.float32)), dtype=np.uint8)


def test_truncated_and_bad_gzip_are_clear_errors(tmp_path):
    packed = gzip_bytes(idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(FormatError, match=r"cut.gz: not a valid gzip file"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(FormatError, match="not a valid gzip file"):
        read_bytes(b"\x1f\x8b" + b"garbage" * 10)


def test_idx_pair_checks_that_images_and_labels_belong_together():
    X = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    y = np.array([0, 9, 4], np.uint8)
    X4, y64 = parse_idx_pair(idx_bytes(X), idx_bytes(y))
    assert X4.shape == (3, 1, 28, 28) and y64.dtype == np.int64
    np.testing.assert_array_equal(X4[:, 0], X)
    with pytest.raises(FormatError, match="holds 3 images but .* holds 2 labels"):
        parse_idx_pair(idx_bytes(X), idx_bytes(y[:2]))
    with pytest.raises(FormatError, match="images are 28x27, expected 28x28"):
        parse_idx_pair(idx_bytes(X[:, :, :27]), idx_bytes(y))
    with pytest.raises(FormatError, match=r"label 10 at index 1 is outside 0..9"):
        parse_idx_pair(idx_bytes(X), idx_bytes(np.array([0, 10, 1], np.uint8)))
    with pytest.raises(FormatError, match="wrong dimensions"):
        parse_idx_pair(idx_bytes(y), idx_bytes(y))


def test_cifar_batch_layout_label_then_red_green_blue_planes():
    X = np.zeros((2, 3, 32, 32), np.uint8)
    X[0, 0, 0, 1] = 11  # red, row 0, column 1
    X[1, 2, 31, 31] = 22  # blue, last pixel
    data = cifar_bytes(X, [7, 3])
    assert len(data) == 2 * 3073
    assert data[0] == 7 and data[1 + 1] == 11 and data[3073] == 3 and data[2 * 3073 - 1] == 22
    Xp, yp = parse_cifar_batch(data)
    np.testing.assert_array_equal(Xp, X)
    np.testing.assert_array_equal(yp, [7, 3])
    assert yp.dtype == np.int64 and Xp.dtype == np.uint8 and Xp.flags.writeable


def test_cifar_reader_reads_files(tmp_path):
    X = np.random.default_rng(1).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    (tmp_path / "b.bin").write_bytes(cifar_bytes(X, [0, 1, 2, 3]))
    Xp, yp = read_cifar_batch(tmp_path / "b.bin")
    np.testing.assert_array_equal(Xp, X)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d[:-1], "not a whole number of 3073-byte CIFAR records"),
    (lambda d: b"", "0 bytes is not a whole number"),
    (lambda d: bytes([12]) + d[1:], "label 12 at index 0 is outside 0..9"),
])
def test_malformed_cifar_batch_is_a_clear_error(mutate, message):
    good = cifar_bytes(np.zeros((2, 3, 32, 32), np.uint8), [1, 2])
    with pytest.raises(FormatError, match=message) as info:
        parse_cifar_batch(mutate(good), name="data_batch_1.bin")
    assert str(info.value).startswith("data_batch_1.bin: ")


@pytest.mark.parametrize("shape", [
    (2**16, 2**16, 2**16, 2**16),  # the product is 2**64: it overflows int64 to 0
    (2**32 - 1, 2**32 - 1, 3),  # a negative byte count in int64
    (2**32 - 1,) * 6,
])
def test_idx_header_with_an_impossible_shape_is_a_clear_error(shape):
    header = bytes([0, 0, 0x08, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    with pytest.raises(FormatError, match=r"the header declares shape .*bytes of data, an impossible size") as info:
        parse_idx(header + bytes(16), name="labels-file")
    assert str(info.value).startswith("labels-file: ") and "-" not in str(info.value).split("i.e.")[1].split(" ")[1]


def test_large_declared_shape_is_reported_as_truncation():
    header = bytes([0, 0, 0x08, 2]) + (60000).to_bytes(4, "big") + (784).to_bytes(4, "big")
    with pytest.raises(FormatError, match=r"truncated: the header declares shape \(60000, 784\), i.e. 47040000 bytes"):
        parse_idx(header + bytes(100))


@pytest.mark.parametrize("packed", [True, False])
def test_read_bytes_stops_at_max_size(tmp_path, packed):
    import tracemalloc

    content = bytes(32 << 20)
    path = tmp_path / "big"
    path.write_bytes(gzip_bytes(content, level=1) if packed else content)
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=r"big: .*more than the 1000 .*this file may have"):
            read_bytes(path, "big", max_size=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB read to refuse it"
    assert len(read_bytes(path, max_size=len(content))) == len(content)
    if packed:
        with pytest.raises(FormatError, match="decompression stopped"):
            read_bytes(gzip_bytes(content, level=1), max_size=len(content) - 1)
