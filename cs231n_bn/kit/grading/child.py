"""The student's side of grading: a process that imports the student's package, runs the calls the grader sends,
and sends back what they returned. It decides nothing.

The grader (remote.Child) starts it with a bootstrap that first applies the sandbox (sandbox.confine) and then
runs ``serve``; in the browser, where no process can be started, remote.InProcess calls ``Session.handle``
directly. Requests and replies are protocol frames; a request's header is one of:

    {"op": "call", "target": T, "args": [...], "kwargs": {...}, "errstate": {...}}  call T(*args, **kwargs)
    {"op": "get", "target": T}                                 the value of T (an attribute or a module member)
    {"op": "set", "target": T, "value": v}                     set an attribute
    {"op": "setitem", "target": T, "key": k, "value": v}       T[k] = v
    {"op": "map", "calls": [...], "pick": i}                   several calls: [call(...)[i] for each] (Session.map)
    {"op": "parameters", "target": T}                          the names of T's parameters
    {"op": "reset"}                                            forget every object kept for the grader

where T is {"module": "cs231n_bn.layers", "name": "affine_forward"} or {"ref": n} or {"ref": n, "name": attr}.
Any request may carry "release": [refs] (objects the grader no longer needs).

A reply is {"ok": value} or {"raised": {"type", "message", "frames": [[path, line, function], ...]}}, plus
"mutated": [id, ...] for arrays the grader sent that the call changed in place, "dicts": [[position, value]]
for the dict arguments as the call left them, and "warnings": [text, ...].
"""

import importlib
import os
import signal
import sys
import traceback
import warnings
import weakref
from pathlib import Path

import numpy as np

from .protocol import Encoder, ProtocolError, decode, read_frame, write_frame

MAX_MESSAGE = 2000   # characters of an exception message sent back
MAX_WARNINGS = 5


class Session:
    """The objects kept for the grader (by reference number) and the arrays it sent (by id, to see changes)."""

    def __init__(self, tree):
        self.tree = Path(tree).resolve()
        self.objects = {}            # ref -> object
        self.next_ref = 1
        self.sent = weakref.WeakValueDictionary()  # array id -> the array decoded from the grader's frame
        self.snapshots = {}          # array id -> a copy as it arrived (or as last reported)

    # -- references --------------------------------------------------------------------------------------------

    def keep(self, value):
        ref = self.next_ref
        self.next_ref += 1
        self.objects[ref] = value
        return ref

    def find(self, ref):
        try:
            return self.objects[ref]
        except KeyError:
            raise ProtocolError(f"no object {ref} in this process") from None

    def release(self, refs):
        for ref in refs if isinstance(refs, list) else ():
            self.objects.pop(ref, None)

    def reset(self):
        self.objects.clear()
        self.sent = weakref.WeakValueDictionary()
        self.snapshots.clear()

    # -- values ------------------------------------------------------------------------------------------------

    def decode(self, value, arrays):
        ids = {}

        def track(encoded):  # arrays with an id are watched for changes made in place
            if isinstance(encoded, dict):
                if "$a" in encoded and isinstance(encoded.get("id"), int):
                    ids[encoded["$a"]] = encoded["id"]
                for item in encoded.values():
                    track(item)
            elif isinstance(encoded, list):
                for item in encoded:
                    track(item)

        track(value)
        for index, k in ids.items():
            if 0 <= index < len(arrays):
                array = arrays[index]
                array.flags.writeable = True
                self.sent[k] = array
                self.snapshots[k] = array.copy()
        return decode(value, arrays, find=self.find)

    def changes(self):
        """The ids of the arrays the grader sent that are now different from their snapshots."""
        changed = []
        for k in list(self.snapshots):
            array = self.sent.get(k)
            if array is None:
                del self.snapshots[k]
                continue
            before = self.snapshots[k]
            if array.shape != before.shape or not np.array_equal(array, before, equal_nan=True):
                changed.append(k)
                self.snapshots[k] = array.copy()
        return changed

    # -- targets -----------------------------------------------------------------------------------------------

    def resolve(self, target):
        if not isinstance(target, dict):
            raise ProtocolError("a target that is not an object")
        if "ref" in target:
            value = self.find(target["ref"])
            return getattr(value, target["name"]) if "name" in target else value
        module, name = target.get("module"), target.get("name")
        if not (isinstance(module, str) and module.startswith("cs231n_bn") and isinstance(name, str)):
            raise ProtocolError(f"a target outside the package: {module!r}")
        return getattr(importlib.import_module(module), name)

    # -- requests ----------------------------------------------------------------------------------------------

    def handle(self, header, arrays):
        """One request -> (reply header, reply arrays)."""
        self.release(header.get("release", []))
        op = header.get("op")
        encoder = Encoder(keep=self.keep)
        reply = {}
        dict_args = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if op == "reset":
                    self.reset()
                    result = None
                elif op == "call":
                    args = self.decode(header.get("args", {"$l": []}), arrays)
                    kwargs = self.decode(header.get("kwargs", {"$d": []}), arrays)
                    if not isinstance(args, list) or not isinstance(kwargs, dict):
                        raise ProtocolError("call arguments that are not a list and a dict")
                    dict_args = [(i, a) for i, a in enumerate(args) if type(a) is dict] + \
                                [(k, a) for k, a in kwargs.items() if type(a) is dict]
                    function = self.resolve(header.get("target"))
                    errstate = header.get("errstate") or {}
                    with np.errstate(**{k: v for k, v in errstate.items() if k in ("over", "invalid", "divide",
                                                                                    "under", "all")}):
                        result = function(*args, **kwargs)
                elif op == "map":
                    result = self.map(header.get("calls"), header.get("pick"), arrays)
                elif op == "get":
                    result = self.resolve(header.get("target"))
                elif op == "set":
                    target = header.get("target", {})
                    setattr(self.find(target.get("ref")), target.get("name"), self.decode(header.get("value"),
                                                                                          arrays))
                    result = None
                elif op == "setitem":
                    obj = self.resolve(header.get("target"))
                    obj[self.decode(header.get("key"), arrays)] = self.decode(header.get("value"), arrays)
                    result = None
                elif op == "parameters":
                    import inspect
                    result = list(inspect.signature(self.resolve(header.get("target"))).parameters)
                else:
                    raise ProtocolError(f"an unknown request {op!r}")
                reply["ok"] = encoder.encode(result)
            except ProtocolError:
                raise
            except BaseException as error:  # whatever the student's code raised, SystemExit included
                reply = {"raised": self.describe(error)}
        reply["mutated"] = self.changes()
        reply["dicts"] = [[position, encoder.encode(value)] for position, value in dict_args]
        if caught:
            reply["warnings"] = [f"{w.category.__name__}: {w.message}"[:MAX_MESSAGE] for w in caught[:MAX_WARNINGS]]
        for stream in (sys.stdout, sys.stderr):  # what the call printed reaches the grader before the reply
            try:
                stream.flush()
            except Exception:
                pass
        return reply, encoder.arrays

    def map(self, calls, pick, arrays):
        """Run several calls in one request (centred differences need many): [call(...)[pick] for each call].

        Each call is {"target": T, "args": [...], "kwargs": {...}, "set": [[T, key, value], ...]}: the items
        set first (a model's parameter), then the call. The first exception ends the request.
        """
        if not isinstance(calls, list) or not (pick is None or isinstance(pick, int)):
            raise ProtocolError("a map request that is not a list of calls")
        results = []
        for call in calls:
            if not isinstance(call, dict):
                raise ProtocolError("a call that is not an object")
            for target, key, value in call.get("set", []):
                self.resolve(target)[decode(key, arrays, find=self.find)] = decode(value, arrays, find=self.find)
            args = decode(call.get("args", {"$l": []}), arrays, find=self.find)
            kwargs = decode(call.get("kwargs", {"$d": []}), arrays, find=self.find)
            result = self.resolve(call.get("target"))(*args, **kwargs)
            results.append(result if pick is None else result[pick])
        return results

    def describe(self, error):
        """An exception as data: its type, message and the frames of the student's tree it passed through."""
        frames = []
        for frame in traceback.extract_tb(error.__traceback__):
            where = self.relative(frame.filename)
            if where is not None:
                frames.append([where, frame.lineno or 0, frame.name])
        if isinstance(error, SyntaxError) and error.filename:
            where = self.relative(error.filename)
            if where is not None:
                frames.append([where, error.lineno or 0, "<module>"])
        try:
            message = str(error)
        except Exception:  # a student's exception whose __str__ fails
            message = "(its message cannot be shown)"
        return {"type": type(error).__name__, "message": message[:MAX_MESSAGE], "frames": frames}

    def relative(self, filename):
        """The path of a file of the student's package (cs231n_bn/, the kit's machinery aside), or None."""
        try:
            path = Path(filename).resolve()
        except (OSError, ValueError):
            return None
        package = self.tree / "cs231n_bn"
        if package in path.parents and path.relative_to(package).parts[0] != "kit":
            return path.relative_to(self.tree).as_posix()
        return None


def serve(tree, requests, replies):
    """Answer requests until the grader closes the pipe."""
    session = Session(tree)
    while True:
        try:
            header, arrays = read_frame(requests)
        except EOFError:
            return
        reply, reply_arrays = session.handle(header, arrays)
        write_frame(replies, reply, reply_arrays)


WHERE = "\x00where: "  # the line the child prints when the grader asks where it is (a check past its time limit)


def _report_where(signum, frame):
    """Print where the student's code is running (the innermost frame of the package), for the grader's message."""
    session_tree = Path.cwd()
    while frame is not None:
        try:
            path = Path(frame.f_code.co_filename).resolve()
            parts = path.relative_to(session_tree / "cs231n_bn").parts
        except (ValueError, OSError):
            parts = ()
        if parts and parts[0] != "kit":
            sys.stderr.write(f"{WHERE}{'/'.join(parts)}:{frame.f_lineno} in {frame.f_code.co_name}\n")
            sys.stderr.flush()
            return
        frame = frame.f_back


def main(tree, in_fd, out_fd):
    if str(tree) not in sys.path:
        sys.path.insert(0, str(tree))
    os.chdir(tree)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, _report_where)
    with os.fdopen(in_fd, "rb", buffering=0) as requests, os.fdopen(out_fd, "wb") as replies:
        serve(tree, requests, replies)
