"""get_data / get_CIFAR10_data / load_dataset on tiny generated data sets registered under the real names."""

import numpy as np
import pytest

from cs231n_bn import data_utils
from cs231n_bn.kit.data import sources
from cs231n_bn.kit.data.fetch import fetch
from cs231n_bn.kit.data.store import ChecksumError, DatasetNotFoundError
from cs231n_bn.data_utils import get_CIFAR10_data, get_class_names, get_data, load_dataset
from fixtures.data_fixtures import make_cifar_dataset, make_idx_dataset


def install(spec, archives, root):
    """Put a generated data set in place through fetch, from archives dropped into its directory."""
    directory = root / spec.name
    directory.mkdir(parents=True)
    for name, data in archives.items():
        (directory / name).write_bytes(data)
    fetch(spec, root, allow_apt=False, allow_download=False, log=lambda line: None)


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    spec, archives, raw = make_idx_dataset("mnist", n_train=60, n_test=20)
    monkeypatch.setitem(sources.DATASETS, "mnist", spec)
    install(spec, archives, tmp_path)
    return tmp_path, raw["arrays"]


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    spec, archives, raw = make_cifar_dataset(per_batch=20)
    monkeypatch.setitem(sources.DATASETS, "cifar10", spec)
    install(spec, archives, tmp_path)
    return tmp_path, raw["arrays"]


def test_splits_scaling_and_mean(tiny_mnist):
    root, (X_all, y_all, X_test_all, y_test_all) = tiny_mnist
    data = get_data("mnist", num_training=40, num_validation=10, num_test=15, subtract_mean=False, root=root)
    assert list(data) == ["X_train", "y_train", "X_val", "y_val", "X_test", "y_test"]
    assert data["X_train"].shape == (40, 1, 28, 28) and data["X_train"].dtype == np.float32
    for key in ("y_train", "y_val", "y_test"):
        assert data[key].dtype == np.int64
    # Training: the first 40; validation: the LAST 10 of the official training set; test: the first 15.
    np.testing.assert_allclose(data["X_train"][:, 0], X_all[:40] / 255, rtol=1e-6)
    np.testing.assert_allclose(data["X_val"][:, 0], X_all[-10:] / 255, rtol=1e-6)
    np.testing.assert_allclose(data["X_test"][:, 0], X_test_all[:15] / 255, rtol=1e-6)
    np.testing.assert_array_equal(data["y_val"], y_all[-10:])
    assert data["X_train"].min() == 0 and data["X_train"].max() == 1

    centred = get_data("mnist", num_training=40, num_validation=10, num_test=15, root=root)
    mean_image = (X_all[:40] / 255).mean(axis=0)
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(centred[f"X_{split}"][:, 0], data[f"X_{split}"][:, 0] - mean_image, atol=1e-6)
    assert np.abs(centred["X_train"].mean(axis=0)).max() < 1e-6


def test_flatten_and_dtype(tiny_mnist):
    root, _ = tiny_mnist
    data = get_data("mnist", num_training=30, num_validation=5, num_test=5, flatten=True, dtype=np.float64,
                    root=root)
    assert data["X_train"].shape == (30, 784) and data["X_val"].shape == (5, 784)
    assert data["X_test"].dtype == np.float64


def test_empty_splits_flatten_to_zero_rows(tiny_mnist):
    root, _ = tiny_mnist
    data = get_data("mnist", num_training=30, num_validation=0, num_test=0, flatten=True, root=root)
    assert data["X_val"].shape == (0, 784) and data["X_test"].shape == (0, 784)
    assert data["y_test"].shape == (0,)


def test_seed_draws_a_reproducible_subset_disjoint_from_validation(tiny_mnist):
    root, (X_all, _, _, _) = tiny_mnist
    kwargs = dict(num_training=20, num_validation=10, num_test=5, subtract_mean=False, flatten=True, root=root)
    a, b = get_data("mnist", seed=3, **kwargs), get_data("mnist", seed=3, **kwargs)
    c, first = get_data("mnist", seed=4, **kwargs), get_data("mnist", **kwargs)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["X_train"], c["X_train"])
    assert not np.array_equal(a["X_train"], first["X_train"])
    np.testing.assert_array_equal(a["X_val"], first["X_val"])  # validation is always the end of training
    rows = {row.tobytes() for row in (X_all[:50].reshape(50, -1) / 255).astype(np.float32)}
    assert all(row.tobytes() in rows for row in a["X_train"])  # drawn from the 50 before validation


def test_bad_arguments_are_named(tiny_mnist):
    root, _ = tiny_mnist
    with pytest.raises(ValueError, match=r"num_training \+ num_validation = 55 \+ 10 exceeds the 60"):
        get_data("mnist", num_training=55, num_validation=10, root=root)
    with pytest.raises(ValueError, match="num_test = 21 exceeds the 20 test examples"):
        get_data("mnist", num_training=10, num_validation=10, num_test=21, root=root)
    with pytest.raises(ValueError, match="num_training must be >= 1, got 0"):
        get_data("mnist", num_training=0, root=root)
    with pytest.raises(TypeError, match="num_validation must be an integer, got 1.5"):
        get_data("mnist", num_validation=1.5, root=root)
    with pytest.raises(TypeError, match="num_test must be an integer, got True"):
        get_data("mnist", num_test=True, root=root)
    with pytest.raises(TypeError, match="dtype must be a floating-point type.*int32"):
        get_data("mnist", dtype=np.int32, root=root)
    with pytest.raises(ValueError, match="unknown data set 'cifar-100'; expected one of: fashion-mnist, mnist, cifar10"):
        get_data("cifar-100")
    with pytest.raises(TypeError, match="num_trainig"):
        get_data("mnist", num_trainig=10)


def test_missing_data_set_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CS231N_BN_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as info:
        get_data("mnist")
    assert isinstance(info.value, FileNotFoundError)
    assert str(info.value).endswith("fetch it with: python -m cs231n_bn fetch mnist")
    other = tmp_path / "elsewhere"
    with pytest.raises(FileNotFoundError, match=f"python -m cs231n_bn fetch cifar10 --root {other}$"):
        get_CIFAR10_data(root=other)


def test_incomplete_data_set_lists_what_is_missing(tiny_mnist):
    root, _ = tiny_mnist
    (root / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"incomplete \(t10k-labels-idx1-ubyte missing\)"):
        load_dataset("mnist", root=root)


def test_damaged_file_is_refused_on_load(tiny_mnist):
    root, _ = tiny_mnist
    path = root / "mnist" / "train-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte: sha256 mismatch.*fetch the data set again"):
        get_data("mnist", num_training=10, num_validation=10, root=root)


def test_gzip_bomb_in_place_of_a_kept_file_is_refused_without_inflating_it(tiny_mnist):
    import tracemalloc

    from cs231n_bn.kit.data.formats import FormatError
    from fixtures.data_fixtures import gzip_bytes

    root, _ = tiny_mnist
    (root / "mnist" / "train-labels-idx1-ubyte").write_bytes(gzip_bytes(bytes(48 << 20), level=1))
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=r"train-labels-idx1-ubyte: decompresses to more than the 68 bytes.*"
                                              r"fetch the data set again with: python -m cs231n_bn fetch mnist"):
            load_dataset("mnist", root=root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB used to refuse the bomb"


def test_cifar10_binary_loader_and_cs231n_alias(tiny_cifar):
    root, (X_all, y_all, X_test_all, y_test_all) = tiny_cifar
    X_train, y_train, X_test, y_test = load_dataset("cifar10", root=root)
    assert X_train.shape == (100, 3, 32, 32) and X_test.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(X_train, X_all)
    np.testing.assert_array_equal(y_test, y_test_all)
    data = get_CIFAR10_data(num_training=80, num_validation=20, num_test=10, root=root, subtract_mean=False)
    assert data["X_train"].shape == (80, 3, 32, 32) and data["X_val"].shape == (20, 3, 32, 32)
    np.testing.assert_allclose(data["X_val"], X_all[80:] / 255, rtol=1e-6)
    flat = get_CIFAR10_data(num_training=80, num_validation=20, num_test=10, root=root, flatten=True)
    assert flat["X_train"].shape == (80, 3072)


def test_default_split_sizes_follow_cs231n():
    assert data_utils.DEFAULT_SPLITS == {"fashion-mnist": (55000, 5000, 10000), "mnist": (55000, 5000, 10000),
                                         "cifar10": (49000, 1000, 1000)}


def test_class_names():
    assert get_class_names("fashion-mnist")[0] == "T-shirt/top" and get_class_names("fashion-mnist")[9] == "Ankle boot"
    assert get_class_names("mnist") == [str(d) for d in range(10)]
    assert get_class_names("cifar10")[:2] == ["airplane", "automobile"]
    assert all(len(names) == 10 for names in data_utils.CLASS_NAMES.values())
