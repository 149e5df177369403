#!/usr/bin/env python3
"""Import DWSNets' sine-wave INR release (one PyTorch .pth per SIREN) into an `sne` model zoo.

Usage: import_dwsnets.py SOURCE OUT.h5 [--w0 30] [--output-offset 0.5] [--amplitude 1.0] [--overwrite]
                         [--test-count K --validation-count K --seed S]

SOURCE is either
  * one .pth file, or
  * a directory: every `*.pth` below it (recursively, sorted by path) is one network; with --test-count and/or
    --validation-count a seeded random split (train = the rest) is written, otherwise no splits; or
  * a DWSNets-style splits JSON: {"train": SECTION, "val": SECTION, "test": SECTION} (also "validation"), where a
    SECTION is {"path": [...], "score": [...]} ("label" instead of "score" is accepted, as is a plain list of paths
    as DWSNets' own generate_data_splits.py writes). Relative paths are taken relative to the JSON's folder, or,
    when no such file exists, relative to the current directory (where DWSNets' script was run). Networks are
    numbered train, then val, then test, and the zoo gets splits `train`, `validation`, `test`.

Accepted .pth layouts (loaded with torch.load(map_location="cpu", weights_only=False): .pth files are pickles,
import only files you trust): a dict holding the state_dict keys at the top level next to `coef`, or nested under
`state_dict` / `model` / `weights`; keys may carry one or more `module.` prefixes. Per layer the keys
`seq.{0,1}.linear.{weight,bias}` or `seq.{0,1}.{weight,bias}` (DWSNets' nn/inr.py Siren holds weight/bias itself)
and `seq.2.{weight,bias}`, shapes [h,1] [h] [h,h] [h] [1,h] [1]; the hidden width h is inferred from the first file
and must be the same in all. Other keys (DWSNets also saves the training data `x`, `y`) are ignored.
`coef` (or the splits JSON's score/label where the .pth has none) is one number, the frequency b of a*sin(b*x),
or two numbers [a, b] as DWSNets' experiments/ssl/inr_trainer.py draws them (amplitude first); with one number
the amplitude is --amplitude. The tensors are PyTorch (out, in) already and are stored as they are, as the
architecture `sne zoo generate sine` writes (siren_1_h_h_1, l0/l1/l2), with properties frequency and amplitude
and the string metadata `source` (the .pth path relative to SOURCE, or to the JSON's folder).
Errors: exit 1 and one line `import_dwsnets: error: ...`; the output is written to OUT.h5.partial and renamed at
the end, so a failed import leaves nothing behind.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sne_zoo  # noqa: E402

PROGRESS_EVERY = 1000
NESTED = ("state_dict", "model", "weights")


class InputError(Exception):
    """A problem with the input, reported as one line."""


def siren_spec(h, w0, output_offset):
    """The architecture `sne zoo generate sine` writes (lib/generators/sine_inr.cpp siren_architecture)."""
    sine = {"activation": "sine", "w0": w0}

    def layer(i, shape_w, shape_b, attrs):
        return {"name": f"l{i}", "kind": "linear", "level": i, "attributes": attrs,
                "tensors": [{"name": f"l{i}.weight", "role": "weight", "shape": shape_w},
                            {"name": f"l{i}.bias", "role": "bias", "shape": shape_b}]}

    def units(i):
        return {"name": f"l{i}.units", "kind": "permutation", "size": h,
                "actions": [{"tensor": f"l{i}.weight", "axis": 0}, {"tensor": f"l{i}.bias", "axis": 0},
                            {"tensor": f"l{i + 1}.weight", "axis": 1}]}
    return {"name": f"siren_1_{h}_{h}_1",
            "attributes": {"w0": w0, "output_offset": output_offset, "input": "x in [-pi, pi)"},
            "layers": [layer(0, [h, 1], [h], dict(sine)), layer(1, [h, h], [h], dict(sine)), layer(2, [1, h], [1], {})],
            "symmetries": [units(0), units(1)]}


def _number(x):
    return int(x) if float(x).is_integer() else float(x)


def _values(x):
    """A float64 vector from a number, list, numpy array or torch tensor; None when it is not numeric."""
    try:
        if hasattr(x, "detach"):
            x = x.detach().cpu().double().numpy()
        return np.asarray(x, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None


def frequency_amplitude(value, default_amplitude, where):
    v = _values(value)
    if v is None or v.size not in (1, 2) or not np.all(np.isfinite(v)):
        raise InputError(f"{where}: coef/label {value!r} must be one finite number (frequency) or two "
                         f"[amplitude, frequency]")
    return (float(v[0]), default_amplitude) if v.size == 1 else (float(v[1]), float(v[0]))


def load_inr(path, h, torch):
    """(tensors dict l0.weight..l2.bias as float32 arrays, coef or None, hidden width)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises many types for non-torch files
        detail = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"{path}: not a PyTorch file, expected a torch.save'd state_dict ({type(e).__name__}: "
                         f"{detail})")
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a dict (a state_dict with coef), got {type(obj).__name__}")
    sd = next((obj[k] for k in NESTED if isinstance(obj.get(k), dict)), obj)
    keys = {}
    for k, v in sd.items():
        name = str(k)
        while name.startswith("module."):
            name = name[len("module."):]
        keys[name] = v
    coef = obj.get("coef", keys.get("coef"))
    out, missing = {}, []
    for i, dst in ((0, "l0"), (1, "l1"), (2, "l2")):
        for part in ("weight", "bias"):
            cands = [f"seq.{i}.linear.{part}", f"seq.{i}.{part}"]
            src = next((c for c in cands if c in keys), None)
            if src is None:
                missing.append(cands[0] if i < 2 else cands[1])
                continue
            t = keys[src]
            try:
                arr = (t.detach().cpu().float().numpy() if hasattr(t, "detach") else np.asarray(t, np.float32))
            except (TypeError, ValueError, RuntimeError):
                raise InputError(f"{path}: {src} is not a numeric tensor ({type(t).__name__})")
            out[f"{dst}.{part}"] = (src, np.ascontiguousarray(arr, dtype=np.float32))
    if missing:
        raise InputError(f"{path}: missing keys {', '.join(missing)} (seq.0/seq.1 may also omit '.linear'); "
                         f"found keys: {', '.join(sorted(keys)) or 'none'}")
    src0, w0 = out["l0.weight"]
    if w0.ndim != 2 or w0.shape[1] != 1:
        raise InputError(f"{path}: {src0} has shape {list(w0.shape)}, expected [h, 1] (SIREN 1 -> h -> h -> 1)")
    if h is not None and w0.shape[0] != h:
        raise InputError(f"{path}: hidden width {w0.shape[0]} ({src0} has shape {list(w0.shape)}), but earlier "
                         f"files have width {h}; all INRs must have the same width")
    h = int(w0.shape[0])
    want = {"l0.weight": (h, 1), "l0.bias": (h,), "l1.weight": (h, h), "l1.bias": (h,), "l2.weight": (1, h),
            "l2.bias": (1,)}
    tensors = {}
    for name, (src, arr) in out.items():
        if arr.shape != want[name]:
            raise InputError(f"{path}: {src} has shape {list(arr.shape)}, expected {list(want[name])} "
                             f"(SIREN 1 -> {h} -> {h} -> 1)")
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InputError(f"{path}: {src} has {int(bad.sum())} non-finite values (NaN or inf), expected "
                             f"finite weights")
        tensors[name] = arr
    return tensors, coef, h


def gather_json(source):
    """[(path, label or None, split name)] from a splits JSON."""
    try:
        with open(source, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{source}: not a readable splits JSON ({e})")
    names = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
    if not isinstance(doc, dict) or not any(k in doc for k in names):
        raise InputError(f"{source}: expected a JSON object with sections train/val/test")
    base, items = os.path.dirname(os.path.abspath(source)), []
    for key in ("train", "val", "validation", "test"):
        if key not in doc:
            continue
        sec = doc[key]
        paths, labels = (sec, None) if isinstance(sec, list) else (
            (sec.get("path"), sec.get("score", sec.get("label"))) if isinstance(sec, dict) else (None, None))
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise InputError(f"{source}: section {key!r} must be a list of paths or {{\"path\": [...], "
                             f"\"score\"|\"label\": [...]}}")
        if labels is not None and (not isinstance(labels, list) or len(labels) != len(paths)):
            raise InputError(f"{source}: section {key!r} has {len(paths)} paths but its score/label is not a "
                             f"list of the same length")
        for j, p in enumerate(paths):
            full = p if os.path.isabs(p) else os.path.join(base, p)
            if not os.path.exists(full) and not os.path.isabs(p) and os.path.exists(p):
                full = os.path.abspath(p)  # DWSNets writes paths relative to where its script ran
            items.append((full, None if labels is None else labels[j], names[key]))
    return items, base


def import_zoo(args, torch):
    src = args.source
    if not os.path.exists(src):
        raise InputError(f"{src}: source does not exist (expected a directory of .pth files or a splits JSON)")
    if os.path.isdir(src):
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".pth"))
        items, base = [(p, None, None) for p in files], src
    elif src.endswith(".pth"):
        items, base = [(src, None, None)], os.path.dirname(src)
    else:
        items, base = gather_json(src)
        if args.test_count or args.validation_count:
            raise InputError(f"{src}: --test-count/--validation-count apply to a directory; a splits JSON "
                             f"brings its own splits")
    if not items:
        raise InputError(f"{src}: no .pth files found (expected *.pth below the directory or paths in the JSON)")
    n = len(items)
    n_test, n_val = args.test_count or 0, args.validation_count or 0
    if n_test < 0 or n_val < 0 or n_test + n_val > n:
        raise InputError(f"{src}: --test-count {n_test} + --validation-count {n_val} must be >= 0 and at most the "
                         f"{n} files found")
    w0, offset = _number(args.w0), _number(args.output_offset)
    prov = {"kind": "importer", "name": "dwsnets_sine", "sources": [src], "files": n, "w0": w0,
            "output_offset": offset, "note": "DWSNets sine-wave INR release"}
    partial = args.out + ".partial"
    h, arch, splits = None, None, {}
    with sne_zoo.ZooWriter(partial, prov, created_by="import_dwsnets.py", overwrite=True) as w:
        for i, (path, label, split) in enumerate(items):
            if not os.path.isfile(path):
                raise InputError(f"{path}: .pth file listed in {src} does not exist")
            tensors, coef, h = load_inr(path, h, torch)
            if coef is None and label is None:
                raise InputError(f"{path}: no 'coef' in the file and no score/label for it in a splits JSON; "
                                 f"expected the sine's frequency")
            freq, amp = frequency_amplitude(coef if coef is not None else label, args.amplitude, path)
            if arch is None:
                arch = w.add_architecture(siren_spec(h, w0, offset))
            w.append(arch, tensors, properties={"frequency": freq, "amplitude": amp},
                     metadata={"source": os.path.relpath(path, base)})
            if split is not None:
                splits.setdefault(split, []).append(i)
            if (i + 1) % PROGRESS_EVERY == 0 and i + 1 < n:
                print(f"import_dwsnets: {i + 1}/{n} files", file=sys.stderr, flush=True)
        if n_test or n_val:
            order = np.random.default_rng(args.seed).permutation(n)
            splits = {"test": order[:n_test], "validation": order[n_test:n_test + n_val],
                      "train": order[n_test + n_val:]}
        for name, idx in splits.items():
            w.set_split(name, idx)
    os.replace(partial, args.out)
    return n, h


def main(argv=None):
    p = argparse.ArgumentParser(description="Import DWSNets' sine-wave INRs (.pth) into an sne zoo (HDF5).")
    p.add_argument("source", help="a directory of .pth files or a DWSNets-style splits JSON")
    p.add_argument("out", help="output zoo (.h5)")
    p.add_argument("--w0", type=float, default=30.0, help="SIREN w0 of the INRs (default 30)")
    p.add_argument("--output-offset", type=float, default=0.5, help="constant added to the output (default 0.5)")
    p.add_argument("--amplitude", type=float, default=1.0, help="amplitude when coef is one number (default 1)")
    p.add_argument("--test-count", type=int, default=0, help="directory input: random test split size")
    p.add_argument("--validation-count", type=int, default=0, help="directory input: random validation split size")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    args = p.parse_args(argv)
    try:
        if not all(math.isfinite(x) for x in (args.w0, args.output_offset, args.amplitude)):
            raise InputError("--w0, --output-offset and --amplitude must be finite numbers")
        if os.path.exists(args.out) and not args.overwrite:
            raise InputError(f"{args.out}: output exists; pass --overwrite to replace it")
        try:
            import torch
        except ImportError as e:
            raise InputError(f"PyTorch is needed to read .pth files ({e}); install python3-torch")
        n, h = import_zoo(args, torch)
    except (OSError, RuntimeError) as e:
        return sne_zoo.write_failure("import_dwsnets", args.out, e)
    except (InputError, ValueError) as e:
        print(f"import_dwsnets: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    print(f"import_dwsnets: wrote {n} INRs (SIREN 1-{h}-{h}-1) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
