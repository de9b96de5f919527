"""The second half of the leak scan: shipped code that implements a student function, whatever its names.

The verbatim scan (tree.secret_lines) finds a solution line copied into a shipped file. This one finds a
re-implementation: a test that computes the expected output the way the solution does, a helper that does a
layer's work, a code string that a test writes into a stub. It compares code structurally:

- every expression is reduced to a fingerprint, its syntax tree with every variable name replaced by ``_``
  (attribute names, keywords and numbers stay: ``x.mean(axis=0)`` and ``batch.mean(axis=0)`` are the same,
  ``x.mean(axis=1)`` is not; numbers compare by value and the operands of + and * in a fixed order);
  expressions of fewer than MIN_NODES nodes say too little to count;
- a solution region contributes the fingerprints of its statements' expressions, nested ones included;
- a shipped *unit* (a function, a module's top-level code, a notebook code cell, a code block in Markdown, or a
  string constant that parses as several statements of Python) contributes the fingerprints of all its
  expressions, at every depth;
- a unit implements a region when it holds at least MIN_MATCHED of the region's fingerprints, at least
  MIN_SHARE of them weighted by size, and MIN_MATCHED_NODES nodes in all; a region with a single fingerprint
  counts when that one is large (LARGE_NODES nodes or more).

Fingerprints that also occur in the region's own file outside its regions (the template around the stub) are
not the answer and are left out, for the kit's regions and for the never-released alternative solutions alike.
"""

import ast
import json
import re
import textwrap
from dataclasses import dataclass

MIN_NODES = 6
LARGE_NODES = 10
MIN_MATCHED = 2
MIN_MATCHED_NODES = 14
MIN_SHARE = 0.35

_FENCE = re.compile(r"^[ \t]*```[ \t]*(?:python|py|ipython3?)?[ \t]*\n(.*?)^[ \t]*```", re.M | re.S)


@dataclass(frozen=True)
class Pattern:
    """The fingerprints of one solution region: fingerprint -> its size in nodes."""

    label: str       # e.g. "cs231n_bn/layers.py: batchnorm_forward"
    prints: dict


@dataclass(frozen=True)
class Finding:
    where: str       # e.g. "tests/test_check.py, function test_x (line 12)"
    label: str       # the region implemented
    matched: int
    total: int

    def __str__(self):
        return (f"{self.where}: implements {self.label} ({self.matched} of its {self.total} expressions, names "
                f"aside)")


def parse(text):
    """The module AST of a code text (dedented; IPython magics blanked), or None if it is not Python."""
    lines = []
    for line in textwrap.dedent(text).splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


_COMMUTATIVE = (ast.Add, ast.Mult, ast.BitAnd, ast.BitOr)


def _fingerprint(node):
    """(text, size) of an expression with every variable name abstracted.

    Numbers compare by value (1 and 1.0 are the same), and the operands of + and * are put in a fixed order, so
    that ``a * b + c`` and ``c + b * a`` are the same expression.
    """
    size = 0

    def walk(n):
        nonlocal size
        if isinstance(n, ast.Name):
            size += 1
            return "_"
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool):
            size += 1
            return f"Constant({float(n.value)!r})"
        if isinstance(n, ast.BinOp) and isinstance(n.op, _COMMUTATIVE):
            size += 1
            left, right = sorted((walk(n.left), walk(n.right)))
            return f"BinOp({type(n.op).__name__},{left},{right})"
        if isinstance(n, ast.AST):
            if isinstance(n, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
                return type(n).__name__
            size += 1
            fields = ",".join(f"{k}={walk(v)}" for k, v in ast.iter_fields(n) if k not in ("ctx", "type_comment"))
            return f"{type(n).__name__}({fields})"
        if isinstance(n, list):
            return "[" + ",".join(walk(v) for v in n) + "]"
        return repr(n)

    return walk(node), size


def _statement_expressions(tree):
    """The top-level expression of every statement (at any depth) of ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Return, ast.Expr)) and node.value is not None:
            yield node.value
        elif isinstance(node, ast.AugAssign):
            yield ast.BinOp(left=node.target, op=node.op, right=node.value)
        elif isinstance(node, (ast.If, ast.While)):
            yield node.test
        elif isinstance(node, ast.For):
            yield node.iter


def expression_prints(tree):
    """fingerprint -> size for every expression of ``tree`` of at least MIN_NODES nodes."""
    prints = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.expr):
            text, size = _fingerprint(node)
            if size >= MIN_NODES:
                prints[text] = size
    for node in _statement_expressions(tree):  # augmented assignments as the binary operation they stand for
        if isinstance(node, ast.BinOp):
            text, size = _fingerprint(node)
            if size >= MIN_NODES:
                prints[text] = size
    return prints


def solution_prints(tree):
    """fingerprint -> size for the expressions of a solution's statements, nested ones included."""
    prints = {}
    for statement in _statement_expressions(tree):
        for node in ast.walk(statement):
            if isinstance(node, ast.expr):
                text, size = _fingerprint(node)
                if size >= MIN_NODES:
                    prints[text] = size
    return prints


def region_pattern(label, code, template=None):
    """The Pattern of one region's code; ``template`` is the region's file outside its regions (or None)."""
    tree = parse(code)
    if tree is None:
        return None
    prints = solution_prints(tree)
    if template is not None:
        template_tree = parse(template)
        if template_tree is not None:
            public = expression_prints(template_tree)
            prints = {k: v for k, v in prints.items() if k not in public}
    return Pattern(label, prints) if prints else None


def code_strings(tree):
    """String constants of ``tree`` that read as two or more statements of Python (code a test writes out)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value.strip():
            inner = parse(node.value)
            if inner is not None and len(inner.body) >= 2 and not all(
                    isinstance(s, ast.Expr) and isinstance(s.value, (ast.Constant, ast.Name)) for s in inner.body):
                yield node.lineno, inner


def python_units(path, text):
    """(where, tree) for every unit of a Python source text: functions, top-level code, code strings."""
    tree = parse(text)
    if tree is None:
        return
    top = [s for s in tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    yield f"{path}, top-level code", ast.Module(body=top, type_ignores=[])
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{path}, function {node.name} (line {node.lineno})", node
    for lineno, inner in code_strings(tree):
        yield f"{path}, code in the string at line {lineno}", inner


def markdown_units(where, text):
    """(where, tree) for every fenced Python code block of a Markdown text."""
    for match in _FENCE.finditer(text):
        tree = parse(match.group(1))
        if tree is not None:
            line = text.count("\n", 0, match.start()) + 1
            yield f"{where}, code block at line {line}", tree


def find_implementations(units, patterns):
    """Every Finding: a unit (where, tree) that holds enough of a pattern's fingerprints."""
    findings, seen = [], set()
    for where, tree in units:
        prints = expression_prints(tree)
        if not prints:
            continue
        for pattern in patterns:
            matched = [k for k in pattern.prints if k in prints]
            if not matched:
                continue
            total_size = sum(pattern.prints.values())
            matched_size = sum(pattern.prints[k] for k in matched)
            if len(pattern.prints) == 1:
                hit = matched_size >= LARGE_NODES
            else:
                hit = (len(matched) >= MIN_MATCHED and matched_size >= MIN_SHARE * total_size
                       and matched_size >= MIN_MATCHED_NODES)
            if hit and (where, pattern.label) not in seen:
                seen.add((where, pattern.label))
                findings.append(Finding(where, pattern.label, len(matched), len(pattern.prints)))
    return findings


def python_patterns(path, text, regions):
    """The Patterns of the solution regions of one .py file (markers.find_regions' ``regions``)."""
    template = _outside(text, regions)
    lines = text.splitlines()
    patterns = [region_pattern(f"{path}: {r.function or 'top-level code'}", "\n".join(lines[r.begin + 1:r.end]),
                               template) for r in regions]
    return [p for p in patterns if p is not None]


def notebook_patterns(path, cells):
    """The Patterns of the solution regions of a notebook's code cells: ``cells`` is (index, source, regions)."""
    patterns = []
    for index, source, regions in cells:
        template = _outside(source, regions)
        lines = source.splitlines()
        for r in regions:
            pattern = region_pattern(f"{path}, cell {index}", "\n".join(lines[r.begin + 1:r.end]), template)
            if pattern is not None:
                patterns.append(pattern)
    return patterns


def fixture_patterns(path, text):
    """Patterns from a never-shipped file of alternative solutions: each code string in it is one solution.

    A string stored under a key ("cs231n_bn/layers.py", "batchnorm_forward") is labelled as that function's
    solution, any other as the solution at its line.
    """
    tree = parse(text)
    if tree is None:
        return []
    names = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
             for t in n.targets if isinstance(t, ast.Name)}
    labels = {}
    for node in ast.walk(tree):
        pairs = []
        if isinstance(node, ast.Dict):
            pairs = list(zip(node.keys, node.values))
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            pairs = [(node.targets[0].slice, node.value)]
        elif isinstance(node, ast.Call):  # dict(key=(file, function), code="...")
            keys = [k.value for k in node.keywords if k.arg == "key"]
            pairs = [(keys[0], k.value) for k in node.keywords if keys and k.arg != "key"]
        for key, value in pairs:
            if isinstance(key, ast.Tuple) and len(key.elts) == 2 and isinstance(key.elts[1], ast.Constant):
                for string in ast.walk(value):
                    if isinstance(string, ast.Constant) and isinstance(string.value, str):
                        target = _constant(key.elts[0], names)
                        if target is not None:
                            labels[string.lineno] = f"{target}: {key.elts[1].value}"
    patterns = []
    for lineno, inner in code_strings(tree):
        prints = solution_prints(inner)
        if prints:
            patterns.append(Pattern(labels.get(lineno, f"the solution at {path}:{lineno}"), prints))
    return patterns


def _constant(node, names):
    """A key's file part: a string constant, or a module-level name bound to one (LAYERS = "..."); else None."""
    if isinstance(node, ast.Constant):
        return node.value
    return names.get(getattr(node, "id", None))


def without_templates(patterns, templates):
    """``patterns`` with the fingerprints of their target file's template left out.

    Inputs:
    - patterns: list of Pattern; a pattern labelled "path: function" targets that path
    - templates: path -> the file's text outside its regions (what the student edition shows around the stubs)
    """
    public = {path: expression_prints(tree) for path, text in templates.items()
              if (tree := parse(text)) is not None}
    kept = []
    for pattern in patterns:
        shown = public.get(pattern.label.split(": ", 1)[0], {})
        prints = {k: v for k, v in pattern.prints.items() if k not in shown}
        if prints:
            kept.append(Pattern(pattern.label, prints))
    return kept


def outside_regions(text, regions):
    """The lines of ``text`` outside its regions (the template a stub sits in)."""
    return _outside(text, regions)


def _outside(text, regions):
    """The lines of ``text`` outside its regions (the template a stub sits in)."""
    lines = text.splitlines()
    inside = {i for r in regions for i in range(r.begin, r.end + 1)}
    return "\n".join(line for i, line in enumerate(lines) if i not in inside)


def edition_units(files):
    """(where, tree) for every unit of code in an edition's files (relative path -> bytes)."""

    units = []
    for path, data in sorted(files.items()):
        text = data.decode("utf-8", errors="replace")
        if path.endswith(".py"):
            units += python_units(path, text)
        elif path.endswith(".ipynb"):
            try:
                cells = json.loads(text).get("cells", [])
            except ValueError:
                continue
            for index, cell in enumerate(cells):
                source = "".join(cell.get("source", ""))
                where = f"{path}, cell {index}"
                if cell.get("cell_type") == "code":
                    tree = parse(source)
                    if tree is not None:
                        units.append((where, tree))
                        units += [(f"{where}, code in the string at line {n}", t) for n, t in code_strings(tree)]
                else:
                    units += markdown_units(where, source)
        elif path.endswith((".md", ".rst", ".txt")):
            units += markdown_units(path, text)
    return units
