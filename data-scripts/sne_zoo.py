#!/usr/bin/env python3
"""Read and write `sne` model zoos (HDF5, format version 1; see docs/zoo-format.md).

Needs only numpy and h5py. Example:

    import numpy as np, sne_zoo
    mlp = {"name": "mlp_2_4_1", "layers": [
        {"name": "l0", "kind": "linear", "level": 0, "attributes": {"activation": "relu"},
         "tensors": [{"name": "l0.weight", "role": "weight", "shape": [4, 2]},
                     {"name": "l0.bias", "role": "bias", "shape": [4]}]},
        {"name": "l1", "kind": "linear", "level": 1,
         "tensors": [{"name": "l1.weight", "role": "weight", "shape": [1, 4]},
                     {"name": "l1.bias", "role": "bias", "shape": [1]}]}],
      "symmetries": [{"name": "l0.units", "kind": "permutation", "size": 4,
                      "actions": [{"tensor": "l0.weight", "axis": 0}, {"tensor": "l0.bias", "axis": 0},
                                  {"tensor": "l1.weight", "axis": 1}]}]}
    with sne_zoo.ZooWriter("toy.h5", {"kind": "manual", "name": "toy"}) as w:
        a = w.add_architecture(mlp)
        for seed in range(10):
            w.append(a, np.random.default_rng(seed).normal(size=17).astype(np.float32),
                     properties={"test_accuracy": 0.5 + seed / 100}, metadata={"optimizer": "adam", "seed": seed})
        w.set_split("train", range(8)); w.set_split("test", [8, 9])
    z = sne_zoo.ZooReader("toy.h5")
    z.tensors(3)["l0.weight"].shape          # (4, 2)
    for arch, idx, rows in z.iter_batches(4, split="train"): ...

`append` takes a flat float32 row (tensors concatenated in spec order, each flattened row-major in PyTorch
order) or a dict tensor-name -> array of the declared shape. Properties are floats (NaN = unknown, also for a
property first seen on a later network); a metadata column is float64 (NaN = unknown) or UTF-8 string
("" = unknown), its type fixed by its first value; None means unknown. In a spec, every layer holds at least one
tensor (parameter-free ops such as a flatten go into a layer's attributes); a tensor's `role` defaults to the part
of its name after the last ".", a layer's `level` to its position, an action's offset/block to 0/1.
Leaving the `with` block by an exception removes the half-written file.

CLI:  sne_zoo.py dump ZOO   (the whole zoo as one JSON document; NaN/inf -> null)
      sne_zoo.py info ZOO   (a short summary)
"""
import argparse
import errno
import json
import math
import numbers
import os
import re
import sys

import h5py
import numpy as np

FORMAT_NAME = "sne-zoo"
FORMAT_VERSION = 1
LAYER_KINDS = ("linear", "conv1d", "conv2d", "attention", "norm", "embedding", "other")
PROVENANCE_KINDS = ("generator", "importer", "manual")
NAME_RE = re.compile(r"[A-Za-z0-9_.+-]+\Z")
VECTOR_CHUNK = 4096
_STR = h5py.string_dtype("utf-8")


class ZooFormatError(ValueError):
    """The file is not a (readable) sne zoo."""


_ABANDONED = []  # files whose write failed (ZooWriter.abort)


def disk_full(error):
    """Whether `error` means the disk or quota is full. h5py reports a failed write as an OSError or a
    RuntimeError with the C library's message inside its own text and often no errno, so both are looked at."""
    if not isinstance(error, Exception):
        return False
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error)
    return "No space left on device" in text or "errno = 28" in text or "Disk quota exceeded" in text


def write_failure(prog, out, error):
    """The importers' rule for an OSError or RuntimeError: a full disk is exit 5 with the path (ZooWriter
    removed the partial file), and the process ends here; anything else prints its first line and returns 1."""
    if disk_full(error):
        print(f"{prog}: error: {out}: cannot write (No space left on device; is the disk full?); the partial "
              f"output was removed, rerun once there is room", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(5)  # not sys.exit: h5py would close the failed file at exit, and libhdf5 1.10 crashes there
    print(f"{prog}: error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
    return 1


def _check_name(what, name):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"{what} name {name!r} must match [A-Za-z0-9_.+-]+")
    return name


def _int(where, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _json(obj):
    """json.dumps that also takes numpy scalars and arrays."""
    def default(o):
        if isinstance(o, (np.generic, np.ndarray)):
            return o.tolist()
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")
    try:
        return json.dumps(obj, default=default)
    except (TypeError, ValueError) as e:
        raise ValueError(f"not JSON serialisable: {e}") from e


def _named(where, obj, seen, what):
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not obj["name"]:
        raise ValueError(f"{where} needs a non-empty name")
    if obj["name"] in seen:
        raise ValueError(f"{where}: duplicate {what} name {obj['name']!r}")
    seen.add(obj["name"])
    return f"{where} ({obj['name']})"


def _list(where, value, nonempty=True):
    if not isinstance(value, list) or (nonempty and not value):
        raise ValueError(f"{where} must be a {'non-empty ' if nonempty else ''}list")
    return value


def normalize_spec(spec):
    """Validate an architecture spec; return a copy with defaults filled in (unknown keys are kept).
    Raises ValueError naming the problem."""
    if not isinstance(spec, dict):
        raise ValueError("architecture spec must be a dict")
    spec = json.loads(_json(spec))  # deep copy; also proves it is JSON-serialisable
    name = _check_name("architecture", spec.get("name"))
    arch = f"architecture {name}"
    spec.setdefault("attributes", {})
    shapes, layer_names, tensor_names, sym_names = {}, set(), set(), set()
    for li, layer in enumerate(_list(f"{arch}: layers", spec.get("layers"))):
        where = _named(f"{arch}: layers[{li}]", layer, layer_names, "layer")
        if layer.get("kind") not in LAYER_KINDS:
            raise ValueError(f"{where}: unknown layer kind {layer.get('kind')!r}; known: {', '.join(LAYER_KINDS)}")
        layer["level"] = _int(f"{where}.level", layer.get("level", li), 0)
        layer.setdefault("attributes", {})
        for ti, t in enumerate(_list(f"{where}.tensors", layer.get("tensors"))):  # parameter-free ops: attributes
            tw = _named(f"{where}.tensors[{ti}]", t, tensor_names, "tensor")
            t["shape"] = [_int(f"{tw}.shape[{k}]", d, 1) for k, d in enumerate(_list(f"{tw}.shape", t.get("shape")))]
            if not isinstance(t.setdefault("role", t["name"].rsplit(".", 1)[-1]), str):
                raise ValueError(f"{tw}.role must be a string")
            shapes[t["name"]] = t["shape"]
    for part, value in [("attributes", spec["attributes"])] + [(f"layers[{i}].attributes", l["attributes"])
                                                               for i, l in enumerate(spec["layers"])]:
        if not isinstance(value, dict):
            raise ValueError(f"{arch}: {part} must be an object")
    for si, sym in enumerate(_list(f"{arch}: symmetries", spec.setdefault("symmetries", []), nonempty=False)):
        where = _named(f"{arch}: symmetries[{si}]", sym, sym_names, "symmetry")
        if sym.setdefault("kind", "permutation") != "permutation":
            raise ValueError(f"{where}: kind {sym['kind']!r} is not supported by format version 1 (only permutation)")
        size = sym["size"] = _int(f"{where}.size", sym.get("size"), 1)
        for ai, act in enumerate(_list(f"{where}.actions", sym.get("actions"))):
            aw = f"{where}.actions[{ai}]"
            if not isinstance(act, dict) or act.get("tensor") not in shapes:
                raise ValueError(f"{aw}: refers to unknown tensor "
                                 f"{act.get('tensor') if isinstance(act, dict) else act!r}")
            shape = shapes[act["tensor"]]
            axis = act["axis"] = _int(f"{aw}.axis", act.get("axis"), 0)
            if axis >= len(shape):
                raise ValueError(f"{aw}: axis {axis} out of range for {act['tensor']} of rank {len(shape)}")
            offset = act["offset"] = _int(f"{aw}.offset", act.get("offset", 0), 0)
            block = act["block"] = _int(f"{aw}.block", act.get("block", 1), 1)
            if offset + size * block > shape[axis]:
                raise ValueError(f"{aw}: offset {offset} + size {size} * block {block} = {offset + size * block} "
                                 f"exceeds dimension {shape[axis]} of {act['tensor']} axis {axis}")
    return spec


def tensor_layout(spec):
    """[(name, shape, offset)] in row order, and the parameter count P."""
    layout, offset = [], 0
    for layer in spec["layers"]:
        for t in layer.get("tensors", []):
            shape = tuple(int(d) for d in t["shape"])
            layout.append((t["name"], shape, offset))
            offset += int(np.prod(shape))
    return layout, offset


def chunk_rows(num_params):
    return max(1, 2 ** 20 // (4 * num_params))


def _unknown(example):
    return "" if isinstance(example, str) else math.nan


def _vector(group, name, data, dtype):
    return group.create_dataset(name, data=np.asarray(data, dtype=dtype), dtype=dtype,
                                chunks=(VECTOR_CHUNK,), maxshape=(None,))


class ZooWriter:
    """Writes a new zoo; see the module docstring."""

    def __init__(self, path, provenance, created_by=None, overwrite=False):
        if not isinstance(provenance, dict):
            raise ValueError("provenance must be a dict")
        if "kind" in provenance and provenance["kind"] not in PROVENANCE_KINDS:
            raise ValueError(f"provenance kind {provenance['kind']!r} is not one of {', '.join(PROVENANCE_KINDS)}")
        prov_json = _json(provenance)
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        self.path = path
        self._f = h5py.File(path, "w")
        self._f.attrs["sne_format"] = FORMAT_NAME
        self._f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        self._f.attrs["created_by"] = str(created_by or f"sne_zoo.py (h5py {h5py.__version__})")
        self._f.create_group("provenance").attrs["json"] = prov_json
        self._f.create_group("architectures")
        self._archs = []  # dicts: name, spec, layout, P, ds, buffer, rows, flush_rows
        self._arch_col, self._row_col = [], []
        self._props, self._meta, self._splits = {}, {}, {}  # column lists; split arrays

    @property
    def num_networks(self):
        return len(self._arch_col)

    def add_architecture(self, spec):
        self._check_open()
        spec = normalize_spec(spec)
        if any(a["name"] == spec["name"] for a in self._archs):
            raise ValueError(f"architecture {spec['name']} already exists")
        layout, P = tensor_layout(spec)
        group = self._f["architectures"].create_group(spec["name"])
        group.attrs["index"] = np.int64(len(self._archs))
        group.attrs["spec"] = _json(spec)
        ds = group.create_dataset("params", shape=(0, P), dtype=np.float32, chunks=(chunk_rows(P), P),
                                  maxshape=(None, P))
        self._archs.append({"name": spec["name"], "spec": spec, "layout": layout, "P": P, "ds": ds, "buffer": [],
                            "rows": 0, "flush_rows": max(chunk_rows(P), 2 ** 24 // (4 * P))})
        return len(self._archs) - 1

    def _arch(self, arch):
        if isinstance(arch, str):
            for i, a in enumerate(self._archs):
                if a["name"] == arch:
                    return i, a
            raise ValueError(f"unknown architecture {arch!r}")
        if isinstance(arch, bool) or not isinstance(arch, numbers.Integral) or not 0 <= arch < len(self._archs):
            raise ValueError(f"unknown architecture index {arch!r}")
        return int(arch), self._archs[arch]

    def append(self, arch, params, properties=None, metadata=None):
        """Add one network; returns its index."""
        self._check_open()
        ai, a = self._arch(arch)
        if isinstance(params, dict):
            names = [n for n, _, _ in a["layout"]]
            if set(params) != set(names):
                raise ValueError(f"{a['name']}: tensors missing {sorted(set(names) - set(params))}, "
                                 f"unknown {sorted(set(params) - set(names))}")
            parts = []
            for n, shape, _ in a["layout"]:
                t = np.asarray(params[n], dtype=np.float32)
                if t.shape != shape:
                    raise ValueError(f"{a['name']}: tensor {n} has shape {t.shape}, declared {shape}")
                parts.append(t.ravel(order="C"))
            row = np.concatenate(parts)
        else:
            row = np.array(params, dtype=np.float32, copy=True)
            if row.ndim != 1 or row.shape[0] != a["P"]:
                raise ValueError(f"{a['name']}: params must be 1-D with {a['P']} values, got shape {row.shape}")
        n = self.num_networks  # validate everything before changing anything
        props = {_check_name("property", k): math.nan if v is None else float(v)
                 for k, v in (properties or {}).items()}
        meta = {_check_name("metadata", k): v for k, v in (metadata or {}).items() if v is not None}
        for k, v in meta.items():
            if not isinstance(v, str) and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
                raise ValueError(f"metadata {k}: value {v!r} is neither a number nor a string")
            if k in self._meta and isinstance(self._meta[k][0], str) != isinstance(v, str):
                raise ValueError(f"metadata {k}: column holds {'strings' if not isinstance(v, str) else 'numbers'}, "
                                 f"got {v!r}")
        for columns, values in ((self._props, props), (self._meta, meta)):  # a column's first entry fixes its type
            for k, v in values.items():
                v = v if isinstance(v, str) else float(v)
                if k not in columns:
                    columns[k] = [_unknown(v)] * n
                columns[k].append(v)
            for col in columns.values():
                if len(col) == n:
                    col.append(_unknown(col[0]))
        self._arch_col.append(ai)
        self._row_col.append(a["rows"])
        a["rows"] += 1
        a["buffer"].append(row)
        if len(a["buffer"]) >= a["flush_rows"]:
            self._flush(a)
        return n

    def set_split(self, name, indices):
        """Store a split (sorted, unique int64); train/validation/test must be pairwise disjoint."""
        self._check_open()
        _check_name("split", name)
        idx = np.unique(np.asarray(list(indices), dtype=np.int64))
        if idx.size and idx[0] < 0:
            raise ValueError(f"split {name}: negative network index {idx[0]}")
        if name in ("train", "validation", "test"):
            for other in ("train", "validation", "test"):
                if other != name and other in self._splits:
                    common = np.intersect1d(idx, self._splits[other])
                    if common.size:
                        raise ValueError(f"split {name} overlaps split {other} (e.g. network {common[0]})")
        self._splits[name] = idx

    def _flush(self, a):
        if a["buffer"]:
            block = np.stack(a["buffer"])
            start = a["ds"].shape[0]
            a["ds"].resize(start + block.shape[0], axis=0)
            a["ds"][start:] = block
            a["buffer"] = []

    def _check_open(self):
        if self._f is None:
            raise ValueError(f"zoo writer for {self.path} is closed")

    def close(self):
        if self._f is None:
            return
        n = self.num_networks
        for name, idx in self._splits.items():  # checked before anything is written: fix the split, close again
            if idx.size and idx[-1] >= n:
                raise ValueError(f"split {name}: network index {idx[-1]} >= number of networks {n}")
        # Every dataset stays referenced until the file is closed: h5py writes a dataset's cached chunks when its
        # object is deallocated, and on a full disk that write fails where Python can only print the error (once
        # per dataset) and carry on. Held, they are written by the flush below, which raises.
        kept = []
        try:
            for a in self._archs:
                self._flush(a)
            nets = self._f.create_group("networks")
            kept.append(_vector(nets, "architecture", self._arch_col, np.int32))
            kept.append(_vector(nets, "row", self._row_col, np.int64))
            g = nets.create_group("properties")
            for k, col in self._props.items():
                kept.append(_vector(g, k, col, np.float64))
            g = nets.create_group("metadata")
            for k, col in self._meta.items():
                if isinstance(col[0], str):
                    kept.append(g.create_dataset(k, data=np.array(col, dtype=object), dtype=_STR,
                                                 chunks=(VECTOR_CHUNK,), maxshape=(None,)))
                else:
                    kept.append(_vector(g, k, col, np.float64))
            g = self._f.create_group("splits")
            for k, idx in self._splits.items():
                kept.append(_vector(g, k, idx, np.int64))
            self._f.flush()
            self._f.close()  # on any error the handle stays for abort()
        except BaseException as e:
            if self._f is not None and not self._f.id.valid:
                self._f = None  # closed after all
            elif self._f is not None and not disk_full(e):
                self._f.close()  # as before; only a failed write must never be closed (abort)
                self._f = None
            else:
                _ABANDONED.append(kept)  # with the file, for abort(): never deallocated before os._exit
            raise
        self._f = None

    def __enter__(self):
        return self

    def abort(self, close=True):
        """Remove the half-written file. close=False after a failed write: libhdf5 1.10 crashes closing a file
        whose write failed (H5D_close), so the handle is kept open, unused, until the process ends by
        write_failure's os._exit, which skips h5py's own closing at exit."""
        if self._f is not None:
            f, self._f = self._f, None
            if close:
                try:
                    f.close()
                except Exception:  # noqa: BLE001 - the error that led here is the one to report
                    pass
            else:
                _ABANDONED.append(f)
            if os.path.exists(self.path):
                os.remove(self.path)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort(close=not disk_full(exc))
            return False
        try:
            self.close()
        except BaseException as e:
            self.abort(close=not disk_full(e))
            raise
        return False


def _attr_str(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class ZooReader:
    """Reads a zoo; see the module docstring."""

    def __init__(self, path):
        self.path = path
        self._f = f = h5py.File(path, "r")
        try:
            fmt, version = f.attrs.get("sne_format"), f.attrs.get("format_version")
            fmt = "missing" if fmt is None else repr(_attr_str(fmt))
            if fmt != repr(FORMAT_NAME) or version is None:
                what = f"sne_format is {fmt}, expected {FORMAT_NAME!r}" if version is not None or fmt != repr(
                    FORMAT_NAME) else "format_version is missing"
                raise ZooFormatError(f"{path}: not an sne zoo (root attribute {what})")
            self.format_version = int(version)
            if self.format_version > FORMAT_VERSION:
                raise ZooFormatError(f"{path}: format version {self.format_version} is newer than this reader's "
                                     f"{FORMAT_VERSION}")
            self.created_by = _attr_str(f.attrs.get("created_by", ""))
            self.provenance = json.loads(_attr_str(f["provenance"].attrs["json"])) if "provenance" in f else {}
            archs = []
            for name, g in f["architectures"].items():
                archs.append((int(g.attrs["index"]), name, json.loads(_attr_str(g.attrs["spec"]))))
            archs.sort()
            self.architectures = [spec for _, _, spec in archs]
            self.architecture_names = [name for _, name, _ in archs]
            self._layouts = [tensor_layout(spec)[0] for spec in self.architectures]
            self._params = [f["architectures"][name]["params"] for name in self.architecture_names]
            nets = f["networks"]
            self.network_architecture = nets["architecture"][()].astype(np.int64)
            self.network_row = nets["row"][()].astype(np.int64)
            self.properties = {k: d[()].astype(np.float64) for k, d in nets.get("properties", {}).items()}
            self.metadata = {}
            for k, d in nets.get("metadata", {}).items():
                self.metadata[k] = d.asstr()[()] if h5py.check_string_dtype(d.dtype) else d[()].astype(np.float64)
            self.splits = {k: d[()].astype(np.int64) for k, d in f.get("splits", {}).items()}
        except KeyError as e:
            f.close()
            raise ZooFormatError(f"{path}: malformed sne zoo: {e}") from e
        except Exception:
            f.close()
            raise

    @property
    def num_networks(self):
        return int(self.network_architecture.shape[0])

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _check_index(self, i):
        if not 0 <= i < self.num_networks:
            raise IndexError(f"network index {i} out of range 0..{self.num_networks - 1}")

    def architecture_of(self, i):
        """Name of network i's architecture."""
        self._check_index(i)
        return self.architecture_names[self.network_architecture[i]]

    def params(self, i):
        self._check_index(i)
        return self._params[self.network_architecture[i]][self.network_row[i]].astype(np.float32)

    def tensors(self, i):
        row = self.params(i)
        return {name: row[off:off + int(np.prod(shape))].reshape(shape)
                for name, shape, off in self._layouts[self.network_architecture[i]]}

    def iter_batches(self, batch_size, split=None):
        """Yield (architecture index, network indices int64[b], params float32[b, P]); each batch holds networks of
        one architecture, b <= batch_size, in increasing network index within an architecture."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        selected = np.arange(self.num_networks) if split is None else self.splits[split]
        for ai, ds in enumerate(self._params):
            idx = selected[self.network_architecture[selected] == ai]
            for start in range(0, idx.size, batch_size):
                batch = idx[start:start + batch_size]
                rows = self.network_row[batch]
                lo, hi = int(rows.min()), int(rows.max()) + 1
                if hi - lo <= 4 * rows.size:  # dense enough: read one slab
                    data = ds[lo:hi][rows - lo]
                else:
                    order = np.argsort(rows)
                    data = np.empty((rows.size, ds.shape[1]), np.float32)
                    data[order] = ds[rows[order]]
                yield ai, batch, data.astype(np.float32, copy=False)


def _json_float(x):
    x = float(x)
    return x if math.isfinite(x) else None


def dump(reader):
    """The whole zoo as a JSON-serialisable dict (non-finite floats become None)."""
    networks = []
    for i in range(reader.num_networks):
        meta = {}
        for k, col in reader.metadata.items():
            meta[k] = str(col[i]) if col.dtype == object else _json_float(col[i])
        networks.append({"index": i, "architecture": reader.architecture_of(i), "row": int(reader.network_row[i]),
                         "params": [_json_float(x) for x in reader.params(i).tolist()],
                         "properties": {k: _json_float(col[i]) for k, col in reader.properties.items()},
                         "metadata": meta})
    return {"format_version": reader.format_version, "provenance": reader.provenance,
            "architectures": reader.architectures, "networks": networks,
            "splits": {k: [int(x) for x in v] for k, v in reader.splits.items()}}


def info(reader):
    r = reader
    lines = [f"{r.path}: sne zoo format {r.format_version}, {r.num_networks} networks, created by {r.created_by}",
             f"provenance: {json.dumps(r.provenance)}"]
    lines += [f"architecture {ai} {name}: {int(np.sum(r.network_architecture == ai))} networks, "
              f"{tensor_layout(r.architectures[ai])[1]} params" for ai, name in enumerate(r.architecture_names)]
    for k, col in r.properties.items():
        known = col[~np.isnan(col)]
        stats = f", min {known.min():.6g} mean {known.mean():.6g} max {known.max():.6g}" if known.size else ""
        lines.append(f"property {k}: {known.size} known{stats}")
    for k, col in r.metadata.items():
        is_str = col.dtype == object
        lines.append(f"metadata {k} ({'string' if is_str else 'float'}): "
                     f"{int(np.sum(col != '') if is_str else np.sum(~np.isnan(col)))} known")
    lines += [f"split {k}: {v.size} networks" for k, v in r.splits.items()]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Inspect an sne model zoo (HDF5).")
    parser.add_argument("command", choices=["dump", "info"])
    parser.add_argument("zoo")
    args = parser.parse_args(argv)
    try:
        with ZooReader(args.zoo) as reader:
            if args.command == "dump":
                json.dump(dump(reader), sys.stdout, allow_nan=False)
                sys.stdout.write("\n")
            else:
                print(info(reader))
    except (OSError, ValueError, KeyError) as e:
        print(f"sne_zoo.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
