#!/usr/bin/python3
"""The sine-INR recipe of `sne zoo generate sine`, one INR at a time, as a researcher writes it in PyTorch.

  /usr/bin/python3 benchmarks/reference/sine_reference.py [--count 40] [--threads 2] [--json OUT] [--recipe KEY=VALUE ...]

A SIREN 1 -> h -> h -> 1 (nn.Linear layers, sin(w0 * layer(x)) on the hidden ones, + output_offset), the recipe's
initialisation, torch.optim.Adam with L2 weight decay, trained on `points` samples of amplitude*sin(b*x) on
[-pi, pi) until the MSE reaches target_loss or max_steps updates were made. The frequencies are drawn from
U(freq_min, freq_max) with numpy (the same distribution as sne, not the same draws: compare INR-steps/s, which
does not depend on the draws, and INRs/s over enough INRs). The recipe defaults are sne's defaults.
Prints one line; --json writes {"inrs", "seconds", "steps", "inrs_per_s", "inr_steps_per_s", "threads"}.
"""
import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn

RECIPE = dict(points=2000, hidden=32, w0=30.0, output_offset=0.5, amplitude=1.0, freq_min=0.5, freq_max=10.0,
              lr=1e-3, weight_decay=1e-4, max_steps=1500, target_loss=1e-4)


class Siren(nn.Module):
    def __init__(self, h, w0, offset):
        super().__init__()
        self.l0, self.l1, self.l2 = nn.Linear(1, h), nn.Linear(h, h), nn.Linear(h, 1)
        self.w0, self.offset = w0, offset
        with torch.no_grad():
            for layer, fan_in in ((self.l0, 1), (self.l1, h)):
                bound = math.sqrt(6.0 / fan_in) / w0
                layer.weight.uniform_(-bound, bound)
                layer.bias.zero_()
            # l2 keeps nn.Linear's default, U(+-1/sqrt(h)) for weight and bias: the recipe's last layer.

    def forward(self, x):
        x = torch.sin(self.w0 * self.l0(x))
        x = torch.sin(self.w0 * self.l1(x))
        return self.l2(x) + self.offset


def fit(r, x, frequency):
    model = Siren(r["hidden"], r["w0"], r["output_offset"])
    opt = torch.optim.Adam(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    y = r["amplitude"] * torch.sin(frequency * x)
    steps = 0
    while True:
        loss = nn.functional.mse_loss(model(x), y)
        if loss.item() <= r["target_loss"] or steps >= r["max_steps"]:
            return steps, loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--recipe", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    r = dict(RECIPE)
    for kv in a.recipe:
        k, _, v = kv.partition("=")
        if k not in r:
            ap.error(f"--recipe: unknown key {k!r} (known: {', '.join(r)})")
        r[k] = type(r[k])(v)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    n = r["points"]
    x = (torch.arange(n, dtype=torch.float64) * (2 * math.pi / n) - math.pi).float().unsqueeze(1)
    t0 = time.perf_counter()
    steps = 0
    for _ in range(a.count):
        s, _ = fit(r, x, float(rng.uniform(r["freq_min"], r["freq_max"])))
        steps += s + 1  # the final forward pass counts as a step's forward, like sne's
    sec = time.perf_counter() - t0
    out = dict(inrs=a.count, seconds=sec, steps=steps, inrs_per_s=a.count / sec, inr_steps_per_s=steps / sec,
               threads=a.threads, torch=torch.__version__)
    print(f"PyTorch one at a time (torch {torch.__version__}, {a.threads} threads): {a.count} INRs in {sec:.1f} s, "
          f"{out['inrs_per_s']:.2f} INRs/s, {out['inr_steps_per_s']:.0f} INR-steps/s (mean {steps / a.count:.0f} steps)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
