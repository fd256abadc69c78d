"""Runs docs/python/presparse_reader.py on the cases of a JSON file and prints one JSON line per case.

    python3 check_reader.py CASES.json

CASES.json: [{"model": path, "x": [[...] per sample], "logits": [[[...] per sample] per classifier]}]. Each line
says, per backend (numpy alone, scipy, torch), the largest |ours − presparse's| / max(1, |presparse's|), or why the
backend did not run ("skipped: …", or "refused: …" when the torch loader refuses the file's dtypes).
"""
import importlib.util
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python"))

import numpy as np  # noqa: E402

import presparse_reader as reader  # noqa: E402


def error(got, want):
    return max(float(np.max(np.abs(g - w) / np.maximum(1, np.abs(w)), initial=0)) for g, w in zip(got, want))


def check(case):
    x = np.array(case["x"], np.float32)
    want = [np.array(z, np.float64) for z in case["logits"]]
    spec, t = reader.load(case["model"])
    out = {"model": os.path.basename(case["model"])}
    logits = reader.run(spec, t, x.astype(np.float64), lambda l, t, x: reader.numpy_layer(l, t, x, sparse=False))
    out["numpy"] = error(logits, want) if len(logits) == len(want) else f"{len(logits)} classifiers"
    if importlib.util.find_spec("scipy") is None:
        out["scipy"] = "skipped: scipy is not importable"
    else:
        out["scipy"] = error(reader.run(spec, t, x.astype(np.float64), reader.numpy_layer), want)
    if importlib.util.find_spec("torch") is None:
        out["torch"] = "skipped: torch is not importable"
    else:
        import torch

        out["torchVersion"] = torch.__version__
        try:
            spec, t = reader.load_torch(case["model"])
        except TypeError as e:
            out["torch"] = f"refused: {e}"
        else:
            with torch.no_grad():
                logits = reader.run(spec, t, torch.from_numpy(x), reader.torch_layer)
            out["torch"] = error([z.numpy() for z in logits], want)
    return out


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for case in cases:
        print(json.dumps(check(case)), flush=True)
