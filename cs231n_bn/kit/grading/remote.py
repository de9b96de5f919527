"""The grader's side of the student's process: starting it, sending it calls, and the proxies the checks use.

    with Child(tree) as child:                     # or InProcess(tree), where no process can be started
        student = Student(child)
        layers = student.module("layers")
        out, cache = layers.affine_forward(x, w, b)   # runs in the child; out is a copy, cache stays there
        dx, dw, db = layers.affine_backward(dout, cache)

What comes back is data: arrays (copies), numbers, strings, and tuples, lists and dicts of them. Anything else the
student's code returns (a cache object, a model, a method) stays in the child and is represented here by a
``RemoteObject``; a tuple, list or dict that came from the child goes back to it by reference (the student's own
object) unless the grader changed it. A dict passed as an argument holds, after the call, what the call left in it
(bn_param's running averages), as it would in one process. An array the grader sent is never changed here: a call
that changed it in place in the child is recorded (``Student.changed``), for the checks that a function leaves its
inputs alone; the grader's own copy, which its expectations are computed from, stays as it was.

A call the student's code ends with an exception raises ``StudentError`` here (``StudentNotImplemented`` for
NotImplementedError); a child that dies, hangs past the deadline or sends a malformed reply raises ``ChildFailed``,
after which the child is gone and a new one is needed.
"""

import collections
import os
import select
import subprocess
import sys
import time
import weakref
from pathlib import Path

import numpy as np

from . import sandbox
from .child import WHERE, Session
from .protocol import Encoder, ProtocolError, Ref, decode, read_frame, write_frame

SANDBOX = Path(__file__).resolve().with_name("sandbox.py")
OUTPUT_KEPT = 64 * 1024   # characters of the child's own printing kept for the report
# The child's first lines, run before any student code: the sandbox is loaded from the grader's copy by its path,
# so that the tree under test cannot change it.
BOOTSTRAP = """\
import importlib.util, sys
sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; the kit's tree is not the child's to write
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
spec = importlib.util.spec_from_file_location("_cs231n_bn_sandbox", sys.argv[1])
box = importlib.util.module_from_spec(spec)
spec.loader.exec_module(box)
box.confine()
del sys.argv[1]
sys.path.insert(0, sys.argv[1])
from cs231n_bn.kit.grading.child import main
main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
"""


# Files of the package that students read but never complete: an exception raised there is described from the
# line of the student's code that called into them.
KIT_FILES = ("fast_layers.py", "solver.py", "data_utils.py", "gradient_check.py", "__init__.py", "__main__.py")


class StudentError(Exception):
    """An exception the student's code raised in the child (type name, message, frames in the student's tree)."""

    def __init__(self, type_name, message, frames, call):
        self.type_name, self.message, self.frames, self.call = type_name, message, frames, call
        self.given = ""  # the arguments the grader gave the call, described ("x (2, 3), w (3, 4)"); see Student.call
        super().__init__(f"{type_name}: {message}")

    def where(self, kit=False):
        """(path in the package, line, function) of the deepest frame in the files students complete (with
        ``kit``: in any file of the package, the kit's own layers included), or None."""
        frames = [(path.split("/", 1)[1] if path.startswith("cs231n_bn/") else path, line, function)
                  for path, line, function in self.frames]
        frames = frames if kit else [frame for frame in frames if frame[0] not in KIT_FILES]
        return frames[-1] if frames else None

    def location(self):
        """' (at layers.py:123 in batchnorm_forward)': the deepest frame in the student's files, or ''."""
        where = self.where()
        return f" (at {where[0]}:{where[1]} in {where[2]})" if where else ""

    def describe(self):
        """'raised ValueError at line 12 of your conv_forward_naive (layers.py), given x (2, 3, 5, 5), ...: message':
        the line of the student's code that raised, the arguments the grader gave, and the exception's message (the
        call the grader made first when another function raised)."""
        where, deepest = self.where(), self.where(kit=True)
        place = ""
        if deepest is not None and deepest != where:  # raised in the kit's own code, called from the student's
            place = f" in the kit's {deepest[2]} ({deepest[0]}, line {deepest[1]})" + (", called" if where else "")
        if where is not None:
            path, line, function = where
            place += (f" at line {line} of {path}, while importing it" if function == "<module>" else
                      f" at line {line} of your {function} ({path})")
        called = self.call.rsplit(".", 1)[-1] if self.call else ""
        who = f"{self.call} " if self.call and (where is None or where[2] != called) else ""
        given = f", given {self.given}" if self.given else ""
        return f"{who}raised {self.type_name}{place}{given}: {self.message.strip()}"


class StudentNotImplemented(StudentError):
    """The student's code raised NotImplementedError: a stub not yet replaced."""


class ChildFailed(Exception):
    """The child died, ran past its deadline or broke the protocol; ``reason`` says which, for the student, and
    ``where`` (a timeout) where the student's code was running when it was stopped, if the child could say."""

    def __init__(self, reason, call="", where=""):
        self.reason, self.call, self.where = reason, call, where
        super().__init__(reason)


# ----------------------------------------------------------------------------------------------------------------
# Channels: a process, or (in the browser) this process

class Child:
    """The student's code in a process of its own (sandbox.confine), answering frames on two pipes.

    The child imports a copy of the package (``tree``/cs231n_bn) in a fresh folder that every user may read: the
    child may run as another user (sandbox.confine), and it never sees the student's folder itself. What it prints
    goes to a third pipe, read while waiting for each reply (and kept for the report); it flushes before it replies.
    """

    in_process = False

    def __init__(self, tree, python=None):
        self.tree = Path(tree).resolve()
        self.python = python or sys.executable
        self.process = None
        self.output = collections.deque(maxlen=OUTPUT_KEPT)
        self._output_fd = None
        self._copy = None

    def _package_copy(self):
        import shutil
        import tempfile
        folder = Path(tempfile.mkdtemp(prefix="cs231n_bn-graded-"))
        shutil.copytree(self.tree / "cs231n_bn", folder / "cs231n_bn", symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return folder

    def start(self):
        self._copy = self._package_copy()
        to_child, self._requests = os.pipe()
        self._replies, from_child = os.pipe()
        self._output_fd, output_write = os.pipe()
        env = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "CS231N_BN_DATA")
               if key in os.environ}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
                   PYTHONUNBUFFERED="1", HOME=str(self._copy), MPLBACKEND="Agg")
        try:
            self.process = subprocess.Popen(
                [self.python, "-I", "-c", BOOTSTRAP, str(SANDBOX), str(self._copy), str(to_child), str(from_child)],
                stdin=subprocess.DEVNULL, stdout=output_write, stderr=output_write, pass_fds=(to_child, from_child),
                close_fds=True, start_new_session=True, cwd="/", env=env)
        finally:
            for fd in (to_child, from_child, output_write):
                os.close(fd)
        for fd in (self._requests, self._replies, self._output_fd):
            os.set_blocking(fd, False)
        return self

    def pump(self):
        """Read whatever the child has printed so far (never blocks)."""
        while self._output_fd is not None:
            try:
                chunk = os.read(self._output_fd, 65536)
            except BlockingIOError:
                return
            if not chunk:  # every writer is gone
                os.close(self._output_fd)
                self._output_fd = None
                return
            self.output.extend(chunk.decode("utf-8", errors="replace"))

    def wait(self, fd, deadline, writing=False):
        """Wait until ``fd`` is ready (reading what the child prints meanwhile); TimeoutError at ``deadline``."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readers = [self._output_fd] if self._output_fd is not None else []
            ready = select.select(readers + ([] if writing else [fd]), [fd] if writing else [], [], remaining)
            if self._output_fd is not None and self._output_fd in ready[0]:
                self.pump()
            if fd in ready[1] or (not writing and fd in ready[0]):
                return

    def printed(self):
        """What the student's code printed so far (the last OUTPUT_KEPT characters)."""
        self.pump()
        return "".join(self.output)

    def shown(self, since=0):
        """What the student's code printed since ``since``, without the child's own where-lines."""
        return "\n".join(line for line in self.printed()[since:].split("\n") if not line.startswith(WHERE))

    def request(self, header, arrays, deadline, call=""):
        """Send one frame and wait for the reply until ``deadline`` (time.monotonic()); ChildFailed otherwise."""
        if self.process is None:
            self.start()
        try:
            write_frame(_Writer(self, deadline), header, arrays)
            reply = read_frame(_Reader(self, deadline))
            self.pump()
            return reply
        except TimeoutError:
            raise ChildFailed("timeout", call, self._where()) from None
        except (EOFError, BrokenPipeError):
            code = self.process.wait(timeout=5) if self.process.poll() is None else self.process.returncode
            raise ChildFailed(_ended(code) + self._last_words(), call) from None
        except ProtocolError as error:
            if self.process.poll() is not None:
                raise ChildFailed(_ended(self.process.returncode) + self._last_words(), call) from None
            raise ChildFailed(f"the process running your code sent a malformed reply ({error})", call) from None

    def _where(self, wait=1.0):
        """Ask the child where it is (SIGUSR1: child._report_where prints a line); '' if it does not say."""
        import signal
        seen = len(self.printed())
        try:
            self.process.send_signal(signal.SIGUSR1)
        except (ProcessLookupError, AttributeError, ValueError):
            return ""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for line in self.printed()[seen:].splitlines():
                if line.startswith(WHERE):
                    return line[len(WHERE):].strip()
            time.sleep(0.02)
        return ""

    def _last_words(self):
        """'; it printed: ...' with the last line the child printed, if any (why it could not start, say)."""
        lines = [line for line in self.shown().splitlines() if line.strip()]
        return f"; it printed: {lines[-1].strip()[:300]}" if lines else ""

    def close(self, reap_orphans=False):
        if self.process is not None:
            for fd in (self._requests, self._replies):
                try:
                    os.close(fd)
                except OSError:
                    pass
            sandbox.end_descendants(self.process, rounds=50 if reap_orphans else 0)
            self.pump()
            if self._output_fd is not None:
                os.close(self._output_fd)
                self._output_fd = None
            self.process = None
        if self._copy is not None:
            import shutil
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _ended(code):
    if code is not None and code < 0:
        import signal
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the process running your code was killed ({name})"
    return f"the process running your code ended (exit code {code})"


class _Reader:
    """The reply pipe as a stream whose reads wait until the deadline."""

    def __init__(self, child, deadline):
        self.child, self.deadline = child, deadline

    def read(self, size):
        while True:
            self.child.wait(self.child._replies, self.deadline)
            try:
                return os.read(self.child._replies, min(size, 1 << 20))
            except BlockingIOError:
                continue


class _Writer:
    """The request pipe as a stream: the frame is collected, then written as the child reads it, until the deadline."""

    def __init__(self, child, deadline):
        self.child, self.deadline, self.parts = child, deadline, []

    def write(self, data):
        self.parts.append(data)

    def flush(self):
        view = memoryview(b"".join(self.parts))
        while view:
            self.child.wait(self.child._requests, self.deadline, writing=True)
            try:
                view = view[os.write(self.child._requests, view):]
            except BlockingIOError:
                continue


class InProcess:
    """The student's code in this process (the browser, where no process can be started): the same frames, the
    same copies, no time limit and no isolation.

    As a child would, it imports the student's modules afresh from ``tree`` (the files as they are now, whatever
    this process imported or changed before), and when it closes, this process has its own modules back: a
    notebook that runs the check keeps the objects it had.
    """

    in_process = True

    def __init__(self, tree):
        self.tree = Path(tree).resolve()
        self.session = None
        self._imports = None

    def start(self):
        if self._imports is None:
            self._imports = _FreshImports(self.tree / "cs231n_bn")
        self.session = Session(self.tree)
        return self

    def printed(self):
        return ""

    def shown(self, since=0):
        return ""

    def request(self, header, arrays, deadline, call=""):
        import io
        if self.session is None:
            self.start()
        buffer = io.BytesIO()
        write_frame(buffer, header, arrays)
        reply, reply_arrays = self.session.handle(*read_frame(io.BytesIO(buffer.getvalue())))
        buffer = io.BytesIO()
        write_frame(buffer, reply, reply_arrays)
        return read_frame(io.BytesIO(buffer.getvalue()))

    def close(self, reap_orphans=False):
        self.session = None
        if self._imports is not None:
            self._imports.restore()
            self._imports = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class _FreshImports:
    """The student's modules (``cs231n_bn.*`` outside ``cs231n_bn.kit``) taken out of ``sys.modules``, so that the
    next import reads them from ``package`` (put first on the package's path), until ``restore``."""

    def __init__(self, package):
        import importlib
        import cs231n_bn
        self.root = cs231n_bn
        self.path = list(cs231n_bn.__path__)
        self.modules = {name: module for name, module in sys.modules.items() if _student_module(name)}
        self.attributes = {key: value for key, value in vars(cs231n_bn).items()
                           if f"cs231n_bn.{key}" in self.modules}
        for name in self.modules:
            del sys.modules[name]
        cs231n_bn.__path__[:] = [str(package), *[p for p in self.path if p != str(package)]]
        importlib.invalidate_caches()  # files the student added or changed since the last import

    def restore(self):
        for name in [name for name in sys.modules if _student_module(name)]:
            del sys.modules[name]
            if name.count(".") == 1:
                vars(self.root).pop(name.split(".")[1], None)
        sys.modules.update(self.modules)
        vars(self.root).update(self.attributes)
        self.root.__path__[:] = self.path


def _student_module(name):
    return name.startswith("cs231n_bn.") and name.split(".")[1] != "kit"


# ----------------------------------------------------------------------------------------------------------------
# Proxies

class Student:
    """The student's package as the checks see it: modules whose functions run in the child."""

    def __init__(self, channel, deadline=float("inf")):
        self.channel = channel
        self.deadline = deadline          # time.monotonic() by which every reply must have come
        self.errstate = {}
        self._released = []
        self._sent = {}                   # id(array) -> (weakref to it, k)
        self._changed = set()             # the k of every array the student's code changed in place
        self._next_k = 1
        self.warnings = []

    def module(self, name):
        return RemoteModule(self, f"cs231n_bn.{name}")

    # -- the request -------------------------------------------------------------------------------------------

    def request(self, header, call, arguments=()):
        encoder = Encoder(reference=self._reference, array_id=self._array_id)
        for key in ("args", "kwargs", "value", "key"):
            if key in header:
                header[key] = encoder.encode(header[key])
        return self._send(header, encoder, call, arguments)

    def _send(self, header, encoder, call, arguments=()):
        if self._released:
            header["release"], self._released = self._released, []
        reply, arrays = self.channel.request(header, encoder.arrays, self.deadline, call)
        try:
            self._mirror(reply, arrays, arguments)
            if "raised" in reply:
                raised = reply["raised"]
                kind = StudentNotImplemented if raised.get("type") == "NotImplementedError" else StudentError
                frames = [f for f in raised.get("frames", []) if isinstance(f, list) and len(f) == 3]
                raise kind(str(raised.get("type", "?")), str(raised.get("message", "")), frames, call)
            if "ok" not in reply:
                raise ProtocolError("a reply without a result")
            return self._decode(reply["ok"], arrays)
        except ProtocolError as error:
            raise ChildFailed(f"the process running your code sent a malformed reply ({error})", call) from None

    def _mirror(self, reply, arrays, arguments):
        """Apply the call's in-place changes to the grader's own arrays and dicts."""
        self.warnings += [str(w) for w in reply.get("warnings", [])][:5]
        changed = reply.get("mutated", [])
        if not (isinstance(changed, list) and all(isinstance(k, int) for k in changed)):
            raise ProtocolError("a malformed list of in-place changes")
        self._changed.update(changed)
        positions = dict(arguments)
        for item in reply.get("dicts", []):
            if not (isinstance(item, list) and len(item) == 2):
                raise ProtocolError("a malformed dict argument")
            position, value = item
            target = positions.get(position if isinstance(position, (int, str)) else None)
            new = self._decode(value, arrays)
            if isinstance(target, dict) and isinstance(new, dict):
                dict.clear(target)
                dict.update(target, new)

    def _decode(self, value, arrays):
        return decode(value, arrays, make_container=self._container, make_ref=self._object)

    def _container(self, tag, items, ref):
        kind = {"$t": RemoteTuple, "$l": RemoteList, "$d": RemoteDict}[tag]
        return kind.made(items, self, ref)

    def _object(self, ref, type_name):
        return RemoteObject(self, ref, type_name)

    def _reference(self, value):
        owner = getattr(value, "_student", None)
        if owner is self:
            return value._ref
        return None

    def _array_id(self, array):
        entry = self._sent.get(id(array))
        if entry is not None and entry[0]() is array:
            return entry[1]
        k = self._next_k
        self._next_k += 1
        self._sent[id(array)] = (weakref.ref(array), k)
        if len(self._sent) > 4096:  # forget the arrays that are gone
            self._sent = {i: e for i, e in self._sent.items() if e[0]() is not None}
        return k

    def release(self, ref):
        self._released.append(ref)

    def changed(self, array):
        """True if a call of the student's code changed ``array`` (one the grader sent) in place."""
        entry = self._sent.get(id(array))
        return entry is not None and entry[0]() is array and entry[1] in self._changed

    # -- operations --------------------------------------------------------------------------------------------

    def call(self, target, label, args, kwargs):
        arguments = [(i, a) for i, a in enumerate(args) if isinstance(a, dict)]
        arguments += [(k, a) for k, a in kwargs.items() if isinstance(a, dict)]
        header = {"op": "call", "target": target, "args": list(args), "kwargs": dict(kwargs)}
        if self.errstate:
            header["errstate"] = dict(self.errstate)
        try:
            return self.request(header, label, arguments)
        except StudentError as error:
            self._describe_call(error, target, args, kwargs)
            raise

    def map(self, calls, pick, label):
        """[function(*args, **kwargs)[pick] for each call] in one request.

        calls: list of (target, args, kwargs, sets) with sets a list of (target, key, value) to assign first.
        """
        encoder = Encoder(reference=self._reference)
        header = {"op": "map", "pick": pick, "calls": [
            {"target": target, "args": encoder.encode(list(args)), "kwargs": encoder.encode(dict(kwargs)),
             "set": [[t, encoder.encode(key), encoder.encode(value)] for t, key, value in sets]}
            for target, args, kwargs, sets in calls]}
        try:
            return self._send(header, encoder, label)
        except StudentError as error:
            if calls:  # the calls of one request differ in their values, not their shapes
                self._describe_call(error, calls[0][0], calls[0][1], calls[0][2])
            raise

    def _describe_call(self, error, target, args, kwargs):
        """Set error.given: the arguments of the call that raised, by parameter name, arrays by their shape."""
        if error.given or isinstance(error, StudentNotImplemented):
            return
        try:
            names = self.parameters(target, "")
        except ChildFailed:  # the child is gone: the runner must know (it starts a new one for the next check)
            raise
        except Exception:  # a callable without a signature: the arguments by position
            names = []
        error.given = describe_arguments(args, kwargs, names if isinstance(names, list) else [])

    def get(self, target, label):
        return self.request({"op": "get", "target": target}, label)

    def set(self, target, value, label):
        return self.request({"op": "set", "target": target, "value": value}, label)

    def setitem(self, target, key, value, label):
        return self.request({"op": "setitem", "target": target, "key": key, "value": value}, label)

    def parameters(self, target, label):
        return self.request({"op": "parameters", "target": target}, label)

    def reset(self):
        self._released = []
        self.request({"op": "reset"}, "")


def describe_arguments(args, kwargs, names=()):
    """'x (2, 3, 5, 5), w (4, 3, 3, 3), conv_param {'stride': 1, 'pad': 0}': arguments as a student reads them."""
    named = [(names[i] if i < len(names) else f"argument {i + 1}", a) for i, a in enumerate(args)]
    return ", ".join(f"{name} {describe_value(value)}" for name, value in named + list(kwargs.items()))


def describe_value(value, depth=0):
    """An array by its shape (and dtype unless float64), a dict by its items, anything else briefly."""
    if isinstance(value, np.ndarray):
        shape = "(" + ", ".join(str(n) for n in value.shape) + ("," if value.ndim == 1 else "") + ")"
        return shape if value.dtype == np.float64 else f"{shape} {value.dtype}"
    if isinstance(value, Ref) or getattr(value, "_ref", None) is not None:
        return "(what your code returned)"
    if isinstance(value, dict) and depth == 0:
        return "{" + ", ".join(f"{k!r}: {describe_value(v, 1)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)) and depth == 0 and len(value) <= 4:
        items = ", ".join(describe_value(v, 1) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    text = repr(value) if not isinstance(value, (list, tuple, dict)) else f"a {type(value).__name__} of {len(value)}"
    return text if len(text) <= 40 else text[:37] + "..."


class RemoteModule:
    """A module of the student's package; its attributes are RemoteFunctions."""

    def __init__(self, student, name):
        self._student, self._name = student, name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteFunction(self._student, {"module": self._name, "name": name},
                              f"{self._name.rsplit('.', 1)[-1]}.{name}", name)


class RemoteFunction:
    """A callable of the child: calling it runs it there."""

    def __init__(self, student, target, label, name):
        self._student, self._target, self.label, self.__name__ = student, target, label, name

    def __call__(self, *args, **kwargs):
        return self._student.call(self._target, self.label, args, kwargs)

    def many(self, argument_lists, pick=None, kwargs=None):
        """[self(*args, **kwargs)[pick] for args in argument_lists], in one request."""
        return self._student.map([(self._target, args, kwargs or {}, ()) for args in argument_lists], pick,
                                 self.label)

    def parameters(self):
        return self._student.parameters(self._target, self.label)

    def __repr__(self):
        return f"<{self.label} in the student's process>"


class RemoteObject(Ref):
    """An object that stays in the child (a model, a cache, a bound method).

    ``obj.attribute(*args)`` calls a method there in one round trip; ``obj.get(name)`` reads an attribute's
    value; ``obj.set(name, value)`` sets one.
    """

    __slots__ = ("_student", "__weakref__")

    def __init__(self, student, ref, type_name=""):
        super().__init__(ref, type_name)
        self._student = student

    @property
    def _ref(self):
        return self.ref

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteFunction(self._student, {"ref": self.ref, "name": name}, f"{self.type_name}.{name}", name)

    def __call__(self, *args, **kwargs):
        return self._student.call({"ref": self.ref}, self.type_name, args, kwargs)

    def get(self, name):
        return self._student.get({"ref": self.ref, "name": name}, f"{self.type_name}.{name}")

    def set(self, name, value):
        return self._student.set({"ref": self.ref, "name": name}, value, f"{self.type_name}.{name}")

    def setitem(self, name, key, value):
        """self.name[key] = value, in the child."""
        return self._student.setitem({"ref": self.ref, "name": name}, key, value, f"{self.type_name}.{name}")

    def __del__(self):
        try:
            self._student.release(self.ref)
        except Exception:
            pass


class _Returned:
    """Mixin of the containers that came from the child: they go back by reference until the grader changes them."""

    @classmethod
    def made(cls, items, student, ref):
        value = cls(items)
        value._student, value._ref = student, ref
        return value

    def _changed(self):
        if getattr(self, "_ref", None) is not None:
            self._student.release(self._ref)
            self._ref = None

    def __del__(self):
        if getattr(self, "_ref", None) is not None:
            try:
                self._student.release(self._ref)
            except Exception:
                pass


class RemoteTuple(_Returned, tuple):
    type_name = "tuple"


def _changing(cls, name):
    """A method of list or dict that first marks the container as changed (so it goes back by value)."""
    original = getattr(cls.__mro__[2], name)  # (RemoteList, _Returned, list, object)

    def method(self, *args, **kwargs):
        self._changed()
        return original(self, *args, **kwargs)
    method.__name__ = name
    return method


class RemoteList(_Returned, list):
    type_name = "list"


class RemoteDict(_Returned, dict):
    type_name = "dict"


for _name in ("__setitem__", "__delitem__", "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
              "__iadd__", "__imul__"):
    setattr(RemoteList, _name, _changing(RemoteList, _name))
for _name in ("__setitem__", "__delitem__", "pop", "popitem", "clear", "update", "setdefault", "__ior__"):
    setattr(RemoteDict, _name, _changing(RemoteDict, _name))
