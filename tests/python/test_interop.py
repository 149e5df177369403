#!/usr/bin/env python3
"""Python -> sne interop: zoos written by data-scripts/sne_zoo.py must be read by `sne zoo validate|info|show`.

The `sne` binary comes from the environment variable SNE_BINARY (ctest sets it); without it the tests are skipped.
Run: SNE_BINARY=build/apps/sne/sne /usr/bin/python3 tests/python/test_interop.py
"""
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

from zoo_fixtures import CONV_PARAMS, MLP_PARAMS, write_mixed_zoo

SNE = os.environ.get("SNE_BINARY", "")
NAMES = ["mlp_2_4_1", "cnn_1_2_fc1"]


@unittest.skipUnless(SNE, "SNE_BINARY is not set: set it to the path of the sne binary to run the interop tests")
class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(SNE, os.X_OK):
            raise AssertionError(f"SNE_BINARY={SNE!r} is not an executable file")
        cls.dir = tempfile.mkdtemp(prefix="sne_interop_")
        cls.zoo = os.path.join(cls.dir, "python.h5")
        cls.expected = write_mixed_zoo(cls.zoo, num_networks=12)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def sne(self, *args):
        proc = subprocess.run([SNE, *args], capture_output=True, text=True, timeout=120)
        proc.report = f"`sne {' '.join(args)}` exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        return proc

    def sne_json(self, *args):
        proc = self.sne(*args)
        self.assertEqual(proc.returncode, 0, proc.report)
        try:
            return json.loads(proc.stdout)
        except ValueError as e:
            self.fail(f"stdout is not one JSON document ({e})\n{proc.report}")

    def assert_close(self, got, want, what):
        self.assertIsNotNone(got, what)
        self.assertTrue(math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), f"{what}: got {got}, want {want}")

    def test_validate_accepts_python_zoo(self):
        proc = self.sne("zoo", "validate", self.zoo)
        self.assertEqual(proc.returncode, 0, proc.report)

    def test_info_json(self):
        e = self.expected
        doc = self.sne_json("zoo", "info", self.zoo, "--json")
        self.assertEqual(doc["format_version"], 1)
        self.assertEqual(doc["networks"], 12)
        archs = sorted(doc["architectures"], key=lambda a: a["index"])
        self.assertEqual(len(archs), 2)
        for index, (arch, P) in enumerate(zip(archs, (MLP_PARAMS, CONV_PARAMS))):
            self.assertEqual(arch["name"], NAMES[index])
            self.assertEqual(arch["index"], index)
            self.assertEqual(arch["params"], P)
            self.assertEqual(arch["networks"], e["arch"].count(index))
        self.assertEqual(set(doc["properties"]), set(e["props"]))
        for name, values in e["props"].items():
            values = np.array(values, dtype=np.float64)
            known = values[~np.isnan(values)]
            stats = doc["properties"][name]
            self.assertEqual(stats["known"], known.size, name)
            self.assert_close(stats["min"], float(known.min()), f"{name}.min")
            self.assert_close(stats["mean"], float(known.mean()), f"{name}.mean")
            self.assert_close(stats["max"], float(known.max()), f"{name}.max")
        self.assertEqual(doc["splits"], {k: len(v) for k, v in e["splits"].items()})

    def test_show_json(self):
        e = self.expected
        for i in (0, 1, 2, 3, 4, 7, 11):  # both architectures, missing property/metadata values, late property
            net = self.sne_json("zoo", "show", self.zoo, str(i), "--json")
            self.assertEqual(net["index"], i)
            self.assertEqual(net["architecture"], NAMES[e["arch"][i]])
            self.assertEqual(net["row"], e["row"][i])
            got = np.array(net["params"], dtype=np.float64).astype(np.float32)
            self.assertEqual(got.shape, e["params"][i].shape, f"network {i}")
            mismatch = np.flatnonzero(got != e["params"][i])
            self.assertEqual(mismatch.size, 0, f"network {i}: params differ at {mismatch.tolist()}: "
                             f"{got[mismatch].tolist()} != {e['params'][i][mismatch].tolist()}")
            self.assertEqual(set(net["properties"]), set(e["props"]))
            for name, values in e["props"].items():
                if math.isnan(values[i]):
                    self.assertIsNone(net["properties"][name], f"network {i} property {name}")
                else:
                    self.assert_close(net["properties"][name], values[i], f"network {i} property {name}")
            meta = net["metadata"]
            optimizer = e["meta"]["optimizer"][i]
            if optimizer:
                self.assertEqual(meta["optimizer"], optimizer)
            else:  # unknown string: "" or null or left out
                self.assertIn(meta.get("optimizer"), ("", None))
            seed = e["meta"]["seed"][i]
            if math.isnan(seed):
                self.assertIsNone(meta.get("seed"))
            else:
                self.assert_close(meta["seed"], seed, f"network {i} metadata seed")
            want_splits = sorted(k for k, v in e["splits"].items() if i in v)
            self.assertEqual(sorted(net["splits"]), want_splits, f"network {i}")

    def test_validate_rejects_nan_weight(self):
        zoo = os.path.join(self.dir, "nan.h5")
        write_mixed_zoo(zoo, num_networks=6, nan_weight_in=3)
        proc = self.sne("zoo", "validate", zoo)
        self.assertNotEqual(proc.returncode, 0, proc.report)
        self.assertRegex(proc.stdout + proc.stderr, re.compile(r"network\w*\W{0,3}3\b", re.IGNORECASE), proc.report)


if __name__ == "__main__":
    unittest.main(verbosity=2)
