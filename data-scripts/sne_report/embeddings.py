"""The figures of an embeddings file (sne encode): the codes in 2-D by PCA and t-SNE, coloured by a property,
the architecture or another category of the encoded zoo."""
import json
import os
import sys

from .page import COLUMN, MAX_DRAWN, PALETTE, esc, fail, need, np, plt, progress, property_label


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
        props_group = f.get("properties", {})
        if not isinstance(props_group, (dict, h5py.Group)):
            fail(f"{path}: /properties is not a group of datasets")
        props = {}
        for k, v in props_group.items():
            if not isinstance(v, h5py.Dataset) or v.ndim != 1 or v.shape[0] != index.shape[0] or \
                    v.dtype.kind not in "fiu":
                fail(f"{path}: /properties/{k} is {getattr(v, 'shape', 'a group')}, expected {index.shape[0]} "
                     f"numbers (one per row of /index)")
            props[k] = np.asarray(v[()], dtype=np.float64)
        if not props:
            fail(f"{path}: no properties (/properties is empty or missing); the report colours the codes by "
                 f"them: encode a zoo that has properties")
        prov = {}
        if "json" in f.attrs:
            raw = f.attrs["json"]
            try:
                prov = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
            except (ValueError, UnicodeDecodeError) as e:
                fail(f"{path}: the root attribute 'json' (provenance) is not valid JSON ({e})")
            if not isinstance(prov, dict):
                fail(f"{path}: the root attribute 'json' (provenance) must be a JSON object")
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
    zoo_path = zoo_path if isinstance(zoo_path, str) else ""
    if index.ndim != 1 or index.dtype.kind not in "iu" or (len(index) and index.min() < 0):
        fail(f"{path}: /index must hold non-negative network numbers, one per code")
    if zoo_path and os.path.isfile(zoo_path):
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # data-scripts/
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
    shown = np.arange(n)
    if n > MAX_DRAWN:  # PCA of every code; a figure of a million dots would be megabytes of SVG
        shown = np.sort(np.random.default_rng(1).choice(n, size=MAX_DRAWN, replace=False))
    embed_scatter(rep, pca[shown], shown, props, categories, color_by, "pca", "Embeddings in 2-D: PCA",
                  f"The first two principal components of all {n} codes ({100 * explained[0]:.0f} % and "
                  f"{100 * explained[1]:.0f} % of the variance)"
                  + (f"; {MAX_DRAWN} of them, chosen at random, are drawn." if n > MAX_DRAWN else "."),
                  (f"PC 1 ({100 * explained[0]:.0f} %)", f"PC 2 ({100 * explained[1]:.0f} %)"), n,
                  note=f"drawn: {MAX_DRAWN} of {n}" if n > MAX_DRAWN else "")
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
        ax.legend(frameon=False, markerscale=2, fontsize=6, title=color_by, title_fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
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

