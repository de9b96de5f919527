"""Parsers for the two on-disk formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10's binary batches.

Both read raw bytes with NumPy only; neither ever unpickles anything. A truncated or malformed file is a
`FormatError` (a ValueError) that names the file and says what is wrong with it.

IDX (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"), all integers big-endian:
    bytes 0-1   zero
    byte  2     type code: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
    byte  3     number of dimensions d
    then        d sizes, 4-byte unsigned each
    then        the data, C order (last index fastest)

CIFAR-10 binary batch (https://www.cs.toronto.edu/~kriz/cifar.html): records of 3073 bytes, each one label
byte (0-9) then 3072 pixel bytes: the 1024 red values of the 32x32 image in row-major order, then green, then blue.
"""

import gzip
import io
import math
import os
import zlib

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
GUNZIP_BLOCK = 1 << 20

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

CIFAR_SHAPE = (3, 32, 32)
CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32


class FormatError(ValueError):
    """A data file is truncated or malformed."""


def read_bytes(source, name=None, max_size=None):
    """Read a file (or take bytes), decompressing it when it is gzip-compressed.

    Inputs:
    - source: a path (str or os.PathLike) or a bytes-like object.
    - name: how error messages name the data (defaults to the path).
    - max_size: if given, the most bytes the (decompressed) content may have: decompression stops there (a
      small file that inflates to gigabytes is refused without being inflated) and a larger raw file is
      refused without being read.

    Returns:
    - data: a writable bytearray with the (decompressed) content.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "<bytes>"
        if bytes(source[:2]) == GZIP_MAGIC:
            return _gunzip(io.BytesIO(source), name, max_size)
        data = bytearray(source)
    else:
        name = name or os.fspath(source)
        with open(source, "rb") as f:
            if f.read(2) == GZIP_MAGIC:
                f.seek(0)
                return _gunzip(f, name, max_size)
            size = os.fstat(f.fileno()).st_size
            if max_size is not None and size > max_size:
                raise FormatError(f"{name}: {size} bytes, more than the {max_size} this file may have; not the "
                                  f"genuine file")
            f.seek(0)
            data = bytearray(size)
            got = f.readinto(data)
        del data[got:]  # the file shrank while being read
    if max_size is not None and len(data) > max_size:
        raise FormatError(f"{name}: {len(data)} bytes, more than the {max_size} this file may have; not the "
                          f"genuine file")
    return data


def _gunzip(fileobj, name, max_size):
    """The decompressed content of a gzip stream, read in blocks and stopped once it exceeds max_size."""
    data = bytearray()
    try:
        with gzip.GzipFile(fileobj=fileobj, mode="rb") as gz:
            while True:
                block = gz.read(GUNZIP_BLOCK)
                if not block:
                    break
                data += block
                if max_size is not None and len(data) > max_size:
                    raise FormatError(f"{name}: decompresses to more than the {max_size} bytes this file may "
                                      f"have; not the genuine file (decompression stopped)")
    except (OSError, EOFError, zlib.error) as err:
        raise FormatError(f"{name}: not a valid gzip file ({err})") from None
    return data


def parse_idx(data, name="<bytes>", ndim=None, dtype=None):
    """Parse IDX content into an array.

    Inputs:
    - data: the decompressed bytes of an IDX file.
    - name: how error messages name the file.
    - ndim: if given, the number of dimensions the header must declare.
    - dtype: if given, the element type the header must declare (e.g. np.uint8).

    Returns:
    - array of the declared shape (d_1, ..., d_ndim), in native byte order. For uint8 data it shares memory
      with `data` (so it is writable exactly when `data` is).
    """
    if len(data) < 4:
        raise FormatError(f"{name}: {len(data)} bytes is too short for an IDX header (at least 4 bytes)")
    magic = int.from_bytes(data[:4], "big")
    zeros, type_code, dims = data[:2], data[2], data[3]
    if zeros != b"\x00\x00" or type_code not in IDX_TYPES or dims == 0:
        known = ", ".join(f"0x{code:02X}" for code in IDX_TYPES)
        raise FormatError(f"{name}: bad magic number 0x{magic:08X}; an IDX file starts with two zero bytes, "
                          f"a type code ({known}) and a number of dimensions >= 1 (MNIST images: 0x00000803, "
                          f"labels: 0x00000801)")
    header_bytes = 4 + 4 * dims
    if len(data) < header_bytes:
        raise FormatError(f"{name}: truncated header: {dims} dimensions need {header_bytes} bytes, "
                          f"the file has {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    item_dtype = IDX_TYPES[type_code]
    if ndim is not None and dims != ndim:
        raise FormatError(f"{name}: wrong dimensions: expected a {ndim}-dimensional array, the header declares "
                          f"shape {shape}")
    if dtype is not None and item_dtype.newbyteorder("=") != np.dtype(dtype):
        raise FormatError(f"{name}: wrong element type: expected {np.dtype(dtype)}, the header declares "
                          f"type code 0x{type_code:02X} ({item_dtype.newbyteorder('=')})")
    payload = math.prod(shape) * item_dtype.itemsize  # Python integers: no overflow, whatever the header says
    have = len(data) - header_bytes
    if payload > max(have, 0) and payload > 1 << 40:
        raise FormatError(f"{name}: the header declares shape {shape}, i.e. {payload} bytes of data, an "
                          f"impossible size (only {have} bytes follow the header): the header is damaged or "
                          f"this is not an IDX file")
    if have < payload:
        raise FormatError(f"{name}: truncated: the header declares shape {shape}, i.e. {payload} bytes of data, "
                          f"but only {have} follow the header")
    if have > payload:
        raise FormatError(f"{name}: {have - payload} unexpected bytes after the {payload} bytes of data that the "
                          f"header's shape {shape} declares")
    array = np.frombuffer(data, dtype=item_dtype, count=payload // item_dtype.itemsize, offset=header_bytes)
    if item_dtype.byteorder == ">":
        array = array.astype(item_dtype.newbyteorder("="))
    return array.reshape(shape)


def read_idx(source, ndim=None, dtype=None, name=None, max_size=None):
    """Read an IDX file, raw or gzip-compressed (see `parse_idx` for the arguments and result, `read_bytes`
    for max_size)."""
    data = read_bytes(source, name, max_size)
    return parse_idx(data, name or (os.fspath(source) if not isinstance(source, (bytes, bytearray, memoryview))
                                    else "<bytes>"), ndim=ndim, dtype=dtype)


def parse_idx_pair(images, labels, image_shape=(28, 28), num_classes=10, names=("images", "labels")):
    """Parse an IDX images file and its labels file and check that they belong together.

    Inputs:
    - images, labels: decompressed IDX bytes (ubyte, 3-D and 1-D).
    - image_shape: the (H, W) every image must have.
    - num_classes: labels must lie in 0 .. num_classes - 1.
    - names: how error messages name the two files.

    Returns:
    - X: uint8 array of shape (N, 1, H, W).
    - y: int64 array of shape (N,).
    """
    X = parse_idx(images, names[0], ndim=3, dtype=np.uint8)
    y = parse_idx(labels, names[1], ndim=1, dtype=np.uint8)
    if X.shape[1:] != tuple(image_shape):
        raise FormatError(f"{names[0]}: wrong dimensions: images are {X.shape[1]}x{X.shape[2]}, "
                          f"expected {image_shape[0]}x{image_shape[1]}")
    if X.shape[0] != y.shape[0]:
        raise FormatError(f"{names[0]} holds {X.shape[0]} images but {names[1]} holds {y.shape[0]} labels")
    _check_labels(y, num_classes, names[1])
    return X[:, None, :, :], y.astype(np.int64)


def parse_cifar_batch(data, name="<bytes>", num_classes=10):
    """Parse one CIFAR-10 binary batch.

    Inputs:
    - data: the batch file's bytes (a whole number of 3073-byte records).
    - name: how error messages name the file.
    - num_classes: labels must lie in 0 .. num_classes - 1.

    Returns:
    - X: uint8 array of shape (N, 3, 32, 32), channels R, G, B.
    - y: int64 array of shape (N,).
    """
    if len(data) == 0 or len(data) % CIFAR_RECORD_BYTES:
        raise FormatError(f"{name}: {len(data)} bytes is not a whole number of {CIFAR_RECORD_BYTES}-byte CIFAR "
                          f"records (1 label byte + 3072 pixel bytes each); the file is truncated or not a "
                          f"CIFAR-10 binary batch")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD_BYTES)
    y = records[:, 0].astype(np.int64)
    _check_labels(y, num_classes, name)
    # A contiguous copy of the pixels: in the file they are interleaved with the labels.
    X = np.ascontiguousarray(records[:, 1:]).reshape((-1,) + CIFAR_SHAPE)
    return X, y


def read_cifar_batch(source, name=None, num_classes=10, max_size=None):
    """Read a CIFAR-10 binary batch file (see `parse_cifar_batch`, and `read_bytes` for max_size)."""
    data = read_bytes(source, name, max_size)
    name = name or (os.fspath(source) if not isinstance(source, (bytes, bytearray, memoryview)) else "<bytes>")
    return parse_cifar_batch(data, name, num_classes)


def _check_labels(y, num_classes, name):
    bad = np.flatnonzero(y >= num_classes)
    if bad.size:
        raise FormatError(f"{name}: label {int(y[bad[0]])} at index {int(bad[0])} is outside 0..{num_classes - 1} "
                          f"({bad.size} such labels)")
