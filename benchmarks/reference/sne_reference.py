#!/usr/bin/python3
"""Idiomatic PyTorch reference of sne's SNE encoder + predictor, for a side-by-side speed benchmark.

This is the model as a researcher would write it from the SNE paper (and from sne's C++ sources, which it
follows operation by operation): plain ``torch.nn`` modules, ``nn.MultiheadAttention(batch_first=True)`` with a
``key_padding_mask``, pad-chunk and the chunk -> tensor -> layer -> network grouping written as Python loops
over the networks and tensors of a batch with ``torch.nn.utils.rnn.pad_sequence``, and each stage batched over
the whole batch. No custom kernels, no TorchScript: it is the baseline a user would otherwise run.

C++ it mirrors (sne, lib/):
  encoder/set_blocks.cpp   Attention, SAB (pre-LN / post-LN, output * mask), PMA (one seed, seed residual)
  encoder/sne_encoder.cpp  fourier value embedding, phi1/phi2 + type/level sinusoids, gamma_chunk; stage 2
                           phi3 + level PE on real rows, gamma_tensor, + role embedding; stage 3 merge +
                           gamma_layer; stage 4 level PE + phi4 + gamma_net; sinusoid()
  encoder/pad_chunk.cpp    flatten, zero-pad to a multiple of c, mask
  encoder/encoder_input.cpp  network / layer / tensor order, role ids (weight 0, bias 1, other 2)
  train/model.cpp + baselines/baselines.cpp:mlp   predictor: (Linear(., hidden), GELU) x layers, Linear(., 1)
  train/trainer.cpp        AdamW, clip_grad_norm_, loss = task + invariance_weight * 0.5 * mean((out - out2)^2)

Hyper-parameters and architectures come from the setup JSON that ``bench_encoder --dump-setup FILE`` writes
(see example_setup.json next to this file for the format).

  /usr/bin/python3 benchmarks/reference/sne_reference.py --setup FILE --arch NAME [--batch N] [--repeat R]
                                                          [--threads T] [--device cpu|cuda] [--json OUT]
  /usr/bin/python3 benchmarks/reference/sne_reference.py --setup FILE --self-test [--device cpu|cuda]

--device cuda: the model lives on the GPU; each batch is packed on the host (Python loops over networks and
tensors, as on the CPU) and its tensors copied to the GPU (PackedBatch.to), as sne's bench_encoder does
(encoder::build_input packs on the host and copies with non_blocking). Timers start and stop after
torch.cuda.synchronize(); the JSON adds peak_cuda_mib (torch.cuda.max_memory_allocated).
"""
import argparse
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

ROLE_IDS = {"weight": 0, "bias": 1}  # anything else: 2


# ---- architectures and the setup file --------------------------------------------------------------------

@dataclass
class TensorSpec:
    name: str
    role: int
    numel: int


@dataclass
class LayerSpec:
    name: str
    kind_id: int
    level: int
    tensors: List[TensorSpec]


@dataclass
class Architecture:
    name: str
    layers: List[LayerSpec]

    @property
    def num_params(self):
        return sum(t.numel for l in self.layers for t in l.tensors)

    def chunks(self, c):
        return sum(-(-t.numel // c) for l in self.layers for t in l.tensors)


def architecture_from_json(j):
    layers = []
    for l in j["layers"]:
        tensors = [TensorSpec(t["name"], ROLE_IDS.get(t["role"], 2), math.prod(t["shape"])) for t in l["tensors"]]
        layers.append(LayerSpec(l["name"], int(l["kind_id"]), int(l["level"]), tensors))
    a = Architecture(j["name"], layers)
    if "num_params" in j and j["num_params"] != a.num_params:
        raise ValueError(f"architecture {a.name}: num_params {j['num_params']} but its tensors hold {a.num_params}")
    return a


def load_setup(path):
    with open(path) as f:
        s = json.load(f)
    s["architectures"] = {a["name"]: architecture_from_json(a) for a in s["architectures"]}
    return s


# ---- pad-chunk and batch packing (a real training loop does this for every batch) ----------------------

@dataclass
class PackedBatch:
    values: torch.Tensor          # [K, c] float, zeros where padded
    mask: torch.Tensor            # [K, c] bool, True = real element
    owner: torch.Tensor           # [K] long: tensor of each chunk
    chunks_per_tensor: List[int]  # [T]
    tensor_type: torch.Tensor     # [T] long: kind id of the tensor's layer
    tensor_level: torch.Tensor    # [T] long
    tensor_role: torch.Tensor     # [T] long
    tensors_per_layer: List[int]  # [L]
    layer_level: torch.Tensor     # [L] long
    layers_per_network: List[int] # [N]

    def to(self, device):
        """The batch with its tensors on `device` (the host-side packing copied over, as a training loop does
        for every batch); the same object when they are already there."""
        device = torch.device(device)
        if self.values.device == device:
            return self
        put = lambda t: t.to(device, non_blocking=True)
        return PackedBatch(
            values=put(self.values), mask=put(self.mask), owner=put(self.owner),
            chunks_per_tensor=self.chunks_per_tensor, tensor_type=put(self.tensor_type),
            tensor_level=put(self.tensor_level), tensor_role=put(self.tensor_role),
            tensors_per_layer=self.tensors_per_layer, layer_level=put(self.layer_level),
            layers_per_network=self.layers_per_network)

    def chunks_per_network(self):
        out, t, l = [], 0, 0
        for n_layers in self.layers_per_network:
            n_tensors = sum(self.tensors_per_layer[l:l + n_layers])
            out.append(sum(self.chunks_per_tensor[t:t + n_tensors]))
            l, t = l + n_layers, t + n_tensors
        return out


def pack_batch(archs, params, c):
    """Networks (architecture, flat float32 parameter vector) -> the encoder's packed input.

    Each tensor is cut out of its network's flat vector (PyTorch row-major order), zero-padded to a multiple of
    c and viewed as [chunks, c]; the chunks of all tensors of all networks are concatenated in network, layer,
    tensor order (as sne's build_input + pad_chunk)."""
    chunks, masks, cpt, ttype, tlevel, trole, tpl, llevel, lpn = [], [], [], [], [], [], [], [], []
    for arch, flat in zip(archs, params):
        flat = flat.reshape(-1)
        offset = 0
        lpn.append(len(arch.layers))
        for layer in arch.layers:
            tpl.append(len(layer.tensors))
            llevel.append(layer.level)
            for t in layer.tensors:
                w = flat[offset:offset + t.numel]
                offset += t.numel
                k = -(-t.numel // c)
                chunks.append(F.pad(w, (0, k * c - t.numel)).view(k, c))
                masks.append((torch.arange(k * c) < t.numel).view(k, c))
                cpt.append(k)
                ttype.append(layer.kind_id)
                tlevel.append(layer.level)
                trole.append(t.role)
        if offset != flat.numel():
            raise ValueError(f"{arch.name}: {flat.numel()} parameters given, the architecture has {offset}")
    long = lambda v: torch.tensor(v, dtype=torch.long)
    return PackedBatch(
        values=torch.cat(chunks), mask=torch.cat(masks),
        owner=torch.repeat_interleave(torch.arange(len(cpt)), long(cpt)), chunks_per_tensor=cpt,
        tensor_type=long(ttype), tensor_level=long(tlevel), tensor_role=long(trole),
        tensors_per_layer=tpl, layer_level=long(llevel), layers_per_network=lpn)


def group_rows(rows, sizes):
    """Consecutive rows of [M, d], `sizes[g]` of them for group g -> padded sets [G, max(sizes), d] + mask."""
    x = pad_sequence(list(rows.split(sizes)), batch_first=True)
    if x.size(1) == 0:  # every group empty: one padding row, as sne's pack_groups
        x = rows.new_zeros(len(sizes), 1, rows.size(1))
    mask = torch.arange(x.size(1), device=rows.device) < torch.tensor(sizes, device=rows.device).unsqueeze(1)
    return x, mask


def sinusoid(positions, dim):
    """Vaswani et al.'s encoding of integer positions, sin/cos interleaved: [M] -> [M, dim] (sne's sinusoid)."""
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float, device=positions.device) * (-math.log(10000.0) / dim))
    angle = positions.float().unsqueeze(1) * freq.unsqueeze(0)
    return torch.stack([torch.sin(angle), torch.cos(angle)], 2).reshape(positions.size(0), -1)[:, :dim]


# ---- Set Transformer blocks ------------------------------------------------------------------------------

class MaskedAttention(nn.Module):
    """nn.MultiheadAttention over a masked key set (mask: True = real). A query whose keys are all padding
    gets what sne gives it: a zero attention output before the output projection, i.e. out_proj.bias
    (nn.MultiheadAttention alone would give NaN)."""

    def __init__(self, dim, heads):
        super().__init__()
        # sne's q/k/v/o are four torch::nn::Linear (default init, with biases), created in that order. Use that
        # init, not MHA's xavier + zero biases, drawing the same random numbers as sne: every module here is
        # then created in sne's order with sne's initialisers, so a seed gives sne's weights (same libtorch).
        rng = torch.get_rng_state()
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)
        torch.set_rng_state(rng)
        with torch.no_grad():
            for part in range(3):
                w = self.mha.in_proj_weight[part * dim:(part + 1) * dim]
                nn.init.kaiming_uniform_(w, a=math.sqrt(5))  # as nn.Linear.reset_parameters
                nn.init.uniform_(self.mha.in_proj_bias[part * dim:(part + 1) * dim], -1 / math.sqrt(dim), 1 / math.sqrt(dim))
        self.mha.out_proj.reset_parameters()

    def forward(self, q, kv, mask):
        empty = ~mask.any(1)
        has_empty = bool(empty.any())
        padding = ~mask
        if has_empty:
            padding = padding & ~empty.unsqueeze(1)  # let an empty set attend to its padding: finite, replaced below
        out, _ = self.mha(q, kv, kv, key_padding_mask=padding, need_weights=False)
        if has_empty:
            out = torch.where(empty.view(-1, 1, 1), self.mha.out_proj.bias.expand_as(out), out)
        return out


class SAB(nn.Module):
    def __init__(self, dim, heads, ff_mult, pre_ln):
        super().__init__()
        self.pre_ln = pre_ln
        self.att = MaskedAttention(dim, heads)
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))

    def forward(self, x, mask):
        if self.pre_ln:
            n = self.ln1(x)
            h = x + self.att(n, n, mask)
            out = h + self.ff(self.ln2(h))
        else:
            h = self.ln1(x + self.att(x, x, mask))
            out = self.ln2(h + self.ff(h))
        return out * mask.unsqueeze(-1)


class PMA(nn.Module):
    def __init__(self, dim, heads, ff_mult, pre_ln, seed_residual):
        super().__init__()
        self.pre_ln, self.seed_residual = pre_ln, seed_residual
        self.seed = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.att = MaskedAttention(dim, heads)
        self.ln_q, self.ln_kv, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))

    def forward(self, x, mask):
        s = self.seed.expand(x.size(0), 1, -1)
        if self.pre_ln:
            a = self.att(self.ln_q(s), self.ln_kv(x), mask)
            h = s + a if self.seed_residual else a
            out = h + self.ff(self.ln2(h))
        else:
            a = self.att(s, x, mask)
            h = self.ln_q(s + a if self.seed_residual else a)
            out = self.ln2(h + self.ff(h))
        return out.squeeze(1)


# ---- the SNE encoder and the model -----------------------------------------------------------------------

class SNEEncoder(nn.Module):
    def __init__(self, e):
        super().__init__()
        d, self.dim, self.c = e["dim"], e["dim"], e["chunk_size"]
        self.fourier = e["value_embedding"] == "fourier"
        if e["value_embedding"] not in ("fourier", "linear"):
            raise ValueError(f"value_embedding must be fourier or linear, got {e['value_embedding']}")
        self.bands = e["fourier_bands"] if self.fourier else 0
        self.level_encoding, self.type_encoding, self.role_encoding = (
            e["level_encoding"], e["type_encoding"], e["role_encoding"])
        # Ablation switches sne has; absent from a setup file = on.
        self.set_functions, self.hierarchy = e.get("set_functions", True), e.get("hierarchy", True)
        blk = dict(dim=d, heads=e["heads"], ff_mult=e["ff_mult"], pre_ln=e["pre_ln"])
        sabs = lambda: nn.ModuleList([SAB(**blk), SAB(**blk)])
        pma = lambda: PMA(**blk, seed_residual=e["pma_seed_residual"])
        self.value_proj = nn.Linear(1 + 2 * self.bands, d)
        self.role_emb = nn.Embedding(3, d)
        self.phi1, self.phi2, self.phi3, self.merge, self.phi4 = sabs(), sabs(), sabs(), sabs(), sabs()
        self.gamma_chunk, self.gamma_tensor, self.gamma_layer, self.gamma_net = pma(), pma(), pma(), pma()

    def embed_values(self, v):  # [K, c] -> [K, c, d]: [v, sin(2^k v), cos(2^k v) for k < bands] -> Linear
        v = v.unsqueeze(-1)
        feats = [v]
        for k in range(self.bands):
            feats += [torch.sin(v * 2.0 ** k), torch.cos(v * 2.0 ** k)]
        return self.value_proj(torch.cat(feats, -1))

    def phi(self, blocks, x, mask):
        if not self.set_functions:  # ablation: the identity (on real rows)
            return x * mask.unsqueeze(-1)
        for b in blocks:
            x = b(x, mask)
        return x

    def forward(self, b: PackedBatch):
        d = self.dim
        type_pe = sinusoid(b.tensor_type, d) if self.type_encoding else None
        level_pe = sinusoid(b.tensor_level, d) if self.level_encoding else None
        # Stage 1: every chunk (a set of c values) to a vector.
        x = self.phi(self.phi1, self.embed_values(b.values), b.mask)          # [K, c, d]
        if type_pe is not None:
            x = x + type_pe[b.owner].unsqueeze(1)
        if level_pe is not None:
            x = x + level_pe[b.owner].unsqueeze(1)
        chunk_vec = self.gamma_chunk(self.phi(self.phi2, x, b.mask), b.mask)  # [K, d]
        if not self.hierarchy:  # ablation: all chunks of a network form one set
            xn, mn = group_rows(chunk_vec, b.chunks_per_network())
            return self.gamma_net(self.phi(self.phi4, xn, mn), mn)
        # Stage 2: the chunks of each tensor to a vector.
        xt, mt = group_rows(chunk_vec, b.chunks_per_tensor)                   # [T, Q, d]
        xt = self.phi(self.phi3, xt, mt)
        if level_pe is not None:
            xt = xt + level_pe.unsqueeze(1) * mt.unsqueeze(-1)
        tensor_vec = self.gamma_tensor(xt, mt)                                # [T, d]
        if self.role_encoding:
            tensor_vec = tensor_vec + self.role_emb(b.tensor_role)
        # Stage 3: the tensors of each layer to a vector.
        xl, ml = group_rows(tensor_vec, b.tensors_per_layer)                  # [L, P, d]
        layer_vec = self.gamma_layer(self.phi(self.merge, xl, ml), ml)        # [L, d]
        # Stage 4: the layers of each network to z.
        if self.level_encoding:
            layer_vec = layer_vec + sinusoid(b.layer_level, d)
        xn, mn = group_rows(layer_vec, b.layers_per_network)                  # [N, Lmax, d]
        return self.gamma_net(self.phi(self.phi4, xn, mn), mn)                # [N, d]


class SNEModel(nn.Module):
    """Encoder + predictor MLP on z (sne's ModelImpl): [N] predictions."""

    def __init__(self, encoder_cfg, predictor_cfg):
        super().__init__()
        self.encoder = SNEEncoder(encoder_cfg)
        layers, width = [], encoder_cfg["dim"]
        for _ in range(predictor_cfg["layers"]):
            layers += [nn.Linear(width, predictor_cfg["hidden"]), nn.GELU()]
            width = predictor_cfg["hidden"]
        self.predictor = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, batch: PackedBatch):
        return self.predictor(self.encoder(batch)).squeeze(1)


# ---- the benchmark ---------------------------------------------------------------------------------------

def all_cores():
    return len(os.sched_getaffinity(0))


def benchmark(setup, arch_name, batch, repeat, device="cpu"):
    arch = setup["architectures"][arch_name]
    enc, tr = setup["encoder"], setup["train"]
    c = enc["chunk_size"]
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(0)
    model = SNEModel(enc, setup["predictor"])  # created on the host (its init draws the CPU RNG, as sne's), then moved
    if cuda:
        model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tr["lr"], weight_decay=tr["weight_decay"])
    archs = [arch] * batch
    params = [p for p in torch.randn(batch, arch.num_params) * 0.1]  # host memory, as a zoo reader's batch
    if cuda:  # host-side packing, then the batch's tensors copied to the device: every batch, as a loop pays
        pack = lambda: pack_batch(archs, params, c).to(dev)
    else:
        pack = lambda: pack_batch(archs, params, c)
    # sne's trainer skips the extra passes when the invariance weight is 0.
    samples = tr.get("invariance_samples", 1) if tr["invariance_weight"] > 0 else 0
    if enc.get("chunk_budget", 0) > 0:
        print("sne_reference: note: encoder.chunk_budget is not modelled (all activations are kept)", file=sys.stderr)

    # Encode: inference as a user runs it (eval mode, no grad), packing included.
    model.eval()
    with torch.no_grad():
        init_out = model(pack())  # warm-up
        sync()
        t0 = time.perf_counter()
        for _ in range(repeat):
            model(pack())
        sync()
        encode = batch * repeat / (time.perf_counter() - t0)
    model.train()

    def step():
        b = pack()
        out = model(b)
        inv = out.new_zeros(())
        for _ in range(samples):  # the invariance term's extra passes (sne: on symmetry-transformed copies)
            inv = inv + 0.5 * (out - model(b)).pow(2).mean()
        loss = out.pow(2).mean() + tr["invariance_weight"] * inv / max(samples, 1)
        opt.zero_grad()
        loss.backward()
        if tr["grad_clip"] > 0:
            nn.utils.clip_grad_norm_(model.parameters(), tr["grad_clip"])
        opt.step()

    step()  # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(repeat):
        step()
    sync()
    train = batch * repeat / (time.perf_counter() - t0)

    sync()
    t0 = time.perf_counter()
    for _ in range(repeat):
        pack()  # on CUDA: the host packing and the copy to the device
    sync()
    pack_ms = 1000 * (time.perf_counter() - t0) / repeat
    r = {
        "arch": arch_name,
        "params": arch.num_params,
        "chunks_per_network": arch.chunks(c),
        "encode_nets_per_s": encode,
        "train_nets_per_s": train,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": batch,
        "repeat": repeat,
        "pack_ms_per_batch": pack_ms,
        "model_parameters": sum(p.numel() for p in model.parameters()),
        # torch.manual_seed(0), the model, then randn(batch, params) * 0.1 draw sne's weights and networks when
        # bench_encoder does the same in that order (same libtorch): its outputs at init should match these.
        "init_outputs": init_out[:4].tolist(),
        "device": dev.type,
    }
    if cuda:
        r["peak_cuda_mib"] = torch.cuda.max_memory_allocated(dev) / 2.0 ** 20
        r["cuda_device_name"] = torch.cuda.get_device_name(dev)
    return r


# ---- sanity checks ---------------------------------------------------------------------------------------

def self_test(setup, device="cpu"):
    """Outputs differ between random networks at init; padding (a bigger network in the batch, an empty
    tensor) does not change a network's output; the eval/no-grad fast path of nn.MultiheadAttention agrees with
    the training path. Returns True when every check passes. With device cuda: the models on the GPU, every batch
    packed on the host and copied (the random draws stay on the host, so the same seeds give the same weights)."""
    dev = torch.device(device)
    on = (lambda m: m.to(dev)) if dev.type != "cpu" else (lambda m: m)
    pk = lambda *a: pack_batch(*a).to(dev)
    torch.manual_seed(0)
    enc = setup["encoder"]
    c = enc["chunk_size"]
    model = on(SNEModel(enc, setup["predictor"]))
    archs = setup["architectures"]
    names = sorted(archs, key=lambda n: archs[n].num_params)
    ok = True
    # sne's measure of how far apart codes are (tests/encoder/test_sne_encoder.cpp, "different networks get
    # different codes at init"): sum of the per-dimension variances over the batch / mean squared norm.
    spread = lambda z: (z.var(0).sum() / z.pow(2).sum(1).mean()).item()

    def report(name, good, detail):
        nonlocal ok
        ok &= good
        print(f"  [{'ok' if good else 'FAIL'}] {name}: {detail}")

    with torch.no_grad():
        for n in names:
            a = archs[n]
            p = list(torch.randn(8, a.num_params) * 0.1)
            b = pk([a] * 8, p, c)
            model.train()
            out = model(b)
            z = model.encoder(b)
            model.eval()
            out_eval = model(b)
            report(f"{n}: outputs differ between networks", out.std().item() > 0 and spread(z) > 0,
                   f"std over 8 networks of the output {out.std().item():.3g} (mean {out.mean().item():.3g}), "
                   f"z spread {spread(z):.3g}")
            diff = (out - out_eval).abs().max().item()
            report(f"{n}: eval fast path == training path", diff < 1e-5, f"max |diff| {diff:.2g}")
        model.eval()
        small, big = archs[names[0]], archs[names[-1]]
        ps, pb = torch.randn(small.num_params) * 0.1, torch.randn(big.num_params) * 0.1
        alone = model(pk([small], [ps], c))
        mixed = model(pk([big, small, big], [pb, ps, pb], c))
        diff = (alone[0] - mixed[1]).abs().item()
        report(f"padding: {small.name} alone vs in a batch with {big.name}", diff < 1e-5,
               f"|diff| {diff:.2g} (outputs {alone[0].item():.6f} / {mixed[1].item():.6f})")
        model.train()
        alone_t = model(pk([small], [ps], c))
        mixed_t = model(pk([big, small], [pb, ps], c))
        diff = (alone_t[0] - mixed_t[1]).abs().item()
        report("padding, training path", diff < 1e-5, f"|diff| {diff:.2g}")
        # An architecture with an empty tensor: its tensor set is all padding (sne: zero attention, no NaN).
        odd = Architecture("with_empty", [LayerSpec("l0", 0, 0, [TensorSpec("w", 0, 5), TensorSpec("e", 2, 0)])])
        out = model(pk([odd, small], [torch.randn(5), ps], c))
        report("an all-padding set gives a finite output", bool(torch.isfinite(out).all()), f"outputs {out.tolist()}")
        report("  ... and does not change the other network", (out[1] - alone_t[0]).abs().item() < 1e-5,
               f"|diff| {(out[1] - alone_t[0]).abs().item():.2g}")
    # Replicas of two C++ tests (tests/encoder/test_sne_encoder.cpp), same seeds, options (EncoderOptions
    # defaults but h = 16, c = 8) and networks (tests/zoo/fixtures.h mlp_spec): modules are created and
    # initialised in sne's order from the same libtorch RNG, so the weights are sne's and the spread must be
    # the value sne's test measured.
    def mlp_spec(n_in, hidden, n_out):
        return Architecture("mlp", [
            LayerSpec("l0", 0, 0, [TensorSpec("l0.weight", 0, hidden * n_in), TensorSpec("l0.bias", 1, hidden)]),
            LayerSpec("l1", 0, 1, [TensorSpec("l1.weight", 0, n_out * hidden), TensorSpec("l1.bias", 1, n_out)])])
    small_enc = dict(dim=16, heads=4, ff_mult=2, pre_ln=True, pma_seed_residual=True, chunk_size=8,
                     value_embedding="fourier", fourier_bands=4, level_encoding=True, type_encoding=True,
                     role_encoding=True)
    m = mlp_spec(2, 8, 1)
    # (pre_ln, dim, sne's value from the comment at tests/encoder/test_sne_encoder.cpp:134-135)
    for pre_ln, dim, sne_value in ((True, 16, 3.2e-3), (False, 16, 1.6e-2), (True, 32, 2.4e-4)):
        torch.manual_seed(3)
        nets = [torch.randn(m.num_params) * (0.1 + 0.2 * i) for i in range(16)]
        e = on(SNEEncoder(dict(small_enc, dim=dim, pre_ln=pre_ln)))
        with torch.no_grad():
            sp = spread(e(pk([m] * 16, nets, 8)))
        report(f"C++ test replica (seed 3: sne's weights and networks): spread of codes at init, h={dim}, c=8, "
               f"{'pre' if pre_ln else 'post'}-LN, sne measured {sne_value:.2g}",
               abs(sp - sne_value) < 0.05 * sne_value, f"{sp:.4g}")
    torch.manual_seed(2)
    m = mlp_spec(3, 3, 1)
    w = torch.randn(m.num_params)
    perm = [2, 0, 1]
    q = w.clone()  # layout: l0.weight [3,3] at 0, l0.bias [3] at 9, l1.weight [1,3] at 12, l1.bias at 15
    for i in range(3):
        q[perm[i] * 3:perm[i] * 3 + 3] = w[i * 3:i * 3 + 3]
        q[9 + perm[i]] = w[9 + i]
        q[12 + perm[i]] = w[12 + i]
    e3 = on(SNEEncoder(dict(small_enc, chunk_size=3)))
    with torch.no_grad():
        z = e3(pk([m, m], [w, q], 3))
    report("C++ test replica: permuting hidden units (whole rows per chunk) leaves z unchanged",
           torch.allclose(z[0], z[1], atol=1e-5, rtol=1e-5), f"max |dz| {(z[0] - z[1]).abs().max().item():.2g}")
    # Gradients reach every parameter.
    model.train()
    p = list(torch.randn(4, small.num_params) * 0.1)
    model(pk([small] * 4, p, c)).pow(2).mean().backward()
    missing = [n for n, q in model.named_parameters() if q.grad is None or not torch.isfinite(q.grad).all()]
    # role_emb rows of unused roles get zero gradient, which is fine; None means unreachable.
    report("every parameter gets a finite gradient", not missing, f"missing: {missing}" if missing else
           f"{sum(q.numel() for q in model.parameters())} parameters")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setup", required=True, help="setup JSON (bench_encoder --dump-setup FILE)")
    ap.add_argument("--arch", help="architecture name in the setup")
    ap.add_argument("--batch", type=int, help="networks per batch (default: the setup's batch)")
    ap.add_argument("--repeat", type=int, default=5, help="timed iterations (after one warm-up)")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = all cores)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where the model runs (cuda: batches packed on the host, copied per batch)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--self-test", action="store_true", help="run the sanity checks and exit")
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device cuda: torch {torch.__version__} sees no CUDA device (torch.version.cuda: {torch.version.cuda})")
    setup = load_setup(a.setup)
    torch.set_num_threads(a.threads if a.threads > 0 else all_cores())
    if a.self_test:
        return 0 if self_test(setup, a.device) else 1
    if not a.arch or a.arch not in setup["architectures"]:
        ap.error(f"--arch: one of {', '.join(setup['architectures'])}")
    r = benchmark(setup, a.arch, a.batch or setup.get("batch", 32), a.repeat, a.device)
    where = f", {r['cuda_device_name']}" if a.device == "cuda" else ""
    print(f"reference (torch {r['torch_version']}{where}, {r['threads']} threads): {r['arch']} ({r['params']} params, "
          f"{r['chunks_per_network']} chunks/network), batch {r['batch']}: encode {r['encode_nets_per_s']:.1f} nets/s, "
          f"train {r['train_nets_per_s']:.1f} nets/s, pack {r['pack_ms_per_batch']:.2f} ms/batch, "
          f"peak RSS {r['peak_rss_mib']:.0f} MiB" +
          (f", peak CUDA {r['peak_cuda_mib']:.0f} MiB" if a.device == "cuda" else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
