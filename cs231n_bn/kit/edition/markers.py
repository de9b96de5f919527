"""Solution regions in one source text (a .py file or a notebook code cell), their stubs, and the way back.

A region is a one-line TODO comment, the BEGIN marker line, the solution code, and the END marker line, the
markers on lines of their own at the TODO's indentation (nbgrader convention; BEGIN and END below spell them):

    # TODO: <what to do> (<Notebook>.ipynb, "<section>").
    <BEGIN marker>
    <solution code>
    <END marker>

The student edition keeps the TODO line and replaces the rest by one line at the same indentation,

    raise NotImplementedError("<enclosing function>: <what to do> (<Notebook>.ipynb, \"<section>\").")

and ``restore`` puts the solution lines back in place of that stub. This file holds no marker line itself,
so the release copies it unchanged.
"""

import ast
import re
import textwrap
from dataclasses import dataclass

# Written in two parts so that this file never holds a marker line of its own.
BEGIN = "### BEGIN" + " SOLUTION"
END = "### END" + " SOLUTION"

_TODO = re.compile(r"^(?P<indent>[ \t]*)#\s*TODO:\s*(?P<text>\S.*?)\s*$")
_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(?P<name>\w+)")


class MarkerError(ValueError):
    """A malformed solution region. ``where`` is a path (and cell), ``line`` is 1-based."""

    def __init__(self, where, line, message):
        super().__init__(f"{where}, line {line}: {message}")
        self.where, self.line, self.message = where, line, message


@dataclass(frozen=True)
class Region:
    """One solution region; all indices are 0-based line numbers in the solution text."""

    todo: int          # the "# TODO: ..." line
    begin: int         # the BEGIN marker
    end: int           # the END marker
    indent: str        # leading whitespace of the markers (and of the stub)
    todo_text: str     # what the TODO line says after "TODO:"
    function: str      # qualified name of the enclosing function, or "" at the top level of a cell

    @property
    def message(self):
        """The NotImplementedError message: the function to write and where the notebook explains it."""
        return f"{self.function}: {self.todo_text}" if self.function else self.todo_text

    def stub(self, newline="\n"):
        return f"{self.indent}raise NotImplementedError({self.message!r}){newline}"


def _indent(line):
    return line[: len(line) - len(line.lstrip(" \t"))]


def marker_kind(line):
    """'begin', 'end', None, or 'malformed' for a comment that reads like a marker but is not exactly one."""
    stripped = line.strip()
    if not stripped.startswith("#"):
        return None
    words = stripped.lstrip("#").strip().upper()
    if words.startswith("BEGIN SOLUTION"):
        return "begin" if stripped == BEGIN else "malformed"
    if words.startswith("END SOLUTION"):
        return "end" if stripped == END else "malformed"
    return None


def find_regions(text, where, require_function=False):
    """The solution regions of ``text`` in order; MarkerError for anything malformed.

    Inputs:
    - text: source text (a .py file or one notebook code cell)
    - where: how errors name the text, e.g. "cs231n_bn/layers.py" or "notebooks/X.ipynb, cell 4"
    - require_function: True for .py files, where every region must sit inside a function body

    Returns:
    - regions: list of Region, in order of appearance
    """
    lines = text.splitlines(keepends=True)
    functions = _function_finder(text)
    regions, opened = [], None
    for i, line in enumerate(lines):
        kind = marker_kind(line)
        if kind == "malformed":
            raise MarkerError(where, i + 1, f"marker line {line.strip()!r} must read exactly {BEGIN!r} or {END!r}")
        if kind == "begin":
            if opened is not None:
                raise MarkerError(where, i + 1, f"nested {BEGIN!r}: the region opened at line {opened + 1} "
                                                f"is not closed yet (regions never nest)")
            opened = i
        elif kind == "end":
            if opened is None:
                raise MarkerError(where, i + 1, f"{END!r} without an open {BEGIN!r}")
            if _indent(line) != _indent(lines[opened]):
                raise MarkerError(where, i + 1, f"{END!r} is not at the indentation of its {BEGIN!r} "
                                                f"(line {opened + 1})")
            regions.append(_region(lines, opened, i, where, functions, require_function))
            opened = None
    if opened is not None:
        raise MarkerError(where, opened + 1, f"{BEGIN!r} is never closed by {END!r}")
    return regions


def _region(lines, begin, end, where, functions, require_function):
    todo = _TODO.match(lines[begin - 1]) if begin > 0 else None
    if todo is None:
        raise MarkerError(where, begin + 1, f"no '# TODO: ...' line right above {BEGIN!r}; the student edition "
                                            f"keeps that line to say what to implement and where it is explained")
    indent = _indent(lines[begin])
    if todo.group("indent") != indent:
        raise MarkerError(where, begin, f"the TODO line is not at the indentation of the {BEGIN!r} below it")
    function = functions(begin)
    if require_function and not function:
        raise MarkerError(where, begin + 1, "solution region outside a function body; keep regions inside "
                                            "functions so that the student edition still imports")
    return Region(todo=begin - 1, begin=begin, end=end, indent=indent, todo_text=todo.group("text"),
                  function=function)


def _function_finder(text):
    """A function: 0-based line index -> qualified name of the innermost enclosing def ('' if none)."""
    try:
        tree = ast.parse(_without_magics(text))
    except SyntaxError:
        return lambda index: _function_by_indentation(text.splitlines(), index)
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno - 1, child.end_lineno - 1, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")

    def find(index):
        inside = [span for span in spans if span[0] < index <= span[1]]
        return max(inside)[2] if inside else ""

    return find


def _without_magics(text):
    """Notebook cells may hold IPython magics and shell escapes; blank them out so that ast can read the rest."""
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        out.append(_indent(line) + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(out)


def _function_by_indentation(lines, index):
    """Fallback for text ast cannot parse: the nearest def above ``index`` that is indented less."""
    level = len(_indent(lines[index]))
    for line in reversed(lines[:index]):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(_indent(line))
        if indent < level:
            match = _DEF.match(line)
            if match:
                return match.group("name")
            level = indent
    return ""


def stub_text(text, regions):
    """``text`` with every region replaced by its stub (the TODO line stays)."""
    lines = text.splitlines(keepends=True)
    out, last = [], 0
    for region in regions:
        out += lines[last:region.begin]
        end_line = lines[region.end]
        newline = end_line[len(end_line.rstrip("\r\n")):]
        out.append(region.stub(newline))
        last = region.end + 1
    out += lines[last:]
    return "".join(out)


def solution_lines(text, regions):
    """The code lines inside the regions (markers excluded), in order."""
    lines = text.splitlines()
    return [line for region in regions for line in lines[region.begin + 1:region.end]]


def restore(solution_text, student_text, where):
    """Put the solution regions of ``solution_text`` back into ``student_text`` in place of their stubs.

    Each stub is found as its TODO line followed by the exact stub line the release wrote; regions are matched
    in order. Raises MarkerError (at the student text's line) if a stub is missing or out of order.
    """
    solution = solution_text.splitlines(keepends=True)
    regions = find_regions(solution_text, where)
    student = student_text.splitlines(keepends=True)
    out, k = [], 0
    i = 0
    while i < len(student):
        line = student[i]
        if (k < len(regions) and i + 1 < len(student)
                and line.strip() == solution[regions[k].todo].strip()
                and student[i + 1].strip() == regions[k].stub().strip()):
            region = regions[k]
            out.append(line)
            out += solution[region.begin:region.end + 1]
            if not out[-1].endswith("\n") and i + 2 < len(student):
                out[-1] += "\n"
            i += 2
            k += 1
            continue
        out.append(line)
        i += 1
    if k < len(regions):
        raise MarkerError(where, regions[k].begin + 1, f"the stub of this region ({regions[k].message!r}) is not in "
                                                       f"the student edition")
    return "".join(out)


def stub_compiles(original, stubbed, where):
    """MarkerError if the stubbed text no longer compiles although the solution text does."""
    try:
        compile(_without_magics(original), where, "exec", dont_inherit=True)
    except SyntaxError:
        return  # not plain Python (e.g. a cell magic); nothing to compare against
    try:
        compile(_without_magics(stubbed), where, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise MarkerError(where, error.lineno or 1, f"the student edition of this text does not compile "
                                                    f"({error.msg}); move the markers so that whole statements "
                                                    f"sit between them") from None


_STUB = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\(")


def fill_stubs(student_text, bodies, fallback=None, where="<text>"):
    """Write code in place of the stubs of a student edition text, as a student would.

    Inputs:
    - student_text: a released text holding stubs (each a TODO line, then the stub line the release wrote)
    - bodies: qualified function name -> list of code texts, one per stub of that function, in order
    - fallback: the same mapping, used for the stubs ``bodies`` does not cover (or None: leave them)
    - where: how errors name the text

    Returns:
    - text: the filled text (each code text dedented, then indented as its stub)
    - used, fell_back: the function names filled from ``bodies`` and from ``fallback``, one entry per stub
    Raises MarkerError if a function has more stubs than code texts.
    """
    lines = student_text.splitlines(keepends=True)
    functions = _function_finder(student_text)
    seen, used, fell_back, out = {}, [], [], []
    for i, line in enumerate(lines):
        stub = _STUB.match(line)
        if not (stub and i > 0 and _TODO.match(lines[i - 1])):
            out.append(line)
            continue
        function = functions(i)
        k = seen.get(function, 0)
        seen[function] = k + 1
        source, names = (bodies, used) if function in bodies else (fallback or {}, fell_back)
        if function not in source:
            out.append(line)
            continue
        if k >= len(source[function]):
            raise MarkerError(where, i + 1, f"{function} has more stubs than the {len(source[function])} code "
                                            f"text(s) given for it")
        code = textwrap.dedent(source[function][k]).strip("\n") + "\n"
        out.append(textwrap.indent(code, stub.group("indent")))
        names.append(function)
    return "".join(out), used, fell_back
