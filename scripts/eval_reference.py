#!/usr/bin/env python3
"""numpy reference for calibscope's evaluation metrics (tests/eval_parity.rs).

Implements the brief's formulas independently of the Rust code:
prediction heads resized to the GT size by bilinear interpolation
(align_corners=False: source x = (x+0.5)*in/out-0.5 clamped at 0, as OpenCV
and PyTorch; or align_corners=True: x*(in-1)/(out-1)) before or after
decoding; mask min<gt<max (or >=, <=) AND validity mask AND Garg crop
(monodepth2's fractions, truncated with astype(np.int32)); median scaling
pred *= median(gt)/median(pred) (np.median); optional clamp to [min, max];
abs_rel, sq_rel, rmse, rmse_log, a1..a3; per range [lo, hi) on the masked,
scaled pixels. Mean over images and np.std (ddof=0).

Usage: eval_reference.py CASES.json OUT.json   (all arrays are .npy files
named in CASES.json, relative to its folder)
"""

import json
import os
import sys

import numpy as np

NAMES = ["abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3"]


def resize_bilinear(src, oh, ow, align_corners):
    ih, iw = src.shape
    if (ih, iw) == (oh, ow):
        return src.copy()

    def coords(n_in, n_out):
        d = np.arange(n_out, dtype=np.float64)
        if align_corners:
            s = d * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros(n_out)
        else:
            s = np.maximum((d + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(np.floor(s).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, s - i0

    y0, y1, ly = coords(ih, oh)
    x0, x1, lx = coords(iw, ow)
    ly, lx = ly[:, None], lx[None, :]
    top = (1 - lx) * src[y0][:, x0] + lx * src[y0][:, x1]
    bottom = (1 - lx) * src[y1][:, x0] + lx * src[y1][:, x1]
    return (1 - ly) * top + ly * bottom


def decode(kind, heads, mn, mx):
    if kind == "sigmoid-inverse":
        min_disp, max_disp = 1.0 / mx, 1.0 / mn
        return 1.0 / (min_disp + (max_disp - min_disp) * heads[0])
    if kind == "dual-head":
        return heads[0] * mx + heads[1]
    if kind == "linear":
        return mn + (mx - mn) * heads[0]
    if kind == "depth":
        return heads[0]
    if kind == "inverse-depth":
        return 1.0 / heads[0]
    raise ValueError(kind)


def compute(gt, pred):
    thresh = np.maximum(gt / pred, pred / gt)
    return {
        "abs_rel": np.mean(np.abs(gt - pred) / gt),
        "sq_rel": np.mean((gt - pred) ** 2 / gt),
        "rmse": np.sqrt(np.mean((gt - pred) ** 2)),
        "rmse_log": np.sqrt(np.mean((np.log(gt) - np.log(pred)) ** 2)),
        "a1": np.mean(thresh < 1.25),
        "a2": np.mean(thresh < 1.25 ** 2),
        "a3": np.mean(thresh < 1.25 ** 3),
    }


def evaluate(case, folder):
    load = lambda name: np.load(os.path.join(folder, name)).astype(np.float64)
    gt = load(case["gt"])
    # Heads are stored [1,1,H,W]; keep the last two axes.
    heads = [x.reshape(x.shape[-2:]) for x in (load(h) for h in case["heads"])]
    s, d = case["settings"], case["decoder"]
    h, w = gt.shape
    ac = s["align_corners"]
    if s["resize"] == "before_decoding":
        pred = decode(d["kind"], [resize_bilinear(x, h, w, ac) for x in heads], d["min_depth"], d["max_depth"])
    else:
        pred = resize_bilinear(decode(d["kind"], heads, d["min_depth"], d["max_depth"]), h, w, ac)
    mn, mx = s["min_depth"], s["max_depth"]
    if s["bounds"] == "inclusive":
        mask = (gt >= mn) & (gt <= mx)
    else:
        mask = (gt > mn) & (gt < mx)
    if case.get("mask"):
        mask &= load(case["mask"]) > 127
    if s["crop"] == "garg":
        crop = np.array([0.40810811 * h, 0.99189189 * h, 0.03594771 * w, 0.96405229 * w]).astype(np.int32)
        c = np.zeros(mask.shape, bool)
        c[crop[0]:crop[1], crop[2]:crop[3]] = True
        mask &= c
    g, p = gt[mask], pred[mask]
    edges = s["range_edges"]
    if g.size == 0:
        return {"metrics": None, "pixels": 0, "scale": 1.0, "ranges": [None] * (len(edges) - 1)}
    scale = 1.0
    if s["median_scaling"]:
        scale = np.median(g) / np.median(p)
        p = p * scale
    if s["clamp"]:
        p = np.clip(p, mn, mx)
    ranges = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        r = (g >= lo) & (g < hi)
        ranges.append({"metrics": {k: float(v) for k, v in compute(g[r], p[r]).items()}, "pixels": int(r.sum())}
                      if r.any() else None)
    return {"metrics": {k: float(v) for k, v in compute(g, p).items()}, "pixels": int(g.size),
            "scale": float(scale), "ranges": ranges}


def main():
    cases_path, out_path = sys.argv[1], sys.argv[2]
    folder = os.path.dirname(os.path.abspath(cases_path))
    cases = json.load(open(cases_path))
    results = [evaluate(c, folder) for c in cases]
    # Mean and population std over the images with a valid pixel, per settings group.
    groups = {}
    for c, r in zip(cases, results):
        if r["metrics"] is not None:
            groups.setdefault(c["group"], []).append([r["metrics"][k] for k in NAMES])
    summary = {g: {"mean": dict(zip(NAMES, np.mean(v, axis=0).tolist())),
                   "std": dict(zip(NAMES, np.std(v, axis=0).tolist())),
                   "images": len(v)} for g, v in groups.items()}
    json.dump({"images": results, "groups": summary}, open(out_path, "w"))


if __name__ == "__main__":
    main()
