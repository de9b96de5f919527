"""The browser edition: ``python -m cs231n_bn lite --out DIR`` builds a static JupyterLite site of the student
edition (or, with --solution, of the solution edition) that runs with nothing installed.

- command.py: the command line.
- site.py: the site (contents, configuration, JupyterLite's build, the data set).
- pyodide.py: Pyodide's runtime and wheels, each checked before it is shipped; what is fetched, and from where.
- notebooks.py: the notebooks as the site ships them (a note on the browser edition, a last cell that checks).
- wheel.py: the edition's wheel, which the kernel loads as it starts.

What runs in the browser is kit/browser.py.
"""
