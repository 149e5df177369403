"""The figures of a run directory: learning curves, predicted against true with the residuals."""
from .page import COLUMN, PALETTE, esc, finite, fmt, log_scale, np, num, plt, property_label, span


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
            log_scale(ax)
        shown[key] = len(finite(y))
    fig.tight_layout()
    rep.figure(fig, fid, title, caption, {"epochs": len(x), "points": shown})


def predicted_vs_true(rep, test, prop, fid, title, caption):
    p = test["predictions"]
    t, y = np.array([num(v) for v in p["truth"]]), np.array([num(v) for v in p["predicted"]])
    if len(t) != len(y):
        raise ValueError(f"{len(t)} true values but {len(y)} predictions")
    box = span(t.tolist() + y.tolist())
    if box is None:
        rep.text(f"<p>No figure of the test predictions: none of the {len(t)} is a finite number.</p>")
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(2 * COLUMN, 2.6))
    lo, hi = box
    legend = (f"MSE {fmt(num(test.get('mse')), 4)}, τ {fmt(num(test.get('kendall_tau')))}, "
              f"R² {fmt(num(test.get('r2')))}")
    a.scatter(t, y, s=6, alpha=0.6, color=PALETTE[0], edgecolors="none", label=f"{len(t)} networks")
    a.plot([lo, hi], [lo, hi], color="#444", linewidth=0.8, linestyle="--", label="identity")
    a.set_xlim(lo, hi)
    a.set_ylim(lo, hi)
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

