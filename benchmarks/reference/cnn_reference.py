#!/usr/bin/python3
"""The arch1 CNN-zoo recipe of `sne zoo generate cnn`, one network at a time, as a researcher writes it in PyTorch.

  /usr/bin/python3 benchmarks/reference/cnn_reference.py [--networks 4] [--threads 2] [--json OUT]
      [--epochs 86] [--checkpoint-epochs 0,1,2,3,20,40,60,80,86] [--train-examples 0] [--test-examples 0]
      [--train-eval-examples 10000] [--batch-size 512] [--data-dir /usr/share/datasets/fashion-mnist]
      [--fraction-sampling cycle|random] [--seed 0] [--RECIPE-KEY VALUE ...]
  The reduced recipe of configs/cnn/reduced_cpu.yaml:
      ... --epochs 4 --checkpoint-epochs 0,1,2,4 --train-examples 10000 --test-examples 2000 --train-eval-examples 1000

The model is Unterthiner et al.'s Small CNN as lib/generators/cnn_arch.cpp declares arch1: 3 x [nn.Conv2d(16, 3x3,
stride 2, no padding) -> activation -> nn.Dropout], global average pooling, nn.Linear(16, 10) (4970 parameters).
Per network, as lib/generators/cnn_runs.cpp samples them: activation ~ U{relu, tanh, elu}, optimiser ~ U{sgd, adam,
rmsprop} (torch.optim.SGD without momentum; Adam betas (0.9, 0.999), eps 1e-7; RMSprop alpha 0.9, eps 1e-7: sne's
update rules), init ~ U{normal(init_std), truncated_normal(init_std, cut at 2 std), glorot_uniform, he_normal} on the
conv/linear weights with zero biases, lr ~ logU[5e-4, 5e-2], L2 ~ logU[1e-8, 1e-2] added to the loss as
l2 * sum of squared weights (not biases), dropout ~ U(0, 0.5), training fraction of the images ~ U{0.1, 0.25, 0.5, 1}.
Images: the IDX files, pixels / 127.5 - 1, the first train_examples / test_examples (0 = all). A network trains on
its own random subset of round(fraction * train images); each epoch it shuffles the subset and takes
ceil(subset / batch) batches of exactly batch_size images, the last one topped up from the start of the epoch's
order, as sne does. At each checkpoint epoch (0 = before training) it is evaluated without dropout: loss and
accuracy on all test images, and on the first min(train_eval_examples, subset) images of its subset; its weights
are copied out (kept in memory: sne writes them to HDF5, a few KiB per checkpoint). A network whose update makes its
weights non-finite gets its last finite weights back and stops training (sne's rule).

Draws: numpy and torch generators, not sne's mt19937_64 draws; the distributions are sne's. The cost of a network
hardly depends on its learning rate, optimiser or initialisation, but is proportional to its training fraction, so
--fraction-sampling cycle (the default) gives network k the k-th fraction of the list in turn: with --networks a
multiple of the list's length the mix of fractions is exactly the recipe's expected one, and seconds per network
and networks/hour are those of the recipe rather than of a lucky or unlucky draw. `random` samples them as sne does.
The recipe defaults are sne's defaults (the full recipe: 86 epochs, all images).

An image-step is one training image through one network's forward, backward and update: a network does
epochs * ceil(subset / batch) * batch of them (fewer if it diverged). Prints one line; --json writes
{"networks", "seconds", "train_seconds", "eval_seconds", "load_seconds", "image_steps", "image_steps_per_network",
"image_steps_per_s", "train_image_steps_per_s", "seconds_per_network", "networks_per_hour", "threads", ...}:
image_steps_per_s = image_steps / seconds (evaluation, initialisation and checkpoint copies included),
train_image_steps_per_s = image_steps / train_seconds (the update loops only). `seconds` excludes reading the
dataset once (load_seconds), a one-off cost. Kernels: this torch and sne's LibTorch are the same libtorch_cpu.so
here (1.13). sne's process also sets glibc's malloc thresholds (apps/sne/main.cpp: mmap 32 MiB, trim 256 MiB); a
researcher's script runs with glibc's defaults, but MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456
in the environment gives it sne's. On a busy machine OpenMP threads that wait on each other slow --threads 2
by up to 10x (seen here with both cores taken): measure on a quiet machine.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters

# sne's defaults for generate.cnn (lib/config/settings.cpp), arch1 on fashion-mnist.
RECIPE = dict(epochs=86, checkpoint_epochs="0,1,2,3,20,40,60,80,86", batch_size=512, train_examples=0,
              test_examples=0, train_eval_examples=10000, activations="relu,tanh,elu", optimizers="sgd,adam,rmsprop",
              inits="normal,truncated_normal,glorot_uniform,he_normal", train_fractions="0.1,0.25,0.5,1",
              lr_min=5e-4, lr_max=5e-2, l2_min=1e-8, l2_max=1e-2, dropout_max=0.5, init_std_min=1e-3,
              init_std_max=0.5)
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}


class SmallCNN(nn.Module):
    """arch1: 3 x [Conv2d(16, 3x3, stride 2, valid) -> activation -> dropout], global average pool, Linear(16, 10)."""

    def __init__(self, channels, classes, activation, dropout):
        super().__init__()
        layers = []
        for i in range(3):
            layers += [nn.Conv2d(channels if i == 0 else 16, 16, 3, stride=2), ACTIVATIONS[activation](),
                       nn.Dropout(dropout)]
        self.features = nn.Sequential(*layers)
        self.dense = nn.Linear(16, classes)

    def forward(self, x):
        return self.dense(self.features(x).mean((2, 3)))


def initialise(model, init, std):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if init == "normal":
                nn.init.normal_(m.weight, 0.0, std)
            elif init == "truncated_normal":
                nn.init.trunc_normal_(m.weight, 0.0, std, -2 * std, 2 * std)
            elif init == "glorot_uniform":
                nn.init.xavier_uniform_(m.weight)
            else:  # he_normal: N(0, 2 / fan_in)
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def make_optimizer(name, params, lr):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7)
    return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)


def read_idx(data_dir, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            with (gzip.open if name.endswith(".gz") else open)(path, "rb") as f:
                raw = f.read()
            if raw[:3] != b"\0\0\x08":
                raise SystemExit(f"cnn_reference: {path} is not an unsigned-byte IDX file")
            nd = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * d:8 + 4 * d], "big") for d in range(nd)]
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)
    raise SystemExit(f"cnn_reference: no {stem}[.gz] in {data_dir}")


def load(data_dir, split, limit):
    x = read_idx(data_dir, f"{split}-images-idx3-ubyte")
    y = read_idx(data_dir, f"{split}-labels-idx1-ubyte")
    n = min(limit, len(x)) if limit > 0 else len(x)
    images = torch.from_numpy(x[:n].copy()).unsqueeze(1).float() / 127.5 - 1.0  # (n, 1, H, W) in [-1, 1]
    return images, torch.from_numpy(y[:n].astype(np.int64))


@torch.no_grad()
def evaluate(model, x, y, chunk=16384):
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), chunk):
        logits = model(x[i:i + chunk])
        loss += F.cross_entropy(logits, y[i:i + chunk], reduction="sum").item()
        correct += (logits.argmax(1) == y[i:i + chunk]).sum().item()
    model.train()
    return loss / len(x), correct / len(x)


def sample_run(r, rng, k, mode):
    pick = lambda key: str(rng.choice(r[key].split(",")))
    logu = lambda lo, hi: float(np.exp(rng.uniform(np.log(r[lo]), np.log(r[hi]))))
    fractions = [float(f) for f in r["train_fractions"].split(",")]
    run = dict(activation=pick("activations"), optimizer=pick("optimizers"), init=pick("inits"),
               lr=logu("lr_min", "lr_max"), l2=logu("l2_min", "l2_max"),
               dropout=float(rng.uniform(0.0, r["dropout_max"])), init_std=logu("init_std_min", "init_std_max"))
    run["train_fraction"] = fractions[k % len(fractions)] if mode == "cycle" else float(rng.choice(fractions))
    return run


def train_one(r, run, data, checkpoints, gen):
    """One training run; returns (checkpoints, image-steps, diverged epoch or None, train seconds, eval seconds)."""
    train_x, train_y, test_x, test_y = data
    n_train, bs = len(train_x), r["batch_size"]
    model = SmallCNN(train_x.shape[1], 10, run["activation"], run["dropout"])
    initialise(model, run["init"], run["init_std"])
    params = list(model.parameters())
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    opt = make_optimizer(run["optimizer"], params, run["lr"])
    m = max(1, math.floor(run["train_fraction"] * n_train + 0.5))
    subset = torch.randperm(n_train, generator=gen)[:m]
    e = min(r["train_eval_examples"], m)
    eval_x, eval_y = train_x[subset[:e]], train_y[subset[:e]]
    steps = -(-m // bs)
    stored, image_steps, diverged, t_train, t_eval = [], 0, None, 0.0, 0.0

    def checkpoint(epoch):
        t = time.perf_counter()
        te_loss, te_acc = evaluate(model, test_x, test_y)
        tr_loss, tr_acc = evaluate(model, eval_x, eval_y)
        stored.append(dict(epoch=epoch, test_loss=te_loss, test_accuracy=te_acc, train_loss=tr_loss,
                           train_accuracy=tr_acc, params=parameters_to_vector(params).detach().clone()))
        return time.perf_counter() - t

    if 0 in checkpoints:
        t_eval += checkpoint(0)
    for epoch in range(1, r["epochs"] + 1):
        t = time.perf_counter()
        if diverged is None:
            order = subset[torch.randperm(m, generator=gen)]
            order = order[torch.arange(steps * bs) % m]  # full batches: the last is topped up from the start
            for s in range(steps):
                idx = order[s * bs:(s + 1) * bs]
                logits = model(train_x[idx])
                loss = F.cross_entropy(logits, train_y[idx]) + run["l2"] * sum(w.pow(2).sum() for w in weights)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                last = parameters_to_vector(params).detach()
                opt.step()
                image_steps += bs
                if not torch.isfinite(parameters_to_vector(params)).all():
                    with torch.no_grad():
                        vector_to_parameters(last, params)
                    diverged = epoch
                    break
        t_train += time.perf_counter() - t
        if epoch in checkpoints:
            t_eval += checkpoint(epoch)
    return stored, image_steps, diverged, t_train, t_eval


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (0 = all cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--fraction-sampling", choices=("cycle", "random"), default="cycle")
    ap.add_argument("--json")
    for key, value in RECIPE.items():
        ap.add_argument("--" + key.replace("_", "-"), type=type(value), default=value, help=f"(default {value})")
    a = ap.parse_args()
    r = {key: getattr(a, key) for key in RECIPE}
    checkpoints = sorted({int(e) for e in r["checkpoint_epochs"].split(",")})
    if not checkpoints or checkpoints[-1] != r["epochs"] or checkpoints[0] < 0:
        ap.error(f"--checkpoint-epochs must lie in [0, epochs] and include the last epoch ({r['epochs']})")
    for key in ("activations", "optimizers", "inits"):
        known = ACTIVATIONS if key == "activations" else ("sgd", "adam", "rmsprop") if key == "optimizers" else (
            "normal", "truncated_normal", "glorot_uniform", "he_normal")
        bad = [v for v in r[key].split(",") if v not in known]
        if bad:
            ap.error(f"--{key}: unknown {bad} (known: {', '.join(known)})")
    threads = a.threads or os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(a.seed)
    rng, gen = np.random.default_rng(a.seed), torch.Generator().manual_seed(a.seed)

    t0 = time.perf_counter()
    train_x, train_y = load(a.data_dir, "train", r["train_examples"])
    test_x, test_y = load(a.data_dir, "t10k", r["test_examples"])
    load_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    results, image_steps, t_train, t_eval = [], 0, 0.0, 0.0
    for k in range(a.networks):
        run = sample_run(r, rng, k, a.fraction_sampling)
        stored, n, diverged, tt, te = train_one(r, run, (train_x, train_y, test_x, test_y), checkpoints, gen)
        results.append(dict(run, diverged_epoch=diverged, checkpoints=stored))
        image_steps, t_train, t_eval = image_steps + n, t_train + tt, t_eval + te
    sec = time.perf_counter() - t0

    final = sorted(res["checkpoints"][-1]["test_accuracy"] for res in results)
    out = dict(networks=a.networks, seconds=sec, train_seconds=t_train, eval_seconds=t_eval,
               load_seconds=load_seconds, image_steps=image_steps, image_steps_per_network=image_steps / a.networks,
               image_steps_per_s=image_steps / sec, train_image_steps_per_s=image_steps / t_train,
               seconds_per_network=sec / a.networks, networks_per_hour=3600 * a.networks / sec,
               diverged=sum(res["diverged_epoch"] is not None for res in results),
               final_test_accuracy_median=final[len(final) // 2], threads=threads, torch=torch.__version__,
               train_images=len(train_x), test_images=len(test_x), recipe=r,
               fraction_sampling=a.fraction_sampling,
               runs=[{k: v for k, v in res.items() if k != "checkpoints"} for res in results])
    print(f"PyTorch one at a time (torch {torch.__version__}, {threads} threads): {a.networks} arch1 networks in "
          f"{sec:.1f} s (training {t_train:.1f} s, evaluation {t_eval:.1f} s; data read once in {load_seconds:.1f} s), "
          f"{out['seconds_per_network']:.2f} s/network, {out['networks_per_hour']:.0f} networks/hour, "
          f"{out['image_steps_per_s']:.0f} image-steps/s ({out['train_image_steps_per_s']:.0f} training only; mean "
          f"{out['image_steps_per_network']:.0f} image-steps/network), final test accuracy median "
          f"{out['final_test_accuracy_median']:.3f}, "
          f"{out['diverged']} diverged")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
