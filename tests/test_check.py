"""`python -m cs231n_bn check`: the student self-check, in this solution edition and in a released student edition.

Checks against mistakes run in process (a wrong function patched into cs231n_bn.layers); a student's own
solutions are written into the stubs of a released student edition and checked there in a subprocess.
"""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cs231n_bn.kit.edition import check as check_cli
from cs231n_bn.kit.edition import markers
from cs231n_bn.kit.edition.checks import CHECKS, NOTEBOOK_ORDER
from cs231n_bn.kit.edition.tree import ReleaseError, build_student_edition, edition_files, write_tree

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cs231n_bn"


def solution_regions():
    """(path, Region) for every solution region in the package; empty in the student edition."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        found += [(path.relative_to(REPO).as_posix(), r) for r in markers.find_regions(text, str(path))]
    return found


STUDENT_EDITION = not solution_regions()
solution_only = pytest.mark.skipif(STUDENT_EDITION, reason="the student edition has no solutions to check")


def entry(name):
    (found,) = [c for c in CHECKS if c.name == name]
    return found


# ---------------------------------------------------------------------------------------------------------------
# The registry

@solution_only
def test_every_student_function_has_a_check_from_its_notebook():
    """Each function holding a solution region is checked, by a check filed under the notebook its TODO names."""
    assert len(solution_regions()) >= 20
    for path, region in solution_regions():
        function = region.function.rsplit(".", 1)[-1]
        notebook = re.search(r"(\w+\.ipynb)", region.todo_text)
        candidates = [c for c in CHECKS if function in c.functions]
        assert candidates, f"{path}: {region.function} has no self-check in cs231n_bn/kit/edition/checks.py"
        if notebook:
            assert notebook.group(1) in {c.notebook for c in candidates}, \
                f"{path}: {region.function} is explained in {notebook.group(1)}, its check is filed elsewhere"


def test_checks_follow_the_notebook_order():
    order = [NOTEBOOK_ORDER.index(c.notebook) for c in CHECKS]
    assert order == sorted(order)
    assert len({c.name for c in CHECKS}) == len(CHECKS)


# ---------------------------------------------------------------------------------------------------------------
# The solution edition

@solution_only
def test_solution_edition_passes_every_check_quickly(capsys):
    assert check_cli.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CHECKS) + 1
    for line, c in zip(lines, CHECKS):
        assert line.startswith(c.name + " ") and line.endswith("  passed"), line
    summary = re.fullmatch(r"(\d+) passed, 0 failed, 0 not yet implemented \((\d+\.\d) s\)", lines[-1])
    assert summary and int(summary.group(1)) == len(CHECKS)
    assert float(summary.group(2)) < 10, "the self-check must stay fast (a few seconds)"


def test_list_and_filters(capsys):
    assert check_cli.main(["--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0].strip() for line in listed] == [c.name for c in CHECKS]
    assert check_cli.main(["no-such-check"]) == 2
    assert "no check matches" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Mistakes are caught (in process: a wrong function patched into the module)

layers = pytest.importorskip("cs231n_bn.layers")


def _standardize_rows(x, eps, ddof=0):
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).sum(axis=0) / (x.shape[0] - ddof)
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - mean) * inv_std, mean, var, inv_std


def bn_forward_factory(ddof=0, one_pass=False, swap_momentum=False):
    """A batch norm forward pass with one chosen mistake (or none)."""
    def batchnorm_forward(x, gamma, beta, bn_param):
        eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
        D = x.shape[1]
        rm = bn_param.setdefault("running_mean", np.zeros(D))
        rv = bn_param.setdefault("running_var", np.zeros(D))
        if bn_param["mode"] == "train":
            x_hat, mean, var, inv_std = _standardize_rows(x, eps, ddof)
            if one_pass:
                var = (x * x).mean(axis=0) - x.mean(axis=0) ** 2
                inv_std = 1.0 / np.sqrt(np.maximum(var, 0) + eps)
                x_hat = (x - mean) * inv_std
            m = 1 - momentum if swap_momentum else momentum
            rm[:] = m * rm + (1 - m) * mean
            rv[:] = m * rv + (1 - m) * var
        else:
            inv_std = 1.0 / np.sqrt(rv + eps)
            x_hat = (x - rm) * inv_std
        return gamma * x_hat + beta, (x_hat, inv_std, gamma)
    return batchnorm_forward


MISTAKES = {
    "unbiased variance": ("batchnorm_forward", bn_forward_factory(ddof=1), "layers.batchnorm_forward",
                          "variance of (out - beta) / gamma"),
    "E[x^2] - E[x]^2": ("batchnorm_forward", bn_forward_factory(one_pass=True), "layers.batchnorm_forward",
                        "of (out - beta) / gamma"),
    "momentum the PyTorch way": ("batchnorm_forward", bn_forward_factory(swap_momentum=True),
                                 "layers.batchnorm_forward", "bn_param['running_mean'] after one train step"),
    "backward without the mean path": (
        "batchnorm_backward_alt",
        lambda dout, cache: (cache[2] * cache[1] * (dout - cache[0] * (dout * cache[0]).mean(axis=0)),
                             (dout * cache[0]).sum(axis=0), dout.sum(axis=0)),
        "layers.batchnorm_backward_alt", "batchnorm_backward_alt dx disagrees with centred differences"),
    "dropout with p as the drop probability": (
        "dropout_forward",
        lambda x, param: (x * (np.random.default_rng(param.get("seed")).random(x.shape) >= param["p"])
                          / (1 - param["p"]), None) if param["mode"] == "train" else (x, None),
        "layers.dropout_forward", "p is the probability of KEEPING a unit"),
    "softmax without the max shift": (
        "softmax_loss",
        lambda x, y: (float(np.mean(np.log(np.exp(x).sum(axis=1)) - x[np.arange(len(y)), y])), np.zeros_like(x)),
        "layers.softmax_loss", "dx"),
}


@solution_only
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_typical_mistake_fails_with_a_reason(mistake, monkeypatch):
    function, wrong, name, reason = MISTAKES[mistake]
    monkeypatch.setattr(layers, function, wrong)
    with np.errstate(all="ignore"):
        outcome = check_cli.run_check(entry(name))
    assert outcome.status == check_cli.FAILED, outcome
    assert reason in outcome.reason


@solution_only
def test_adam_without_bias_correction_fails(monkeypatch):
    optim = pytest.importorskip("cs231n_bn.optim")

    def adam(w, dw, config=None):
        config = config if config is not None else {}
        config.setdefault("learning_rate", 1e-3)
        m = 0.1 * dw + 0.9 * config.get("m", 0)
        v = 0.001 * dw * dw + 0.999 * config.get("v", 0)
        config.update(m=m, v=v, t=config.get("t", 0) + 1)
        return w - config["learning_rate"] * m / (np.sqrt(v) + 1e-8), config

    monkeypatch.setattr(optim, "adam", adam)
    outcome = check_cli.run_check(entry("optim.adam"))
    assert outcome.status == check_cli.FAILED and outcome.reason.startswith("adam steps for a constant gradient")


@solution_only
def test_a_crash_names_the_exception_and_where_it_happened(monkeypatch):
    def batchnorm_forward(x, gamma, beta, bn_param):
        return x_centred, None  # noqa: F821 - the student's typo

    monkeypatch.setattr(layers, "batchnorm_forward", batchnorm_forward)
    outcome = check_cli.run_check(entry("layers.batchnorm_forward"))
    assert outcome.status == check_cli.FAILED
    assert outcome.reason.startswith("NameError: name 'x_centred' is not defined")


@solution_only
def test_a_stub_reports_not_yet_implemented_and_what_waits_for_it(monkeypatch):
    def batchnorm_forward(x, gamma, beta, bn_param):
        raise NotImplementedError('batchnorm_forward: implement it (BatchNormalization.ipynb, "Forward pass").')

    monkeypatch.setattr(layers, "batchnorm_forward", batchnorm_forward)
    own = check_cli.run_check(entry("layers.batchnorm_forward"))
    assert (own.status, own.reason) == (check_cli.TODO, 'BatchNormalization.ipynb, "Forward pass"')
    waiting = check_cli.run_check(entry("layers.batchnorm_backward"))
    assert waiting.status == check_cli.TODO
    assert waiting.reason == 'needs batchnorm_forward first (BatchNormalization.ipynb, "Forward pass")'


@solution_only
def test_output_has_no_traceback_unless_verbose(monkeypatch, capsys):
    monkeypatch.setattr(layers, "batchnorm_backward_alt", MISTAKES["backward without the mean path"][1])
    assert check_cli.main(["layers.batchnorm"]) == 1
    out = capsys.readouterr().out
    assert "layers.batchnorm_backward_alt  FAILED: batchnorm_backward_alt dx disagrees" in out
    assert "Traceback" not in out
    assert check_cli.main(["layers.batchnorm", "--verbose"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------------
# A released student edition (subprocess: the student's package is the one in the released tree)

@pytest.fixture(scope="module")
def student_tree(tmp_path_factory):
    if STUDENT_EDITION:
        pytest.skip("this is the student edition already")
    base = tmp_path_factory.mktemp("check-student")
    snapshot = base / "solution"
    for path in edition_files(REPO):
        (snapshot / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, snapshot / path)
    try:
        edition = build_student_edition(snapshot)
    except ReleaseError as error:
        pytest.fail(f"the release of this repository failed:\n{error}")
    write_tree(edition, base / "student")
    return base / "student"


def run_check(tree, *args):
    return subprocess.run([sys.executable, "-m", "cs231n_bn", "check", *args], cwd=tree, capture_output=True,
                          text=True, timeout=120)


def fill_stub(tree, path, function, code):
    """Write a student's code in place of the one stub of ``function`` (as the student would)."""
    file = tree / path
    lines = file.read_text().splitlines(keepends=True)
    stubs = [i for i, line in enumerate(lines)
             if re.match(rf"\s*raise NotImplementedError\(['\"]{function}: ", line)]
    assert len(stubs) == 1, f"{path}: expected one stub for {function}, found {len(stubs)}"
    indent = lines[stubs[0]][: len(lines[stubs[0]]) - len(lines[stubs[0]].lstrip())]
    lines[stubs[0]] = textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", indent)
    file.write_text("".join(lines))


# A student's batch norm, written from the notebook's equations: only the arguments and the documented cache
# layout (x_hat, inv_std, gamma) are used; the backward pass builds each feature's Jacobian instead of chaining
# the graph's nodes (differently structured, still correct).
STUDENT_FORWARD = """
    D = x.shape[1]
    rm = bn_param.get("running_mean")
    rv = bn_param.get("running_var")
    if bn_param["mode"] == "train":
        mu = np.sum(x, axis=0) / x.shape[0]
        centred = x - mu
        sigma2 = np.sum(centred * centred, axis=0) / x.shape[0]
        inv_std = 1.0 / np.sqrt(sigma2 + bn_param.get("eps", 1e-5))
        x_hat = centred * inv_std
        m = bn_param.get("momentum", 0.9)
        rm[:] = m * rm + (1 - m) * mu
        rv[:] = m * rv + (1 - m) * sigma2
    else:
        inv_std = 1.0 / np.sqrt(rv + bn_param.get("eps", 1e-5))
        x_hat = (x - rm) * inv_std
    out = gamma * x_hat + beta
    cache = (x_hat, inv_std, gamma)
"""

STUDENT_BACKWARD_JACOBIAN = """
    x_hat, inv_std, gamma = cache
    N, D = dout.shape
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = np.empty_like(dout)
    for d in range(D):
        jacobian = (np.eye(N) - 1.0 / N - np.outer(x_hat[:, d], x_hat[:, d]) / N) * (gamma[d] * inv_std[d])
        dx[:, d] = jacobian @ dout[:, d]
"""

STUDENT_BACKWARD_CLOSED = """
    x_hat, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = (gamma * inv_std / N) * (N * dout - dbeta - x_hat * dgamma)
"""

# The typical mistake: the gradient that flows through the mean is forgotten.
STUDENT_BACKWARD_NO_MEAN_PATH = """
    x_hat, inv_std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=0))
"""


def test_student_edition_reports_everything_as_not_yet_implemented(student_tree):
    run = run_check(student_tree)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1].startswith(f"0 passed, 0 failed, {len(CHECKS)} not yet implemented")
    for line in lines[:-1]:
        assert "  not yet implemented: " in line and ".ipynb" in line, line
    assert "Traceback" not in run.stdout + run.stderr
    assert run_check(student_tree, "--strict").returncode == 1


def test_a_different_but_correct_batch_norm_passes(student_tree, tmp_path):
    tree = tmp_path / "student"
    shutil.copytree(student_tree, tree)
    fill_stub(tree, "cs231n_bn/layers.py", "batchnorm_forward", STUDENT_FORWARD)
    fill_stub(tree, "cs231n_bn/layers.py", "batchnorm_backward", STUDENT_BACKWARD_JACOBIAN)
    fill_stub(tree, "cs231n_bn/layers.py", "batchnorm_backward_alt", STUDENT_BACKWARD_CLOSED)
    run = run_check(tree, "layers.batchnorm", "affine_forward")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["layers.affine_forward", "layers.batchnorm_forward",
                                                         "layers.batchnorm_backward",
                                                         "layers.batchnorm_backward_alt"]
    assert lines[0].split("  ")[-1].startswith("not yet implemented"), "the student's package is the one checked"
    assert all(line.endswith("  passed") for line in lines[1:4]), run.stdout
    assert lines[-1].startswith("3 passed, 0 failed, 1 not yet implemented")


def test_forgetting_the_mean_path_fails_naming_the_function(student_tree, tmp_path):
    tree = tmp_path / "student"
    shutil.copytree(student_tree, tree)
    fill_stub(tree, "cs231n_bn/layers.py", "batchnorm_forward", STUDENT_FORWARD)
    fill_stub(tree, "cs231n_bn/layers.py", "batchnorm_backward", STUDENT_BACKWARD_NO_MEAN_PATH)
    run = run_check(tree, "layers.batchnorm")
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[0].endswith("  passed") and lines[0].startswith("layers.batchnorm_forward")
    assert re.match(r"layers\.batchnorm_backward +FAILED: batchnorm_backward dx disagrees with centred "
                    r"differences: relative error \d\.\de-\d\d \(tolerance 1e-07\)$", lines[1]), lines[1]
    assert "Traceback" not in run.stdout + run.stderr
    assert lines[-1].startswith("1 passed, 1 failed, 1 not yet implemented")
