#!/usr/bin/env python3
"""data-scripts/merge_zoos.py: networks, properties, metadata and splits of several zoos in one, the `zoo`
column naming each network's source, and clear refusals (an existing output, clashing architectures)."""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from zoo_fixtures import SOURCE_DIR, mlp_spec, small_disk, sne_zoo, write_mixed_zoo

MERGE = os.path.join(SOURCE_DIR, "data-scripts", "merge_zoos.py")


def merge(*args):
    return subprocess.run([sys.executable, MERGE, *args], capture_output=True, text=True, timeout=120)


class MergeZoosTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_networks_metadata_and_splits_carry_over(self):
        a, b, out = (os.path.join(self.dir, n) for n in ("first.h5", "second.h5", "mixed.h5"))
        write_mixed_zoo(a, num_networks=10, seed=0)
        write_mixed_zoo(b, num_networks=6, seed=1)
        r = merge("-o", out, a, b)
        self.assertEqual(r.returncode, 0, r.stderr)
        with sne_zoo.ZooReader(a) as za, sne_zoo.ZooReader(b) as zb, sne_zoo.ZooReader(out) as m:
            self.assertEqual(m.num_networks, 16)
            self.assertEqual(list(m.metadata["zoo"]), ["first"] * 10 + ["second"] * 6)
            for i in range(16):
                src, j = (za, i) if i < 10 else (zb, i - 10)
                np.testing.assert_array_equal(m.params(i), src.params(j))
                self.assertEqual(m.architecture_of(i), src.architecture_of(j))
                self.assertEqual(str(m.metadata["optimizer"][i]), str(src.metadata["optimizer"][j]))
            np.testing.assert_array_equal(m.properties["test_accuracy"][:10], za.properties["test_accuracy"])
            for s in za.splits:
                np.testing.assert_array_equal(m.splits[s], np.concatenate([za.splits[s], zb.splits[s] + 10]))
        self.assertEqual(merge("-o", out, a, b).returncode, 3)  # exists
        self.assertEqual(merge("-o", out, a, b, "--overwrite").returncode, 0)

    def test_architectures_of_one_name_must_agree(self):
        a, b = os.path.join(self.dir, "a.h5"), os.path.join(self.dir, "b.h5")
        write_mixed_zoo(a, num_networks=4)
        spec = mlp_spec()
        spec["attributes"] = {"input_shape": [2], "note": "another recipe"}
        with sne_zoo.ZooWriter(b, {"kind": "manual", "name": "clash"}) as w:
            w.append(w.add_architecture(spec), np.zeros(17, np.float32))
        r = merge("-o", os.path.join(self.dir, "m.h5"), a, b)
        self.assertEqual(r.returncode, 3)
        self.assertIn("b.h5: architecture mlp_2_4_1 differs", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "m.h5")))
        r = merge("-o", os.path.join(self.dir, "m.h5"), os.path.join(self.dir, "absent.h5"))
        self.assertEqual(r.returncode, 3)
        self.assertIn("absent.h5", r.stderr)

    def test_an_input_is_never_the_output_and_nothing_is_left_behind(self):
        a, b = os.path.join(self.dir, "a.h5"), os.path.join(self.dir, "b.h5")
        write_mixed_zoo(a, num_networks=4, seed=0)
        write_mixed_zoo(b, num_networks=3, seed=1)
        before = open(a, "rb").read()
        r = merge("-o", a, a, b, "--overwrite")
        self.assertEqual(r.returncode, 3)
        self.assertIn("is also an input", r.stderr)
        self.assertEqual(open(a, "rb").read(), before)
        r = merge("-o", self.dir, a, b, "--overwrite")
        self.assertEqual(r.returncode, 3)
        self.assertIn("is a folder", r.stderr)
        self.assertEqual(merge("-o", os.path.join(self.dir, "m.h5"), a, b).returncode, 0)
        self.assertEqual(sorted(os.listdir(self.dir)), ["a.h5", "b.h5", "m.h5"])  # no temporary file remains

    def test_a_full_disk_exits_5_naming_the_output_and_leaves_nothing(self):
        a = os.path.join(self.dir, "first.h5")
        write_mixed_zoo(a, num_networks=400, seed=0)
        with small_disk(os.path.join(self.dir, "full"), "64k") as mnt:
            out = os.path.join(mnt, "mixed.h5")
            r = merge(a, "-o", out)
            self.assertEqual(r.returncode, 5, r.stderr)
            self.assertIn(f"{out}: cannot write (No space left on device", r.stderr)
            self.assertNotIn("Traceback", r.stderr)  # nor an error h5py could only print
            self.assertEqual(os.listdir(mnt), [])
        out = os.path.join(self.dir, "mixed.h5")  # the rerun, where there is room
        self.assertEqual(merge(a, "-o", out).returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
