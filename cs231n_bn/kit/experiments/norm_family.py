"""The normalization family on an (N, C, H, W) tensor, for NormalizationFamily.ipynb.

Batch, layer, instance and group normalization are one computation,

    x_hat = (x - mean_S(x)) / sqrt(var_S(x) + eps),

that differ only in the set S of entries a statistic is taken over (Wu & He 2018, Figure 2). This module holds
which axes each member reduces over (member_groups; the notebook computes the members with the student's own
normalization.standardize and layers), the cube figure of which entries share statistics, the small-batch
experiment (how noisy batch statistics are, compared with group statistics), and the check of the experiment the
student designs in section 5.1 (check_batch_size: the smallest batch whose means are accurate enough).
"""

import numpy as np

from cs231n_bn.layers import spatial_batchnorm_forward, spatial_groupnorm_forward

MEMBERS = ("batch", "layer", "instance", "group")


def member_groups(name, C, G=None):
    """
    The family member `name` as (G, axes): reshape x (N, C, H, W) to xg (N, G, C // G, H, W) and take the
    statistics of xg over `axes`.

        batch:    G = C, axes (0, 2, 3, 4)   one mean per channel, over the batch and the pixels
        layer:    G = 1, axes (2, 3, 4)      one mean per sample, over all channels and pixels
        instance: G = C, axes (2, 3, 4)      one mean per sample and channel, over the pixels
        group:    G,     axes (2, 3, 4)      one mean per sample and group of C // G channels

    Inputs:
    - name: one of MEMBERS
    - C: number of channels
    - G: number of groups; required for 'group' (and must divide C), rejected for the others

    Returns a tuple of:
    - G: int
    - axes: tuple of ints, axes of the (N, G, C // G, H, W) view the statistics are taken over
    """
    if name not in MEMBERS:
        raise ValueError(f"unknown normalization {name!r}; expected one of {', '.join(MEMBERS)}")
    if (G is not None) != (name == "group"):
        raise ValueError(f"G={G!r} given for {name!r}; G is required for 'group' and only for it")
    if name == "batch":
        return C, (0, 2, 3, 4)
    if name == "layer":
        return 1, (2, 3, 4)
    if name == "instance":
        return C, (2, 3, 4)
    return G, (2, 3, 4)


def _in_set(name, n, c, group_size):
    """Is the cell (n, c) in the normalization set of the cell (0, 0)? (Every set spans all of H, W.)"""
    if name == "batch":
        return c == 0
    if name == "layer":
        return n == 0
    if name == "instance":
        return n == 0 and c == 0
    return n == 0 and c < group_size


def plot_normalization_axes(N=6, C=6, HW=6, group_size=2, axes=None):
    """
    The cube figure of Wu & He (2018), Figure 2: an (N, C, H*W) tensor drawn as a cube of cells, one panel per
    family member, with the cells that share one mean and variance shaded.

    N runs left to right, C into the page, H, W (flattened) upwards; the shaded set is the one containing
    sample 0, channel 0.

    Inputs:
    - N, C, HW: number of cells along each edge of the cube
    - group_size: channels per group in the group-norm panel (C // group_size groups)
    - axes: optional sequence of 4 matplotlib Axes to draw into; a new 1 x 4 figure is made when None

    Returns:
    - fig: the matplotlib Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    if C % group_size != 0:
        raise ValueError(f"group_size={group_size} must divide C={C}")
    if axes is None:
        fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    else:
        fig = axes[0].figure
    depth = np.array([0.6, 0.45])  # screen offset of one step into the page (oblique projection)
    titles = {"batch": "Batch Norm", "layer": "Layer Norm", "instance": "Instance Norm",
              "group": f"Group Norm ({C // group_size} groups)"}

    def point(n, c, h):
        return np.array([n, h]) + c * depth

    for ax, name in zip(axes, MEMBERS):
        faces = []  # (corners, shaded) of each visible cell face
        for n in range(N):  # front face: c = 0
            for h in range(HW):
                corners = [point(n, 0, h), point(n + 1, 0, h), point(n + 1, 0, h + 1), point(n, 0, h + 1)]
                faces.append((corners, _in_set(name, n, 0, group_size)))
        for n in range(N):  # top face: h = HW
            for c in range(C):
                corners = [point(n, c, HW), point(n + 1, c, HW), point(n + 1, c + 1, HW), point(n, c + 1, HW)]
                faces.append((corners, _in_set(name, n, c, group_size)))
        for c in range(C):  # right face: n = N
            for h in range(HW):
                corners = [point(N, c, h), point(N, c + 1, h), point(N, c + 1, h + 1), point(N, c, h + 1)]
                faces.append((corners, _in_set(name, N - 1, c, group_size)))
        for corners, shaded in faces:
            ax.add_patch(Polygon(corners, closed=True, facecolor="#4a7fc1" if shaded else "white",
                                 edgecolor="0.35", linewidth=0.6))
        # axis labels along three edges of the cube
        ax.annotate("N", point(N / 2, 0, 0) - [0, 0.9], ha="center", va="center", fontsize=11)
        ax.annotate("C", point(N, C / 2, 0) + [0.9, -0.2], ha="center", va="center", fontsize=11)
        ax.annotate("H, W", point(0, 0, HW / 2) - [1.2, 0], ha="center", va="center", fontsize=11)
        ax.set_title(titles[name])
        top_right = point(N, C, HW)
        ax.set_xlim(-2.2, top_right[0] + 1.6)
        ax.set_ylim(-1.6, top_right[1] + 0.6)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def make_feature_population(M=2048, C=8, H=6, W=6, seed=0):
    """
    A synthetic population of conv-layer activations with the structure real ones have: every channel has its
    own mean and scale, and most of the variation is between images (a per-image, per-channel offset), so the
    H * W pixels of one image are strongly correlated.

        x[m, c, h, w] = mu_c + s_c * (a[m, c] + 0.5 * e[m, c, h, w]),   a, e ~ N(0, 1) independent

    Inputs:
    - M: number of images; C, H, W: feature-map shape
    - seed: seed of the generator

    Returns:
    - x: array of shape (M, C, H, W), float64
    """
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 2.0, size=(1, C, 1, 1))
    s = rng.uniform(0.5, 2.0, size=(1, C, 1, 1))
    a = rng.normal(size=(M, C, 1, 1))
    e = rng.normal(size=(M, C, H, W))
    return mu + s * (a + 0.5 * e)


def batch_noise_experiment(population, batch_sizes, G, num_batches=200, probe=0, seed=0):
    """
    How much the statistics batch norm trains with depend on the mini-batch, compared with group norm.

    For every batch size B, draw num_batches mini-batches of B images at random (without replacement) and
    record the per-channel batch mean and batch standard deviation (what spatial batch norm normalizes with),
    against the population's. Then draw num_batches mini-batches made of the probe image and B - 1 others, and
    record
    - the probe's batch-norm output in train mode, against its output with the population statistics
      (what a perfect running average would give at test time);
    - the probe's group-norm output inside the batch, against its output when normalized alone.

    Inputs:
    - population: array of shape (M, C, H, W)
    - batch_sizes: sequence of ints in 1..M
    - G: number of groups for group norm (divides C)
    - num_batches: mini-batches drawn per batch size
    - probe: index of the probe image in the population
    - seed: seed of the generator that draws the batches

    Returns a dict with arrays of shape (len(batch_sizes),):
    - 'batch_sizes'
    - 'mean_error': root mean square over batches of (batch mean - population mean), divided by the population
      standard deviation of the channel, averaged over channels
    - 'std_error': the same for (batch standard deviation - population standard deviation); it includes the
      bias of small batches, whose standard deviation is too small on average
    - 'bn_deviation': root mean square over batches and entries of (probe's BN train output - probe's output
      with population statistics)
    - 'gn_deviation': the same for (probe's GN output in the batch - probe's GN output alone)
    """
    x = np.asarray(population, dtype=np.float64)
    M, C, H, W = x.shape
    batch_sizes = [int(B) for B in batch_sizes]
    if any(B < 1 or B > M for B in batch_sizes):
        raise ValueError(f"batch_sizes={batch_sizes!r} must lie in 1..{M}")
    rng = np.random.default_rng(seed)
    ones, zeros = np.ones(C), np.zeros(C)
    gn_ones, gn_zeros = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
    pop_mean = x.mean(axis=(0, 2, 3))
    pop_var = ((x - pop_mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
    pop_std = np.sqrt(pop_var)
    test_param = {"mode": "test", "running_mean": pop_mean, "running_var": pop_var}
    probe_pop, _ = spatial_batchnorm_forward(x[probe:probe + 1], ones, zeros, test_param)
    probe_gn, _ = spatial_groupnorm_forward(x[probe:probe + 1], gn_ones, gn_zeros, G, {})
    others = np.delete(np.arange(M), probe)

    result = {k: [] for k in ("mean_error", "std_error", "bn_deviation", "gn_deviation")}
    for B in batch_sizes:
        mean_sq, std_sq, bn_sq, gn_sq = [], [], [], []
        for _ in range(num_batches):
            batch = x[rng.choice(M, B, replace=False)]
            mu = batch.mean(axis=(0, 2, 3))
            std = np.sqrt(((batch - mu[None, :, None, None]) ** 2).mean(axis=(0, 2, 3)))  # biased, as BN uses
            mean_sq.append(((mu - pop_mean) / pop_std) ** 2)
            std_sq.append(((std - pop_std) / pop_std) ** 2)
        for _ in range(num_batches):
            batch = x[np.concatenate([[probe], rng.choice(others, B - 1, replace=False)])]
            bn_out, _ = spatial_batchnorm_forward(batch, ones, zeros, {"mode": "train"})
            gn_out, _ = spatial_groupnorm_forward(batch, gn_ones, gn_zeros, G, {})
            bn_sq.append(np.mean((bn_out[0] - probe_pop[0]) ** 2))
            gn_sq.append(np.mean((gn_out[0] - probe_gn[0]) ** 2))
        result["mean_error"].append(np.mean(np.sqrt(np.mean(mean_sq, axis=0))))
        result["std_error"].append(np.mean(np.sqrt(np.mean(std_sq, axis=0))))
        result["bn_deviation"].append(np.sqrt(np.mean(bn_sq)))
        result["gn_deviation"].append(np.sqrt(np.mean(gn_sq)))
    result = {k: np.array(v) for k, v in result.items()}
    result["batch_sizes"] = np.array(batch_sizes)
    return result


def plot_batch_noise(result, axes=None):
    """
    Plot the output of batch_noise_experiment: the error of the batch statistics against the batch size
    (with the 1/sqrt(B) law), and how far the probe image's normalized output moves with its batch-mates.

    Inputs:
    - result: the dict returned by batch_noise_experiment
    - axes: optional sequence of 2 matplotlib Axes; a new 1 x 2 figure is made when None

    Returns:
    - fig: the matplotlib Figure
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    else:
        fig = axes[0].figure
    B = result["batch_sizes"]
    ax = axes[0]
    ax.loglog(B, result["mean_error"], "o-", label="batch mean")
    ax.loglog(B, result["std_error"], "s-", label="batch standard deviation")
    ax.loglog(B, result["mean_error"][0] * np.sqrt(B[0] / B), "k--", lw=1, label=r"$\propto 1/\sqrt{B}$")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("RMS error / population std")
    ax.set_title("Per-channel batch statistics are noisy for small B")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    ax = axes[1]
    ax.semilogx(B, result["bn_deviation"], "o-", label="batch norm (train vs population statistics)")
    ax.semilogx(B, result["gn_deviation"], "s-", label="group norm (in batch vs alone)")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("RMS change of one image's output")
    ax.set_title("One image's normalized output depends on its batch-mates")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    for ax in axes[:2]:
        ax.set_xticks(B)
        ax.set_xticklabels([str(b) for b in B])
        ax.minorticks_off()
    fig.tight_layout()
    return fig


BATCH_SIZES = tuple(2 ** k for k in range(11))  # section 5.1: the batch sizes to choose from, 1 to 1024
MEAN_TOLERANCE = 0.04                            # section 5.1: RMS error of a batch mean, in population stds
SEEDS = (0, 1, 2)


def batch_mean_error(population, batch_size, num_batches=200, seed=0):
    """
    The RMS error of the per-channel batch mean of `batch_size` images drawn at random (without replacement),
    in units of each channel's population standard deviation, averaged over the channels: batch_noise_experiment's
    'mean_error' for one batch size.

    Inputs:
    - population: array of shape (M, C, H, W); batch_size: int in 1..M; num_batches: batches drawn; seed: their seed

    Returns a float.
    """
    x = np.asarray(population, dtype=np.float64)
    M = x.shape[0]
    rng = np.random.default_rng(seed)
    pop_mean = x.mean(axis=(0, 2, 3))
    pop_std = x.std(axis=(0, 2, 3))
    squared = [((x[rng.choice(M, batch_size, replace=False)].mean(axis=(0, 2, 3)) - pop_mean) / pop_std) ** 2
               for _ in range(num_batches)]
    return float(np.mean(np.sqrt(np.mean(squared, axis=0))))


def check_batch_size(batch_size, tolerance=MEAN_TOLERANCE, seeds=SEEDS, num_batches=200):
    """
    NormalizationFamily.ipynb, section 5.1: is `batch_size` the smallest of BATCH_SIZES (1, 2, 4, ..., 1024) whose
    per-channel batch means are within `tolerance` population standard deviations (RMS) of the population means?
    Checked in every seed: section 5's population (make_feature_population with that seed) and batches drawn
    with that seed (batch_mean_error), at `batch_size` and at half of it.

    Returns a dict: 'seeds' (list), 'error' (float array, the error at batch_size per seed) and 'half_error' (at
    batch_size // 2; NaN for batch size 1). Raises AssertionError, with the errors the runs showed, if the error
    at batch_size is not below tolerance, or the error at half of it is below tolerance too, in some seed;
    ValueError for a batch size not in BATCH_SIZES.
    """
    if isinstance(batch_size, bool) or batch_size not in BATCH_SIZES:
        raise ValueError(f"batch_size must be one of {', '.join(map(str, BATCH_SIZES))}, got {batch_size!r}")
    batch_size, seeds = int(batch_size), list(seeds)
    error, half_error = [], []
    for seed in seeds:
        population = make_feature_population(seed=seed)
        error.append(batch_mean_error(population, batch_size, num_batches, seed))
        half_error.append(batch_mean_error(population, batch_size // 2, num_batches, seed) if batch_size > 1
                          else float("nan"))
    error, half_error = np.array(error), np.array(half_error)
    shown = ", ".join(f"{e:.3f}" for e in error)
    if not np.all(error < tolerance):
        raise AssertionError(f"batch size {batch_size} is too small: the batch means are off by {shown} population "
                             f"standard deviations (seeds {', '.join(map(str, seeds))}), not below {tolerance:g}")
    if np.any(half_error < tolerance):
        halves = ", ".join(f"{e:.3f}" for e in half_error)
        raise AssertionError(f"batch size {batch_size} is not the smallest: half of it, {batch_size // 2}, already "
                             f"gives batch means off by only {halves} population standard deviations (seeds "
                             f"{', '.join(map(str, seeds))}), below {tolerance:g}")
    return {"seeds": seeds, "error": error, "half_error": half_error}
