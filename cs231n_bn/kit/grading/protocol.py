"""The messages between the grader and the process that runs the student's code: data only, never pickle.

A message is one frame on a pipe:

    [u32 header length][header: JSON, UTF-8] then per array [u64 length][the array's bytes, C order]

The header lists the arrays that follow (``"$arrays": [[dtype string, shape], ...]``, numeric dtypes only) and
holds the request or the reply; values in it are encoded as JSON with these tags:

    None, bool, int, float, str         as themselves (NaN and infinities as JSON's NaN / Infinity)
    {"$a": i, "id": k}                  the i-th array of the frame (object dtypes refused); k, when present,
                                        names an array the grader sent, so that a change made in place can be
                                        reported back
    {"$t": [...], "$r": ref}            a tuple (any tuple subclass too); ref names the original in the child
    {"$l": [...], "$r": ref}            a list
    {"$d": [[key, value], ...], "$r": ref}  a dict (keys: str, int or float)
    {"$dtype": "<f4", "type": true}     a numeric dtype (type: the scalar type, np.float32, rather than np.dtype)
    {"$o": ref, "$type": "name"}        any other object of the child, by reference (a cache, a model, a method)

Arrays travel as their raw bytes, checked against their description; a frame larger than MAX_FRAME bytes or with
a malformed part is refused (ProtocolError). The grader reads every reply with this module and nothing else:
whatever the child sends is data to check, never code to run.
"""

import json
import struct

import numpy as np

MAX_FRAME = 1 << 30          # bytes: a frame beyond this is refused before it is read
MAX_HEADER = 64 << 20
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
ARRAYS = "$arrays"   # the header key that describes the arrays after it: [[dtype string, shape], ...]


class ProtocolError(Exception):
    """A frame that does not follow this format (or a pipe that closed in the middle of one)."""


class Ref:
    """An object that stays in the child, named by its reference number."""

    __slots__ = ("ref", "type_name")

    def __init__(self, ref, type_name=""):
        self.ref, self.type_name = ref, type_name

    def __repr__(self):
        return f"<{self.type_name or 'object'} in the student's process>"


# ----------------------------------------------------------------------------------------------------------------
# Frames

def write_frame(stream, header, arrays=()):
    """Write one frame (header: a JSON-able dict; arrays: numeric numpy arrays) and flush."""
    arrays = [np.asarray(array).copy(order="C") for array in arrays]  # (ascontiguousarray makes 0-d arrays 1-d)
    meta = dict(header, **{ARRAYS: [[array.dtype.str, list(array.shape)] for array in arrays]})
    text = json.dumps(meta, allow_nan=True, separators=(",", ":")).encode("utf-8")
    parts = [_U32.pack(len(text)), text]
    for array in arrays:
        data = array.tobytes()
        parts += [_U64.pack(len(data)), data]
    data = b"".join(parts)
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"a frame of {len(data)} bytes is larger than the limit of {MAX_FRAME}")
    stream.write(data)
    stream.flush()


def read_frame(stream):
    """Read one frame; returns (header dict, list of arrays). EOFError when the pipe closed before a frame."""
    head = stream.read(_U32.size)
    if not head:
        raise EOFError("the pipe closed")
    (length,) = _U32.unpack(_exactly(stream, head, _U32.size))
    if length > MAX_HEADER:
        raise ProtocolError(f"a header of {length} bytes is larger than the limit of {MAX_HEADER}")
    try:
        header = json.loads(_exactly(stream, b"", length).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"a header that is not JSON ({error})") from None
    if not isinstance(header, dict) or not isinstance(header.get(ARRAYS), list):
        raise ProtocolError("a header that is not a JSON object with its list of arrays")
    arrays, total = [], length
    for meta in header.pop(ARRAYS):
        dtype, shape = _array_meta(meta)
        (size,) = _U64.unpack(_exactly(stream, b"", _U64.size))
        total += size
        if total > MAX_FRAME:
            raise ProtocolError(f"a frame larger than the limit of {MAX_FRAME} bytes")
        if size != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ProtocolError(f"an array of {size} bytes where {dtype} {tuple(shape)} takes another size")
        data = bytearray(_exactly(stream, b"", size))
        arrays.append(np.frombuffer(data, dtype=dtype).reshape(shape))
    return header, arrays


def _array_meta(meta):
    """(dtype, shape) of an array's description [dtype string, shape], both checked."""
    if not (isinstance(meta, list) and len(meta) == 2 and isinstance(meta[0], str) and isinstance(meta[1], list)
            and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 1 << 40 for n in meta[1])
            and len(meta[1]) <= 32):
        raise ProtocolError("a malformed array description")
    try:
        dtype = np.dtype(meta[0])
    except TypeError:
        raise ProtocolError(f"an unknown dtype {meta[0]!r:.40}") from None
    if not _numeric(dtype):
        raise ProtocolError(f"an array of dtype {dtype}, expected booleans or numbers")
    return dtype, meta[1]


def _exactly(stream, start, size):
    data = bytearray(start)
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise ProtocolError(f"the pipe closed in the middle of a frame ({len(data)} of {size} bytes)")
        data += chunk
    return bytes(data)


# ----------------------------------------------------------------------------------------------------------------
# Values

class Encoder:
    """Encodes values for one frame; ``arrays`` collects the frame's arrays.

    ``reference(value)`` gives a reference number for a value to send by reference (None: send it by value);
    ``array_id(array)`` an id for an array whose in-place changes should come back (None: no id).
    """

    def __init__(self, reference=None, array_id=None, keep=None):
        self.arrays = []
        self._reference = reference or (lambda value: None)
        self._array_id = array_id or (lambda array: None)
        self._keep = keep  # child side: registers an object, returns its reference number

    def encode(self, value, depth=0):
        if depth > 50:
            raise ProtocolError("a value nested more than 50 levels deep")
        if value is None or type(value) in (bool, int, float, str):
            return value
        ref = self._reference(value)
        if ref is not None:
            return {"$o": ref}
        if isinstance(value, np.ndarray) and _numeric(value.dtype) and (type(value) is np.ndarray or self._keep):
            value = np.asarray(value)  # the child sends a subclass (np.matrix) as the plain array it holds
            self.arrays.append(value)
            entry = {"$a": len(self.arrays) - 1}
            k = self._array_id(value)
            if k is not None:
                entry["id"] = k
            return entry
        if isinstance(value, np.dtype) or isinstance(value, type) and issubclass(value, np.generic):
            dtype = np.dtype(value)
            if _numeric(dtype):
                return {"$dtype": dtype.str, "type": not isinstance(value, np.dtype)}
        if isinstance(value, np.generic) and _numeric(value.dtype):
            self.arrays.append(np.asarray(value))
            return {"$a": len(self.arrays) - 1, "scalar": True}
        # Subclasses (a namedtuple, an OrderedDict) travel as the plain container; from the child they come with a
        # reference, so that what goes back to the child is the student's own object.
        if isinstance(value, tuple):
            return self._container("$t", value, [self.encode(v, depth + 1) for v in value])
        if isinstance(value, list):
            return self._container("$l", value, [self.encode(v, depth + 1) for v in value])
        if isinstance(value, dict) and all(type(k) in (str, int, float) for k in value):
            return self._container("$d", value, [[k, self.encode(v, depth + 1)] for k, v in value.items()])
        if self._keep is not None:
            return {"$o": self._keep(value), "$type": type(value).__name__}
        raise ProtocolError(f"cannot send a {type(value).__name__}")

    def _container(self, tag, value, items):
        entry = {tag: items}
        if self._keep is not None:
            entry["$r"] = self._keep(value)
        return entry


def decode(value, arrays, make_container=None, make_ref=None, find=None, depth=0):
    """The value an encoded header value stands for.

    ``make_container(tag, items, ref)`` builds a tuple/list/dict that came with a reference (grader side);
    ``make_ref(ref, type_name)`` an object left in the child; ``find(ref)`` looks up a reference (child side).
    """
    if depth > 50:
        raise ProtocolError("a value nested more than 50 levels deep")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, list):
        raise ProtocolError("a bare JSON list (containers are tagged)")
    if not isinstance(value, dict):
        raise ProtocolError(f"an unknown value {value!r:.40}")
    if "$a" in value:
        index = value["$a"]
        if not isinstance(index, int) or not 0 <= index < len(arrays):
            raise ProtocolError(f"an array index {index!r} out of range")
        array = arrays[index]
        return array[()] if value.get("scalar") else array
    if "$dtype" in value:
        try:
            dtype = np.dtype(str(value["$dtype"]))
        except TypeError:
            raise ProtocolError(f"an unknown dtype {value['$dtype']!r:.40}") from None
        if not _numeric(dtype):
            raise ProtocolError(f"a dtype {dtype} that is not numeric")
        return dtype.type if value.get("type") else dtype
    if "$o" in value:
        ref = value["$o"]
        if not isinstance(ref, int):
            raise ProtocolError(f"a reference {ref!r} that is not a number")
        if find is not None:
            return find(ref)
        if make_ref is None:
            raise ProtocolError("an object reference where none may be")
        type_name = value.get("$type", "")
        return make_ref(ref, type_name if isinstance(type_name, str) else "")
    for tag in ("$t", "$l", "$d"):
        if tag in value:
            items = value[tag]
            if not isinstance(items, list):
                raise ProtocolError(f"a {tag} container that is not a list")
            if tag == "$d":
                if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int, float))
                           and not isinstance(p[0], bool) for p in items):
                    raise ProtocolError("a dict with malformed items")
                built = {k: decode(v, arrays, make_container, make_ref, find, depth + 1) for k, v in items}
            else:
                built = [decode(v, arrays, make_container, make_ref, find, depth + 1) for v in items]
            ref = value.get("$r")
            if ref is not None and not isinstance(ref, int):
                raise ProtocolError(f"a container reference {ref!r} that is not a number")
            if make_container is not None and ref is not None:
                return make_container(tag, built, ref)
            return tuple(built) if tag == "$t" else built
    raise ProtocolError(f"an unknown tagged value {sorted(value)[:3]}")


def _numeric(dtype):
    return dtype.kind in "biufc" and dtype.names is None
