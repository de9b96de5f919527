"""Data sets for the kit: what they are (sources), how they are stored and verified (store), fetched
(download, fetch: `python -m cs231n_bn fetch NAME`) and parsed (formats). Loading for training is in
cs231n_bn.data_utils.
"""

from .formats import FormatError
from .sources import DATASETS, get_spec
from .store import ChecksumError, DatasetNotFoundError, default_root

__all__ = ["DATASETS", "get_spec", "FormatError", "ChecksumError", "DatasetNotFoundError", "default_root"]
