"""What each data set is made of, where it comes from, and the digests that prove a copy genuine.

A data set (`DatasetSpec`) is a list of archives (`Archive`), each fetched from one of several mirrors and
unpacked into files (`FileSpec`) that are kept, decompressed, in `datasets/NAME/`.

Two kinds of digest are checked:
- `FileSpec.digests`: digests of a file's DECOMPRESSED content. These are what decide whether a file is
  genuine, whatever its source: the Debian package's .gz files differ byte-wise from upstream's, but their
  content is equal. Every digest listed must match.
- `Archive.digests`: digests that upstream and torchvision publish for the archive as downloaded (MD5s).
  A download must match them too before anything is unpacked from it.

Where the digests come from (none was computed from a file this kit downloaded itself):
- Fashion-MNIST: content SHA-256s measured from Debian's `dataset-fashion-mnist` files, and equal to the
  values other public projects derived from archives matching the publisher's MD5s; the archive MD5s are
  the ones torchvision and the Fashion-MNIST page publish.
- MNIST: content SHA-256s (and sizes) as published by several unrelated public projects, including git-annex
  keys of the raw files; the archive MD5s are torchvision's.
- CIFAR-10: the archive MD5 is the one on the CIFAR-10 page. No public SHA-256 of the unpacked batch files
  was found, so they are checked against the MD5s of their content that several projects' download
  scripts publish, together with their exact size. batches.meta.txt has no published digest: its text is
  checked line by line against the class names instead.

The specs are plain data, so tests (and anyone mirroring the files) can build their own.
"""

from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple

# Debian's package for Fashion-MNIST installs the four upstream .gz files here.
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DEBIAN_FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"


@dataclass(frozen=True)
class FileSpec:
    """One file kept in `datasets/NAME/`, decompressed.

    - name: its file name there (e.g. 'train-images-idx3-ubyte').
    - size: its size in bytes, or None when not known.
    - digests: {algorithm: hex digest} of its content, every one required to match ('sha256', 'md5', ...).
    - lines: for a text file without a published digest, the exact non-blank lines it must hold.
    """

    name: str
    size: Optional[int]
    digests: Mapping[str, str] = field(default_factory=dict)
    lines: Optional[Tuple[str, ...]] = None


@dataclass(frozen=True)
class Archive:
    """One file as downloaded: a gzip of one FileSpec, or a .tar.gz holding several.

    - filename: the name on the mirrors (URL = mirror + filename).
    - kind: 'gzip' or 'tar.gz'.
    - members: the FileSpecs unpacked from it; for 'tar.gz', found at `member_prefix + FileSpec.name`.
    - digests: {algorithm: hex digest} of the archive as published upstream, every one required to match.
    - size: the archive's size in bytes as published, shown when a server does not say (never checked:
      the digests are).
    """

    filename: str
    kind: str
    members: Tuple[FileSpec, ...]
    digests: Mapping[str, str] = field(default_factory=dict)
    size: Optional[int] = None
    member_prefix: str = ""

    def __post_init__(self):
        if self.kind not in ("gzip", "tar.gz"):
            raise ValueError(f"Archive.kind must be 'gzip' or 'tar.gz', got {self.kind!r}")
        if self.kind == "gzip" and len(self.members) != 1:
            raise ValueError(f"a gzip archive holds exactly one file; {self.filename} lists {len(self.members)}")


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its archives, the mirrors that serve them (tried in order) and its local sources.

    - name: the name on the command line and the directory under the data root.
    - title: how messages name it.
    - layout: 'idx' (MNIST-style) or 'cifar-binary'.
    - mirrors: base URLs, each ending in '/'.
    - debian_dir / debian_package: a directory holding the archives as local files, and the Debian package
      that installs it (None where there is none).
    - class_names: label i is class_names[i].
    """

    name: str
    title: str
    layout: str
    archives: Tuple[Archive, ...]
    mirrors: Tuple[str, ...]
    class_names: Tuple[str, ...]
    debian_dir: Optional[str] = None
    debian_package: Optional[str] = None

    @property
    def files(self):
        """Every FileSpec kept for this data set, in archive order."""
        return tuple(member for archive in self.archives for member in archive.members)


def _idx_archive(name, size, sha256, gz_md5, gz_size=None):
    return Archive(filename=name + ".gz", kind="gzip", members=(FileSpec(name, size, {"sha256": sha256}),),
                   digests={"md5": gz_md5}, size=gz_size)


FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(digit) for digit in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    layout="idx",
    archives=(
        _idx_archive("train-images-idx3-ubyte", 47040016,
                     "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                     "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
        _idx_archive("train-labels-idx1-ubyte", 60008,
                     "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                     "25c81989df183df01b3e8a0aad5dffbe", 29515),
        _idx_archive("t10k-images-idx3-ubyte", 7840016,
                     "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                     "bef4ecab320f06d8554ea6380940ec79", 4422102),
        _idx_archive("t10k-labels-idx1-ubyte", 10008,
                     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                     "bb300cfdad3c16e7a12a480ee83cd310", 5148),
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    class_names=FASHION_MNIST_CLASSES,
    debian_dir=DEBIAN_FASHION_MNIST_DIR,
    debian_package=DEBIAN_FASHION_MNIST_PACKAGE,
)

MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    layout="idx",
    archives=(
        _idx_archive("train-images-idx3-ubyte", 47040016,
                     "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                     "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
        _idx_archive("train-labels-idx1-ubyte", 60008,
                     "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                     "d53e105ee54ea40749a09fcbcd1e9432", 28881),
        _idx_archive("t10k-images-idx3-ubyte", 7840016,
                     "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                     "9fb629c4189551a2d022fa330f9573f3", 1648877),
        _idx_archive("t10k-labels-idx1-ubyte", 10008,
                     "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                     "ec29112dd5afa0611ce80d1b7f02629c", 4542),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    class_names=MNIST_CLASSES,
)

CIFAR10_BATCH_BYTES = 10000 * (1 + 3 * 32 * 32)


def _cifar_batch(name, md5):
    return FileSpec(name, CIFAR10_BATCH_BYTES, {"md5": md5})


CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10",
    layout="cifar-binary",
    archives=(
        Archive(
            filename="cifar-10-binary.tar.gz",
            kind="tar.gz",
            member_prefix="cifar-10-batches-bin/",
            members=(
                _cifar_batch("data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25"),
                _cifar_batch("data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692"),
                _cifar_batch("data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421"),
                _cifar_batch("data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb"),
                _cifar_batch("data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d"),
                _cifar_batch("test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d"),
                FileSpec("batches.meta.txt", None, {}, lines=CIFAR10_CLASSES),
            ),
            digests={"md5": "c32a1d4ab5d03f1284b67883e8d87530"},
            size=170052171,
        ),
    ),
    mirrors=(
        "https://www.cs.toronto.edu/~kriz/",
        "https://cave.cs.toronto.edu/kriz/",
    ),
    class_names=CIFAR10_CLASSES,
)

DATASETS = {spec.name: spec for spec in (FASHION_MNIST, MNIST, CIFAR10)}


def get_spec(name):
    """The DatasetSpec called `name`; a ValueError naming the allowed names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(DATASETS)}") from None
