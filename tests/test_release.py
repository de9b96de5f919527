"""The student edition: `python -m cs231n_bn release` on a small fixture tree and on this repository.

The fixture trees are built here with every solution-marker line spelled through markers.BEGIN / markers.END
(the placeholders <<BEGIN>> / <<END>> below), so that this file holds no marker line of its own and ships unchanged
in the student edition.
"""

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import find_comment_markers, find_metadata_tags

from cs231n_bn.kit.edition import markers, student_ci
from cs231n_bn.kit.edition.markers import MarkerError, find_regions, restore, stub_text
from cs231n_bn.kit.edition.notebooks import ANSWER_PLACEHOLDER, IGNORE_OUTPUT_TAG, is_answer_cell
from cs231n_bn.kit.edition.release import main as release_main
from cs231n_bn.kit.edition.tree import (compare_editions, edition_files, never_released, restore_tree, scan_tree,
                                        secret_lines)
from cs231n_bn.kit.reference import store as reference_store

REPO = Path(__file__).resolve().parents[1]
HAS_GIT = shutil.which("git") is not None


def spell(text):
    """Fixture text with the marker placeholders replaced by the real marker lines."""
    text = textwrap.dedent(text).replace("<<BEGIN>>", markers.BEGIN).replace("<<END>>", markers.END)
    return text.replace("<<MISSPELT>>", markers.BEGIN[1:])


def git(root, *args):
    ident = ["-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *ident, "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


MODULE = spell('''\
    """A tiny package with three student functions."""

    import numpy as np

    SCALE = 2.0


    def centred_square(x):
        """Inputs: x (N,). Returns: (x - mean)**2, shape (N,)."""
        if x.ndim != 1:
            raise ValueError(f"x must be 1-d, got shape {x.shape}")
        # TODO: centre x, then square it (Demo.ipynb, "Squares").
        <<BEGIN>>
        centred_values = x - np.mean(x)
        return SCALE * centred_values ** 2 / SCALE
        <<END>>


    class Model:
        def loss(self, x):
            total = 0.0
            for value in x:
                # TODO: accumulate the squares (Demo.ipynb, "Loss").
                <<BEGIN>>
                total = total + float(value) * float(value)
                <<END>>
            return total

        def doubler(self):
            def inner(y):
                # TODO: double y (Demo.ipynb, "Doubling").
                <<BEGIN>>
                doubled_result_value = y + y
                return doubled_result_value
                <<END>>
            return inner
''')


def fixture_notebook():
    """Cells: title; setup; a top-level region; a cell printing solution source; an answer; an error output."""
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                  "language": "python"}})
    nb.cells = [
        v4.new_markdown_cell("# Demo\n\nSquares, then a loss."),
        v4.new_code_cell("import numpy as np\nfrom pkg.mod import centred_square, Model",
                         execution_count=1),
        v4.new_code_cell(spell('''\
            x = np.array([1.0, 2.0, 6.0])
            # TODO: compute the centred squares of x (Demo.ipynb, "Squares").
            <<BEGIN>>
            squares_of_x = centred_square(x)
            <<END>>
            print(squares_of_x)'''), execution_count=2,
            outputs=[v4.new_output("stream", name="stdout", text="[ 4.  1. 9.]\n")]),
        v4.new_code_cell("import inspect, pkg.mod\nprint(inspect.getsource(pkg.mod.centred_square))",
                         execution_count=3,
                         outputs=[v4.new_output("stream", name="stdout",
                                                text="    centred_values = x - np.mean(x)\n")]),
        v4.new_markdown_cell("**Answer:** the squares are centred because the mean is subtracted first.",
                             metadata={"nbgrader": {"solution": True, "grade": False, "locked": False,
                                                    "grade_id": "q-centre", "schema_version": 3}}),
        v4.new_code_cell("Model().loss([1, 2])", execution_count=4, outputs=[v4.new_output(
            "error", ename="ValueError", evalue="boom",
            traceback=["\x1b[0;31mValueError\x1b[0m", "\x1b[0;32m----> 5\x1b[0m \x1b[43mtotal\x1b[49m = "
                       "total + float(value) * float(value)"])]),
        v4.new_code_cell("print('done')", execution_count=5,
                         outputs=[v4.new_output("stream", name="stdout", text="done\n")]),
    ]
    return nb


def make_solution_tree(root, git_repo=True):
    """A solution edition: a package, a notebook, a script, a binary file, and debris that must not ship."""
    root = Path(root)
    (root / "pkg").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "pkg" / "__init__.py").write_text('"""Fixture package."""\n')
    (root / "pkg" / "mod.py").write_text(MODULE)
    nbformat.write(fixture_notebook(), root / "notebooks" / "Demo.ipynb")
    (root / "README.md").write_text("# Fixture\n\nRun `python -m pkg`.\n")
    (root / "setup.sh").write_text("#!/bin/sh\necho set-up\n")
    os.chmod(root / "setup.sh", 0o755)
    (root / "logo.bin").write_bytes(bytes(range(256)))
    if git_repo:
        git(root, "init", "-q")
        git(root, "add", ".")
        git(root, "commit", "-q", "-m", "solution edition")
    # Debris: caches, checkpoints and an untracked scratch file, all holding solution code.
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"centred_values = x - np.mean(x)")
    (root / "notebooks" / ".ipynb_checkpoints").mkdir()
    (root / "notebooks" / ".ipynb_checkpoints" / "Demo-checkpoint.ipynb").write_text(
        (root / "notebooks" / "Demo.ipynb").read_text())
    if git_repo:
        (root / "scratch.py").write_text("centred_values = x - np.mean(x)\n")
    return root


def secrets_of(root):
    """The leak scan's search list, computed here independently of the release: every stripped solution line
    longer than 15 characters that is not also written outside the regions of a released file."""
    candidates, public = [], []
    for path in edition_files(root):
        if never_released(path):  # other solutions (tests/fixtures/solutions): secret too, never public
            continue
        text = (Path(root) / path).read_text(errors="replace")
        if path.endswith(".py"):
            regions = find_regions(text, path)
            lines = text.splitlines()
            inside = {i for r in regions for i in range(r.begin, r.end + 1)}
            candidates += [lines[i] for i in inside]
            public += [line for i, line in enumerate(lines) if i not in inside]
        elif path.endswith(".ipynb"):
            for cell in nbformat.reads(text, as_version=4).cells:
                if is_answer_cell(cell):
                    candidates += cell.source.splitlines()
                    continue
                lines = cell.source.splitlines()
                inside = set()
                if cell.cell_type == "code":
                    inside = {i for r in find_regions(cell.source, path) for i in range(r.begin, r.end + 1)}
                candidates += [lines[i] for i in inside]
                public += [line for i, line in enumerate(lines) if i not in inside]
        else:
            public.append(text)
    markers_only = {markers.BEGIN, markers.END}
    return secret_lines([c for c in candidates if c.strip() not in markers_only], public)


@pytest.fixture
def solution(tmp_path):
    return make_solution_tree(tmp_path / "solution")


@pytest.fixture
def released(solution, tmp_path, capsys):
    out = tmp_path / "student"
    assert release_main(["--out", str(out), "--source", str(solution)]) == 0
    capsys.readouterr()
    return out


def load_module(path, name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------------
# Markers and stubs

def test_stub_keeps_todo_line_and_indentation_and_names_the_function(released):
    text = (released / "pkg" / "mod.py").read_text()
    assert markers.BEGIN not in text and markers.END not in text
    assert ('    # TODO: centre x, then square it (Demo.ipynb, "Squares").\n'
            '    raise NotImplementedError(\'centred_square: centre x, then square it (Demo.ipynb, "Squares").\')\n'
            ) in text
    assert ("            # TODO: accumulate the squares (Demo.ipynb, \"Loss\").\n"
            "            raise NotImplementedError('Model.loss: accumulate the squares (Demo.ipynb, \"Loss\").')\n"
            ) in text
    assert "raise NotImplementedError('Model.doubler.inner: double y" in text
    # Code outside the regions is untouched: validation, docstrings, the return after a loop.
    assert 'raise ValueError(f"x must be 1-d, got shape {x.shape}")' in text
    assert "\n        return total\n" in text


def test_student_package_imports_and_every_stub_raises_its_message(released):
    import numpy as np

    module = load_module(released / "pkg" / "mod.py", "student_fixture_mod")
    with pytest.raises(NotImplementedError, match=r"^centred_square: centre x, then square it \(Demo.ipynb"):
        module.centred_square(np.ones(3))
    with pytest.raises(ValueError, match="1-d"):  # validation outside the region still runs first
        module.centred_square(np.ones((2, 2)))
    with pytest.raises(NotImplementedError, match=r"^Model.loss: accumulate the squares"):
        module.Model().loss([1.0])
    with pytest.raises(NotImplementedError, match=r"^Model.doubler.inner: double y"):
        module.Model().doubler()(1)


def test_region_at_cell_top_level_is_named_by_its_todo():
    cell = spell('''\
        # TODO: train the net (Demo.ipynb, "Training").
        <<BEGIN>>
        model = 1
        <<END>>''')
    (region,) = find_regions(cell, "Demo.ipynb, cell 3")
    assert region.function == ""
    assert stub_text(cell, [region]).splitlines()[1] == \
        "raise NotImplementedError('train the net (Demo.ipynb, \"Training\").')"


def test_files_without_regions_and_binaries_are_copied_byte_for_byte(solution, released):
    for path in ("README.md", "pkg/__init__.py", "logo.bin", "setup.sh"):
        assert (released / path).read_bytes() == (solution / path).read_bytes()
    assert os.stat(released / "setup.sh").st_mode & stat.S_IXUSR, "the executable bit is kept"


# ---------------------------------------------------------------------------------------------------------------
# Notebooks

def reference_file(tree, name="Demo"):
    """The reference cells of a released notebook, by cell id."""
    path = tree / reference_store.STORE_FOLDER / f"{name}.json"
    return {cell.id: cell for cell in reference_store.read_store(path.read_text(), str(path))}


def test_student_notebook_ships_without_outputs_and_clears_answers(released):
    nb = nbformat.read(released / "notebooks" / "Demo.ipynb", as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    assert "squares_of_x = centred_square(x)" not in cells[2].source
    assert "raise NotImplementedError('compute the centred squares of x (Demo.ipynb, \"Squares\").')" \
        in cells[2].source
    assert cells[4].source == ANSWER_PLACEHOLDER
    for cell in cells:
        if cell.cell_type == "code":  # no solution output under a TODO, nothing for an editor to overwrite
            assert cell.outputs == [] and cell.execution_count is None, cell.source


def test_reference_outputs_are_kept_in_the_kit_by_cell_id(released):
    nb = nbformat.read(released / "notebooks" / "Demo.ipynb", as_version=4)
    references = reference_file(released)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert list(references) == [cell.id for cell in code], "every code cell, in order, by its id"
    squares, done = references[nb.cells[2].id], references[nb.cells[6].id]
    assert squares.outputs[0]["text"] == "[ 4.  1. 9.]\n", "the reference output nbval compares against"
    assert (squares.execution_count, squares.cell, squares.source) == (2, 1, nb.cells[2].source)
    assert squares.options(True)["check"] is True
    assert (done.outputs[0]["text"], done.execution_count) == ("done\n", 5)


def test_outputs_that_show_solution_code_are_removed_and_ignored_by_nbval(released, capsys):
    nb = nbformat.read(released / "notebooks" / "Demo.ipynb", as_version=4)
    references = reference_file(released)
    for index in (3, 5):  # inspect.getsource output; a traceback quoting a solution line (with colour codes)
        reference = references[nb.cells[index].id]
        assert reference.outputs == []
        assert reference.tags == [IGNORE_OUTPUT_TAG] and reference.options(True)["check"] is False
        assert IGNORE_OUTPUT_TAG in nb.cells[index].metadata["tags"]
    assert "tags" not in nb.cells[6].metadata
    assert references[nb.cells[6].id].tags == []


def test_nbval_comments_of_a_solution_region_are_kept_as_reference_options(solution, tmp_path, capsys):
    nb = nbformat.read(solution / "notebooks" / "Demo.ipynb", as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace(markers.BEGIN, markers.BEGIN + "\n# NBVAL_IGNORE_OUTPUT")
    nbformat.write(nb, solution / "notebooks" / "Demo.ipynb")
    assert release_main(["--out", str(tmp_path / "s"), "--source", str(solution)]) == 0
    student = nbformat.read(tmp_path / "s" / "notebooks" / "Demo.ipynb", as_version=4)
    assert "NBVAL_IGNORE_OUTPUT" not in student.cells[2].source, "stubbed with the region"
    reference = reference_file(tmp_path / "s")[student.cells[2].id]
    assert reference.comments == ["NBVAL_IGNORE_OUTPUT"] and reference.options(True)["check"] is False


def test_release_summary_reports_what_it_did(solution, tmp_path, capsys):
    assert release_main(["--out", str(tmp_path / "s"), "--source", str(solution)]) == 0
    out = capsys.readouterr().out
    assert "python: 3 solution regions stubbed in 1 files" in out
    assert "1 regions stubbed in 1 cells; 1 inline-question answers cleared" in out
    assert "the reference outputs kept in cs231n_bn/kit/reference/ (1 file)" in out
    assert "none found" in out
    assert "notebooks/Demo.ipynb, cell 3, notebooks/Demo.ipynb, cell 5" in out


def test_student_notebook_runs_until_the_first_todo_and_fails_there_only(released, monkeypatch):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(released / "notebooks" / "Demo.ipynb", as_version=4)
    for cell in nb.cells:  # forget the reference run, to see which cells this run reaches
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    monkeypatch.setenv("PYTHONPATH", str(released))  # the kernel imports the student package
    client = NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(released / "notebooks")}})
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert error.value.ename == "NotImplementedError"
    assert error.value.evalue == 'compute the centred squares of x (Demo.ipynb, "Squares").'
    executed = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.execution_count]
    assert executed == [1, 2], "the setup cell (importing the student package) ran, then the first TODO stopped"
    assert [out.output_type for out in nb.cells[1].outputs] == []


# ---------------------------------------------------------------------------------------------------------------
# Leaks

def test_no_solution_line_anywhere_in_the_student_edition(solution, released):
    secrets = secrets_of(solution)
    assert "centred_values = x - np.mean(x)" in secrets
    assert "total = total + float(value) * float(value)" in secrets
    assert "**Answer:** the squares are centred because the mean is subtracted first." in secrets
    assert "else:" not in secrets and "return total" not in secrets
    assert scan_tree(released, secrets) == []
    shipped = {p.relative_to(released).as_posix() for p in released.rglob("*")}
    assert not any("__pycache__" in p or ".ipynb_checkpoints" in p or p.endswith(".pyc") for p in shipped)
    assert "scratch.py" not in shipped, "untracked files are not part of the edition"


def test_leak_scan_finds_a_planted_leak(solution, released):
    secrets = secrets_of(solution)
    nb_path = released / "notebooks" / "Demo.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][6]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                  "text": ['    \x1b[1mcentred_values\x1b[0m = x - np.mean(x)\n']}]
    nb_path.write_text(json.dumps(nb))
    (released / "notes.txt").write_text("doubled_result_value = y + y\n")
    store_path = released / reference_store.store_path("notebooks/Demo.ipynb")
    store = json.loads(store_path.read_text())
    last = list(store["cells"])[-1]
    store["cells"][last]["outputs"] = [{"output_type": "error", "ename": "E", "evalue": "",
                                        "traceback": ["\x1b[0;32m----> 5\x1b[0m \x1b[43mtotal\x1b[49m = "
                                                      "total + float(value) * float(value)"]}]
    store_path.write_text(json.dumps(store))  # escaped in the JSON text, colour codes inside the line
    leaks = scan_tree(released, secrets)
    assert ("notebooks/Demo.ipynb, cell 6 output", "centred_values = x - np.mean(x)") in leaks
    assert ("notes.txt", "doubled_result_value = y + y") in leaks
    assert (f"cs231n_bn/kit/reference/Demo.json, cell {last} output",
            "total = total + float(value) * float(value)") in leaks


def test_leak_in_notebook_metadata_stops_the_release(solution, tmp_path, capsys):
    nb = nbformat.read(solution / "notebooks" / "Demo.ipynb", as_version=4)
    nb.cells[6].metadata["history"] = ["total = total + float(value) * float(value)"]
    nbformat.write(nb, solution / "notebooks" / "Demo.ipynb")
    assert release_main(["--out", str(tmp_path / "s"), "--source", str(solution)]) == 1
    err = capsys.readouterr().err
    assert "notebooks/Demo.ipynb, cell 6 metadata: shows the solution line" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_git_option_makes_one_commit_of_the_student_tree(solution, tmp_path, capsys):
    out = tmp_path / "repo"
    assert release_main(["--out", str(out), "--source", str(solution), "--git"]) == 0
    assert git(out, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(out, "status", "--porcelain") == ""
    committed = set(git(out, "ls-files").split())
    assert committed == set(edition_files(solution)) | {reference_store.store_path("notebooks/Demo.ipynb")}
    assert scan_tree(out, secrets_of(solution)) == []
    for path in committed:
        shown = git(out, "show", f"HEAD:{path}") if not path.endswith(".bin") else ""
        assert not any(secret in shown for secret in secrets_of(solution)), path


def test_zip_option_writes_an_archive_of_the_tree(solution, tmp_path, capsys):
    import zipfile

    assert release_main(["--out", str(tmp_path / "handout"), "--source", str(solution), "--zip"]) == 0
    names = zipfile.ZipFile(tmp_path / "handout.zip").namelist()
    assert "handout/pkg/mod.py" in names and "handout/notebooks/Demo.ipynb" in names


def test_without_git_the_tree_is_walked_and_debris_left_out(tmp_path, capsys):
    solution = make_solution_tree(tmp_path / "plain", git_repo=False)
    files = edition_files(solution)
    assert "pkg/mod.py" in files and "notebooks/Demo.ipynb" in files
    assert not any("__pycache__" in p or "checkpoint" in p for p in files)
    assert release_main(["--out", str(tmp_path / "s"), "--source", str(solution)]) == 0


# ---------------------------------------------------------------------------------------------------------------
# Round trip

def test_round_trip_restores_the_solution_edition(solution, released):
    """Putting the solution back into the student edition gives the solution edition, file by file (ignoring
    trailing whitespace). For this repository the same comparison runs in test_release_of_this_repository; since
    the solution edition's notebooks pass nbval in the main suite, equality means the restored student edition
    passes nbval too."""
    restored = restore_tree(solution, released)
    assert compare_editions(solution, restored) == []
    assert "centred_values = x - np.mean(x)" in restored["pkg/mod.py"]


def test_round_trip_notices_a_changed_file(solution, released):
    path = released / "pkg" / "mod.py"
    path.write_text(path.read_text().replace("SCALE = 2.0", "SCALE = 3.0"))
    assert compare_editions(solution, restore_tree(solution, released)) == ["pkg/mod.py: differs after restoring"]


def test_restore_refuses_a_student_file_without_the_stub():
    solution = spell('''\
        def f():
            # TODO: return one (N.ipynb).
            <<BEGIN>>
            return 1
            <<END>>
        ''')
    student = "def f():\n    # TODO: return one (N.ipynb).\n    return 1\n"
    with pytest.raises(MarkerError, match="line 3: the stub of this region"):
        restore(solution, student, "m.py")


# ---------------------------------------------------------------------------------------------------------------
# Malformed markers and the output folder

MALFORMED = {
    "unclosed": ('''\
        def f():
            # TODO: do it (N.ipynb).
            <<BEGIN>>
            return 1
        ''', "line 3: '### BEGIN SOLUTION' is never closed"),
    "nested": ('''\
        def f():
            # TODO: do it (N.ipynb).
            <<BEGIN>>
            # TODO: and this (N.ipynb).
            <<BEGIN>>
            return 1
            <<END>>
            <<END>>
        ''', "line 5: nested '### BEGIN SOLUTION': the region opened at line 3 is not closed"),
    "end without begin": ('''\
        def f():
            return 1
            <<END>>
        ''', "line 3: '### END SOLUTION' without an open"),
    "missing TODO": ('''\
        def f():
            x = 1
            <<BEGIN>>
            return x
            <<END>>
        ''', "line 3: no '# TODO: ...' line right above"),
    "TODO at another indentation": ('''\
        def f():
        # TODO: do it (N.ipynb).
            <<BEGIN>>
            return 1
            <<END>>
        ''', "line 2: the TODO line is not at the indentation"),
    "misspelt marker": ('''\
        def f():
            # TODO: do it (N.ipynb).
            <<MISSPELT>>
            return 1
            <<END>>
        ''', "line 3: marker line '## BEGIN SOLUTION' must read exactly"),
    "outside a function": ('''\
        # TODO: a constant (N.ipynb).
        <<BEGIN>>
        X = 1
        <<END>>
        ''', "line 2: solution region outside a function body"),
    "END at another indentation": ('''\
        def f():
            # TODO: do it (N.ipynb).
            <<BEGIN>>
            if True:
                return 1
                <<END>>
        ''', "line 6: '### END SOLUTION' is not at the indentation"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_markers_stop_the_release_naming_file_and_line(case, solution, tmp_path, capsys):
    text, message = MALFORMED[case]
    (solution / "pkg" / "broken.py").write_text(spell(text))
    git(solution, "add", "pkg/broken.py")
    out = tmp_path / "student"
    assert release_main(["--out", str(out), "--source", str(solution)]) == 1
    err = capsys.readouterr().err
    assert f"pkg/broken.py, {message}" in err
    assert "nothing written" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["solution"], "no temporary folder is left behind"


def test_malformed_markers_in_a_notebook_name_the_cell(solution, tmp_path, capsys):
    nb = nbformat.read(solution / "notebooks" / "Demo.ipynb", as_version=4)
    nb.cells[6].source = spell("print(1)\n<<END>>")
    nbformat.write(nb, solution / "notebooks" / "Demo.ipynb")
    assert release_main(["--out", str(tmp_path / "s"), "--source", str(solution)]) == 1
    assert "notebooks/Demo.ipynb, cell 6, line 2: '### END SOLUTION' without an open" in capsys.readouterr().err


def test_every_problem_is_reported_before_stopping(solution, tmp_path, capsys):
    (solution / "pkg" / "a.py").write_text(spell(MALFORMED["unclosed"][0]))
    (solution / "pkg" / "b.py").write_text(spell(MALFORMED["missing TODO"][0]))
    git(solution, "add", "pkg")
    assert release_main(["--out", str(tmp_path / "s"), "--source", str(solution)]) == 1
    err = capsys.readouterr().err
    assert "2 problems" in err and "pkg/a.py, line 3" in err and "pkg/b.py, line 3" in err


def test_a_stub_that_breaks_the_syntax_is_rejected(solution, tmp_path, capsys):
    (solution / "pkg" / "c.py").write_text(spell('''\
        def f(x):
            try:
                # TODO: guard it (N.ipynb).
                <<BEGIN>>
                y = 1 / x
            except ZeroDivisionError:
                y = 0
                <<END>>
            return y
        '''))
    git(solution, "add", "pkg/c.py")
    assert release_main(["--out", str(tmp_path / "s"), "--source", str(solution)]) == 1
    assert "pkg/c.py, line" in capsys.readouterr().err


def test_non_empty_out_is_refused_unless_forced(solution, tmp_path, capsys):
    out = tmp_path / "student"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert release_main(["--out", str(out), "--source", str(solution)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert release_main(["--out", str(out), "--source", str(solution), "--force"]) == 0
    assert not (out / "keep.txt").exists() and (out / "pkg" / "mod.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solution", "student"]


def test_empty_out_folder_is_used(solution, tmp_path, capsys):
    out = tmp_path / "student"
    out.mkdir()
    assert release_main(["--out", str(out), "--source", str(solution)]) == 0
    assert (out / "pkg" / "mod.py").is_file()


def test_releasing_a_student_edition_again_is_refused(released, tmp_path, capsys):
    assert release_main(["--out", str(tmp_path / "again"), "--source", str(released)]) == 1
    assert "looks like a student edition already" in capsys.readouterr().err


def test_out_may_not_be_the_source(solution, capsys):
    assert release_main(["--out", str(solution), "--source", str(solution), "--force"]) == 1
    assert (solution / "pkg" / "mod.py").read_text() == MODULE


@pytest.mark.parametrize("inside", ["pkg", "notebooks", "tests", "pkg/sub/deeper", "new-folder"])
def test_out_inside_the_source_tree_is_refused(solution, inside, capsys):
    (solution / "tests").mkdir()
    (solution / "tests" / "test_mod.py").write_text("def test_nothing():\n    pass\n")
    before = {p: p.read_bytes() for p in solution.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert release_main(["--out", str(solution / inside), "--source", str(solution), "--force"]) == 1
    assert "is inside the solution edition" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in solution.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
    assert not (solution / inside).exists() or inside in ("pkg", "notebooks", "tests")


def test_out_through_a_link_into_the_source_tree_is_refused(solution, tmp_path, capsys):
    (tmp_path / "alias").symlink_to(solution / "pkg")
    assert release_main(["--out", str(tmp_path / "alias"), "--source", str(solution), "--force"]) == 1
    assert "is inside the solution edition" in capsys.readouterr().err
    assert (solution / "pkg" / "mod.py").read_text() == MODULE


def _track_link(solution, path, target):
    link = solution / path
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    git(solution, "add", path)
    git(solution, "commit", "-q", "-m", f"link {path}")


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_a_tracked_link_ships_as_a_copy_of_the_student_file(solution, tmp_path, capsys):
    import zipfile

    _track_link(solution, "docs/ref.py", "../pkg/mod.py")
    out = tmp_path / "student"
    assert release_main(["--out", str(out), "--source", str(solution), "--zip", "--git"]) == 0
    ref = out / "docs" / "ref.py"
    assert not ref.is_symlink() and ref.read_bytes() == (out / "pkg" / "mod.py").read_bytes()
    secrets = secrets_of(solution)
    assert "centred_values = x - np.mean(x)" in secrets
    assert scan_tree(out, secrets) == []
    with zipfile.ZipFile(tmp_path / "student.zip") as archive:
        shipped = archive.read("student/docs/ref.py").decode()
    assert "raise NotImplementedError" in shipped and not any(secret in shipped for secret in secrets)
    committed = git(out, "show", "HEAD:docs/ref.py")
    assert not any(secret in committed for secret in secrets)
    assert "120000" not in git(out, "ls-files", "-s")  # no link in the repository either


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
@pytest.mark.parametrize("kind", ["outside", "absolute", "folder", "untracked", "dangling"])
def test_a_link_that_leads_out_of_the_edition_stops_the_release(solution, tmp_path, kind, capsys):
    outside = tmp_path / "grading"
    outside.mkdir()
    (outside / "answers.py").write_text("centred_values = x - np.mean(x)\n")
    target = {"outside": "../../grading/answers.py", "absolute": str(outside / "answers.py"), "folder": "../pkg",
              "untracked": "../scratch.py", "dangling": "../nothing.py"}[kind]
    _track_link(solution, "docs/ref.py", target)
    out = tmp_path / "student"
    assert release_main(["--out", str(out), "--source", str(solution), "--zip"]) == 1
    err = capsys.readouterr().err
    assert "docs/ref.py: a symbolic link to" in err and "nothing written" in err
    assert ("outside the tree" in err) == (kind in ("outside", "absolute"))
    assert not out.exists() and not (tmp_path / "student.zip").exists()


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
@pytest.mark.parametrize("failure", ["dubious ownership", "no git"])
def test_a_checkout_git_cannot_list_is_refused_not_walked(solution, tmp_path, monkeypatch, failure, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if failure == "dubious ownership":
        fake = bin_dir / "git"
        fake.write_text("#!/bin/sh\necho \"fatal: detected dubious ownership in repository at '$PWD'\" >&2\n"
                        "echo \"To add an exception for this directory, call: git config --global --add "
                        "safe.directory DIR\" >&2\nexit 128\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))  # only the fake git (or none at all)
    out = tmp_path / "student"
    assert release_main(["--out", str(out), "--source", str(solution)]) == 1
    err = capsys.readouterr().err
    if failure == "dubious ownership":
        assert "git ls-files failed (fatal: detected dubious ownership" in err and "safe.directory" in err
    else:
        assert "git cannot list its files" in err
    assert "stops here" in err and not out.exists()


def test_tests_fixtures_solutions_is_never_released(tmp_path, capsys):
    solution = make_solution_tree(tmp_path / "plain", git_repo=False)
    fixtures = solution / "tests" / "fixtures" / "solutions"
    fixtures.mkdir(parents=True)
    (fixtures / "other_style.py").write_text("def centred_square(x):\n    centred = x - x.mean()\n"
                                             "    return centred * centred\n")
    out = tmp_path / "student"
    assert release_main(["--out", str(out), "--source", str(solution)]) == 0
    assert not (out / "tests" / "fixtures" / "solutions").exists()
    assert compare_editions(solution, restore_tree(solution, out)) == []


def test_out_in_a_folder_that_cannot_be_written_is_a_clear_error(solution, tmp_path, monkeypatch, capsys):
    from fixtures.data_fixtures import deny_writes

    locked = tmp_path / "locked"
    locked.mkdir()
    deny_writes(monkeypatch)(locked)
    assert release_main(["--out", str(locked / "student"), "--source", str(solution)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write the student edition to {locked / 'student'}: Permission denied" in err
    assert "Traceback" not in err and list(locked.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_out_in_a_really_read_only_folder_is_a_clear_error(solution, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert release_main(["--out", str(locked / "student"), "--source", str(solution)]) == 1
    finally:
        locked.chmod(0o755)
    assert "Permission denied" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# This repository

# ``repo_release`` (tests/conftest.py): this repository's tracked files, released once for the session.


def test_release_of_this_repository_has_no_leaks(repo_release):
    solution, edition, out = repo_release
    secrets = secrets_of(solution)
    assert len(secrets) > 50
    assert set(secrets) == set(edition.secrets), "the release and this test agree on what is a solution line"
    assert scan_tree(out, secrets) == []
    # Every released file, with the student CI in place of the solution edition's own.
    released = {p for p in edition_files(solution) if not never_released(p)} - set(student_ci.SOLUTION_ONLY)
    notebooks = [p for p in released if p.endswith(".ipynb")]
    references = {reference_store.store_path(p) for p in notebooks}
    assert set(edition_files(out)) == released | {student_ci.WORKFLOW, student_ci.CLASSROOM} | references


def test_release_of_this_repository_stubs_every_region_with_its_message(repo_release):
    solution, edition, out = repo_release
    stubs = 0
    for path in edition_files(out):
        if not path.endswith(".py"):
            continue
        text = (out / path).read_text()
        assert not any(markers.marker_kind(line) for line in text.splitlines()), path
        ast.parse(text)  # the student edition compiles
        regions = find_regions((solution / path).read_text(), path)
        position = 0
        for region in regions:
            # The TODO line, then the stub at the same indentation, naming the function and the notebook.
            pair = f"{region.indent}# TODO: {region.todo_text}\n{region.stub()}"
            assert region.function and ".ipynb" in region.todo_text, f"{path}:{region.begin + 1}"
            assert region.stub().strip() == \
                f"raise NotImplementedError({region.function + ': ' + region.todo_text!r})"
            found = text.find(pair, position)
            assert found >= 0, f"{path}:{region.begin + 1}: no stub for {region.function}"
            position = found + len(pair)
            stubs += 1
    assert stubs == edition.py_stubs >= 20


def test_release_of_this_repository_imports(repo_release):
    _, _, out = repo_release
    modules = sorted(p[:-3].replace("/", ".").removesuffix(".__init__") for p in edition_files(out)
                     if p.startswith("cs231n_bn/") and p.endswith(".py") and not p.endswith("__main__.py"))
    assert "cs231n_bn.layers" in modules
    code = f"import importlib, cs231n_bn\nfor m in {modules!r}: importlib.import_module(m)\nprint(cs231n_bn.__file__)"
    run = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).resolve().is_relative_to(out.resolve())


def test_release_of_this_repository_notebooks_are_valid(repo_release):
    _, _, out = repo_release
    for path in edition_files(out):
        if path.endswith(".ipynb"):
            nb = nbformat.read(out / path, as_version=4)
            nbformat.validate(nb)
            for cell in nb.cells:
                if is_answer_cell(cell):
                    assert cell.source == ANSWER_PLACEHOLDER, path
                if cell.cell_type == "code":
                    assert cell.outputs == [] and cell.execution_count is None, (path, cell.id)


def test_release_of_this_repository_keeps_every_reference_output(repo_release):
    """Each notebook's reference file holds the outputs of every code cell of the solution run, minus those that
    showed solution code, with the nbval options of the solution cell."""
    solution, edition, out = repo_release
    redacted = set(edition.redacted)
    for path in edition_files(out):
        if not path.endswith(".ipynb"):
            continue
        references = reference_file(out, Path(path).stem)
        solution_nb = nbformat.read(solution / path, as_version=4)
        code = [(index, cell) for index, cell in enumerate(solution_nb.cells) if cell.cell_type == "code"]
        assert list(references) == [cell.id for _, cell in code], path
        for number, (index, cell) in enumerate(code):
            reference = references[cell.id]
            assert (reference.cell, reference.execution_count) == (number, cell.execution_count), (path, number)
            if f"{path}, cell {index}" not in redacted:
                assert reference.outputs == cell.outputs, (path, number)
            # The options nbval itself would take from the solution cell (a redacted cell is never compared).
            options = dict(find_metadata_tags(cell.metadata))
            options.update(find_comment_markers(cell.source))
            if f"{path}, cell {index}" in redacted:
                options["check"] = False
            assert {k: v for k, v in reference.options(True).items() if k in options} == options, (path, number)
            assert reference.options(True)["check"] is options.get("check", True), (path, number)


def test_release_of_this_repository_round_trips(repo_release):
    """Re-inserting the solution regions into the student edition reproduces this repository file by file,
    ignoring trailing whitespace. The solution edition's notebooks pass `pytest --nbval` in the main suite, so the
    restored student edition would pass nbval too: it is the same files."""
    solution, _, out = repo_release
    assert compare_editions(solution, restore_tree(solution, out)) == []


def stub_messages(tree):
    """Every message a stub of the student edition at ``tree`` raises."""
    messages = set()
    for path in edition_files(tree):
        if path.endswith(".py"):
            sources = [(tree / path).read_text()]
        elif path.endswith(".ipynb"):
            sources = [c.source for c in nbformat.read(tree / path, as_version=4).cells if c.cell_type == "code"]
        else:
            continue
        for source in sources:
            for line in source.splitlines():
                stripped = line.strip()
                if stripped.startswith("raise NotImplementedError(") and stripped.endswith(")"):
                    messages.add(ast.literal_eval(stripped[len("raise NotImplementedError("):-1]))
    return messages


NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_of_this_repository_notebook_runs_until_its_first_todo(name, repo_release, monkeypatch):
    """Each student notebook, executed from the top, stops at its first TODO with that TODO's NotImplementedError
    and no other error before it (only up to there: the full runs are nbval's job in the solution edition)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    _, _, out = repo_release
    path = out / "notebooks" / name
    if not path.exists():
        pytest.skip(f"{name} is not tracked yet")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    monkeypatch.setenv("PYTHONPATH", str(out))  # the kernel imports the student package
    if (REPO / "datasets").is_dir() and not os.environ.get("CS231N_BN_DATA"):
        monkeypatch.setenv("CS231N_BN_DATA", str(REPO / "datasets"))  # the data this checkout fetched
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert error.value.ename == "NotImplementedError", f"{name}: {error.value.ename}: {error.value.evalue}"
    assert error.value.evalue in stub_messages(out), error.value.evalue


def test_ctrl_c_during_the_release_writes_nothing(solution, tmp_path, monkeypatch, capsys):
    from cs231n_bn.kit.edition import tree

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(tree, "_git_single_commit", interrupted)  # Ctrl-C as the tree is nearly complete
    assert release_main(["--out", str(tmp_path / "student"), "--source", str(solution), "--git"]) == 130
    assert "interrupted: nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solution"]
