#!/usr/bin/python3
"""`sne zoo generate sine` end to end against the in-repo one-at-a-time PyTorch fitter, in one invocation.

  /usr/bin/python3 benchmarks/generate_side_by_side.py [--build build] [--count 1000] [--ref-count 60]
                                                       [--threads 2] [--python PATH] [--out DIR]

1. BUILD/apps/sne zoo generate sine --count COUNT --threads T -o DIR/sine.h5 (a fresh file; HDF5 writing, splits and
   progress included): INRs/s from the command's wall clock, its mean Adam steps per INR from its summary line.
2. PYTHON benchmarks/reference/sine_reference.py --count REF_COUNT --threads T: the same recipe, one INR at a time
   (nn.Linear SIREN, torch.optim.Adam).
3. The ratios in INRs/s and in INR-steps/s (INRs/s x mean steps: independent of the frequency draws), and the
   fraction of the FLOP floor: 12.6 MFLOP per INR-step (2000 points, hidden 32: forward and backward of the
   32x32 layer dominate) at the machine's float32 sgemm rate (bench_sine_generate's 1024^3 matmul).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--ref-count", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or os.path.join(a.build, "generate_side_by_side")
    os.makedirs(out, exist_ok=True)
    zoo = os.path.join(out, "sine.h5")
    if os.path.exists(zoo):
        os.remove(zoo)
    sne = os.path.join(a.build, "apps", "sne")
    cmd = [sne, "zoo", "generate", "sine", "--count", str(a.count), "--threads", str(a.threads), "-o", zoo]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    sec = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"generate_side_by_side: sne failed (exit {p.returncode}):\n{p.stderr}")
    m = re.search(r"mean (\d+) steps", p.stdout + p.stderr)
    if not m:
        sys.exit("generate_side_by_side: no 'mean N steps' in sne's output:\n" + p.stdout + p.stderr)
    sne_steps = float(m.group(1))
    ref_json = os.path.join(out, "ref.json")
    rcmd = [a.python, os.path.join(HERE, "reference", "sine_reference.py"), "--count", str(a.ref_count),
            "--threads", str(a.threads), "--json", ref_json]
    print("$ " + " ".join(rcmd), flush=True)
    r = subprocess.run(rcmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"generate_side_by_side: the reference failed (exit {r.returncode}):\n{r.stderr}")
    print("  " + r.stdout.strip())
    ref = json.load(open(ref_json))
    bcmd = [os.path.join(a.build, "benchmarks", "bench_sine_generate"), "--steps", "1", "--inrs", "1", "--batches", "1",
            "--threads", str(a.threads)]
    b = subprocess.run(bcmd, capture_output=True, text=True)
    pm = re.search(r"matmul 1024\^3: ([0-9.]+) GFLOP/s", b.stdout)
    peak = float(pm.group(1)) if pm else float("nan")
    sne_rate = a.count / sec
    sne_steps_rate = sne_rate * (sne_steps + 1)  # + the final check, as the reference counts it
    floor = 12.6e6
    res = dict(sne_inrs=a.count, sne_seconds=sec, sne_inrs_per_s=sne_rate, sne_mean_steps=sne_steps,
               sne_inr_steps_per_s=sne_steps_rate, ref=ref, matmul_gflops=peak,
               ratio_inrs=sne_rate / ref["inrs_per_s"], ratio_steps=sne_steps_rate / ref["inr_steps_per_s"],
               sne_pct_floor=100 * sne_steps_rate * floor / 1e9 / peak,
               ref_pct_floor=100 * ref["inr_steps_per_s"] * floor / 1e9 / peak)
    print(f"\nsine INRs on {a.threads} threads, sgemm peak {peak:.0f} GFLOP/s, 12.6 MFLOP per INR-step\n")
    print("| | INRs | seconds | INRs/s | mean steps | INR-steps/s | % of FLOP floor |")
    print("|---|---|---|---|---|---|---|")
    print(f"| sne zoo generate sine | {a.count} | {sec:.1f} | {sne_rate:.2f} | {sne_steps:.0f} | {sne_steps_rate:.0f} | "
          f"{res['sne_pct_floor']:.1f} |")
    print(f"| PyTorch, one at a time | {ref['inrs']} | {ref['seconds']:.1f} | {ref['inrs_per_s']:.2f} | "
          f"{ref['steps'] / ref['inrs'] - 1:.0f} | {ref['inr_steps_per_s']:.0f} | {res['ref_pct_floor']:.1f} |")
    print(f"\nsne / PyTorch: {res['ratio_inrs']:.1f}x in INRs/s, {res['ratio_steps']:.1f}x in INR-steps/s")
    with open(os.path.join(out, "generate_side_by_side.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
