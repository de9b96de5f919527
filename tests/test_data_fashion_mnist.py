"""The real Fashion-MNIST, from Debian's dataset-fashion-mnist package, fetched with the network unreachable.

These tests need the package's files (CI installs the package first); without them they are skipped.
"""

import dataclasses
import os
import time

import numpy as np
import pytest

from cs231n_bn.kit.data.fetch import fetch, main
from cs231n_bn.kit.data.sources import DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST
from cs231n_bn.kit.data.store import file_hexdigests
from cs231n_bn.data_utils import get_class_names, get_data, load_dataset
from fixtures.data_fixtures import clear_proxies, closed_port_url

pytestmark = pytest.mark.skipif(
    not os.path.isdir(DEBIAN_FASHION_MNIST_DIR),
    reason=f"{DEBIAN_FASHION_MNIST_DIR} is absent: install the Debian package dataset-fashion-mnist")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A fresh data root holding Fashion-MNIST, fetched with every mirror pointing at a closed local port."""
    root = tmp_path_factory.mktemp("data")
    offline = dataclasses.replace(FASHION_MNIST, mirrors=(closed_port_url(), closed_port_url()))
    lines = []
    fetch(offline, root, allow_apt=False, progress=False, log=lines.append)
    assert not any("downloading" in line for line in lines)
    return root


def test_fetch_works_without_network_and_files_match_their_digests(root):
    for spec in FASHION_MNIST.files:
        path = root / "fashion-mnist" / spec.name
        assert path.stat().st_size == spec.size
        assert file_hexdigests(path, ["sha256"])["sha256"] == spec.digests["sha256"]


def test_cli_fetch_into_a_fresh_root(tmp_path, monkeypatch, capsys):
    clear_proxies(monkeypatch)
    assert main(["fashion-mnist", "--root", str(tmp_path), "--no-apt", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"from {DEBIAN_FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz (Debian package dataset-fashion-mnist)" in out
    assert "Fashion-MNIST: ready, 4 files verified" in out


def test_official_sets(root):
    X_train, y_train, X_test, y_test = load_dataset("fashion-mnist", root=root)
    assert X_train.shape == (60000, 1, 28, 28) and X_test.shape == (10000, 1, 28, 28)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    assert X_train.min() == 0 and X_train.max() == 255
    assert 60 < X_train.mean() < 80  # Fashion-MNIST's mean pixel is about 72.9 (0.286 after scaling)
    assert len(get_class_names("fashion-mnist")) == 10


def test_get_data_defaults_and_speed(root):
    # CPU time of this process, so that other work on the machine does not make the check flaky.
    start = time.process_time()
    data = get_data("fashion-mnist", root=root)
    elapsed = time.process_time() - start
    assert elapsed < 2.0, f"loading Fashion-MNIST took {elapsed:.2f} s of CPU time"
    sizes = {key: value.shape for key, value in data.items()}
    assert sizes == {"X_train": (55000, 1, 28, 28), "y_train": (55000,), "X_val": (5000, 1, 28, 28),
                     "y_val": (5000,), "X_test": (10000, 1, 28, 28), "y_test": (10000,)}
    assert data["X_train"].dtype == np.float32 and data["y_train"].dtype == np.int64
    assert np.abs(data["X_train"].mean(axis=0)).max() < 1e-5
    assert data["X_train"].min() >= -1 and data["X_train"].max() <= 1

    raw = get_data("fashion-mnist", subtract_mean=False, root=root)
    X_train, y_train, _, _ = load_dataset("fashion-mnist", root=root)
    assert raw["X_train"].min() == 0.0 and raw["X_train"].max() == 1.0
    np.testing.assert_allclose(raw["X_val"], X_train[-5000:] / 255, rtol=1e-6)
    np.testing.assert_array_equal(raw["y_val"], y_train[-5000:])
