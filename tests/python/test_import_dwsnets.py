#!/usr/bin/env python3
"""Tests of data-scripts/import_dwsnets.py (DWSNets sine-wave INR .pth files -> sne zoo).

Needs PyTorch (Debian: python3-torch); without it every test is skipped. With SNE_BINARY set (ctest sets it), the
imported zoo is also checked by `sne zoo validate` and its architecture compared with `sne zoo generate sine`'s.
Run: /usr/bin/python3 tests/python/test_import_dwsnets.py
"""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from zoo_fixtures import SOURCE_DIR, small_disk, sne_zoo

try:
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    torch = None
    TORCH_MISSING = f"PyTorch is not importable ({e}); install python3-torch to run the DWSNets importer tests"
else:
    TORCH_MISSING = ""

IMPORTER = os.path.join(SOURCE_DIR, "data-scripts", "import_dwsnets.py")
sys.path.insert(0, os.path.dirname(IMPORTER))
import import_dwsnets  # noqa: E402

SNE = os.environ.get("SNE_BINARY", "")
SPEC_32 = json.loads(
    '{"name":"siren_1_32_32_1","attributes":{"w0":30,"output_offset":0.5,"input":"x in [-pi, pi)"},"layers":[{"name":'
    '"l0","kind":"linear","level":0,"attributes":{"activation":"sine","w0":30},"tensors":[{"name":"l0.weight","role":'
    '"weight","shape":[32,1]},{"name":"l0.bias","role":"bias","shape":[32]}]},{"name":"l1","kind":"linear","level":1,'
    '"attributes":{"activation":"sine","w0":30},"tensors":[{"name":"l1.weight","role":"weight","shape":[32,32]},'
    '{"name":"l1.bias","role":"bias","shape":[32]}]},{"name":"l2","kind":"linear","level":2,"attributes":{},'
    '"tensors":[{"name":"l2.weight","role":"weight","shape":[1,32]},{"name":"l2.bias","role":"bias","shape":[1]}]}],'
    '"symmetries":[{"name":"l0.units","kind":"permutation","size":32,"actions":[{"tensor":"l0.weight","axis":0},'
    '{"tensor":"l0.bias","axis":0},{"tensor":"l1.weight","axis":1}]},{"name":"l1.units","kind":"permutation",'
    '"size":32,"actions":[{"tensor":"l1.weight","axis":0},{"tensor":"l1.bias","axis":0},{"tensor":"l2.weight",'
    '"axis":1}]}]}')
SRC_KEYS = {"l0.weight": "seq.0.linear.weight", "l0.bias": "seq.0.linear.bias", "l1.weight": "seq.1.linear.weight",
            "l1.bias": "seq.1.linear.bias", "l2.weight": "seq.2.weight", "l2.bias": "seq.2.bias"}


def random_inr(seed, h=32):
    """Known weights, as numpy float32, keyed by our tensor names."""
    rng = np.random.default_rng(seed)
    shapes = {"l0.weight": (h, 1), "l0.bias": (h,), "l1.weight": (h, h), "l1.bias": (h,), "l2.weight": (1, h),
              "l2.bias": (1,)}
    return {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}


def write_inr(path, weights, coef=3.7, layout="flat", extra=None):
    """torch.save one INR. layout: flat (keys next to coef), nested (under state_dict, module. prefixes),
    dwsnets (seq.N.weight without .linear, plus the x/y training data as numpy arrays)."""
    sd = {}
    for ours, key in SRC_KEYS.items():
        if layout == "dwsnets":
            key = key.replace(".linear", "")
        sd[("module." + key) if layout == "nested" else key] = torch.from_numpy(weights[ours].copy())
    sd.update(extra or {})
    obj = {"state_dict": sd} if layout == "nested" else sd
    if coef is not None:
        obj["coef"] = coef
    if layout == "dwsnets":
        obj["x"] = np.arange(-np.pi, np.pi, np.pi / 8)
        obj["y"] = np.sin(obj["x"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path)


@unittest.skipIf(torch is None, TORCH_MISSING)
class ImporterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sne_dwsnets_test_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def make_release(self):
        """Four INRs in four layouts; sorted order a/inr_0, a/inr_1, b/inr_2, b/inr_3."""
        self.w = [random_inr(s) for s in range(4)]
        write_inr(self.p("inrs", "a", "inr_0.pth"), self.w[0], coef=3.7)
        write_inr(self.p("inrs", "a", "inr_1.pth"), self.w[1], coef=torch.tensor(2.25))
        write_inr(self.p("inrs", "b", "inr_2.pth"), self.w[2], coef=torch.tensor([7.5]), layout="nested")
        write_inr(self.p("inrs", "b", "inr_3.pth"), self.w[3], coef=[0.5, 4.0], layout="dwsnets")
        self.freq, self.amp = [3.7, 2.25, 7.5, 4.0], [1.0, 1.0, 1.0, 0.5]
        self.names = ["a/inr_0.pth", "a/inr_1.pth", "b/inr_2.pth", "b/inr_3.pth"]

    def run_importer(self, *args, ok=True):
        proc = subprocess.run([sys.executable, IMPORTER, *args], capture_output=True, text=True, timeout=240)
        report = f"import_dwsnets {' '.join(args)} exited {proc.returncode}\nstderr:\n{proc.stderr}"
        if ok:
            self.assertEqual(proc.returncode, 0, report)
        return proc

    def assert_weights(self, reader, i, want):
        t = reader.tensors(i)
        h = want["l1.weight"].shape[0]
        self.assertEqual(set(t), set(want))
        for name in want:  # element by element: the row must be PyTorch (out, in) order, untransposed
            self.assertEqual(t[name].shape, want[name].shape, name)
            for idx in np.ndindex(*want[name].shape):
                self.assertEqual(t[name][idx], want[name][idx], f"network {i} {name}{list(idx)}")
        for r in range(h):
            for c in range(h):
                self.assertEqual(t["l1.weight"][r][c], want["l1.weight"][r][c])
        np.testing.assert_array_equal(reader.params(i), np.concatenate([want[k].ravel() for k in SRC_KEYS]))

    def assert_fails(self, source, out, *needles, extra=()):
        proc = self.run_importer(source, out, *extra, ok=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("import_dwsnets: error:"), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assertFalse(os.path.exists(out + ".partial"), "partial output left behind")
        return lines[0]

    def test_directory_import(self):
        self.make_release()
        out = self.p("zoo.h5")
        self.run_importer(self.p("inrs"), out)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 4)
            self.assertEqual(r.architecture_names, ["siren_1_32_32_1"])
            self.assertEqual(r.architectures[0], sne_zoo.normalize_spec(SPEC_32))
            for i in range(4):
                self.assert_weights(r, i, self.w[i])
            np.testing.assert_allclose(r.properties["frequency"], self.freq, rtol=1e-6)
            np.testing.assert_allclose(r.properties["amplitude"], self.amp, rtol=1e-6)
            self.assertEqual(list(r.metadata["source"]), self.names)
            self.assertEqual(r.splits, {})
            self.assertEqual(r.provenance, {"kind": "importer", "name": "dwsnets_sine", "sources": [self.p("inrs")],
                                            "files": 4, "w0": 30, "output_offset": 0.5,
                                            "note": "DWSNets sine-wave INR release"})
        self.assertFalse(os.path.exists(out + ".partial"))

    def test_spec_is_exactly_the_generators(self):
        self.assertEqual(import_dwsnets.siren_spec(32, 30, 0.5), SPEC_32)
        spec8 = json.loads(json.dumps(SPEC_32).replace("32", "8"))
        self.assertEqual(import_dwsnets.siren_spec(8, 30, 0.5), spec8)

    def test_splits_json(self):
        self.make_release()
        write_inr(self.p("inrs", "c", "nocoef.pth"), self.w[0], coef=None)
        splits = {"train": {"path": ["inrs/b/inr_2.pth", "inrs/c/nocoef.pth"], "score": [99.0, 6.5]},
                  "val": {"path": ["inrs/a/inr_1.pth"], "label": [1.0]},
                  "test": {"path": [self.p("inrs", "b", "inr_3.pth"), "inrs/a/inr_0.pth"], "score": [0, 0]}}
        with open(self.p("splits.json"), "w") as f:
            json.dump(splits, f)
        out = self.p("zoo.h5")
        cwd = os.getcwd()
        try:
            os.chdir(tempfile.gettempdir())  # relative paths are relative to the JSON's folder, not the cwd
            self.run_importer(self.p("splits.json"), out)
        finally:
            os.chdir(cwd)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 5)
            for i, want in enumerate([self.w[2], self.w[0], self.w[1], self.w[3], self.w[0]]):
                self.assert_weights(r, i, want)
            # the .pth's coef wins over the JSON's score; the JSON's score fills in a missing coef
            np.testing.assert_allclose(r.properties["frequency"], [7.5, 6.5, 2.25, 4.0, 3.7], rtol=1e-6)
            np.testing.assert_allclose(r.properties["amplitude"], [1.0, 1.0, 1.0, 0.5, 1.0], rtol=1e-6)
            self.assertEqual({k: v.tolist() for k, v in r.splits.items()},
                             {"train": [0, 1], "validation": [2], "test": [3, 4]})
            self.assertEqual(list(r.metadata["source"]), ["inrs/b/inr_2.pth", "inrs/c/nocoef.pth", "inrs/a/inr_1.pth",
                                                          "inrs/b/inr_3.pth", "inrs/a/inr_0.pth"])
            self.assertEqual(r.provenance["sources"], [self.p("splits.json")])
            self.assertEqual(r.provenance["files"], 5)

    def test_dwsnets_list_splits(self):
        """DWSNets' own generate_data_splits.py writes plain lists of paths under train/val/test."""
        self.make_release()
        with open(self.p("ssl_splits.json"), "w") as f:
            json.dump({"train": ["inrs/a/inr_0.pth", "inrs/b/inr_3.pth"], "test": ["inrs/a/inr_1.pth"],
                       "val": ["inrs/b/inr_2.pth"]}, f)
        out = self.p("zoo.h5")
        self.run_importer(self.p("ssl_splits.json"), out)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual({k: v.tolist() for k, v in r.splits.items()},
                             {"train": [0, 1], "validation": [2], "test": [3]})
            self.assert_weights(r, 3, self.w[1])

    def test_seeded_split_and_flags(self):
        self.make_release()
        out1, out2 = self.p("z1.h5"), self.p("z2.h5")
        args = ["--test-count", "1", "--validation-count", "2", "--seed", "7", "--w0", "20", "--output-offset", "0",
                "--amplitude", "2.5"]
        self.run_importer(self.p("inrs"), out1, *args)
        self.run_importer(self.p("inrs"), out2, *args)
        with sne_zoo.ZooReader(out1) as r1, sne_zoo.ZooReader(out2) as r2:
            s = {k: v.tolist() for k, v in r1.splits.items()}
            self.assertEqual(s, {k: v.tolist() for k, v in r2.splits.items()})
            self.assertEqual((len(s["test"]), len(s["validation"]), len(s["train"])), (1, 2, 1))
            self.assertEqual(sorted(s["test"] + s["validation"] + s["train"]), [0, 1, 2, 3])
            spec = r1.architectures[0]
            self.assertEqual(spec["attributes"], {"w0": 20, "output_offset": 0, "input": "x in [-pi, pi)"})
            self.assertEqual(spec["layers"][1]["attributes"], {"activation": "sine", "w0": 20})
            np.testing.assert_allclose(r1.properties["amplitude"], [2.5, 2.5, 2.5, 0.5])
            self.assertEqual(r1.provenance["w0"], 20)
        self.assert_fails(self.p("inrs"), self.p("z3.h5"), "--test-count 3", extra=["--test-count", "3",
                                                                                  "--validation-count", "2"])

    def test_other_width(self):
        w = random_inr(11, h=8)
        write_inr(self.p("inrs", "x.pth"), w, coef=1.5)
        out = self.p("zoo.h5")
        self.run_importer(self.p("inrs"), out)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.architectures[0], sne_zoo.normalize_spec(import_dwsnets.siren_spec(8, 30, 0.5)))
            self.assertEqual(r.architecture_names, ["siren_1_8_8_1"])
            self.assert_weights(r, 0, w)

    def test_a_full_disk_exits_5_naming_the_output_leaves_nothing_and_the_rerun_completes(self):
        for i in range(80):  # 80 SIRENs of 1185 float32 each: about 380 kB, on a 128 kB disk
            write_inr(self.p("inrs", f"n{i:02d}.pth"), random_inr(i), coef=1.0 + i / 10)
        with small_disk(self.p("full"), "128k") as mnt:
            out = os.path.join(mnt, "zoo.h5")
            proc = self.run_importer(self.p("inrs"), out, ok=False)
            self.assertEqual(proc.returncode, 5, proc.stderr)
            self.assertIn(f"{out}: cannot write (No space left on device", proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)  # nor an error h5py could only print
            self.assertEqual(os.listdir(mnt), [])
        self.run_importer(self.p("inrs"), self.p("zoo.h5"))  # the rerun, where there is room
        with sne_zoo.ZooReader(self.p("zoo.h5")) as r:
            self.assertEqual(r.num_networks, 80)

    def test_progress_lines(self):
        for i in range(5):
            write_inr(self.p("inrs", f"n{i}.pth"), random_inr(i, h=4), coef=1.0 + i)
        old, import_dwsnets.PROGRESS_EVERY = import_dwsnets.PROGRESS_EVERY, 2
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                rc = import_dwsnets.main([self.p("inrs"), self.p("zoo.h5")])
        finally:
            import_dwsnets.PROGRESS_EVERY = old
        self.assertEqual(rc, 0, err.getvalue())
        self.assertIn("import_dwsnets: 2/5 files", err.getvalue())
        self.assertIn("import_dwsnets: 4/5 files", err.getvalue())

    def test_overwrite(self):
        self.make_release()
        out = self.p("zoo.h5")
        with open(out, "w") as f:
            f.write("precious")
        self.assert_fails(self.p("inrs"), out, out, "exists", "--overwrite")
        with open(out) as f:
            self.assertEqual(f.read(), "precious")
        self.run_importer(self.p("inrs"), out, "--overwrite")
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 4)

    # ---- bad inputs: exit 1, one line naming the file and what was expected, no output left behind ----
    def bad_release(self, name, **kwargs):
        """One good INR first (so the writer has started), then the bad one."""
        write_inr(self.p("inrs", "a_good.pth"), random_inr(0), coef=1.0)
        path = self.p("inrs", name)
        if kwargs:
            write_inr(path, **kwargs)
        return path

    def check_bad(self, path, *needles):
        out = self.p("zoo.h5")
        self.assert_fails(self.p("inrs"), out, path, *needles)
        self.assertFalse(os.path.exists(out))

    def test_missing_source(self):
        self.assert_fails(self.p("nope"), self.p("zoo.h5"), self.p("nope"), "does not exist")
        self.assertFalse(os.path.exists(self.p("zoo.h5")))

    def test_no_pth_files(self):
        os.makedirs(self.p("inrs"))
        with open(self.p("inrs", "readme.txt"), "w") as f:
            f.write("x")
        self.assert_fails(self.p("inrs"), self.p("zoo.h5"), "no .pth files")

    def test_not_a_torch_file(self):
        path = self.bad_release("b_text.pth")
        with open(path, "w") as f:
            f.write("this is not a pickle\n")
        self.check_bad(path, "not a PyTorch file")

    def test_missing_keys(self):
        w = random_inr(1)
        path = self.bad_release("b_keys.pth", weights=w, coef=1.0)
        sd = torch.load(path)
        del sd["seq.1.linear.bias"], sd["seq.2.weight"]
        torch.save(sd, path)
        self.check_bad(path, "missing keys", "seq.1.linear.bias", "seq.2.weight", "found keys", "seq.0.linear.weight")

    def test_wrong_shape(self):
        w = random_inr(1)
        w["l1.weight"] = w["l1.weight"][:, :31]
        path = self.bad_release("b_shape.pth", weights=w, coef=1.0)
        self.check_bad(path, "seq.1.linear.weight", "[32, 31]", "expected [32, 32]")

    def test_width_mismatch(self):
        path = self.bad_release("b_width.pth", weights=random_inr(1, h=16), coef=1.0)
        self.check_bad(path, "hidden width 16", "width 32")

    def test_non_finite(self):
        w = random_inr(1)
        w["l2.weight"][0, 3] = np.nan
        path = self.bad_release("b_nan.pth", weights=w, coef=1.0)
        self.check_bad(path, "seq.2.weight", "non-finite")

    def test_missing_coef(self):
        path = self.bad_release("b_coef.pth", weights=random_inr(1), coef=None)
        self.check_bad(path, "no 'coef'", "frequency")

    @unittest.skipUnless(SNE, "SNE_BINARY is not set: skipping the `sne zoo validate` check of the imported zoo")
    def test_sne_validates_and_specs_match(self):
        self.make_release()
        out, gen = self.p("zoo.h5"), self.p("gen.h5")
        self.run_importer(self.p("inrs"), out)
        proc = subprocess.run([SNE, "zoo", "validate", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, f"sne zoo validate: {proc.stdout}\n{proc.stderr}")
        proc = subprocess.run([SNE, "zoo", "generate", "sine", "--count", "2", "--max-steps", "1", "--points", "16",
                               "--test-count", "0", "--validation-count", "0", "--threads", "1", "-o", gen],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, f"sne zoo generate sine: {proc.stdout}\n{proc.stderr}")
        with sne_zoo.ZooReader(out) as r, sne_zoo.ZooReader(gen) as g:
            self.assertEqual(g.architectures[0], SPEC_32)  # the brief's JSON is what the generator writes
            self.assertEqual(r.architectures[0], sne_zoo.normalize_spec(g.architectures[0]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
