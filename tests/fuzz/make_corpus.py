#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz): small, valid inputs of each kind, from which the
fuzzers mutate, and the inputs that once found a defect (tests/fuzz/regressions/KIND). ctest runs it before the replay pass; scripts/fuzz.sh before the libFuzzer runs.

    make_corpus.py OUT_DIR      -> OUT_DIR/{json,config,zoo,images,checkpoint}/

The checkpoint seeds are real checkpoints, trained by the sne binary named by $SNE_BINARY on a toy zoo (an SNE
and the baselines); without it that kind's corpus holds the regressions only.
"""
import gzip
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import numpy as np  # noqa: E402
from zoo_fixtures import SOURCE_DIR, conv_spec, mlp_spec, sne_zoo, write_mixed_zoo  # noqa: E402


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def json_seeds(d):
    write(os.path.join(d, "spec_mlp.json"), json.dumps(mlp_spec()))
    write(os.path.join(d, "spec_conv.json"), json.dumps(conv_spec(), indent=2))
    write(os.path.join(d, "manifest.json"), json.dumps(
        {"model.pt": {"bytes": 1234, "crc32": "0a1b2c3d"}, "state.json": {"bytes": 99, "crc32": "deadbeef"}}, indent=2))
    write(os.path.join(d, "state.json"), json.dumps(
        {"epoch": 3, "step": 120, "best_metric": 0.25, "stale_epochs": 0, "zoo": {"networks": 60, "bytes": 1 << 20},
         "rng": [1, 2, 3], "note": "caf\u00e9 \u2014 \"quoted\"\n"}))
    write(os.path.join(d, "metrics_line.json"),
          '{"epoch": 2, "step": 6, "train_loss": 0.5, "lr": 1e-3, "validation": {"mse": NaN, "kendall_tau": -0.25}}')
    write(os.path.join(d, "numbers.json"), "[0, -0, 1.5e300, -2.5E-3, 123456789012345678, 0.1, [], {}, null, true]")
    write(os.path.join(d, "escapes.json"), r'["\u0041\u00e9\u20ac\ud83d\ude00", "\\ \/ \b \f \n \r \t", ""]')


def config_seeds(d):
    for root in (os.path.join(SOURCE_DIR, "configs"), os.path.join(SOURCE_DIR, "configs", "cnn")):
        for name in sorted(os.listdir(root)):
            if name.endswith(".yaml"):
                shutil.copy(os.path.join(root, name), os.path.join(d, os.path.basename(root) + "_" + name))
    write(os.path.join(d, "anchors.yaml"),
          "train: &t {epochs: 2, lr: 0.001}\nencoder: {dim: 16, heads: 2}\nzoo: {path: z.h5, reader: {batch_size: 8}}\n"
          "task: {property: frequency, loss: mse}\n")


def compact(path):
    """Rewrites a zoo with chunks of a few entries: a few kB instead of 1 MiB chunks, so that mutations land in
    the structure rather than in zero padding."""
    import h5py
    tmp = path + ".small"
    with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                g = dst.require_group(name)
                for k, v in obj.attrs.items():
                    g.attrs[k] = v
            else:
                shape = obj.shape
                chunks = (max(1, min(4, shape[0])),) + tuple(shape[1:]) if obj.maxshape[0] is None else None
                ds = dst.create_dataset(name, data=obj[()], dtype=obj.dtype, chunks=chunks,
                                        maxshape=obj.maxshape if chunks else None)
                for k, v in obj.attrs.items():
                    ds.attrs[k] = v
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        src.visititems(copy)
    os.replace(tmp, path)


def zoo_seeds(d):
    write_mixed_zoo(os.path.join(d, "mixed.h5"), num_networks=6, seed=0)
    rng = np.random.default_rng(1)
    with sne_zoo.ZooWriter(os.path.join(d, "mlp.h5"), {"kind": "generator", "name": "sine",
                                                       "recipe": {"count": 4}}) as w:
        a = w.add_architecture(mlp_spec())
        for i in range(4):
            w.append(a, rng.standard_normal(17).astype(np.float32), properties={"frequency": 1.0 + i},
                     metadata={"optimizer": ["adam", "sgd"][i % 2], "seed": float(i)})
        w.set_split("train", [0, 1])
        w.set_split("validation", [2])
        w.set_split("test", [3])
    for name in ("mixed.h5", "mlp.h5"):
        compact(os.path.join(d, name))


def image_seeds(d):
    images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    idx = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">3i", 3, 4, 4) + images.tobytes()
    labels = struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">i", 3) + bytes([1, 7, 9])
    write(os.path.join(d, "images.idx"), idx)
    write(os.path.join(d, "labels.idx"), labels)
    write(os.path.join(d, "images.idx.gz"), gzip.compress(idx, mtime=0))
    write(os.path.join(d, "cifar_batch.bin"), bytes([3]) + bytes(range(256)) * 12 + bytes([5]) + bytes(3072))


def pack_checkpoint(folder):
    """fuzz_checkpoint.cpp's input: state.json, config.yaml, model.pt, optimizer.pt, each as a 4-byte
    little-endian length and its bytes."""
    out = b""
    for name in ("state.json", "config.yaml", "model.pt", "optimizer.pt"):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        out += struct.pack("<I", len(data)) + data
    return out


def checkpoint_seeds(d):
    sne = os.environ.get("SNE_BINARY")
    if not sne:
        return
    import subprocess
    import tempfile
    sys.path.insert(0, os.path.join(HERE, "..", "cli"))
    from test_train import write_config, write_zoo
    with tempfile.TemporaryDirectory() as tmp:
        zoo = os.path.join(tmp, "toy.h5")
        write_zoo(zoo, n=20)
        for model in ("sne", "statnn", "deepsets"):
            config = os.path.join(tmp, model + ".yaml")
            write_config(config, zoo, "epochs: 1, lr: 0.001, warmup_steps: 1")
            run = os.path.join(tmp, model)
            subprocess.run([sne, "train", config, "--run-dir", run, "--threads", "1", "--set", f"model={model}"],
                           check=True, capture_output=True)
            write(os.path.join(d, model + ".ckpt"), pack_checkpoint(os.path.join(run, "checkpoints", "last")))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    for kind, fill in (("json", json_seeds), ("config", config_seeds), ("zoo", zoo_seeds), ("images", image_seeds),
                       ("checkpoint", checkpoint_seeds)):
        d = os.path.join(out, kind)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        fill(d)
        # Inputs that found defects (tests/fuzz/regressions/KIND): every pass replays and mutates them too.
        regressions = os.path.join(HERE, "regressions", kind)
        if os.path.isdir(regressions):
            for name in sorted(os.listdir(regressions)):
                shutil.copy(os.path.join(regressions, name), os.path.join(d, "regression_" + name))
    print(f"{out}: seed corpus of json, config, zoo, images and checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
