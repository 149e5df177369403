#!/usr/bin/env python3
"""Tests of data-scripts/import_schurholt.py (Model Zoos: per-model checkpoint folders + result.json -> sne zoo).

The fixtures are written here in the public layout: model folders of Ray Tune trials with
checkpoint_NNNNNN/checkpoints files (torch.save of the state_dict of a real CNN-s: Conv(1->8,5x5) MaxPool2 act
Conv(8->6,5x5) MaxPool2 act Conv(6->4,2x2) act Flatten Linear(36->20) act Linear(20->10), held in `module_list`),
result.json (one JSON object per line) and params.json. Besides exact weights, every declared symmetry is checked to
leave the network's function unchanged. Needs PyTorch (Debian: python3-torch); without it every test is skipped.
With SNE_BINARY set (ctest sets it), the imported zoo is also checked by `sne zoo validate`.
Run: /usr/bin/python3 tests/python/test_import_schurholt.py
"""
import json
import math
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
    from torch import nn
except ImportError as e:  # pragma: no cover - depends on the machine
    torch = None
    TORCH_MISSING = f"PyTorch is not importable ({e}); install python3-torch to run the Model Zoos importer tests"
else:
    TORCH_MISSING = ""

IMPORTER = os.path.join(SOURCE_DIR, "data-scripts", "import_schurholt.py")
SNE = os.environ.get("SNE_BINARY", "")
CNN_S_NAME = "cnn_c1-8k5_c8-6k5_c6-4k2_fc36-20_fc20-10"
CNN_S_KEYS = ["module_list.0.weight", "module_list.0.bias", "module_list.3.weight", "module_list.3.bias",
              "module_list.6.weight", "module_list.6.bias", "module_list.9.weight", "module_list.9.bias",
              "module_list.11.weight", "module_list.11.bias"]
INDEX_DICT = {"layer": [[0, "conv2d"], [3, "conv2d"], [6, "conv2d"], [9, "fc"], [11, "fc"]],
              "idx_start": [0, 208, 1414, 1514, 2254], "idx_length": [208, 1206, 100, 740, 210],
              "kernel_no": [8, 6, 4, 20, 10], "kernel_size": [5, 5, 2, 0, 0], "channels_in": [1, 8, 6, 36, 20],
              "channels_out": [8, 6, 4, 20, 10]}


if torch is not None:
    class CNNs(nn.Module):
        """The zoos' small CNN, as their model definition holds it (an nn.Sequential named module_list)."""

        def __init__(self, c_in=1, c1=8):
            super().__init__()
            self.module_list = nn.Sequential(
                nn.Conv2d(c_in, c1, 5), nn.MaxPool2d(2), nn.Tanh(), nn.Conv2d(c1, 6, 5), nn.MaxPool2d(2), nn.Tanh(),
                nn.Conv2d(6, 4, 2), nn.Tanh(), nn.Flatten(), nn.Linear(36, 20), nn.Tanh(), nn.Linear(20, 10))

        def forward(self, x):
            return self.module_list(x)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))

        def forward(self, x):
            return self.net(x)


def result_line(epoch, seed):
    rng = np.random.default_rng(100 * seed + epoch)
    train_acc, train_loss = (-999, -999) if epoch == 0 else (float(rng.uniform(0, 1)), float(rng.uniform(0, 2)))
    return {"train_loss": train_loss, "train_acc": train_acc, "test_loss": float(rng.uniform(0, 2)),
            "test_acc": float(rng.uniform(0, 1)), "training_iteration": epoch, "trial_id": f"t{seed}",
            "time_this_iter_s": 0.5, "config": {"seed": seed}}


def write_model(src, name, seed, epochs=(0, 1, 5), make=None, glob_name="checkpoint_{e:06d}/checkpoints",
                results=True, params=True, result_epochs=None):
    """One Ray Tune trial folder; returns {epoch: state_dict as numpy}."""
    folder = os.path.join(src, name)
    os.makedirs(folder, exist_ok=True)
    saved = {}
    for e in epochs:
        torch.manual_seed(1000 * seed + e)
        net = (make or CNNs)()
        path = os.path.join(folder, glob_name.format(e=e))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(net.state_dict(), path)
        saved[e] = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    if results:
        with open(os.path.join(folder, "result.json"), "w") as f:
            for e in (result_epochs if result_epochs is not None else range(max(epochs) + 1)):
                f.write(json.dumps(result_line(e, seed)) + "\n")
    if params:
        with open(os.path.join(folder, "params.json"), "w") as f:
            json.dump({"model::type": "CNN", "model::nlin": ["tanh", "relu"][seed % 2], "optim::lr": 1e-3 * (seed + 1),
                       "optim::optimizer": "adam", "training::batchsize": 500, "seed": seed, "cuda": False,
                       "training::epochs_train": 50, "model::o_dim": 10, "some::list": [1, 2]}, f)
    return saved


def permute_row(spec, row, sym, perm):
    """Apply permutation `perm` of symmetry `sym` to a flat row, following the spec's actions (docs/zoo-format.md:
    unit i's block moves to position perm[i])."""
    layout = {name: (shape, off) for name, shape, off in sne_zoo.tensor_layout(spec)[0]}
    out = row.copy()
    size = sym["size"]
    for act in sym["actions"]:
        shape, off = layout[act["tensor"]]
        numel = int(np.prod(shape))
        t = out[off:off + numel].reshape(shape)
        axis, o, block = act["axis"], act.get("offset", 0), act.get("block", 1)
        seg = np.arange(o, o + size * block).reshape(size, block)
        moved = np.empty_like(seg)
        moved[perm] = seg
        index = np.arange(shape[axis])
        index[o:o + size * block] = moved.ravel()
        out[off:off + numel] = np.take(t, index, axis=axis).ravel()
    return out


def load_row(model, spec, row):
    sd = {}
    for name, shape, off in sne_zoo.tensor_layout(spec)[0]:
        sd[name] = torch.from_numpy(row[off:off + int(np.prod(shape))].reshape(shape).copy())
    model.load_state_dict(sd)
    return model


@unittest.skipIf(torch is None, TORCH_MISSING)
class ImporterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sne_schurholt_test_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.src = self.p("zoo_src")
        os.makedirs(self.src)

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def run_importer(self, *args, ok=True):
        proc = subprocess.run([sys.executable, IMPORTER, *args], capture_output=True, text=True, timeout=240)
        if ok:
            self.assertEqual(proc.returncode, 0, f"import_schurholt {' '.join(args)}\nstderr:\n{proc.stderr}")
        return proc

    def assert_fails(self, *needles, extra=(), out=None):
        out = out or self.p("zoo.h5")
        proc = self.run_importer(self.src, out, *extra, ok=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("import_schurholt: error:"), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assertFalse(os.path.exists(out + ".partial"), "partial output left behind")
        self.assertFalse(os.path.exists(out), "output written despite the error")
        return lines[0]

    def make_zoo(self, models=6):
        self.saved = {}
        for s in range(models):
            name = f"NN_tune_trainable_{s:05d}_{s}_channels=[8, 6, 4]_seed={s}"  # Ray puts values in folder names
            self.saved[name] = write_model(self.src, name, s)
        os.makedirs(os.path.join(self.src, "tune_logs"))  # a folder without checkpoints is skipped
        return sorted(self.saved)

    def test_import_cnn_s(self):
        names = self.make_zoo()
        out = self.p("zoo.h5")
        proc = self.run_importer(self.src, out, "--dataset", "svhn")
        self.assertIn("skipped 1 folder(s) without checkpoints", proc.stderr)
        self.assertIn(f"wrote 18 networks of 6 models ({CNN_S_NAME}, 2464 parameters)", proc.stderr)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.architecture_names, [CNN_S_NAME])
            spec = r.architectures[0]
            self.assertEqual(sne_zoo.tensor_layout(spec)[1], 2464)
            self.assertEqual(sum(p.numel() for p in CNNs().parameters()), 2464)
            self.assertEqual([t["name"] for layer in spec["layers"] for t in layer["tensors"]], CNN_S_KEYS)
            self.assertEqual([(layer["kind"], layer["level"]) for layer in spec["layers"]],
                             [("conv2d", 0), ("conv2d", 1), ("conv2d", 2), ("linear", 3), ("linear", 4)])
            self.assertEqual([(s["name"], s["size"]) for s in spec["symmetries"]],
                             [("module_list.0.channels", 8), ("module_list.3.channels", 6),
                              ("module_list.6.channels", 4), ("module_list.9.units", 20)])
            self.assertEqual(spec["symmetries"][2]["actions"][2],
                             {"tensor": "module_list.9.weight", "axis": 1, "offset": 0, "block": 9})
            self.assertEqual(r.num_networks, 18)
            i = 0
            for name in names:
                for epoch in (0, 1, 5):
                    want = self.saved[name][epoch]
                    t = r.tensors(i)
                    self.assertEqual(list(t), CNN_S_KEYS)
                    for k in CNN_S_KEYS:
                        np.testing.assert_array_equal(t[k], want[k], f"network {i} {k}")
                    if i == 4:  # element by element once
                        for k in CNN_S_KEYS:
                            for idx in np.ndindex(*want[k].shape):
                                self.assertEqual(t[k][idx], want[k][idx], f"{k}{list(idx)}")
                    self.assertEqual(r.properties["step"][i], epoch)
                    line = result_line(epoch, int(name.rsplit("=", 1)[1]))
                    self.assertEqual(r.properties["test_accuracy"][i], line["test_acc"])
                    self.assertEqual(r.properties["test_loss"][i], line["test_loss"])
                    if epoch == 0:  # Ray's -999 placeholder: unknown
                        self.assertTrue(math.isnan(r.properties["train_accuracy"][i]))
                        self.assertTrue(math.isnan(r.properties["train_loss"][i]))
                    else:
                        self.assertEqual(r.properties["train_accuracy"][i], line["train_acc"])
                    self.assertEqual(r.metadata["model"][i], name)
                    self.assertEqual(r.metadata["source"][i], f"{name}/checkpoint_{epoch:06d}/checkpoints")
                    i += 1
            self.assertEqual(set(r.properties), {"step", "test_accuracy", "train_accuracy", "test_loss", "train_loss"})
            self.assertEqual(set(r.metadata["config.model.nlin"]), {"tanh", "relu"})
            self.assertEqual(r.metadata["config.optim.lr"].dtype, np.float64)
            self.assertEqual(r.metadata["config.cuda"][0], "false")
            self.assertNotIn("config.some.list", r.metadata)
            self.assertEqual(set(r.metadata["dataset"]), {"svhn"})
            # splits by model: disjoint, complete, all epochs of a model together (int(0.15 * 6) = 0: all train)
            s = {k: set(v.tolist()) for k, v in r.splits.items()}
            self.assertEqual(set(s), {"train"})
            self.assertEqual(set().union(*s.values()), set(range(18)))
            self.assertEqual(sum(len(v) for v in s.values()), 18)
            for split in s.values():
                models = {r.metadata["model"][i] for i in split}
                self.assertEqual(len(split), 3 * len(models))

    def test_splits_by_model(self):
        self.make_zoo(models=10)
        out = self.p("zoo.h5")
        self.run_importer(self.src, out, "--test-fraction", "0.2", "--validation-fraction", "0.1", "--seed", "3")
        with sne_zoo.ZooReader(out) as r:
            models = {k: {r.metadata["model"][i] for i in v} for k, v in r.splits.items()}
            self.assertEqual({k: len(v) for k, v in models.items()}, {"test": 2, "validation": 1, "train": 7})
            self.assertFalse(models["test"] & models["train"] or models["validation"] & models["train"])
            self.assertEqual(r.provenance["splits"]["seed"], 3)

    def test_symmetries_preserve_function(self):
        self.make_zoo(models=2)
        out = self.p("zoo.h5")
        self.run_importer(self.src, out)
        x = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        with sne_zoo.ZooReader(out) as r:
            spec = r.architectures[0]
            row = r.params(4)
        model = load_row(CNNs(), spec, row).eval()
        with torch.no_grad():
            y0 = model(x).numpy()
        rng = np.random.default_rng(0)
        for sym in spec["symmetries"]:
            perm = rng.permutation(sym["size"])
            while np.array_equal(perm, np.arange(sym["size"])):
                perm = rng.permutation(sym["size"])
            permuted = permute_row(spec, row, sym, perm)
            self.assertFalse(np.array_equal(permuted, row), sym["name"])
            with torch.no_grad():
                y = load_row(CNNs(), spec, permuted).eval()(x).numpy()
            np.testing.assert_allclose(y, y0, atol=1e-5, err_msg=sym["name"])
            # the check is sensitive: permuting the producing layer alone changes the function
            partial = dict(sym, actions=sym["actions"][:-1])
            with torch.no_grad():
                y_bad = load_row(CNNs(), spec, permute_row(spec, row, partial, perm)).eval()(x).numpy()
            self.assertGreater(np.abs(y_bad - y0).max(), 1e-4, sym["name"])

    def test_index_dict(self):
        self.make_zoo(models=2)
        with open(os.path.join(self.src, "index_dict.json"), "w") as f:
            json.dump(INDEX_DICT, f)
        out = self.p("zoo.h5")
        self.run_importer(self.src, out)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.provenance["index_dict"], os.path.join(self.src, "index_dict.json"))
        bad = dict(INDEX_DICT, idx_start=[0, 208, 1414, 1515, 2254])
        with open(self.p("bad_index.json"), "w") as f:
            json.dump(bad, f)
        self.assert_fails("idx_start[3] is 1515", "module_list.9", "needs 1514",
                          extra=["--index-dict", self.p("bad_index.json")], out=self.p("z2.h5"))
        bad = dict(INDEX_DICT, layer=INDEX_DICT["layer"][:4])
        with open(os.path.join(self.src, "index_dict.json"), "w") as f:
            json.dump(bad, f)
        self.assert_fails("4 layers, the checkpoints have 5", out=self.p("z3.h5"))

    def test_mlp_other_glob_and_missing_epochs(self):
        for s in range(2):
            write_model(self.src, f"m{s}", s, epochs=(3, 7), make=MLP, glob_name="ckpt/epoch_{e}.pt", params=False,
                        result_epochs=[3])
        out = self.p("zoo.h5")
        proc = self.run_importer(self.src, out, "--checkpoint-glob", "ckpt/*.pt", "--test-fraction", "0",
                                 "--validation-fraction", "0")
        self.assertIn("2 checkpoint(s) have no result.json line for their epoch", proc.stderr)
        with sne_zoo.ZooReader(out) as r:
            spec = r.architectures[0]
            self.assertEqual(spec["name"], "mlp_fc4-3_fc3-2nb")
            self.assertEqual(spec["symmetries"], [
                {"name": "net.0.units", "kind": "permutation", "size": 3,
                 "actions": [{"tensor": "net.0.weight", "axis": 0, "offset": 0, "block": 1},
                             {"tensor": "net.0.bias", "axis": 0, "offset": 0, "block": 1},
                             {"tensor": "net.2.weight", "axis": 1, "offset": 0, "block": 1}]}])
            self.assertEqual(r.properties["step"].tolist(), [3, 7, 3, 7])
            self.assertTrue(math.isnan(r.properties["test_accuracy"][1]))
            self.assertEqual(r.metadata["config.seed"].tolist(), [0, 0, 1, 1])  # from result.json's config
            self.assertEqual({k: v.tolist() for k, v in r.splits.items()}, {"train": [0, 1, 2, 3]})
            row = r.params(2)
            x = torch.randn(5, 4)
            with torch.no_grad():
                y0 = load_row(MLP(), spec, row)(x)
                y1 = load_row(MLP(), spec, permute_row(spec, row, spec["symmetries"][0], np.array([2, 0, 1])))(x)
            np.testing.assert_allclose(y1.numpy(), y0.numpy(), atol=1e-6)

    def test_non_finite_checkpoint_skipped(self):
        self.make_zoo(models=2)
        name = sorted(self.saved)[1]
        path = os.path.join(self.src, name, "checkpoint_000005", "checkpoints")
        sd = torch.load(path)
        sd["module_list.3.weight"][0, 0, 0, 0] = float("nan")
        torch.save(sd, path)
        out = self.p("zoo.h5")
        proc = self.run_importer(self.src, out)
        self.assertIn("skipped 1 checkpoint(s) with NaN/inf weights", proc.stderr)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 5)
            self.assertNotIn(f"{name}/checkpoint_000005/checkpoints", list(r.metadata["source"]))
        if SNE:
            v = subprocess.run([SNE, "zoo", "validate", out], capture_output=True, text=True, timeout=120)
            self.assertEqual(v.returncode, 0, f"sne zoo validate: {v.stdout}\n{v.stderr}")

    # ---- bad inputs: exit 1, one line saying what is wrong, no output left behind ----
    def test_no_checkpoints(self):
        os.makedirs(os.path.join(self.src, "empty_model"))
        self.assert_fails("no checkpoints found", "checkpoint_*/checkpoints")
        self.make_zoo(models=1)
        self.assert_fails("no checkpoints found", "'*.pth'", extra=["--checkpoint-glob", "*.pth"])

    def test_missing_source(self):
        shutil.rmtree(self.src)
        self.assert_fails(self.src, "does not exist")

    def test_inconsistent_shapes(self):
        self.make_zoo(models=2)
        write_model(self.src, "zz_wide", 9, epochs=(0,), make=lambda: CNNs(c1=7))
        self.assert_fails("zz_wide", "module_list.0.weight has shape [7, 1, 5, 5]", "[8, 1, 5, 5]",
                          "same architecture")

    def test_other_tensors(self):
        self.make_zoo(models=1)
        write_model(self.src, "zz_mlp", 3, epochs=(0,), make=MLP)
        self.assert_fails("zz_mlp", "tensors differ", "unexpected: net.0.bias, net.0.weight, net.2.weight;",
                          "missing: module_list.0.bias")

    def test_missing_result_file(self):
        self.make_zoo(models=2)
        write_model(self.src, "zz_nores", 5, epochs=(0, 1), results=False)
        self.assert_fails("zz_nores", "missing result.json")

    def test_not_a_checkpoint(self):
        self.make_zoo(models=1)
        path = os.path.join(self.src, "zz_bad", "checkpoint_000001", "checkpoints")
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write("not a pickle")
        with open(os.path.join(self.src, "zz_bad", "result.json"), "w") as f:
            f.write(json.dumps(result_line(1, 0)) + "\n")
        self.assert_fails(path, "not a PyTorch checkpoint")

    def test_unsupported_layer(self):
        bn = lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))  # noqa: E731
        write_model(self.src, "m0", 0, epochs=(0,), make=bn)
        self.assert_fails("1.weight of shape [2]", "conv1d/conv2d/linear layers only")

    def test_a_full_disk_exits_5_naming_the_output_leaves_nothing_and_the_rerun_completes(self):
        self.make_zoo(models=30)  # 90 networks
        with small_disk(self.p("full"), "64k") as mnt:
            out = os.path.join(mnt, "zoo.h5")
            proc = self.run_importer(self.src, out, ok=False)
            self.assertEqual(proc.returncode, 5, proc.stderr)
            self.assertIn(f"{out}: cannot write (No space left on device", proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)
            self.assertEqual(os.listdir(mnt), [])
        self.run_importer(self.src, self.p("zoo.h5"))  # the rerun, where there is room
        with sne_zoo.ZooReader(self.p("zoo.h5")) as r:
            self.assertEqual(r.num_networks, 90)

    def test_overwrite(self):
        self.make_zoo(models=1)
        out = self.p("zoo.h5")
        with open(out, "w") as f:
            f.write("precious")
        proc = self.run_importer(self.src, out, ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("exists", proc.stderr)
        with open(out) as f:
            self.assertEqual(f.read(), "precious")
        self.run_importer(self.src, out, "--overwrite")
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 3)

    @unittest.skipUnless(SNE, "SNE_BINARY is not set: skipping the `sne zoo validate` check of the imported zoo")
    def test_sne_validates(self):
        self.make_zoo(models=4)
        out = self.p("zoo.h5")
        self.run_importer(self.src, out)
        proc = subprocess.run([SNE, "zoo", "validate", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, f"sne zoo validate: {proc.stdout}\n{proc.stderr}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
