"""Predictions written before an experiment runs, and set beside its result afterwards.

A notebook asks before it tells: the student writes what they expect (a choice from a list, or a number) and one
line of why, in a cell of their own, before the experiment's cell; after the run the notebook prints the
prediction beside what the run showed. A prediction is graded for being there, never for being right, so
nothing here asserts that it was right.

    prediction = Prediction("plain", why="no normalization: the activations blow up", choices=("plain", "bn"))
    ...                                   # the experiment
    beside(prediction, observed="plain", detail="plain: 0.10 (chance); bn: 0.81")

Cells that print a prediction show the student's own prediction, so nbval ignores their output (the notebooks mark
them ``NBVAL_IGNORE_OUTPUT``). ``beside`` prints the predicted choice or number, not the reasons: the reasons stay
in the student's prediction cell, and the stored outputs of the solution edition, which the student edition keeps
for nbval, never show the reference's reasons.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Prediction:
    """A choice (one of ``choices``) or a number (within ``between``), and one line of why.

    Inputs:
    - value: the predicted choice (a str) or number (int or float)
    - why: one line of reasoning, not empty
    - choices: the allowed choices, for a choice; None for a number
    - between: (low, high), the allowed range of a number (inclusive); None for no bounds

    Raises ValueError naming the bad value and what is allowed.
    """

    value: object
    why: str
    choices: tuple = None
    between: tuple = None

    def __post_init__(self):
        if not isinstance(self.why, str) or not self.why.strip():
            raise ValueError(f"why={self.why!r}: write one line of why you expect this (a non-empty string)")
        if self.choices is not None:
            choices = tuple(self.choices)
            object.__setattr__(self, "choices", choices)
            if self.value not in choices:
                raise ValueError(f"prediction {self.value!r}: choose one of {', '.join(map(repr, choices))}")
            return
        number = self.value
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise ValueError(f"prediction {number!r}: write a finite number")
        if self.between is not None:
            low, high = self.between
            if not low <= number <= high:
                raise ValueError(f"prediction {number!r}: must lie between {low:g} and {high:g}")

    def value_text(self):
        """The prediction itself, as text: the choice, or the number."""
        return f"{self.value:g}" if self.choices is None else str(self.value)

    def text(self):
        return f"{self.value_text()} (because: {self.why.strip()})"


def beside(prediction, observed, detail="", tolerance=None):
    """Print the prediction (its choice or number; the reasons stay in the prediction cell) next to the result;
    returns True when they agree (for the student's eyes only).

    Inputs:
    - prediction: a Prediction
    - observed: what the run showed, in the prediction's terms (one of its choices, or a number)
    - detail: the numbers behind ``observed``, one line
    - tolerance: for a number, how far the prediction may be from ``observed`` to count as agreeing (default: 10%
      of |observed|, at least 0.01)
    """
    if not isinstance(prediction, Prediction):
        raise TypeError(f"prediction is a {type(prediction).__name__}; make it with Prediction(value, why=...)")
    if prediction.choices is None:
        if tolerance is None:
            tolerance = max(0.01, 0.1 * abs(observed))
        agrees = abs(prediction.value - observed) <= tolerance
        shown = f"{observed:g}"
    else:
        agrees = prediction.value == observed
        shown = str(observed)
    print(f"you predicted: {prediction.value_text()}")
    print(f"the run shows: {shown}" + (f" ({detail})" if detail else ""))
    print("as you predicted." if agrees else "not what you predicted: what did your reasons (in your prediction cell) "
                                             "leave out?")
    return agrees
