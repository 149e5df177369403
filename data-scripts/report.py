#!/usr/bin/env python3
"""Draws an `sne report`: reads the document `sne report` gathered (data.json) and writes, into OUT,
index.html (self-contained: the figures are embedded, no network needed), every figure as PNG and SVG under
figures/, and figures.json (what each figure shows: point counts, cell values; the tests read it).

    report.py --data OUT/data.json --out OUT

Exit status: 0 done; 3 bad input (the message names the file); 4 a missing Python package (named with its
Debian package); 5 OUT cannot be written. Progress goes to stderr; an error is the last stderr line, starting with "error:".
Needs numpy and matplotlib; embeddings also h5py, and scikit-learn for t-SNE.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sne_report.page import Report, fail  # noqa: E402  (checks numpy and matplotlib first)
from sne_report.embeddings import report_embeddings  # noqa: E402
from sne_report.runs import report_run  # noqa: E402
from sne_report.studies import report_compare, report_transfer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        with open(a.data, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{a.data}: cannot read the report data ({e})")
    kind = d.get("kind")
    titles = {"run": "Run", "compare": "Comparison", "ablation": "Ablation", "transfer": "Transfer",
              "embeddings": "Embeddings"}
    if kind not in titles:
        fail(f"{a.data}: unknown report kind {kind!r}")
    what = str(d.get("path", a.data))
    try:
        rep = Report(a.out, f"sne report: {titles[kind].lower()} {os.path.basename(what.rstrip('/'))}")
        {"run": report_run, "compare": report_compare, "ablation": report_compare, "transfer": report_transfer,
         "embeddings": report_embeddings}[kind](d, rep)
        rep.write()
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        # A member missing or of the wrong shape: the input is not what sne wrote (edited, or from another version).
        detail = f"missing member {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
        fail(f"{what}: cannot draw the {kind} report; its data is not what this sne writes ({detail})")
    except OSError as e:
        fail(f"{a.out}: cannot write the report ({e})", 5)


if __name__ == "__main__":
    main()
