#!/usr/bin/env python3
"""Draws an `sne report`: reads the document `sne report` gathered (data.json) and writes, into OUT,
index.html (self-contained: the figures are embedded, no network needed), every figure as PNG and SVG under
figures/, and figures.json (what each figure shows: point counts, cell values; the tests read it).

    report.py --data OUT/data.json --out OUT

Exit status: 0 done; 3 bad input (the message names the file); 4 a missing Python package (named with its
Debian package). Progress goes to stderr; an error is the last stderr line, starting with "error:".
Needs numpy and matplotlib; embeddings also h5py, and scikit-learn for t-SNE.
"""
import argparse
import base64
import html
import json
import math
import os
import sys


def fail(message, code=3):
    print("error: " + message, file=sys.stderr, flush=True)
    sys.exit(code)


def need(module, package):
    try:
        return __import__(module)
    except ImportError:
        fail(f"needs the Python module {module} (Debian package {package}: apt install {package})", 4)


np = need("numpy", "python3-numpy")
need("matplotlib", "python3-matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
COLUMN = 3.4  # inches: one column of a two-column paper
plt.rcParams.update({
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "axes.prop_cycle": matplotlib.cycler(color=PALETTE), "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": 100, "savefig.dpi": 150, "svg.fonttype": "none",
    "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.5,
})


def progress(text):
    print(text, file=sys.stderr, flush=True)


class Report:
    """Collects figures and text blocks, then writes index.html and figures.json."""

    def __init__(self, out, title):
        self.out, self.title = out, title
        self.blocks, self.figures = [], []
        os.makedirs(os.path.join(out, "figures"), exist_ok=True)

    def text(self, markup):
        self.blocks.append(("html", markup))

    def figure(self, fig, fid, title, caption, data):
        base = os.path.join(self.out, "figures", fid)
        fig.savefig(base + ".png", bbox_inches="tight")
        fig.savefig(base + ".svg", bbox_inches="tight")
        plt.close(fig)
        self.figures.append({"id": fid, "title": title, "png": f"figures/{fid}.png", "svg": f"figures/{fid}.svg",
                             "data": data})
        self.blocks.append(("figure", (fid, title, caption)))
        progress(f"figure {len(self.figures)}: {title}")

    def write(self):
        parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(self.title)}</title>",
                 "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
                 "figure{margin:1.5em 0}figcaption{font-size:90%;color:#444}img{max-width:100%;height:auto}"
                 "table{border-collapse:collapse;font-size:90%;margin:1em 0}td,th{border:1px solid #ccc;"
                 "padding:3px 6px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child"
                 "{text-align:left}code{background:#f3f3f3;padding:0 3px}</style></head><body>",
                 f"<h1>{esc(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "html":
                parts.append(value)
                continue
            fid, title, caption = value
            with open(os.path.join(self.out, "figures", fid + ".png"), "rb") as f:
                png = base64.b64encode(f.read()).decode("ascii")
            parts.append(f"<figure id=\"{fid}\"><img alt=\"{esc(title)}\" src=\"data:image/png;base64,{png}\">"
                         f"<figcaption><b>{esc(title)}.</b> {esc(caption)} "
                         f"(<a href=\"figures/{fid}.svg\">SVG</a>, <a href=\"figures/{fid}.png\">PNG</a>)"
                         f"</figcaption></figure>")
        parts.append("</body></html>\n")
        with open(os.path.join(self.out, "index.html"), "w", encoding="utf-8") as f:
            f.write("\n".join(parts))
        with open(os.path.join(self.out, "figures.json"), "w", encoding="utf-8") as f:
            json.dump({"title": self.title, "figures": self.figures}, f, indent=1, allow_nan=False)


def esc(s):
    return html.escape(str(s), quote=True)


def markdown_html(md):
    """The markdown sne writes (paragraphs, **bold**, pipe tables) as HTML."""
    out, table = [], []

    def inline(s):
        s = esc(s)
        while s.count("**") >= 2:
            s = s.replace("**", "<b>", 1).replace("**", "</b>", 1)
        return s

    def flush():
        if not table:
            return
        rows = [r for r in table if not set(r.replace("|", "").strip()) <= set("-: ")]
        cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
        h = "".join(f"<th>{inline(c)}</th>" for c in cells[0])
        body = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in cells[1:])
        out.append(f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>")
        table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush()
    return "\n".join(out)


def num(x):
    return float("nan") if x is None else float(x)


def finite(values):
    return [v for v in values if v is not None and math.isfinite(v)]


def fmt(v, digits=3):
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


# ---------------------------------------------------------------------------------------------------- a run
def property_label(prop):
    units = {"frequency": "frequency b (cycles on [−π, π))", "test_accuracy": "test accuracy (fraction)",
             "train_accuracy": "train accuracy (fraction)"}
    return units.get(prop, prop)


def learning_curves(rep, epochs, loss, fid, title, caption):
    x = [e["epoch"] for e in epochs]
    fig, axes = plt.subplots(2, 2, figsize=(2 * COLUMN, 3.6))
    panels = [("train_loss", "train loss (std. units)", axes[0][0]),
              ("validation_mse" if loss == "mse" else "validation_tau",
               "validation MSE" if loss == "mse" else "validation Kendall τ", axes[0][1]),
              ("lr", "learning rate", axes[1][0]), ("train_invariance", "invariance term", axes[1][1])]
    shown = {}
    for key, label, ax in panels:
        y = [num(e.get(key)) for e in epochs]
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if not finite(y):
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes, color="#666")
            shown[key] = 0
            continue
        ax.plot(x, y, marker="o", markersize=2.5, linewidth=1.2, color=PALETTE[0])
        best = [e["epoch"] for e in epochs if e.get("best")]
        if key.startswith("validation") and best:
            b = best[-1]
            ax.axvline(b, color=PALETTE[3], linewidth=0.8, linestyle="--", label=f"best epoch {b}")
            ax.legend(frameon=False)
        if key in ("train_loss", "validation_mse", "train_invariance") and min(finite(y)) > 0 and \
                max(finite(y)) / min(finite(y)) > 30:
            ax.set_yscale("log")
        shown[key] = len(finite(y))
    fig.tight_layout()
    rep.figure(fig, fid, title, caption, {"epochs": len(x), "points": shown})


def predicted_vs_true(rep, test, prop, fid, title, caption):
    p = test["predictions"]
    t, y = np.array([num(v) for v in p["truth"]]), np.array([num(v) for v in p["predicted"]])
    fig, (a, b) = plt.subplots(1, 2, figsize=(2 * COLUMN, 2.6))
    lo, hi = float(np.nanmin(np.concatenate([t, y]))), float(np.nanmax(np.concatenate([t, y])))
    pad = 0.03 * (hi - lo or 1)
    legend = (f"MSE {fmt(num(test.get('mse')), 4)}, τ {fmt(num(test.get('kendall_tau')))}, "
              f"R² {fmt(num(test.get('r2')))}")
    a.scatter(t, y, s=6, alpha=0.6, color=PALETTE[0], edgecolors="none", label=f"{len(t)} networks")
    a.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#444", linewidth=0.8, linestyle="--", label="identity")
    a.set_xlim(lo - pad, hi + pad)
    a.set_ylim(lo - pad, hi + pad)
    a.set_aspect("equal", adjustable="box")
    a.set_xlabel("true " + property_label(prop))
    a.set_ylabel("predicted " + property_label(prop))
    a.legend(frameon=False, title=legend, title_fontsize=7, loc="upper left")
    b.scatter(t, y - t, s=6, alpha=0.6, color=PALETTE[2], edgecolors="none")
    b.axhline(0, color="#444", linewidth=0.8, linestyle="--")
    b.set_xlabel("true " + property_label(prop))
    b.set_ylabel("residual (predicted − true)")
    fig.tight_layout()
    rep.figure(fig, fid, title, caption, {"points": int(len(t)), "mse": test.get("mse"),
                                          "kendall_tau": test.get("kendall_tau"), "r2": test.get("r2")})


def metrics_table(test):
    rows = [("networks", test.get("networks")), ("MSE", fmt(num(test.get("mse")), 4)),
            ("MAE", fmt(num(test.get("mae")), 4)), ("R²", fmt(num(test.get("r2")), 4)),
            ("Kendall τ-b", fmt(num(test.get("kendall_tau")), 4)),
            ("Spearman ρ", fmt(num(test.get("spearman_rho")), 4)),
            ("invariance error", "–" if test.get("invariance_error") is None else f"{test['invariance_error']:.2e}"),
            ("mean-predictor MSE", fmt(num(test.get("mean_predictor_mse")), 4))]
    return "<table><tbody>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + \
        "</tbody></table>"


def report_run(d, rep):
    rep.text(f"<p>Run <code>{esc(d['path'])}</code>: model <b>{esc(d['model'])}</b> on <code>{esc(d['zoo'])}</code>, "
             f"property <code>{esc(d['property'])}</code>, {len(d['epochs'])} of {d['epochs_planned']} epochs.</p>")
    learning_curves(rep, d["epochs"], d["loss"], "learning_curves", "Learning curves",
                    "Per epoch: the training loss (on the standardised target), the validation metric used to "
                    "choose the best checkpoint, the learning rate at the epoch's last step, and the "
                    "logit-invariance term.")
    if "test" in d and "predictions" in d["test"]:
        t = d["test"]
        rep.text(f"<h2>Test split '{esc(t['split'])}'</h2>" + metrics_table(t))
        predicted_vs_true(rep, t, d["property"], "test_predictions", "Predicted against true on the test split",
                          f"Best checkpoint on the '{t['split']}' split of {t['zoo']}; left: each network, with "
                          f"the identity line; right: the residuals.")
    else:
        rep.text(f"<p>No test predictions: {esc(d.get('test_error', 'not evaluated'))}</p>")


# ----------------------------------------------------------------------------------------- compare, ablation
def group_rows(d):
    cells = {}
    for r in d["rows"]:
        cells.setdefault((r["variant"], r["fraction"]), []).append(r)
    return cells


def mean_std(values):
    v = finite(values)
    if not v:
        return float("nan"), float("nan"), 0
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v)


def bars(rep, d, cells, key, label, fid, title, caption, fraction):
    variants = [v for v in d["variants"] if (v, fraction) in cells]
    stats = [mean_std([num(r["test"].get(key)) for r in cells[(v, fraction)]]) for v in variants]
    fig, ax = plt.subplots(figsize=(COLUMN, 0.35 * len(variants) + 0.9))
    ypos = np.arange(len(variants))
    means = [s[0] for s in stats]
    errs = [s[1] if s[2] > 1 else 0 for s in stats]
    ax.barh(ypos, means, xerr=errs, color=[PALETTE[k % len(PALETTE)] for k in range(len(variants))],
            capsize=2, height=0.6, error_kw={"linewidth": 0.8})
    ax.set_yticks(ypos, [v.replace("_", " ") for v in variants])
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.grid(axis="y", visible=False)
    if key == "mse" and finite(means) and min(finite(means)) > 0 and max(finite(means)) / min(finite(means)) > 30:
        ax.set_xscale("log")
    seeds = max((s[2] for s in stats), default=0)
    if seeds > 1:
        ax.set_title(f"mean ± std over {seeds} seeds", loc="left", color="#444")
    fig.tight_layout()
    rep.figure(fig, fid, title, caption, {"variants": variants, "mean": [s[0] for s in stats],
                                          "std": [s[1] for s in stats], "seeds": [s[2] for s in stats]})


def data_efficiency(rep, d, cells, by_mse):
    key = "mse" if by_mse else "kendall_tau"
    fig, ax = plt.subplots(figsize=(COLUMN, 2.4))
    series = {}
    for k, v in enumerate(d["variants"]):
        fr = [f for f in d["fractions"] if (v, f) in cells]
        st = [mean_std([num(r["test"].get(key)) for r in cells[(v, f)]]) for f in fr]
        m, s = np.array([x[0] for x in st]), np.array([x[1] for x in st])
        c = PALETTE[k % len(PALETTE)]
        ax.plot(fr, m, marker="o", markersize=3, linewidth=1.2, color=c, label=v)
        if any(x[2] > 1 for x in st):
            ax.fill_between(fr, m - s, m + s, color=c, alpha=0.2, linewidth=0)
        series[v] = {"fractions": fr, "mean": [x[0] for x in st], "std": [x[1] for x in st]}
    ax.set_xscale("log")
    ax.set_xticks(d["fractions"], [f"{f:g}" for f in d["fractions"]])
    ax.minorticks_off()
    if by_mse:
        ax.set_yscale("log")
    ax.set_xlabel(f"fraction of the '{d['train_split']}' split used")
    ax.set_ylabel("test MSE" if by_mse else "test Kendall τ")
    ax.legend(frameon=False)
    fig.tight_layout()
    n = max(len(c) for c in cells.values())
    rep.figure(fig, "data_efficiency", "Error against the fraction of training data",
               "Test metric of each model trained on a fraction of the training split"
               + (f"; bands: ± one standard deviation over {n} seeds." if n > 1 else "; one seed."), series)


def prediction_grid(rep, d, cells, fraction):
    runs = [(v, cells[(v, fraction)][0]) for v in d["variants"]
            if (v, fraction) in cells and "predictions" in cells[(v, fraction)][0]]
    if not runs:
        return
    cols = min(4, len(runs))
    rows = (len(runs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2 * COLUMN, 1.9 * rows + 0.3), squeeze=False)
    lo = min(min(finite(r["predictions"]["truth"] + r["predictions"]["predicted"])) for _, r in runs)
    hi = max(max(finite(r["predictions"]["truth"] + r["predictions"]["predicted"])) for _, r in runs)
    pad = 0.03 * (hi - lo or 1)
    points = {}
    for k, (v, r) in enumerate(runs):
        ax = axes[k // cols][k % cols]
        t, y = [num(x) for x in r["predictions"]["truth"]], [num(x) for x in r["predictions"]["predicted"]]
        ax.scatter(t, y, s=4, alpha=0.5, color=PALETTE[k % len(PALETTE)], edgecolors="none")
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#444", linewidth=0.7, linestyle="--")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(f"{v}: MSE {fmt(num(r['test'].get('mse')), 3)}, τ {fmt(num(r['test'].get('kendall_tau')))}")
        ax.set_xlabel("true " + property_label(d["property"]))
        if k % cols == 0:
            ax.set_ylabel("predicted")
        points[v] = len(t)
    for k in range(len(runs), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.tight_layout()
    seed = runs[0][1]["seed"]
    rep.figure(fig, "test_predictions", "Predicted against true on the test split, per model",
               f"Seed {seed}, training fraction {fraction:g}; the dashed line is the identity.", {"points": points})


def report_compare(d, rep):
    ablation = d["kind"] == "ablation"
    rep.text(f"<p>{'Ablation' if ablation else 'Comparison'} study <code>{esc(d['path'])}</code> on "
             f"<code>{esc(d['zoo'])}</code>, property <code>{esc(d['property'])}</code>.</p>"
             + markdown_html(d["markdown"]))
    cells = group_rows(d)
    if not cells:
        fail(f"{d['path']}: the study has no finished runs to draw")
    by_mse = d["loss"] == "mse"
    full = max(d["fractions"])
    what = "row" if ablation else "model"
    bars(rep, d, cells, "mse", "test MSE", "test_mse", f"Test MSE per {what}",
         f"Test split '{d['test_split']}', training fraction {full:g}; error bars: ± one standard deviation over "
         f"seeds where there are several.", full)
    bars(rep, d, cells, "kendall_tau", "test Kendall τ", "test_tau", f"Test Kendall τ per {what}",
         f"Test split '{d['test_split']}', training fraction {full:g}.", full)
    if len(d["fractions"]) > 1:
        data_efficiency(rep, d, cells, by_mse)
    prediction_grid(rep, d, cells, full)
    curves_overlay(rep, d, cells, full, by_mse)


def curves_overlay(rep, d, cells, fraction, by_mse):
    key = "validation_mse" if by_mse else "validation_tau"
    fig, ax = plt.subplots(figsize=(COLUMN, 2.4))
    drawn = {}
    for k, v in enumerate(d["variants"]):
        if (v, fraction) not in cells:
            continue
        log = cells[(v, fraction)][0].get("epochs_log", [])
        if not log:
            continue
        ax.plot([e["epoch"] for e in log], [num(e.get(key)) for e in log], linewidth=1.2,
                color=PALETTE[k % len(PALETTE)], label=v)
        drawn[v] = len(log)
    if not drawn:
        plt.close(fig)
        return
    if by_mse:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation MSE" if by_mse else "validation Kendall τ")
    ax.legend(frameon=False)
    fig.tight_layout()
    rep.figure(fig, "validation_curves", "Validation metric per epoch",
               f"First seed of each {'row' if d['kind'] == 'ablation' else 'model'}, training fraction {fraction:g}.",
               {"epochs": drawn})


# ---------------------------------------------------------------------------------------------- transfer
def report_transfer(d, rep):
    rep.text(f"<p>Transfer study <code>{esc(d['path'])}</code>: property <code>{esc(d['property'])}</code>, "
             f"split '{esc(d['split'])}'.</p>" + markdown_html(d["markdown"]))
    train = [z["name"] for z in d["train_zoos"]]
    evals = [z["name"] for z in d["eval_zoos"]]
    for k, t in enumerate(d["tables"]):
        m = np.full((len(train), len(evals)), np.nan)
        cells = []
        fig, ax = plt.subplots(figsize=(max(COLUMN, 0.9 * len(evals) + 1.8), 0.55 * len(train) + 1.4))
        for i, row in enumerate(t["rows"]):
            cells.append([c["kendall_tau"] for c in row["cells"]])
            for j, c in enumerate(row["cells"]):
                if c["kendall_tau"] is not None:
                    m[i, j] = c["kendall_tau"]
        im = ax.imshow(m, cmap="viridis", vmin=min(0.0, float(np.nanmin(m)) if np.isfinite(m).any() else 0.0),
                       vmax=1.0, aspect="auto")
        for i, row in enumerate(t["rows"]):
            for j, c in enumerate(row["cells"]):
                if c["kendall_tau"] is None:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#dddddd", hatch="//",
                                               edgecolor="#999999", linewidth=0))
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="#333")
                    continue
                label = f"{c['kendall_tau']:.3f}"
                if c.get("kendall_tau_std") is not None:
                    label += f"\n±{c['kendall_tau_std']:.3f}"
                if c["unseen_architecture"]:
                    label += " †"
                colour = "white" if c["kendall_tau"] < 0.55 else "black"
                ax.text(j, i, label, ha="center", va="center", fontsize=7, color=colour)
                if c["same_zoo"]:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.2))
        ax.set_xticks(range(len(evals)), evals, rotation=30, ha="right")
        ax.set_yticks(range(len(train)), train)
        ax.set_xlabel("evaluated on")
        ax.set_ylabel("trained on")
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="Kendall τ", fraction=0.05, pad=0.03)
        ax.set_title(f"{t['model']}: average {fmt(num(t['average']))}, other zoos "
                     f"{fmt(num(t['average_other_zoos']))}", loc="left")
        fig.tight_layout()
        rep.figure(fig, f"tau_matrix_{k}_{t['model']}", f"Kendall τ matrix, {t['model']}",
                   "Rows: the training zoo; columns: the evaluation zoo. Framed: the training zoo itself; † an "
                   "architecture the model never saw in training; n/a: the model cannot read that zoo.",
                   {"model": t["model"], "train": train, "eval": evals, "cells": cells,
                    "unseen": [[c["unseen_architecture"] for c in row["cells"]] for row in t["rows"]]})


# -------------------------------------------------------------------------------------------- embeddings
def report_embeddings(d, rep):
    h5py = need("h5py", "python3-h5py")
    path = d["path"]
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: cannot open as HDF5 ({e})")
    with f:
        fmt_attr = f.attrs.get("sne_format")
        fmt_attr = fmt_attr.decode() if isinstance(fmt_attr, bytes) else fmt_attr
        if fmt_attr != "sne-embeddings":
            hint = " (a zoo: encode it first, sne encode ZOO --checkpoint CK -o EMB.h5)" if fmt_attr == "sne-zoo" else ""
            fail(f"{path}: not an sne embeddings file (root attribute sne_format is {fmt_attr!r}, expected "
                 f"'sne-embeddings'){hint}")
        if "embeddings" not in f or "index" not in f:
            fail(f"{path}: an embeddings file needs /embeddings and /index")
        codes, index = f["embeddings"], f["index"][()]
        if codes.ndim != 2 or codes.shape[0] != index.shape[0]:
            fail(f"{path}: /embeddings is {codes.shape}, expected [N, dim] with N = {index.shape[0]} (/index)")
        props = {k: v[()] for k, v in f.get("properties", {}).items()}
        if not props:
            fail(f"{path}: no properties (/properties is empty or missing); the report colours the codes by "
                 f"them: encode a zoo that has properties")
        prov = {}
        if "json" in f.attrs:
            raw = f.attrs["json"]
            prov = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        n, dim = codes.shape
        if n < 3:
            fail(f"{path}: {n} codes; a 2-D map needs at least 3")
        progress(f"reading {n} codes of dimension {dim}")
        x = np.asarray(codes[()], dtype=np.float64)
    if not np.isfinite(x).all():
        fail(f"{path}: /embeddings holds NaN or infinite values")
    # Categories from the encoded zoo when it is still there: architecture, and string metadata (e.g. "zoo").
    categories, zoo_note = {}, ""
    zoo_path = prov.get("zoo", "")
    if zoo_path and os.path.isfile(zoo_path):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import sne_zoo
        try:
            with sne_zoo.ZooReader(zoo_path) as z:
                if index.max() < z.num_networks:
                    categories["architecture"] = np.array(z.architecture_names)[z.network_architecture[index]]
                    for k, v in z.metadata.items():
                        if v.dtype.kind in "OUS":
                            categories[k] = np.asarray(v)[index]
        except Exception as e:  # the codes still draw, coloured by their properties
            zoo_note = f" The zoo {zoo_path} could not be read ({e}), so no architecture colouring."
    elif zoo_path:
        zoo_note = f" The encoded zoo {zoo_path} is not there, so the codes are coloured by their properties only."
    color_by = d.get("color_by") or ("architecture" if len(set(categories.get("architecture", []))) > 1 else
                                     ("zoo" if len(set(categories.get("zoo", []))) > 1 else sorted(props)[0]))
    if color_by not in props and color_by not in categories:
        fail(f"--color-by {color_by!r}: the embeddings of {path} have no such property or category; choose from "
             f"{', '.join(sorted(props) + sorted(categories))}")
    rep.text(f"<p>Embeddings <code>{esc(path)}</code>: {n} codes of dimension {dim}, encoded from "
             f"<code>{esc(zoo_path or '?')}</code> (split {esc(prov.get('split', '?'))}), coloured by "
             f"<b>{esc(color_by)}</b>.{esc(zoo_note)}</p>")
    progress("PCA")
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    pca = xc @ vt[:2].T
    explained = (s[:2] ** 2) / max((s ** 2).sum(), 1e-300)
    embed_scatter(rep, pca, np.arange(n), props, categories, color_by, "pca", "Embeddings in 2-D: PCA",
                  f"The first two principal components of the codes ({100 * explained[0]:.0f} % and "
                  f"{100 * explained[1]:.0f} % of the variance), every code.",
                  (f"PC 1 ({100 * explained[0]:.0f} %)", f"PC 2 ({100 * explained[1]:.0f} %)"), n)
    limit = int(d.get("tsne_points", 2000))
    if limit <= 0:
        return
    need("sklearn", "python3-sklearn")
    from sklearn import manifold
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(n, size=limit, replace=False)) if n > limit else np.arange(n)
    progress(f"t-SNE of {len(pick)} codes" + (f" (a random subsample of {n})" if n > limit else ""))
    perplexity = float(min(30, max(2, (len(pick) - 1) // 3)))
    t = manifold.TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                      random_state=0).fit_transform(x[pick])
    sub = f"a random subsample of {len(pick)} of the {n} codes" if n > limit else f"all {n} codes"
    embed_scatter(rep, t, pick, props, categories, color_by, "tsne", "Embeddings in 2-D: t-SNE",
                  f"t-SNE (perplexity {perplexity:g}) of {sub}.", ("t-SNE 1", "t-SNE 2"), n,
                  note=f"subsample: {len(pick)} of {n}" if n > limit else "")


def embed_scatter(rep, xy, rows, props, categories, color_by, fid, title, caption, labels, n, note=""):
    fig, ax = plt.subplots(figsize=(COLUMN, 2.8))
    data = {"points": int(len(rows)), "of": int(n), "color_by": color_by}
    if color_by in categories:
        values = categories[color_by][rows]
        names = sorted(set(values.tolist()))
        for k, name in enumerate(names):
            sel = values == name
            ax.scatter(xy[sel, 0], xy[sel, 1], s=5, alpha=0.7, edgecolors="none",
                       color=PALETTE[k % len(PALETTE)], label=f"{name} ({int(sel.sum())})")
        ax.legend(frameon=False, markerscale=2, fontsize=6, title=color_by, title_fontsize=7)
        data["groups"] = {name: int((values == name).sum()) for name in names}
    else:
        v = props[color_by][rows]
        known = np.isfinite(v)
        if (~known).any():
            ax.scatter(xy[~known, 0], xy[~known, 1], s=5, color="#bbbbbb", edgecolors="none", label="unknown")
            ax.legend(frameon=False, fontsize=6)
        sc = ax.scatter(xy[known, 0], xy[known, 1], c=v[known], s=5, cmap="viridis", edgecolors="none")
        fig.colorbar(sc, ax=ax, label=property_label(color_by))
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if note:
        ax.set_title(note, loc="left", color="#444")
    fig.tight_layout()
    rep.figure(fig, fid, title, caption, data)


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
    rep = Report(a.out, f"sne report: {titles[kind].lower()} {os.path.basename(str(d.get('path', '')).rstrip('/'))}")
    {"run": report_run, "compare": report_compare, "ablation": report_compare, "transfer": report_transfer,
     "embeddings": report_embeddings}[kind](d, rep)
    rep.write()


if __name__ == "__main__":
    main()
