"""The notebooks as the site ships them: each edition's notebook with a short note on the browser edition below its
title, a last cell that runs the self-check, and the kernel JupyterLite has (Pyodide's). The student edition's
set-up cell for hosted notebooks (kit/edition/hosted.py) is left out: the site's kernel loads the package as it
starts and reads the data from the site, where a ``%pip install`` or a download would fail.

The note says where the student's files are, how work is saved and how to download it for submission, how to
check, how to stop a cell, and what the notebook sizes down in the browser (BROWSER_SIZES), with the command or
notebook that runs the full version natively.
"""

import json

from cs231n_bn.kit.edition.hosted import is_setup_cell

# The kernel of JupyterLite's Pyodide kernel extension, so that JupyterLite starts it without asking.
KERNELSPEC = {"name": "python", "display_name": "Python (Pyodide)", "language": "python"}

# What each notebook does differently in the browser, where NumPy has no BLAS (training is 10 to 40 times slower
# than natively). benchmarks/lite_notebooks.py measures each notebook there against natively.
BROWSER_SIZES = {
    "FullyConnectedNets.ipynb": "The training experiments run smaller here: the weight-scale sweep of section 9.2 "
                                "runs one seed instead of three, and sections 10.4 and 10.5 one seed on 2,000 "
                                "training images instead of three seeds on 4,000. The notebook takes about 3 to 4 "
                                "minutes here. The full run is this notebook in JupyterLab (README, quick start).",
    "BatchNormalization.ipynb": "Section 7's experiments run smaller here: one seed instead of three, 60-step runs "
                                "instead of 200 (batches of 2: 500 steps instead of 2,500), three weight scales instead "
                                "of seven, 500 validation images instead of 1,000; section 6 checks a smaller net. The "
                                "notebook takes about 1.5 to 3.5 minutes here. Its claims are checked on the full run: "
                                "this notebook in JupyterLab (README, quick start).",
    "NormalizationFamily.ipynb": "Every cell runs as it does natively.",
    "Dropout.ipynb": "The experiments run smaller here: sections 4 and 4.1 run one seed instead of three, and "
                     "section 5.2 trains for 2 epochs instead of 5. The notebook takes about 3 to 4 minutes here. "
                     "The full run is this notebook in JupyterLab (README, quick start).",
    "PaperReproduction.ipynb": "A sketch of each experiment runs here: one seed instead of three, 50 to 300 steps "
                               "per run instead of 1,000 to 50,000 (Figure 1: 300 instead of 50,000), four candidate "
                               "learning rates instead of seven, a 2 x 2 grid instead of 3 x 2, 1,000 validation and "
                               "test images instead of 5,000 and 10,000; about 1.5 to 3 minutes here. The claims and "
                               "the numbers in the text are the full run's: `python -m cs231n_bn reproduce` or this "
                               "notebook in JupyterLab (README, quick start).",
    "ConvolutionalNetworks.ipynb": "The experiments run smaller here: section 7 trains each network from one "
                                   "seed for 1 epoch instead of three seeds for 2, section 8.4 trains for 100 steps "
                                   "instead of 200, and section 8.5 trains one network instead of three. The "
                                   "notebook takes about 3 minutes here. The full run is this notebook in JupyterLab "
                                   "(README, quick start).",
}


def note(name, solution=False):
    """The markdown of the browser-edition note for notebook ``name``."""
    lines = ["**Browser edition.** This notebook runs in your browser (JupyterLite, Python compiled to WebAssembly "
             "by Pyodide): nothing to install, and nothing you write leaves this computer."]
    if not solution:
        lines += [
            "",
            "- **Your files.** The package files you complete are in `cs231n_bn/` in the file browser on the left "
            "(`layers.py`, `layer_utils.py`, `normalization.py`, `optim.py`, `classifiers/fc_net.py`, "
            "`classifiers/cnn.py`). Edit them there and save (Ctrl+S): this notebook and `self_check()` import the saved "
            "files (the set-up cell's `%autoreload` picks up your edits; else Kernel > Restart Kernel).",
            "- **Saving.** JupyterLab saves what you edit in this browser's storage for this site: it is still here "
            "after a reload or a restart, but only in this browser on this computer, and clearing the site's data "
            "deletes it. Download your work regularly.",
            "- **Checking.** There is no terminal here. In a cell: `from cs231n_bn.kit.browser import self_check`, "
            "then `self_check()` (what `python -m cs231n_bn check` does), `self_check(\"relu\")`, "
            "`self_check(\"batchnorm\", \"-v\")` or `self_check(\"--strict\")`; the last cell of this notebook "
            "runs it. Your functions run in this kernel, so a "
            "verdict here is for your own information; the grade comes from your course's grader.",
            "- **Submitting.** Download each file you changed: right-click it in the file browser, then Download "
            "(this notebook, and the files of `cs231n_bn/` you completed). Submit them as your course asks (commit "
            "them to your repository, or upload them).",
        ]
    else:
        lines += ["", "- **Solution edition**, for reading and running: the package's files are in `cs231n_bn/` "
                      "in the file browser, editable; what you save stays in this browser. `self_check()` (the "
                      "last cell) runs the self-check on them."]
    lines += [
        "- **Stopping a cell.** The stop button works when the site is served with the headers that isolate it "
        "(README, \"Browser edition\"); otherwise use Kernel > Restart Kernel.",
        f"- **In the browser.** {BROWSER_SIZES.get(name, 'Every cell runs as it does natively.')}",
    ]
    return "\n".join(lines)


CHECK_CELL = ("# Check your work: python -m cs231n_bn check, in the browser (see the note at the top).\n"
              "from cs231n_bn.kit.browser import self_check\n"
              "\n"
              "self_check()")


def browser_notebook(text, name, solution=False):
    """The notebook (JSON text) ``name`` as the site ships it (JSON text)."""
    nb = json.loads(text)
    nb["cells"] = cells = [cell for cell in nb["cells"] if not is_setup_cell(cell)]
    at = 1 if cells and cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ") else 0
    ids = nb.get("nbformat", 4) > 4 or nb.get("nbformat_minor", 0) >= 5  # cell ids exist from nbformat 4.5
    cells.insert(at, _cell("markdown", note(name, solution), ids and "browser-edition-note"))
    cells.append(_cell("markdown", "## Check your work", ids and "browser-edition-check-title"))
    cells.append(_cell("code", CHECK_CELL, ids and "browser-edition-check"))
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    nb["metadata"].pop("widgets", None)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _cell(kind, source, cell_id):
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if cell_id:
        cell["id"] = cell_id
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell
