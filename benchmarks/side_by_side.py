#!/usr/bin/python3
"""sne against an idiomatic PyTorch reference of the same model, measured in one invocation.

  /usr/bin/python3 benchmarks/side_by_side.py [--build build] [--archs siren,small_cnn,...] [--batch 32]
                                              [--repeat 5] [--threads 0] [--device cpu|cuda] [--python PATH]
                                              [--out DIR] [--zoo SINE_ZOO.h5]

1. BUILD/benchmarks/bench_encoder --dump-setup DIR/setup.json --batch B writes the encoder, predictor and
   training settings and the architectures sne's benchmark uses.
2. For each architecture, alternating and each in its own process (so peak RSS is per process):
     BUILD/benchmarks/bench_encoder --arch NAME --batch B --repeat R --threads T --device D
                                    --json DIR/sne_NAME.json
     PYTHON benchmarks/reference/sne_reference.py --setup DIR/setup.json --arch NAME --batch B --repeat R
                                                  --threads T --device D --json DIR/ref_NAME.json
   (PYTHON: --python, default the interpreter running this script; it needs torch.)
3. One table (stdout, DIR/side_by_side.md, DIR/side_by_side.json): encode and train networks/s of both and
   their ratio (sne / reference), the GFLOP/s sne achieves (from the FLOP model below) and as a % of the
   machine's sgemm peak (bench_encoder's matmul_gflops: 1024^3 float32 at the same threads, on the CPU: so
   with --device cuda no % is given), peak RSS (and with --device cuda the reference's peak CUDA memory,
   torch.cuda.max_memory_allocated; bench_encoder does not report sne's).
4. With --zoo PATH (a sine zoo): end to end, `sne train configs/inr_frequency.yaml` for one epoch at --batch and
   `sne encode` with its checkpoint (both with --device D), networks/s next to the benchmark's siren row.

FLOP model (flops_per_network; per network of a batch of one architecture; multiply-adds count 2)
--------------------------------------------------------------------------------------------------
Every matrix product of the forward pass is counted as 2*m*n*k: the value projection, the Q/K/V/O
projections, Q K^T and A V summed over heads, the two feed-forward layers, the predictor's linear layers.
Elementwise work is not counted (LayerNorm, GELU, softmax, masking, the fourier features, positional and
role encodings, residual adds), nor the optimizer or the gradient clip. Sets are counted at the size the
computation runs at, padding included: d = encoder.dim, f = ff_mult*d, c = chunk_size,
e = 1 + 2*fourier_bands (fourier) or 1 (linear value embedding).

  SAB(n) = 4*(2*n*d*d)                 Q, K, V, O projections of a set of n rows
         + 2*n*n*d + 2*n*n*d           Q K^T and A V (all heads together: heads * 2*n*n*(d/heads))
         + 2*(2*n*d*f)                 feed-forward d -> f -> d
  PMA(n) = 2*d*d + 2*(2*n*d*d) + 2*d*d Q of the one seed, K and V of the n rows, O of the one output
         + 2*n*d + 2*n*d               q K^T and a V
         + 2*(2*d*f)                   feed-forward of the one output row

  stage 1, per chunk (K chunks/network):   2*c*e*d + 4*SAB(c) + PMA(c)       phi1 (2 SAB), phi2 (2 SAB)
  stage 2, per tensor (T tensors/network): 2*SAB(Q) + PMA(Q)   Q = the most chunks of any tensor in the batch
  stage 3, per layer (L layers/network):   2*SAB(P) + PMA(P)   P = the most tensors of any layer in the batch
  stage 4, per network:                    2*SAB(M) + PMA(M)   M = the most layers of any network in the batch
  predictor:                               sum of 2*in*out over its Linear layers (dim -> hidden ... -> 1)
  (encoder.hierarchy false: stages 2-4 are one 2*SAB(Kmax) + PMA(Kmax) per network; encoder.set_functions
  false: no SAB terms.)

The batch holds networks of one architecture, so Q, P and M are that architecture's. Encoding = 1 forward.
Training = (1 + invariance passes) forward passes (2: the invariance term's second pass; 1 when
train.invariance_weight is 0), each counted as 3x its forward FLOPs (forward + backward ~ 2x forward).
The same yardstick divides both implementations' rates: it counts the model's work, not what a given
implementation executes (sne's fused chunk kernel skips padded elements and recomputes stage 1 in backward;
the JSON also holds "forward_real": stage 1 counted at each chunk's real length instead of c).
Checked: on the reference in training mode (plain linear/bmm ops), torch.profiler(with_flops=True) summed over
aten::mm/addmm/bmm/baddbmm equals "forward" exactly for the SIREN and the Small CNN.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
REFERENCE = os.path.join(HERE, "reference", "sne_reference.py")


# ---- the FLOP model ----------------------------------------------------------------------------------------

def flops_per_network(setup, arch):
    """Forward FLOPs of one network of architecture `arch` (a setup-file architecture object) in a batch of
    networks of that architecture, by the rules in this file's header. Returns a dict: per-stage forward
    FLOPs, "forward", "encode" (= forward), "train" (= 3 * forward * passes), "train_passes", and
    "forward_real" (stage 1 at each chunk's real length; information only)."""
    e, p, t = setup["encoder"], setup["predictor"], setup["train"]
    d, c = e["dim"], e["chunk_size"]
    f = e["ff_mult"] * d
    emb_in = 1 + 2 * e["fourier_bands"] if e["value_embedding"] == "fourier" else 1
    sets = e.get("set_functions", True)

    def sab(n):
        return (4 * 2 * n * d * d + 2 * 2 * n * n * d + 2 * 2 * n * d * f) if sets else 0

    def pma(n):
        return 2 * d * d + 2 * 2 * n * d * d + 2 * d * d + 2 * 2 * n * d + 2 * 2 * d * f

    chunks_of = [[-(-math.prod(x["shape"]) // c) for x in layer["tensors"]] for layer in arch["layers"]]
    per_tensor = [k for layer in chunks_of for k in layer]
    K, T, L = sum(per_tensor), len(per_tensor), len(arch["layers"])
    Q = max(per_tensor, default=0) or 1
    P = max((len(layer) for layer in chunks_of), default=0) or 1
    M = L or 1
    stage1 = lambda n: 2 * n * emb_in * d + 4 * sab(n) + pma(n)
    real = [min(c, math.prod(x["shape"]) - k * c) for layer in arch["layers"] for x in layer["tensors"]
            for k in range(-(-math.prod(x["shape"]) // c))]
    out = {"stage1": K * stage1(c)}
    if e.get("hierarchy", True):
        out["stage2"] = T * (2 * sab(Q) + pma(Q))
        out["stage3"] = L * (2 * sab(P) + pma(P))
        out["stage4"] = 2 * sab(M) + pma(M)
    else:
        out["stage2-4"] = 2 * sab(max(K, 1)) + pma(max(K, 1))
    widths = [d] + [p["hidden"]] * p["layers"] + [1]
    out["predictor"] = sum(2 * a * b for a, b in zip(widths, widths[1:]))
    out["forward"] = sum(out.values())
    out["forward_real"] = out["forward"] - out["stage1"] + sum(stage1(n) for n in real)
    passes = 1 + (t.get("invariance_samples", 1) if t.get("invariance_weight", 1.0) > 0 else 0)
    out["encode"] = out["forward"]
    out["train"] = 3 * out["forward"] * passes
    out["train_passes"] = passes
    return out


# ---- running the two benchmarks ---------------------------------------------------------------------------

def run(cmd, log=None):
    """Runs cmd, echoing its output (stdout and stderr merged) as it comes; returns (rc, output, seconds)."""
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    lines = []
    for line in p.stdout:
        sys.stdout.write("  " + line)
        sys.stdout.flush()
        lines.append(line)
    rc = p.wait()
    seconds = time.perf_counter() - t0
    text = "".join(lines)
    if log:
        with open(log, "w") as f:
            f.write(text)
    return rc, text, seconds


def must(cmd, what):
    rc, text, seconds = run(cmd)
    if rc != 0:
        sys.exit(f"side_by_side: {what} failed (exit {rc}): {' '.join(cmd)}")
    return text, seconds


def load(path):
    with open(path) as f:
        return json.load(f)


# ---- the end-to-end section -------------------------------------------------------------------------------

def end_to_end(sne, zoo, out, threads, batch, device="cpu"):
    """`sne train configs/inr_frequency.yaml` for one epoch on `zoo` at the benchmark's batch size, then
    `sne encode` with its checkpoint. Returns a dict of rates and how each was obtained."""
    info_text, _ = must([sne, "zoo", "info", zoo, "--json"], "sne zoo info")
    info = json.loads(info_text[info_text.index("{"):])
    run_dir, emb = os.path.join(out, "e2e_run"), os.path.join(out, "e2e_emb.h5")
    shutil.rmtree(run_dir, ignore_errors=True)  # sne train refuses a directory that holds a run
    if os.path.exists(emb):
        os.remove(emb)
    config = os.path.join("configs", "inr_frequency.yaml")
    train_cmd = [sne, "train", config, "--run-dir", run_dir, "--set", f"zoo.path={zoo}", "--set", "train.epochs=1",
                 "--set", f"zoo.reader.batch_size={batch}", "--threads", str(threads), "--device", device]
    text, train_wall = must(train_cmd, "sne train")
    with open(os.path.join(out, "e2e_train.log"), "w") as f:
        f.write(text)

    # The split trained on and its subset, from the run's resolved config.
    split, fraction, cfg = "train", 1.0, {}
    try:
        import yaml
        with open(os.path.join(run_dir, "config.yaml")) as f:
            cfg = yaml.safe_load(f) or {}
        split = cfg.get("task", {}).get("train_split", split)
        fraction = float(cfg.get("task", {}).get("train_fraction", fraction))
    except Exception as ex:  # no PyYAML, or an unexpected layout: the defaults
        print(f"side_by_side: note: could not read {run_dir}/config.yaml ({ex}); assuming split 'train', fraction 1")
    train_networks = info["splits"].get(split)
    if train_networks is None:
        sys.exit(f"side_by_side: {zoo} has no split '{split}' (has: {', '.join(info['splits'])})")
    if fraction < 1:  # the trainer draws round(fraction * n)-ish networks; an estimate is enough here
        train_networks = int(round(train_networks * fraction))

    r = {"zoo": zoo, "train_split": split, "train_networks": train_networks, "train_command": " ".join(train_cmd),
         "train_wall_s": train_wall, "train_nets_per_s_wall": train_networks / train_wall}
    # The progress line `... loss L inv I lr R N nets/s` (apps/sne/cmd_train.cpp): networks trained / seconds
    # since training began, drawn every 10 s when stderr is not a terminal and not redrawn at the end of the
    # epoch, so it is the rate at the last draw (none for an epoch under 10 s).
    printed = re.findall(r"([0-9.]+) nets/s", text)
    if printed:
        r["train_nets_per_s"] = float(printed[-1])
        r["train_rate_source"] = "the last 'nets/s' sne train printed (its running average at that draw)"
    else:
        r["train_nets_per_s"] = r["train_nets_per_s_wall"]
        r["train_rate_source"] = ("sne train printed no rate (epoch under its 10 s log interval): training-split "
                                  "networks / wall time of the whole command (start-up, normaliser fit, "
                                  "validation and checkpoint included)")
    try:  # the epoch's seconds (training + validation pass) from metrics.jsonl
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            epoch = json.loads(f.readline())
        r["epoch_seconds"] = epoch["seconds"]
        r["train_nets_per_s_epoch"] = train_networks / epoch["seconds"]
    except (OSError, ValueError, KeyError):
        pass

    encode_cmd = [sne, "encode", zoo, "--checkpoint", os.path.join(run_dir, "checkpoints", "last"), "-o", emb,
                  "--threads", str(threads), "--device", device]
    text, encode_wall = must(encode_cmd, "sne encode")
    m = re.search(r"(\d+) codes of dimension", text)
    codes = int(m.group(1)) if m else info["networks"]
    r.update({"encode_command": " ".join(encode_cmd), "encode_networks": codes, "encode_wall_s": encode_wall,
              "encode_nets_per_s": codes / encode_wall})
    shown = re.findall(r"encode \d+/\d+ networks \(\d+%\) ([0-9.]+) networks/s", text)
    if shown:
        r["encode_nets_per_s_printed"] = float(shown[-1])
    r["run_config"] = cfg  # main compares it with the benchmark setup, then drops it
    return r


# ---- the table ------------------------------------------------------------------------------------------

def fmt(v, digits=1):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}"


COLUMNS = ["arch", "params", "chunks/net",
           "encode sne", "encode ref", "x", "train sne", "train ref", "x",
           "sne enc GFLOP/s", "% peak", "sne train GFLOP/s", "% peak", "RSS sne MiB", "RSS ref MiB"]
CUDA_COLUMNS = ["CUDA ref MiB"]  # with --device cuda: the reference's torch.cuda.max_memory_allocated


def columns(rows):
    return COLUMNS + (CUDA_COLUMNS if any(r.get("device") == "cuda" for r in rows) else [])


def table_rows(rows):
    out, cuda = [], any(r.get("device") == "cuda" for r in rows)
    for r in rows:
        out.append([r["arch"], str(r["params"]), str(r["chunks_per_network"]),
                    fmt(r["sne_encode"]), fmt(r["ref_encode"]), fmt(r["encode_ratio"], 2) + "x",
                    fmt(r["sne_train"]), fmt(r["ref_train"]), fmt(r["train_ratio"], 2) + "x",
                    fmt(r["sne_encode_gflops"], 2), fmt(r["sne_encode_pct_peak"], 1),
                    fmt(r["sne_train_gflops"], 2), fmt(r["sne_train_pct_peak"], 1),
                    fmt(r["sne_rss_mib"], 0), fmt(r["ref_rss_mib"], 0)] +
                   ([fmt(r.get("ref_cuda_mib"), 0)] if cuda else []))
    return out


def text_table(rows):
    body, cols = table_rows(rows), columns(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(cols)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(b) for b in body])


def md_table(rows):
    body, cols = table_rows(rows), columns(rows)
    head = "| " + " | ".join(cols) + " |\n|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|\n"
    return head + "".join("| " + " | ".join(b) + " |\n" for b in body)


def main():
    ap = argparse.ArgumentParser(description="sne vs an idiomatic PyTorch reference, side by side")
    ap.add_argument("--build", default="build", help="sne build directory (default: build)")
    ap.add_argument("--archs", help="comma-separated architectures of the setup (default: all of them)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads for both (0 = all cores)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where both run (bench_encoder --device, sne_reference.py --device; with --zoo also sne "
                         "train/encode --device)")
    ap.add_argument("--python", help="interpreter for the reference, with torch (default: the one running this "
                                     "script)")
    ap.add_argument("--out", help="output directory (default: BUILD/side_by_side)")
    ap.add_argument("--zoo", help="a sine zoo file: also run sne train (1 epoch) and sne encode end to end")
    ap.add_argument("--skip-reference", default="mlp_256x1024",
                    help="architectures measured for sne only (default: mlp_256x1024, whose 8192-chunk sets need "
                         "[32, 4, 8192, 8192] attention weights, 34 GB, in the reference)")
    a = ap.parse_args()

    build = os.path.join(REPO, a.build) if not os.path.isabs(a.build) else a.build
    out = os.path.abspath(a.out) if a.out else os.path.join(build, "side_by_side")
    os.makedirs(out, exist_ok=True)
    bench = os.path.join(build, "benchmarks", "bench_encoder")
    sne = os.path.join(build, "apps", "sne")
    if not os.access(bench, os.X_OK):
        sys.exit(f"side_by_side: {bench}: not built (ninja -C {a.build} bench_encoder)")
    if a.zoo and not os.access(sne, os.X_OK):
        sys.exit(f"side_by_side: {sne}: not built (ninja -C {a.build} sne)")
    py = a.python or sys.executable or "/usr/bin/python3"
    py = os.path.abspath(py) if os.sep in py else (shutil.which(py) or py)  # the runs' cwd is the repository
    if not os.access(py, os.X_OK):
        sys.exit(f"side_by_side: --python {py}: not an executable")

    setup_path = os.path.join(out, "setup.json")
    must([bench, "--dump-setup", setup_path, "--batch", str(a.batch)], "bench_encoder --dump-setup")
    setup = load(setup_path)
    archs = {x["name"]: x for x in setup["architectures"]}
    names = a.archs.split(",") if a.archs else list(archs)
    unknown = [n for n in names if n not in archs]
    if unknown:
        sys.exit(f"side_by_side: not in {setup_path}: {', '.join(unknown)} (it has: {', '.join(archs)})")

    common = ["--batch", str(a.batch), "--repeat", str(a.repeat), "--threads", str(a.threads), "--device", a.device]
    rows = []
    for name in names:
        sne_json, ref_json = os.path.join(out, f"sne_{name}.json"), os.path.join(out, f"ref_{name}.json")
        must([bench, "--arch", name] + common + ["--json", sne_json], f"bench_encoder --arch {name}")
        skipped = name in a.skip_reference.split(",")
        if not skipped:
            must([py, REFERENCE, "--setup", setup_path, "--arch", name] + common + ["--json", ref_json],
                 f"sne_reference.py --arch {name}")
        s = load(sne_json)
        r = load(ref_json) if not skipped else {"encode_nets_per_s": float("nan"), "train_nets_per_s": float("nan"),
                                                 "params": s["params"], "chunks_per_network": s["chunks_per_network"]}
        fl = flops_per_network(setup, archs[name])
        peak = s.get("matmul_gflops")  # a CPU sgemm: no yardstick for GPU rates
        if a.device == "cuda":
            peak = None
        enc_gf = fl["encode"] * s["encode_nets_per_s"] / 1e9
        tr_gf = fl["train"] * s["train_nets_per_s"] / 1e9
        pct = lambda g: 100.0 * g / peak if peak else None
        rows.append({
            "arch": name, "params": s["params"], "chunks_per_network": s["chunks_per_network"],
            "sne_encode": s["encode_nets_per_s"], "ref_encode": r["encode_nets_per_s"],
            "encode_ratio": s["encode_nets_per_s"] / r["encode_nets_per_s"],
            "sne_train": s["train_nets_per_s"], "ref_train": r["train_nets_per_s"],
            "train_ratio": s["train_nets_per_s"] / r["train_nets_per_s"],
            "flops_per_network": fl,
            "sne_encode_gflops": enc_gf, "sne_train_gflops": tr_gf,
            "sne_encode_pct_peak": pct(enc_gf), "sne_train_pct_peak": pct(tr_gf),
            "ref_encode_gflops": fl["encode"] * r["encode_nets_per_s"] / 1e9,
            "ref_train_gflops": fl["train"] * r["train_nets_per_s"] / 1e9,
            "matmul_gflops": s.get("matmul_gflops"), "blas": s.get("blas"), "device": a.device,
            "sne_rss_mib": s.get("peak_rss_mib"), "ref_rss_mib": r.get("peak_rss_mib"),
            "ref_cuda_mib": r.get("peak_cuda_mib"),
            "sne_threads": s.get("threads"), "ref_threads": r.get("threads"),
            "torch_version": s.get("torch_version"), "ref_torch_version": r.get("torch_version"),
            "sne": s, "reference": r,
        })
        if s["params"] != r["params"] or s["chunks_per_network"] != r["chunks_per_network"]:
            print(f"side_by_side: warning: {name}: sne and the reference disagree on params/chunks "
                  f"({s['params']}/{s['chunks_per_network']} vs {r['params']}/{r['chunks_per_network']})")

    first = rows[0]["sne"] if rows else {}
    gpu = next((r["reference"].get("cuda_device_name") for r in rows if r["reference"].get("cuda_device_name")), None)
    device = a.device + (f" ({gpu})" if gpu else "")
    ref = next((r["reference"] for r in rows if "torch_version" in r["reference"]), {})
    head = (f"sne vs PyTorch reference on {device}: batch {a.batch}, repeat {a.repeat}, threads sne "
            f"{first.get('threads')} / reference {ref.get('threads', '-')}\n"
            f"sne: {first.get('blas')}; reference: torch {ref.get('torch_version', '-')}; CPU sgemm peak "
            f"{fmt(first.get('matmul_gflops'))} GFLOP/s{' (no % peak on cuda)' if a.device == 'cuda' else ''}\n"
            f"rates in networks/s; x = sne / reference; GFLOP/s from the FLOP model in benchmarks/side_by_side.py")
    print("\n" + head + "\n\n" + text_table(rows))
    md = "# sne vs PyTorch reference\n\n" + head.replace("\n", "  \n") + "\n\n" + md_table(rows)

    result = {"setup": setup_path, "device": a.device, "python": py, "batch": a.batch, "repeat": a.repeat,
              "threads": a.threads, "rows": rows}
    if a.zoo:
        e2e = end_to_end(sne, os.path.abspath(a.zoo), out, a.threads, a.batch, a.device)
        siren = next((r for r in rows if r["arch"] == "siren"), None)
        lines = [("train nets/s", e2e["train_nets_per_s"], siren and siren["sne_train"], siren and siren["ref_train"]),
                 ("train nets/s, wall clock of `sne train`", e2e["train_nets_per_s_wall"], None, None),
                 ("train nets/s, epoch seconds (metrics.jsonl)", e2e.get("train_nets_per_s_epoch"), None, None),
                 ("encode nets/s, wall clock of `sne encode`", e2e["encode_nets_per_s"],
                  siren and siren["sne_encode"], siren and siren["ref_encode"])]
        e2e_head = ["end to end on " + os.path.basename(a.zoo), "sne e2e", "bench sne (siren)", "bench ref (siren)"]
        e2e_body = [[n, fmt(v), fmt(b), fmt(rr)] for n, v, b, rr in lines]
        note = (f"train rate: {e2e['train_rate_source']}. {e2e['train_networks']} networks in split "
                f"'{e2e['train_split']}'; {e2e['encode_networks']} encoded. The e2e model is configs/inr_frequency.yaml "
                f"(its predictor and encoder settings may differ from the benchmark setup); its training step "
                f"includes reading the zoo, value normalisation, the symmetry transform and the lr schedule.")
        widths = [max(len(e2e_head[i]), *(len(b[i]) for b in e2e_body)) for i in range(4)]
        tl = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        print("\n" + "\n".join([tl(e2e_head), tl(["-" * w for w in widths])] + [tl(b) for b in e2e_body]))
        print(note)
        md += ("\n## End to end\n\n| " + " | ".join(e2e_head) + " |\n|---|---:|---:|---:|\n" +
               "".join("| " + " | ".join(b) + " |\n" for b in e2e_body) + "\n" + note + "\n")
        e2e["config_differences"] = model_differences(e2e.pop("run_config"), setup)
        if e2e["config_differences"]:
            print("e2e settings that differ from the benchmark setup: " + json.dumps(e2e["config_differences"]))
            md += "\nSettings of the e2e run that differ from the benchmark setup: `" + \
                  json.dumps(e2e["config_differences"]) + "`\n"
        result["end_to_end"] = e2e

    with open(os.path.join(out, "side_by_side.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "side_by_side.md"), "w") as f:
        f.write(md)
    print(f"\nwrote {out}/side_by_side.md, {out}/side_by_side.json")


def model_differences(cfg, setup):
    """{key: [e2e value, setup value]} for the encoder/predictor/train keys of the setup that the e2e run's
    resolved config sets differently."""
    diff = {}
    for section in ("encoder", "predictor", "train"):
        for k, v in setup.get(section, {}).items():
            got = (cfg or {}).get(section, {}).get(k)
            if got is not None and got != v and not (isinstance(v, (int, float)) and isinstance(got, (int, float))
                                                     and math.isclose(got, v)):
                diff[f"{section}.{k}"] = [got, v]
    if (cfg or {}).get("zoo", {}).get("reader", {}).get("batch_size") not in (None, setup.get("batch")):
        diff["batch"] = [cfg["zoo"]["reader"]["batch_size"], setup.get("batch")]
    return diff


if __name__ == "__main__":
    main()
