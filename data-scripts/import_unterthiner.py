#!/usr/bin/env python3
"""Import Unterthiner et al. 2020's "Small CNN Zoo" (one collection: weights.npy, metrics.csv.gz, layout.csv) into
an `sne` model zoo.

Usage: import_unterthiner.py SOURCE_DIR OUT.h5 [--dataset NAME] [--step S] [--protocol-seed K]
                             [--protocol-order FILE] [--overwrite]

SOURCE_DIR holds one collection as released (e.g. the untarred mnist.tar.xz):
  * weights.npy      rows x 4970 float32, one row per checkpoint;
  * metrics.csv.gz   one row per weights row (same order): config.* hyper-parameters, step, test_accuracy, test_loss,
                     train_accuracy, train_loss (modeldir and other columns are optional; a column without a header
                     name, e.g. a pandas index, is ignored);
  * layout.csv       one row per tensor: varname (e.g. sequential/conv2d_1/kernel:0), start_idx, end_idx and
                     optionally shape (e.g. "(3, 3, 16, 16)"); other columns are ignored.
The columns are TensorFlow's, bias before kernel in each layer (conv0 bias [0,16) kernel [16,160), conv1 bias
[160,176) kernel [176,2480), conv2 bias [2480,2496) kernel [2496,4800), dense bias [4800,4810) kernel [4810,4970)).
The tensors are located through layout.csv, which is checked against the architecture (the 8 variables, their
shapes and sizes, ranges that tile [0, 4970) without overlap). Kernels are HWIO (3,3,in,out) and become PyTorch
(out,in,3,3); the dense kernel (in,out) becomes (out,in). The architecture is `arch1`, exactly as
`sne zoo generate cnn --arch arch1` writes it (3 x conv 3x3 stride 2 'valid', global average pooling, dense 10),
including its attribute image = [channels, height, width] of the input: [1, 28, 28] for mnist / fashion_mnist,
[1, 32, 32] for cifar10 / svhn_cropped (grayscale in this zoo), taken from --dataset or else from the config.dataset
column; when neither names a known dataset the attribute is left out (and stderr says so).

Stored per network: properties test_accuracy, test_loss, train_accuracy, train_loss, step; metadata: every
config.* column (numeric columns as float metadata, others as strings; names outside [A-Za-z0-9_.+-] get "_"),
modeldir when present, source_row (the weights.npy row) and, with --dataset NAME, the string `dataset`.
Every checkpoint (every step) becomes a network, in weights.npy order, except rows with NaN/inf weights, which an sne
zoo cannot hold (`sne zoo validate` rejects them): they are skipped and counted on stderr. Infinite metrics are
stored as NaN (unknown).

Splits: the evaluation protocol the peers share (NFN's Small-CNN-Zoo loader), as `protocol_train`,
`protocol_validation`, `protocol_test`, and the same three again as `train`, `validation`, `test` so that
`sne train` works with its defaults:
  1. keep the rows with step == S (--step; default the largest step in the file, 86 in the public zoos) whose weights
     and test_accuracy are finite;
  2. order them by a fixed permutation: ours is np.random.RandomState(--protocol-seed, default 0).permutation over
     the kept rows (in weights.npy order). The peers' exact permutation comes from an index file shipped with their
     code, not from a seed; give that file with --protocol-order FILE (one weights.npy row per line, a permutation of
     all rows; a leading header line is skipped) to reproduce their order: the kept rows are then taken in the file's
     order;
  3. the second half (from int(K/2) of K rows) is the test split; the first half is shuffled with Python's
     random.Random(0) and split 80/20 (int(0.8 * K/2) rows) into train and validation.

Errors: exit 1 and one line `import_unterthiner: error: ...`; the output is written to OUT.h5.partial and renamed at
the end, so a failed import leaves nothing behind.
"""
import argparse
import csv
import gzip
import io
import math
import os
import random
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sne_zoo  # noqa: E402

PROG = "import_unterthiner"
NUM_PARAMS = 4970
CHUNK_ROWS = 4096
PROGRESS_EVERY = 50000
METRICS = ("test_accuracy", "test_loss", "train_accuracy", "train_loss")
REQUIRED_COLUMNS = ("step",) + METRICS
# Our layer name -> (TensorFlow layer name in layout.csv, kind, PyTorch weight shape, bias length).
LAYERS = (("conv0", "conv2d", "conv2d", (16, 1, 3, 3), 16),
          ("conv1", "conv2d_1", "conv2d", (16, 16, 3, 3), 16),
          ("conv2", "conv2d_2", "conv2d", (16, 16, 3, 3), 16),
          ("dense", "dense", "linear", (10, 16), 10))


class InputError(Exception):
    """A problem with the input, reported as one line."""


# The collections' datasets (config.dataset / --dataset) -> the network input [channels, height, width]; CIFAR10 and
# SVHN were converted to grayscale for this zoo.
IMAGES = {"mnist": [1, 28, 28], "fashion_mnist": [1, 28, 28], "fashion-mnist": [1, 28, 28], "mnist-subset": [1, 28, 28],
          "cifar10": [1, 32, 32], "cifar10-gs": [1, 32, 32], "svhn": [1, 32, 32], "svhn_cropped": [1, 32, 32],
          "svhn-gs": [1, 32, 32]}


def arch1_spec(image=None):
    """The architecture `sne zoo generate cnn --arch arch1` writes (names, order and attributes identical); the
    generator adds the attribute image = [channels, height, width] of its dataset, and so does this with `image`."""
    layers = []
    for level, (name, _, kind, wshape, blen) in enumerate(LAYERS):
        layers.append({"name": name, "kind": kind, "level": level,
                       "attributes": {"stride": 2, "padding": "valid"} if kind == "conv2d" else {},
                       "tensors": [{"name": f"{name}.weight", "role": "weight", "shape": list(wshape)},
                                   {"name": f"{name}.bias", "role": "bias", "shape": [blen]}]})
    symmetries = []
    for (name, _, _, _, _), (nxt, _, _, _, _) in zip(LAYERS[:3], LAYERS[1:]):
        symmetries.append({"name": f"{name}.channels", "kind": "permutation", "size": 16,
                           "actions": [{"tensor": f"{name}.weight", "axis": 0}, {"tensor": f"{name}.bias", "axis": 0},
                                       {"tensor": f"{nxt}.weight", "axis": 1}]})
    attributes = {"family": "arch1", "in_channels": 1, "filters": 16, "kernel": 3, "stride": 2, "padding": "valid",
                  "pooling": "global_average", "classes": 10}
    if image is not None:
        attributes["image"] = list(image)
    return {"name": "arch1", "attributes": attributes, "layers": layers, "symmetries": symmetries}


def input_image(dataset, config_datasets):
    """[1, H, W] from --dataset, else from config.dataset when it names one known dataset; None when unknown."""
    names = [dataset] if dataset else sorted({v.strip() for v in config_datasets if v.strip()})
    return IMAGES.get(names[0].lower()) if len(names) == 1 else None


def tf_variables():
    """{(tf layer, 'kernel'|'bias'): (our tensor name, TF shape)} for the 8 variables of the collection."""
    out = {}
    for name, tf_name, kind, wshape, blen in LAYERS:
        tf_kernel = (wshape[2], wshape[3], wshape[1], wshape[0]) if kind == "conv2d" else (wshape[1], wshape[0])
        out[(tf_name, "kernel")] = (f"{name}.weight", tf_kernel)
        out[(tf_name, "bias")] = (f"{name}.bias", (blen,))
    return out


def parse_varname(varname):
    """'sequential/conv2d_1/kernel:0' -> ('conv2d_1', 'kernel'); None when it does not look like a TF variable."""
    parts = varname.strip().split(":")[0].split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


def read_layout(path):
    """{our tensor name: (start, end, TF shape)}, checked against the architecture."""
    try:
        with open(path, "r", encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read layout.csv ({e})")
    if not rows:
        raise InputError(f"{path}: layout.csv is empty; expected columns varname,start_idx,end_idx[,shape]")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("varname", "start_idx", "end_idx") if c not in header]
    if missing:
        raise InputError(f"{path}: layout.csv lacks column(s) {', '.join(missing)} (found: {', '.join(header)}); "
                         f"expected varname,start_idx,end_idx[,shape]")
    col = {c: header.index(c) for c in ("varname", "start_idx", "end_idx", "shape") if c in header}
    want = tf_variables()
    found = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise InputError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
        varname = row[col["varname"]].strip()
        key = parse_varname(varname)
        if key not in want:
            raise InputError(f"{path}: line {line}: unknown variable {varname!r}; the Small CNN Zoo architecture "
                             f"has {', '.join(f'{a}/{b}' for a, b in want)}")
        ours, shape = want[key]
        if ours in found:
            raise InputError(f"{path}: line {line}: variable {varname!r} listed twice")
        try:
            start, end = int(row[col["start_idx"]]), int(row[col["end_idx"]])
        except ValueError:
            raise InputError(f"{path}: line {line}: start_idx/end_idx {row[col['start_idx']]!r}, "
                             f"{row[col['end_idx']]!r} are not integers")
        if "shape" in col:
            given = tuple(int(x) for x in re.findall(r"\d+", row[col["shape"]]))
            if given != shape:
                raise InputError(f"{path}: line {line}: {varname} has shape {list(given)}, the architecture needs "
                                 f"{list(shape)} (3 x conv 16 filters 3x3 on 1 channel, dense 16 -> 10)")
        size = int(np.prod(shape))
        if end - start != size or start < 0 or end > NUM_PARAMS:
            raise InputError(f"{path}: line {line}: {varname} occupies [{start}, {end}) ({end - start} columns), "
                             f"expected {size} columns of shape {list(shape)} inside [0, {NUM_PARAMS})")
        found[ours] = (start, end, shape)
    absent = [f"{a}/{b}" for (a, b), (ours, _) in want.items() if ours not in found]
    if absent:
        raise InputError(f"{path}: layout.csv lacks variable(s) {', '.join(absent)}")
    ranges = sorted((s, e, n) for n, (s, e, _) in found.items())
    pos = 0
    for s, e, n in ranges:
        if s != pos:
            raise InputError(f"{path}: column ranges do not tile [0, {NUM_PARAMS}): {n} starts at {s}, expected {pos} "
                             f"({'overlap' if s < pos else 'gap'})")
        pos = e
    return found


def open_text(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, "r", encoding="utf-8", newline="")


def read_metrics(path):
    """(row count, {column: list of raw strings}) for the named columns; unnamed columns are dropped."""
    try:
        with open_text(path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: metrics file is empty; expected a CSV header with "
                                 f"{', '.join(REQUIRED_COLUMNS)} and config.* columns")
            header = [h.strip() for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise InputError(f"{path}: metrics lack required column(s) {', '.join(missing)} "
                                 f"(found: {', '.join(h for h in header if h) or 'none'})")
            keep = [(i, h) for i, h in enumerate(header) if h and not h.startswith("Unnamed:")]
            names = [h for _, h in keep]
            if len(set(names)) != len(names):
                dup = sorted({h for h in names if names.count(h) > 1})
                raise InputError(f"{path}: duplicate column(s) {', '.join(dup)}")
            cols = {h: [] for h in names}
            seen = {h: {} for h in names}  # interning: checkpoints of one run repeat their config values
            n = 0
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
                for i, h in keep:
                    v = row[i]
                    cols[h].append(seen[h].setdefault(v, v))
                n += 1
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot read the metrics CSV ({type(e).__name__}: {e})")
    return n, cols


def to_float(path, name, values):
    out = np.empty(len(values), np.float64)
    for i, v in enumerate(values):
        v = v.strip()
        try:
            out[i] = float(v) if v else math.nan
        except ValueError:
            raise InputError(f"{path}: column {name}, data row {i + 1}: {v!r} is not a number")
    return out


def numeric_column(values):
    """float64 array when every non-empty value is a number, else None."""
    out = np.empty(len(values), np.float64)
    cache = {}
    for i, v in enumerate(values):
        f = cache.get(v)
        if f is None:
            s = v.strip()
            if not s:
                f = math.nan
            else:
                try:
                    f = float(s)
                except ValueError:
                    return None
            cache[v] = f
        out[i] = f
    return out


def metadata_columns(path, cols, dataset):
    """[(name, values)] with values a float array or a list of strings (None = unknown)."""
    out, names = [], {}
    for col in [c for c in cols if c.startswith("config.")] + [c for c in ("modeldir",) if c in cols]:
        name = re.sub(r"[^A-Za-z0-9_.+-]", "_", col)
        if name in names:
            raise InputError(f"{path}: columns {names[name]!r} and {col!r} both become metadata {name!r}")
        names[name] = col
        num = numeric_column(cols[col])
        if num is not None:
            out.append((name, num))
        else:
            out.append((name, [v if v.strip() else None for v in cols[col]]))
    if dataset is not None:
        if "dataset" in names:
            raise InputError(f"{path}: a column already becomes metadata 'dataset'; --dataset cannot add it")
        out.append(("dataset", None))
    return out


def read_order(path, n):
    """The peers' fixed order: a permutation of 0..n-1, one per line (a first line that breaks it is a header)."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = [ln.strip().split(",")[-1] for ln in f if ln.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the protocol order file ({e})")
    if len(lines) == n + 1:
        lines = lines[1:]  # pandas writes a header line ("0") before the values
    try:
        order = np.array([int(float(x)) for x in lines], dtype=np.int64)
    except ValueError:
        raise InputError(f"{path}: protocol order must hold one integer row index per line")
    if order.size != n or not np.array_equal(np.sort(order), np.arange(n)):
        raise InputError(f"{path}: protocol order must be a permutation of the {n} weights.npy rows "
                         f"(found {order.size} entries)")
    return order


def protocol_splits(kept_rows, seed, order=None):
    """(train, validation, test) as arrays of weights.npy rows; see the module docstring."""
    kept_rows = np.asarray(kept_rows, dtype=np.int64)
    if order is None:
        ordered = kept_rows[np.random.RandomState(seed).permutation(kept_rows.size)]
    else:
        ordered = order[np.isin(order, kept_rows)]
    half = int(0.5 * ordered.size)
    trainval = list(range(half))
    random.Random(0).shuffle(trainval)
    cut = int(0.8 * half)
    return ordered[trainval[:cut]], ordered[trainval[cut:]], ordered[half:]


def to_pytorch(block, layout):
    """float32 [b, 4970] TF columns -> float32 [b, 4970] rows in spec order (PyTorch order)."""
    b = block.shape[0]
    parts = []
    for name, _, kind, wshape, _ in LAYERS:
        s, e, tf_shape = layout[f"{name}.weight"]
        k = block[:, s:e].reshape((b,) + tf_shape)
        k = k.transpose(0, 4, 3, 1, 2) if kind == "conv2d" else k.transpose(0, 2, 1)  # HWIO->OIHW, (in,out)->(out,in)
        parts.append(k.reshape(b, -1))
        s, e, _ = layout[f"{name}.bias"]
        parts.append(block[:, s:e])
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


def import_zoo(args):
    src = args.source
    if not os.path.isdir(src):
        raise InputError(f"{src}: source directory does not exist (expected weights.npy, metrics.csv.gz, layout.csv)")
    paths = {k: os.path.join(src, k) for k in ("weights.npy", "metrics.csv.gz", "layout.csv")}
    absent = [k for k, p in paths.items() if not os.path.isfile(p)]
    if absent:
        raise InputError(f"{src}: missing {', '.join(absent)} (a Small CNN Zoo collection holds weights.npy, "
                         f"metrics.csv.gz and layout.csv)")
    layout = read_layout(paths["layout.csv"])
    try:
        weights = np.load(paths["weights.npy"], mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{paths['weights.npy']}: not a readable NumPy .npy array ({e})")
    if weights.ndim != 2 or weights.shape[1] != NUM_PARAMS:
        raise InputError(f"{paths['weights.npy']}: shape {list(weights.shape)}, expected [rows, {NUM_PARAMS}] "
                         f"(the Small CNN Zoo's 4970 parameters per row)")
    if weights.dtype.kind != "f":
        raise InputError(f"{paths['weights.npy']}: dtype {weights.dtype}, expected float32")
    n = int(weights.shape[0])
    m, cols = read_metrics(paths["metrics.csv.gz"])
    if m != n:
        raise InputError(f"{paths['metrics.csv.gz']} has {m} rows but {paths['weights.npy']} has {n}; they must "
                         f"match row for row")
    if n == 0:
        raise InputError(f"{paths['weights.npy']}: no rows")
    props = {k: to_float(paths["metrics.csv.gz"], k, cols[k]) for k in REQUIRED_COLUMNS}
    meta = metadata_columns(paths["metrics.csv.gz"], cols, args.dataset)
    image = input_image(args.dataset, cols.get("config.dataset", []))
    steps = props["step"]
    if not np.isfinite(steps).any():
        raise InputError(f"{paths['metrics.csv.gz']}: column step holds no numbers")
    step = float(np.nanmax(steps)) if args.step is None else float(args.step)
    if not np.any((steps == step) & np.isfinite(props["test_accuracy"])):
        raise InputError(f"{paths['metrics.csv.gz']}: no row has step {_number(step)} and a finite test_accuracy "
                         f"(steps present: {_steps(steps)}); choose --step")
    order = read_order(args.protocol_order, n) if args.protocol_order else None
    del cols

    stored_props = {k: np.where(np.isfinite(v), v, np.nan) for k, v in props.items()}  # inf -> unknown
    non_finite_metrics = int(sum(np.sum(np.isinf(v)) for v in props.values()))
    prov = {"kind": "importer", "name": "unterthiner_small_cnn_zoo", "sources": [src], "rows": n,
            "dataset": args.dataset,
            "protocol": {"step": _number(step), "seed": args.protocol_seed,
                         "order": args.protocol_order or "np.random.RandomState(seed).permutation",
                         "trainval_shuffle": "random.Random(0)", "test_fraction": 0.5, "train_fraction": 0.8},
            "note": "Small CNN Zoo (Unterthiner et al. 2020); TF bias-first HWIO columns transposed to PyTorch order"}
    partial = args.out + ".partial"
    net_of_row = np.full(n, -1, dtype=np.int64)
    finite_row = np.zeros(n, dtype=bool)
    with sne_zoo.ZooWriter(partial, prov, created_by="import_unterthiner.py", overwrite=True) as w:
        arch = w.add_architecture(arch1_spec(image))
        for start in range(0, n, CHUNK_ROWS):
            block = np.asarray(weights[start:start + CHUNK_ROWS], dtype=np.float32)
            ok = np.isfinite(block).all(axis=1)
            finite_row[start:start + block.shape[0]] = ok
            rows = to_pytorch(block, layout)
            for j in range(block.shape[0]):
                r = start + j
                if not ok[j]:
                    continue
                md = {}
                for name, values in meta:
                    if values is None:
                        md[name] = args.dataset
                    elif isinstance(values, np.ndarray):
                        md[name] = None if math.isnan(values[r]) else float(values[r])
                    else:
                        md[name] = values[r]
                md["source_row"] = float(r)
                net_of_row[r] = w.append(arch, rows[j], properties={k: v[r] for k, v in stored_props.items()},
                                         metadata=md)
                if (r + 1) % PROGRESS_EVERY == 0 and r + 1 < n:
                    print(f"{PROG}: {r + 1}/{n} rows", file=sys.stderr, flush=True)
        kept = np.flatnonzero((steps == step) & finite_row & np.isfinite(props["test_accuracy"]))
        if kept.size < 2:
            raise InputError(f"{src}: only {kept.size} row(s) with step {_number(step)} and finite weights and "
                             f"test_accuracy; the protocol splits need at least 2 (steps present: {_steps(steps)})")
        train, val, test = protocol_splits(kept, args.protocol_seed, order)
        for name, rows_ in (("train", train), ("validation", val), ("test", test)):
            idx = net_of_row[rows_]
            w.set_split(f"protocol_{name}", idx)
            w.set_split(name, idx)
    os.replace(partial, args.out)
    skipped = int(n - finite_row.sum())
    return n, skipped, non_finite_metrics, (train.size, val.size, test.size), step, image


def _number(x):
    return int(x) if float(x).is_integer() else float(x)


def _steps(steps):
    values = np.unique(steps[np.isfinite(steps)])
    return ", ".join(str(_number(s)) for s in values[:20]) + (", ..." if values.size > 20 else "") or "none"


def main(argv=None):
    p = argparse.ArgumentParser(description="Import a Small CNN Zoo collection (Unterthiner et al. 2020) into an sne "
                                            "zoo (HDF5).")
    p.add_argument("source", help="folder with weights.npy, metrics.csv.gz and layout.csv")
    p.add_argument("out", help="output zoo (.h5)")
    p.add_argument("--dataset", help="string metadata `dataset` for every network (e.g. mnist)")
    p.add_argument("--step", type=float, help="checkpoint step of the protocol splits (default: the largest step)")
    p.add_argument("--protocol-seed", type=int, default=0,
                   help="seed of our fixed permutation of the protocol rows (default 0)")
    p.add_argument("--protocol-order", metavar="FILE",
                   help="the peers' fixed row order (one weights.npy row per line) instead of our seeded permutation")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    args = p.parse_args(argv)
    try:
        if args.dataset is not None and not args.dataset:
            raise InputError("--dataset needs a non-empty name")
        if args.step is not None and not math.isfinite(args.step):
            raise InputError("--step must be a finite number")
        if os.path.exists(args.out) and not args.overwrite:
            raise InputError(f"{args.out}: output exists; pass --overwrite to replace it")
        n, skipped, inf_metrics, sizes, step, image = import_zoo(args)
    except (OSError, RuntimeError) as e:
        return sne_zoo.write_failure(PROG, args.out, e)
    except (InputError, ValueError) as e:
        print(f"{PROG}: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    if skipped:
        print(f"{PROG}: skipped {skipped} of {n} rows with NaN/inf weights (an sne zoo holds finite weights only)",
              file=sys.stderr)
    if image is None:
        print(f"{PROG}: the input image size is unknown (config.dataset is not one known dataset; name it with "
              f"--dataset mnist|fashion_mnist|cifar10|svhn_cropped): the spec has no attribute image", file=sys.stderr)
    if inf_metrics:
        print(f"{PROG}: stored {inf_metrics} infinite metric values as NaN (unknown)", file=sys.stderr)
    print(f"{PROG}: wrote {n - skipped} networks (arch1, 4970 parameters) to {args.out}; protocol at step "
          f"{_number(step)}: train {sizes[0]}, validation {sizes[1]}, test {sizes[2]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
