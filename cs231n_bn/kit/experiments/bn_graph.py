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
Nothing here computes a normalization: the forward pass is the student's.
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
