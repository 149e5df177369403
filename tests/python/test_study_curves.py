#!/usr/bin/env python3
"""data-scripts/study_curves.py: a study's learning curves read from each row's seeds (a torn last line and a
repeated epoch handled), the figure written, and clear refusals."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(SOURCE_DIR, "data-scripts", "study_curves.py")
spec = importlib.util.spec_from_file_location("study_curves", SCRIPT)
study_curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study_curves)


def write_run(path, mses, torn=False, repeat=None, seconds=None):
    os.makedirs(path)
    lines = [json.dumps({"epoch": e + 1, "validation": {"mse": m}, "seconds": seconds[e] if seconds else 1.0})
             for e, m in enumerate(mses)]
    if repeat is not None:  # a resumed run logged this epoch again, with the resumed value
        lines.append(json.dumps({"epoch": repeat, "validation": {"mse": 0.5}}))
    text = "\n".join(lines) + "\n"
    if torn:
        text += '{"epoch": 9, "valid'
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        f.write(text)


class StudyCurvesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_each_seed_is_read_a_torn_line_skipped_and_a_repeated_epoch_counted_once(self):
        write_run(os.path.join(self.dir, "default", "seed-0"), [8.0, 2.0, 1.0], torn=True)
        write_run(os.path.join(self.dir, "default", "seed-1"), [8.0, 4.0, 2.0], repeat=2)
        c = study_curves.curves(__import__("pathlib").Path(self.dir, "default"))
        self.assertEqual(c["seed-0"], [(1, 8.0), (2, 2.0), (3, 1.0)])
        self.assertEqual(c["seed-1"], [(1, 8.0), (2, 0.5), (3, 2.0)])

    def test_the_figure_is_written_with_the_rows_in_their_panels(self):
        write_run(os.path.join(self.dir, "default", "seed-0"), [8.0, 2.0, 1.0])
        write_run(os.path.join(self.dir, "dim_64", "seed-0"), [8.0, 1.0, 0.5])
        write_run(os.path.join(self.dir, "mine", "seed-0"), [8.0, 3.0, 1.5])
        out = os.path.join(self.dir, "fig", "curves.png")
        r = subprocess.run([sys.executable, SCRIPT, self.dir, out], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 rows in 2 panels", r.stdout)  # width h, and "other rows" for mine
        with open(out, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_a_study_without_the_reference_row_is_refused_naming_it(self):
        write_run(os.path.join(self.dir, "dim_64", "seed-0"), [8.0, 1.0])
        r = subprocess.run([sys.executable, SCRIPT, self.dir, os.path.join(self.dir, "x.png")],
                           capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no row 'default'", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.png")))

    def test_time_to_sums_the_epochs_until_the_first_that_reached_the_threshold(self):
        write_run(os.path.join(self.dir, "sne", "seed-0"), [8.0, 0.2, 0.09, 0.2], seconds=[60, 120, 60, 600])
        write_run(os.path.join(self.dir, "sne", "seed-1"), [8.0, 0.05], seconds=[60, 120])
        write_run(os.path.join(self.dir, "sne", "seed-2"), [8.0, 0.5], seconds=[60, 60])  # never reached it
        n, reached = study_curves.time_to(__import__("pathlib").Path(self.dir, "sne"), 0.1)
        self.assertEqual(n, 3)
        self.assertEqual(reached, [(3, 4.0), (2, 3.0)])
        out = os.path.join(self.dir, "curves.png")
        r = subprocess.run([sys.executable, SCRIPT, self.dir, out, "--reference", "sne", "--time-to", "0.1"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("| sne | 2 of 3 | 2.5 ± 0.7 | 3.5 ± 0.7 |", r.stdout)


if __name__ == "__main__":
    unittest.main()
