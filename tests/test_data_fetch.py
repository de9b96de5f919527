"""Fetching: sources in order, verification, atomic and resumable downloads, time-outs, apt, the CLI.

Every download goes to a server on 127.0.0.1 that the tests start; the data sets are tiny generated ones
whose specs carry their own digests.
"""

import dataclasses
import gzip
import os
import time

import numpy as np
import pytest

from cs231n_bn.kit.data import fetch as fetch_module
from cs231n_bn.kit.data import sources
from cs231n_bn.kit.data.fetch import DOWNLOAD_DIR, FetchError, apt_install, fetch, main
from cs231n_bn.kit.data.store import ChecksumError, DatasetNotFoundError
from cs231n_bn.data_utils import load_dataset
from fixtures.data_fixtures import (FixtureServer, clear_proxies, closed_port_url, deny_writes, gzip_bytes,
                                    make_cifar_dataset, make_idx_dataset, md5, sha256)


@pytest.fixture(autouse=True)
def _direct_connections(monkeypatch):
    clear_proxies(monkeypatch)


@pytest.fixture
def tiny():
    return make_idx_dataset()


def with_mirrors(spec, *mirrors):
    return dataclasses.replace(spec, mirrors=tuple(mirrors))


def kept_files(directory):
    """Every file in the data set's directory that a loader could open (hidden work files excluded)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) if directory.exists() else []


def quiet_fetch(spec, root, **kwargs):
    """fetch() without progress bars or apt; returns (directory, report lines)."""
    lines = []
    kwargs.setdefault("progress", False)
    kwargs.setdefault("allow_apt", False)
    return fetch(spec, root, log=lines.append, **kwargs), lines


def assert_complete(directory, raw):
    for name, content in raw.items():
        if name != "arrays":
            assert (directory / name).read_bytes() == content, name


def test_fetch_downloads_verifies_and_keeps_decompressed_files(tiny, tmp_path):
    spec, archives, raw = tiny
    with FixtureServer(archives) as server:
        directory, log = quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
        assert directory == tmp_path / "mnist"
        assert_complete(directory, raw)
        assert kept_files(directory) == sorted(f.name for f in spec.files)
        assert not (directory / DOWNLOAD_DIR).exists()  # downloaded archives are not kept
        assert len(server.requests) == 4
        # A second fetch finds everything present and verified, and downloads nothing.
        _, log = quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
        assert len(server.requests) == 4
        assert sum("present, verified" in line for line in log) == 4


def test_downloaded_data_loads(tiny, tmp_path, monkeypatch):
    spec, archives, raw = tiny
    monkeypatch.setitem(sources.DATASETS, "mnist", spec)
    with FixtureServer(archives) as server:
        quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
    X_train, y_train, X_test, y_test = load_dataset("mnist", root=tmp_path)
    for got, want in zip((X_train[:, 0], y_train, X_test[:, 0], y_test), raw["arrays"]):
        np.testing.assert_array_equal(got, want)


def test_failing_mirrors_fall_back_in_turn(tiny, tmp_path):
    spec, archives, raw = tiny
    with FixtureServer(archives) as server:
        mirrors = (server.url("missing"), closed_port_url(), server.url("error"), server.url("ok"))
        directory, log = quiet_fetch(with_mirrors(spec, *mirrors), tmp_path)
        assert_complete(directory, raw)
        text = "\n".join(log)
        assert "HTTP error 404" in text and "HTTP error 500" in text and "cannot connect" in text
        assert [mode for mode, _, _ in server.requests].count("ok") == 4


def test_corrupted_download_is_rejected_and_not_kept(tiny, tmp_path):
    spec, archives, _ = tiny
    with FixtureServer(archives) as server:
        with pytest.raises(FetchError) as info:
            quiet_fetch(with_mirrors(spec, server.url("corrupt")), tmp_path)
    message = str(info.value)
    name = "train-images-idx3-ubyte.gz"
    corrupted = bytearray(archives[name])
    corrupted[len(corrupted) // 2] ^= 0xFF
    # The error names the file, the expected and the actual digest.
    assert f"{name}: md5 mismatch: expected {md5(archives[name])}, got {md5(bytes(corrupted))}" in message
    directory = tmp_path / "mnist"
    assert kept_files(directory) == []
    assert not (directory / DOWNLOAD_DIR).exists()  # nor kept as a download


def test_corrupted_mirror_then_good_one(tiny, tmp_path):
    spec, archives, raw = tiny
    with FixtureServer(archives) as server:
        directory, log = quiet_fetch(with_mirrors(spec, server.url("corrupt"), server.url("ok")), tmp_path)
    assert_complete(directory, raw)
    assert sum("md5 mismatch" in line for line in log) == 4


def test_content_digest_is_checked_after_decompression(tiny, tmp_path):
    spec, archives, raw = tiny
    # An archive whose gzip digest is right but whose content is not what the spec expects.
    archive = spec.archives[1]
    wrong = dataclasses.replace(archive.members[0], digests={"sha256": "0" * 64})
    spec = dataclasses.replace(spec, archives=(dataclasses.replace(archive, members=(wrong,)),))
    with FixtureServer(archives) as server:
        with pytest.raises(FetchError) as info:
            quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
    content = raw["train-labels-idx1-ubyte"]
    assert f"train-labels-idx1-ubyte: sha256 mismatch: expected {'0' * 64}, got {sha256(content)}" in str(info.value)
    assert kept_files(tmp_path / "mnist") == []


def test_truncated_transfer_leaves_no_partial_file_then_resumes(tiny, tmp_path, monkeypatch):
    spec, archives, raw = tiny
    monkeypatch.setitem(sources.DATASETS, "mnist", spec)
    with FixtureServer(archives) as server:
        spec = with_mirrors(spec, server.url("truncate-once"))
        with pytest.raises(FetchError, match=r"transfer interrupted after \d+ of \d+ bytes"):
            quiet_fetch(spec, tmp_path)
        directory = tmp_path / "mnist"
        # Only hidden partial downloads remain, where no loader looks.
        assert kept_files(directory) == []
        parts = sorted(p.name for p in (directory / DOWNLOAD_DIR).iterdir())
        assert parts == sorted(name + ".part" for name in archives)
        with pytest.raises(DatasetNotFoundError, match="python -m cs231n_bn fetch mnist"):
            load_dataset("mnist", root=tmp_path)
        # The retry asks for the rest of each file and gets it.
        quiet_fetch(spec, tmp_path)
        ranges = [header for mode, _, header in server.requests[4:]]
        assert ranges == [f"bytes={len(archives[name]) // 2}-" for name in archives]
    assert_complete(directory, raw)
    assert not (directory / DOWNLOAD_DIR).exists()


def test_retry_restarts_when_the_server_ignores_range(tiny, tmp_path):
    spec, archives, raw = tiny
    with FixtureServer(archives) as server:
        spec = with_mirrors(spec, server.url("truncate-once-norange"))
        with pytest.raises(FetchError):
            quiet_fetch(spec, tmp_path)
        directory, _ = quiet_fetch(spec, tmp_path)
        assert all(header is not None for _, _, header in server.requests[4:])  # resume was asked for ...
    assert_complete(directory, raw)  # ... refused, and the download started over


def test_stale_partial_download_is_discarded_and_restarted(tiny, tmp_path):
    spec, archives, raw = tiny
    staging = tmp_path / "mnist" / DOWNLOAD_DIR
    staging.mkdir(parents=True)
    name = "t10k-labels-idx1-ubyte.gz"
    (staging / (name + ".part")).write_bytes(b"garbage from another file")
    with FixtureServer(archives) as server:
        directory, log = quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
        requests = [(mode, header) for mode, file, header in server.requests if file == name]
    assert requests == [("ok", "bytes=25-"), ("ok", None)]  # resumed, failed its check, fetched afresh
    assert any("md5 mismatch" in line for line in log)
    assert_complete(directory, raw)


@pytest.mark.parametrize("mode", ["slow-headers", "slow-body"])
def test_slow_server_times_out_with_a_clear_message(tiny, tmp_path, mode):
    spec, archives, _ = tiny
    spec = dataclasses.replace(spec, archives=spec.archives[:1])
    with FixtureServer(archives, delay=10) as server:
        start = time.monotonic()
        with pytest.raises(FetchError, match=r"timed out.* 0\.3 s") as info:
            quiet_fetch(with_mirrors(spec, server.url(mode)), tmp_path, timeout=0.3)
        assert time.monotonic() - start < 5
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert kept_files(tmp_path / "mnist") == []


def test_local_package_directory_is_used_before_any_mirror(tiny, tmp_path):
    spec, archives, raw = tiny
    package_dir = tmp_path / "package"
    package_dir.mkdir()
    for name in archives:
        # Compressed differently from the mirrors' files (so their MD5s differ); same content.
        (package_dir / name).write_bytes(gzip_bytes(gzip.decompress(archives[name]), mtime=123, level=1))
        assert md5((package_dir / name).read_bytes()) != md5(archives[name])
    spec = dataclasses.replace(spec, debian_dir=str(package_dir), debian_package="dataset-tiny",
                               mirrors=(closed_port_url(),))
    directory, log = quiet_fetch(spec, tmp_path / "root")
    assert_complete(directory, raw)
    assert all("Debian package dataset-tiny" in line for line in log if "from" in line)


def test_local_package_with_wrong_content_falls_through_to_download(tiny, tmp_path):
    spec, archives, raw = tiny
    package_dir = tmp_path / "package"
    package_dir.mkdir()
    for name in archives:
        (package_dir / name).write_bytes(gzip_bytes(b"not the data"))
    with FixtureServer(archives) as server:
        spec = dataclasses.replace(spec, debian_dir=str(package_dir), mirrors=(server.url("ok"),))
        directory, log = quiet_fetch(spec, tmp_path / "root")
    assert_complete(directory, raw)
    assert sum("rejected" in line and "size mismatch" in line for line in log) == 4


def test_archives_dropped_into_the_data_set_directory_are_used(tiny, tmp_path):
    spec, archives, raw = tiny
    directory = tmp_path / "mnist"
    directory.mkdir()
    for name, data in archives.items():
        (directory / name).write_bytes(data)
    directory, _ = quiet_fetch(with_mirrors(spec, closed_port_url()), tmp_path)
    assert_complete(directory, raw)


def test_a_wrong_kept_file_is_removed_and_fetched_again(tiny, tmp_path):
    spec, archives, raw = tiny
    with FixtureServer(archives) as server:
        spec = with_mirrors(spec, server.url("ok"))
        directory, _ = quiet_fetch(spec, tmp_path)
        (directory / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 10)
        _, log = quiet_fetch(spec, tmp_path)
    assert any(line.startswith("  t10k-labels-idx1-ubyte: present but wrong, removed") for line in log)
    assert_complete(directory, raw)


def test_missing_package_directory_is_installed_with_apt(tiny, tmp_path):
    spec, archives, raw = tiny
    package_dir = tmp_path / "package"
    calls = []

    def fake_apt(package, log):
        calls.append(package)
        package_dir.mkdir()
        for name, data in archives.items():
            (package_dir / name).write_bytes(data)
        return True

    spec = dataclasses.replace(spec, debian_dir=str(package_dir), debian_package="dataset-tiny",
                               mirrors=(closed_port_url(),))
    directory, _ = quiet_fetch(spec, tmp_path / "root", allow_apt=True, apt=fake_apt)
    assert calls == ["dataset-tiny"]  # once, not once per file
    assert_complete(directory, raw)


def test_apt_is_not_run_when_not_allowed(tiny, tmp_path):
    spec, archives, _ = tiny
    spec = dataclasses.replace(spec, debian_dir=str(tmp_path / "absent"), debian_package="dataset-tiny",
                               mirrors=(closed_port_url(),))

    def forbidden(package, log):
        raise AssertionError("apt-get must not run")

    with pytest.raises(FetchError, match=r"not present \(Debian package dataset-tiny\)"):
        quiet_fetch(spec, tmp_path / "root", allow_apt=False, apt=forbidden)


class FakeRun:
    def __init__(self, codes):
        self.codes, self.commands = list(codes), []

    def __call__(self, argv, **kwargs):
        assert kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"
        self.commands.append(argv)
        return type("Completed", (), {"returncode": self.codes.pop(0)})()


def test_apt_install_updates_and_retries_once_after_a_failure():
    run = FakeRun([100, 0, 0])
    assert apt_install("dataset-fashion-mnist", lambda line: None, run=run, prefix=[])
    assert run.commands == [["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"],
                            ["apt-get", "update", "-q"],
                            ["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"]]
    run = FakeRun([100, 0, 100])
    assert not apt_install("pkg", lambda line: None, run=run, prefix=["sudo", "-n"])
    assert len(run.commands) == 3 and run.commands[1][:2] == ["sudo", "-n"]


def test_apt_install_gives_up_when_it_would_prompt_for_a_password(monkeypatch):
    monkeypatch.setattr(fetch_module, "apt_command_prefix", lambda: None)
    lines, run = [], FakeRun([])
    assert apt_install("pkg", lines.append, run=run) is False
    # Nothing is run, and the message says how to install the package by hand.
    assert run.commands == []
    assert any("sudo apt-get install pkg" in line for line in lines)


def test_cifar_archive_is_unpacked_and_verified(tmp_path, monkeypatch):
    spec, archives, raw = make_cifar_dataset()
    monkeypatch.setitem(sources.DATASETS, "cifar10", spec)
    with FixtureServer(archives) as server:
        directory, _ = quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
    assert_complete(directory, raw)
    X_train, y_train, X_test, y_test = load_dataset("cifar10", root=tmp_path)
    for got, want in zip((X_train, y_train, X_test, y_test), raw["arrays"]):
        np.testing.assert_array_equal(got, want)


def test_cifar_archive_without_a_member_is_rejected(tmp_path):
    spec, archives, _ = make_cifar_dataset()
    archive = spec.archives[0]
    extra = dataclasses.replace(archive.members[0], name="data_batch_6.bin")
    spec = dataclasses.replace(spec, archives=(dataclasses.replace(archive, members=archive.members + (extra,)),))
    with FixtureServer(archives) as server:
        with pytest.raises(FetchError, match="no regular file cifar-10-batches-bin/data_batch_6.bin"):
            quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)


def test_cifar_meta_text_is_checked_line_by_line(tmp_path):
    spec, archives, raw = make_cifar_dataset()
    directory = tmp_path / "cifar10"
    with FixtureServer(archives) as server:
        quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
        (directory / "batches.meta.txt").write_text("airplane\ncar\n")
        _, log = quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path)
    assert any("batches.meta.txt: present but wrong" in line and "lines mismatch" in line for line in log)
    assert_complete(directory, raw)


# The command line.

def fixture_datasets(server, fail=()):
    specs = {}
    for name, (spec, archives, _) in {"mnist": make_idx_dataset("mnist", seed=1),
                                      "fashion-mnist": make_idx_dataset("fashion-mnist", seed=2),
                                      "cifar10": make_cifar_dataset()}.items():
        # Each data set's files under its own path, as the MNISTs share file names.
        server.files.update({f"{name}/{file}": data for file, data in archives.items()})
        specs[name] = with_mirrors(spec, server.url("missing" if name in fail else "ok") + f"{name}/")
    return specs


def test_cli_rejects_an_unknown_name_listing_the_allowed_ones(capsys):
    assert main(["cifar100", "--root", "unused"]) == 2
    err = capsys.readouterr().err
    assert "unknown data set 'cifar100'" in err and "fashion-mnist, mnist, cifar10, all" in err


def test_cli_usage_errors_return_2(capsys):
    assert main([]) == 2
    assert main(["mnist", "--timeout", "0"]) == 2
    assert "--timeout must be a positive number" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_cli_all_fetches_each_data_set(tmp_path, capsys):
    with FixtureServer({}) as server:
        datasets = fixture_datasets(server)
        assert main(["all", "--root", str(tmp_path), "--no-apt", "--quiet"], datasets=datasets) == 0
    out = capsys.readouterr().out
    for spec in datasets.values():
        assert kept_files(tmp_path / spec.name) == sorted(f.name for f in spec.files)
        assert f"{spec.title}: ready, {len(spec.files)} files verified" in out


def test_cli_all_goes_on_after_a_failure_and_reports_it(tmp_path, capsys):
    with FixtureServer({}) as server:
        datasets = fixture_datasets(server, fail=("mnist",))
        assert main(["all", "--root", str(tmp_path), "--no-apt", "--quiet"], datasets=datasets) == 1
    err = capsys.readouterr().err
    assert "not fetched: mnist; fetched: fashion-mnist, cifar10" in err
    assert kept_files(tmp_path / "mnist") == []
    assert kept_files(tmp_path / "cifar10") != []


def test_cli_offline_uses_local_sources_only(tmp_path, capsys):
    with FixtureServer({}) as server:
        datasets = fixture_datasets(server)
        assert main(["mnist", "--root", str(tmp_path), "--offline", "--quiet"], datasets=datasets) == 1
        assert server.requests == []
    assert "download: not allowed (--offline)" in capsys.readouterr().err


def test_data_root_comes_from_the_environment(tiny, tmp_path, monkeypatch):
    spec, archives, raw = tiny
    monkeypatch.setenv("CS231N_BN_DATA", str(tmp_path / "envroot"))
    with FixtureServer(archives) as server:
        directory, _ = quiet_fetch(with_mirrors(spec, server.url("ok")), None)
    assert directory == tmp_path / "envroot" / "mnist"
    assert_complete(directory, raw)


def test_checksum_error_names_file_expected_and_actual():
    err = ChecksumError("f.bin", "sha256", "aa", "bb")
    assert str(err) == "f.bin: sha256 mismatch: expected aa, got bb" and isinstance(err, ValueError)


# Concurrent runs, sizes and deadlines, folders that cannot be written.

def test_two_fetches_of_the_same_data_set_take_turns(tiny, tmp_path):
    """Two fetches at once (two terminals, two notebooks) into one root: both succeed, the files are downloaded
    once, and no partial download is shared between them."""
    import threading

    spec, archives, raw = tiny
    results, logs = {}, {0: [], 1: []}
    with FixtureServer(archives, delay=0.3) as server:
        spec = with_mirrors(spec, server.url("pause"))

        def run(i):
            try:
                results[i] = fetch(spec, tmp_path, allow_apt=False, progress=False, log=logs[i].append)
            except BaseException as err:  # noqa: BLE001 - reported by the assertion below
                results[i] = err

        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=60)
        assert results == {0: tmp_path / "mnist", 1: tmp_path / "mnist"}
        assert len(server.requests) == 4  # the second found the first one's files verified
    assert any("another fetch of Tiny mnist" in line and "waiting" in line for line in logs[1])
    assert_complete(tmp_path / "mnist", raw)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(f.name for f in spec.files)


def test_a_mirror_sending_too_much_is_cut_off(tiny, tmp_path):
    spec, archives, _ = tiny
    spec = dataclasses.replace(spec, archives=spec.archives[3:])  # t10k-labels: a few hundred bytes
    with FixtureServer(archives, flood=32 << 20) as server:
        start = time.monotonic()
        with pytest.raises(FetchError, match=r"the server sent more than \d+ bytes, more than this file may have"):
            quiet_fetch(with_mirrors(spec, server.url("endless")), tmp_path)
        with pytest.raises(FetchError, match=r"the server announces 33554432 bytes, more than the \d+ this file"):
            quiet_fetch(with_mirrors(spec, server.url("huge-length")), tmp_path)
        assert time.monotonic() - start < 10
    assert kept_files(tmp_path / "mnist") == []
    assert not (tmp_path / "mnist" / DOWNLOAD_DIR).exists()  # nothing of the flood is kept


def test_a_mirror_dripping_bytes_meets_the_deadline(tiny, tmp_path):
    spec, archives, _ = tiny
    spec = dataclasses.replace(spec, archives=spec.archives[:1])
    with FixtureServer(archives, delay=0.05) as server:  # a byte every 0.05 s: no read ever times out
        start = time.monotonic()
        with pytest.raises(FetchError, match=r"not finished within 0.5 s \(\d+ bytes so far\)"):
            quiet_fetch(with_mirrors(spec, server.url("drip")), tmp_path, timeout=5, deadline=0.5)
        assert time.monotonic() - start < 4
    assert kept_files(tmp_path / "mnist") == []


@pytest.fixture
def read_only(monkeypatch):
    return deny_writes(monkeypatch)


def test_read_only_folder_with_a_wrong_file_says_what_to_do(tiny, tmp_path, read_only, capsys):
    spec, archives, raw = tiny
    with FixtureServer(archives) as server:
        spec = with_mirrors(spec, server.url("ok"))
        directory, _ = quiet_fetch(spec, tmp_path)
        (directory / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 10)
        read_only(directory)
        with pytest.raises(FetchError) as info:
            quiet_fetch(spec, tmp_path)
        assert main(["mnist", "--root", str(tmp_path), "--no-apt", "--quiet"], datasets={"mnist": spec}) == 1
    message = str(info.value)
    assert f"cannot write to {directory} (Permission denied)" in message
    assert "t10k-labels-idx1-ubyte: present but wrong: t10k-labels-idx1-ubyte: size mismatch" in message
    assert "it cannot be replaced there" in message and "--root DIR" in message and "CS231N_BN_DATA" in message
    out, err = capsys.readouterr()
    assert "removed" not in out and "Traceback" not in err and "cannot write to" in err
    assert (directory / "t10k-labels-idx1-ubyte").read_bytes() == b"\x00\x00\x08\x01" + b"\x00" * 10  # untouched


def test_read_only_folder_with_every_file_verified_is_fine(tiny, tmp_path, read_only):
    spec, archives, raw = tiny
    with FixtureServer(archives) as server:
        spec = with_mirrors(spec, server.url("ok"))
        directory, _ = quiet_fetch(spec, tmp_path)
        read_only(directory)
        _, log = quiet_fetch(spec, tmp_path)
        assert len(server.requests) == 4
    assert sum("present, verified" in line for line in log) == 4


def test_read_only_root_without_the_data_set_says_what_to_do(tiny, tmp_path, read_only):
    spec, archives, _ = tiny
    read_only(tmp_path)
    with pytest.raises(FetchError, match=r"cannot write to .*mnist \(Permission denied\)\. Make the folder writable"):
        quiet_fetch(with_mirrors(spec, closed_port_url()), tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_really_read_only_folder_with_a_wrong_file(tiny, tmp_path):
    spec, archives, _ = tiny
    with FixtureServer(archives) as server:
        spec = with_mirrors(spec, server.url("ok"))
        directory, _ = quiet_fetch(spec, tmp_path)
        (directory / "t10k-labels-idx1-ubyte").write_bytes(b"wrong")
        os.chmod(directory, 0o555)
        try:
            with pytest.raises(FetchError, match="cannot write to"):
                quiet_fetch(spec, tmp_path)
        finally:
            os.chmod(directory, 0o755)


def test_a_kept_gzip_bomb_is_refused_without_inflating_it(tiny, tmp_path):
    import tracemalloc

    spec, archives, raw = tiny
    directory = tmp_path / "mnist"
    with FixtureServer(archives) as server:
        spec = with_mirrors(spec, server.url("ok"))
        quiet_fetch(spec, tmp_path)
        # 13 KiB on disk, 48 MiB inflated, in place of a 10 KB labels file.
        (directory / "t10k-labels-idx1-ubyte").write_bytes(gzip_bytes(bytes(48 << 20), level=1))
        tracemalloc.start()
        try:
            _, log = quiet_fetch(spec, tmp_path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert any("t10k-labels-idx1-ubyte: present but wrong, removed" in line and "decompression stopped" in line
               for line in log)
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB used to refuse the bomb"
    assert_complete(directory, raw)


def test_a_tar_gz_bomb_is_refused_without_inflating_it(tmp_path):
    import tracemalloc

    from fixtures.data_fixtures import tar_gz_bytes

    spec, archives, _ = make_cifar_dataset()
    archive = spec.archives[0]
    bomb = tar_gz_bytes({"cifar-10-batches-bin/data_batch_1.bin": bytes(48 << 20)})
    directory = tmp_path / "cifar10"
    directory.mkdir()
    (directory / archive.filename).write_bytes(bomb)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=r"cifar-10-binary.tar.gz: .*more than"):
            quiet_fetch(with_mirrors(spec, closed_port_url()), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB used to refuse the bomb"


def test_ctrl_c_keeps_the_partial_download_and_says_how_to_go_on(tiny, tmp_path, monkeypatch, capsys):
    spec, archives, raw = tiny
    real_download = fetch_module.download

    def interrupted(url, dest, **kwargs):  # Ctrl-C once half of the first file has arrived
        fetch_module.part_path(dest).write_bytes(archives[dest.name][: len(archives[dest.name]) // 2])
        raise KeyboardInterrupt

    with FixtureServer(archives) as server:
        datasets = {"mnist": with_mirrors(spec, server.url("ok"))}
        monkeypatch.setattr(fetch_module, "download", interrupted)
        assert main(["mnist", "--root", str(tmp_path), "--no-apt", "--quiet"], datasets=datasets) == 130
        assert "interrupted: mnist is not complete; run the command again" in capsys.readouterr().err
        directory = tmp_path / "mnist"
        assert kept_files(directory) == [] and not (directory / ".fetch.lock").exists()
        monkeypatch.setattr(fetch_module, "download", real_download)
        assert main(["mnist", "--root", str(tmp_path), "--no-apt", "--quiet"], datasets=datasets) == 0
        assert server.requests[0][2] == f"bytes={len(archives['train-images-idx3-ubyte.gz']) // 2}-"  # resumed
    assert_complete(directory, raw)


def test_a_fetch_waiting_for_one_that_fails_gets_its_own_clear_answer(tiny, tmp_path):
    import threading

    spec, archives, _ = tiny
    spec = dataclasses.replace(spec, archives=spec.archives[:1])
    results = {}
    with FixtureServer(archives, delay=0.3) as server:  # 503 after 0.3 s; the first fetch removes its empty folder
        spec = with_mirrors(spec, server.url("slow-headers"))

        def run(i):
            try:
                results[i] = fetch(spec, tmp_path, allow_apt=False, progress=False, log=lambda line: None, timeout=5)
            except BaseException as err:  # noqa: BLE001 - checked below
                results[i] = err

        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=60)
    assert all(isinstance(results[i], FetchError) and "HTTP error 503" in str(results[i]) for i in (0, 1)), results
    assert not (tmp_path / "mnist").exists()


# ---------------------------------------------------------------------------------------------------------------
# The course's mirror (--mirror, CS231N_BN_MIRROR) and fetch_missing (the notebooks' set-up cell)

def repacked(archives):
    """The archives compressed differently (their MD5s differ from the published ones); the same content."""
    return {name: gzip_bytes(gzip.decompress(data), mtime=123, level=1) for name, data in archives.items()}


def test_course_mirror_comes_before_the_debian_package_and_is_verified_by_content(tiny, tmp_path):
    spec, archives, raw = tiny
    package_dir = tmp_path / "package"
    package_dir.mkdir()
    for name, data in archives.items():
        (package_dir / name).write_bytes(data)
    course = repacked(archives)
    assert all(md5(course[name]) != md5(archives[name]) for name in archives)
    with FixtureServer({f"mnist/{name}": data for name, data in course.items()}) as server:
        spec = dataclasses.replace(spec, debian_dir=str(package_dir), debian_package="dataset-tiny",
                                   mirrors=(server.url("missing"),))
        directory, log = quiet_fetch(spec, tmp_path / "root", mirror=server.url("ok"))
        assert sorted(name for mode, name, _ in server.requests) == sorted(f"mnist/{name}" for name in archives)
    assert_complete(directory, raw)
    assert all(server.url("ok") + "mnist/" in line for line in log if "verified (" in line), log


def test_course_mirror_with_wrong_content_falls_through_to_the_other_sources(tiny, tmp_path):
    spec, archives, raw = tiny
    with FixtureServer({**{f"mnist/{name}": gzip_bytes(b"not the data") for name in archives}, **archives}) as server:
        directory, log = quiet_fetch(with_mirrors(spec, server.url("ok")), tmp_path, mirror=server.url("ok"))
    assert_complete(directory, raw)
    assert sum("rejected" in line and "/ok/mnist/" in line and "size mismatch" in line for line in log) == 4


def test_cli_takes_the_course_mirror_from_the_option_or_the_environment(tiny, tmp_path, monkeypatch, capsys):
    spec, archives, raw = tiny
    with FixtureServer({f"mnist/{name}": data for name, data in repacked(archives).items()}) as server:
        datasets = {"mnist": with_mirrors(spec, closed_port_url())}
        assert main(["mnist", "--root", str(tmp_path / "a"), "--no-apt", "--quiet", "--mirror", server.url("ok")],
                    datasets=datasets) == 0
        monkeypatch.setenv("CS231N_BN_MIRROR", server.url("ok").rstrip("/"))  # with or without the final slash
        assert main(["mnist", "--root", str(tmp_path / "b"), "--no-apt", "--quiet"], datasets=datasets) == 0
    assert_complete(tmp_path / "a" / "mnist", raw)
    assert_complete(tmp_path / "b" / "mnist", raw)


def test_fetch_missing_fetches_only_what_is_missing(tiny, tmp_path, monkeypatch, capsys):
    from cs231n_bn.kit.data.fetch import fetch_missing

    spec, archives, raw = tiny
    with FixtureServer({f"mnist/{name}": data for name, data in archives.items()}) as server:
        datasets = {"mnist": dataclasses.replace(spec, mirrors=())}
        assert fetch_missing(["mnist"], tmp_path, mirror=server.url("ok"), datasets=datasets) == ["mnist"]
        assert_complete(tmp_path / "mnist", raw)
        requests = len(server.requests)
        capsys.readouterr()
        assert fetch_missing(["mnist"], tmp_path, mirror=server.url("ok"), datasets=datasets) == []
        assert len(server.requests) == requests and capsys.readouterr().out == "", "present: nothing to do or say"
    with pytest.raises(ValueError, match="unknown data set 'cifar100'; expected one of: mnist"):
        fetch_missing(["cifar100"], tmp_path, datasets=datasets)
