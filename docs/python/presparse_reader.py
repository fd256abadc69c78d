"""Reads presparse model files (safetensors) with the standard library and numpy, and runs them with numpy, scipy
or PyTorch: linear, conv2d, maxpool2d, avgpool2d and flatten layers, and the early exits. Neither presparse nor the
safetensors package is needed.

    python3 presparse_reader.py MODEL.safetensors [--torch]   # the layers, and the classes of 4 random inputs

Inputs are batch-major, x[batch, features], features in the order of the model's input shape (C, H, W for images).
"""
import importlib.util
import json
import struct
import sys

import numpy as np

NUMPY_DTYPES = {"F32": "<f4", "I32": "<i4", "U16": "<u2"}


def load(path):
    """The architecture record and every tensor as a numpy array (as safetensors.numpy.load_file gives them)."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    spec = json.loads(header.pop("__metadata__")["presparse"])
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        dtype = np.dtype(NUMPY_DTYPES[t["dtype"]])
        tensors[name] = np.frombuffer(data, dtype, (end - begin) // dtype.itemsize, 8 + n + begin).reshape(t["shape"])
    for prefix, l in records(spec):  # version-1 files written before the reader record say the same by their sizes
        if l["kind"] == "linear":
            l.setdefault("shape", [l["outputs"], l["inputs"]])
            l.setdefault("layout", "csr" if prefix + "row_ptr" in tensors else "dense")
        elif l["kind"] == "conv2d":
            l.setdefault("shape", [l["outC"], l["inC"], l["kh"], l["kw"]])
            l.setdefault("layout", "csr-taps")
    return spec, tensors


def load_torch(path):
    """The same as torch tensors. Like safetensors.torch.load_file, fails on a dtype this torch lacks (uint16 before
    torch 2.3: files written with U16 column indices)."""
    import torch

    spec, arrays = load(path)
    missing = sorted({a.dtype.name for a in arrays.values() if not hasattr(torch, a.dtype.name)})
    if missing:
        why = "its column indices were written as U16 (--index-dtype u16, or before I32 became the default)"
        raise TypeError(f"{path}: torch {torch.__version__} has no {', '.join(missing)}: {why}; re-save it, or load()")
    return spec, {name: torch.from_numpy(a) for name, a in arrays.items()}


def records(spec):
    """(tensor name prefix, record) of every layer: trunk.<i>. in order, then exit.<e>.<j>."""
    for i, l in enumerate(spec["trunk"]):
        yield f"trunk.{i}.", l
    for e, ex in enumerate(spec["exits"]):
        for j, l in enumerate(ex["layers"]):
            yield f"exit.{e}.{j}.", l


def run(spec, tensors, x, layer):
    """Every classifier's logits, the exits' first and the final one last. layer(record, tensors, x) runs one layer;
    it gets that layer's tensors by their short names (values, bias, row_ptr, col_idx, tap_mask)."""
    def own(prefix):
        short = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        return {k: v for k, v in short.items() if "." not in k}

    acts = []
    for i, l in enumerate(spec["trunk"]):
        x = layer(l, own(f"trunk.{i}."), x)
        acts.append(x)
    logits = []
    for e, ex in enumerate(spec["exits"]):
        h = acts[ex["after"]]
        for j, l in enumerate(ex["layers"]):
            h = layer(l, own(f"exit.{e}.{j}."), h)
        logits.append(h)
    return logits + [x]


# ---------------------------------------------------------------- PyTorch


def torch_linear(l, t, x):
    """y = W·x + b (ReLU'd if the layer says so) on x[batch, inputs]; W[outputs, inputs] is rebuilt in one line."""
    import torch

    if l["layout"] == "csr":
        W = torch.sparse_csr_tensor(t["row_ptr"], t["col_idx"], t["values"], l["shape"])
    else:  # "dense": values is W, row-major
        W = t["values"].reshape(l["shape"])
    y = (W @ x.T).T + t["bias"]
    return torch.relu(y) if l["activation"] == "relu" else y


def torch_layer(l, t, x):
    """One layer of any kind on x[batch, features] (torch tensors)."""
    import torch
    import torch.nn.functional as F

    kind = l["kind"]
    if kind == "linear":
        return torch_linear(l, t, x)
    if kind == "conv2d":
        W = torch.from_numpy(conv_kernel(l, {k: v.numpy() for k, v in t.items()}))
        y = F.conv2d(x.reshape(-1, l["inC"], l["H"], l["W"]), W, t["bias"], l["stride"], l["padding"]).flatten(1)
        return torch.relu(y) if l["activation"] == "relu" else y
    if kind in ("maxpool2d", "avgpool2d"):
        pool = F.max_pool2d if kind == "maxpool2d" else F.avg_pool2d
        return pool(x.reshape(-1, l["C"], l["H"], l["W"]), l["k"], l["stride"]).flatten(1)
    if kind == "flatten":
        return x
    raise ValueError(f"unknown layer kind {kind}")


# ---------------------------------------------------------------- numpy and scipy


def numpy_linear(l, t, x, sparse=True):
    """The same in numpy, W through scipy.sparse (or dense, in numpy alone, if not sparse)."""
    if l["layout"] == "dense":
        W = t["values"].reshape(l["shape"])
    elif sparse:
        from scipy.sparse import csr_matrix

        W = csr_matrix((t["values"], t["col_idx"], t["row_ptr"]), shape=l["shape"])
    else:
        W = csr_dense(t["values"], t["col_idx"], t["row_ptr"], l["shape"])
    y = (W @ x.T).T + t["bias"]
    return np.maximum(y, 0) if l["activation"] == "relu" else y


def csr_dense(values, col_idx, row_ptr, shape):
    """The dense array of a CSR triple whose rows are shape[0]; values may carry trailing dimensions (conv taps)."""
    W = np.zeros(shape, values.dtype)
    W[np.repeat(np.arange(shape[0]), np.diff(row_ptr)), col_idx] = values
    return W


def conv_kernel(l, t):
    """The dense kernel W[outC, inC, kh, kw] of a conv2d layer (layout csr-taps): (row_ptr, col_idx) is the outC × inC
    channel pattern in CSR, and values holds each connection's kh·kw taps row-major (only those set in tap_mask)."""
    outC, inC, kh, kw = l["shape"]
    taps = np.zeros((len(t["col_idx"]), kh * kw), np.float32)
    mask = t["tap_mask"].reshape(taps.shape) != 0 if "tap_mask" in t else np.ones(taps.shape, bool)
    taps[mask] = t["values"]
    return csr_dense(taps, t["col_idx"], t["row_ptr"], (outC, inC, kh * kw)).reshape(outC, inC, kh, kw)


def numpy_layer(l, t, x, sparse=True):
    """One layer of any kind on x[batch, features] (numpy; float64 in, float64 out)."""
    kind = l["kind"]
    if kind == "linear":
        return numpy_linear(l, t, x, sparse)
    if kind == "conv2d":
        y = conv2d(x.reshape(-1, l["inC"], l["H"], l["W"]), conv_kernel(l, t), l["stride"], l["padding"])
        y = (y + t["bias"][:, None, None]).reshape(len(x), -1)
        return np.maximum(y, 0) if l["activation"] == "relu" else y
    if kind in ("maxpool2d", "avgpool2d"):
        reduce = np.max if kind == "maxpool2d" else np.mean
        return pool2d(x.reshape(-1, l["C"], l["H"], l["W"]), l["k"], l["stride"], reduce).reshape(len(x), -1)
    if kind == "flatten":
        return x
    raise ValueError(f"unknown layer kind {kind}")


def conv2d(x, w, stride, padding):
    """torch.nn.functional.conv2d (a cross-correlation) without the bias: x[B, C, H, W], w[O, C, kh, kw]."""
    _, _, H, W = x.shape
    kh, kw = w.shape[2:]
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    y = 0
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride]
            y = y + np.einsum("bchw,oc->bohw", window, w[:, :, i, j])
    return y


def pool2d(x, k, stride, reduce):
    """Max or mean over k×k windows at a stride, no padding: x[B, C, H, W]."""
    oh, ow = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    windows = [x[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] for i in range(k) for j in range(k)]
    return reduce(windows, axis=0)


def main(argv):
    path = argv[1]
    spec, t = load(path)
    for prefix, l in records(spec):
        size = f"{l['shape']} {l['layout']}, {l['nnz']} stored" if "shape" in l else ""
        print(f"{prefix[:-1]:10} {l['kind']:9} {l.get('activation', ''):6} {size}")
    x = np.random.default_rng(0).random((4, int(np.prod(spec["inputShape"]))), np.float32)
    if "--torch" in argv:
        import torch

        spec, t = load_torch(path)
        logits = [z.numpy() for z in run(spec, t, torch.from_numpy(x), torch_layer)]
    else:
        sparse = importlib.util.find_spec("scipy") is not None
        logits = run(spec, t, x.astype(np.float64), lambda l, t, x: numpy_layer(l, t, x, sparse))
    for k, z in enumerate(logits):
        print(f"classifier {k}: classes {z.argmax(axis=1).tolist()} of 4 random inputs")


if __name__ == "__main__":
    main(sys.argv)
