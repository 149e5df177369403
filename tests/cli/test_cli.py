#!/usr/bin/env python3
"""End-to-end tests of the real `sne` binary: exit codes, stdout/stderr contracts and messages of the CLI.

Every bad input must end with the documented exit code (2 usage/config, 3 data; see `sne --help`), a line on
stderr starting with `sne: error:` that names the offending file/key, nothing on stdout, and no trace of a crash
(traceback, "terminate called", "Segmentation fault", "internal error", HDF5 error stacks).

Each `sne` process costs about half a second (LibTorch), so fixtures are built once per class and every distinct
command line runs once per class (results are cached by argument list); tests that look at the same run share it.

Environment (ctest sets both): SNE_BINARY = path of the sne binary, SNE_SOURCE_DIR = the project source root
(for data-scripts/sne_zoo.py). Run by hand:
    SNE_BINARY=build/apps/sne SNE_SOURCE_DIR=. /usr/bin/python3 tests/cli/test_cli.py -v

"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SNE_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "data-scripts"))
import sne_zoo  # noqa: E402

SNE = os.environ.get("SNE_BINARY", "")
CRASH_MARKERS = ("Traceback (most recent call last)", "terminate called", "Segmentation fault", "internal error",
                 "core dumped", "Aborted", "HDF5-DIAG")
INVOCATIONS = [0]  # total sne processes started, printed at the end


# ---------------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------------
def mlp_spec():
    """MLP 2 -> 4 -> 1: 17 parameters."""
    return {
        "name": "mlp_2_4_1",
        "layers": [
            {"name": "l0", "kind": "linear", "level": 0, "attributes": {"activation": "relu"},
             "tensors": [{"name": "l0.weight", "shape": [4, 2]}, {"name": "l0.bias", "shape": [4]}]},
            {"name": "l1", "kind": "linear", "level": 1,
             "tensors": [{"name": "l1.weight", "shape": [1, 4]}, {"name": "l1.bias", "shape": [1]}]},
        ],
        "symmetries": [{"name": "l0.units", "kind": "permutation", "size": 4,
                        "actions": [{"tensor": "l0.weight", "axis": 0}, {"tensor": "l0.bias", "axis": 0},
                                    {"tensor": "l1.weight", "axis": 1}]}],
    }


def cnn_spec():
    """conv2d 1->2 channels 3x3 on 1x4x4, flatten, linear 8->1: 29 parameters."""
    return {
        "name": "cnn_1_2_fc1",
        "layers": [
            {"name": "conv0", "kind": "conv2d", "level": 0, "attributes": {"activation": "relu"},
             "tensors": [{"name": "conv0.weight", "shape": [2, 1, 3, 3]}, {"name": "conv0.bias", "shape": [2]}]},
            {"name": "fc", "kind": "linear", "level": 1, "attributes": {"input": "flatten"},
             "tensors": [{"name": "fc.weight", "shape": [1, 8]}, {"name": "fc.bias", "shape": [1]}]},
        ],
        "symmetries": [{"name": "conv0.channels", "kind": "permutation", "size": 2,
                        "actions": [{"tensor": "conv0.weight", "axis": 0}, {"tensor": "conv0.bias", "axis": 0},
                                    {"tensor": "fc.weight", "axis": 1, "block": 4}]}],
    }


NAMES = ("mlp_2_4_1", "cnn_1_2_fc1")
PARAMS = (17, 29)


def write_zoo(path, num_networks=10, nan_in=(), splits=None, seed=0):
    """Networks alternate MLP (even) / CNN (odd). test_accuracy = 0.5 + 0.01 i, unknown for network 2.
    Weights of the networks in `nan_in` get a NaN in their first tensor (index 2 of the row). Returns what was
    written: arch[i], row[i], params[i], acc[i], splits."""
    rng = np.random.default_rng(seed)
    splits = {"train": range(0, num_networks - 3), "test": range(num_networks - 3, num_networks)} \
        if splits is None else splits
    out = {"arch": [], "row": [], "params": [], "acc": [], "splits": {k: sorted(v) for k, v in splits.items()}}
    with sne_zoo.ZooWriter(path, {"kind": "manual", "name": "cli-test"}) as w:
        archs = [w.add_architecture(mlp_spec()), w.add_architecture(cnn_spec())]
        rows = [0, 0]
        for i in range(num_networks):
            a = i % 2
            p = rng.normal(size=PARAMS[a]).astype(np.float32)
            if i in nan_in:
                p[2] = np.nan
            acc = math.nan if i == 2 else 0.5 + 0.01 * i
            w.append(archs[a], p, properties={"test_accuracy": acc}, metadata={"optimizer": "adam"})
            out["arch"].append(a)
            out["row"].append(rows[a])
            rows[a] += 1
            out["params"].append(p)
            out["acc"].append(acc)
        for name, idx in splits.items():
            w.set_split(name, idx)
    return out


def replace_dataset(path, name, data):
    with h5py.File(path, "a") as f:
        del f[name]
        f.create_dataset(name, data=data)


# ---------------------------------------------------------------------------------------------------------------
# Base class: running sne and checking the error contract
# ---------------------------------------------------------------------------------------------------------------
@unittest.skipUnless(SNE, "SNE_BINARY is not set: set it to the path of the sne binary")
class SneTestCase(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.access(SNE, os.X_OK):
            raise AssertionError(f"SNE_BINARY={SNE!r} is not an executable file")
        cls._runs = {}
        cls.dir = tempfile.mkdtemp(prefix="sne_cli_")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def sne(self, *args):
        """Runs `sne ARGS` once per class (cached); returns the CompletedProcess with a `report` for messages."""
        args = tuple(str(a) for a in args)
        if args not in self._runs:
            INVOCATIONS[0] += 1
            proc = subprocess.run([SNE, *args], capture_output=True, text=True, timeout=120, cwd=self.dir,
                                  stdin=subprocess.DEVNULL)
            proc.report = (f"`sne {' '.join(args)}` exited {proc.returncode}\n--- stdout:\n{proc.stdout}"
                           f"--- stderr:\n{proc.stderr}---")
            self._runs[args] = proc
        return self._runs[args]

    def assert_no_crash(self, proc):
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal\n" + proc.report)
        for marker in CRASH_MARKERS:  # stdout may legitimately say "internal error" (the exit-code list in --help)
            self.assertNotIn(marker, proc.stderr, proc.report)
            if marker != "internal error":
                self.assertNotIn(marker, proc.stdout, proc.report)

    def assert_ok(self, proc):
        self.assertEqual(proc.returncode, 0, proc.report)
        self.assert_no_crash(proc)

    def assert_error(self, proc, code, names=(), patterns=(), one_line=False):
        """Exit `code`, empty stdout, a stderr line `sne: error: ...` that contains every string of `names`;
        every regex of `patterns` matches stderr; with `one_line`, stderr is exactly that one line."""
        self.assertEqual(proc.returncode, code, proc.report)
        self.assert_no_crash(proc)
        self.assertEqual(proc.stdout, "", "stdout must stay empty on errors\n" + proc.report)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("sne: error: ")]
        self.assertTrue(errors, "no stderr line starts with 'sne: error: '\n" + proc.report)
        for name in names:
            self.assertIn(name, errors[0], f"the error line does not name {name!r}\n" + proc.report)
        for pattern in patterns:
            self.assertRegex(proc.stderr, pattern, proc.report)
        if one_line:
            self.assertEqual(proc.stderr.count("\n"), 1, "expected a one-line message\n" + proc.report)
            self.assertTrue(proc.stderr.endswith("\n"), proc.report)
        return proc.stderr


# ---------------------------------------------------------------------------------------------------------------
# Top level: help, version, subcommand dispatch
# ---------------------------------------------------------------------------------------------------------------
class TopLevelTest(SneTestCase):
    def test_help(self):
        proc = self.sne("--help")
        self.assert_ok(proc)
        self.assertRegex(proc.stdout, re.compile(r"^\s+config\s", re.MULTILINE), proc.report)
        self.assertRegex(proc.stdout, re.compile(r"^\s+zoo\s", re.MULTILINE), proc.report)
        self.assertIn("Exit codes", proc.stdout, proc.report)

    def test_version(self):
        proc = self.sne("--version")
        self.assert_ok(proc)
        self.assertRegex(proc.stdout, r"^sne 0\.1\.0\b", proc.report)

    def test_no_subcommand(self):
        proc = self.sne()
        self.assert_error(proc, 2, patterns=[r"(?i)subcommand"])

    def test_unknown_subcommand(self):
        proc = self.sne("bogus")
        self.assert_error(proc, 2, names=["bogus"])

    def test_zoo_info_help_mentions_json(self):
        proc = self.sne("zoo", "info", "--help")
        self.assert_ok(proc)
        self.assertIn("--json", proc.stdout, proc.report)


# ---------------------------------------------------------------------------------------------------------------
# sne config show | keys
# ---------------------------------------------------------------------------------------------------------------
def yaml_value(text, key):
    """Value of the (unique) leaf `key:` in sne's YAML output, without its trailing comment."""
    m = re.search(rf"^\s*{re.escape(key)}:\s*(\S+)", text, re.MULTILINE)
    return m.group(1) if m else None


class ConfigTest(SneTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        files = {
            "exp.yaml": "run:\n  threads: 5\n  seed: 42\nzoo:\n  path: my/zoo.h5\n  reader:\n"
                        "    batch_size: 32\n    memory_budget_mb: 100\n    shuffle: false\n",
            "unknown.yaml": "run:\n  seed: 1\nzoo:\n  reader:\n    batchsize: 8\n",  # line 5
            "three.yaml": "run:\n  threads: abc\n  seed: 5\nzoo:\n  reader:\n    batch_size: 0\n"
                          "    shuffle: true\n    batchsize: 3\n",  # lines 2, 6, 8
            "malformed.yaml": "run:\n  threads: 2\n    seed: 3\nzoo:\n  path: x\n",  # bad indentation, line 3
        }
        for name, text in files.items():
            with open(cls.path(name), "w") as f:
                f.write(text)

    def test_show_embedded_default(self):
        proc = self.sne("config", "show")
        self.assert_ok(proc)
        self.assertRegex(proc.stdout, re.compile(r"^\s+batch_size: 32\b", re.MULTILINE), proc.report)
        self.assertEqual(yaml_value(proc.stdout, "device"), "auto", proc.report)

    def _precedence_run(self):
        return self.sne("config", "show", self.path("exp.yaml"), "--set", "zoo.reader.batch_size=8",
                        "--threads", "3")

    def test_show_precedence(self):
        proc = self._precedence_run()
        self.assert_ok(proc)
        out = proc.stdout
        self.assertEqual(yaml_value(out, "batch_size"), "8", "--set beats the file\n" + proc.report)
        self.assertEqual(yaml_value(out, "threads"), "3", "--threads beats the file\n" + proc.report)
        self.assertEqual(yaml_value(out, "seed"), "42", "the file beats the default\n" + proc.report)
        self.assertEqual(yaml_value(out, "path"), "my/zoo.h5", proc.report)
        self.assertEqual(yaml_value(out, "shuffle"), "false", proc.report)
        self.assertEqual(float(yaml_value(out, "memory_budget_mb")), 100.0, proc.report)
        self.assertEqual(yaml_value(out, "log_level"), "info", "untouched settings keep the default\n" + proc.report)

    def test_show_prints_numbers_as_written(self):
        proc = self._precedence_run()
        self.assert_ok(proc)
        self.assertEqual(yaml_value(proc.stdout, "memory_budget_mb"), "100", proc.report)

    def test_show_output_is_a_valid_config(self):
        first = self._precedence_run()
        self.assert_ok(first)
        with open(self.path("resolved.yaml"), "w") as f:
            f.write(first.stdout)
        again = self.sne("config", "show", self.path("resolved.yaml"))
        self.assert_ok(again)
        self.assertEqual(again.stdout, first.stdout, "config show of its own output changes it\n" + again.report)

    def test_keys(self):
        proc = self.sne("config", "keys")
        self.assert_ok(proc)
        self.assertRegex(proc.stdout, re.compile(r"^zoo\.reader\.memory_budget_mb\s", re.MULTILINE), proc.report)
        self.assertRegex(proc.stdout, re.compile(r"^run\.device\s", re.MULTILINE), proc.report)

    def test_unknown_key(self):
        f = self.path("unknown.yaml")
        self.assert_error(self.sne("config", "show", f), 2, names=[f"{f}:5"],
                          patterns=[r"did you mean 'zoo\.reader\.batch_size'"])

    def test_all_problems_reported_in_one_run(self):
        f = self.path("three.yaml")
        err = self.assert_error(self.sne("config", "show", f), 2, names=[f"{f}:"])
        self.assertRegex(err, re.escape(f) + r":2\b.*threads.*abc", "wrong type")
        self.assertRegex(err, re.escape(f) + r":6\b.*batch_size.*\b0\b", "out of range")
        self.assertRegex(err, re.escape(f) + r":8\b.*batchsize.*did you mean 'zoo\.reader\.batch_size'",
                         "unknown key")

    def test_malformed_yaml(self):
        f = self.path("malformed.yaml")
        self.assert_error(self.sne("config", "show", f), 2, names=[f"{f}:3"], one_line=True)

    def test_missing_config_file(self):
        f = self.path("no_such_config.yaml")
        self.assert_error(self.sne("config", "show", f), 2, names=[f])

    def test_set_without_equals(self):
        self.assert_error(self.sne("config", "show", "--set", "zoo.reader.batch_size"), 2,
                          names=["zoo.reader.batch_size"], patterns=["KEY=VALUE"], one_line=True)

    def test_bad_device(self):
        err = self.assert_error(self.sne("config", "show", "--device", "gpu"), 2, names=["gpu"], one_line=True)
        for choice in ("cpu", "cuda", "auto"):
            self.assertIn(choice, err)


# ---------------------------------------------------------------------------------------------------------------
# sne zoo validate | info | show on a valid zoo
# ---------------------------------------------------------------------------------------------------------------
class ValidZooTest(SneTestCase):
    N = 10

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zoo = cls.path("valid.h5")
        cls.expected = write_zoo(cls.zoo, num_networks=cls.N)

    def info_json(self):
        proc = self.sne("zoo", "info", self.zoo, "--json")
        self.assert_ok(proc)
        try:
            return json.loads(proc.stdout), proc
        except ValueError as e:
            self.fail(f"stdout is not one JSON document ({e})\n{proc.report}")

    def test_validate(self):
        proc = self.sne("zoo", "validate", self.zoo)
        self.assert_ok(proc)
        self.assertIn("valid", proc.stdout, proc.report)
        self.assertIn(self.zoo, proc.stdout, proc.report)
        self.assertNotIn("invalid", proc.stdout + proc.stderr, proc.report)

    def test_info_text(self):
        proc = self.sne("zoo", "info", self.zoo)
        self.assert_ok(proc)
        out = proc.stdout
        for name, count, params in ((NAMES[0], 5, PARAMS[0]), (NAMES[1], 5, PARAMS[1])):
            self.assertRegex(out, rf"{name}\b.*\b{count} networks.*\b{params} param", proc.report)
        self.assertRegex(out, rf"\b{self.N} networks", proc.report)
        line = next((l for l in out.splitlines() if "test_accuracy" in l), None)
        self.assertIsNotNone(line, "no property line for test_accuracy\n" + proc.report)
        numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", line)]
        known = [a for a in self.expected["acc"] if not math.isnan(a)]
        for want in (min(known), sum(known) / len(known), max(known)):
            self.assertTrue(any(math.isclose(x, want, rel_tol=1e-6) for x in numbers),
                            f"{want} not in {line!r}\n{proc.report}")
        self.assertRegex(line, rf"\b{len(known)} known", proc.report)

    def test_info_text_stats_keep_float64_precision(self):
        proc = self.sne("zoo", "info", self.zoo)
        self.assert_ok(proc)
        line = next((l for l in proc.stdout.splitlines() if "test_accuracy" in l), "")
        self.assertRegex(line, r"max 0\.59\b(?!\d)", proc.report)
        self.assertRegex(line, r"min 0\.5\b(?!\d)", proc.report)

    def test_info_json_counts(self):
        doc, proc = self.info_json()
        e = self.expected
        self.assertEqual(doc["format_version"], 1, proc.report)
        self.assertEqual(doc["networks"], self.N, proc.report)
        archs = sorted(doc["architectures"], key=lambda a: a["index"])
        self.assertEqual([a["name"] for a in archs], list(NAMES), proc.report)
        self.assertEqual([a["params"] for a in archs], list(PARAMS), proc.report)
        self.assertEqual([a["networks"] for a in archs], [e["arch"].count(0), e["arch"].count(1)], proc.report)
        self.assertEqual(doc["splits"], {k: len(v) for k, v in e["splits"].items()}, proc.report)
        known = [a for a in e["acc"] if not math.isnan(a)]
        stats = doc["properties"]["test_accuracy"]
        self.assertEqual(stats["known"], len(known), proc.report)
        self.assertTrue(math.isclose(stats["min"], min(known), rel_tol=1e-12), proc.report)
        self.assertTrue(math.isclose(stats["max"], max(known), rel_tol=1e-12), proc.report)
        self.assertTrue(math.isclose(stats["mean"], sum(known) / len(known), rel_tol=1e-12), proc.report)

    def test_info_json_counts_are_integers(self):
        doc, proc = self.info_json()
        self.assertIsInstance(doc["networks"], int, proc.report)
        self.assertIsInstance(doc["format_version"], int, proc.report)
        for a in doc["architectures"]:
            for key in ("index", "networks", "params"):
                self.assertIsInstance(a[key], int, f"architectures[].{key}\n{proc.report}")
        for name, n in doc["splits"].items():
            self.assertIsInstance(n, int, f"splits.{name}\n{proc.report}")

    def test_show_json(self):
        i = 3
        proc = self.sne("zoo", "show", self.zoo, i, "--json")
        self.assert_ok(proc)
        net = json.loads(proc.stdout)
        e = self.expected
        self.assertEqual(net["index"], i)
        self.assertEqual(net["architecture"], NAMES[e["arch"][i]])
        self.assertEqual(net["row"], e["row"][i])
        got = np.array(net["params"], dtype=np.float64).astype(np.float32)
        self.assertEqual(got.shape, e["params"][i].shape, proc.report)
        np.testing.assert_array_equal(got, e["params"][i])
        self.assertTrue(math.isclose(net["properties"]["test_accuracy"], e["acc"][i], rel_tol=1e-12))
        self.assertEqual(net["metadata"]["optimizer"], "adam")
        self.assertEqual(sorted(net["splits"]), ["train"])

    def test_show_missing_network(self):
        self.assert_error(self.sne("zoo", "show", self.zoo, 999), 3, names=[self.zoo, "999"],
                          patterns=["does not exist"], one_line=True)


# ---------------------------------------------------------------------------------------------------------------
# sne zoo ... on bad zoos
# ---------------------------------------------------------------------------------------------------------------
class BadZooTest(SneTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        p = cls.path
        write_zoo(p("valid.h5"))

        with open(p("text.h5"), "w") as f:
            f.write("this is a text file, not a zoo\n")

        with h5py.File(p("plain.h5"), "w") as f:
            f.create_dataset("weights", data=np.zeros((4, 3), np.float32))
            f.attrs["note"] = "an HDF5 file without the sne zoo schema"

        shutil.copy(p("valid.h5"), p("v2.h5"))
        with h5py.File(p("v2.h5"), "a") as f:
            f.attrs["format_version"] = np.int64(2)

        write_zoo(p("large.h5"), num_networks=400, splits={})
        with open(p("large.h5"), "rb") as f:
            data = f.read()
        with open(p("truncated.h5"), "wb") as f:
            f.write(data[:len(data) // 2])

        shutil.copy(p("valid.h5"), p("shape.h5"))
        with h5py.File(p("shape.h5"), "a") as f:  # declare l0 with 5 units; params still hold 17 columns
            g = f["architectures"][NAMES[0]]
            spec = json.loads(g.attrs["spec"])
            spec["layers"][0]["tensors"][0]["shape"] = [5, 2]
            spec["layers"][0]["tensors"][1]["shape"] = [5]
            spec["layers"][1]["tensors"][0]["shape"] = [1, 5]
            spec["symmetries"][0]["size"] = 5
            g.attrs["spec"] = json.dumps(spec)

        write_zoo(p("nan.h5"), nan_in=(3, 7))

        cls.N = 10
        shutil.copy(p("valid.h5"), p("split_range.h5"))
        replace_dataset(p("split_range.h5"), "splits/test", np.array([7, 8, 9, cls.N + 5], np.int64))

        with sne_zoo.ZooWriter(p("empty.h5"), {"kind": "manual", "name": "empty"}) as w:
            w.add_architecture(mlp_spec())

        shutil.copy(p("valid.h5"), p("overlap.h5"))  # train = 0..6; test gets 5 and 6 too
        replace_dataset(p("overlap.h5"), "splits/test", np.array([5, 6, 7, 8, 9], np.int64))

    def test_a_file_the_hdf5_library_crashes_on_is_named_not_a_bare_segfault(self):
        # Found by tests/fuzz: a damaged global heap makes HDF5 1.10 dereference garbage while reading the
        # variable-length strings of /networks/metadata. sne's guard turns the crash into exit 3 naming the file.
        bad = os.path.join(SOURCE_DIR, "tests", "fuzz", "regressions", "zoo", "hdf5_global_heap_crash.h5")
        proc = self.sne("zoo", "validate", bad)
        self.assert_error(proc, 3, names=["hdf5_global_heap_crash.h5", "the HDF5 library crashed reading this file"])
        self.assertEqual(self.sne("zoo", "info", bad).returncode, 0)  # info reads no metadata values

    def test_missing_file(self):
        f = self.path("no_such_zoo.h5")
        self.assert_error(self.sne("zoo", "info", f), 3, names=[f], one_line=True)

    def test_text_file(self):
        f = self.path("text.h5")
        self.assert_error(self.sne("zoo", "info", f), 3, names=[f], patterns=["not an HDF5 file"], one_line=True)

    def test_hdf5_without_schema(self):
        f = self.path("plain.h5")
        self.assert_error(self.sne("zoo", "validate", f), 3, names=[f], patterns=["without the sne zoo schema"],
                          one_line=True)

    def test_newer_format_version(self):
        f = self.path("v2.h5")
        self.assert_error(self.sne("zoo", "info", f), 3, names=[f], patterns=["newer", r"\b2\b", r"\b1\b"],
                          one_line=True)

    def test_truncated_file(self):
        f = self.path("truncated.h5")
        self.assert_error(self.sne("zoo", "validate", f), 3, names=[f], patterns=["truncated"], one_line=True)

    def test_spec_shape_disagrees_with_params(self):
        f = self.path("shape.h5")
        self.assert_error(self.sne("zoo", "show", f, 0), 3, names=[f], patterns=["has shape", NAMES[0]],
                          one_line=True)

    def test_nan_weights(self):
        f = self.path("nan.h5")
        self.assert_error(self.sne("zoo", "validate", f), 3, names=[f], patterns=[r"networks 3, 7\b"])

    def test_split_index_out_of_range(self):
        f = self.path("split_range.h5")
        err = self.assert_error(self.sne("zoo", "validate", f), 3, names=[f])
        # Only the error lines: the progress summary's rate ("8158.3 networks/s") may contain the digits too.
        index = re.compile(r"\b%d\b" % (self.N + 5))
        line = next((l for l in err.splitlines() if l.startswith("sne:") and index.search(l)), "")
        self.assertRegex(line, r"\btest\b", "the split is not named next to the index\n" + err)

    def test_empty_zoo(self):
        f = self.path("empty.h5")
        self.assert_error(self.sne("zoo", "validate", f), 3, names=[f], patterns=["holds no networks"])

    def test_split_overlap(self):
        f = self.path("overlap.h5")
        err = self.assert_error(self.sne("zoo", "validate", f), 3, names=[f])
        line = next((l for l in err.splitlines() if "train" in l and "test" in l), None)
        self.assertIsNotNone(line, "no message names both splits\n" + err)
        self.assertRegex(line, r"\b5\b", err)


def load_tests(loader, tests, pattern):
    return unittest.TestSuite(loader.loadTestsFromTestCase(c)
                              for c in (TopLevelTest, ConfigTest, ValidZooTest, BadZooTest))


if __name__ == "__main__":
    program = unittest.main(exit=False, verbosity=2)
    print(f"sne invocations: {INVOCATIONS[0]}", file=sys.stderr)
    sys.exit(0 if program.result.wasSuccessful() else 1)
