#!/usr/bin/env python3
"""Concatenates sne zoos into one mixed zoo (several architectures, datasets or generators in one file), e.g. to
encode networks of different architectures together and draw them with `sne report`.

    merge_zoos.py -o MIXED.h5 ZOO1.h5 ZOO2.h5 ... [--overwrite]

Every network is copied with its properties and metadata; a string metadata column `zoo` names the file it came
from (its stem). Architectures of the same name must have the same spec. A split of the merged zoo is the union
of the splits of that name, renumbered. Properties or metadata missing from one zoo are unknown for its networks.
The merged zoo is written under a temporary name next to OUT and renamed into place, so OUT is never left
half-written. Needs numpy and h5py. Exit status 3 (with a message naming the file) on a bad input, 5 when OUT
cannot be written.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sne_zoo  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zoos", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args()
    if os.path.exists(a.out) and not a.overwrite:
        print(f"merge_zoos: {a.out} exists (--overwrite replaces it)", file=sys.stderr)
        return 3
    if os.path.isdir(a.out):
        print(f"merge_zoos: {a.out} is a folder; -o names the merged zoo file", file=sys.stderr)
        return 3
    for p in a.zoos:
        if os.path.exists(a.out) and os.path.samefile(p, a.out):
            print(f"merge_zoos: {a.out} is also an input; write the merged zoo to another file", file=sys.stderr)
            return 3
    readers = []
    try:
        for p in a.zoos:
            readers.append(sne_zoo.ZooReader(p))
    except (OSError, sne_zoo.ZooFormatError) as e:
        print(f"merge_zoos: {e}", file=sys.stderr)
        return 3
    names = [os.path.splitext(os.path.basename(p))[0] for p in a.zoos]
    provenance = {"kind": "manual", "name": "merged zoos", "sources": [
        {"zoo": p, "provenance": r.provenance} for p, r in zip(a.zoos, readers)]}
    specs = {}
    for p, r in zip(a.zoos, readers):
        for name, spec in zip(r.architecture_names, r.architectures):
            if name in specs and json.dumps(specs[name], sort_keys=True) != json.dumps(spec, sort_keys=True):
                print(f"merge_zoos: {p}: architecture {name} differs from the one of the same name in an earlier zoo",
                      file=sys.stderr)
                return 3
            specs[name] = spec
    tmp = f"{a.out}.tmp-{os.getpid()}"
    try:
        offset = write_merged(tmp, provenance, specs, names, readers)
        os.replace(tmp, a.out)
    except (OSError, RuntimeError, sne_zoo.ZooFormatError, ValueError, KeyError) as e:
        if sne_zoo.disk_full(e):  # exit 5 naming OUT; ends the process without closing the failed file
            for r in readers:
                r.close()
            sne_zoo.write_failure("merge_zoos", a.out, e)
        print(f"merge_zoos: {a.out}: not written ({type(e).__name__}: {e})", file=sys.stderr)
        return 5 if isinstance(e, OSError) else 3
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        for r in readers:
            r.close()
    print(f"{a.out}: {offset} networks from {len(readers)} zoos, architectures {', '.join(specs)}")
    return 0


def write_merged(out, provenance, specs, names, readers):
    with sne_zoo.ZooWriter(out, provenance, overwrite=True) as w:
        arch = {name: w.add_architecture(spec) for name, spec in specs.items()}
        splits, offset, done = {}, 0, 0
        total = sum(r.num_networks for r in readers)
        for zname, r in zip(names, readers):
            for i in range(r.num_networks):
                props = {k: float(v[i]) for k, v in r.properties.items()}
                meta = {k: (str(v[i]) if v.dtype.kind in "OUS" else float(v[i])) for k, v in r.metadata.items()}
                meta["zoo"] = zname
                w.append(arch[r.architecture_of(i)], r.params(i), properties=props, metadata=meta)
                done += 1
                if done % 2000 == 0:
                    print(f"merge_zoos: {done}/{total} networks", file=sys.stderr, flush=True)
            for s, idx in r.splits.items():
                splits.setdefault(s, []).extend(int(j) + offset for j in idx)
            offset += r.num_networks
        for s, idx in splits.items():
            w.set_split(s, idx)
    return offset


if __name__ == "__main__":
    sys.exit(main())
