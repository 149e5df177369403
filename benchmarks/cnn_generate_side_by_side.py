#!/usr/bin/python3
"""`sne zoo generate cnn` (arch1, fashion-mnist, reduced recipe) end to end against a one-at-a-time PyTorch loop.

  /usr/bin/python3 benchmarks/cnn_generate_side_by_side.py [--build build] [--count 64] [--parallel 32]
      [--ref-networks 8] [--threads 2] [--python PATH] [--out DIR] [--set KEY=VALUE ...]
      [--ref-sne-malloc]

1. BUILD/apps/sne zoo generate cnn configs/cnn/zoo_fashion_mnist_arch1.yaml configs/cnn/reduced_cpu.yaml
   --set generate.cnn.count=COUNT --set generate.cnn.parallel=PARALLEL [--set KEY=VALUE ...] --threads T
   -o DIR/cnn.h5, into a fresh file: reading the dataset, training, evaluation, HDF5 writing and splits included;
   seconds are the command's wall clock (its progress lines, with their ETA, are echoed as they come).
2. PYTHON benchmarks/reference/cnn_reference.py --networks REF_NETWORKS --threads T with the recipe the zoo
   recorded (provenance/ "recipe": epochs, checkpoint epochs, batch size, train/test/train-eval examples, the
   sampled lists and ranges; the dataset folder from provenance "data"), so both train the same recipe.
3. A markdown table and the ratios sne / PyTorch.

Counting. An image-step is one training image through one network's forward, backward and update; image-steps/s
sums them over all networks (sne trains PARALLEL at once, the reference one at a time, so for the reference it is
also the rate of a single network). The training fraction is sampled per network and sets the work: a network
with subset m = round(fraction * train images) does epochs * ceil(m / batch) * batch image-steps (full batches,
topped up from the epoch's start). sne's are computed from what the zoo records per run (metadata/train_fraction)
and the recipe in its provenance, not from its log (which gives only network-epochs). The reference gives
network k the k-th fraction of the recipe's list in turn (cnn_reference.py --fraction-sampling cycle), so with
REF_NETWORKS a multiple of the list's length (4 by default) it trains exactly the recipe's expected mix. sne's draw
of COUNT runs has its own mix, so the table also gives networks/hour at the expected mix, image-steps/s divided by
the expected image-steps of one network: the fair networks/hour comparison. A batch of PARALLEL runs (sorted by
fraction) takes as many steps per epoch as its largest subset needs; sne skips the runs that are done
meanwhile, so only useful image-steps are computed and counted. sne's seconds include reading the dataset (once); the
reference's exclude it (its load_seconds are printed), a one-off cost that would weigh on its few networks.
--ref-sne-malloc runs the reference with sne's glibc malloc thresholds (apps/sne/main.cpp), through the
environment; by default it runs as a researcher runs it. Both use the same libtorch_cpu.so here.
The defaults (64 networks, 32 at once, against 8; the reduced recipe) should take 1-3 minutes on 2 quiet cores
(about 1.3M image-steps for sne, 150k for the reference). Run it on a quiet machine: two OpenMP threads that share
their cores with another process slow down many times over.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# The reference's recipe options, read from the zoo's provenance recipe.
RECIPE_KEYS = ("epochs", "checkpoint_epochs", "batch_size", "train_examples", "test_examples", "train_eval_examples",
               "activations", "optimizers", "inits", "train_fractions", "lr_min", "lr_max", "l2_min", "l2_max",
               "dropout_max", "init_std_min", "init_std_max")


def subset_size(fraction, n_train):
    return max(1, math.floor(fraction * n_train + 0.5))  # llround, as cnn_runs.cpp


def image_steps(fraction, n_train, batch, epochs):
    return epochs * -(-subset_size(fraction, n_train) // batch) * batch


def read_zoo(path):
    import h5py  # only needed here

    with h5py.File(path, "r") as f:
        prov = json.loads(f["provenance"].attrs["json"])
        run = f["networks/metadata/run"][:]
        frac = f["networks/metadata/train_fraction"][:]
        diverged = f["networks/metadata/diverged_epoch"][:]
        final = f["networks/properties/test_accuracy"][:]
        step = f["networks/properties/step"][:]
    runs = {}
    for i in range(len(run)):
        runs.setdefault(int(run[i]), dict(fraction=float(frac[i]), diverged=not math.isnan(diverged[i])))
        if step[i] == prov["recipe"]["epochs"]:
            runs[int(run[i])]["final_test_accuracy"] = float(final[i])
    return prov, runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--count", type=int, default=64, help="sne's networks (a multiple of --parallel)")
    ap.add_argument("--parallel", type=int, default=32, help="generate.cnn.parallel (sne's default 32)")
    ap.add_argument("--ref-networks", type=int, default=8, help="the reference's networks (a multiple of 4)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out", default=None)
    ap.add_argument("--ref-sne-malloc", action="store_true",
                    help="run the reference with sne's malloc thresholds (MALLOC_MMAP_THRESHOLD_, ..._TRIM_...)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="another sne setting (e.g. generate.cnn.epochs=1); the reference follows the zoo's recipe")
    a = ap.parse_args()
    if a.count % a.parallel != 0 and a.count > a.parallel:
        print(f"note: --count {a.count} is not a multiple of --parallel {a.parallel}: the last batch is smaller",
              flush=True)
    out = a.out or os.path.join(a.build, "cnn_generate_side_by_side")
    os.makedirs(out, exist_ok=True)
    zoo = os.path.join(out, "cnn.h5")
    if os.path.exists(zoo):
        os.remove(zoo)

    sne = os.path.join(a.build, "apps", "sne")
    cmd = [sne, "zoo", "generate", "cnn", os.path.join(REPO, "configs/cnn/zoo_fashion_mnist_arch1.yaml"),
           os.path.join(REPO, "configs/cnn/reduced_cpu.yaml"), "--set", f"generate.cnn.count={a.count}",
           "--set", f"generate.cnn.parallel={a.parallel}"]
    for kv in a.set:
        cmd += ["--set", kv]
    cmd += ["--threads", str(a.threads), "-o", zoo]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    log = []
    for line in p.stdout:
        log.append(line)
        print("  " + line.rstrip(), flush=True)
    p.wait()
    sec = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"cnn_generate_side_by_side: sne failed (exit {p.returncode})")

    prov, runs = read_zoo(zoo)
    r = prov["recipe"]
    if len(runs) != a.count:
        sys.exit(f"cnn_generate_side_by_side: {zoo} holds {len(runs)} runs, expected {a.count}")
    train_images = prov["data"]["train_images"]
    n_train = r["train_examples"] if 0 < r["train_examples"] < train_images else train_images
    B, E = r["batch_size"], r["epochs"]
    useful = sum(image_steps(x["fraction"], n_train, B, E) for x in runs.values())
    # sne's batches: the runs in order, stable-sorted by fraction, PARALLEL at a time; each as long as its largest.
    order = sorted(runs, key=lambda k: runs[k]["fraction"])
    computed = 0
    for b in range(0, len(order), a.parallel):
        batch = order[b:b + a.parallel]
        computed += len(batch) * max(image_steps(runs[k]["fraction"], n_train, B, E) for k in batch)
    fractions = [float(f) for f in r["train_fractions"].split(",")]
    expected = sum(image_steps(f, n_train, B, E) for f in fractions) / len(fractions)
    if a.ref_networks % len(fractions):
        print(f"note: --ref-networks {a.ref_networks} is not a multiple of {len(fractions)} (the training fractions): "
              "the reference's mix is not the expected one", flush=True)

    ref_json = os.path.join(out, "ref.json")
    rcmd = [a.python, os.path.join(HERE, "reference", "cnn_reference.py"), "--networks", str(a.ref_networks),
            "--threads", str(a.threads), "--data-dir", prov["data"]["dir"], "--json", ref_json]
    for key in RECIPE_KEYS:
        rcmd += ["--" + key.replace("_", "-"), str(r[key])]
    print("$ " + " ".join(rcmd), flush=True)
    env = dict(os.environ)
    if a.ref_sne_malloc:
        env.update(MALLOC_MMAP_THRESHOLD_=str(32 << 20), MALLOC_TRIM_THRESHOLD_=str(256 << 20))
        print("  (with MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456)", flush=True)
    rp = subprocess.run(rcmd, capture_output=True, text=True, env=env)
    if rp.returncode != 0:
        sys.exit(f"cnn_generate_side_by_side: the reference failed (exit {rp.returncode}):\n{rp.stderr}")
    print("  " + rp.stdout.strip())
    ref = json.load(open(ref_json))

    sne_rate = useful / sec
    finals = sorted(x.get("final_test_accuracy", math.nan) for x in runs.values())
    res = dict(sne=dict(networks=a.count, parallel=a.parallel, seconds=sec, networks_per_hour=3600 * a.count / sec,
                        image_steps=useful, computed_image_steps=computed, image_steps_per_s=sne_rate,
                        computed_image_steps_per_s=computed / sec, image_steps_per_network=useful / a.count,
                        networks_per_hour_expected_mix=3600 * sne_rate / expected,
                        diverged=sum(x["diverged"] for x in runs.values()),
                        final_test_accuracy_median=finals[len(finals) // 2],
                        generation_seconds=prov.get("generation_seconds")),
               ref=ref, ref_sne_malloc=a.ref_sne_malloc, recipe=r, train_images=n_train,
               expected_image_steps_per_network=expected, threads=a.threads)
    res["ref"]["networks_per_hour_expected_mix"] = 3600 * ref["image_steps_per_s"] / expected
    s, q = res["sne"], res["ref"]
    res["ratio_image_steps_per_s"] = s["image_steps_per_s"] / q["image_steps_per_s"]
    res["ratio_networks_per_hour"] = s["networks_per_hour"] / q["networks_per_hour"]
    res["ratio_networks_per_hour_expected_mix"] = (s["networks_per_hour_expected_mix"] /
                                                   q["networks_per_hour_expected_mix"])

    print(f"\narch1 on fashion-mnist, {E} epochs (checkpoints {r['checkpoint_epochs']}), {n_train} training images, "
          f"batch {B}, {a.threads} threads; expected {expected:.0f} image-steps per network\n")
    print("| | networks | seconds | networks/hour | image-steps/s | mean image-steps/network | "
          "networks/hour at the expected mix | final test acc. (median) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| sne zoo generate cnn ({a.parallel} at once) | {a.count} | {sec:.1f} | {s['networks_per_hour']:.0f} | "
          f"{sne_rate:.0f} | {s['image_steps_per_network']:.0f} | {s['networks_per_hour_expected_mix']:.0f} | "
          f"{s['final_test_accuracy_median']:.3f} |")
    print(f"| PyTorch, one at a time | {q['networks']} | {q['seconds']:.1f} | {q['networks_per_hour']:.0f} | "
          f"{q['image_steps_per_s']:.0f} | {q['image_steps_per_network']:.0f} | "
          f"{q['networks_per_hour_expected_mix']:.0f} | {q['final_test_accuracy_median']:.3f} |")
    print(f"| sne / PyTorch | | | {res['ratio_networks_per_hour']:.2f}x | {res['ratio_image_steps_per_s']:.2f}x | | "
          f"{res['ratio_networks_per_hour_expected_mix']:.2f}x | |")
    print(f"\nsne: {useful} image-steps (its batches span {computed} image-steps of steps: the runs done before "
          f"their batch's largest are skipped, not computed); {s['diverged']} diverged. PyTorch: training only {q['train_image_steps_per_s']:.0f} "
          f"image-steps/s, {q['seconds_per_network']:.2f} s/network, dataset read in {q['load_seconds']:.1f} s "
          f"(not in its seconds); {q['diverged']} diverged.")
    with open(os.path.join(out, "cnn_generate_side_by_side.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
