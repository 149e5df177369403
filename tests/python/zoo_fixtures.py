"""Shared helpers for the Python zoo tests: imports sne_zoo from <source>/data-scripts and builds small zoos."""
import contextlib
import math
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(SOURCE_DIR, "data-scripts", "sne_zoo.py")
sys.path.insert(0, os.path.dirname(SCRIPT))

import numpy as np  # noqa: E402

import sne_zoo  # noqa: E402,F401


def mlp_spec():
    """MLP 2 -> 4 -> 1 (17 parameters) with its hidden-unit symmetry."""
    return {
        "name": "mlp_2_4_1",
        "attributes": {"input_shape": [2]},
        "layers": [
            {"name": "l0", "kind": "linear", "level": 0, "attributes": {"activation": "relu"},
             "tensors": [{"name": "l0.weight", "role": "weight", "shape": [4, 2]},
                         {"name": "l0.bias", "role": "bias", "shape": [4]}]},
            {"name": "l1", "kind": "linear", "level": 1, "attributes": {"activation": "none"},
             "tensors": [{"name": "l1.weight", "role": "weight", "shape": [1, 4]},
                         {"name": "l1.bias", "role": "bias", "shape": [1]}]},
        ],
        "symmetries": [
            {"name": "l0.units", "kind": "permutation", "size": 4,
             "actions": [{"tensor": "l0.weight", "axis": 0}, {"tensor": "l0.bias", "axis": 0},
                         {"tensor": "l1.weight", "axis": 1}]},
        ],
    }


MLP_PARAMS = 17


def conv_spec():
    """1x4x4 input -> conv2d 1->2 channels 3x3 (2x2x2 out) -> flatten (8) -> linear 8->1 (29 parameters).
    A channel of the flattened 2x2 feature map is a contiguous block of H*W = 4 columns of fc.weight. The flatten
    has no parameters, so it is an attribute of fc rather than a layer (a layer must hold tensors)."""
    return {
        "name": "cnn_1_2_fc1",
        "attributes": {"input_shape": [1, 4, 4]},
        "layers": [
            {"name": "conv0", "kind": "conv2d", "level": 0,
             "attributes": {"activation": "relu", "stride": 1, "padding": 0},
             "tensors": [{"name": "conv0.weight", "role": "weight", "shape": [2, 1, 3, 3]},
                         {"name": "conv0.bias", "role": "bias", "shape": [2]}]},
            {"name": "fc", "kind": "linear", "level": 1,
             "attributes": {"activation": "none", "input": "flatten", "input_shape": [2, 2, 2]},
             "tensors": [{"name": "fc.weight", "role": "weight", "shape": [1, 8]},
                         {"name": "fc.bias", "role": "bias", "shape": [1]}]},
        ],
        "symmetries": [
            {"name": "conv0.channels", "kind": "permutation", "size": 2,
             "actions": [{"tensor": "conv0.weight", "axis": 0}, {"tensor": "conv0.bias", "axis": 0},
                         {"tensor": "fc.weight", "axis": 1, "offset": 0, "block": 4}]},
        ],
    }


CONV_PARAMS = 29


def write_mixed_zoo(path, num_networks=10, nan_weight_in=None, seed=0):
    """A two-architecture zoo; returns what was written (for comparisons).

    Even networks are MLPs, odd ones CNNs. `test_accuracy` is known except for network 2; `loss` first appears on
    network 3; metadata `optimizer` (string, unknown on network 1) and `seed` (float, unknown on network 4);
    splits train/test (disjoint) and an overlapping `protocol_test`."""
    rng = np.random.default_rng(seed)
    expected = {"arch": [], "row": [], "params": [], "props": {"test_accuracy": [], "loss": []},
                "meta": {"optimizer": [], "seed": []}}
    rows = [0, 0]
    with sne_zoo.ZooWriter(path, {"kind": "manual", "name": "python-test", "recipe": {"seed": seed}}) as w:
        archs = [w.add_architecture(mlp_spec()), w.add_architecture(conv_spec())]
        for i in range(num_networks):
            a = i % 2
            p = rng.normal(size=MLP_PARAMS if a == 0 else CONV_PARAMS).astype(np.float32)
            p[0] = np.float32(1.0) / np.float32(3.0) + np.float32(i)  # values needing full float32 precision
            if nan_weight_in == i:
                p[1] = np.nan
            props = {} if i == 2 else {"test_accuracy": 0.5 + 0.01 * i}
            if i >= 3:
                props["loss"] = 1.0 / (i + 1)
            meta = {}
            if i != 1:
                meta["optimizer"] = ["adam", "sgd", "adamw \u00e9"][i % 3]
            if i != 4:
                meta["seed"] = i * 7
            w.append(archs[a], p, properties=props, metadata=meta)
            expected["arch"].append(a)
            expected["row"].append(rows[a])
            rows[a] += 1
            expected["params"].append(p)
            expected["props"]["test_accuracy"].append(props.get("test_accuracy", math.nan))
            expected["props"]["loss"].append(props.get("loss", math.nan))
            expected["meta"]["optimizer"].append(meta.get("optimizer", ""))
            expected["meta"]["seed"].append(float(meta.get("seed", math.nan)))
        splits = {"train": list(range(0, num_networks - 3)), "test": list(range(num_networks - 3, num_networks)),
                  "protocol_test": [num_networks - 1, 0, num_networks - 1, 1]}
        for name, idx in splits.items():
            w.set_split(name, idx)
    expected["splits"] = {k: sorted(set(v)) for k, v in splits.items()}
    return expected


@contextlib.contextmanager
def small_disk(path, size):
    """A tmpfs of `size` (e.g. "128k") mounted at the new folder `path` for a full-disk test, unmounted at the
    end. Raises unittest.SkipTest when not root or when the mount fails."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        raise unittest.SkipTest("needs root to mount a small tmpfs")
    os.makedirs(path)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True).returncode:
        raise unittest.SkipTest("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)
