"""Build ``qiskit_natural_qnn/data/mnist_default.npz``, the embedded default MNIST split.

The split is derived from the 10,000-image MNIST test set (the original ``t10k-*`` IDX files):
train = test images 0-4999, validation = test images 5000-9999, stored as ``uint8`` arrays exactly
as the IDX reader of this package reads them. The output is byte-for-byte deterministic: the zip
entries carry a fixed timestamp.

Usage::

    python scripts/build_default_subset.py [--source DIR] [--output FILE]

``--source`` defaults to ``<repo>/../shared/data/mnist``, ``--output`` to the package's data folder.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(REPO_ROOT))

from qiskit_natural_qnn.data.idx import read_idx  # noqa: E402

DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_OUTPUT = REPO_ROOT / "qiskit_natural_qnn" / "data" / "mnist_default.npz"

IMAGES_FILE = "t10k-images-idx3-ubyte.gz"
LABELS_FILE = "t10k-labels-idx1-ubyte.gz"
# md5 of the files as published at http://yann.lecun.com/exdb/mnist/
PUBLISHED_MD5 = {
    IMAGES_FILE: "9fb629c4189551a2d022fa330f9573f3",
    LABELS_FILE: "ec29112dd5afa0611ce80d1b7f02629c",
}
N_TEST = 10_000
N_TRAIN = 5_000
FORMAT_VERSION = 1
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def build_arrays(source: Path) -> dict[str, np.ndarray]:
    """Read the MNIST test set from ``source`` and return the arrays to store in the npz."""
    paths = {name: source / name for name in (IMAGES_FILE, LABELS_FILE)}
    for name, path in paths.items():
        md5 = _digest(path, "md5") if path.is_file() else None
        if md5 is not None and md5 != PUBLISHED_MD5[name]:
            raise SystemExit(
                f"{path}: md5 {md5} differs from the published {PUBLISHED_MD5[name]}; use the original MNIST file"
            )
    images = read_idx(paths[IMAGES_FILE], ndim=3)
    labels = read_idx(paths[LABELS_FILE], ndim=1)
    if images.shape != (N_TEST, 28, 28) or labels.shape != (N_TEST,):
        raise SystemExit(
            f"expected {N_TEST} images of 28x28 and {N_TEST} labels, "
            f"got images {images.shape} and labels {labels.shape}"
        )
    return {
        "train_images": images[:N_TRAIN],
        "train_labels": labels[:N_TRAIN],
        "validation_images": images[N_TRAIN:],
        "validation_labels": labels[N_TRAIN:],
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "source_files": np.array([IMAGES_FILE, LABELS_FILE]),
        "source_sha256": np.array([_digest(paths[name], "sha256") for name in paths]),
        "train_indices": np.array([0, N_TRAIN], dtype=np.int64),
        "validation_indices": np.array([N_TRAIN, N_TEST], dtype=np.int64),
    }


def deterministic_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez_compressed`` output with every zip entry's timestamp fixed, so rebuilds match."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w") as dst:
        for entry in src.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(entry), compresslevel=9)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help=f"folder holding {IMAGES_FILE} and {LABELS_FILE} (default: %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="npz file to write (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    data = deterministic_npz(build_arrays(args.source))
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
