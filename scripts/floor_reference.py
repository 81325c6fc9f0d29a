#!/usr/bin/env python3
"""NumPy reference of the output quantization floor (tests/diagnose_floor.rs).

    python3 scripts/floor_reference.py SPEC.json

SPEC: {"model", "inputs": [npy], "gts": [npy, metres], "scale", "zero_point",
"decoder_min", "decoder_max", "min_depth", "max_depth", "edges"}.
Runs the FP32 model with ONNX Runtime, applies only the output's uint8
quantization (round half to even, clip 0..255), decodes monodepth2's
sigmoid → depth, and prints {"abs_rel", "fp32_abs_rel", "ranges": [[lo, hi, floor, fp32]],
"steps": [[d, step]]}: abs_rel per image over min < gt < max, mean over
images; per range [lo, hi), mean over images with pixels there.
"""

import json
import sys

import numpy as np
import onnxruntime as ort


def main():
    spec = json.load(open(sys.argv[1]))
    sess = ort.InferenceSession(spec["model"], providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    s, zp = np.float32(spec["scale"]), np.float32(spec["zero_point"])
    lo_d, hi_d = spec["decoder_min"], spec["decoder_max"]
    min_disp, max_disp = 1.0 / hi_d, 1.0 / lo_d

    def decode(sig):
        return 1.0 / (min_disp + (max_disp - min_disp) * sig.astype(np.float64))

    edges = spec["edges"]
    per = {"floor": [], "fp32": []}
    per_range = {"floor": [[] for _ in edges[:-1]], "fp32": [[] for _ in edges[:-1]]}
    for x_path, gt_path in zip(spec["inputs"], spec["gts"]):
        sig = sess.run(None, {name: np.load(x_path)})[0].reshape(-1)
        q = np.clip(np.rint(sig / s) + zp, 0, 255)
        sig_q = ((q - zp) * s).astype(np.float32)
        gt = np.load(gt_path).reshape(-1).astype(np.float64)
        m = (gt > spec["min_depth"]) & (gt < spec["max_depth"])
        if not m.any():
            continue
        for tag, pred in (("floor", decode(sig_q)), ("fp32", decode(sig))):
            g, p = gt[m], pred[m]
            per[tag].append(np.mean(np.abs(g - p) / g))
            for i in range(len(edges) - 1):
                r = (g >= edges[i]) & (g < edges[i + 1])
                if r.any():
                    per_range[tag][i].append(np.mean(np.abs(g[r] - p[r]) / g[r]))
    ranges = [[edges[i], edges[i + 1],
               float(np.mean(per_range["floor"][i])) if per_range["floor"][i] else None,
               float(np.mean(per_range["fp32"][i])) if per_range["fp32"][i] else None]
              for i in range(len(edges) - 1)]
    steps = [[d, float(s) * (max_disp - min_disp) * d * d] for d in edges]
    print(json.dumps({"abs_rel": float(np.mean(per["floor"])), "fp32_abs_rel": float(np.mean(per["fp32"])),
                      "ranges": ranges, "steps": steps}))


if __name__ == "__main__":
    main()
