"""Load the kit's data sets as NumPy arrays, in the style of cs231n's data_utils.

    data = get_data('fashion-mnist')            # X_train (55000, 1, 28, 28), X_val (5000, ...), X_test (10000, ...)
    data = get_CIFAR10_data()                   # X_train (49000, 3, 32, 32), X_val (1000, ...), X_test (1000, ...)
    for k, v in data.items(): print(k, v.shape)

The files come from `python -m cs231n_bn fetch NAME` (see cs231n_bn/kit/data/fetch.py) and are verified against
the digests in cs231n_bn/kit/data/sources.py every time they are loaded. Nothing is unpickled: MNIST-style data
is read from IDX files, CIFAR-10 from its binary version.
"""

import numpy as np

from .kit.data.formats import parse_cifar_batch, parse_idx_pair
from .kit.data.sources import DATASETS, get_spec
from .kit.data.store import DatasetNotFoundError, dataset_directory, fetch_command, read_verified

# (num_training, num_validation, num_test) when not given.
DEFAULT_SPLITS = {
    "fashion-mnist": (55000, 5000, 10000),
    "mnist": (55000, 5000, 10000),
    "cifar10": (49000, 1000, 1000),
}

# Label i of data set `name` is CLASS_NAMES[name][i].
CLASS_NAMES = {name: list(spec.class_names) for name, spec in DATASETS.items()}


def get_class_names(name):
    """The class names of data set `name` ('fashion-mnist', 'mnist' or 'cifar10'): label i is names[i]."""
    return list(get_spec(name).class_names)


def load_dataset(name, root=None):
    """Load a whole data set as stored: the official training and test sets, uint8 pixels.

    Inputs:
    - name: 'fashion-mnist', 'mnist' or 'cifar10'.
    - root: the data root (default: $CS231N_BN_DATA, else the repository's datasets/).

    Returns a tuple (X_train, y_train, X_test, y_test):
    - X_train: uint8 array of shape (N_train, C, H, W), values 0..255; C = 1 for the MNISTs (28x28),
      C = 3 (R, G, B) for CIFAR-10 (32x32). N_train = 60000 for the MNISTs, 50000 for CIFAR-10.
    - y_train: int64 array of shape (N_train,), labels 0..9.
    - X_test: uint8 array of shape (N_test, C, H, W); N_test = 10000.
    - y_test: int64 array of shape (N_test,).

    Raises DatasetNotFoundError (a FileNotFoundError) naming the command that fetches a missing data set,
    ChecksumError if a file is not the genuine one, FormatError if a file is malformed.
    """
    spec = get_spec(name)
    directory = dataset_directory(spec, root)
    missing = [f.name for f in spec.files if not (directory / f.name).is_file()]
    if missing:
        what = "is not" if len(missing) == len(spec.files) else f"is incomplete ({', '.join(missing)} missing)"
        raise DatasetNotFoundError(f"{spec.title} {what} in {directory}; fetch it with: "
                                   f"{fetch_command(spec.name, root)}")
    files = {f.name: f for f in spec.files}

    def read(file_name):
        return read_verified(files[file_name], directory, spec.name, root)

    def path(file_name):
        return str(directory / file_name)

    if spec.layout == "idx":
        num_classes = len(spec.class_names)
        X_train, y_train = parse_idx_pair(read("train-images-idx3-ubyte"), read("train-labels-idx1-ubyte"),
                                          num_classes=num_classes,
                                          names=(path("train-images-idx3-ubyte"), path("train-labels-idx1-ubyte")))
        X_test, y_test = parse_idx_pair(read("t10k-images-idx3-ubyte"), read("t10k-labels-idx1-ubyte"),
                                        num_classes=num_classes,
                                        names=(path("t10k-images-idx3-ubyte"), path("t10k-labels-idx1-ubyte")))
        return X_train, y_train, X_test, y_test
    if spec.layout == "cifar-binary":
        read("batches.meta.txt")  # verified like the rest, though the class names come from the spec
        batches = [parse_cifar_batch(read(f"data_batch_{i}.bin"), path(f"data_batch_{i}.bin")) for i in range(1, 6)]
        X_test, y_test = parse_cifar_batch(read("test_batch.bin"), path("test_batch.bin"))
        return (np.concatenate([X for X, _ in batches]), np.concatenate([y for _, y in batches]), X_test, y_test)
    raise ValueError(f"data set {spec.name!r} has unknown layout {spec.layout!r}; expected 'idx' or 'cifar-binary'")


def get_data(name, num_training=None, num_validation=None, num_test=None, subtract_mean=True, dtype=np.float32,
             flatten=False, seed=None, root=None):
    """Load a data set and split it into training, validation and test sets, ready for a classifier.

    Pixel values are scaled from 0..255 to [0, 1] first; then, with subtract_mean, the per-pixel mean of the
    TRAINING split (shape (C, H, W)) is subtracted from all three splits. (cs231n's CIFAR-10 loader
    subtracted the mean of 0..255 values; here every value is 1/255 of that.)

    The validation set is the LAST num_validation examples of the official training set (as in cs231n, where
    num_training + num_validation = 49000 + 1000 is the whole training set). The training set is taken from
    the examples before those: the first num_training of them when seed is None, otherwise a random subset
    drawn reproducibly from `seed`. The test set is the first num_test official test examples, or a random
    subset drawn from the same seed. Random subsets keep the data set's order.

    Inputs:
    - name: 'fashion-mnist', 'mnist' or 'cifar10'.
    - num_training, num_validation, num_test: split sizes; None takes the default
      (MNISTs: 55000 / 5000 / 10000; CIFAR-10: 49000 / 1000 / 1000).
    - subtract_mean: subtract the training split's per-pixel mean from every split.
    - dtype: floating-point dtype of the images.
    - flatten: return images as rows of length D = C * H * W instead of (C, H, W) arrays.
    - seed: None for the first examples; an int (or np.random.SeedSequence) for a reproducible random subset.
    - root: the data root (default: $CS231N_BN_DATA, else the repository's datasets/).

    Returns a dict with keys:
    - 'X_train': (num_training, C, H, W), or (num_training, D) if flatten; C = 1 for the MNISTs, 3 for CIFAR-10.
    - 'y_train': int64 labels of shape (num_training,).
    - 'X_val', 'y_val': likewise with num_validation rows.
    - 'X_test', 'y_test': likewise with num_test rows.

    Raises DatasetNotFoundError (a FileNotFoundError) with the fetch command when the data set is missing;
    ValueError / TypeError naming a bad argument.
    """
    spec = get_spec(name)
    defaults = DEFAULT_SPLITS[spec.name]
    num_training = _count("num_training", defaults[0] if num_training is None else num_training, minimum=1)
    num_validation = _count("num_validation", defaults[1] if num_validation is None else num_validation)
    num_test = _count("num_test", defaults[2] if num_test is None else num_test)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating-point type such as np.float32 or np.float64, got {dtype}")

    X_all, y_all, X_test_all, y_test_all = load_dataset(spec.name, root)
    pool = len(X_all) - num_validation  # training examples may come from [0, pool); validation is [pool, N)
    if num_training + num_validation > len(X_all):
        raise ValueError(f"num_training + num_validation = {num_training} + {num_validation} exceeds the "
                         f"{len(X_all)} training examples of {spec.title}")
    if num_test > len(X_test_all):
        raise ValueError(f"num_test = {num_test} exceeds the {len(X_test_all)} test examples of {spec.title}")

    if seed is None:
        train_idx, test_idx = slice(0, num_training), slice(0, num_test)
    else:
        rng = np.random.default_rng(seed)
        train_idx = np.sort(rng.choice(pool, size=num_training, replace=False))
        test_idx = np.sort(rng.choice(len(X_test_all), size=num_test, replace=False))
    val_idx = slice(pool, len(X_all))

    data, uint8 = {}, {}
    for split, X, y, idx in (("train", X_all, y_all, train_idx), ("val", X_all, y_all, val_idx),
                             ("test", X_test_all, y_test_all, test_idx)):
        uint8[split] = X[idx]
        data[f"X_{split}"] = np.divide(uint8[split], dtype.type(255), dtype=dtype)  # 0..255 -> [0, 1]
        data[f"y_{split}"] = y[idx].astype(np.int64)

    if subtract_mean:
        # The per-pixel mean of the scaled training images, from an exact integer sum of the pixel values.
        total = uint8["train"].sum(axis=0, dtype=np.int64)
        mean_image = (total / (255.0 * num_training)).astype(dtype)
        for split in ("train", "val", "test"):
            data[f"X_{split}"] -= mean_image
    if flatten:
        for split in ("train", "val", "test"):
            X = data[f"X_{split}"]
            data[f"X_{split}"] = X.reshape(X.shape[0], -1 if X.shape[0] else int(np.prod(X.shape[1:])))
    return {key: data[key] for key in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")}


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, **kwargs):
    """cs231n's loader, reading CIFAR-10's binary version: `get_data('cifar10', ...)`.

    Inputs: as get_data (num_training, num_validation, num_test, subtract_mean, and by keyword dtype,
    flatten, seed, root). Note that pixels are scaled to [0, 1] before the mean is subtracted.

    Returns a dict with 'X_train' (num_training, 3, 32, 32), 'y_train' (num_training,), 'X_val'
    (num_validation, 3, 32, 32), 'y_val' (num_validation,), 'X_test' (num_test, 3, 32, 32), 'y_test' (num_test,).
    """
    return get_data("cifar10", num_training=num_training, num_validation=num_validation, num_test=num_test,
                    subtract_mean=subtract_mean, **kwargs)


def _count(argument, value, minimum=0):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{argument} must be >= {minimum}, got {value}")
    return int(value)
