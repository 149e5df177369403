#!/usr/bin/env python3
"""Convert SVHN's cropped digits (.mat files) into gzipped IDX files that `sne` reads as the dataset `svhn`.

Usage: convert_svhn.py TRAIN.mat TEST.mat OUT_DIR [--overwrite]

TRAIN.mat / TEST.mat are the "Format 2" files train_32x32.mat and test_32x32.mat (MATLAB v5, read with
scipy.io.loadmat; Debian: python3-scipy): X is 32 x 32 x 3 x N uint8 (height, width, RGB channel, image), y is N x 1
with labels 1..10, where 10 means the digit 0. Written to OUT_DIR:
    train-images-idx4-ubyte.gz  (N, 32, 32, 3) uint8, channels-last, row-major
    train-labels-idx1-ubyte.gz  (N) uint8 digits 0..9
    t10k-images-idx4-ubyte.gz, t10k-labels-idx1-ubyte.gz   the same for TEST.mat
IDX: magic 00 00 08 NDIM (unsigned bytes), big-endian int32 dimensions, data. sne reads the folder as the dataset
`svhn` (setting generate.cnn.dataset: svhn; generate.cnn.data_dir: OUT_DIR, default data/svhn); the images stay RGB
here, sne converts them to grayscale when asked to.
Existing files are replaced only with --overwrite; the files are written under .partial names and renamed when all
four are complete.
Errors: exit 1 and one line `convert_svhn: error: ...`.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idx_format  # noqa: E402

PROG = "convert_svhn"


class InputError(Exception):
    """A problem with the input, reported as one line."""


def load_split(path, loadmat):
    """(images uint8 (N, 32, 32, 3), labels uint8 (N) in 0..9) from one SVHN .mat file."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: file does not exist (expected SVHN's train_32x32.mat / test_32x32.mat)")
    try:
        mat = loadmat(path)
    except NotImplementedError as e:  # scipy says so for MATLAB v7.3 (HDF5) files
        raise InputError(f"{path}: {e}; SVHN's own files are MATLAB v5 (re-save with -v7 or use the originals)")
    except Exception as e:  # noqa: BLE001 - scipy raises ValueError, TypeError, MatReadError, ... for non-.mat files
        detail = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"{path}: not a readable MATLAB .mat file ({type(e).__name__}: {detail})")
    missing = [k for k in ("X", "y") if k not in mat]
    if missing:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise InputError(f"{path}: no variable {' or '.join(missing)} (found: {found}); expected X (32x32x3xN) and "
                         f"y (Nx1)")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"])
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise InputError(f"{path}: X has shape {list(x.shape)}, expected [32, 32, 3, N] (SVHN's cropped digits)")
    if x.dtype != np.uint8:
        if x.dtype.kind not in "iuf" or not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 255 or \
                not np.all(x == np.round(x)):
            raise InputError(f"{path}: X holds {x.dtype} values outside the integers 0..255")
        x = x.astype(np.uint8)
    n = x.shape[3]
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or y.shape[0] != n:
        raise InputError(f"{path}: y has shape {list(np.asarray(mat['y']).shape)}, expected [{n}, 1] (one label per "
                         f"image of X)")
    if y.dtype.kind not in "iuf" or not np.all(np.isfinite(y)) or not np.all((y >= 1) & (y <= 10) & (y == np.round(y))):
        bad = y[~((y >= 1) & (y <= 10))] if y.dtype.kind in "iuf" else y
        raise InputError(f"{path}: labels must be integers 1..10 (10 = digit 0), found e.g. {bad.ravel()[:1].tolist()}")
    images = np.ascontiguousarray(x.transpose(3, 0, 1, 2))  # (32, 32, 3, N) -> (N, 32, 32, 3)
    labels = (y.astype(np.int64) % 10).astype(np.uint8)
    return images, labels


def main(argv=None):
    p = argparse.ArgumentParser(description="Convert SVHN .mat files (cropped digits) into IDX files for sne.")
    p.add_argument("train", help="train_32x32.mat")
    p.add_argument("test", help="test_32x32.mat")
    p.add_argument("out_dir", help="output folder (created if missing)")
    p.add_argument("--overwrite", action="store_true", help="replace existing IDX files in OUT_DIR")
    args = p.parse_args(argv)
    try:
        try:
            from scipy.io import loadmat
        except ImportError as e:
            raise InputError(f"SciPy is needed to read .mat files ({e}); install python3-scipy")
        sets = {"train": load_split(args.train, loadmat), "t10k": load_split(args.test, loadmat)}
        paths = idx_format.write_dataset(args.out_dir, sets, overwrite=args.overwrite)
    except (InputError, OSError, ValueError) as e:
        print(f"{PROG}: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{s} {sets[s][0].shape[0]} images" for s in sets)
    names = ", ".join(os.path.basename(p) for p in paths.values())
    print(f"{PROG}: wrote {counts} (32x32 RGB) to {args.out_dir} ({names})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
