"""cs231n_bn: batch normalization end to end in NumPy, in the style of cs231n assignment 2."""

__version__ = "0.1.0"

# In the browser edition the files you complete are the site's, not the installed copy's (kit/browser.py).
from .kit.browser import package_path as _package_path

__path__ = _package_path(__path__)
