#!/usr/bin/env python3
"""Data-parallel `sne train` and sharded `sne encode` through the real binary: several sne processes on loopback
(Gloo), launched with torchrun's variables as torchrun would set them, and by torchrun itself when it is installed.

- Equivalence: 2 processes train to the weights of 1 process on the combined batch (train.data_shards 2), across
  epoch boundaries, and log the same metrics.
- Resume: SIGTERM on every rank saves one checkpoint and exits 143; resuming on 2 processes, or on 1, ends with
  the weights of the uninterrupted run.
- Faults: kill -9 of one rank ends the other with exit 6 naming it; a rank that never arrives ends the others
  within --dist-timeout; bad launch variables and shard counts exit 2 naming the variable or key.
- Sharded encode: the merged parts equal the unsharded file.

Environment (ctest sets both): SNE_BINARY, SNE_SOURCE_DIR. Run by hand:
    SNE_BINARY=build/apps/sne SNE_SOURCE_DIR=. /usr/bin/python3 tests/cli/test_distributed.py -v
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_train import write_config, write_zoo  # noqa: E402  (the toy task: 60 MLPs, property: weight scale)

SNE = os.environ.get("SNE_BINARY", "")
TORCHRUN = shutil.which("torchrun")
EPOCHS = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(rank, world, port):
    env = dict(os.environ)
    env.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    return env


def launch(args, world, port=None):
    """Starts `world` sne processes with torchrun's variables; returns the Popen objects."""
    port = port or free_port()
    return [subprocess.Popen([SNE, *args], env=rank_env(r, world, port), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for r in range(world)]


def finish(procs, timeout=300):
    return [(p.wait(timeout=timeout), *p.communicate()) for p in procs]  # (rc, stdout, stderr) per rank


def state_dict(checkpoint):
    import torch  # Debian's python3-torch reads the checkpoint's TorchScript archive
    return {k: v.double().numpy() for k, v in torch.jit.load(os.path.join(checkpoint, "model.pt")).state_dict().items()}


def metrics(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@unittest.skipUnless(SNE, "SNE_BINARY is not set")
class DataParallelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.zoo = os.path.join(d, "toy.h5")
        write_zoo(cls.zoo)
        cls.config = os.path.join(d, "toy.yaml")
        # 36 training networks, 2 shards of 18, 4 per shard per step: 5 steps an epoch, the last one short.
        write_config(cls.config, cls.zoo, f"epochs: {EPOCHS}, lr: 0.002, warmup_steps: 5, data_shards: 2")
        cls.one = os.path.join(d, "one")
        r = subprocess.run([SNE, "train", cls.config, "--run-dir", cls.one, "--threads", "1"], capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        cls.two = os.path.join(d, "two")
        cls.two_results = finish(launch(["train", cls.config, "--run-dir", cls.two, "--threads", "1"], 2))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assertSameWeights(self, a, b, rtol=1e-6, skip=()):
        wa, wb = state_dict(a), state_dict(b)
        self.assertEqual(sorted(wa), sorted(wb))
        for k in wa:
            if any(s in k for s in skip):
                continue
            scale = max(np.abs(wa[k]).max(), 1e-12)
            self.assertLessEqual(np.abs(wa[k] - wb[k]).max() / scale, rtol, k)

    def assertSameMetrics(self, ra, rb, delta=1e-6):
        self.assertEqual(len(ra), len(rb))
        for x, y in zip(ra, rb):
            self.assertEqual(x["step"], y["step"])
            self.assertAlmostEqual(x["train_loss"], y["train_loss"], delta=delta * abs(y["train_loss"]))
            for key in ("mse", "kendall_tau", "spearman_rho"):
                self.assertAlmostEqual(x["validation"][key], y["validation"][key], delta=delta)

    def assertFailed(self, result, code, *fragments):
        rc, _, err = result
        self.assertEqual(rc, code, err)
        self.assertIn("sne: error:", err)
        for f in fragments:
            self.assertIn(f, err)
        for marker in ("terminate called", "Segmentation fault", "internal error", "Traceback"):
            self.assertNotIn(marker, err)

    def test_two_processes_train_to_the_weights_of_one_process_on_the_combined_batch(self):
        for rc, out, err in self.two_results:
            self.assertEqual(rc, 0, err)
        self.assertIn(f"{EPOCHS} epochs", self.two_results[0][1])
        self.assertEqual(self.two_results[1][1], "")  # rank 1 prints nothing: rank 0 speaks for the run
        self.assertSameWeights(os.path.join(self.one, "checkpoints/last"), os.path.join(self.two, "checkpoints/last"))
        self.assertSameMetrics(metrics(self.one), metrics(self.two))
        self.assertEqual(len(metrics(self.two)), EPOCHS)  # one writer: every epoch logged once
        with open(os.path.join(self.two, "checkpoints/last/state.json")) as f:
            state = json.load(f)
        self.assertEqual((state["data_shards"], state["world_size"], state["step"]), (2, 2, EPOCHS * 5))

    def test_equivalence_holds_when_the_encoder_recomputes_activations_in_backward(self):
        # encoder.chunk_budget 4: stage 2 runs in groups recomputed in nested backward passes, which accumulate a
        # gradient more than once; the all-reduce must wait for the final sums.
        config = os.path.join(self.dir, "budget.yaml")
        with open(self.config) as f:
            text = f.read().replace("chunk_size: 8}", "chunk_size: 8, chunk_budget: 4}").replace(
                f"epochs: {EPOCHS}", "epochs: 3")
        self.assertIn("chunk_budget: 4", text)
        with open(config, "w") as f:
            f.write(text)
        one, two = os.path.join(self.dir, "budget-one"), os.path.join(self.dir, "budget-two")
        r = subprocess.run([SNE, "train", config, "--run-dir", one, "--threads", "1"], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        for rc, _, err in finish(launch(["train", config, "--run-dir", two, "--threads", "1"], 2)):
            self.assertEqual(rc, 0, err)
        # Not bit for bit: one process adds its two parts' recomputed pieces in one running sum, two processes in
        # two sums then add those (float addition is not associative; about 3e-7 relative here). Attention key
        # biases are left out: their gradient is zero but for float noise (a softmax ignores them), which AdamW
        # turns into steps of about lr in either direction.
        self.assertSameWeights(os.path.join(one, "checkpoints/last"), os.path.join(two, "checkpoints/last"),
                               rtol=1e-5, skip=("att.wk.bias",))
        self.assertSameMetrics(metrics(one), metrics(two), delta=1e-5)

    def test_sigterm_on_every_rank_saves_once_and_the_run_resumes_exactly_on_two_or_one_processes(self):
        run = os.path.join(self.dir, "interrupted")
        procs = launch(["train", self.config, "--run-dir", run, "--threads", "1"], 2)
        deadline = time.time() + 120
        while not os.path.exists(os.path.join(run, "metrics.jsonl")) and time.time() < deadline:
            self.assertIsNone(procs[0].poll(), "rank 0 ended before its first epoch")
            time.sleep(0.02)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        results = finish(procs)
        for rc, _, err in results:
            self.assertEqual(rc, 128 + signal.SIGTERM, err)
        self.assertIn("continue with --resume", results[0][2])
        with open(os.path.join(run, "checkpoints/last/state.json")) as f:
            step = json.load(f)["step"]
        self.assertTrue(0 < step < EPOCHS * 5, step)
        on_one = os.path.join(self.dir, "interrupted-on-one")
        shutil.copytree(run, on_one)
        # The same number of processes.
        for rc, _, err in finish(launch(["train", "--run-dir", run, "--resume", "--threads", "1"], 2)):
            self.assertEqual(rc, 0, err)
        self.assertSameWeights(os.path.join(self.two, "checkpoints/last"), os.path.join(run, "checkpoints/last"))
        # Another number of processes that divides the run's data shards: the same batches, the same weights.
        r = subprocess.run([SNE, "train", "--run-dir", on_one, "--resume", "--threads", "1"], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertSameWeights(os.path.join(self.two, "checkpoints/last"), os.path.join(on_one, "checkpoints/last"))
        self.assertSameMetrics(metrics(self.two), metrics(on_one))

    def test_a_world_size_that_does_not_divide_the_data_shards_is_refused(self):
        results = finish(launch(["train", "--run-dir", self.two, "--resume", "--set", f"train.epochs={EPOCHS + 1}",
                                 "--threads", "1"], 3))
        for result in results:
            self.assertFailed(result, 2, "train.data_shards (2) must be a multiple of the number of processes (3)")

    def test_kill_of_one_rank_ends_the_other_with_an_error_naming_it(self):
        run = os.path.join(self.dir, "killed")
        long_config = os.path.join(self.dir, "long.yaml")
        with open(self.config) as f:
            text = f.read().replace(f"epochs: {EPOCHS}", "epochs: 100000")
        with open(long_config, "w") as f:
            f.write(text)
        procs = launch(["train", long_config, "--run-dir", run, "--threads", "1", "--dist-timeout", "30"], 2)
        deadline = time.time() + 120
        while not os.path.exists(os.path.join(run, "metrics.jsonl")) and time.time() < deadline:
            time.sleep(0.05)
        procs[1].kill()
        t0 = time.time()
        result = finish(procs[:1], timeout=60)[0]
        procs[1].communicate()
        self.assertFailed(result, 6, "rank 0 of 2", "rank 1 stopped answering")
        self.assertLess(time.time() - t0, 30)

    def test_a_rank_that_never_arrives_ends_the_others_within_the_timeout(self):
        t0 = time.time()
        procs = [subprocess.Popen([SNE, "train", self.config, "--run-dir", os.path.join(self.dir, "alone"),
                                   "--dist-timeout", "3"], env=rank_env(0, 2, free_port()), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)]
        self.assertFailed(finish(procs, timeout=60)[0], 6, "did not all meet", "within 3 s")
        self.assertLess(time.time() - t0, 30)

    def test_bad_launches_name_the_variable_or_key(self):
        env = rank_env(5, 2, free_port())
        r = subprocess.run([SNE, "train", self.config, "--run-dir", os.path.join(self.dir, "x")], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertFailed((r.returncode, r.stdout, r.stderr), 2, "RANK='5'")
        # The other commands run as one process: started as several, they would each write the same outputs.
        r = subprocess.run([SNE, "eval", os.path.join(self.one, "checkpoints/best")], env=rank_env(0, 2, free_port()),
                           capture_output=True, text=True, timeout=60)
        self.assertFailed((r.returncode, r.stdout, r.stderr), 2, "sne eval runs as one process", "start 2 of it")
        r = subprocess.run([SNE, "train", self.config, "--run-dir", os.path.join(self.dir, "y"), "--set",
                            "train.data_shards=3"], capture_output=True, text=True, timeout=60)
        self.assertFailed((r.returncode, r.stdout, r.stderr), 2, "zoo.reader.batch_size (8) must be a multiple of "
                                                                 "train.data_shards (3)")

    @unittest.skipUnless(TORCHRUN, "torchrun is not installed (Debian: python3-torch)")
    def test_torchrun_launches_sne_and_gets_the_same_run(self):
        run = os.path.join(self.dir, "torchrun")
        # Debian 12's torchrun (PyTorch 1.13 on Python 3.11) fails parsing its default redirect settings ("0"): pass
        # ones it can read. --no_python is spelled so in 1.13; 2.x accepts it too.
        r = subprocess.run([TORCHRUN, "--nproc_per_node", "2", "--master_port", str(free_port()), "-r", "1", "-t", "1",
                            "--log_dir", os.path.join(self.dir, "torchrun-logs"), "--no_python",
                            SNE, "train", self.config, "--run-dir", run, "--threads", "1"], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertSameMetrics(metrics(self.two), metrics(run))
        self.assertSameWeights(os.path.join(self.two, "checkpoints/last"), os.path.join(run, "checkpoints/last"))

    def test_sharded_encode_merges_into_the_unsharded_file(self):
        best = os.path.join(self.one, "checkpoints/best")
        whole = os.path.join(self.dir, "whole.h5")
        r = subprocess.run([SNE, "encode", self.zoo, "--checkpoint", best, "-o", whole], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        merged = os.path.join(self.dir, "merged.h5")
        # Shards from --shard, and from the launch variables as an srun or torchrun launch would give them.
        for i in (0, 2):
            r = subprocess.run([SNE, "encode", self.zoo, "--checkpoint", best, "-o", merged, "--shard", f"{i}/3"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([SNE, "encode-merge", merged], capture_output=True, text=True, timeout=60)
        self.assertFailed((r.returncode, r.stdout, r.stderr), 3, "1 of 3 parts are missing (shards 1)")
        env = dict(os.environ, RANK="1", WORLD_SIZE="3")
        r = subprocess.run([SNE, "encode", self.zoo, "--checkpoint", best, "-o", merged], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("merged.h5.part-1-of-3", r.stdout)
        r = subprocess.run([SNE, "encode-merge", merged, "--remove-parts"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([n for n in os.listdir(self.dir) if "merged.h5" in n], ["merged.h5"])
        with h5py.File(whole) as a, h5py.File(merged) as b:
            for key in ("embeddings", "index", "properties/scale"):
                np.testing.assert_array_equal(a[key][:], b[key][:], err_msg=key)
            self.assertEqual(a.attrs["json"], b.attrs["json"])


if __name__ == "__main__":
    unittest.main()
