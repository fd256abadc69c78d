#!/usr/bin/env python3
"""Golden values for test/golden_*.test.ts, computed without any presparse code (Python standard library only).

    python3 test/golden/golden.py > test/golden/golden.json

- Patterns: a second implementation of the algorithm `Pattern.fixedDegree` documents (xoshiro128** seeded by
  splitmix32, Fisher-Yates shuffles of the inputs and outputs, the cyclic tiling, 4 * nnz seeded double-edge swap
  attempts) and of `Pattern.random`, with the 64-bit pattern hash (FNV-1a and a murmur-style mix over inputs,
  outputs, rowPtr, colIdx).
- Frames: written from docs/frame-format.md alone (struct for the layout, zlib for the CRC-32, struct's 'e' format
  for IEEE binary16 with ties to even).
- Safetensors: written from the format (u64 LE header length, JSON header, raw little-endian data) plus the layout
  `encodeSafetensors` documents: `__metadata__` first, tensors by element size (largest first) then by name, the
  header padded with spaces to a multiple of 8.

Everything is deterministic; running it again must reproduce golden.json byte for byte.
"""
import hashlib
import json
import math
import struct
import sys
import zlib

M = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M


class Rng:
    """xoshiro128** over 32-bit words, state from four splitmix32 outputs of the seed."""

    def __init__(self, seed):
        x = seed & M
        out = []
        for _ in range(4):
            x = (x + 0x9E3779B9) & M
            z = x
            z = imul(z ^ (z >> 16), 0x85EBCA6B)
            z = imul(z ^ (z >> 13), 0xC2B2AE35)
            out.append(z ^ (z >> 16))
        self.s = out

    def next_u32(self):
        s0, s1, s2, s3 = self.s
        r = imul(rotl(imul(s1, 5), 7), 9)
        t = (s1 << 9) & M
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return r

    def next(self):
        return self.next_u32() / 4294967296

    def int(self, n):
        return math.floor(self.next() * n)

    def shuffle(self, a):
        for i in range(len(a) - 1, 0, -1):
            j = self.int(i + 1)
            a[i], a[j] = a[j], a[i]
        return a


def csr_from_edges(inputs, outputs, edges):
    rows = [[] for _ in range(outputs)]
    for o, i in edges:
        rows[o].append(i)
    row_ptr = [0]
    col_idx = []
    for r in rows:
        col_idx.extend(sorted(r))
        row_ptr.append(len(col_idx))
    return row_ptr, col_idx


def fixed_degree(inputs, outputs, out_degree, seed):
    assert (inputs * out_degree) % outputs == 0
    in_degree = inputs * out_degree // outputs
    rng = Rng(seed)
    in_perm = rng.shuffle(list(range(inputs)))
    out_perm = rng.shuffle(list(range(outputs)))
    e_out, e_in = [], []
    for o in range(outputs):
        for t in range(in_degree):
            e_out.append(out_perm[o])
            e_in.append(in_perm[(o * in_degree + t) % inputs])
    nnz = len(e_out)
    has = {(a, x) for a, x in zip(e_out, e_in)}
    if nnz > 1 and in_degree < inputs:
        for _ in range(4 * nnz):
            i, j = rng.int(nnz), rng.int(nnz)
            a, x, b, y = e_out[i], e_in[i], e_out[j], e_in[j]
            if a == b or x == y or (a, y) in has or (b, x) in has:
                continue
            has -= {(a, x), (b, y)}
            has |= {(a, y), (b, x)}
            e_in[i], e_in[j] = y, x
    return csr_from_edges(inputs, outputs, list(zip(e_out, e_in)))


def random_pattern(inputs, outputs, density, seed):
    rng = Rng(seed)
    edges = [(r, c) for r in range(outputs) for c in range(inputs) if rng.next() < density]
    return csr_from_edges(inputs, outputs, edges)


def pattern_hash(inputs, outputs, row_ptr, col_idx):
    h1, h2 = 0x811C9DC5, 0x9747B28C
    for v in [inputs, outputs, *row_ptr, *col_idx]:
        h1 = imul(h1 ^ v, 0x01000193)
        k = imul(v, 0xCC9E2D51)
        k = rotl(k, 15)
        h2 = (imul(h2 ^ imul(k, 0x1B873593), 5) + 0xE6546B64) & M
    return f"{h1:08x}{h2:08x}"


def i32_sha256(values):
    return hashlib.sha256(struct.pack(f"<{len(values)}i", *values)).hexdigest()


def pattern_entry(kind, inputs, outputs, row_ptr, col_idx, full):
    e = {
        "kind": kind,
        "inputs": inputs,
        "outputs": outputs,
        "hash": pattern_hash(inputs, outputs, row_ptr, col_idx),
        "rowPtrSha256": i32_sha256(row_ptr),
        "colIdxSha256": i32_sha256(col_idx),
        "firstRow": col_idx[row_ptr[0]:row_ptr[1]],
    }
    if full:
        e["rowPtr"] = row_ptr
        e["colIdx"] = col_idx
    return e


def patterns():
    out = []
    for seed in (0, 1, 7):
        out.append({"fixedDegree": [800, 40, 2, seed], **pattern_entry("fixed-degree:2", 800, 40, *fixed_degree(800, 40, 2, seed), False)})
    for args in ((40, 40, 9, 1), (40, 10, 10, 2), (12, 8, 2, 0), (6, 4, 2, 5), (10, 10, 3, 3), (3, 3, 1, 0)):
        full = args[0] * args[2] <= 64
        out.append({"fixedDegree": list(args), **pattern_entry(f"fixed-degree:{args[2]}", args[0], args[1], *fixed_degree(*args), full)})
    for args in ((12, 5, 0.3, 42), (7, 3, 0.5, 0)):
        out.append({"random": list(args), **pattern_entry(f"random:{args[2]}", args[0], args[1], *random_pattern(*args), True)})
    # dense 4x3: every connection; its hash is what fromMask/fromCsr of the same arrays give
    dense_rp = [r * 4 for r in range(4)]
    dense_ci = [p % 4 for p in range(12)]
    out.append({"dense": [4, 3], **pattern_entry("dense", 4, 3, dense_rp, dense_ci, True)})
    # hand-made CSR: the same column indices under two row pointers, and a pattern with empty rows
    for inputs, outputs, rp, ci in ((3, 2, [0, 1, 2], [0, 1]), (3, 2, [0, 2, 2], [0, 1]), (5, 4, [0, 0, 3, 3, 5], [0, 2, 4, 1, 3])):
        out.append({"csr": [inputs, outputs], **pattern_entry("csr", inputs, outputs, rp, ci, True)})
    return out


# ---- frames, from docs/frame-format.md ----

DTYPE = {"f32": 0, "f16": 1, "int8": 2}
KIND = {"activation": 0, "logits": 1, "probabilities": 2}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def next_up_f32(x):
    return struct.unpack("<f", struct.pack("<I", struct.unpack("<I", struct.pack("<f", x))[0] + 1))[0]


def int8_scale(data):
    """The smallest float32 s with 127 * s >= max|x|."""
    maxabs = max((abs(v) for v in data), default=0.0)
    if maxabs == 0:
        return 0.0
    s = f32(maxabs / 127)
    if s * 127 < maxabs:
        s = next_up_f32(s)
    return s


def encode_frame(data, shape, dtype, kind, split_id, model_hash):
    n = math.prod(shape)
    assert len(data) == n and all(f32(v) == v for v in data)
    size = {"f32": 4, "f16": 2, "int8": 1}[dtype]
    scale = int8_scale(data) if dtype == "int8" else 0.0
    rank = len(shape)
    header = b"PSFR" + struct.pack("<BBBBII", 1, DTYPE[dtype], KIND[kind], rank, 32 + 4 * rank, split_id)
    header += bytes.fromhex(model_hash) + struct.pack("<fI", scale, n * size) + struct.pack(f"<{rank}I", *shape)
    if dtype == "f32":
        payload = struct.pack(f"<{n}f", *data)
    elif dtype == "f16":
        payload = struct.pack(f"<{n}e", *data)
    else:
        codes = []
        for v in data:
            r = v / scale if scale else 0.0
            assert abs(r - math.floor(r) - 0.5) > 1e-9, "a tie: the docs do not fix its rounding"
            codes.append(max(-127, min(127, math.floor(r + 0.5))))
        payload = struct.pack(f"<{n}b", *codes)
    body = header + payload
    return body + struct.pack("<I", zlib.crc32(body))


def frames():
    # values exact in float32 and in range for f16; no int8 ties
    data = [0.5, -1.25, 3.0, 0.0, -0.0009765625, 100.75, 2.0 ** -20, -7.5, 1.0 / 3]
    data = [f32(v) for v in data]
    out = []
    for dtype, kind, shape, split_id, h in (
        ("f32", "activation", [3, 3], 1, "0123456789abcdef"),
        ("f16", "logits", [9], 2, "fedcba9876543210"),
        ("int8", "activation", [3, 1, 3], 7, "00ff10e0a5c3b2d1"),
        ("int8", "probabilities", [1, 1, 1, 9], 4294967295, "8000000000000001"),
    ):
        out.append(frame_entry(data, shape, dtype, kind, split_id, h))
    out.append(frame_entry([0.0] * 4, [2, 2], "int8", "activation", 0, "0000000000000000"))
    return out


def decode_payload(b, dtype, n, header_length, scale):
    """The float32 values a receiver gets back: f16 widened exactly, int8 as float32(q * scale)."""
    body = b[header_length:header_length + n * {"f32": 4, "f16": 2, "int8": 1}[dtype]]
    if dtype == "f32":
        return list(struct.unpack(f"<{n}f", body))
    if dtype == "f16":
        return list(struct.unpack(f"<{n}e", body))
    return [f32(q * scale) for q in struct.unpack(f"<{n}b", body)]


def frame_entry(data, shape, dtype, kind, split_id, h):
    b = encode_frame(data, shape, dtype, kind, split_id, h)
    scale = int8_scale(data) if dtype == "int8" else 0.0
    decoded = decode_payload(b, dtype, len(data), 32 + 4 * len(shape), scale)
    return {"dtype": dtype, "kind": kind, "shape": shape, "splitId": split_id, "modelHash": h, "data": data,
            "scale": scale, "decoded": decoded, "hex": b.hex()}


# ---- safetensors ----

SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}
# 16-bit floats are given and stored as their raw bits, as presparse holds them (Uint16Array)
FMT = {"BOOL": "B", "U8": "B", "I8": "b", "U16": "H", "I16": "h", "F16": "H", "BF16": "H", "U32": "I", "I32": "i", "F32": "f", "U64": "Q", "I64": "q", "F64": "d"}


def safetensors_file(tensors, metadata, layout="presparse"):
    """tensors: list of (name, dtype, shape, values). layout "presparse": the order and padding encodeSafetensors
    documents; "other": data in the given order, header keys reversed, metadata last, header unpadded."""
    blobs = [(name, dt, shape, struct.pack(f"<{len(v)}{FMT[dt]}", *v)) for name, dt, shape, v in tensors]
    if layout == "presparse":
        blobs.sort(key=lambda b: (-SIZE[b[1]], b[0]))
    entries, offset = [], 0
    for name, dt, shape, raw in blobs:
        entries.append((name, {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len(raw)]}))
        offset += len(raw)
    if layout == "presparse":
        header = ([("__metadata__", metadata)] if metadata else []) + entries
        text = json.dumps(dict(header), separators=(",", ":"), ensure_ascii=False).encode()
        text += b" " * (-len(text) % 8)
    else:
        header = list(reversed(entries)) + [("__metadata__", metadata)]
        text = json.dumps(dict(header), indent=1).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(b[3] for b in blobs)


def safetensors_golden():
    tensors = [
        ("layer0.values", "F32", [2, 3], [1.0, -2.0, 3.5, 0.1, 0.0, -0.0]),
        ("layer0.col_idx", "I32", [3], [0, 7, 2]),
        ("layer0.col_idx_u16", "U16", [4], [0, 1, 65535, 300]),
        ("bits", "U8", [5], [1, 2, 3, 4, 5]),
        ("half", "F16", [3], [0x3C00, 0xFBFF, 0x0001]),  # raw binary16 bits: 1, -65504, 2^-24
        ("counts", "I64", [2], [-1, 2 ** 40]),
        ("empty", "F64", [0, 4], []),
        ("caf\u00e9", "I8", [1, 2], [-128, 127]),
    ]
    metadata = {"format": "presparse", "arch": "[800,40,40,10]", "note": "\u00fcber"}
    ours = safetensors_file(tensors, metadata)
    other = safetensors_file(tensors, metadata, layout="other")
    as_json = [{"name": n, "dtype": d, "shape": s, "values": v} for n, d, s, v in tensors]
    bare = safetensors_file([("x", "F32", [2], [1.5, -2.0]), ("i", "I8", [3], [1, -1, 0])], {})
    return {"tensors": as_json, "metadata": metadata, "hex": ours.hex(), "sha256": hashlib.sha256(ours).hexdigest(),
            "otherWriterHex": other.hex(), "noMetadataHex": bare.hex()}


def main():
    golden = {
        "_comment": "Generated by test/golden/golden.py (Python standard library, no presparse code). Do not edit by hand.",
        "patterns": patterns(),
        "frames": frames(),
        "safetensors": safetensors_golden(),
    }
    json.dump(golden, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
