#!/usr/bin/env python3
"""Tests of data-scripts/import_unterthiner.py (Small CNN Zoo: weights.npy + metrics.csv.gz + layout.csv -> sne zoo).

The fixtures are written here in the public format: known PyTorch-order tensors are packed into TensorFlow's column
layout (bias before kernel, HWIO kernels, (in, out) dense kernel), and the importer must give them back exactly.
With SNE_BINARY set (ctest sets it), the imported zoo is also checked by `sne zoo validate`.
Run: /usr/bin/python3 tests/python/test_import_unterthiner.py
"""
import csv
import gzip
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from zoo_fixtures import SOURCE_DIR, small_disk, sne_zoo

IMPORTER = os.path.join(SOURCE_DIR, "data-scripts", "import_unterthiner.py")
sys.path.insert(0, os.path.dirname(IMPORTER))
import import_unterthiner  # noqa: E402

SNE = os.environ.get("SNE_BINARY", "")
# The brief's arch1 spec, written out independently of the importer.
SPEC = json.loads(
    '{"name":"arch1","attributes":{"family":"arch1","in_channels":1,"filters":16,"kernel":3,"stride":2,'
    '"padding":"valid","pooling":"global_average","classes":10},"layers":['
    '{"name":"conv0","kind":"conv2d","level":0,"attributes":{"stride":2,"padding":"valid"},"tensors":['
    '{"name":"conv0.weight","role":"weight","shape":[16,1,3,3]},{"name":"conv0.bias","role":"bias","shape":[16]}]},'
    '{"name":"conv1","kind":"conv2d","level":1,"attributes":{"stride":2,"padding":"valid"},"tensors":['
    '{"name":"conv1.weight","role":"weight","shape":[16,16,3,3]},{"name":"conv1.bias","role":"bias","shape":[16]}]},'
    '{"name":"conv2","kind":"conv2d","level":2,"attributes":{"stride":2,"padding":"valid"},"tensors":['
    '{"name":"conv2.weight","role":"weight","shape":[16,16,3,3]},{"name":"conv2.bias","role":"bias","shape":[16]}]},'
    '{"name":"dense","kind":"linear","level":3,"attributes":{},"tensors":['
    '{"name":"dense.weight","role":"weight","shape":[10,16]},{"name":"dense.bias","role":"bias","shape":[10]}]}],'
    '"symmetries":['
    '{"name":"conv0.channels","kind":"permutation","size":16,"actions":[{"tensor":"conv0.weight","axis":0},'
    '{"tensor":"conv0.bias","axis":0},{"tensor":"conv1.weight","axis":1}]},'
    '{"name":"conv1.channels","kind":"permutation","size":16,"actions":[{"tensor":"conv1.weight","axis":0},'
    '{"tensor":"conv1.bias","axis":0},{"tensor":"conv2.weight","axis":1}]},'
    '{"name":"conv2.channels","kind":"permutation","size":16,"actions":[{"tensor":"conv2.weight","axis":0},'
    '{"tensor":"conv2.bias","axis":0},{"tensor":"dense.weight","axis":1}]}]}')
ORDER = ["conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "dense.weight",
         "dense.bias"]
SHAPES = {"conv0.weight": (16, 1, 3, 3), "conv0.bias": (16,), "conv1.weight": (16, 16, 3, 3), "conv1.bias": (16,),
          "conv2.weight": (16, 16, 3, 3), "conv2.bias": (16,), "dense.weight": (10, 16), "dense.bias": (10,)}
TF_NAMES = {"conv0": "conv2d", "conv1": "conv2d_1", "conv2": "conv2d_2", "dense": "dense"}
# The public column layout: per layer bias, then kernel.
PUBLIC_LAYOUT = [("conv0.bias", 0, 16), ("conv0.weight", 16, 160), ("conv1.bias", 160, 176),
                 ("conv1.weight", 176, 2480), ("conv2.bias", 2480, 2496), ("conv2.weight", 2496, 4800),
                 ("dense.bias", 4800, 4810), ("dense.weight", 4810, 4970)]
STEPS = [0, 1, 20, 86]
CONFIG = ["config.activation", "config.b_init", "config.dataset", "config.dnn_architecture", "config.dropout",
          "config.epochs", "config.epochs_between_checkpoints", "config.init_std", "config.l2reg",
          "config.learning_rate", "config.num_layers", "config.num_units", "config.optimizer", "config.random_seed",
          "config.train_fraction", "config.w_init"]
METRIC_COLUMNS = CONFIG + ["modeldir", "step", "test_accuracy", "test_loss", "train_accuracy", "train_loss"]


def with_image(spec, image):
    """The spec with the generator's attribute image = [channels, height, width]."""
    spec = json.loads(json.dumps(spec))
    spec["attributes"]["image"] = image
    return spec


def tf_shape(name):
    s = SHAPES[name]
    return (s[2], s[3], s[1], s[0]) if len(s) == 4 else (s[1], s[0]) if len(s) == 2 else s


def to_tf(name, t):
    """PyTorch order -> TensorFlow order: (out,in,h,w) -> (h,w,in,out); (out,in) -> (in,out)."""
    return t.transpose(2, 3, 1, 0) if t.ndim == 4 else t.T if t.ndim == 2 else t


def random_net(seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=SHAPES[k]).astype(np.float32) for k in ORDER}


def pack(net, layout=PUBLIC_LAYOUT):
    row = np.zeros(4970, np.float32)
    for name, s, e in layout:
        row[s:e] = np.ascontiguousarray(to_tf(name, net[name])).ravel()
    return row


def varname(name):
    layer, part = name.split(".")
    return f"sequential/{TF_NAMES[layer]}/{'kernel' if part == 'weight' else 'bias'}:0"


def write_layout(path, layout=PUBLIC_LAYOUT, index_column=True, shape_column=True, rows=None):
    """layout.csv as pandas writes it: a leading unnamed index column, varname, start_idx, end_idx, size, shape."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        header = (([""] if index_column else []) + ["varname", "start_idx", "end_idx", "size"]
                  + (["shape"] if shape_column else []))
        w.writerow(header)
        for i, (name, s, e) in enumerate(rows if rows is not None else layout):
            shape = tf_shape(name)
            row = ([i] if index_column else []) + [varname(name), s, e, e - s]
            if shape_column:
                row.append(str(tuple(shape)))
            w.writerow(row)


def metric_row(run, step, rng):
    acts = ["relu", "tanh", "sigmoid"]
    return {"config.activation": acts[run % 3], "config.b_init": "zeros", "config.dataset": "mnist",
            "config.dnn_architecture": "cnn", "config.dropout": f"{0.1 * (run % 4):.1f}", "config.epochs": "86",
            "config.epochs_between_checkpoints": "20", "config.init_std": f"{0.01 * (run + 1):.4f}",
            "config.l2reg": f"{1e-5 * (run + 1):.6g}", "config.learning_rate": f"{1e-3 * (run + 1):.6g}",
            "config.num_layers": "3", "config.num_units": "16", "config.optimizer": ["adam", "sgd"][run % 2],
            "config.random_seed": "42", "config.train_fraction": ["0.1", "0.25", "0.5", "1.0"][run % 4],
            "config.w_init": "glorot_uniform", "modeldir": f"/tmp/zoo/run_{run}",
            "step": str(step), "test_accuracy": f"{rng.uniform(0.1, 0.99):.6f}",
            "test_loss": f"{rng.uniform(0.1, 2.3):.6f}", "train_accuracy": f"{rng.uniform(0.1, 0.99):.6f}",
            "train_loss": f"{rng.uniform(0.1, 2.3):.6f}"}


def write_metrics(path, rows, columns=METRIC_COLUMNS, index_column=True):
    with gzip.open(path, "wt", newline="") as f:
        w = csv.writer(f)
        w.writerow(([""] if index_column else []) + list(columns))
        for i, r in enumerate(rows):
            w.writerow(([i] if index_column else []) + [r[c] for c in columns])


def write_collection(d, runs=7, layout=PUBLIC_LAYOUT, **layout_kwargs):
    """runs x STEPS checkpoints, run-major. Returns (nets, metric rows)."""
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(1)
    nets, rows = [], []
    for run in range(runs):
        for step in STEPS:
            nets.append(random_net(1000 * run + step))
            rows.append(metric_row(run, step, rng))
    np.save(os.path.join(d, "weights.npy"), np.stack([pack(n, layout) for n in nets]))
    write_metrics(os.path.join(d, "metrics.csv.gz"), rows)
    write_layout(os.path.join(d, "layout.csv"), layout, **layout_kwargs)
    return nets, rows


class ImporterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sne_unterthiner_test_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.src = self.p("mnist")

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def run_importer(self, *args, ok=True):
        proc = subprocess.run([sys.executable, IMPORTER, *args], capture_output=True, text=True, timeout=240)
        if ok:
            self.assertEqual(proc.returncode, 0, f"import_unterthiner {' '.join(args)}\nstderr:\n{proc.stderr}")
        return proc

    def assert_fails(self, *needles, extra=(), out=None):
        out = out or self.p("zoo.h5")
        proc = self.run_importer(self.src, out, *extra, ok=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("import_unterthiner: error:"), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assertFalse(os.path.exists(out + ".partial"), "partial output left behind")
        return lines[0]

    def assert_net(self, reader, i, want):
        t = reader.tensors(i)
        self.assertEqual(list(t), ORDER)
        for name in ORDER:  # element by element: PyTorch (out, in, kh, kw) / (out, in) order
            self.assertEqual(t[name].shape, SHAPES[name])
            for idx in np.ndindex(*SHAPES[name]):
                self.assertEqual(t[name][idx], want[name][idx], f"network {i} {name}{list(idx)}")

    def test_roundtrip_properties_metadata(self):
        nets, rows = write_collection(self.src)
        out = self.p("zoo.h5")
        proc = self.run_importer(self.src, out, "--dataset", "mnist")
        self.assertIn("wrote 28 networks", proc.stderr)
        self.assertFalse(os.path.exists(out + ".partial"))
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, len(nets))
            self.assertEqual(r.architecture_names, ["arch1"])
            self.assertEqual(r.architectures[0], sne_zoo.normalize_spec(with_image(SPEC, [1, 28, 28])))
            self.assertEqual(sne_zoo.tensor_layout(r.architectures[0])[1], 4970)
            for i in (0, 5, len(nets) - 1):
                self.assert_net(r, i, nets[i])
            for i, net in enumerate(nets):  # all of them, vectorised
                np.testing.assert_array_equal(r.params(i), np.concatenate([net[k].ravel() for k in ORDER]))
            for k in ("test_accuracy", "test_loss", "train_accuracy", "train_loss", "step"):
                np.testing.assert_array_equal(r.properties[k], [float(row[k]) for row in rows], k)
            self.assertEqual(set(r.properties), {"test_accuracy", "test_loss", "train_accuracy", "train_loss", "step"})
            self.assertEqual(set(r.metadata), set(CONFIG) | {"modeldir", "dataset", "source_row"})
            self.assertEqual(list(r.metadata["config.activation"]), [row["config.activation"] for row in rows])
            self.assertEqual(list(r.metadata["config.optimizer"]), [row["config.optimizer"] for row in rows])
            self.assertEqual(r.metadata["config.learning_rate"].dtype, np.float64)
            np.testing.assert_array_equal(r.metadata["config.learning_rate"],
                                          [float(row["config.learning_rate"]) for row in rows])
            np.testing.assert_array_equal(r.metadata["config.train_fraction"],
                                          [float(row["config.train_fraction"]) for row in rows])
            self.assertEqual(list(r.metadata["modeldir"]), [row["modeldir"] for row in rows])
            self.assertEqual(set(r.metadata["dataset"]), {"mnist"})
            np.testing.assert_array_equal(r.metadata["source_row"], np.arange(len(nets)))
            self.assertEqual(r.provenance["kind"], "importer")
            self.assertEqual(r.provenance["protocol"]["step"], 86)

    def test_protocol_splits(self):
        nets, rows = write_collection(self.src, runs=11)
        out = self.p("zoo.h5")
        self.run_importer(self.src, out)
        with sne_zoo.ZooReader(out) as r:
            s = {k: v.tolist() for k, v in r.splits.items()}
            self.assertEqual(set(s), {"protocol_train", "protocol_validation", "protocol_test", "train", "validation",
                                      "test"})
            for name in ("train", "validation", "test"):
                self.assertEqual(s[name], s[f"protocol_{name}"])
            k = 11  # one final checkpoint per run
            half = k // 2
            self.assertEqual(len(s["test"]), k - half)
            self.assertEqual(len(s["train"]), int(0.8 * half))
            self.assertEqual(len(s["validation"]), half - int(0.8 * half))
            all_ = s["train"] + s["validation"] + s["test"]
            self.assertEqual(len(set(all_)), k, "splits overlap")
            self.assertEqual(sorted(all_), [i for i, row in enumerate(rows) if row["step"] == "86"])
            self.assertTrue(all(r.properties["step"][i] == 86 for i in all_))
            # exactly the documented recipe
            kept = np.array(sorted(all_))
            ordered = kept[np.random.RandomState(0).permutation(k)]
            trainval = list(range(half))
            random.Random(0).shuffle(trainval)
            self.assertEqual(s["test"], sorted(ordered[half:].tolist()))
            self.assertEqual(s["train"], sorted(ordered[trainval[:int(0.8 * half)]].tolist()))
        out2 = self.p("zoo2.h5")  # deterministic; another seed gives another permutation
        self.run_importer(self.src, out2)
        with sne_zoo.ZooReader(out2) as r2:
            self.assertEqual({k: v.tolist() for k, v in r2.splits.items()}, s)
        self.run_importer(self.src, self.p("zoo3.h5"), "--protocol-seed", "5")
        with sne_zoo.ZooReader(self.p("zoo3.h5")) as r3:
            self.assertNotEqual(r3.splits["test"].tolist(), s["test"])
            self.assertEqual(sorted(np.concatenate([r3.splits[n] for n in ("train", "validation", "test")])),
                             sorted(all_))

    def test_other_step_and_order_file(self):
        _, rows = write_collection(self.src, runs=6)
        n = len(rows)
        order = np.random.default_rng(3).permutation(n)
        with open(self.p("order.csv"), "w") as f:
            f.write("0\n" + "".join(f"{i}\n" for i in order))  # pandas-style header line first
        out = self.p("zoo.h5")
        self.run_importer(self.src, out, "--step", "20", "--protocol-order", self.p("order.csv"))
        with sne_zoo.ZooReader(out) as r:
            ordered = [i for i in order if rows[i]["step"] == "20"]
            half = len(ordered) // 2
            trainval = list(range(half))
            random.Random(0).shuffle(trainval)
            self.assertEqual(r.splits["test"].tolist(), sorted(ordered[half:]))
            self.assertEqual(r.splits["train"].tolist(), sorted(ordered[i] for i in trainval[:int(0.8 * half)]))
            self.assertEqual(r.splits["validation"].tolist(), sorted(ordered[i] for i in trainval[int(0.8 * half):]))
        with open(self.p("bad_order.csv"), "w") as f:
            f.write("".join(f"{i}\n" for i in range(n - 1)) + "0\n")
        self.assert_fails("permutation", extra=["--protocol-order", self.p("bad_order.csv")], out=self.p("z2.h5"))

    def test_non_finite_rows(self):
        nets, rows = write_collection(self.src, runs=5)
        w = np.load(os.path.join(self.src, "weights.npy"))
        w[3, 100] = np.nan  # run 0 final: NaN weight -> not stored, not in the protocol
        w[6, 5] = np.inf  # run 1 step 20: not stored
        np.save(os.path.join(self.src, "weights.npy"), w)
        rows[7]["test_accuracy"] = "nan"  # run 1 final: stored, but not in the protocol
        rows[11]["test_loss"] = "inf"  # run 2 final: stored with test_loss NaN
        write_metrics(os.path.join(self.src, "metrics.csv.gz"), rows)
        out = self.p("zoo.h5")
        proc = self.run_importer(self.src, out)
        self.assertIn("skipped 2 of 20 rows with NaN/inf weights", proc.stderr)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 18)
            src_rows = r.metadata["source_row"].astype(int).tolist()
            self.assertEqual(src_rows, [i for i in range(20) if i not in (3, 6)])
            for i, row in enumerate(src_rows):
                np.testing.assert_array_equal(r.params(i), np.concatenate([nets[row][k].ravel() for k in ORDER]))
            protocol = np.concatenate([r.splits[n] for n in ("train", "validation", "test")])
            self.assertEqual(sorted(src_rows[i] for i in protocol), [11, 15, 19])
            self.assertTrue(math.isnan(r.properties["test_loss"][src_rows.index(11)]))
            self.assertTrue(math.isnan(r.properties["test_accuracy"][src_rows.index(7)]))
        if SNE:
            v = subprocess.run([SNE, "zoo", "validate", out], capture_output=True, text=True, timeout=120)
            self.assertEqual(v.returncode, 0, f"sne zoo validate: {v.stdout}\n{v.stderr}")

    def test_layout_is_read_not_assumed(self):
        """A layout with kernels first and another tensor order still imports, since tensors are located via it."""
        layout, pos = [], 0
        for name in ["dense.weight", "conv2.weight", "conv0.weight", "conv1.weight", "dense.bias", "conv1.bias",
                     "conv0.bias", "conv2.bias"]:
            size = int(np.prod(SHAPES[name]))
            layout.append((name, pos, pos + size))
            pos += size
        nets, _ = write_collection(self.src, runs=2, layout=layout, index_column=False, shape_column=False,
                                   rows=list(reversed(layout)))
        out = self.p("zoo.h5")
        self.run_importer(self.src, out)
        with sne_zoo.ZooReader(out) as r:
            for i, net in enumerate(nets):
                np.testing.assert_array_equal(r.params(i), np.concatenate([net[k].ravel() for k in ORDER]))
            self.assert_net(r, 1, nets[1])

    def test_overwrite(self):
        write_collection(self.src, runs=2)
        out = self.p("zoo.h5")
        with open(out, "w") as f:
            f.write("precious")
        self.assert_fails("exists", "--overwrite")
        with open(out) as f:
            self.assertEqual(f.read(), "precious")
        self.run_importer(self.src, out, "--overwrite")
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 8)

    def test_a_full_disk_exits_5_naming_the_output_leaves_nothing_and_the_rerun_completes(self):
        write_collection(self.src, runs=20)  # 80 networks of 4970 float32: about 1.6 MB, on a 256 kB disk
        with small_disk(self.p("full"), "256k") as mnt:
            out = os.path.join(mnt, "zoo.h5")
            proc = self.run_importer(self.src, out, ok=False)
            self.assertEqual(proc.returncode, 5, proc.stderr)
            self.assertIn(f"{out}: cannot write (No space left on device", proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)  # nor an error h5py could only print
            self.assertNotIn("Traceback", proc.stderr)
            self.assertEqual(os.listdir(mnt), [])  # neither OUT nor OUT.partial
        out = self.p("zoo.h5")  # the rerun, where there is room
        self.run_importer(self.src, out)
        with sne_zoo.ZooReader(out) as r:
            self.assertEqual(r.num_networks, 80)

    # ---- bad inputs: exit 1, one line saying what is wrong, no output left behind ----
    def check_bad(self, *needles, extra=()):
        self.assert_fails(*needles, extra=extra)
        self.assertFalse(os.path.exists(self.p("zoo.h5")))

    def test_missing_files(self):
        self.check_bad(self.src, "does not exist")
        for name in ("weights.npy", "metrics.csv.gz", "layout.csv"):
            shutil.rmtree(self.src, ignore_errors=True)
            write_collection(self.src, runs=2)
            os.remove(os.path.join(self.src, name))
            self.check_bad("missing " + name)

    def test_missing_metric_columns(self):
        _, rows = write_collection(self.src, runs=2)
        cols = [c for c in METRIC_COLUMNS if c not in ("test_accuracy", "train_loss")]
        write_metrics(os.path.join(self.src, "metrics.csv.gz"), rows, columns=cols)
        self.check_bad("required column(s) test_accuracy, train_loss")

    def test_row_count_mismatch(self):
        _, rows = write_collection(self.src, runs=2)
        write_metrics(os.path.join(self.src, "metrics.csv.gz"), rows[:-1])
        self.check_bad("has 7 rows", "has 8", "row for row")

    def test_wrong_width(self):
        write_collection(self.src, runs=2)
        np.save(os.path.join(self.src, "weights.npy"), np.zeros((8, 4960), np.float32))
        self.check_bad("shape [8, 4960]", "expected [rows, 4970]")

    def test_not_npy(self):
        write_collection(self.src, runs=2)
        with open(os.path.join(self.src, "weights.npy"), "w") as f:
            f.write("not numpy")
        self.check_bad("weights.npy", "not a readable NumPy")

    def test_bad_layouts(self):
        write_collection(self.src, runs=2)
        path = os.path.join(self.src, "layout.csv")
        bad_shape = [(n, s, e) for n, s, e in PUBLIC_LAYOUT]
        write_layout(path, bad_shape)
        with open(path) as f:
            text = f.read().replace("(3, 3, 16, 16)", "(3, 3, 16, 8)", 1)
        with open(path, "w") as f:
            f.write(text)
        self.check_bad("conv2d_1/kernel:0", "shape [3, 3, 16, 8]", "[3, 3, 16, 16]")
        write_layout(path, [(n, s, e + (5 if n == "conv1.weight" else 0)) for n, s, e in PUBLIC_LAYOUT])
        self.check_bad("conv2d_1/kernel:0", "occupies [176, 2485)", "expected 2304 columns")
        write_layout(path, PUBLIC_LAYOUT[:-1])
        self.check_bad("lacks variable(s) dense/kernel")
        shifted = [(n, s - (16 if n == "conv1.bias" else 0), e - (16 if n == "conv1.bias" else 0))
                   for n, s, e in PUBLIC_LAYOUT]
        write_layout(path, shifted)
        self.check_bad("do not tile", "overlap")
        with open(path, "a") as f:
            f.write("8,sequential/dense_1/kernel:0,4970,4980,10,\"(1, 10)\"\n")
        self.check_bad("unknown variable 'sequential/dense_1/kernel:0'")
        with open(path, "w") as f:
            f.write("name,from,to\nx,0,1\n")
        self.check_bad("lacks column(s) varname, start_idx, end_idx")

    def test_no_rows_at_step(self):
        write_collection(self.src, runs=2)
        self.check_bad("no row has step 50", "steps present: 0, 1, 20, 86", extra=["--step", "50"])

    def test_spec_function(self):
        self.assertEqual(import_unterthiner.arch1_spec(), SPEC)
        self.assertEqual(import_unterthiner.arch1_spec([1, 32, 32]), with_image(SPEC, [1, 32, 32]))

    def test_image_from_config_dataset(self):
        _, rows = write_collection(self.src, runs=2)
        for dataset, image in (("svhn_cropped", [1, 32, 32]), ("fashion_mnist", [1, 28, 28]), ("emnist", None)):
            for row in rows:
                row["config.dataset"] = dataset
            write_metrics(os.path.join(self.src, "metrics.csv.gz"), rows)
            out = self.p(f"{dataset}.h5")
            proc = self.run_importer(self.src, out)
            self.assertEqual("image size is unknown" in proc.stderr, image is None, proc.stderr)
            with sne_zoo.ZooReader(out) as r:
                self.assertEqual(r.architectures[0]["attributes"].get("image"), image)
        self.run_importer(self.src, self.p("named.h5"), "--dataset", "cifar10")  # --dataset wins
        with sne_zoo.ZooReader(self.p("named.h5")) as r:
            self.assertEqual(r.architectures[0]["attributes"]["image"], [1, 32, 32])

    @unittest.skipUnless(SNE, "SNE_BINARY is not set: skipping the `sne zoo validate` check of the imported zoo")
    def test_sne_validates_and_specs_match(self):
        write_collection(self.src, runs=3)
        out = self.p("zoo.h5")
        self.run_importer(self.src, out, "--dataset", "mnist")
        proc = subprocess.run([SNE, "zoo", "validate", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, f"sne zoo validate: {proc.stdout}\n{proc.stderr}")
        # the generator's arch1 on a tiny MNIST-shaped dataset (IDX files written here) has the same spec
        import idx_format
        rng = np.random.default_rng(0)
        sets = {s: (rng.integers(0, 256, size=(16, 28, 28), dtype=np.uint8),
                    (np.arange(16) % 10).astype(np.uint8)) for s in ("train", "t10k")}
        idx_format.write_dataset(self.p("mnist_idx"), sets)
        gen = self.p("gen.h5")
        proc = subprocess.run([SNE, "zoo", "generate", "cnn", "--arch", "arch1", "--dataset", "mnist", "--data-dir",
                               self.p("mnist_idx"), "--count", "1", "--epochs", "1", "--checkpoint-epochs", "1",
                               "--train-examples", "16", "--test-examples", "16", "--train-eval-examples", "16",
                               "--parallel", "1", "--threads", "1", "--test-fraction", "0", "--validation-fraction",
                               "0", "-o", gen], capture_output=True, text=True, timeout=240)
        self.assertEqual(proc.returncode, 0, f"sne zoo generate cnn: {proc.stdout}\n{proc.stderr}")
        with sne_zoo.ZooReader(out) as r, sne_zoo.ZooReader(gen) as g:
            self.assertEqual(g.architectures[0], with_image(SPEC, [1, 28, 28]))
            self.assertEqual(r.architectures[0], sne_zoo.normalize_spec(g.architectures[0]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
