#!/usr/bin/env python3
"""End-to-end tests of `sne zoo generate sine` and `sne run`: bad requests, interrupt and resume.

Environment (ctest sets both): SNE_BINARY, SNE_SOURCE_DIR. Run by hand:
    SNE_BINARY=build/apps/sne SNE_SOURCE_DIR=. /usr/bin/python3 tests/cli/test_generate.py -v
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SNE_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "data-scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # test_kill_sweep.py: comparing zoo files
import sne_zoo  # noqa: E402

SNE = os.environ.get("SNE_BINARY", "")
FAST = ["--max-steps", "300", "--target-loss", "0", "--batch", "4", "--threads", "1"]  # every INR runs 300 steps


def sne(*args, **kw):
    return subprocess.run([SNE, *args], capture_output=True, text=True, timeout=300, **kw)


@unittest.skipUnless(SNE, "SNE_BINARY is not set")
class GenerateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def assertFails(self, result, code, *fragments):
        self.assertEqual(result.returncode, code, result.stderr)
        # Info lines may come first; the error is one line of its own.
        self.assertTrue(any(l.startswith("sne: error:") for l in result.stderr.splitlines()), result.stderr)
        for f in fragments:
            self.assertIn(f, result.stderr)
        self.assertEqual(result.stdout, "")

    def test_bad_values(self):
        out = os.path.join(self.dir, "z.h5")
        self.assertFails(sne("zoo", "generate", "sine", "-o", out, "--count", "0"), 2, "generate.sine.count",
                         ">= 1")
        self.assertFails(sne("zoo", "generate", "sine", "-o", out, "--count", "3", "--freq-min", "5",
                             "--freq-max", "2"), 2, "freq_min (5) must be below generate.sine.freq_max (2)")
        self.assertFails(sne("zoo", "generate", "sine", "-o", "/proc/sne-no-such-dir/z.h5", "--count", "2"), 5,
                         "/proc/sne-no-such-dir")
        self.assertFalse(os.path.exists(out))

    def test_existing_output_of_another_recipe_is_kept(self):
        out = os.path.join(self.dir, "z.h5")
        first = sne("zoo", "generate", "sine", "-o", out, "--count", "4", *FAST)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("4 INRs", first.stdout)
        before = os.path.getmtime(out)
        other = sne("zoo", "generate", "sine", "-o", out, "--count", "4", "--seed", "1", *FAST)
        self.assertFails(other, 5, out, "holds a different zoo", "seed 0 vs 1")
        self.assertEqual(os.path.getmtime(out), before)
        notes = os.path.join(self.dir, "notes.txt")
        with open(notes, "w") as f:
            f.write("not a zoo\n")
        self.assertFails(sne("zoo", "generate", "sine", "-o", notes, "--count", "2", *FAST), 5,
                         "refusing to overwrite")
        with open(notes) as f:
            self.assertEqual(f.read(), "not a zoo\n")

    def test_interrupt_keeps_finished_inrs_and_rerun_continues(self):
        out = os.path.join(self.dir, "z.h5")
        cmd = [SNE, "zoo", "generate", "sine", "-o", out, "--count", "40", *FAST]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Signal once generation has started (the handlers are in place), however slow the machine is today.
        first = proc.stderr.readline()
        self.assertIn("generating", first)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
        stderr = first + stderr
        if proc.returncode == 0:
            self.skipTest("the machine finished 40 INRs before the interrupt; nothing to resume")
        self.assertEqual(proc.returncode, 128 + signal.SIGINT, stderr)
        self.assertIn("run the same command to continue", stderr)
        saved = int(stderr.split("interrupted: ")[1].split(" of ")[0])
        self.assertLess(saved, 40)
        if saved > 0:  # readable, and validate says it is unfinished
            v = sne("zoo", "validate", out)
            self.assertEqual(v.returncode, 3)
            self.assertIn(f"holds {saved} of the 40 networks its provenance promises", v.stderr)
            self.assertEqual(sne_zoo.ZooReader(out).num_networks, saved)
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        self.assertEqual(again.returncode, 0, again.stderr)
        if saved > 0:
            self.assertIn(f"resumed: {saved} INRs were already", again.stderr)
        z = sne_zoo.ZooReader(out)
        self.assertEqual(z.num_networks, 40)
        self.assertEqual(sorted(int(i) for i in z.metadata["inr"]), list(range(40)))
        self.assertEqual(sum(len(s) for s in z.splits.values()), 40)
        self.assertTrue(np.all(z.properties["steps"] == 300))

    def test_a_second_generator_of_one_zoo_is_refused(self):
        out = os.path.join(self.dir, "locked.h5")
        cmd = [SNE, "zoo", "generate", "sine", "-o", out, "--count", "4000", *FAST]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertIn("generating", proc.stderr.readline())  # it holds the output by now
        second = sne("zoo", "generate", "sine", "-o", out, "--count", "4000", *FAST)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
        self.assertEqual(second.returncode, 5, second.stderr)
        self.assertIn(f"{out}: in use by sne pid {proc.pid}", second.stderr)

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"),
                         "needs root to mount a small tmpfs")
    def test_a_full_disk_exits_5_and_the_rerun_completes_a_valid_zoo_and_embeddings(self):
        mnt = tempfile.mkdtemp(dir=self.dir)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here")
        try:
            out = os.path.join(mnt, "z.h5")
            args = ["zoo", "generate", "sine", "-o", out, "--count", "800", "--max-steps", "5", "--batch", "64",
                    "--threads", "1"]
            r = sne(*args)
            self.assertFails(r, 5, "No space left on device; is the disk full?")
            for marker in ("Segmentation", "terminate called", "internal error", "error while closing"):
                self.assertNotIn(marker, r.stderr)
            self.assertNotIn("filename =", r.stderr)  # the OS's message, not HDF5's two-line dump
            subprocess.run(["mount", "-o", "remount,size=40m", mnt], check=True)
            r = sne(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            v = sne("zoo", "validate", out)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)  # no rows torn off by the failed flush remain
            with sne_zoo.ZooReader(out) as z:
                self.assertEqual(z.num_networks, 800)
                self.assertEqual(sorted(int(i) for i in z.metadata["inr"]), list(range(800)))
        finally:
            subprocess.run(["umount", "-l", mnt], capture_output=True)

    def test_run_with_a_config_builds_validates_and_reuses_the_zoo(self):
        out = os.path.join(self.dir, "demo.h5")
        cfg = os.path.join(self.dir, "demo.yaml")
        with open(cfg, "w") as f:
            f.write(f"run: {{dir: {self.dir}/run, train: true}}\n"
                    f"zoo:\n  path: {out}\n  generator: sine\n  reader: {{batch_size: 4}}\n"
                    f"generate:\n  sine:\n    count: 10\n    max_steps: 50\n    batch: 10\n"
                    f"encoder: {{dim: 16}}\npredictor: {{hidden: 16}}\ntrain: {{epochs: 2}}\n")
        first = sne("run", cfg)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("10 networks", first.stdout)
        self.assertIn("mean-predictor MSE", first.stdout)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "run/checkpoints/best/model.pt")))
        self.assertIn("valid", first.stdout)
        self.assertIn("frequency", first.stdout)
        second = sne("run", cfg)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("complete, reusing it", second.stderr)
        self.assertIn("trained earlier, reusing it", second.stderr)
        missing = os.path.join(self.dir, "missing.yaml")
        with open(missing, "w") as f:
            f.write(f"zoo:\n  path: {self.dir}/nothing.h5\nrun: {{train: false}}\n")
        self.assertFails(sne("run", missing), 3, "nothing.h5: no such file")


def write_idx_dataset(folder, n_train=96, n_test=48, size=16):
    """A tiny MNIST-layout dataset (gzipped IDX files) whose class is the bright quadrant."""
    import gzip
    rng = np.random.default_rng(3)
    os.makedirs(folder, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 4, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
        h = size // 2
        for i, y in enumerate(labels):
            images[i, (y // 2) * h:(y // 2 + 1) * h, (y % 2) * h:(y % 2 + 1) * h] += 150
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
            with gzip.open(os.path.join(folder, f"{stem}-{kind}-ubyte.gz"), "wb") as f:
                f.write(header + arr.tobytes())


@unittest.skipUnless(SNE, "SNE_BINARY is not set")
class GenerateCnnTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.data = os.path.join(self.dir, "images")
        write_idx_dataset(self.data)
        self.common = ["--dataset", "mnist", "--data-dir", self.data, "--epochs", "1", "--checkpoint-epochs", "0,1",
                       "--batch-size", "32", "--threads", "1"]

    def tearDown(self):
        self.tmp.cleanup()

    def test_generates_a_valid_zoo_of_checkpoints(self):
        out = os.path.join(self.dir, "z.h5")
        r = sne("zoo", "generate", "cnn", "-o", out, "--arch", "arch2", "--count", "5", *self.common)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("10 arch2_c1_16x16 networks in 5 runs", r.stdout)
        self.assertIn("final test accuracy", r.stderr)
        v = sne("zoo", "validate", out)
        self.assertEqual(v.returncode, 0, v.stderr)
        with sne_zoo.ZooReader(out) as z:
            self.assertEqual(z.num_networks, 10)
        again = sne("zoo", "generate", "cnn", "-o", out, "--arch", "arch2", "--count", "5", *self.common)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("5 runs were already in", again.stderr)

    def test_the_zoo_is_the_same_bit_for_bit_with_1_and_2_threads(self):
        # Images, batches and runs large enough for LibTorch to split its operations over 2 threads (28x28, 128 per
        # batch, 8 runs of 4970 weights), dropout on: each run trains on one thread of its own.
        from test_kill_sweep import same_h5
        data = os.path.join(self.dir, "images28")
        write_idx_dataset(data, n_train=256, n_test=64, size=28)
        outs = []
        for threads in ("1", "2"):
            outs.append(os.path.join(self.dir, f"t{threads}.h5"))
            r = sne("zoo", "generate", "cnn", "-o", outs[-1], "--arch", "arch1", "--count", "8", "--parallel", "8",
                    "--dropout-max", "0.5", "--dataset", "mnist", "--data-dir", data, "--epochs", "1",
                    "--checkpoint-epochs", "1", "--batch-size", "128", "--threads", threads)
            self.assertEqual(r.returncode, 0, r.stderr)
        same_h5(self, *outs)

    def test_bad_inputs(self):
        out = os.path.join(self.dir, "bad.h5")
        r = sne("zoo", "generate", "cnn", "-o", out, "--arch", "arch9", *self.common)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("arch9", r.stderr)
        r = sne("zoo", "generate", "cnn", "-o", out, *self.common[:2], "--data-dir", os.path.join(self.dir, "none"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("does not exist", r.stderr)
        with open(os.path.join(self.data, "t10k-labels-idx1-ubyte.gz"), "r+b") as f:
            f.truncate(20)
        r = sne("zoo", "generate", "cnn", "-o", out, *self.common)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("t10k-labels-idx1-ubyte.gz", r.stderr)
        self.assertIn("corrupt or truncated gzip", r.stderr)
        self.assertFalse(os.path.exists(out), "nothing may be written when the data cannot be read")
        r = sne("zoo", "generate", "cnn", "-o", out, "--checkpoint-epochs", "0", "--dataset", "mnist",
                "--data-dir", self.data, "--epochs", "1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("must include the last epoch", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
