#!/usr/bin/env python3
"""The kill -9 sweep: `sne train` and `sne zoo generate sine` are killed (SIGKILL, nothing to catch) at random
moments, each rerun with the command a user would type, and the final state compared with an uninterrupted run:
the trained weights and metrics bit for bit, the zoo's every dataset and attribute (its generation times aside).

Each trial is one kill then one rerun to completion; the moments are drawn uniformly over the uninterrupted
run's wall time (its process start included), from a seeded generator, and printed, so a failure can be replayed
with --seed. A trial whose process ended before its kill landed is drawn again (at most 3 times).

Environment (ctest sets both): SNE_BINARY, SNE_SOURCE_DIR. Run by hand, e.g. with more trials:
    SNE_BINARY=$PWD/build/apps/sne SNE_SOURCE_DIR=$PWD /usr/bin/python3 tests/cli/test_kill_sweep.py --trials 30
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SNE_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from test_train import write_config, write_zoo  # noqa: E402  (the toy task of the train tests)

SNE = os.environ.get("SNE_BINARY", "")
TRIALS = 10
SEED = 12
# Provenance members that record when, how long or on what, not what was made: they differ between runs.
TIMING_KEYS = {"created", "generated_at", "generation_seconds", "seconds", "started", "finished", "elapsed_seconds",
               "host", "pid", "resumed", "sessions", "generation_device"}
# metrics.jsonl members that are times.
METRIC_TIMES = {"seconds", "step_seconds", "epoch_seconds", "elapsed_seconds", "networks_per_second", "time", "wall_seconds"}


def run_to_end(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    return r


def kill_at(cmd, cwd, moment):
    """Starts `cmd`, sends SIGKILL after `moment` seconds; returns True when the kill landed (the process was
    still running), False when it had already ended (then its exit status must be 0)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=moment)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return True
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode} before its kill:\n{err}")
    return False


def h5_content(path):
    """Every dataset's values and every attribute of a zoo or embeddings file, provenance parsed as JSON with the
    members of TIMING_KEYS left out."""
    out = {}

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in TIMING_KEYS}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    def attrs(name, obj):
        for k, v in obj.attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            if isinstance(v, str):
                try:
                    v = json.dumps(clean(json.loads(v)), sort_keys=True)
                except ValueError:
                    pass
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            out[f"{name}@{k}"] = v

    def visit(name, obj):
        attrs(name, obj)
        if isinstance(obj, h5py.Dataset):
            data = obj[()]
            if isinstance(data, np.ndarray) and data.dtype.kind == "O":
                data = [x.decode() if isinstance(x, bytes) else x for x in data.tolist()]
                data = [json.dumps(clean(json.loads(x)), sort_keys=True) if name.endswith("provenance") else x
                        for x in data]
            elif isinstance(data, bytes):
                data = data.decode()
            out[name] = data

    with h5py.File(path, "r") as f:
        attrs("/", f)
        f.visititems(visit)
    return out


def same_h5(test, a, b):
    ca, cb = h5_content(a), h5_content(b)
    test.assertEqual(sorted(ca), sorted(cb), "the files hold other datasets or attributes")
    for k in ca:
        if isinstance(ca[k], np.ndarray):
            test.assertEqual(ca[k].dtype, cb[k].dtype, k)
            test.assertTrue(np.array_equal(ca[k], cb[k], equal_nan=ca[k].dtype.kind == "f"), f"{k} differs")
        else:
            test.assertEqual(ca[k], cb[k], f"{k} differs")


def metrics(run):
    rows = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            rows.append({k: v for k, v in json.loads(line).items() if k not in METRIC_TIMES})
    return rows


def weights(run):
    """The final and best models' tensors, read back by sne itself (encode-free: eval's predictions would hide
    differences below print precision), as the files' bytes."""
    out = {}
    for which in ("last", "best"):
        with open(os.path.join(run, "checkpoints", which, "model.pt"), "rb") as f:
            out[which] = f.read()
    return out


@unittest.skipUnless(SNE, "SNE_BINARY is not set")
class KillSweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.rng = random.Random(SEED)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def sweep(self, name, cmd, rerun, compare, progress):
        """`cmd(folder)`, `rerun(folder)`: the commands in a trial's folder; `compare(reference, folder)`;
        `progress(folder)`: how far a killed run had got (printed)."""
        ref = os.path.join(self.dir, name, "reference")
        os.makedirs(ref)
        t0 = time.monotonic()
        r = run_to_end(cmd(ref), ref)
        wall = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        landed = []
        for trial in range(TRIALS):
            folder = os.path.join(self.dir, name, f"trial{trial}")
            for attempt in range(3):
                shutil.rmtree(folder, ignore_errors=True)
                os.makedirs(folder)
                moment = self.rng.uniform(0.02, 0.95) * wall
                if kill_at(cmd(folder), folder, moment):
                    break
            else:
                self.fail(f"{name}: no kill landed in trial {trial} (the run takes {wall:.2f} s)")
            landed.append(f"{moment:.2f} s ({progress(folder)})")
            with self.subTest(name=name, trial=trial, moment=moment):
                r = run_to_end(rerun(folder), folder)
                self.assertEqual(r.returncode, 0, f"the rerun after a kill at {moment:.2f} s failed:\n{r.stderr}")
                compare(ref, folder)
            shutil.rmtree(folder, ignore_errors=True)
        print(f"\n{name}: uninterrupted {wall:.2f} s; killed at {', '.join(landed)}; every rerun completed and "
              "equals it", file=sys.stderr)

    def test_train_killed_at_random_moments_resumes_to_the_same_weights(self):
        zoo = os.path.join(self.dir, "toy.h5")
        write_zoo(zoo)
        config = os.path.join(self.dir, "toy.yaml")
        write_config(config, zoo, "epochs: 30, lr: 0.001, warmup_steps: 5")
        base = [SNE, "train", config, "--run-dir", "run", "--threads", "1"]

        def compare(ref, folder):
            a, b = os.path.join(ref, "run"), os.path.join(folder, "run")
            self.assertEqual(metrics(a), metrics(b))
            wa, wb = weights(a), weights(b)
            for which in wa:
                self.assertTrue(wa[which] == wb[which], f"checkpoints/{which}/model.pt differs")

        def progress(folder):
            try:
                with open(os.path.join(folder, "run", "checkpoints", "last", "state.json")) as f:
                    return f"{json.load(f)['epoch']} epochs saved"
            except OSError:
                return "no checkpoint"

        self.sweep("train", lambda d: base, lambda d: base + ["--resume"], compare, progress)

    def test_zoo_generate_killed_at_random_moments_completes_the_same_zoo(self):
        cmd = [SNE, "zoo", "generate", "sine", "-o", "z.h5", "--count", "48", "--max-steps", "150",
               "--target-loss", "0", "--batch", "8", "--threads", "1", "--flush-seconds", "0.3"]

        def compare(ref, folder):
            same_h5(self, os.path.join(ref, "z.h5"), os.path.join(folder, "z.h5"))
            v = subprocess.run([SNE, "zoo", "validate", "z.h5"], cwd=folder, capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

        def progress(folder):
            try:
                with h5py.File(os.path.join(folder, "z.h5"), "r") as f:
                    return f"{len(f['networks/architecture'])} INRs saved"
            except (OSError, KeyError):
                return "no readable zoo"

        self.sweep("zoo_generate", lambda d: cmd, lambda d: cmd, compare, progress)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--seed", type=int, default=SEED)
    known, rest = parser.parse_known_args()
    TRIALS, SEED = known.trials, known.seed
    unittest.main(argv=[sys.argv[0], *rest])
