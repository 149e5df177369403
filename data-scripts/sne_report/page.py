"""The page of an `sne report` (index.html, figures.json), its figure style, and the helpers the figures share."""
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
MAX_DRAWN = 20000  # points of an embeddings scatter
plt.rcParams.update({
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "axes.prop_cycle": matplotlib.cycler(color=PALETTE), "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": 100, "savefig.dpi": 150, "svg.fonttype": "none",
    "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.5,
})


def log_scale(ax, axis="y"):
    """A log axis labelled at 1, 2 and 5 times the powers of ten, as plain numbers (one decade alone would
    otherwise show a single label)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    a = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


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
                             "data": json_safe(data)})
        self.blocks.append(("figure", (fid, title, caption)))
        progress(f"figure {len(self.figures)}: {title}")

    def write(self):
        parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(self.title)}</title>",
                 "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
                 "figure{margin:1.5em 0}figcaption{font-size:90%;color:#444}img{max-width:100%;height:auto}"
                 "table{border-collapse:collapse;font-size:90%;margin:1em 0}td,th{border:1px solid #ccc;"
                 "padding:3px 6px;text-align:right;white-space:nowrap}.wide{overflow-x:auto}th{background:#f3f3f3}td:first-child,th:first-child"
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
        out.append(f"<div class=\"wide\"><table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table></div>")
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


def json_safe(x):
    """`x` with NaN and infinities as None (JSON has no NaN) and numpy scalars as Python numbers."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def num(x):
    return float("nan") if x is None else float(x)


def finite(values):
    return [v for v in values if v is not None and math.isfinite(v)]


def span(values):
    """(lo, hi) of the finite values, padded by 3 %; None when there are none."""
    v = finite(values)
    if not v:
        return None
    lo, hi = min(v), max(v)
    pad = 0.03 * (hi - lo or abs(hi) or 1)
    return lo - pad, hi + pad


def fmt(v, digits=3):
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"



def property_label(prop):
    units = {"frequency": "frequency b (cycles on [−π, π))", "test_accuracy": "test accuracy (fraction)",
             "train_accuracy": "train accuracy (fraction)"}
    return units.get(prop, prop)



def mean_std(values):
    v = finite(values)
    if not v:
        return float("nan"), float("nan"), 0
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v)

