"""Experiments shared by the notebooks and the command line (training comparisons, the paper reproduction)."""
