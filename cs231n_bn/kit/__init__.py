"""The kit's machinery, which students never need to open: data sets (download, verification, parsers), the
student edition (release, self-check), the experiments behind the notebooks and commands, training monitors and
atomic file writes."""
