"""Time one training step (sample a mini-batch, forward, backward, update) of this kit's nets, and of the same
nets in PyTorch on the CPU when PyTorch is installed.

    python benchmarks/train_step.py [--threads N (default 1)] [--repeats R] [--update-rule sgd|sgd_momentum|adam]

Nets (float32):
- the Section 4.1 net of Ioffe & Szegedy 2015 (FullyConnectedNet 784-100-100-100-10, nonlinearity='sigmoid'), with
  and without batch norm, batch 60;
- a FullyConnectedNet with 5 hidden layers of 100 units and batch norm, 3072 inputs (CIFAR-10), batch 200.

Our step is Solver._step() itself, so the Solver's overhead is included; the PyTorch step does the same work
(index a random mini-batch, zero_grad, forward, cross-entropy, backward, optimizer step). Both sides use the same
number of threads. Timings alternate between the two in rounds, so that a busy machine slows both alike; each
number is the median over all rounds of per-step times, after a warm-up.
"""

import argparse
import os
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for NumPy's BLAS and for PyTorch (default 1: these matrices are small, and "
                             "extra BLAS threads only add synchronization, badly so on a busy machine)")
    parser.add_argument("--repeats", type=int, default=3000, help="timed steps per net and library (default 3000)")
    parser.add_argument("--warmup", type=int, default=300, help="untimed steps first (default 300)")
    parser.add_argument("--rounds", type=int, default=10, help="alternations between the libraries (default 10)")
    parser.add_argument("--update-rule", default="sgd", choices=["sgd", "sgd_momentum", "adam"])
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads < 1:
        raise SystemExit(f"--threads must be >= 1, got {args.threads}")
    threads = args.threads
    # Must happen before NumPy loads its BLAS.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)

    import numpy as np

    from cs231n_bn.classifiers.fc_net import FullyConnectedNet
    from cs231n_bn.solver import Solver

    try:
        import torch
    except ImportError:
        torch = None
    else:
        torch.set_num_threads(threads)

    lr = {"sgd": 1e-2, "sgd_momentum": 1e-2, "adam": 1e-4}[args.update_rule]
    cases = [
        ("Sec. 4.1 net + BN, batch 60", dict(kind="paper", normalization="batchnorm"), 784, 60),
        ("Sec. 4.1 net, no BN, batch 60", dict(kind="paper", normalization=None), 784, 60),
        ("FC 5x100 + BN, batch 200", dict(kind="fc", normalization="batchnorm"), 3072, 200),
    ]

    rng = np.random.default_rng(0)
    print(f"threads: {threads} (NumPy BLAS and PyTorch); update rule: {args.update_rule}; float32; "
          f"median of {args.repeats} steps after {args.warmup} warm-up steps")
    print(f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ", PyTorch not installed"))
    rows = []
    for label, spec, input_dim, batch_size in cases:
        N = 10 * batch_size * 10
        X = rng.standard_normal((N, input_dim)).astype(np.float32)
        y = rng.integers(10, size=N)
        data = {"X_train": X, "y_train": y, "X_val": X[:100], "y_val": y[:100]}
        if spec["kind"] == "paper":
            model = FullyConnectedNet([100, 100, 100], input_dim=input_dim, num_classes=10, nonlinearity="sigmoid",
                                      normalization=spec["normalization"], weight_scale=0.1, seed=0)
        else:
            model = FullyConnectedNet([100] * 5, input_dim=input_dim, normalization=spec["normalization"],
                                      weight_scale=0.05, seed=0)
        solver = Solver(model, data, update_rule=args.update_rule, optim_config={"learning_rate": lr},
                        batch_size=batch_size, verbose=False, seed=0)
        ours = StepTimer(solver._step)
        theirs = None
        if torch is not None:
            theirs = StepTimer(torch_step(torch, spec, input_dim, X, y, batch_size, args.update_rule, lr))
        ours.run(args.warmup, record=False)
        if theirs:
            theirs.run(args.warmup, record=False)
        per_round = max(args.repeats // args.rounds, 1)
        for _ in range(args.rounds):
            ours.run(per_round)
            if theirs:
                theirs.run(per_round)
        rows.append((label, ours.median_us(), theirs.median_us() if theirs else None))

    print()
    print(f"{'net':<32} {'this kit (us)':>14} {'PyTorch (us)':>13} {'ratio':>7}")
    for label, ours_us, theirs_us in rows:
        if theirs_us is None:
            print(f"{label:<32} {ours_us:>14.0f} {'-':>13} {'-':>7}")
        else:
            print(f"{label:<32} {ours_us:>14.0f} {theirs_us:>13.0f} {ours_us / theirs_us:>7.2f}")
    paper = rows[0][1] + rows[1][1]
    print(f"\n50,000 steps with BN + 50,000 without: about {50_000 * paper / 1e6:.0f} s of training steps.")
    return 0


class StepTimer:
    """Calls step() repeatedly and records the duration of each call."""

    def __init__(self, step):
        self.step = step
        self.times = []

    def run(self, n, record=True):
        step, clock, times = self.step, time.perf_counter, self.times
        for _ in range(n):
            start = clock()
            step()
            if record:
                times.append(clock() - start)

    def median_us(self):
        times = sorted(self.times)
        return 1e6 * times[len(times) // 2]


def torch_step(torch, spec, input_dim, X, y, batch_size, update_rule, lr):
    """The same net, data and mini-batch sampling in PyTorch; returns a function doing one training step."""
    nn = torch.nn
    torch.manual_seed(0)
    if spec["kind"] == "paper":
        dims, act = [input_dim, 100, 100, 100], nn.Sigmoid
    else:
        dims, act = [input_dim] + [100] * 5, nn.ReLU
    layers = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        layers.append(nn.Linear(fan_in, fan_out))
        if spec["normalization"]:
            layers.append(nn.BatchNorm1d(fan_out))  # momentum=0.1 there is momentum=0.9 here
        layers.append(act())
    layers.append(nn.Linear(dims[-1], 10))
    net = nn.Sequential(*layers)
    net.train()
    if update_rule == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9 if update_rule == "sgd_momentum" else 0.0)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    N = X.shape[0]
    loss_fn = nn.CrossEntropyLoss()

    def step():
        idx = torch.randint(N, (batch_size,))
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(X_t[idx]), y_t[idx])
        loss.backward()
        opt.step()
        return loss.item()  # like the Solver, which records every loss as a Python float

    return step


if __name__ == "__main__":
    sys.exit(main())
