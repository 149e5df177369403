"""The figures of the studies: compare and ablation (bars, data efficiency, predictions, curves), transfer (the
Kendall tau matrix as a heat map)."""
from .page import (COLUMN, PALETTE, esc, fail, finite, fmt, log_scale, markdown_html, mean_std, np, num, plt,
                   property_label, span)


def group_rows(d):
    cells = {}
    for r in d["rows"]:
        cells.setdefault((r["variant"], r["fraction"]), []).append(r)
    return cells



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
        log_scale(ax, "x")
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
        log_scale(ax)
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
    box = span([x for _, r in runs for x in r["predictions"]["truth"] + r["predictions"]["predicted"]])
    if box is None:
        return
    lo, hi = box
    points = {}
    for k, (v, r) in enumerate(runs):
        ax = axes[k // cols][k % cols]
        t, y = [num(x) for x in r["predictions"]["truth"]], [num(x) for x in r["predictions"]["predicted"]]
        ax.scatter(t, y, s=4, alpha=0.5, color=PALETTE[k % len(PALETTE)], edgecolors="none")
        ax.plot([lo, hi], [lo, hi], color="#444", linewidth=0.7, linestyle="--")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
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
        log_scale(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation MSE" if by_mse else "validation Kendall τ")
    ax.legend(frameon=False)
    fig.tight_layout()
    rep.figure(fig, "validation_curves", "Validation metric per epoch",
               f"First seed of each {'row' if d['kind'] == 'ablation' else 'model'}, training fraction {fraction:g}.",
               {"epochs": drawn})



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
                if c["kendall_tau"] is None:  # n/a: the model cannot read the zoo; –: τ is undefined there
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#dddddd", hatch="//",
                                               edgecolor="#999999", linewidth=0))
                    ax.text(j, i, "n/a" if c.get("error") else "–", ha="center", va="center", fontsize=7,
                            color="#333")
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
                   "architecture the model never saw in training; n/a: the model cannot read that zoo; –: τ is undefined "
                   "(e.g. constant predictions).",
                   {"model": t["model"], "train": train, "eval": evals, "cells": cells,
                    "unseen": [[c["unseen_architecture"] for c in row["cells"]] for row in t["rows"]]})

