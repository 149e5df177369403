#!/usr/bin/env python3
"""Python-only tests of data-scripts/sne_zoo.py (run: /usr/bin/python3 tests/python/test_sne_zoo.py)."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

from zoo_fixtures import CONV_PARAMS, MLP_PARAMS, SCRIPT, conv_spec, mlp_spec, sne_zoo, write_mixed_zoo

PROV = {"kind": "manual", "name": "unit-test"}


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sne_zoo_test_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name="zoo.h5"):
        return os.path.join(self.dir, name)


class RoundTripTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.zoo = self.path()
        self.expected = write_mixed_zoo(self.zoo)
        self.reader = sne_zoo.ZooReader(self.zoo)
        self.addCleanup(self.reader.close)

    def test_architectures_and_params(self):
        r, e = self.reader, self.expected
        self.assertEqual(r.format_version, 1)
        self.assertEqual(r.provenance, {"kind": "manual", "name": "python-test", "recipe": {"seed": 0}})
        self.assertEqual([a["name"] for a in r.architectures], ["mlp_2_4_1", "cnn_1_2_fc1"])
        want = mlp_spec()["symmetries"]
        for act in want[0]["actions"]:
            act.update(offset=0, block=1)
        self.assertEqual(r.architectures[0]["symmetries"], want)
        self.assertEqual(r.architectures[0]["layers"], mlp_spec()["layers"])
        sym = r.architectures[1]["symmetries"][0]
        self.assertEqual(sym["actions"][2], {"tensor": "fc.weight", "axis": 1, "offset": 0, "block": 4})
        self.assertEqual(r.architectures[1]["layers"][1]["attributes"]["input"], "flatten")
        self.assertEqual(r.num_networks, 10)
        for i in range(r.num_networks):
            p = r.params(i)
            self.assertEqual(p.dtype, np.float32)
            np.testing.assert_array_equal(p, e["params"][i])
            self.assertEqual(r.architecture_of(i), ["mlp_2_4_1", "cnn_1_2_fc1"][e["arch"][i]])
        np.testing.assert_array_equal(r.network_architecture, e["arch"])
        np.testing.assert_array_equal(r.network_row, e["row"])
        with self.assertRaises(IndexError):
            r.params(10)

    def test_properties_late_and_missing(self):
        r, e = self.reader, self.expected
        self.assertEqual(sorted(r.properties), ["loss", "test_accuracy"])
        for name, values in e["props"].items():
            self.assertEqual(r.properties[name].dtype, np.float64)
            np.testing.assert_array_equal(r.properties[name], np.array(values))  # NaN == NaN here
        self.assertTrue(np.isnan(r.properties["loss"][:3]).all())
        self.assertTrue(math.isnan(r.properties["test_accuracy"][2]))

    def test_metadata(self):
        r, e = self.reader, self.expected
        self.assertEqual(list(r.metadata["optimizer"]), e["meta"]["optimizer"])
        self.assertEqual(r.metadata["optimizer"][1], "")
        self.assertEqual(r.metadata["optimizer"][2], "adamw \u00e9")
        np.testing.assert_array_equal(r.metadata["seed"], np.array(e["meta"]["seed"]))
        self.assertTrue(math.isnan(r.metadata["seed"][4]))

    def test_splits(self):
        for name, idx in self.expected["splits"].items():
            self.assertEqual(self.reader.splits[name].dtype, np.int64)
            self.assertEqual(self.reader.splits[name].tolist(), idx)
        self.assertEqual(self.reader.splits["protocol_test"].tolist(), [0, 1, 9])

    def test_raw_layout(self):
        with h5py.File(self.zoo, "r") as f:
            self.assertEqual(f.attrs["sne_format"], "sne-zoo")
            self.assertIsInstance(f.attrs["sne_format"], str)
            self.assertEqual(f.attrs["format_version"], 1)
            self.assertEqual(f.attrs["format_version"].dtype, np.int64)
            self.assertTrue(f.attrs["created_by"].startswith("sne_zoo.py"))
            for attr in ("sne_format", "created_by"):
                tid = f.attrs.get_id(attr).get_type()
                self.assertTrue(tid.is_variable_str())
                self.assertEqual(tid.get_cset(), h5py.h5t.CSET_UTF8)
            self.assertEqual(json.loads(f["provenance"].attrs["json"])["name"], "python-test")
            for name, index, P in (("mlp_2_4_1", 0, MLP_PARAMS), ("cnn_1_2_fc1", 1, CONV_PARAMS)):
                g = f["architectures"][name]
                self.assertEqual(g.attrs["index"], index)
                self.assertEqual(g.attrs["index"].dtype, np.int64)
                self.assertEqual(json.loads(g.attrs["spec"])["name"], name)
                ds = g["params"]
                self.assertEqual((ds.dtype, ds.shape, ds.maxshape), (np.float32, (5, P), (None, P)))
                self.assertEqual(ds.chunks, (2 ** 20 // (4 * P), P))
            nets = f["networks"]
            self.assertEqual(nets["architecture"].dtype, np.int32)
            self.assertEqual(nets["row"].dtype, np.int64)
            self.assertEqual(nets["properties"]["loss"].dtype, np.float64)
            self.assertEqual(nets["metadata"]["seed"].dtype, np.float64)
            self.assertEqual(h5py.check_string_dtype(nets["metadata"]["optimizer"].dtype).encoding, "utf-8")
            self.assertEqual(f["splits"]["train"].dtype, np.int64)
            for ds in (nets["architecture"], nets["row"], nets["properties"]["loss"], nets["metadata"]["optimizer"],
                       f["splits"]["test"]):
                self.assertEqual((ds.chunks, ds.maxshape), ((4096,), (None,)))
                self.assertEqual(ds.shape, (10,) if ds.parent.name != "/splits" else (3,))

    def test_iter_batches(self):
        seen = []
        for arch, idx, data in self.reader.iter_batches(3):
            self.assertLessEqual(len(idx), 3)
            self.assertEqual(data.shape, (len(idx), [MLP_PARAMS, CONV_PARAMS][arch]))
            for k, i in enumerate(idx):
                self.assertEqual(self.reader.network_architecture[i], arch)
                np.testing.assert_array_equal(data[k], self.expected["params"][i])
            seen.extend(idx.tolist())
        self.assertEqual(sorted(seen), list(range(10)))
        test_idx = [int(i) for _, idx, _ in self.reader.iter_batches(100, split="test") for i in idx]
        self.assertEqual(sorted(test_idx), [7, 8, 9])

    def test_cli_dump_and_info(self):
        out = subprocess.run([sys.executable, SCRIPT, "dump", self.zoo], capture_output=True, text=True, check=True)
        doc = json.loads(out.stdout)
        self.assertEqual(doc["format_version"], 1)
        self.assertEqual(doc["provenance"]["name"], "python-test")
        self.assertEqual([a["name"] for a in doc["architectures"]], ["mlp_2_4_1", "cnn_1_2_fc1"])
        self.assertEqual(doc["splits"], self.expected["splits"])
        self.assertEqual(len(doc["networks"]), 10)
        for i, net in enumerate(doc["networks"]):
            self.assertEqual((net["index"], net["row"]), (i, self.expected["row"][i]))
            self.assertEqual(net["architecture"], ["mlp_2_4_1", "cnn_1_2_fc1"][self.expected["arch"][i]])
            got = np.array(net["params"], dtype=np.float64).astype(np.float32)
            self.assertEqual(got.tobytes(), self.expected["params"][i].tobytes())  # bit-exact
            for name, values in self.expected["props"].items():
                want = None if math.isnan(values[i]) else values[i]
                self.assertEqual(net["properties"][name], want)
            self.assertEqual(net["metadata"]["optimizer"], self.expected["meta"]["optimizer"][i])
            seed = self.expected["meta"]["seed"][i]
            self.assertEqual(net["metadata"]["seed"], None if math.isnan(seed) else seed)
        info = subprocess.run([sys.executable, SCRIPT, "info", self.zoo], capture_output=True, text=True, check=True)
        self.assertIn("10 networks", info.stdout)
        self.assertIn("mlp_2_4_1", info.stdout)


class TensorsTest(TempDirTest):
    def test_dict_round_trip_row_major(self):
        zoo = self.path()
        spec = conv_spec()
        tensors = {t["name"]: (np.arange(np.prod(t["shape"]), dtype=np.float32) + 100 * k).reshape(t["shape"])
                   for k, t in enumerate(t for layer in spec["layers"] for t in layer["tensors"])}
        with sne_zoo.ZooWriter(zoo, PROV) as w:
            a = w.add_architecture(spec)
            self.assertEqual(w.append(a, tensors), 0)
            self.assertEqual(w.append("cnn_1_2_fc1", {k: -v for k, v in tensors.items()}), 1)
        with sne_zoo.ZooReader(zoo) as r:
            flat = r.params(0)
            self.assertEqual(flat.shape, (CONV_PARAMS,))
            # conv0.weight (2,1,3,3) at 0, conv0.bias at 18, fc.weight (1,8) at 20, fc.bias at 28.
            cw = tensors["conv0.weight"]
            for o, i, kh, kw in np.ndindex(*cw.shape):
                self.assertEqual(flat[o * 9 + i * 9 + kh * 3 + kw], cw[o, i, kh, kw])
            self.assertEqual(flat[18:20].tolist(), tensors["conv0.bias"].tolist())
            for j in range(8):
                self.assertEqual(flat[20 + j], tensors["fc.weight"][0, j])
            self.assertEqual(flat[28], tensors["fc.bias"][0])
            for n, (name, value) in enumerate(r.tensors(0).items()):
                self.assertEqual(name, list(tensors)[n])  # spec order
                self.assertEqual(value.shape, tensors[name].shape)
                for idx in np.ndindex(*value.shape):
                    self.assertEqual(value[idx], tensors[name][idx])
            for name, value in r.tensors(1).items():
                np.testing.assert_array_equal(value, -tensors[name])

    def test_bad_params(self):
        with sne_zoo.ZooWriter(self.path(), PROV) as w:
            a = w.add_architecture(mlp_spec())
            with self.assertRaisesRegex(ValueError, "17"):
                w.append(a, np.zeros(16, np.float32))
            with self.assertRaisesRegex(ValueError, "17"):
                w.append(a, np.zeros((1, 17), np.float32))
            good = {"l0.weight": np.zeros((4, 2)), "l0.bias": np.zeros(4), "l1.weight": np.zeros((1, 4)),
                    "l1.bias": np.zeros(1)}
            with self.assertRaisesRegex(ValueError, "l0.weight"):
                w.append(a, dict(good, **{"l0.weight": np.zeros((2, 4))}))
            with self.assertRaisesRegex(ValueError, "l1.bias"):
                w.append(a, {k: v for k, v in good.items() if k != "l1.bias"})
            with self.assertRaisesRegex(ValueError, "unknown architecture"):
                w.append(5, np.zeros(17))
            w.append(a, good, metadata={"seed": 1, "opt": "sgd"})
            with self.assertRaisesRegex(ValueError, "seed"):
                w.append(a, good, metadata={"seed": "one"})
            with self.assertRaisesRegex(ValueError, "opt"):
                w.append(a, good, metadata={"opt": 2.0})
            with self.assertRaisesRegex(ValueError, "property name"):
                w.append(a, good, properties={"bad name": 1.0})
            self.assertEqual(w.num_networks, 1)  # failed appends leave no trace
        with sne_zoo.ZooReader(self.path()) as r:
            self.assertEqual(r.num_networks, 1)
            self.assertEqual(r.architectures[0]["layers"][0]["tensors"][0]["shape"], [4, 2])


class SpecValidationTest(TempDirTest):
    def check(self, mutate, pattern):
        spec = mlp_spec()
        mutate(spec)
        with sne_zoo.ZooWriter(self.path(), PROV, overwrite=True) as w:
            with self.assertRaisesRegex(ValueError, pattern):
                w.add_architecture(spec)

    def test_bad_specs(self):
        L, S = "layers", "symmetries"
        self.check(lambda s: s[L][0].update(kind="dense"), "unknown layer kind 'dense'")
        self.check(lambda s: s[L][1]["tensors"][0].update(name="l0.weight"), "duplicate tensor name 'l0.weight'")
        self.check(lambda s: s[L][0]["tensors"][0].update(shape=[4, 0]), r"shape\[1\]")
        self.check(lambda s: s[L][0]["tensors"][1].update(shape=[-4]), "l0.bias")
        self.check(lambda s: s[L][0]["tensors"][1].update(shape=[]), "l0.bias")
        self.check(lambda s: s[S][0]["actions"][0].update(tensor="l9.weight"), "unknown tensor .l9.weight.")
        self.check(lambda s: s[S][0]["actions"][1].update(axis=1), "axis 1 out of range for l0.bias of rank 1")
        self.check(lambda s: s[S][0]["actions"][2].update(block=2), "exceeds dimension 4 of l1.weight")
        self.check(lambda s: s[S][0]["actions"][0].update(offset=1), "exceeds dimension 4 of l0.weight")
        self.check(lambda s: s[S][0].update(kind="sign_flip"), "only permutation")
        self.check(lambda s: s[S][0].update(size=0), "size")
        self.check(lambda s: s.update(name="mlp 2-4-1"), "architecture name")
        self.check(lambda s: s[L][1].update(name="l0"), "duplicate layer name")
        self.check(lambda s: s[L].insert(1, {"name": "flatten", "kind": "other", "tensors": []}),
                   r"layers\[1\] \(flatten\).tensors must be a non-empty list")
        self.check(lambda s: s[L][0].pop("tensors"), r"\(l0\).tensors must be a non-empty list")

    def test_defaults_and_duplicates(self):
        spec = mlp_spec()
        spec["layers"][0]["tensors"][0]["shape"] = np.array([4, 2])  # numpy values are accepted
        spec["symmetries"][0]["size"] = np.int64(4)
        del spec["layers"][0]["tensors"][0]["role"]
        del spec["layers"][1]["level"]
        with sne_zoo.ZooWriter(self.path(), PROV) as w:
            w.add_architecture(spec)
            with self.assertRaisesRegex(ValueError, "already exists"):
                w.add_architecture(mlp_spec())
            w.append(0, np.zeros(17))
        with sne_zoo.ZooReader(self.path()) as r:
            stored = r.architectures[0]
            self.assertEqual(stored["layers"][0]["tensors"][0]["role"], "weight")
            self.assertEqual(stored["layers"][1]["level"], 1)
            self.assertEqual(stored["symmetries"][0]["actions"][0], {"tensor": "l0.weight", "axis": 0, "offset": 0,
                                                                     "block": 1})


class WriterTest(TempDirTest):
    def test_refuses_to_overwrite(self):
        zoo = self.path()
        write_mixed_zoo(zoo, num_networks=4)
        before = os.path.getsize(zoo)
        with self.assertRaises(FileExistsError):
            sne_zoo.ZooWriter(zoo, PROV)
        self.assertEqual(os.path.getsize(zoo), before)
        with sne_zoo.ZooReader(zoo) as r:
            self.assertEqual(r.num_networks, 4)
        with sne_zoo.ZooWriter(zoo, PROV, overwrite=True) as w:
            w.append(w.add_architecture(mlp_spec()), np.ones(17))
        with sne_zoo.ZooReader(zoo) as r:
            self.assertEqual((r.num_networks, r.provenance), (1, PROV))

    def test_split_rules(self):
        with sne_zoo.ZooWriter(self.path(), PROV) as w:
            a = w.add_architecture(mlp_spec())
            for _ in range(5):
                w.append(a, np.zeros(17))
            w.set_split("train", [3, 1, 1, 0])
            with self.assertRaisesRegex(ValueError, "overlaps split train"):
                w.set_split("test", [2, 3])
            with self.assertRaisesRegex(ValueError, "negative"):
                w.set_split("extra", [-1])
            w.set_split("test", np.array([4, 2]))
            w.set_split("bootstrap", [0, 2, 3])
        with sne_zoo.ZooReader(self.path()) as r:
            self.assertEqual({k: v.tolist() for k, v in r.splits.items()},
                             {"train": [0, 1, 3], "test": [2, 4], "bootstrap": [0, 2, 3]})

    def test_split_out_of_range_then_fixed(self):
        w = sne_zoo.ZooWriter(self.path(), PROV)
        w.append(w.add_architecture(mlp_spec()), np.zeros(17))
        w.set_split("train", [0, 1])
        with self.assertRaisesRegex(ValueError, "split train: network index 1"):
            w.close()
        w.set_split("train", [0])
        w.close()
        with sne_zoo.ZooReader(self.path()) as r:
            self.assertEqual(r.splits["train"].tolist(), [0])

    def test_exception_removes_file(self):
        with self.assertRaises(RuntimeError):
            with sne_zoo.ZooWriter(self.path(), PROV) as w:
                w.add_architecture(mlp_spec())
                raise RuntimeError("boom")
        self.assertFalse(os.path.exists(self.path()))

    def test_many_networks_block_writes(self):
        t0 = time.time()
        rng = np.random.default_rng(1)
        rows = rng.normal(size=(10000, 17)).astype(np.float32)
        with sne_zoo.ZooWriter(self.path(), PROV) as w:
            a = w.add_architecture(mlp_spec())
            b = w.add_architecture(conv_spec())
            w._archs[b]["flush_rows"] = 7  # force several block writes
            for i in range(10000):
                w.append(a, rows[i], properties={"acc": float(i)})
                if i % 100 == 0:
                    w.append(b, np.full(29, i, np.float32), metadata={"tag": f"n{i}"})
        self.assertLess(time.time() - t0, 60)
        with sne_zoo.ZooReader(self.path()) as r:
            self.assertEqual(r.num_networks, 10100)
            mlp = [i for i in range(r.num_networks) if r.network_architecture[i] == 0]
            np.testing.assert_array_equal(np.stack([r.params(i) for i in mlp[::997]]), rows[::997])
            cnn = np.flatnonzero(r.network_architecture == 1)
            self.assertEqual([r.params(i)[0] for i in cnn], [float(100 * k) for k in range(100)])
            self.assertEqual(r.metadata["tag"][cnn[5]], "n500")
            self.assertEqual(r.metadata["tag"][0], "")
            self.assertTrue(np.isnan(r.properties["acc"][cnn]).all())

    def test_chunk_rows_large_architecture(self):
        spec = {"name": "big", "layers": [{"name": "l0", "kind": "linear",
                                           "tensors": [{"name": "l0.weight", "shape": [600, 500]}]}]}
        with sne_zoo.ZooWriter(self.path(), PROV) as w:
            w.append(w.add_architecture(spec), np.zeros(300000))
        with h5py.File(self.path(), "r") as f:
            self.assertEqual(f["architectures/big/params"].chunks, (1, 300000))
        self.assertEqual(sne_zoo.chunk_rows(17), 15420)


class ReaderErrorsTest(TempDirTest):
    def test_not_a_zoo(self):
        with h5py.File(self.path(), "w") as f:
            f["x"] = np.arange(3)
        with self.assertRaisesRegex(ValueError, "not an sne zoo"):
            sne_zoo.ZooReader(self.path())
        with h5py.File(self.path(), "w") as f:
            f.attrs["sne_format"] = "something-else"
        with self.assertRaisesRegex(sne_zoo.ZooFormatError, "not an sne zoo.*something-else"):
            sne_zoo.ZooReader(self.path())
        out = subprocess.run([sys.executable, SCRIPT, "info", self.path()], capture_output=True, text=True)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("not an sne zoo", out.stderr)

    def test_newer_version(self):
        write_mixed_zoo(self.path(), num_networks=4)
        with h5py.File(self.path(), "a") as f:
            f.attrs["format_version"] = np.int64(2)
        with self.assertRaisesRegex(ValueError, "format version 2 is newer than this reader's 1"):
            sne_zoo.ZooReader(self.path())


if __name__ == "__main__":
    unittest.main(verbosity=2)
