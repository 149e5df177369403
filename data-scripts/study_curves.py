#!/usr/bin/env python3
"""Learning curves of a study of SNE's open choices (an `sne ablate` output folder), one panel per group of rows.

    data-scripts/study_curves.py STUDY_DIR OUT.png [--reference default] [--time-to MSE]

Each row is drawn as the mean over its seeds of the validation MSE per epoch (from ROW/seed-S/metrics.jsonl),
with the seeds' range as a band when there are several; the reference row is drawn in black in every panel.
Rows of the study that no group names are drawn in a last panel. Needs matplotlib (Debian's python3-matplotlib).
An `sne compare --seeds` folder works too: each model is a row (use --reference sne).

--time-to MSE also prints, per row, the epochs and the wall minutes (each epoch's "seconds": its training steps
and its validation pass) until the validation MSE first reached MSE, mean ± std over the seeds that reached it.
"""
import argparse
import json
import math
import pathlib
import sys

GROUPS = [
    ("width h", ["dim_16", "dim_64"]),
    ("optimisation", ["lr_1e-4", "lr_1e-3", "lr_constant", "batch_16", "batch_64", "weight_decay"]),
    ("blocks and values", ["ff_4", "value_linear", "post_ln", "pma_plain", "chunk_8"]),
    ("invariance", ["invariance_0", "invariance_samples_4", "element_positions"]),
]
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#0072B2", "#F0E442"]  # Okabe-Ito


def curves(row_dir, with_seconds=False):
    """{seed: [(epoch, validation mse)]} of one row; a torn last line (a killed run) is skipped. With
    `with_seconds`, [(epoch, validation mse, the epoch's seconds)]."""
    out = {}
    for seed_dir in sorted(row_dir.glob("seed-*")):
        f = seed_dir / "metrics.jsonl"
        if not f.is_file():
            continue
        points = {}
        for line in f.read_text().splitlines():
            try:
                r = json.loads(line)
                mse = r["validation"]["mse"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(mse, (int, float)) and math.isfinite(mse):
                # a repeated epoch (resumed run) counts once
                points[int(r["epoch"])] = (float(mse), float(r.get("seconds", 0.0))) if with_seconds else float(mse)
        if points:
            items = sorted(points.items())
            out[seed_dir.name] = [(e,) + v for e, v in items] if with_seconds else items
    return out


def mean_std(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def time_to(row_dir, threshold):
    """(seeds, [(epoch, minutes)] of the seeds whose validation MSE reached `threshold`), minutes summed over
    the epochs up to and including the first that reached it."""
    seeds = curves(row_dir, with_seconds=True)
    reached = []
    for points in seeds.values():
        total = 0.0
        for epoch, mse, seconds in points:
            total += seconds
            if mse <= threshold:
                reached.append((epoch, total / 60.0))
                break
    return len(seeds), reached


def time_table(rows, study, threshold):
    lines = [f"| row | seeds that reached validation MSE {threshold:g} | epochs | wall minutes |", "|---|---|---|---|"]
    for name in rows:
        n, reached = time_to(study / name, threshold)
        if reached:
            (e, es), (m, ms) = mean_std([r[0] for r in reached]), mean_std([r[1] for r in reached])
            lines.append(f"| {name} | {len(reached)} of {n} | {e:.1f} ± {es:.1f} | {m:.1f} ± {ms:.1f} |")
        else:
            lines.append(f"| {name} | 0 of {n} | - | - |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=pathlib.Path)
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--reference", default="default")
    ap.add_argument("--time-to", type=float, metavar="MSE")
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("study_curves.py: needs matplotlib (apt-get install python3-matplotlib)")
    if not a.study.is_dir():
        sys.exit(f"{a.study}: not a study folder")
    rows = {p.name: curves(p) for p in sorted(a.study.iterdir()) if p.is_dir()}
    rows = {k: v for k, v in rows.items() if v}
    if a.reference not in rows:
        sys.exit(f"{a.study}: no row '{a.reference}' with a metrics.jsonl")
    named = {r for _, rs in GROUPS for r in rs} | {a.reference}
    groups = [(t, [r for r in rs if r in rows]) for t, rs in GROUPS]
    rest = sorted(set(rows) - named)
    if rest:
        groups.append(("other rows", rest))
    groups = [g for g in groups if g[1]] or [(a.reference, [])]  # the reference alone: one panel
    cols = 2
    nrows = (len(groups) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(7.0, 2.6 * nrows), sharey=True, squeeze=False)

    def draw(ax, name, colour, width):
        seeds = rows[name]
        epochs = sorted({e for c in seeds.values() for e, _ in c})
        by_epoch = [[dict(c).get(e) for c in seeds.values()] for e in epochs]
        mean = [sum(v for v in vs if v is not None) / max(1, sum(v is not None for v in vs)) for vs in by_epoch]
        ax.plot(epochs, mean, color=colour, lw=width, label=f"{name} ({len(seeds)} seed{'s' * (len(seeds) > 1)})")
        if len(seeds) > 1:
            lo = [min(v for v in vs if v is not None) for vs in by_epoch]
            hi = [max(v for v in vs if v is not None) for vs in by_epoch]
            ax.fill_between(epochs, lo, hi, color=colour, alpha=0.15, lw=0)

    for ax, (title, names) in zip(axes.flat, groups):
        draw(ax, a.reference, "black", 1.6)
        for k, name in enumerate(names):
            draw(ax, name, PALETTE[k % len(PALETTE)], 1.2)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("validation MSE", fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_name(a.out.name + ".tmp.png")
    fig.savefig(tmp, dpi=150)
    tmp.replace(a.out)
    print(f"{a.out}: {sum(len(n) for _, n in groups) + 1} rows in {len(groups)} panels")
    if a.time_to is not None:
        print(time_table(sorted(rows), a.study, a.time_to))


if __name__ == "__main__":
    main()
