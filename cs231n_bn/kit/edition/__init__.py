"""The student edition: ``release`` turns this solution edition into a hand-out, ``check`` grades it locally.

Modules:
  markers    find the solution regions of one source text, turn them into stubs, put them back
  notebooks  the same for notebooks: code-cell regions, inline-question answers, outputs that show solutions
  tree       the files of an edition, the leak scan, and writing a tree atomically
  similarity the leak scan's second half: shipped code that implements a solution region, names aside
  release    ``python -m cs231n_bn release``: build the student edition
  student_files   the files written for students: README.md (student_readme) and requirements.txt
  student_readme  the student's README, its list of what each notebook asks for read from the stubs
  hosted     the set-up cell first in every student notebook, for Colab and hubs without the repository
  wheel      ``release --wheel``: the student edition's wheel
  checks     the self-checks, one per student function, in notebook order
  check      ``python -m cs231n_bn check``: run the self-checks and print one line per function
"""
