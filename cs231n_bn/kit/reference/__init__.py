"""Reference outputs: what ``pytest notebooks/NB.ipynb`` (nbval) compares a student's run with.

In the student edition the notebooks ship without outputs; ``release`` keeps the solution run's outputs here,
one file per notebook (``NAME.json``, see ``store``), where no notebook editor writes. The pytest plugin
(``plugin``, loaded by the edition's root conftest.py) runs the cells of the notebook being validated and compares
them with these outputs, matched by cell id. In the solution edition this folder holds no ``.json`` file: each
notebook is its own reference, as in plain nbval.

Modules:
  store   the format of a notebook's reference file: written by the release, read by the plugin
  plugin  the pytest plugin around nbval's collection; ``--executed DIR`` keeps the executed notebooks
"""
