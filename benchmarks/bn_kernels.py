"""Time this kit's batch-norm layers against fused kernels, the memory-bandwidth floor and PyTorch on the CPU.

    python benchmarks/bn_kernels.py [--threads T] [--rounds R] [--budget SECONDS] [--no-torch]

For (N, D) in (64, 100), (256, 1024), (4096, 1024), in float32 and float64, it measures:
- batchnorm_forward (train mode) followed by batchnorm_backward_alt (the closed form) on the fresh cache, from
  cs231n_bn/layers.py: plain NumPy, written to be read;
- the same work by fused kernels (below, in this file): in-place updates, np.einsum for the sums of products
  (no N x D temporary for the variance and dgamma) and NumPy ufunc buffers of one row, for comparison. They are
  solution code and ship with the solution edition only; the student edition skips their column;
- batchnorm_backward (the staged, node-by-node backward) and batchnorm_backward_alt on one fixed cache, for the
  staged/closed-form speedup;
- the memory-bandwidth floor: the least memory traffic the two passes need, streamed by NumPy copies of the same
  size. The forward must read x twice (statistics, then normalization) and write out and x_hat: 4 array passes;
  the backward must read dout and x_hat twice (the sums, then dx) and write dx: 5 array passes. A copy
  (np.copyto into an existing array of the same shape and dtype) is one read and one write, so the floor is
  (4 + 5) / 2 = 4.5 copy times. The floor writes into memory it already owns, whereas a layer returns new arrays
  (out, x_hat, dx), and the first touch of freshly allocated pages costs time of its own; the "3 new" column
  estimates it as 3 x (x.copy() - np.copyto), for information: it is not part of the floor;
- torch.nn.functional.batch_norm (training, running statistics updated) followed by autograd backward for x,
  weight and bias, when PyTorch is installed, with torch.set_num_threads set to the threads of NumPy's BLAS (the
  targets compare against this), and, when that is more than one, with one thread as well: this kit's
  elementwise NumPy passes run on one thread, and multi-threaded PyTorch at times spends tens of milliseconds
  per call waiting on its own threads (seen with 2 threads on a 2-CPU virtual machine, busy or idle), so the
  one-thread column is the steadier reference.

Every measurement is the median of per-call times, after a warm-up; the measurements of one case take turns in
rounds (rotating their order), so that a busy machine slows all of them alike. The script prints the environment,
one table, the bytes the cache keeps and the backward passes allocate (the reference solution's cache keeps a single
N x D array: a property of the kit's solution, not a requirement of student code), and a summary of the run.
"""

import argparse
import contextlib
import gc
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

SIZES = [(64, 100), (256, 1024), (4096, 1024)]
DTYPES = ["float32", "float64"]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and for PyTorch (default: $OPENBLAS_NUM_THREADS or "
                             "$OMP_NUM_THREADS if set, else os.cpu_count())")
    parser.add_argument("--rounds", type=int, default=7, help="turns each measurement takes (default 7)")
    parser.add_argument("--budget", type=float, default=0.08,
                        help="seconds per measurement per round; sets the calls per round (default 0.08)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when it is installed")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if not args.budget > 0:
        parser.error(f"--budget must be a positive number of seconds, got {args.budget}")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads is not None:
        # Must happen before NumPy loads its BLAS.
        for var in THREAD_VARS:
            os.environ[var] = str(args.threads)
    threads = args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
                                  or os.cpu_count())

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's cs231n_bn, installed or not
    from cs231n_bn.layers import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            pass
        else:
            torch.set_num_threads(threads)

    print_environment(np, torch, threads, args)
    sys.stdout.flush()
    kernels = (batchnorm_forward, batchnorm_backward_alt, batchnorm_backward)
    rows = []
    for dtype in DTYPES:
        for N, D in SIZES:
            print(f"measuring {dtype} {N} x {D} ...", file=sys.stderr, flush=True)
            rows.append(measure_case(np, torch, kernels, N, D, np.dtype(dtype), args, threads))
    print_table(rows, threads if torch is not None else "-")
    cache_arrays = print_memory(np, kernels)
    print_summary(rows, torch is not None, cache_arrays)
    print(f"\nload average at the end: {format_load()}")
    return 0


# --------------------------------------------------------------------------------------------------------------
# Fused kernels, for comparison: what plain NumPy leaves on the table


def row_buffers(np, x):
    """
    A context in which NumPy's ufunc buffers hold at most one row of x (its last axis), for broadcasts such as
    (N, D) op (D,). NumPy (up to at least 2.4) evaluates such a broadcast in chunks of its buffer size, 8192
    elements; when a row is shorter than that, a chunk spans several rows and NumPy copies the (D,) operand into a
    buffer, chunk after chunk (numpy issue gh-13307), which costs as much as the arithmetic. With buffers of one
    row every inner loop reads the operand in place: 1.3x to 2x faster for rows of 2 KiB or more. Shorter rows
    keep the default, where looping row by row costs more than the copies.
    """
    D = x.shape[-1] if x.ndim >= 2 else 0
    if D * x.itemsize < 2048 or D >= np.getbufsize():
        return contextlib.nullcontext()
    return _buffer_size(np, D // 16 * 16)  # NumPy wants a multiple of 16


@contextlib.contextmanager
def _buffer_size(np, size):
    previous = np.setbufsize(size)
    try:
        yield
    finally:
        np.setbufsize(previous)


def fused_batchnorm_forward(np, x, gamma, beta, bn_param):
    """Train-mode batch norm forward as batchnorm_forward computes it, fused; returns out, (x_hat, inv_std, gamma)."""
    # TODO: nothing to write here: the fused comparison kernels ship with the solution edition only (benchmarks/README.md).
    ### BEGIN SOLUTION
    N, D = x.shape
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    running_mean = bn_param.setdefault("running_mean", np.zeros(D, x.dtype))
    running_var = bn_param.setdefault("running_var", np.zeros(D, x.dtype))
    mean = x.mean(axis=0)
    with row_buffers(np, x):
        x_hat = x - mean  # centred for now, scaled in place below
        var = np.einsum("nd,nd->d", x_hat, x_hat) / N  # sum of squares without an N x D temporary
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat *= inv_std
        out = gamma * x_hat
        out += beta
    running_mean *= momentum
    running_mean += (1 - momentum) * mean
    running_var *= momentum
    running_var += (1 - momentum) * var
    return out, (x_hat, inv_std, gamma)
    ### END SOLUTION


def fused_batchnorm_backward_alt(np, dout, cache):
    """The closed-form backward pass on fused_batchnorm_forward's cache, fused: four passes, one allocation."""
    # TODO: nothing to write here: the fused comparison kernels ship with the solution edition only (benchmarks/README.md).
    ### BEGIN SOLUTION
    x_hat, inv_std, gamma = cache
    N = x_hat.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("nd,nd->d", dout, x_hat)
    with row_buffers(np, x_hat):
        dx = x_hat * (dgamma / N)
        dx += dbeta / N
        np.subtract(dout, dx, out=dx)
        dx *= gamma * inv_std
    return dx, dgamma, dbeta
    ### END SOLUTION


# --------------------------------------------------------------------------------------------------------------
# Measurement


def measure_case(np, torch, kernels, N, D, dtype, args, threads):
    """Median seconds per call of every measurement for one (N, D, dtype)."""
    batchnorm_forward, batchnorm_backward_alt, batchnorm_backward = kernels
    rng = np.random.default_rng(0)
    x = (3.0 + 2.0 * rng.standard_normal((N, D))).astype(dtype)
    gamma, beta = rng.standard_normal(D).astype(dtype), rng.standard_normal(D).astype(dtype)
    dout = rng.standard_normal((N, D)).astype(dtype)
    bn_param = {"mode": "train"}
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    copy_src, copy_dst = x.copy(), np.empty_like(x)

    def ours():  # forward, then the closed-form backward on the cache it just made
        start = time.perf_counter()
        _, fresh = batchnorm_forward(x, gamma, beta, bn_param)
        middle = time.perf_counter()
        batchnorm_backward_alt(dout, fresh)
        end = time.perf_counter()
        return middle - start, end - middle, end - start

    def fused():
        _, fresh = fused_batchnorm_forward(np, x, gamma, beta, fused_param)
        fused_batchnorm_backward_alt(np, dout, fresh)

    fused_param = {"mode": "train"}
    steps = {
        "ours": ours,
        "staged": timed(lambda: batchnorm_backward(dout, cache)),
        "closed": timed(lambda: batchnorm_backward_alt(dout, cache)),
        "copy": timed(lambda: np.copyto(copy_dst, copy_src)),
        "new copy": timed(lambda: copy_src.copy()),
    }
    if fused_agrees(np, x, gamma, beta, dout, batchnorm_forward, batchnorm_backward_alt):
        steps["fused"] = timed(fused)
    prepare = {}  # name -> what to do before a round of that measurement
    if torch is not None:
        torch_call = timed(torch_step(np, torch, x, gamma, beta, dout, batchnorm_forward, batchnorm_backward_alt))
        torch_threads = {"torch": threads}
        if threads > 1:
            torch_threads["torch 1 thread"] = 1
        for name, n in torch_threads.items():
            steps[name] = torch_call
            prepare[name] = lambda n=n: torch.set_num_threads(n)

    # Warm-up: at least 5 calls and 0.2 s (PyTorch starts its thread pool lazily). A round then makes as many calls
    # as the fastest warm-up call says fit in the budget (at least 3), but stops after twice the budget: a stretch
    # in which the machine stalls a measurement then yields a few slow samples instead of dragging the run out.
    calls = {}
    for name, step in steps.items():
        prepare.get(name, lambda: None)()
        warmup = []
        while len(warmup) < 5 or sum(warmup) < 0.2:
            warmup.append(step() if name != "ours" else step()[2])
        calls[name] = int(min(max(args.budget / max(min(warmup), 1e-7), 3), 5000))

    times = {name: [] for name in steps}
    names = list(steps)
    clock = time.perf_counter
    gc.disable()
    try:
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                prepare.get(name, lambda: None)()
                step, record = steps[name], times[name].append
                deadline = clock() + 2 * args.budget
                for i in range(calls[name]):
                    record(step())
                    if i >= 2 and clock() > deadline:
                        break
    finally:
        gc.enable()

    fwd, bwd, total = (np.median([t[i] for t in times["ours"]]) for i in range(3))
    copy = np.median(times["copy"])
    return {
        "dtype": dtype.name, "N": N, "D": D, "fwd": fwd, "bwd": bwd, "total": total, "floor": 4.5 * copy,
        "new": 3 * max(np.median(times["new copy"]) - copy, 0.0),
        "staged": np.median(times["staged"]), "closed": np.median(times["closed"]),
        "fused": np.median(times["fused"]) if "fused" in times else None,
        "torch": np.median(times["torch"]) if "torch" in times else None,
        "torch1": np.median(times["torch 1 thread"]) if "torch 1 thread" in times else None,
    }


def fused_agrees(np, x, gamma, beta, dout, batchnorm_forward, batchnorm_backward_alt):
    """False when the fused kernels are absent (student edition); otherwise check they compute what the layers do."""
    try:
        out, cache = fused_batchnorm_forward(np, x, gamma, beta, {"mode": "train"})
    except NotImplementedError:
        return False
    ours_out, ours_cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    tol = 1e-3 if x.dtype == np.float32 else 1e-9
    for name, a, b in zip(("out", "dx", "dgamma", "dbeta"), (out, *fused_batchnorm_backward_alt(np, dout, cache)),
                          (ours_out, *batchnorm_backward_alt(dout, ours_cache))):
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        if not err < tol:
            raise RuntimeError(f"the fused kernels and the layers disagree on {name} for {x.dtype} {x.shape}: "
                               f"error {err:.2e}")
    return True


def timed(f):
    """f as a step returning its own duration in seconds."""
    def step():
        start = time.perf_counter()
        f()
        return time.perf_counter() - start
    return step


def torch_step(np, torch, x, gamma, beta, dout, batchnorm_forward, batchnorm_backward_alt):
    """PyTorch's forward (train mode, running statistics updated) + backward for x, weight, bias, as one call.

    Checks first that it computes what this kit computes (out, dx, dgamma, dbeta), so that the race is fair.
    """
    F = torch.nn.functional
    D = x.shape[1]
    tx = torch.from_numpy(x).requires_grad_()
    weight = torch.from_numpy(gamma).requires_grad_()
    bias = torch.from_numpy(beta).requires_grad_()
    running_mean, running_var = torch.zeros(D, dtype=tx.dtype), torch.ones(D, dtype=tx.dtype)
    tdout = torch.from_numpy(dout)

    def step():
        # momentum=0.1 in PyTorch is momentum=0.9 here; eps is the same default, 1e-5.
        out = F.batch_norm(tx, running_mean, running_var, weight, bias, training=True, momentum=0.1, eps=1e-5)
        return out, torch.autograd.grad(out, (tx, weight, bias), tdout)

    out, grads = step()
    ours_out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    tol = 1e-3 if x.dtype == np.float32 else 1e-9
    for name, a, b in zip(("out", "dx", "dgamma", "dbeta"), (out, *grads),
                          (ours_out, *batchnorm_backward_alt(dout, cache))):
        a = a.detach().numpy()
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        if not err < tol:
            raise RuntimeError(f"PyTorch and this kit disagree on {name} for {x.dtype} {x.shape}: error {err:.2e}")
    return step


# --------------------------------------------------------------------------------------------------------------
# Report


def print_environment(np, torch, threads, args):
    try:  # NumPy >= 1.26
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_name = f"{blas['name']} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):
        blas_name = "BLAS unknown"
    print(f"python {platform.python_version()}, numpy {np.__version__} ({blas_name}), "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {format_load()}")
    source = ("--threads" if args.threads else
              next((f"${var}" for var in THREAD_VARS[:2] if os.environ.get(var)), "os.cpu_count()"))
    if torch is None:
        note = "PyTorch skipped (--no-torch)" if args.no_torch else "PyTorch not installed: its columns are skipped"
        print(f"threads: {threads} (from {source}) for NumPy's BLAS; {note}")
    else:
        print(f"threads: {threads} (from {source}) for NumPy's BLAS and for PyTorch "
              f"(torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}); "
              "NumPy's elementwise operations and reductions run on one thread")
    print(f"each time: median of per-call times over {args.rounds} interleaved rounds of about "
          f"{args.budget:g} s per measurement, after a warm-up")
    print()


def fmt_us(seconds):
    if seconds is None:
        return "-"
    us = 1e6 * seconds
    return f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def print_table(rows, torch_threads):
    def ratio(a, b):
        return "-" if a is None or b is None else f"{a / b:.2f}"

    print("Batch norm, train-mode forward + closed-form backward (batchnorm_forward + batchnorm_backward_alt); "
          "times in microseconds")
    header = ["dtype", "N x D", "forward", "backward", "fwd+bwd", "floor", "x floor", "3 new", "fused",
              "x fused", f"PyTorch {torch_threads}t", "x PT", "PyTorch 1t", "x PT 1t", "staged bwd",
              "staged/closed"]
    widths = [7, 11, 8, 8, 8, 8, 7, 7, 8, 7, 10, 5, 10, 7, 10, 13]
    print(" ".join(h.rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        cells = [r["dtype"], f"{r['N']} x {r['D']}", fmt_us(r["fwd"]), fmt_us(r["bwd"]), fmt_us(r["total"]),
                 fmt_us(r["floor"]), ratio(r["total"], r["floor"]), fmt_us(r["new"]),
                 fmt_us(r["fused"]), ratio(r["total"], r["fused"]),
                 fmt_us(r["torch"]), ratio(r["total"], r["torch"]),
                 fmt_us(r["torch1"]), ratio(r["total"], r["torch1"]),
                 fmt_us(r["staged"]), ratio(r["staged"], r["closed"])]
        print(" ".join(c.rjust(w) for c, w in zip(cells, widths)))
    stalled = [f"{r['dtype']} {r['N']} x {r['D']}" for r in rows if torch_stalled(r)]
    if stalled:
        print(f"WARNING: PyTorch on {torch_threads} threads took over twice its one-thread time for "
              f"{', '.join(stalled)}: it was waiting on its threads, and those x PT ratios say nothing about the "
              "kernels.")
    if all(r["fused"] is None for r in rows):
        print("fused: the fused kernels ship with the solution edition only; their columns are skipped.")
    print("floor: 4.5 times a NumPy copy of one N x D array into existing memory (forward 2 reads + 2 writes, "
          "backward 4 reads + 1 write).\n"
          "x floor, x fused, x PT: fwd+bwd divided by the floor, by the fused kernels' time, by PyTorch's time. "
          "3 new: first touch of the\nthree new N x D arrays a layer returns, 3 x (x.copy() - np.copyto), not in "
          "the floor. PyTorch Tt: with T threads.\nstaged/closed: batchnorm_backward's time over "
          "batchnorm_backward_alt's, both on one fixed cache.")


def torch_stalled(r):
    """Whether multi-threaded PyTorch took over twice its one-thread time (it waited for its threads)."""
    return r["torch"] is not None and r["torch1"] is not None and r["torch"] > 2 * r["torch1"]


def arrays_in(np, obj):
    """Every ndarray in a (possibly nested) cache of tuples, lists and dicts."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [a for item in obj for a in arrays_in(np, item)]
    return []


def print_memory(np, kernels):
    """
    Print the bytes the cache keeps per input element, and the peak the backward passes allocate per input element.
    Returns the largest number of N x D arrays found in a cache.
    """
    batchnorm_forward, batchnorm_backward_alt, batchnorm_backward = kernels
    N, D = 4096, 1024
    print(f"\nMemory, (N, D) = ({N}, {D}), per input element (N * D elements); "
          "both backward passes take the same cache:")
    most = 0
    for dtype in DTYPES:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, D)).astype(dtype)
        gamma, beta, dout = np.ones(D, dtype), np.zeros(D, dtype), rng.standard_normal((N, D)).astype(dtype)
        _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
        arrays = arrays_in(np, cache)
        big = sum(a.size == x.size for a in arrays)
        most = max(most, big)
        held = sum(a.nbytes for a in arrays) / x.size
        peaks = []
        for backward in (batchnorm_backward_alt, batchnorm_backward):
            tracemalloc.start()
            grads = backward(dout, cache)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del grads
            peaks.append(peak / x.size)
        print(f"  {dtype}: cache {held:.3f} B/element ({big} array{'s' if big != 1 else ''} of N x D, "
              f"{len(arrays) - big} smaller); peak allocated during the backward, dx included: closed form "
              f"{peaks[0]:.2f} B/element, staged {peaks[1]:.2f} B/element")
    return most


def print_summary(rows, have_torch, cache_arrays):
    by = {(r["dtype"], r["N"], r["D"]): r for r in rows}
    print("\nSummary of this run:")
    for dtype in DTYPES:
        for N, D in SIZES:
            r = by[(dtype, N, D)]
            parts = [f"{r['total'] / r['floor']:.2f} x floor"]
            if r["fused"] is not None:
                parts.append(f"{r['total'] / r['fused']:.2f} x the fused kernels")
            if have_torch:
                parts.append(f"{r['total'] / r['torch']:.2f} x PyTorch"
                             + (f" ({r['total'] / r['torch1']:.2f} x on 1 thread)" if r["torch1"] else ""))
            print(f"  {dtype} {N} x {D}: the layers take {', '.join(parts)}")
    for dtype in DTYPES:
        r = by[(dtype, 4096, 1024)]
        print(f"  {dtype} 4096 x 1024: closed-form backward {r['staged'] / r['closed']:.2f} x faster than the staged "
              "one")
    print(f"  batchnorm_forward's cache keeps {cache_arrays} N x D array{'s' if cache_arrays != 1 else ''} (the "
          "kit's reference solution keeps a single one, x_hat: a property of that solution, not a requirement of "
          "student code)")
    if not have_torch:
        print("  (the PyTorch comparisons need PyTorch)")


def format_load():
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
