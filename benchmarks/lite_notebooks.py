"""How long the notebooks take in the browser edition, against natively: each notebook run whole (Run All Cells)
in Debian's Chromium, offline, on a site served on 127.0.0.1.

    .venv/bin/python benchmarks/lite_notebooks.py [--site DIR] [--native] [NOTEBOOK ...]

Builds the solution edition's site (``lite --solution``: the notebooks need working functions to run through)
unless --site names one already built. Rows: the time from opening the notebook to an idle kernel (Pyodide, NumPy,
matplotlib and the kit loaded), the time to run every cell, and with --native the same notebook executed here by
nbconvert (one BLAS thread, as a student's laptop gives one notebook). A notebook that has not finished after
--limit seconds is reported as such. Without arguments: every notebook.
"""

import argparse
import functools
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["FullyConnectedNets.ipynb", "BatchNormalization.ipynb", "NormalizationFamily.ipynb", "Dropout.ipynb",
             "ConvolutionalNetworks.ipynb", "PaperReproduction.ipynb"]


def serve(site):
    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                          ".js": "text/javascript"}

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def in_browser(site, names, limit):
    """{name: (seconds to an idle kernel, seconds to run all cells or None)}."""
    from playwright.sync_api import sync_playwright
    url = serve(site)
    results = {}
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            context = chromium.new_context(viewport={"width": 1600, "height": 900})
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url + "/")
                          else route.abort())
            for name in names:
                page = context.new_page()
                start = time.perf_counter()
                page.goto(f"{url}/lab/index.html?path=notebooks/{name}")
                page.get_by_text(re.compile(r"Python \(Pyodide\) \| Idle")).wait_for(timeout=600_000)
                ready = time.perf_counter() - start
                page.locator(".jp-Notebook .jp-Cell").first.click()
                page.keyboard.press("Escape")
                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
                page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
                start = time.perf_counter()
                last = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-InputPrompt")
                try:
                    last.filter(has_text=re.compile(r"\[\d+\]:")).wait_for(timeout=limit * 1000)
                    ran = time.perf_counter() - start
                except Exception:
                    ran = None
                results[name] = (ready, ran)
                print(f"  {name}: kernel {ready:.0f} s, run all " + (f"{ran:.0f} s" if ran else f"> {limit} s"),
                      file=sys.stderr, flush=True)
                page.close()
        finally:
            chromium.close()
    return results


def natively(name):
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                        "--ExecutePreprocessor.timeout=3600", "--output-dir", tmp, str(REPO / "notebooks" / name)],
                       capture_output=True, check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", default=NOTEBOOKS)
    parser.add_argument("--site", type=Path, help="a site built with lite --solution (default: build one)")
    parser.add_argument("--native", action="store_true", help="also execute each notebook here with nbconvert")
    parser.add_argument("--limit", type=int, default=1200, help="seconds per notebook in the browser (default 1200)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            subprocess.run([sys.executable, "-m", "cs231n_bn", "lite", "--solution", "--out", str(site)], cwd=REPO,
                           check=True, stdout=subprocess.DEVNULL)
        browser = in_browser(site, args.notebooks, args.limit)
    print(f"{'notebook':<30} {'kernel ready':>12} {'browser':>10} {'native':>8} {'ratio':>6}")
    for name in args.notebooks:
        ready, ran = browser[name]
        native = natively(name) if args.native else None
        print(f"{name:<30} {ready:>10.0f} s " + (f"{ran:>8.0f} s" if ran else f"{'> ' + str(args.limit):>8} s")
              + (f" {native:>6.0f} s" if native else f" {'-':>8}")
              + (f" {ran / native:>6.1f}" if ran and native else f" {'-':>6}"))


if __name__ == "__main__":
    main()
