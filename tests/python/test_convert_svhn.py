#!/usr/bin/env python3
"""Tests of data-scripts/convert_svhn.py (SVHN cropped digits .mat -> gzipped IDX files).

The fixtures are small .mat files written by scipy.io.savemat in SVHN's layout (X 32x32x3xN uint8, y Nx1 with 10 for
the digit 0). The IDX output is parsed here byte by byte. Needs SciPy (Debian: python3-scipy); without it every test
is skipped.
Run: /usr/bin/python3 tests/python/test_convert_svhn.py
"""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from zoo_fixtures import SOURCE_DIR

try:
    import scipy.io
except ImportError as e:  # pragma: no cover - depends on the machine
    scipy = None
    SCIPY_MISSING = f"SciPy is not importable ({e}); install python3-scipy to run the SVHN converter tests"
else:
    SCIPY_MISSING = ""

CONVERTER = os.path.join(SOURCE_DIR, "data-scripts", "convert_svhn.py")
FILES = ["train-images-idx4-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx4-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]


def read_idx(path):
    """(dims, uint8 data) of a gzipped IDX ubyte file, checking the header byte by byte."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    assert raw[0] == 0 and raw[1] == 0, "IDX magic must start with two zero bytes"
    assert raw[2] == 0x08, f"IDX type byte {raw[2]:#x}, expected 0x08 (unsigned byte)"
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}i", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8)
    assert data.size == int(np.prod(dims)), f"{data.size} bytes of data for dims {dims}"
    return dims, data.reshape(dims)


def svhn_arrays(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, size=(n, 1)).astype(np.uint8)
    y[0, 0] = 10  # the digit 0
    y[1, 0] = 1
    return x, y


@unittest.skipIf(scipy is None, SCIPY_MISSING)
class ConverterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sne_svhn_test_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_mat(self, name, n, seed, **override):
        x, y = svhn_arrays(n, seed)
        mdict = {"X": x, "y": y}
        mdict.update(override)
        scipy.io.savemat(self.p(name), mdict)
        return x, y

    def run_converter(self, *args, ok=True):
        proc = subprocess.run([sys.executable, CONVERTER, *args], capture_output=True, text=True, timeout=120)
        if ok:
            self.assertEqual(proc.returncode, 0, f"convert_svhn {' '.join(args)}\nstderr:\n{proc.stderr}")
        return proc

    def assert_fails(self, args, *needles):
        proc = self.run_converter(*args, ok=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("convert_svhn: error:"), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])
        out = args[2]
        if os.path.isdir(out):
            self.assertEqual([f for f in os.listdir(out) if f.endswith(".partial")], [])
        return lines[0]

    def test_convert(self):
        xtr, ytr = self.write_mat("train_32x32.mat", 7, 0)
        xte, yte = self.write_mat("test_32x32.mat", 4, 1)
        out = self.p("svhn")
        proc = self.run_converter(self.p("train_32x32.mat"), self.p("test_32x32.mat"), out)
        self.assertIn("train 7 images, t10k 4 images", proc.stderr)
        self.assertEqual(sorted(os.listdir(out)), sorted(FILES))
        for split, x, y in (("train", xtr, ytr), ("t10k", xte, yte)):
            dims, images = read_idx(os.path.join(out, f"{split}-images-idx4-ubyte.gz"))
            n = x.shape[3]
            self.assertEqual(dims, (n, 32, 32, 3))  # channels-last
            for i in range(n):
                for h in (0, 5, 31):
                    for w in (0, 17, 31):
                        for c in range(3):
                            self.assertEqual(images[i, h, w, c], x[h, w, c, i])
            np.testing.assert_array_equal(images, x.transpose(3, 0, 1, 2))
            dims, labels = read_idx(os.path.join(out, f"{split}-labels-idx1-ubyte.gz"))
            self.assertEqual(dims, (n,))
            np.testing.assert_array_equal(labels, y[:, 0] % 10)
            self.assertEqual(labels[0], 0)  # 10 means 0
            self.assertEqual(labels[1], 1)
            self.assertLessEqual(labels.max(), 9)
        with open(os.path.join(out, FILES[0]), "rb") as f:
            first = f.read()
        # deterministic bytes; existing files need --overwrite
        self.assert_fails([self.p("train_32x32.mat"), self.p("test_32x32.mat"), out], "exists", "--overwrite")
        self.run_converter(self.p("train_32x32.mat"), self.p("test_32x32.mat"), out, "--overwrite")
        with open(os.path.join(out, FILES[0]), "rb") as f:
            self.assertEqual(f.read(), first)

    def test_float_labels_and_pixels(self):
        """MATLAB files may hold doubles; integral values in range are accepted."""
        x, y = svhn_arrays(3, 2)
        scipy.io.savemat(self.p("a.mat"), {"X": x.astype(np.float64), "y": y.astype(np.float64)})
        scipy.io.savemat(self.p("b.mat"), {"X": x, "y": y.reshape(-1)})  # savemat makes this 1 x N
        self.run_converter(self.p("a.mat"), self.p("b.mat"), self.p("out"))
        _, images = read_idx(self.p("out", "t10k-images-idx4-ubyte.gz"))
        np.testing.assert_array_equal(images, x.transpose(3, 0, 1, 2))
        _, labels = read_idx(self.p("out", "train-labels-idx1-ubyte.gz"))
        np.testing.assert_array_equal(labels, y[:, 0] % 10)

    # ---- bad inputs: exit 1, one line saying what is wrong, no IDX files left behind ----
    def test_errors(self):
        self.write_mat("good.mat", 3, 0)
        good = self.p("good.mat")
        out = self.p("out")
        self.assert_fails([self.p("nope.mat"), good, out], "nope.mat", "does not exist")
        with open(self.p("text.mat"), "w") as f:
            f.write("hello")
        self.assert_fails([good, self.p("text.mat"), out], "text.mat", "not a readable MATLAB .mat file")
        scipy.io.savemat(self.p("nox.mat"), {"images": np.zeros((2, 2))})
        self.assert_fails([good, self.p("nox.mat"), out], "no variable X or y", "found: images")
        self.write_mat("shape.mat", 3, 0, X=np.zeros((28, 28, 3, 3), np.uint8))
        self.assert_fails([good, self.p("shape.mat"), out], "X has shape [28, 28, 3, 3]", "[32, 32, 3, N]")
        self.write_mat("count.mat", 3, 0, y=np.ones((4, 1), np.uint8))
        self.assert_fails([good, self.p("count.mat"), out], "y has shape [4, 1]", "expected [3, 1]")
        self.write_mat("label.mat", 3, 0, y=np.array([[1], [11], [2]], np.uint8))
        self.assert_fails([good, self.p("label.mat"), out], "labels must be integers 1..10", "[11]")
        self.write_mat("zero.mat", 3, 0, y=np.array([[1], [0], [2]], np.uint8))
        self.assert_fails([good, self.p("zero.mat"), out], "labels must be integers 1..10", "[0]")
        self.assertFalse(os.path.exists(out))

    def test_matlab_v73_is_named(self):
        import h5py
        path = self.p("v73.mat")
        with h5py.File(path, "w", userblock_size=512) as f:
            f.create_dataset("X", data=np.zeros((3, 3, 32, 32), np.uint8))
        header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
        with open(path, "r+b") as f:
            f.write(header.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM")
        self.write_mat("good.mat", 3, 0)
        self.assert_fails([self.p("good.mat"), path, self.p("out")], "v73.mat", "MATLAB v5")


if __name__ == "__main__":
    unittest.main(verbosity=2)
