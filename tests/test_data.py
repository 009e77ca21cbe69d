"""Tests of the data layer: IDX reader, embedded default split, full-MNIST loader."""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from qiskit_natural_qnn.data import (
    Dataset,
    MNISTSplit,
    load_data,
    load_default,
    load_mnist,
    parse_idx,
    read_idx,
    take,
)
from qiskit_natural_qnn.exceptions import DamagedFileError, DataNotFoundError, InputError

SHARED_MNIST = Path(__file__).parents[1].parent / "shared" / "data" / "mnist"
needs_shared_mnist = pytest.mark.skipif(
    not SHARED_MNIST.is_dir(), reason=f"the MNIST test set is not at {SHARED_MNIST}"
)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX encoding of a ``uint8`` array, written independently of the reader under test."""
    array = np.asarray(array, dtype=np.uint8)
    magic = struct.pack(">I", 0x0800 | array.ndim)
    return magic + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    data = encode_idx(array)
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def synthetic_mnist(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


N_TRAIN, N_TEST = 12, 7
TRAIN = synthetic_mnist(N_TRAIN, seed=1)
TEST = synthetic_mnist(N_TEST, seed=2)


def populate(directory: Path, suffix: str = "", *, dot: bool = False, train: bool = True) -> Path:
    """Write synthetic MNIST IDX files, named as in the original distribution or its dot variant."""
    directory.mkdir(parents=True, exist_ok=True)
    sep = "." if dot else "-"
    sets = {"t10k": TEST} | ({"train": TRAIN} if train else {})
    for prefix, (images, labels) in sets.items():
        write_idx(directory / f"{prefix}-images{sep}idx3-ubyte{suffix}", images)
        write_idx(directory / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels)
    return directory


# --- IDX reader -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(5,), (3, 28, 28), (2, 3)])
def test_read_idx_round_trip(tmp_path, suffix, shape):
    array = np.arange(np.prod(shape), dtype=np.uint64).reshape(shape) % 256
    result = read_idx(write_idx(tmp_path / f"x-idx{suffix}", array))
    assert result.dtype == np.uint8
    assert result.flags.writeable
    np.testing.assert_array_equal(result, array)


def test_read_idx_tells_gzip_by_content_not_name(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"  # no .gz, gzip content
    path.write_bytes(gzip.compress(encode_idx(np.array([4, 2])), mtime=0))
    np.testing.assert_array_equal(read_idx(path), [4, 2])


def test_read_idx_bad_magic(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(8))
    with pytest.raises(
        DamagedFileError,
        match=re.escape(f"{path}: bad magic number 0x12345678, expected 0x00000803 (IDX images)"),
    ):
        read_idx(path, ndim=3)


def test_read_idx_labels_where_images_expected(tmp_path):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.array([1, 2, 3]))
    with pytest.raises(
        DamagedFileError,
        match=re.escape(f"{path}: bad magic number 0x00000801 (IDX labels), expected 0x00000803 (IDX images)"),
    ):
        read_idx(path, ndim=3)


def test_parse_idx_unsupported_dtype():
    data = b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + bytes(4)  # 0x0D: float32
    with pytest.raises(
        DamagedFileError,
        match=re.escape(
            "x: unsupported IDX dtype code 0x0D (magic 0x00000D01); only 0x08 (unsigned byte) is read, as in MNIST"
        ),
    ):
        parse_idx(data, name="x")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_truncated_payload(tmp_path, suffix):
    path = tmp_path / f"t10k-images-idx3-ubyte{suffix}"
    data = encode_idx(np.zeros((10, 28, 28), dtype=np.uint8))[:-840]
    path.write_bytes(gzip.compress(data, mtime=0) if suffix else data)
    with pytest.raises(
        DamagedFileError,
        match=re.escape(f"{path}: truncated IDX payload: dims (10, 28, 28) need 7840 bytes, found 7000"),
    ):
        read_idx(path, ndim=3)


def test_parse_idx_trailing_bytes_and_truncated_header():
    with pytest.raises(
        DamagedFileError,
        match=re.escape("x: IDX payload longer than its dims: dims (2,) need 2 bytes, found 3"),
    ):
        parse_idx(encode_idx(np.array([1, 2])) + b"\x00", name="x")
    with pytest.raises(
        DamagedFileError,
        match=re.escape("x: truncated IDX header: 3 dimensions need 16 header bytes, found 8"),
    ):
        parse_idx(b"\x00\x00\x08\x03" + bytes(4), name="x")


def test_read_idx_truncated_gzip_stream(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(encode_idx(np.arange(200)), mtime=0)[:-12])
    with pytest.raises(DamagedFileError, match=re.escape(f"{path}: corrupt gzip stream: ")):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    path = tmp_path / "nope"
    with pytest.raises(DataNotFoundError, match=re.escape(f"IDX file '{path}' does not exist")):
        read_idx(path)


# --- embedded default split -----------------------------------------------------------------


@pytest.fixture(scope="module")
def default_split() -> MNISTSplit:
    return load_default()


def test_default_split_shapes_dtypes_ranges(default_split):
    assert isinstance(default_split, MNISTSplit)
    for dataset, name in [
        (default_split.train, "default-train"),
        (default_split.validation, "default-validation"),
    ]:
        assert isinstance(dataset, Dataset)
        assert dataset.name == name
        assert dataset.images.shape == (5000, 784)
        assert dataset.images.dtype == np.float32
        assert dataset.labels.shape == (5000,)
        assert dataset.labels.dtype == np.int64
        assert dataset.images.min() == 0.0
        assert dataset.images.max() == 1.0
        assert set(dataset.labels.tolist()) == set(range(10))
    assert "test images 0-4999" in default_split.source
    assert "test images 5000-9999" in default_split.source
    assert "CC BY-SA 3.0" in default_split.source


def test_default_split_arrays_belong_to_the_caller(default_split):
    again = load_default()
    again.train.images[0] = 0.5  # writable, and not shared with other calls
    assert not np.shares_memory(again.train.images, default_split.train.images)
    assert default_split.train.images[0].max() == 1.0
    assert load_data(None).train.images[0].max() == 1.0


@needs_shared_mnist
def test_default_split_equals_the_shared_idx_files(default_split):
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz", ndim=3)
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz", ndim=1)
    assert images.shape == (10_000, 28, 28)
    expected = images.reshape(10_000, 784).astype(np.float32) / 255
    np.testing.assert_array_equal(default_split.train.images, expected[:5000])
    np.testing.assert_array_equal(default_split.validation.images, expected[5000:])
    np.testing.assert_array_equal(default_split.train.labels, labels[:5000])
    np.testing.assert_array_equal(default_split.validation.labels, labels[5000:])


@needs_shared_mnist
def test_default_npz_records_its_sources():
    npz_path = Path(__file__).parents[1] / "qiskit_natural_qnn" / "data" / "mnist_default.npz"
    with np.load(npz_path, allow_pickle=False) as npz:
        files = npz["source_files"].tolist()
        sha256 = npz["source_sha256"].tolist()
        raw = {key: npz[key] for key in ("train_images", "validation_images")}
    assert files == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert sha256 == [hashlib.sha256((SHARED_MNIST / f).read_bytes()).hexdigest() for f in files]
    assert all(a.dtype == np.uint8 and a.shape == (5000, 28, 28) for a in raw.values())


# --- full MNIST from a folder ---------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "dot"), [("", False), (".gz", False), (".gz", True)])
def test_load_mnist_paper_split(tmp_path, suffix, dot):
    split = load_mnist(populate(tmp_path / "mnist", suffix, dot=dot), train_size=5)
    assert split.train.name == "mnist-train"
    assert split.validation.name == "mnist-validation"
    np.testing.assert_array_equal(split.train.images, TRAIN[0][:5].reshape(5, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(split.train.labels, TRAIN[1][:5])
    np.testing.assert_array_equal(split.validation.images, TEST[0].reshape(N_TEST, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(split.validation.labels, TEST[1])
    assert split.train.images.dtype == np.float32
    assert split.train.labels.dtype == np.int64
    assert "training images 0-4 (5 of 12)" in split.source
    assert f"all {N_TEST} test images" in split.source


def test_load_mnist_all_training_images_and_load_data(tmp_path):
    directory = populate(tmp_path / "mnist", ".gz")
    assert load_mnist(directory, train_size=None).train.images.shape == (N_TRAIN, 784)
    # load_data uses the paper's default train_size of 5000, more than the 12 synthetic images
    with pytest.raises(InputError, match=r"train_size must be at most 12 \(the training images "):
        load_data(directory)


def test_load_mnist_missing_directory(tmp_path):
    directory = tmp_path / "absent"
    with pytest.raises(
        DataNotFoundError,
        match=re.escape(
            f"MNIST directory '{directory}' does not exist; expected it to hold "
            "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]: create it and download "
            "the four MNIST IDX files (http://yann.lecun.com/exdb/mnist/) into it, or use "
            "load_default() for the embedded 5000/5000 subset of the MNIST test set"
        ),
    ):
        load_mnist(directory)


def test_load_mnist_only_test_set(tmp_path):
    directory = populate(tmp_path / "t10k-only", ".gz", train=False)
    with pytest.raises(
        DataNotFoundError,
        match=re.escape(
            f"MNIST directory '{directory}' holds only the test set (t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz) and lacks the training files "
            "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]; the paper's split "
            "trains on the training set, so add those two files, or use load_default(), which "
            "embeds a 5000/5000 train/validation split of exactly these test files"
        ),
    ):
        load_mnist(directory)


@needs_shared_mnist
def test_load_mnist_on_the_shared_test_set_points_to_load_default():
    with pytest.raises(DataNotFoundError, match=r"holds only the test set .* use load_default\(\)"):
        load_data(SHARED_MNIST)


def test_load_mnist_lists_what_it_found(tmp_path):
    directory = tmp_path / "mixed"
    directory.mkdir()
    write_idx(directory / "train-labels-idx1-ubyte", TRAIN[1])
    (directory / "notes.txt").write_text("hi")
    with pytest.raises(
        DataNotFoundError,
        match=re.escape(
            f"MNIST directory '{directory}' lacks train-images-idx3-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; looked for "
            "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (or the "
            "'train-images.idx3-ubyte' spelling); found notes.txt, train-labels-idx1-ubyte: "
            "download the four MNIST IDX files"
        ),
    ):
        load_mnist(directory)


def test_load_mnist_image_label_count_mismatch(tmp_path):
    directory = populate(tmp_path / "mnist")
    write_idx(directory / "train-labels-idx1-ubyte", TRAIN[1][:-1])
    with pytest.raises(
        DamagedFileError,
        match=re.escape(
            f"{directory}: 12 images but 11 labels; the image and label files must come from the same MNIST set"
        ),
    ):
        load_mnist(directory, train_size=3)


@pytest.mark.parametrize(
    ("train_size", "message"),
    [
        (0, "train_size must be at least 1 (or None for all), got 0"),
        (2.5, "train_size must be a positive integer or None, got float 2.5"),
        (True, "train_size must be a positive integer or None, got bool True"),
    ],
)
def test_load_mnist_bad_train_size(tmp_path, train_size, message):
    with pytest.raises(InputError, match=re.escape(message)):
        load_mnist(tmp_path, train_size=train_size)


# --- take ---------------------------------------------------------------------------------------


def test_take_first_examples(default_split):
    small = take(default_split.train, 3)
    assert small.name == "default-train[:3]"
    assert small.labels.tolist() == [7, 2, 1]
    np.testing.assert_array_equal(small.images, default_split.train.images[:3])
    assert not np.shares_memory(small.images, default_split.train.images)


@pytest.mark.parametrize(
    ("n", "error", "message"),
    [
        (0, InputError, "n must be at least 1, got 0"),
        (-3, InputError, "n must be at least 1, got -3"),
        (5001, InputError, "n must be at most 5000, the size of 'default-train', got 5001"),
        (1.0, InputError, "n must be an integer, got float 1.0"),
    ],
)
def test_take_rejects_bad_n(default_split, n, error, message):
    with pytest.raises(error, match=re.escape(message)):
        take(default_split.train, n)
