"""Time this kit's fast convolution and max-pooling layers against the naive ones and against PyTorch on the CPU.

    python benchmarks/conv_layers.py [--threads T] [--rounds R] [--budget SECONDS] [--no-torch] [--no-naive]

The case: a (64, 1, 28, 28) float32 batch (a Fashion-MNIST mini-batch) through 16 filters of 5x5 (stride 1,
pad 2) and 2x2 max pooling (stride 2), forward and backward:
- this kit: fast_layers.conv_forward_fast, max_pool_forward_fast, max_pool_backward_fast, conv_backward_fast
  (dx, dw and db), each timed alone and as one forward + backward step;
- PyTorch, when installed: torch.nn.functional.conv2d and max_pool2d, then autograd backward for the input,
  weight and bias, with torch.set_num_threads equal to the threads of NumPy's BLAS (--threads, else
  $OPENBLAS_NUM_THREADS / $OMP_NUM_THREADS, else os.cpu_count()); checked first to compute the same numbers;
- the naive layers of cs231n_bn/layers.py, for the speedup (--no-naive skips them).

Every measurement is the median of per-call times after a warm-up; the measurements take turns in rounds
(rotating their order), so that a busy machine slows all of them alike. The script prints the environment, one
table, and whether the target (fast forward + backward at most 3x PyTorch's time) is met in this run.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SHAPE_X, SHAPE_W = (64, 1, 28, 28), (16, 1, 5, 5)
CONV_PARAM = {"stride": 1, "pad": 2}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
TARGET = 3.0  # fast forward + backward at most this many times PyTorch's


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and for PyTorch (default: $OPENBLAS_NUM_THREADS or "
                             "$OMP_NUM_THREADS if set, else os.cpu_count())")
    parser.add_argument("--rounds", type=int, default=7, help="turns each measurement takes (default 7)")
    parser.add_argument("--budget", type=float, default=0.1,
                        help="seconds per measurement per round; sets the calls per round (default 0.1)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when it is installed")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive layers")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if not args.budget > 0:
        parser.error(f"--budget must be a positive number of seconds, got {args.budget}")
    return args


def measure(cases, rounds, budget):
    """Median per-call seconds of each callable in cases (dict name -> f), in interleaved rounds."""
    calls, samples = {}, {name: [] for name in cases}
    for name, f in cases.items():  # warm-up, and the calls per round that fill the budget
        f()
        start = time.perf_counter()
        f()
        calls[name] = max(1, int(budget / max(time.perf_counter() - start, 1e-7)))
    names = list(cases)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            f = cases[name]
            for _ in range(calls[name]):
                start = time.perf_counter()
                f()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads is not None:
        for var in THREAD_VARS:  # before NumPy loads its BLAS
            os.environ[var] = str(args.threads)
    threads = args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
                                  or os.cpu_count())

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's cs231n_bn, installed or not
    from cs231n_bn import fast_layers as fast
    from cs231n_bn import layers

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: its column is skipped (pip install torch to compare)")
    if torch is not None:
        torch.set_num_threads(threads)

    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE_X, dtype=np.float32)
    w = (0.2 * rng.standard_normal(SHAPE_W)).astype(np.float32)
    b = (0.1 * rng.standard_normal(SHAPE_W[0])).astype(np.float32)
    conv_out, conv_cache = fast.conv_forward_fast(x, w, b, CONV_PARAM)
    pooled, pool_cache = fast.max_pool_forward_fast(conv_out, POOL_PARAM)
    dpooled = rng.standard_normal(pooled.shape, dtype=np.float32)
    dconv = fast.max_pool_backward_fast(dpooled, pool_cache)

    def kit_step():
        a, c1 = fast.conv_forward_fast(x, w, b, CONV_PARAM)
        p, c2 = fast.max_pool_forward_fast(a, POOL_PARAM)
        return fast.conv_backward_fast(fast.max_pool_backward_fast(dpooled, c2), c1)

    cases = {
        "conv forward": lambda: fast.conv_forward_fast(x, w, b, CONV_PARAM),
        "pool forward": lambda: fast.max_pool_forward_fast(conv_out, POOL_PARAM),
        "pool backward": lambda: fast.max_pool_backward_fast(dpooled, pool_cache),
        "conv backward": lambda: fast.conv_backward_fast(dconv, conv_cache),
        "forward + backward": kit_step,
    }
    if torch is not None:
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        dt = torch.tensor(dpooled)

        def torch_step():
            xt.grad = wt.grad = bt.grad = None
            out = torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(xt, wt, bt, padding=2), 2)
            out.backward(dt)
            return xt.grad, wt.grad, bt.grad

        # Same numbers first: the comparison is only fair if both compute the same thing.
        mine, theirs = kit_step(), [g.numpy() for g in torch_step()]
        for name, m, t in zip(("dx", "dw", "db"), mine, theirs):
            error = float(np.max(np.abs(m - t)) / max(np.max(np.abs(t)), 1e-30))
            if error > 1e-4:
                raise SystemExit(f"PyTorch's {name} differs from this kit's by {error:.1e} (relative): not comparable")
        cases["PyTorch forward + backward"] = torch_step
    if not args.no_naive:
        def naive_step():
            a, c1 = layers.conv_forward_naive(x, w, b, CONV_PARAM)
            p, c2 = layers.max_pool_forward_naive(a, POOL_PARAM)
            return layers.conv_backward_naive(layers.max_pool_backward_naive(dpooled, c2), c1)
        cases["naive forward + backward"] = naive_step

    times = measure(cases, args.rounds, args.budget)

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load}")
    print(f"threads: {threads} for NumPy's BLAS" + (f" and for PyTorch (torch {torch.__version__}, "
                                                    f"torch.get_num_threads() = {torch.get_num_threads()})"
                                                    if torch is not None else ""))
    print(f"each time: median of per-call times over {args.rounds} interleaved rounds of about {args.budget} s "
          f"per measurement, after a warm-up")
    print()
    print(f"x {SHAPE_X} float32, 16 filters 5x5 (stride 1, pad 2), 2x2 max pool (stride 2); times in milliseconds")
    step = times["forward + backward"]
    print(f"{'measurement':28s} {'ms':>9s} {'x PyTorch':>10s}")
    for name, seconds in times.items():
        ratio = f"{seconds / times['PyTorch forward + backward']:.2f}" if torch is not None else "-"
        print(f"{name:28s} {1e3 * seconds:9.2f} {ratio:>10s}")
    if not args.no_naive:
        print(f"speedup of the fast layers over the naive ones (forward + backward): "
              f"{times['naive forward + backward'] / step:.1f}x")
    if torch is not None:
        ratio = step / times["PyTorch forward + backward"]
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"target: fast forward + backward at most {TARGET:g}x PyTorch's: {ratio:.2f}x, {verdict}")
    else:
        print(f"target: fast forward + backward at most {TARGET:g}x PyTorch's: unknown (PyTorch not installed)")


if __name__ == "__main__":
    main()
