#!/usr/bin/env python3
"""End-to-end tests of `sne report` on a toy zoo: reports of a run, a compare study with seeds and fractions, an
ablation, a transfer study and an embeddings file; the figures' data checked against the metrics; bad inputs; an
existing report replaced atomically; a missing Python package. When Chromium is installed (Debian package
chromium; scripts/install-deps.sh does not install it), every report is also opened in headless Chromium
(tests/report/browser_check.py): not blank, every image loaded, no console errors. Otherwise those checks skip.

    SNE_BINARY=build/apps/sne SNE_SOURCE_DIR=. /usr/bin/python3 tests/cli/test_report.py -v
"""
import json
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
sys.path.insert(0, HERE)
from test_train import MLP, SNE, SOURCE_DIR, sne, write_config, write_zoo  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_DIR, "data-scripts"))
import sne_zoo  # noqa: E402

BROWSER_CHECK = os.path.join(SOURCE_DIR, "tests", "report", "browser_check.py")
HAS_CHROMIUM = any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome"))


def other_architecture_zoo(path):
    spec = json.loads(json.dumps(MLP))
    spec["name"] = "mlp_2_4_1"
    spec["layers"][0]["tensors"] = [{"name": "l0.weight", "shape": [4, 2]}, {"name": "l0.bias", "shape": [4]}]
    spec["layers"][1]["tensors"] = [{"name": "l1.weight", "shape": [1, 4]}, {"name": "l1.bias", "shape": [1]}]
    spec["symmetries"][0]["size"] = 4
    rng = np.random.default_rng(1)
    with sne_zoo.ZooWriter(path, {"kind": "manual", "name": "scale toy, another architecture"}) as w:
        a = w.add_architecture(spec)
        for i in range(40):
            s = 0.2 + 0.07 * i
            w.append(a, (rng.standard_normal(17) * s).astype(np.float32), properties={"scale": s})
        w.set_split("train", list(range(0, 40, 2)))
        w.set_split("validation", list(range(1, 40, 4)))
        w.set_split("test", list(range(3, 40, 4)))


@unittest.skipUnless(SNE, "SNE_BINARY is not set")
class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.zoo = os.path.join(d, "toy.h5")
        write_zoo(cls.zoo)
        cls.other = os.path.join(d, "other.h5")
        other_architecture_zoo(cls.other)
        cls.config = os.path.join(d, "toy.yaml")
        write_config(cls.config, cls.zoo, train="epochs: 3, lr: 0.001, warmup_steps: 5")
        cls.run_dir = os.path.join(d, "run")
        cls.check(sne("train", cls.config, "--run-dir", cls.run_dir, "--threads", "2"))

    @staticmethod
    def check(r):
        if r.returncode != 0:
            raise AssertionError(f"exit {r.returncode}: {r.stderr}")
        return r

    def report(self, what, out, *extra):
        r = sne("report", what, "-o", out, "--threads", "2", *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{out}/index.html: report of the", r.stdout)
        with open(os.path.join(out, "figures.json")) as f:
            figures = {x["id"]: x for x in json.load(f)["figures"]}
        for fig in figures.values():  # every figure as PNG and as SVG, the PNG embedded in the page
            self.assertGreater(os.path.getsize(os.path.join(out, fig["png"])), 1000)
            with open(os.path.join(out, fig["svg"])) as f:
                self.assertIn("<svg", f.read(2000))
        with open(os.path.join(out, "index.html")) as f:
            page = f.read()
        self.assertEqual(page.count("data:image/png;base64,"), len(figures))
        self.assertNotRegex(page, r'(src|href)="https?:')  # self-contained
        if HAS_CHROMIUM:
            b = subprocess.run([sys.executable, BROWSER_CHECK, out], capture_output=True, text=True, timeout=300)
            self.assertEqual(b.returncode, 0, b.stdout + b.stderr)
        return figures, page

    def assertFails(self, r, code, *fragments):
        self.assertEqual(r.returncode, code, r.stderr)
        for f in fragments:
            self.assertIn(f, r.stderr)
        for marker in ("internal error", "Traceback", "terminate called"):
            self.assertNotIn(marker, r.stderr)

    def test_run_report_draws_the_learning_curves_and_every_test_network(self):
        out = os.path.join(self.dir, "run_report")
        figures, page = self.report(self.run_dir, out)
        self.assertEqual(set(figures), {"learning_curves", "test_predictions"})
        curves = figures["learning_curves"]["data"]
        self.assertEqual(curves["epochs"], 3)
        for key in ("train_loss", "validation_mse", "lr", "train_invariance"):
            self.assertEqual(curves["points"][key], 3, key)
        with open(os.path.join(self.run_dir, "evaluations", "test.json")) as f:
            test = json.load(f)  # the evaluation the report made, kept in the run
        with open(os.path.join(self.run_dir, "config.yaml")):
            pass
        scatter = figures["test_predictions"]["data"]
        self.assertEqual(scatter["points"], 12)  # the toy's test split
        self.assertEqual(scatter["points"], test["networks"])
        self.assertAlmostEqual(scatter["mse"], test["mse"])
        e = sne("eval", os.path.join(self.run_dir, "checkpoints", "best"), "--json", os.path.join(self.dir, "e.json"))
        self.check(e)
        with open(os.path.join(self.dir, "e.json")) as f:
            self.assertAlmostEqual(json.load(f)["mse"], scatter["mse"], places=12)  # the same number as sne eval
        self.assertIn(f"{test['mse']:.4f}", page)

    def test_compare_report_has_bars_with_seed_errors_and_the_data_efficiency_curve(self):
        study = os.path.join(self.dir, "compare")
        self.check(sne("compare", self.config, "--models", "statnn,mlp", "--fractions", "0.5,1", "--seeds", "2",
                       "-o", study, "--set", "train.epochs=2", "--threads", "2"))
        with open(os.path.join(study, "compare.json")) as f:
            result = json.load(f)
        self.assertEqual(len(result["rows"]), 8)
        figures, page = self.report(study, os.path.join(study, "report"))
        self.assertTrue({"test_mse", "test_tau", "data_efficiency", "test_predictions", "validation_curves"}
                        <= set(figures))
        bars = figures["test_mse"]["data"]
        self.assertEqual(bars["variants"], ["statnn", "mlp"])
        self.assertEqual(bars["seeds"], [2, 2])
        for k, v in enumerate(bars["variants"]):
            mses = [r["test"]["mse"] for r in result["rows"] if r["variant"] == v and r["fraction"] == 1]
            self.assertAlmostEqual(bars["mean"][k], np.mean(mses))
            self.assertAlmostEqual(bars["std"][k], np.std(mses, ddof=1))
        curve = figures["data_efficiency"]["data"]
        self.assertEqual(curve["statnn"]["fractions"], [0.5, 1])
        self.assertEqual(figures["test_predictions"]["data"]["points"], {"statnn": 12, "mlp": 12})
        self.assertIn("±", page)
        # The study moved elsewhere (another folder, another machine): its runs are found inside it.
        moved = study + "_moved"
        shutil.copytree(study, moved, ignore=shutil.ignore_patterns("report"))
        shutil.move(study, study + "_away")
        try:
            figures, _ = self.report(moved, os.path.join(moved, "report"))
            self.assertEqual(figures["test_predictions"]["data"]["points"], {"statnn": 12, "mlp": 12})
            self.assertEqual(figures["validation_curves"]["data"]["epochs"], {"statnn": 2, "mlp": 2})
        finally:
            shutil.move(study + "_away", study)

    def test_ablation_report_has_a_bar_per_row(self):
        rows = os.path.join(self.dir, "rows")
        os.makedirs(rows, exist_ok=True)
        with open(os.path.join(rows, "full.yaml"), "w") as f:
            f.write("encoder: {chunk_size: 8}\n")
        with open(os.path.join(rows, "no_type.yaml"), "w") as f:
            f.write("encoder: {type_encoding: false}\n")
        study = os.path.join(self.dir, "ablation")
        r = sne("ablate", self.config, "--rows-dir", rows, "-o", study, "--set", "train.epochs=1", "--threads", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("| full |", r.stdout)
        figures, _ = self.report(study, os.path.join(self.dir, "ablation_report"))
        self.assertEqual(figures["test_mse"]["data"]["variants"], ["full", "no_type"])

    def test_transfer_report_heat_map_cells_equal_transfer_json(self):
        study = os.path.join(self.dir, "transfer")
        self.check(sne("transfer", self.config, "--models", "statnn,mlp", "--train", f"{self.zoo},{self.other}",
                       "-o", study, "--set", "train.epochs=2", "--threads", "2"))
        with open(os.path.join(study, "transfer.json")) as f:
            result = json.load(f)
        figures, page = self.report(study, os.path.join(self.dir, "transfer_report"))
        maps = [f for f in figures.values() if f["id"].startswith("tau_matrix")]
        self.assertEqual(len(maps), 2)
        for fig, table in zip(maps, result["tables"]):
            self.assertEqual(fig["data"]["model"], table["model"])
            self.assertEqual(fig["data"]["cells"], [[c["kendall_tau"] for c in row["cells"]] for row in table["rows"]])
            self.assertEqual(fig["data"]["unseen"], [[False, True], [True, False]])
        self.assertIsNone(maps[1]["data"]["cells"][0][1])  # the MLP cannot read the other architecture
        self.assertIn("n/a", page)

    def test_embeddings_report_pca_of_all_and_tsne_of_a_subsample(self):
        emb = os.path.join(self.dir, "codes.h5")
        self.check(sne("encode", self.zoo, "--checkpoint", os.path.join(self.run_dir, "checkpoints", "best"), "-o", emb))
        figures, page = self.report(emb, os.path.join(self.dir, "emb_report"), "--tsne-points", "40")
        self.assertEqual(figures["pca"]["data"]["points"], 60)
        self.assertEqual(figures["tsne"]["data"]["points"], 40)
        self.assertEqual(figures["tsne"]["data"]["of"], 60)
        self.assertEqual(figures["pca"]["data"]["color_by"], "scale")
        self.assertIn("subsample of 40 of the 60 codes", page)
        self.assertFails(sne("report", emb, "-o", os.path.join(self.dir, "x"), "--color-by", "colour"), 3,
                         "--color-by 'colour'", "scale")
        by_arch = os.path.join(self.dir, "emb_arch")
        figures, _ = self.report(emb, by_arch, "--tsne-points", "0", "--color-by", "architecture")
        self.assertEqual(figures["pca"]["data"]["groups"], {"mlp_2_8_1": 60})
        self.assertNotIn("tsne", figures)

    def test_a_large_embeddings_file_is_subsampled_for_drawing_and_says_so(self):
        big = os.path.join(self.dir, "big.h5")
        rng = np.random.default_rng(0)
        with h5py.File(big, "w") as f:  # written as sne encode writes it, of a zoo that is not there any more
            f.attrs["sne_format"] = "sne-embeddings"
            f.attrs["format_version"] = 1
            f.attrs["json"] = json.dumps({"zoo": os.path.join(self.dir, "gone.h5"), "split": "all"})
            f["embeddings"] = rng.standard_normal((25000, 4)).astype(np.float32)
            f["index"] = np.arange(25000)
            f["properties/p"] = rng.random(25000)
        figures, page = self.report(big, os.path.join(self.dir, "big_report"), "--tsne-points", "0")
        self.assertEqual(figures["pca"]["data"], {"points": 20000, "of": 25000, "color_by": "p"})
        self.assertIn("all 25000 codes", page)
        self.assertIn("20000 of them, chosen at random, are drawn", page)
        self.assertIn("gone.h5 is not there", page)

    def test_bad_inputs_get_clear_errors(self):
        out = os.path.join(self.dir, "bad_out")
        empty = os.path.join(self.dir, "empty_dir")
        os.makedirs(empty, exist_ok=True)
        self.assertFails(sne("report", empty, "-o", out), 3, "empty_dir: not something sne reports",
                         "run directory", "compare.json", "embeddings file")
        self.assertFails(sne("report", os.path.join(self.dir, "absent"), "-o", out), 3, "no such file or directory")
        self.assertFails(sne("report", self.config, "-o", out), 3, "toy.yaml: not something sne reports")
        self.assertFails(sne("report", self.zoo, "-o", out), 3, "not an sne embeddings file", "sne encode")
        # A truncated metrics log.
        cut = os.path.join(self.dir, "cut_run")
        shutil.copytree(self.run_dir, cut)
        with open(os.path.join(cut, "metrics.jsonl")) as f:
            text = f.read()
        with open(os.path.join(cut, "metrics.jsonl"), "w") as f:
            f.write(text[: len(text) - 40])
        self.assertFails(sne("report", cut, "-o", out), 3, "metrics.jsonl line 3", "truncated")
        # Embeddings without properties.
        bare = os.path.join(self.dir, "bare.h5")
        with h5py.File(bare, "w") as f:
            f.attrs["sne_format"] = "sne-embeddings"
            f.attrs["format_version"] = 1
            f["embeddings"] = np.zeros((5, 4), np.float32)
            f["index"] = np.arange(5)
        self.assertFails(sne("report", bare, "-o", out), 3, "bare.h5: no properties")
        # A damaged study result.
        study = os.path.join(self.dir, "broken_study")
        os.makedirs(study, exist_ok=True)
        with open(os.path.join(study, "transfer.json"), "w") as f:
            f.write('{"kind": "transfer", "tables": [')
        self.assertFails(sne("report", study, "-o", out), 3, "transfer.json: not valid JSON")
        self.assertFalse(os.path.exists(out), "a failed report left an output behind")
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp-" in n], [])

    def test_an_existing_report_is_replaced_atomically_and_kept_when_drawing_fails(self):
        out = os.path.join(self.dir, "replaced")
        self.report(self.run_dir, out)
        with open(os.path.join(out, "stale.txt"), "w") as f:
            f.write("from the old report")
        # A Python without matplotlib: a clear error naming the package, and the old report untouched.
        fake = os.path.join(self.dir, "no_matplotlib")
        os.makedirs(os.path.join(fake, "matplotlib"), exist_ok=True)
        with open(os.path.join(fake, "matplotlib", "__init__.py"), "w") as f:
            f.write("raise ImportError('matplotlib is not installed')\n")
        python = os.path.join(self.dir, "python_without_matplotlib")
        with open(python, "w") as f:
            f.write(f"#!/bin/sh\nPYTHONPATH={fake} exec {sys.executable} \"$@\"\n")
        os.chmod(python, 0o755)
        self.assertFails(sne("report", self.run_dir, "-o", out, "--python", python), 2, "matplotlib",
                         "python3-matplotlib")
        self.assertFails(sne("report", self.run_dir, "-o", out, "--python", os.path.join(self.dir, "no_python")), 2,
                         "needs Python 3")
        self.assertTrue(os.path.exists(os.path.join(out, "stale.txt")), "the old report was touched")
        self.report(self.run_dir, out)  # a new report replaces the whole folder
        self.assertFalse(os.path.exists(os.path.join(out, "stale.txt")))
        self.assertEqual([n for n in os.listdir(self.dir) if re.search(r"\.(tmp|old)-\d+$", n)], [])
        with open(os.path.join(self.dir, "a_file"), "w") as f:
            f.write("x")
        self.assertFails(sne("report", self.run_dir, "-o", os.path.join(self.dir, "a_file")), 5, "is not a folder")
        # A folder killed mid-report left behind is cleared by the next report of that OUT.
        leftover = out + ".tmp-999999"
        os.makedirs(os.path.join(leftover, "figures"))
        self.report(self.run_dir, out)
        self.assertFalse(os.path.exists(leftover))

    def test_only_an_earlier_report_is_ever_replaced(self):
        snapshot = sorted(os.listdir(self.run_dir))
        # OUT = the input, or a folder holding it: refused, the run untouched.
        self.assertFails(sne("report", self.run_dir, "-o", self.run_dir), 2, "would replace its own input")
        self.assertFails(sne("report", self.run_dir, "-o", self.dir + "/"), 2, "would replace its own input")
        self.assertEqual(sorted(os.listdir(self.run_dir)), snapshot)
        # A folder of the user's that is not a report: refused, kept.
        keep = os.path.join(self.dir, "my_notes")
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, "notes.txt"), "w") as f:
            f.write("mine")
        self.assertFails(sne("report", self.run_dir, "-o", keep), 5, "my_notes: exists and is not an sne report")
        self.assertTrue(os.path.exists(os.path.join(keep, "notes.txt")))
        # Another run directory as OUT: refused likewise.
        other = os.path.join(self.dir, "other_run")
        shutil.copytree(self.run_dir, other, ignore=shutil.ignore_patterns("report", "evaluations"))
        self.assertFails(sne("report", self.run_dir, "-o", other), 5, "not an sne report")
        self.assertTrue(os.path.exists(os.path.join(other, "metrics.jsonl")))

    def test_missing_or_undefined_numbers_draw_as_gaps_not_tracebacks(self):
        run = os.path.join(self.dir, "nan_run")
        shutil.copytree(self.run_dir, run, ignore=shutil.ignore_patterns("report"))
        with open(os.path.join(run, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f if line.strip()]
        records[1]["validation"]["mse"] = None  # NaN is logged as null
        records[1]["train_loss"] = None
        records.append(dict(records[1]))  # a resume that repeated epoch 2: counted once
        records.append(dict(records[2]))
        with open(os.path.join(run, "metrics.jsonl"), "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in records))
        figures, _ = self.report(run, os.path.join(self.dir, "nan_report"))
        self.assertEqual(figures["learning_curves"]["data"]["epochs"], 3)
        self.assertEqual(figures["learning_curves"]["data"]["points"]["validation_mse"], 2)
        # Embeddings whose property has the wrong length, or whose provenance is not JSON.
        bad = os.path.join(self.dir, "bad_props.h5")
        with h5py.File(bad, "w") as f:
            f.attrs["sne_format"] = "sne-embeddings"
            f.attrs["json"] = "{not json"
            f["embeddings"] = np.zeros((5, 4), np.float32)
            f["index"] = np.arange(5)
            f["properties/p"] = np.zeros(4)
        out = os.path.join(self.dir, "bad_props_report")
        self.assertFails(sne("report", bad, "-o", out), 3, "bad_props.h5: /properties/p", "expected 5 numbers")
        with h5py.File(bad, "a") as f:
            del f["properties/p"]
            f["properties/p"] = np.arange(5.0)
        self.assertFails(sne("report", bad, "-o", out), 3, "provenance) is not valid JSON")


if __name__ == "__main__":
    unittest.main(verbosity=2)
