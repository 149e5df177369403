#!/usr/bin/env python3
"""End-to-end tests of `sne train`, `sne eval` and `sne encode` on a toy zoo (MLPs whose property is their
weight scale): outputs, exact-resume plumbing, and every bad input's exit code and message.

Environment (ctest sets both): SNE_BINARY, SNE_SOURCE_DIR. Run by hand:
    SNE_BINARY=build/apps/sne SNE_SOURCE_DIR=. /usr/bin/python3 tests/cli/test_train.py -v
"""
import json
import os
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
sys.path.insert(0, os.path.join(SOURCE_DIR, "data-scripts"))
import sne_zoo  # noqa: E402

SNE = os.environ.get("SNE_BINARY", "")
MLP = {"name": "mlp_2_8_1",
       "layers": [{"name": "l0", "kind": "linear", "level": 0,
                   "tensors": [{"name": "l0.weight", "shape": [8, 2]}, {"name": "l0.bias", "shape": [8]}]},
                  {"name": "l1", "kind": "linear", "level": 1,
                   "tensors": [{"name": "l1.weight", "shape": [1, 8]}, {"name": "l1.bias", "shape": [1]}]}],
       "symmetries": [{"name": "l0.units", "kind": "permutation", "size": 8,
                       "actions": [{"tensor": "l0.weight", "axis": 0}, {"tensor": "l0.bias", "axis": 0},
                                   {"tensor": "l1.weight", "axis": 1}]}]}


def write_zoo(path, n=60, nan_at=None, unknown=()):
    """`nan_at`: a network with a NaN weight; `unknown`: networks whose property is NaN (unknown)."""
    rng = np.random.default_rng(0)
    with sne_zoo.ZooWriter(path, {"kind": "manual", "name": "scale toy"}) as w:
        a = w.add_architecture(MLP)
        for i in range(n):
            s = 0.2 + 0.05 * i
            p = (rng.standard_normal(33) * s).astype(np.float32)
            if i == nan_at:
                p[4] = np.nan
            w.append(a, p, properties={"scale": float("nan") if i in unknown else s})
        w.set_split("train", [i for i in range(n) if i % 5 > 1])
        w.set_split("validation", [i for i in range(n) if i % 5 == 0])
        w.set_split("test", [i for i in range(n) if i % 5 == 1])


def write_config(path, zoo, train="epochs: 8, lr: 0.001, warmup_steps: 5"):
    """The toy task's config: a small SNE predicting `scale`; `train` is the train section's contents."""
    with open(path, "w") as f:
        f.write(f"zoo:\n  path: {zoo}\n  reader: {{batch_size: 8}}\n"
                "encoder: {dim: 16, chunk_size: 8}\npredictor: {hidden: 32}\n"
                f"task: {{property: scale}}\ntrain: {{{train}}}\n")


def fill_disk(folder, leave=0):
    """Fills the file system of `folder` to the last byte (unbuffered writes), then frees `leave` bytes; returns
    the filler file's path."""
    filler = os.path.join(folder, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, os.path.getsize(filler) - leave))
    return filler


def sne(*args, **kw):
    return subprocess.run([SNE, *args], capture_output=True, text=True, timeout=600, **kw)


@unittest.skipUnless(SNE, "SNE_BINARY is not set")
class TrainEvalEncodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.zoo = os.path.join(d, "toy.h5")
        write_zoo(cls.zoo)
        cls.config = os.path.join(d, "toy.yaml")
        write_config(cls.config, cls.zoo)
        cls.run_dir = os.path.join(d, "run")
        cls.trained = sne("train", cls.config, "--run-dir", cls.run_dir, "--threads", "2")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start_long_run(self, run, until, epochs=100000):
        """Starts `sne train` on the toy task for `epochs` in `run` and returns it once `run/until` exists."""
        cfg = os.path.join(self.dir, f"long-{epochs}.yaml")
        write_config(cfg, self.zoo, f"epochs: {epochs}, lr: 0.001, warmup_steps: 5")
        proc = subprocess.Popen([SNE, "train", cfg, "--run-dir", run], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 240  # however slow the machine is today
        while not os.path.exists(os.path.join(run, until)) and time.time() < deadline:
            self.assertIsNone(proc.poll(), f"sne train ended before it wrote {until}")
            time.sleep(0.1)
        return proc

    def assertFails(self, result, code, *fragments):
        self.assertEqual(result.returncode, code, result.stderr)
        errors = [l for l in result.stderr.splitlines() if l.startswith("sne: error:")]
        self.assertTrue(errors, result.stderr)
        for f in fragments:
            self.assertIn(f, result.stderr)
        for marker in ("terminate called", "Segmentation fault", "internal error", "Traceback"):
            self.assertNotIn(marker, result.stderr)

    def test_train_writes_the_run(self):
        self.assertEqual(self.trained.returncode, 0, self.trained.stderr)
        self.assertIn("8 epochs", self.trained.stdout)
        with open(os.path.join(self.run_dir, "metrics.jsonl")) as f:
            records = [json.loads(l) for l in f]
        self.assertEqual([r["epoch"] for r in records], list(range(1, 9)))
        self.assertLess(records[-1]["train_loss"], records[0]["train_loss"])
        for sub in ("config.yaml", "checkpoints/best/model.pt", "checkpoints/last/optimizer.pt"):
            self.assertTrue(os.path.exists(os.path.join(self.run_dir, sub)), sub)

    def test_eval_prints_and_writes_metrics(self):
        out = os.path.join(self.dir, "metrics.json")
        r = sne("eval", os.path.join(self.run_dir, "checkpoints/best"), "--json", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Kendall tau-b", r.stdout)
        with open(out) as f:
            m = json.load(f)
        self.assertEqual(m["networks"], 12)
        for key in ("mse", "mae", "r2", "kendall_tau", "spearman_rho", "invariance_error", "mean_predictor_mse"):
            self.assertIn(key, m)
        self.assertLess(m["mse"], m["mean_predictor_mse"])

    def test_encode_streams_codes(self):
        out = os.path.join(self.dir, "codes.h5")
        r = sne("encode", self.zoo, "--checkpoint", os.path.join(self.run_dir, "checkpoints/best"), "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out) as f:
            self.assertEqual(f["embeddings"].shape, (60, 16))
            self.assertEqual(sorted(f["index"][:].tolist()), list(range(60)))
            self.assertTrue(np.all(np.isfinite(f["embeddings"][:])))
            self.assertIn("scale", f["properties"])
        again = sne("encode", self.zoo, "--checkpoint", os.path.join(self.run_dir, "checkpoints/best"), "-o", out)
        self.assertFails(again, 5, "already exists")

    def test_bad_inputs(self):
        self.assertFails(sne("train", "--run-dir", os.path.join(self.dir, "x")), 2, "needs a CONFIG")
        bad = os.path.join(self.dir, "bad.yaml")
        with open(bad, "w") as f:
            f.write(f"zoo: {{path: {self.zoo}}}\ntask: {{property: accuracy}}\n")
        self.assertFails(sne("train", bad, "--run-dir", os.path.join(self.dir, "bad")), 3,
                         "no property 'accuracy' (task.property)", "scale")
        self.assertFails(sne("train", self.config, "--run-dir", self.run_dir), 5, "already holds a run")
        self.assertFails(sne("train", self.config, "--run-dir", self.run_dir, "--resume",
                             "--set", "encoder.dim=32"), 4, "other settings")
        self.assertFails(sne("eval", os.path.join(self.dir, "nowhere")), 4, "not a checkpoint directory")
        broken = os.path.join(self.dir, "broken")
        shutil.copytree(os.path.join(self.run_dir, "checkpoints/best"), broken)
        with open(os.path.join(broken, "model.pt"), "r+b") as f:
            f.truncate(100)
        self.assertFails(sne("eval", broken), 4, "model.pt: corrupt")
        # Bytes flipped inside model.pt, its size unchanged: the manifest's CRC-32 catches what a loader may not.
        flipped = os.path.join(self.dir, "flipped")
        shutil.copytree(os.path.join(self.run_dir, "checkpoints/best"), flipped)
        with open(os.path.join(flipped, "model.pt"), "r+b") as f:
            data = bytearray(f.read())
            for k in range(10):
                data[len(data) // 2 + 97 * k] ^= 0x5A
            f.seek(0)
            f.write(data)
        self.assertFails(sne("eval", flipped), 4, "model.pt: corrupt (CRC-32", "damaged after it was written")
        self.assertFails(sne("encode", self.zoo, "--checkpoint", flipped, "-o", os.path.join(self.dir, "f.h5")), 4,
                         "model.pt: corrupt (CRC-32")
        os.remove(os.path.join(flipped, "manifest.json"))
        self.assertFails(sne("eval", flipped), 4, "manifest.json: missing")
        # A split naming network 2^62 is a data error naming the zoo, not an internal error.
        bad_split = os.path.join(self.dir, "bad-split.h5")
        shutil.copy(self.zoo, bad_split)
        with h5py.File(bad_split, "r+") as f:
            f["splits/test"][0] = 2 ** 62
        self.assertFails(sne("eval", os.path.join(self.run_dir, "checkpoints/best"), "--zoo", bad_split), 3,
                         "a split names network 4611686018427387904, but the zoo has networks 0..59")
        # A FIFO would block an open() forever: refused as a non-regular file, for a zoo and for a config.
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        self.assertFails(sne("zoo", "info", fifo), 3, "fifo: not a regular file")
        self.assertFails(sne("config", "show", fifo), 2, "fifo: not a regular file")
        nan_zoo = os.path.join(self.dir, "nan.h5")
        write_zoo(nan_zoo, nan_at=7)
        self.assertFails(sne("eval", os.path.join(self.run_dir, "checkpoints/best"), "--zoo", nan_zoo, "--split",
                             "train"), 3, "network 7 has a NaN/Inf weight")

    def resealed_copy(self, name, edit):
        """A copy of the best checkpoint whose files `edit(folder)` changes, with a manifest.json that matches the
        changed files: damage that only the readers behind the integrity check can see."""
        import zlib
        folder = os.path.join(self.dir, name)
        shutil.copytree(os.path.join(self.run_dir, "checkpoints/best"), folder)
        edit(folder)
        manifest = {}
        for f in sorted(os.listdir(folder)):
            if f != "manifest.json":
                with open(os.path.join(folder, f), "rb") as fh:
                    data = fh.read()
                manifest[f] = {"bytes": len(data), "crc32": f"{zlib.crc32(data):08x}"}
        with open(os.path.join(folder, "manifest.json"), "w") as fh:
            json.dump(manifest, fh)
        return folder

    def test_a_damaged_checkpoint_behind_a_matching_manifest_is_a_clear_error(self):
        # Found by the checkpoint fuzz target: TorchScript's reader of a damaged model.pt throws a plain
        # std::runtime_error, which was an internal error (exit 1).
        def damage_code(folder):
            with open(os.path.join(folder, "model.pt"), "r+b") as f:
                data = f.read()
                at = data.find(b"bias : Tensor")
                self.assertGreater(at, 0)
                f.seek(at)
                f.write(b"bias :1Tensor")
        self.assertFails(sne("eval", self.resealed_copy("code", damage_code)), 4, "model.pt: corrupt")

        def edit_state(change):
            def edit(folder):
                with open(os.path.join(folder, "state.json")) as f:
                    state = json.load(f)
                change(state)
                with open(os.path.join(folder, "state.json"), "w") as f:
                    json.dump(state, f)
            return edit
        no_scaler = self.resealed_copy("no-scaler", edit_state(lambda s: s.pop("target_scaler")))
        self.assertFails(sne("eval", no_scaler), 4, "state.json", "target_scaler")
        huge = self.resealed_copy("huge", edit_state(lambda s: s["model_shape"].update(num_params=10 ** 15)))
        self.assertFails(sne("eval", huge), 4, "state.json", "out of range")

    def test_a_checkpoint_that_crashes_libtorchs_reader_is_named_and_exit_4(self):
        # Found by the checkpoint fuzz target (tests/fuzz/regressions/checkpoint): LibTorch 1.13's TorchScript
        # reader recurses without end on this damaged model.pt (SIGSEGV), behind a manifest rewritten to match.
        import struct
        import zlib
        folder = os.path.join(self.dir, "crashes-libtorch")
        os.makedirs(folder)
        with open(os.path.join(SOURCE_DIR, "tests/fuzz/regressions/checkpoint/torchscript_parser_crash.ckpt"),
                  "rb") as f:
            packed = f.read()
        at, manifest = 0, {}
        for name in ("state.json", "config.yaml", "model.pt", "optimizer.pt"):  # fuzz_checkpoint.cpp's layout
            n = min(struct.unpack("<I", packed[at:at + 4])[0], len(packed) - at - 4)
            data = packed[at + 4:at + 4 + n]
            at += 4 + n
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
            manifest[name] = {"bytes": len(data), "crc32": f"{zlib.crc32(data):08x}"}
        with open(os.path.join(folder, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        self.assertFails(sne("eval", folder, "--zoo", self.zoo), 4, "model.pt: LibTorch's reader crashed on this file")

    def test_an_hdf5_call_that_does_not_return_ends_the_process_naming_the_file(self):
        # HDF5 1.10 loops for ever on some damaged files; with a limit of a microsecond every call is "too long".
        r = subprocess.run([SNE, "zoo", "validate", self.zoo], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "SNE_HDF5_TIMEOUT_SECONDS": "1e-6"})
        self.assertFails(r, 3, f"{self.zoo}", "the HDF5 library has not returned for 1e-06 s")

    def test_interrupt_then_resume(self):
        run = os.path.join(self.dir, "interrupted")
        proc = self.start_long_run(run, "metrics.jsonl", epochs=400)  # signal once an epoch is logged
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM, err)
        self.assertIn("continue with --resume", err)
        with open(os.path.join(run, "checkpoints/last/state.json")) as f:
            step = json.load(f)["step"]
        self.assertGreater(step, 0)
        # Resume with the run's own config, shortened to finish now.
        r = sne("train", "--run-dir", run, "--resume", "--set", "train.epochs=1")
        self.assertIn(r.returncode, (0,), r.stderr)

    def test_a_second_writer_of_a_run_directory_is_refused_and_a_killed_one_leaves_no_lock(self):
        run = os.path.join(self.dir, "locked")
        first = self.start_long_run(run, "checkpoints/last/state.json")
        second = sne("train", "--run-dir", run, "--resume")
        self.assertFails(second, 5, f"{run} (run directory): in use by sne pid {first.pid}")
        first.kill()  # kill -9: the kernel drops its lock
        first.communicate()
        third = sne("train", "--run-dir", run, "--resume", "--set", "train.epochs=1")
        self.assertEqual(third.returncode, 0, third.stderr)

    def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_it_again(self):
        # What a kill during the first epoch leaves: the run's config.yaml, an empty checkpoints/, perhaps a
        # metrics line whose checkpoint was never written.
        run = os.path.join(self.dir, "early")
        os.makedirs(os.path.join(run, "checkpoints"))
        shutil.copy(os.path.join(self.run_dir, "config.yaml"), os.path.join(run, "config.yaml"))
        with open(os.path.join(run, "metrics.jsonl"), "w") as f:
            f.write('{"epoch": 1}\n')
        r = sne("train", "--run-dir", run, "--resume", "--set", "train.epochs=2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no checkpoint yet", r.stderr)
        self.assertIn("starting it from the beginning", r.stderr)
        with open(os.path.join(run, "metrics.jsonl")) as f:
            self.assertEqual([json.loads(l)["epoch"] for l in f], [1, 2])
        # Other settings than the run's are refused as for any resume.
        shutil.rmtree(os.path.join(run, "checkpoints"))
        os.makedirs(os.path.join(run, "checkpoints"))
        self.assertFails(sne("train", self.config, "--run-dir", run, "--resume", "--set", "encoder.dim=32"), 4,
                         "started with other settings")

    def test_unknown_targets_are_skipped_and_counted_and_a_split_without_any_is_refused(self):
        # NaN is "unknown" in the format: 3 training, 1 validation and 2 test networks have no known scale.
        zoo = os.path.join(self.dir, "unknown.h5")
        write_zoo(zoo, unknown=(2, 3, 7, 5, 1, 6))  # i % 5: 2, 3, 2 train; 0 validation; 1, 1 test
        cfg = os.path.join(self.dir, "unknown.yaml")
        with open(self.config) as f:
            text = f.read().replace(self.zoo, zoo).replace("epochs: 8", "epochs: 2")
        with open(cfg, "w") as f:
            f.write(text)
        run = os.path.join(self.dir, "unknown-run")
        r = sne("train", cfg, "--run-dir", run)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("task.train_split 'train': 3 of 36 networks have an unknown 'scale' (NaN) and are skipped",
                      r.stderr)
        self.assertIn("task.validation_split 'validation': 1 of 12 networks", r.stderr)
        with open(os.path.join(run, "metrics.jsonl")) as f:
            for record in map(json.loads, f):
                self.assertTrue(np.isfinite(record["train_loss"]), record)
                self.assertTrue(np.isfinite(record["validation"]["mse"]), record)
                self.assertEqual(record["validation"]["count"], 11)
        out = os.path.join(self.dir, "unknown.json")
        r = sne("eval", os.path.join(run, "checkpoints/best"), "--json", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("10 networks, property scale (2 more with an unknown (NaN) property skipped)", r.stdout)
        with open(out) as f:
            m = json.load(f)
        self.assertEqual((m["networks"], m["unknown_skipped"]), (10, 2))
        self.assertTrue(np.isfinite(m["mse"]))
        # A split with no known target at all cannot be scored.
        empty = os.path.join(self.dir, "all-unknown.h5")
        write_zoo(empty, unknown=[i for i in range(60) if i % 5 == 1])
        self.assertFails(sne("eval", os.path.join(run, "checkpoints/best"), "--zoo", empty), 3,
                         "split 'test' (the evaluated split) holds 0 network(s) with a known 'scale'")

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"),
                         "needs root to mount a small tmpfs")
    def test_a_full_disk_during_training_exits_5_keeps_the_last_checkpoint_and_the_rerun_completes(self):
        mnt = tempfile.mkdtemp(dir=self.dir)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here")
        try:
            run = os.path.join(mnt, "run")
            last = os.path.join(run, "checkpoints/last")
            proc = self.start_long_run(run, "checkpoints/last/state.json")
            filler = fill_disk(mnt)
            _, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 5, err)
            self.assertIn("is the disk full?", err)
            for marker in ("terminate called", "Aborted", "internal error"):
                self.assertNotIn(marker, err)
            self.assertFalse(os.path.exists(last + ".tmp"), "a half-written checkpoint was left behind")
            os.remove(filler)
            self.assertEqual(sne("eval", last).returncode, 0)  # the previous checkpoint is intact
            r = sne("train", "--run-dir", run, "--resume", "--set", "train.epochs=1")
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            subprocess.run(["umount", "-l", mnt], capture_output=True)

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"),
                         "needs root to mount a small tmpfs")
    def test_a_full_disk_during_encode_exits_5_leaves_no_file_and_the_rerun_completes(self):
        run = os.path.join(self.dir, "enc_run")
        self.assertEqual(sne("train", self.config, "--run-dir", run, "--set", "train.epochs=1").returncode, 0)
        mnt = tempfile.mkdtemp(dir=self.dir)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here")
        try:
            out = os.path.join(mnt, "codes.h5")
            filler = fill_disk(mnt, leave=64 * 1024)  # room for the file's header, not its codes
            best = os.path.join(run, "checkpoints/best")
            r = sne("encode", self.zoo, "--checkpoint", best, "-o", out)
            self.assertEqual(r.returncode, 5, r.stderr)
            self.assertIn("is the disk full?", r.stderr)
            for marker in ("terminate called", "Segmentation", "internal error"):
                self.assertNotIn(marker, r.stderr)
            self.assertEqual(sorted(os.listdir(mnt)), ["filler"])  # no partial embeddings file looks complete
            os.remove(filler)
            r = sne("encode", self.zoo, "--checkpoint", best, "-o", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(os.listdir(mnt)), ["codes.h5"])
        finally:
            subprocess.run(["umount", "-l", mnt], capture_output=True)

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"),
                         "needs root to mount a small tmpfs")
    def test_compare_and_transfer_on_a_full_disk_exit_5_naming_the_path_and_the_rerun_completes(self):
        mnt = tempfile.mkdtemp(dir=self.dir)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here")
        try:
            jobs = {"compare": ["compare", self.config, "--models", "statnn", "-o", os.path.join(mnt, "compare")],
                    "transfer": ["transfer", self.config, "--models", "statnn", "--train", self.zoo,
                                 "-o", os.path.join(mnt, "transfer")]}
            for name, args in jobs.items():
                with self.subTest(name):
                    args = args + ["--set", "train.epochs=1", "--threads", "2"]
                    filler = fill_disk(mnt, leave=16 * 1024)  # room for a config, not for a checkpoint
                    r = sne(*args)
                    self.assertEqual(r.returncode, 5, r.stderr)
                    self.assertIn("is the disk full?", r.stderr)
                    self.assertIn(mnt, r.stderr)
                    for marker in ("terminate called", "Aborted", "Segmentation", "internal error"):
                        self.assertNotIn(marker, r.stderr)
                    os.remove(filler)
                    r = sne(*args)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertTrue(os.path.isfile(os.path.join(args[args.index("-o") + 1], f"{name}.json")))
        finally:
            subprocess.run(["umount", "-l", mnt], capture_output=True)

    def test_compare_trains_every_model_on_the_same_splits_and_reuses_finished_rows(self):
        out = os.path.join(self.dir, "compare")
        args = ["compare", self.config, "--models", "statnn,mlp", "--fractions", "0.5,1", "-o", out,
                "--set", "train.epochs=2", "--threads", "2"]
        r = sne(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [l for l in r.stdout.splitlines() if l.startswith("| statnn") or l.startswith("| mlp")]
        self.assertEqual(len(rows), 4 + 2, r.stdout)  # 2 models x 2 fractions, then the data-efficiency rows
        self.assertIn("Data efficiency", r.stdout)
        with open(os.path.join(out, "compare.json")) as f:
            result = json.load(f)
        self.assertEqual(result["kind"], "compare")
        self.assertEqual([(t["variant"], t["fraction"]) for t in result["rows"]],
                         [("statnn", 0.5), ("mlp", 0.5), ("statnn", 1), ("mlp", 1)])
        for t in result["rows"]:
            self.assertEqual(t["test"]["networks"], 12)  # the same test split for all
            self.assertEqual(t["epochs"], 2)
            self.assertGreater(t["test"]["parameters"], 0)
            self.assertGreater(t["train_networks_per_s"], 0)
        with open(os.path.join(out, "statnn_f0.5", "metrics.jsonl")) as f:
            first = json.loads(f.readline())
        self.assertEqual(first["step"], 3)  # 24 training networks, half of them, batches of 8
        with open(os.path.join(out, "compare.md")) as f:
            self.assertEqual(f.read(), r.stdout)
        again = sne(*args)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("trained earlier", again.stderr)
        self.assertEqual(again.stdout, r.stdout)

    def test_compare_bad_requests(self):
        out = os.path.join(self.dir, "bad_compare")
        self.assertFails(sne("compare", self.config, "--models", "sne,mpl", "-o", out), 2,
                         "unknown model 'mpl'", "did you mean 'mlp'")
        self.assertFails(sne("compare", self.config, "--fractions", "0.5,2", "-o", out), 2,
                         "--fractions", "'2'")
        mixed = os.path.join(self.dir, "mixed.h5")
        with sne_zoo.ZooWriter(mixed, {"kind": "manual", "name": "two architectures"}) as w:
            a = w.add_architecture(MLP)
            other = json.loads(json.dumps(MLP))
            other["name"] = "mlp_2_8_1_copy"
            b = w.add_architecture(other)
            for i in range(20):
                w.append(a if i % 2 else b, np.ones(33, np.float32) * i, properties={"scale": float(i)})
            w.set_split("train", list(range(0, 12)))
            w.set_split("validation", list(range(12, 16)))
            w.set_split("test", list(range(16, 20)))
        self.assertFails(sne("compare", self.config, "--models", "mlp", "-o", out, "--set", f"zoo.path={mixed}"), 3,
                         "mlp baseline reads networks of one architecture", "mlp_2_8_1, mlp_2_8_1_copy")

    def test_transfer_writes_the_tau_matrix_and_reuses_finished_cells(self):
        other = os.path.join(self.dir, "other_arch.h5")
        spec = json.loads(json.dumps(MLP))
        spec["name"] = "mlp_2_4_1"
        spec["layers"][0]["tensors"] = [{"name": "l0.weight", "shape": [4, 2]}, {"name": "l0.bias", "shape": [4]}]
        spec["layers"][1]["tensors"] = [{"name": "l1.weight", "shape": [1, 4]}, {"name": "l1.bias", "shape": [1]}]
        spec["symmetries"][0]["size"] = 4
        rng = np.random.default_rng(1)
        with sne_zoo.ZooWriter(other, {"kind": "manual", "name": "scale toy, another architecture"}) as w:
            a = w.add_architecture(spec)
            for i in range(40):
                s = 0.2 + 0.07 * i
                w.append(a, (rng.standard_normal(17) * s).astype(np.float32), properties={"scale": s})
            w.set_split("train", list(range(0, 40, 2)))
            w.set_split("validation", list(range(1, 40, 4)))
            w.set_split("test", list(range(3, 40, 4)))
        out = os.path.join(self.dir, "transfer")
        args = ["transfer", self.config, "--models", "statnn,mlp", "--train", f"{self.zoo},{other}", "-o", out,
                "--set", "train.epochs=2", "--threads", "2"]
        r = sne(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "transfer.json")) as f:
            result = json.load(f)
        self.assertEqual([t["model"] for t in result["tables"]], ["statnn", "mlp"])
        statnn, mlp = result["tables"]
        self.assertEqual([row["train_zoo"] for row in statnn["rows"]], ["toy", "other_arch"])
        for row in statnn["rows"]:  # statnn reads any architecture: every cell has a tau
            self.assertEqual(len(row["cells"]), 2)
            for c in row["cells"]:
                self.assertTrue(-1 <= c["kendall_tau"] <= 1, c)
        # The MLP baseline cannot read another architecture: off-diagonal cells say why, the diagonal has tau.
        self.assertIsNotNone(mlp["rows"][0]["cells"][0]["kendall_tau"])
        self.assertIsNone(mlp["rows"][0]["cells"][1]["kendall_tau"])
        self.assertIn("parameters", mlp["rows"][0]["cells"][1]["error"])
        self.assertIn("n/a", r.stdout)
        self.assertIn("average", r.stdout)
        cells = [c["kendall_tau"] for row in statnn["rows"] for c in row["cells"]]
        self.assertAlmostEqual(statnn["average"], sum(cells) / 4)
        self.assertAlmostEqual(statnn["average_other_zoos"], (cells[1] + cells[2]) / 2)
        again = sne(*args)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("trained earlier", again.stderr)
        self.assertEqual(again.stdout, r.stdout)

    def test_transfer_bad_requests(self):
        out = os.path.join(self.dir, "bad_transfer")
        self.assertFails(sne("transfer", self.config, "-o", out), 2, "no zoos to train on")
        self.assertFails(sne("transfer", self.config, "--train", os.path.join(self.dir, "absent.h5"), "-o", out), 3,
                         "absent.h5: no such zoo file")
        self.assertFails(sne("transfer", self.config, "--train", self.zoo, "--models", "sne,mpl", "-o", out), 2,
                         "unknown model 'mpl'")


if __name__ == "__main__":
    unittest.main(verbosity=2)
