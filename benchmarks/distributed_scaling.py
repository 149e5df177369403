#!/usr/bin/env python3
"""Data-parallel `sne train` on this machine, side by side in one invocation: one process against two processes
(Gloo on loopback, launched with torchrun's variables), end to end through the binary on a real zoo, and the
all-reduce's share of the steps. Then a projection for 8 GPUs x N nodes from the measured gradient size.

    /usr/bin/python3 benchmarks/distributed_scaling.py --config configs/default.yaml --epochs 3 --out /tmp/dp-bench

Rows (the same config, seed and global batch in each):
  1 process x T threads          the plain single-process path (train.data_shards 1)
  1 process x T/2 threads        what one of the two processes below would do alone
  1 process x T threads, 2 shards   the sharded step alone (two half batches, no communication)
  2 processes x T/2 threads      data-parallel, 2 shards: the same cores as the first row, split in two
  ... one 64 MiB bucket          the same, with the whole gradient reduced after the backward pass (no overlap)
The wait column is the time a step waits after its backward pass: for the all-reduce, and for the slower rank.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LINE = re.compile(r"training steps: (\d+) networks in ([\d.]+) s, ([\d.]+) networks/s"
                  r"(?: on (\d+) processes; ([\d.]+) s)?")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(sne, config, run_dir, world, threads, shards, epochs, extra, bucket_kb=None):
    shutil.rmtree(run_dir, ignore_errors=True)
    args = [sne, "train", config, "--run-dir", run_dir, "--threads", str(threads), "--set", f"train.epochs={epochs}",
            "--set", f"train.data_shards={shards}", "--log-level", "info", *extra]
    if bucket_kb:
        args += ["--dist-bucket-kb", str(bucket_kb)]
    port = free_port()
    procs = []
    for r in range(world):
        env = dict(os.environ)
        if world > 1:
            env.update(RANK=str(r), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=str(port))
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate() for p in procs]
    for p, (_, err) in zip(procs, outs):
        if p.returncode != 0:
            sys.exit(f"sne train failed ({p.returncode}):\n{err}")
    m = LINE.search(outs[0][1])
    if not m:
        sys.exit("no throughput line in sne's log:\n" + outs[0][1])
    with open(os.path.join(run_dir, "checkpoints/last/state.json")) as f:
        steps = json.load(f)["step"]
    return {"networks": int(m.group(1)), "seconds": float(m.group(2)), "rate": float(m.group(3)),
            "reduce": float(m.group(5) or 0), "steps": steps}


ALLREDUCE = r"""
import os, sys, time, torch, torch.distributed as dist
dist.init_process_group("gloo", rank=int(sys.argv[1]), world_size=2, init_method="tcp://127.0.0.1:" + sys.argv[2])
t = torch.zeros(int(sys.argv[3]))
times = []
for _ in range(60):
    dist.barrier()
    t0 = time.perf_counter()
    dist.all_reduce(t)
    times.append(time.perf_counter() - t0)
if dist.get_rank() == 0:
    print(sorted(times[10:])[len(times[10:]) // 2])
"""


def allreduce_ms(numel):
    """The median time of one all-reduce of `numel` floats between 2 processes (torch.distributed, Gloo)."""
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, "-c", ALLREDUCE, str(r), port, str(numel)], stdout=subprocess.PIPE,
                              text=True) for r in range(2)]
    out = [p.communicate()[0] for p in procs]
    return 1000 * float(out[0])


def parameters(run_dir):
    import torch
    sd = torch.jit.load(os.path.join(run_dir, "checkpoints/last/model.pt")).state_dict()
    return sum(v.numel() for v in sd.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sne", default=os.path.join(ROOT, "build/apps/sne"))
    ap.add_argument("--config", default=os.path.join(ROOT, "configs/default.yaml"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="cores in all (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row, alternating; the median is shown")
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", action="append", default=[], help="extra --set for every run")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    extra = [x for s in a.set for x in ("--set", s)]
    t = a.threads
    half = max(1, t // 2)
    rows = [
        (f"1 process x {t} threads", 1, t, 1, None),
        (f"1 process x {half} threads", 1, half, 1, None),
        (f"1 process x {t} threads, 2 shards", 1, t, 2, None),
        (f"2 processes x {half} threads", 2, half, 2, None),
        (f"2 processes x {half}, one 64 MiB bucket", 2, half, 2, 65536),
    ]
    runs = {name: [] for name, *_ in rows}
    for rep in range(a.repeat):  # the rows alternate, so a slow spell of the machine hits every row alike
        for name, world, threads, shards, bucket in rows:
            runs[name].append(run(a.sne, a.config, os.path.join(a.out, f"w{world}s{shards}b{bucket or 0}"), world,
                                  threads, shards, a.epochs, extra, bucket))
    results = []
    for name, *_ in rows:
        rs = sorted(runs[name], key=lambda r: r["rate"])
        r = rs[len(rs) // 2]  # the median run
        results.append((name, r))
        rates = ", ".join("%.1f" % x["rate"] for x in runs[name])
        spread = f" (runs: {rates})" if a.repeat > 1 else ""
        print(f"{name:38s} {r['rate']:8.1f} networks/s  {1000 * r['seconds'] / r['steps']:7.1f} ms/step  "
              f"all-reduce wait {1000 * r['reduce'] / r['steps']:6.2f} ms/step ({100 * r['reduce'] / r['seconds']:4.1f} %)"
              + spread, flush=True)
    base = results[0][1]["rate"]
    print("\nratios to the first row: " + ", ".join(f"{n}: {r['rate'] / base:.2f}x" for n, r in results[1:]))
    n_params = parameters(os.path.join(a.out, "w1s1b0"))
    grad_mb = 4 * n_params / 1e6
    dp = results[3][1]
    alone_ms = allreduce_ms(n_params)
    print(f"adding a process: {dp['rate'] / results[1][1]['rate']:.2f}x the networks/s of one process with the same "
          "threads per process")
    print(f"\nmodel: {n_params} parameters, {grad_mb:.2f} MB of float32 gradients per step; one all-reduce of it "
          f"between 2 processes on loopback (torch.distributed, Gloo, nothing else running): {alone_ms:.2f} ms")
    print("\nprojection, ring all-reduce over W = 8 x N GPUs: each GPU sends and receives 2 (W - 1) / W x "
          f"{grad_mb:.2f} MB per step; time = that / link bandwidth + 2 (W - 1) x latency (5 us a hop)")
    print(f"{'nodes':>5s} {'W':>4s} " + " ".join(f"{bw:>12s}" for bw in ("25 Gb/s", "100 Gb/s", "400 Gb/s")))
    for nodes in (1, 2, 4, 8, 16):
        w = 8 * nodes
        cells = []
        for gbps in (25, 100, 400):
            seconds = 2 * (w - 1) / w * grad_mb * 8e6 / (gbps * 1e9) + 2 * (w - 1) * 5e-6
            cells.append(f"{1000 * seconds:9.2f} ms")
        print(f"{nodes:5d} {w:4d} " + " ".join(f"{c:>12s}" for c in cells))
    print("(within a node NVLink is far faster than these links; the slowest link of the ring sets the time.) The "
          "all-reduce stays under 10 % of a step while the step's compute takes more than 9 times the table's time.")


if __name__ == "__main__":
    main()
