#!/usr/bin/env python3
"""Side-by-side check of calibscope's INT8 QDQ model against
onnxruntime.quantization.quantize_static on the same inputs.

    python3 scripts/ptq_reference.py FP32.onnx OURS_INT8.onnx CALIB_NPY_DIR EVAL_NPY_DIR WORK_DIR

Prints one JSON object: checker result, the optimised graph's op counts, every
activation scale / zero point compared with ORT's (QDQ, MinMax, per-tensor,
uint8 activations, int8 weights), and both INT8 models' error against FP32.
Used by tests/ptq_reference.rs; runs only where onnx and onnxruntime exist.
"""

import glob
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

OPS = ["Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "Concat", "Sigmoid", "GlobalAveragePool",
       "Relu", "Clip", "MaxPool", "AveragePool", "Resize"]


class NpyReader(CalibrationDataReader):
    def __init__(self, files, name):
        self.files, self.name, self.i = files, name, 0

    def get_next(self):
        if self.i >= len(self.files):
            return None
        self.i += 1
        return {self.name: np.load(self.files[self.i - 1]).astype(np.float32)}


def q_params(model):
    """tensor -> (scale, zero_point) for every activation QuantizeLinear."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[1].endswith("_scale"):
            t = n.input[1][: -len("_scale")]
            out[t] = (float(inits[n.input[1]]), int(inits[n.input[2]]))
    return out


def run(path, files, name, optimized=None):
    so = ort.SessionOptions()
    if optimized:
        so.optimized_model_filepath = optimized
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return [s.run(None, {name: np.load(f).astype(np.float32)})[0] for f in files]


def main():
    fp32, ours, calib_dir, eval_dir, work = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    calib = sorted(glob.glob(os.path.join(calib_dir, "*.npy")))
    evals = sorted(glob.glob(os.path.join(eval_dir, "*.npy")))
    name = onnx.load(fp32).graph.input[0].name
    ort_path = os.path.join(work, "ort_int8.onnx")
    quantize_static(fp32, ort_path, NpyReader(calib, name), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=False,
                    op_types_to_quantize=OPS)
    m_ours = onnx.load(ours)
    result = {}
    try:
        onnx.checker.check_model(m_ours, full_check=True)
        result["checker"] = "ok"
    except Exception as e:  # noqa: BLE001
        result["checker"] = str(e)
    opt = os.path.join(work, "ours_optimized.onnx")
    y32 = run(fp32, evals, name)
    y_ours = run(ours, evals, name, optimized=opt)
    y_ort = run(ort_path, evals, name)
    ops = {}
    for n in onnx.load(opt).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    result["optimized_ops"] = ops
    a, b = q_params(m_ours), q_params(onnx.load(ort_path))
    rows = []
    for t in sorted(set(a) | set(b)):
        r = {"tensor": t, "ours": a.get(t), "ort": b.get(t)}
        if t in a and t in b:
            r["scale_rel_diff"] = abs(a[t][0] - b[t][0]) / max(abs(b[t][0]), 1e-12)
            r["zp_diff"] = abs(a[t][1] - b[t][1])
        rows.append(r)
    result["tensors"] = rows

    def err(ys):
        return float(np.mean([np.mean(np.abs(y - r)) for y, r in zip(ys, y32)]))

    result["ours_mae_vs_fp32"] = err(y_ours)
    result["ort_mae_vs_fp32"] = err(y_ort)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
