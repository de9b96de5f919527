"""Node-by-node gradient checks of a staged forward pass, for BatchNormalization.ipynb, section 3.

In the spirit of Karpathy's `cmp` (makemore, part 4): the student writes a forward pass one node at a time, then
backpropagates through it by hand, one node at a time, and every hand-computed gradient gets its own verdict
against centred differences. The forward pass is a function of the student's,

    forward(x, gamma, beta, node) -> out,

in which every intermediate value goes through `node(name, value)`: `xmu = node("xmu", x - mu)`. `node` returns
the value unchanged (and records it), except when a check replaces that node's value by a perturbed one: then
everything downstream of the node is recomputed from the perturbed value and everything upstream stays as it
was. That is exactly what dL/d(node) means: the total derivative through every later use of the node.

The loss is L = sum(out * dout) for a fixed upstream gradient dout, so dL/dout = dout.

draw_bn_graph draws batch norm's graph for one feature column with the forward values on its edges and, once the
student has them, the gradients they computed flowing back along each edge (Kratzert's figure, with their
numbers). Nothing here computes a normalization or a gradient of one: the forward pass and the backward pass are
the student's.
"""

import numpy as np

from cs231n_bn.gradient_check import rel_error


class NodeCheck:
    """
    The forward values of a staged forward pass by name, and a per-node gradient check.

    Usage:
        check = NodeCheck(forward, {"x": x, "gamma": gamma, "beta": beta}, dout)
        check.values["xmu"]          # the forward value of node "xmu"
        check("dxmu", dxmu)          # prints "dxmu: ok (relative error below 1e-06)" and returns True

    Inputs:
    - forward: callable forward(node=node, **inputs) -> out; every node name used once per call
    - inputs: dict name -> float array, the differentiable inputs of forward (keyword arguments)
    - dout: float array of out's shape, the upstream gradient dL/dout
    - h: step of the centred differences
    - tol: a gradient is ok when its relative error (gradient_check.rel_error) is below tol
    """

    def __init__(self, forward, inputs, dout, h=1e-5, tol=1e-6):
        if not callable(forward):
            raise TypeError(f"forward must be callable; got {type(forward).__name__}")
        if not isinstance(inputs, dict) or not inputs:
            raise ValueError(f"inputs must be a non-empty dict name -> array; got {inputs!r}")
        if not (h > 0 and tol > 0):
            raise ValueError(f"h and tol must be positive; got h={h!r}, tol={tol!r}")
        self.forward = forward
        self.inputs = {name: np.array(value, dtype=np.float64) for name, value in inputs.items()}
        self.h, self.tol = h, tol
        self.values = {}
        out = self._run(record=self.values)
        self.dout = np.asarray(dout, dtype=np.float64)
        if self.dout.shape != out.shape:
            raise ValueError(f"dout has shape {self.dout.shape}; forward's output has shape {out.shape}")
        self.out = out
        self.errors = {}  # gradient name -> relative error, for every gradient checked so far

    def _run(self, record=None, override=None, inputs=None):
        """forward's output; node values are recorded into `record` and replaced from `override`."""
        seen = set()

        def node(name, value):
            if name in seen:
                raise ValueError(f"node name {name!r} used twice in one forward pass; every node needs its own name")
            if name in self.inputs:
                raise ValueError(f"node name {name!r} is also the name of an input")
            seen.add(name)
            if override is not None and name in override:
                return override[name]
            if record is not None:
                record[name] = np.array(value, dtype=np.float64)
            return value

        out = self.forward(node=node, **(self.inputs if inputs is None else inputs))
        return np.asarray(out, dtype=np.float64)

    def _loss(self, name, value):
        if name in self.inputs:
            return float(np.sum(self._run(inputs={**self.inputs, name: value}) * self.dout))
        return float(np.sum(self._run(override={name: value}) * self.dout))

    def numerical_gradient(self, name):
        """dL/d(name) by centred differences, for an input or a node of the forward pass."""
        if name in self.inputs:
            base = self.inputs[name]
        elif name in self.values:
            base = self.values[name]
        else:
            known = ", ".join(list(self.inputs) + list(self.values))
            raise KeyError(f"no input or node named {name!r}; the forward pass has {known}")
        grad = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            step = np.zeros_like(base)
            step[index] = self.h
            grad[index] = (self._loss(name, base + step) - self._loss(name, base - step)) / (2 * self.h)
        return grad

    def __call__(self, grad_name, grad):
        """
        Check one hand-computed gradient and print its verdict.

        Inputs:
        - grad_name: 'd' followed by the name of an input or a node, e.g. 'dvar'
        - grad: the hand-computed dL/d(node), of the node's shape

        Returns:
        - ok: bool, whether grad has the node's shape and a relative error below tol
        """
        if not (isinstance(grad_name, str) and grad_name.startswith("d") and len(grad_name) > 1):
            raise ValueError(f"grad_name must be 'd' followed by a node name, e.g. 'dvar'; got {grad_name!r}")
        name = grad_name[1:]
        expected = self.numerical_gradient(name)
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != expected.shape:
            print(f"{grad_name}: WRONG shape {grad.shape}; {name} has shape {expected.shape}")
            self.errors[grad_name] = float("inf")
            return False
        error = rel_error(grad, expected)
        self.errors[grad_name] = error
        ok = bool(error < self.tol)
        if ok:
            print(f"{grad_name}: ok (relative error below {self.tol:.0e})")
        else:
            print(f"{grad_name}: WRONG (relative error {error:.1e})")
        return ok

    def report(self, namespace, grad_names):
        """
        Check every gradient of `grad_names` that `namespace` holds, in order, and print one verdict per name
        ("not computed yet" for a name it does not hold), so that a backward pass can be checked while it is
        still being written.

        Inputs:
        - namespace: dict name -> value, e.g. the notebook's globals()
        - grad_names: sequence of gradient names ('d' followed by an input or node name)

        Returns:
        - verdicts: dict grad_name -> bool (False for a gradient not computed yet)
        """
        verdicts = {}
        for grad_name in grad_names:
            if grad_name in namespace:
                verdicts[grad_name] = self(grad_name, namespace[grad_name])
            else:
                print(f"{grad_name}: not computed yet")
                verdicts[grad_name] = False
        return verdicts


# The graph of BatchNormalization.ipynb, section 3, for drawing: node -> (x, y, label); the inputs are grey.
GRAPH_NODES = {
    "x":       (0.0, 0.0, r"$x$"),
    "mu":      (3.0, 3.0, r"$\mu = \sum_i x_i\,/N$"),
    "xmu":     (6.0, 0.0, r"$\mathrm{xmu} = x - \mu$"),
    "sq":      (8.0, 3.0, r"$\mathrm{sq} = \mathrm{xmu}^2$"),
    "var":     (12.5, 3.0, r"$\sigma^2 = \sum_i \mathrm{sq}_i\,/N$"),
    "std":     (17.0, 3.0, r"$\mathrm{std} = \sqrt{\sigma^2 + \epsilon}$"),
    "inv_std": (21.5, 3.0, r"$\mathrm{inv\_std} = 1/\mathrm{std}$"),
    "x_hat":   (21.5, 0.0, r"$\hat{x} = \mathrm{xmu} \cdot \mathrm{inv\_std}$"),
    "gx":      (26.0, 0.0, r"$\mathrm{gx} = \gamma\hat{x}$"),
    "out":     (30.5, 0.0, r"$y = \mathrm{gx} + \beta$"),
    "gamma":   (26.0, 3.0, r"$\gamma$"),
    "beta":    (30.5, 3.0, r"$\beta$"),
}
# (source, target, colour, gradient): each of the three paths from x to x_hat has its own colour; `gradient` is
# the name of what flows back along the edge: dL/d(source) through this use of the source.
GRAPH_EDGES = [
    ("x", "xmu", "tab:blue", "dx_from_xmu"), ("xmu", "x_hat", "tab:blue", "dxmu_from_x_hat"),
    ("x", "mu", "tab:orange", "dx_from_mu"), ("mu", "xmu", "tab:orange", "dmu"),
    ("xmu", "sq", "tab:green", "dxmu_from_sq"), ("sq", "var", "tab:green", "dsq"),
    ("var", "std", "tab:green", "dvar"), ("std", "inv_std", "tab:green", "dstd"),
    ("inv_std", "x_hat", "tab:green", "dinv_std"),
    ("x_hat", "gx", "0.3", "dx_hat"), ("gamma", "gx", "0.3", "dgamma"),
    ("gx", "out", "0.3", "dgx"), ("beta", "out", "0.3", "dbeta"),
]
GRADIENT_NAMES = tuple(edge[3] for edge in GRAPH_EDGES)


def _column_text(value, column):
    """One feature column of a value as text: a vector of N entries, or the one number of a (D,) value."""
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 2:
        return "[" + ", ".join(f"{v:.2g}" for v in value[:, column]) + "]"
    if value.ndim == 1:
        return f"{value[column]:.3g}"
    return f"{float(value):.3g}"


def draw_bn_graph(values, gradients=None, column=0, title=None, ax=None):
    """
    Draw batch norm's forward graph (GRAPH_NODES, GRAPH_EDGES) for one feature column: above each edge the value
    that flows forward along it (green), and, given `gradients`, below it the gradient that flows back (red),
    as in Kratzert's figure of the staged backward pass. Nothing is computed here: the numbers are those given.

    Inputs:
    - values: dict name -> array, the forward values of the inputs and nodes ('x', 'gamma', 'beta' and the nodes
      of GRAPH_NODES; e.g. {**check.inputs, **check.values} of a NodeCheck); (N, D) arrays are shown as the N
      entries of `column`, (D,) arrays as their entry `column`
    - gradients: None, or dict name -> array holding the names of GRADIENT_NAMES (any missing one is drawn "?")
    - column: the feature column shown
    - title: optional title
    - ax: a matplotlib Axes to draw on (default: a new figure)

    Returns:
    - ax
    """
    import matplotlib.pyplot as plt

    missing = [name for name in GRAPH_NODES if name not in values]
    if missing:
        raise ValueError(f"values has no {', '.join(missing)}; it needs every node and input of the graph: "
                         f"{', '.join(GRAPH_NODES)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(22, 5.5))
    ax.set(xlim=(-1.0, 32.2), ylim=(-1.6, 3.8))
    ax.axis("off")
    boxes = {}
    for name, (x, y, label) in GRAPH_NODES.items():
        is_input = name in ("x", "gamma", "beta")
        boxes[name] = ax.text(x, y, label, ha="center", va="center", fontsize=12, zorder=3,
                              bbox=dict(boxstyle="round,pad=0.4", facecolor="0.9" if is_input else "white",
                                        edgecolor="0.2"))
    ax.figure.canvas.draw()  # lay the boxes out so that the arrows can end on their edges
    for source, target, colour, gradient in GRAPH_EDGES:
        ax.annotate("", xy=(0.5, 0.5), xycoords=boxes[target], xytext=(0.5, 0.5), textcoords=boxes[source],
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=2, shrinkA=3, shrinkB=3,
                                    patchA=boxes[source].get_bbox_patch(), patchB=boxes[target].get_bbox_patch()))
        (x0, y0, _), (x1, y1, _) = GRAPH_NODES[source], GRAPH_NODES[target]
        angle = np.arctan2(y1 - y0, x1 - x0)
        if angle > np.pi / 2 + 1e-9 or angle < -np.pi / 2 - 1e-9:  # keep the text readable, left to right
            angle -= np.copysign(np.pi, angle)
        normal = np.array([-np.sin(angle), np.cos(angle)])  # the side "above" the text's baseline
        labels = [(_column_text(values[source], column), "green", 1)]
        if gradients is not None:
            text = _column_text(gradients[gradient], column) if gradient in gradients else "?"
            labels.append((f"{gradient}: {text}", "red", -1))
        for text, text_colour, side in labels:
            ax.annotate(text, xy=((x0 + x1) / 2, (y0 + y1) / 2), xytext=tuple(side * 7 * normal),
                        textcoords="offset points", color=text_colour, fontsize=8, ha="center",
                        va="bottom" if side > 0 else "top", rotation=np.degrees(angle), rotation_mode="anchor")
    for colour, label in [("tab:blue", r"direct path $x \to x - \mu \to \hat{x}$"),
                          ("tab:orange", r"path through $\mu$"), ("tab:green", r"path through $\sigma^2$"),
                          ("green", "forward value (column %d)" % column)] + \
            ([("red", "gradient flowing back")] if gradients is not None else []):
        ax.plot([], [], color=colour, lw=2, label=label)
    ax.legend(loc="lower left", fontsize=10, frameon=False, ncol=5)
    if title:
        ax.set_title(title, fontsize=12)
    return ax
