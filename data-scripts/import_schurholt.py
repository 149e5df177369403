#!/usr/bin/env python3
"""Import a Schürholt et al. 2022 "Model Zoos" population (PyTorch checkpoints per model and epoch, Ray Tune result
files) into an `sne` model zoo.

Usage: import_schurholt.py SOURCE_DIR OUT.h5 [--checkpoint-glob 'checkpoint_*/checkpoints'] [--index-dict FILE]
                           [--dataset NAME] [--test-fraction 0.15] [--validation-fraction 0.15] [--seed 0]
                           [--overwrite]

SOURCE_DIR holds one folder per model (a Ray Tune trial folder), each with
  * checkpoints: the files matching --checkpoint-glob below the model folder (default `checkpoint_*/checkpoints`,
    the zoos' `checkpoint_000050/checkpoints`), each a torch.save'd state_dict (also accepted nested under
    `state_dict` / `model`; `module.` prefixes are dropped). The epoch of a checkpoint is the last number in its path
    below the model folder (checkpoint_000050/checkpoints -> 50). Every epoch found becomes its own network;
  * result.json: Ray Tune's results, one JSON object per line, with training_iteration (= the epoch) and test_acc,
    train_acc, test_loss, train_loss (val_acc, val_loss, validation_acc, validation_loss too when present);
  * optionally params.json: the trial's hyper-parameters (else the `config` of result.json's first line).
Folders without any checkpoint are skipped (and counted on stderr). index_dict.json (the zoos' per-layer index
ranges: layer [[module index, "conv2d"|"fc"], ...], idx_start, idx_length, kernel_no, channels_in, channels_out,
kernel_size; kernel before bias, PyTorch order) is read from SOURCE_DIR when present, or from --index-dict, and the
architecture must agree with it (layer count and kinds, index ranges, channel counts, kernel sizes).
Checkpoints are pickles loaded with torch.load(weights_only=False): import only files you trust.

The architecture spec is built from the first checkpoint's tensor names and shapes, in state_dict order: a 4-d
`weight` is a conv2d layer, 3-d conv1d, 2-d linear; a 1-d `bias` belongs to the weight just before it with the same
prefix. Layers are named by their state_dict prefix (e.g. module_list.0, tensors module_list.0.weight/.bias), levels
0.. in order. Symmetries (permutations) between consecutive layers: conv -> conv (the channels: axis 0 of the weight
and bias of l, axis 1 of the next weight), conv -> linear after a flatten (axis 1 of the linear weight in blocks of
in_features / channels, the spatial size), linear -> linear and linear -> conv (the units). Every checkpoint must have
the same tensors and shapes. The architecture name describes the shapes, hash-free:
    cnn_ | mlp_   then per layer, joined by "_":
    conv2d  c{in}-{out}k{kh}      (k{kh}x{kw} when not square)     e.g. c1-8k5
    conv1d  d{in}-{out}k{k}
    linear  fc{in}-{out}                                          e.g. fc36-20
    a layer without bias gets the suffix "nb".
The CNN-s zoo on 1-channel images is cnn_c1-8k5_c8-6k5_c6-4k2_fc36-20_fc20-10 (2464 parameters).

Stored per network: properties step (the epoch), test_accuracy, train_accuracy, test_loss, train_loss (and
validation_accuracy/validation_loss when the results have them), NaN when the results lack the epoch; Ray's -999
placeholders (the zoos' epoch 0 has no training metrics) and infinities are stored as NaN (unknown). Metadata: `model`
(the model folder's name), `source` (the checkpoint path below SOURCE_DIR), `config.*` from the hyper-parameters
(`::` becomes `.`, other characters outside [A-Za-z0-9_.+-] `_`; numbers as float metadata, other scalars as
strings) and, with --dataset NAME, `dataset`. Checkpoints with NaN/inf weights are skipped (an sne zoo holds finite
weights only) and counted on stderr.
Splits train/validation/test by model (all epochs of a model in one split): the model folders (sorted by name) are
permuted by np.random.RandomState(--seed); the first int(test_fraction * M) are test, the next
int(validation_fraction * M) validation, the rest train (the zoos' own 70/15/15 by default).

Errors: exit 1 and one line `import_schurholt: error: ...`; the output is written to OUT.h5.partial and renamed at
the end, so a failed import leaves nothing behind.
"""
import argparse
import glob
import json
import math
import numbers
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sne_zoo  # noqa: E402

PROG = "import_schurholt"
PROGRESS_EVERY = 1000
NESTED = ("state_dict", "model", "model_state_dict")
RESULT_KEYS = {"test_acc": "test_accuracy", "test_accuracy": "test_accuracy", "train_acc": "train_accuracy",
               "train_accuracy": "train_accuracy", "test_loss": "test_loss", "train_loss": "train_loss",
               "val_acc": "validation_accuracy", "validation_acc": "validation_accuracy",
               "validation_accuracy": "validation_accuracy", "val_loss": "validation_loss",
               "validation_loss": "validation_loss"}
BASE_PROPERTIES = ("test_accuracy", "train_accuracy", "test_loss", "train_loss")
PLACEHOLDER = -999.0
KINDS = {4: "conv2d", 3: "conv1d", 2: "linear"}


class InputError(Exception):
    """A problem with the input, reported as one line."""


# ---- architecture from a state_dict ----------------------------------------------------------------------------
def group_layers(shapes, where):
    """[(prefix, kind, weight shape, bias shape or None)] from an ordered [(key, shape)]."""
    layers = []
    for key, shape in shapes:
        prefix, _, part = key.rpartition(".")
        if part == "weight" and len(shape) in KINDS:
            layers.append([prefix, KINDS[len(shape)], shape, None])
        elif (part == "bias" and len(shape) == 1 and layers and layers[-1][0] == prefix and layers[-1][3] is None
              and shape[0] == layers[-1][2][0]):
            layers[-1][3] = shape
        else:
            raise InputError(f"{where}: tensor {key} of shape {list(shape)} is not a conv/linear weight or the bias "
                             f"of the weight just before it; this importer handles conv1d/conv2d/linear layers only")
    if not layers:
        raise InputError(f"{where}: no weight tensors found")
    return [tuple(layer) for layer in layers]


def architecture_name(layers):
    parts = []
    for _, kind, w, b in layers:
        if kind == "conv2d":
            k = f"{w[2]}" if w[2] == w[3] else f"{w[2]}x{w[3]}"
            p = f"c{w[1]}-{w[0]}k{k}"
        elif kind == "conv1d":
            p = f"d{w[1]}-{w[0]}k{w[2]}"
        else:
            p = f"fc{w[1]}-{w[0]}"
        parts.append(p + ("" if b is not None else "nb"))
    family = "cnn" if any(kind != "linear" for _, kind, _, _ in layers) else "mlp"
    return f"{family}_" + "_".join(parts)


def build_spec(layers, where):
    spec_layers, symmetries = [], []
    for level, (prefix, kind, w, b) in enumerate(layers):
        attrs = {}
        if kind != "linear":
            attrs["kernel"] = list(w[2:])
        elif level > 0 and layers[level - 1][1] != "linear":
            attrs["input"] = "flatten"
            attrs["flatten_block"] = w[1] // layers[level - 1][2][0]
        tensors = [{"name": f"{prefix}.weight", "role": "weight", "shape": list(w)}]
        if b is not None:
            tensors.append({"name": f"{prefix}.bias", "role": "bias", "shape": list(b)})
        spec_layers.append({"name": prefix, "kind": kind, "level": level, "attributes": attrs, "tensors": tensors})
    for (prefix, kind, w, b), (nprefix, nkind, nw, _) in zip(layers, layers[1:]):
        units = w[0]
        block = 1
        if kind != "linear" and nkind == "linear":
            if nw[1] % units:
                raise InputError(f"{where}: {nprefix}.weight has {nw[1]} inputs, not a multiple of the {units} "
                                 f"channels of {prefix} (expected a flatten of a {units} x H x W feature map)")
            block = nw[1] // units
        elif nw[1] != units:
            raise InputError(f"{where}: {nprefix}.weight has {nw[1]} inputs but {prefix} has {units} outputs")
        actions = [{"tensor": f"{prefix}.weight", "axis": 0}]
        if b is not None:
            actions.append({"tensor": f"{prefix}.bias", "axis": 0})
        actions.append({"tensor": f"{nprefix}.weight", "axis": 1} if block == 1 else
                       {"tensor": f"{nprefix}.weight", "axis": 1, "offset": 0, "block": block})
        symmetries.append({"name": f"{prefix}.{'units' if kind == 'linear' else 'channels'}", "kind": "permutation",
                           "size": units, "actions": actions})
    first, last = layers[0], layers[-1]
    return {"name": architecture_name(layers),
            "attributes": {"family": "schurholt_model_zoos",
                           ("in_channels" if first[1] != "linear" else "in_features"): first[2][1],
                           "outputs": last[2][0]},
            "layers": spec_layers, "symmetries": symmetries}


def check_index_dict(path, layers):
    """The zoos' index_dict.json must describe the same layers at the same offsets (kernel before bias)."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable index_dict.json ({e})")
    if not isinstance(d, dict) or not isinstance(d.get("layer"), list):
        raise InputError(f"{path}: expected a JSON object with a list `layer` of [module index, type]")
    entries = d["layer"]
    if len(entries) != len(layers):
        raise InputError(f"{path}: {len(entries)} layers, the checkpoints have {len(layers)} "
                         f"({', '.join(p for p, _, _, _ in layers)})")
    offset = 0
    for i, (entry, (prefix, kind, w, b)) in enumerate(zip(entries, layers)):
        if not isinstance(entry, list) or len(entry) != 2:
            raise InputError(f"{path}: layer[{i}] is {entry!r}, expected [module index, type]")
        idx, typ = entry
        want = {"conv2d": ("conv2d", "conv"), "conv1d": ("conv1d", "conv"), "linear": ("fc", "linear", "dense")}[kind]
        if str(typ).lower() not in want:
            raise InputError(f"{path}: layer[{i}] is {typ!r}, the checkpoints' layer {prefix} is {kind}")
        tail = re.search(r"(\d+)$", prefix)
        if tail and str(idx) != tail.group(1):
            raise InputError(f"{path}: layer[{i}] is module {idx}, the checkpoints' layer {i} is {prefix}")
        size = int(np.prod(w)) + (int(b[0]) if b is not None else 0)
        checks = {"idx_start": offset, "idx_length": size, "kernel_no": w[0], "channels_out": w[0],
                  "channels_in": w[1]}
        if kind != "linear":
            checks["kernel_size"] = w[2]
        for key, value in checks.items():
            given = d.get(key)
            if given is None:
                continue
            if not isinstance(given, list) or len(given) != len(entries):
                raise InputError(f"{path}: {key} must be a list with one entry per layer")
            if given[i] != value and not (key == "kernel_size" and given[i] == list(w[2:])):
                raise InputError(f"{path}: {key}[{i}] is {given[i]}, but layer {prefix} (weight {list(w)}"
                                 f"{', bias' if b is not None else ''}) needs {value}")
        offset += size


# ---- checkpoints and results -----------------------------------------------------------------------------------
def load_state(path, torch):
    """[(key, float32 array)] in state_dict order."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises many types for non-torch files
        detail = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {detail})")
    if isinstance(obj, dict):
        obj = next((obj[k] for k in NESTED if isinstance(obj.get(k), dict)), obj)
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a state_dict (a dict of tensors), got {type(obj).__name__}")
    out = []
    for k, v in obj.items():
        key = str(k)
        while key.startswith("module."):
            key = key[len("module."):]
        if not hasattr(v, "detach"):
            raise InputError(f"{path}: entry {key} is a {type(v).__name__}, expected a tensor")
        out.append((key, v.detach().cpu().float().numpy()))
    return out


def epoch_of(rel):
    numbers_ = re.findall(r"\d+", os.path.splitext(rel)[0])
    return int(numbers_[-1]) if numbers_ else None


def read_results(path):
    """{training_iteration: result dict}, and the first line's config."""
    out, config = {}, None
    try:
        with open(path, "r", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    raise InputError(f"{path}: line {line_no} is not JSON ({e})")
                if not isinstance(rec, dict):
                    raise InputError(f"{path}: line {line_no} is not a JSON object")
                if config is None and isinstance(rec.get("config"), dict):
                    config = rec["config"]
                it = rec.get("training_iteration")
                if isinstance(it, numbers.Real) and not isinstance(it, bool):
                    out[int(it)] = rec
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the results ({e})")
    return out, config


def properties_of(rec):
    props = {k: math.nan for k in BASE_PROPERTIES}
    for key, name in RESULT_KEYS.items():
        v = (rec or {}).get(key)
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            v = float(v)
            props[name] = v if math.isfinite(v) and v != PLACEHOLDER else math.nan
    return props


def config_items(config):
    """{metadata name: scalar} from a hyper-parameter dict (nested dicts flattened with '.')."""
    out = {}

    def walk(prefix, obj):
        for k, v in obj.items():
            name = prefix + "." + re.sub(r"[^A-Za-z0-9_.+-]", "_", str(k).replace("::", "."))
            if isinstance(v, dict):
                walk(name, v)
            elif isinstance(v, bool):
                out[name] = "true" if v else "false"
            elif isinstance(v, (str, numbers.Real)):
                out[name] = v
    walk("config", config or {})
    return out


def scan_models(src, pattern):
    models, empty = [], 0
    for name in sorted(os.listdir(src)):
        folder = os.path.join(src, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        found = sorted(p for p in glob.glob(os.path.join(glob.escape(folder), pattern)) if os.path.isfile(p))
        if not found:
            empty += 1
            continue
        ckpts = {}
        for p in found:
            rel = os.path.relpath(p, folder)
            e = epoch_of(rel)
            if e is None:
                raise InputError(f"{p}: no epoch number in the checkpoint's path {rel!r}; the epoch is the last "
                                 f"number in it (e.g. checkpoint_000050/checkpoints)")
            if e in ckpts:
                raise InputError(f"{folder}: two checkpoints for epoch {e}: {ckpts[e]} and {rel}")
            ckpts[e] = rel
        results = os.path.join(folder, "result.json")
        if not os.path.isfile(results):
            raise InputError(f"{folder}: missing result.json (Ray Tune's per-epoch results: test_acc, ...) next to "
                             f"its {len(ckpts)} checkpoint(s)")
        models.append((name, folder, sorted(ckpts.items())))
    return models, empty


def metadata_types(configs):
    """{name: 'float'|'str'}: a column is float when every value given is a number."""
    types = {}
    for cfg in configs:
        for k, v in cfg.items():
            t = "str" if isinstance(v, str) else "float"
            types[k] = "str" if types.get(k) == "str" or t == "str" else "float"
    return types


def _few(names, k=4):
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "") if names else "none"


def model_splits(n_models, test_fraction, validation_fraction, seed):
    order = np.random.RandomState(seed).permutation(n_models)
    n_test, n_val = int(test_fraction * n_models), int(validation_fraction * n_models)
    return {"test": order[:n_test], "validation": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}


def import_zoo(args, torch):
    src = args.source
    if not os.path.isdir(src):
        raise InputError(f"{src}: source directory does not exist (expected one folder per model)")
    models, empty = scan_models(src, args.checkpoint_glob)
    if not models:
        raise InputError(f"{src}: no checkpoints found (no file matches {args.checkpoint_glob!r} in any model "
                         f"folder below it)")
    index_dict = args.index_dict or (os.path.join(src, "index_dict.json")
                                     if os.path.isfile(os.path.join(src, "index_dict.json")) else None)
    results, configs = [], []
    for name, folder, _ in models:
        res, cfg = read_results(os.path.join(folder, "result.json"))
        params = os.path.join(folder, "params.json")
        if os.path.isfile(params):
            try:
                with open(params, "r", encoding="utf-8") as f:
                    cfg = json.load(f)
            except (OSError, ValueError) as e:
                raise InputError(f"{params}: not a readable JSON object ({e})")
            if not isinstance(cfg, dict):
                raise InputError(f"{params}: expected a JSON object of hyper-parameters")
        results.append(res)
        configs.append(config_items(cfg))
    types = metadata_types(configs)

    first = os.path.join(models[0][1], models[0][2][0][1])
    ref = [(k, tuple(int(d) for d in v.shape)) for k, v in load_state(first, torch)]
    layers = group_layers(ref, first)
    spec = build_spec(layers, first)
    if index_dict:
        check_index_dict(index_dict, layers)
    order = [t["name"] for layer in spec["layers"] for t in layer["tensors"]]
    ref_shapes = dict(ref)
    total = sum(len(c) for _, _, c in models)
    prov = {"kind": "importer", "name": "schurholt_model_zoos", "sources": [src], "models": len(models),
            "checkpoints": total, "checkpoint_glob": args.checkpoint_glob, "index_dict": index_dict,
            "dataset": args.dataset,
            "splits": {"by": "model", "seed": args.seed, "test_fraction": args.test_fraction,
                       "validation_fraction": args.validation_fraction},
            "note": "Model Zoos (Schürholt et al. 2022); state_dict tensors stored as they are (PyTorch order)"}
    partial = args.out + ".partial"
    nets_of_model = [[] for _ in models]
    skipped, missing_results, done = 0, 0, 0
    with sne_zoo.ZooWriter(partial, prov, created_by="import_schurholt.py", overwrite=True) as w:
        arch = w.add_architecture(spec)
        for m, (name, folder, ckpts) in enumerate(models):
            for epoch, rel in ckpts:
                path = os.path.join(folder, rel)
                tensors = dict(load_state(path, torch))
                shapes = {k: tuple(v.shape) for k, v in tensors.items()}
                if shapes != ref_shapes:
                    lacks, extra = sorted(set(ref_shapes) - set(shapes)), sorted(set(shapes) - set(ref_shapes))
                    if lacks or extra:
                        raise InputError(f"{path}: tensors differ from {first}'s (unexpected: {_few(extra)}; "
                                         f"missing: {_few(lacks)}); all checkpoints must have the same architecture")
                    k = next(k for k in ref_shapes if shapes[k] != ref_shapes[k])
                    raise InputError(f"{path}: {k} has shape {list(shapes[k])} but {first} has "
                                     f"{list(ref_shapes[k])}; all checkpoints must have the same architecture")
                row = np.concatenate([tensors[k].ravel() for k in order]).astype(np.float32)
                done += 1
                if not np.isfinite(row).all():
                    skipped += 1
                    continue
                rec = results[m].get(epoch)
                missing_results += rec is None
                props = properties_of(rec)
                props["step"] = float(epoch)
                md = {"model": name, "source": os.path.join(name, rel)}
                for k, v in configs[m].items():
                    md[k] = str(v) if types[k] == "str" else float(v)
                if args.dataset:
                    md["dataset"] = args.dataset
                nets_of_model[m].append(w.append(arch, row, properties=props, metadata=md))
                if done % PROGRESS_EVERY == 0 and done < total:
                    print(f"{PROG}: {done}/{total} checkpoints", file=sys.stderr, flush=True)
        if w.num_networks == 0:
            raise InputError(f"{src}: all {total} checkpoints have NaN/inf weights; nothing to import")
        for split, model_idx in model_splits(len(models), args.test_fraction, args.validation_fraction,
                                             args.seed).items():
            idx = [i for m in model_idx for i in nets_of_model[m]]
            if idx:
                w.set_split(split, idx)
        n = w.num_networks
    os.replace(partial, args.out)
    return {"models": len(models), "networks": n, "skipped": skipped, "empty": empty, "no_result": missing_results,
            "spec": spec}


def main(argv=None):
    p = argparse.ArgumentParser(description="Import a Model Zoos population (Schürholt et al. 2022) into an sne zoo "
                                            "(HDF5).")
    p.add_argument("source", help="folder with one sub-folder per model (checkpoints + result.json)")
    p.add_argument("out", help="output zoo (.h5)")
    p.add_argument("--checkpoint-glob", default="checkpoint_*/checkpoints",
                   help="checkpoint files below each model folder (default: checkpoint_*/checkpoints)")
    p.add_argument("--index-dict", help="the zoo's index_dict.json (default: SOURCE_DIR/index_dict.json if present)")
    p.add_argument("--dataset", help="string metadata `dataset` for every network (e.g. svhn)")
    p.add_argument("--test-fraction", type=float, default=0.15, help="fraction of models in test (default 0.15)")
    p.add_argument("--validation-fraction", type=float, default=0.15,
                   help="fraction of models in validation (default 0.15)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model permutation for the splits (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    args = p.parse_args(argv)
    try:
        fr = (args.test_fraction, args.validation_fraction)
        if not all(math.isfinite(x) and 0 <= x <= 1 for x in fr) or sum(fr) > 1:
            raise InputError("--test-fraction and --validation-fraction must be in [0, 1] with a sum of at most 1")
        if args.dataset is not None and not args.dataset:
            raise InputError("--dataset needs a non-empty name")
        if args.index_dict and not os.path.isfile(args.index_dict):
            raise InputError(f"{args.index_dict}: --index-dict file does not exist")
        if os.path.exists(args.out) and not args.overwrite:
            raise InputError(f"{args.out}: output exists; pass --overwrite to replace it")
        try:
            import torch
        except ImportError as e:
            raise InputError(f"PyTorch is needed to read the checkpoints ({e}); install python3-torch")
        r = import_zoo(args, torch)
    except (OSError, RuntimeError) as e:
        return sne_zoo.write_failure(PROG, args.out, e)
    except (InputError, ValueError) as e:
        print(f"{PROG}: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    if r["empty"]:
        print(f"{PROG}: skipped {r['empty']} folder(s) without checkpoints", file=sys.stderr)
    if r["skipped"]:
        print(f"{PROG}: skipped {r['skipped']} checkpoint(s) with NaN/inf weights", file=sys.stderr)
    if r["no_result"]:
        print(f"{PROG}: {r['no_result']} checkpoint(s) have no result.json line for their epoch (properties NaN)",
              file=sys.stderr)
    params = sne_zoo.tensor_layout(r["spec"])[1]
    print(f"{PROG}: wrote {r['networks']} networks of {r['models']} models ({r['spec']['name']}, {params} parameters) "
          f"to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
