#!/usr/bin/env python3
"""Side-by-side check of calibscope's INT8 QDQ model against
onnxruntime.quantization.quantize_static on the same inputs.

    python3 scripts/ptq_reference.py FP32.onnx OURS_INT8.onnx CALIB_NPY_DIR EVAL_NPY_DIR WORK_DIR [METHOD [per_channel]]
    python3 scripts/ptq_reference.py --build-zoo OUT.onnx   # a small model using every op kind

Prints one JSON object: checker result, the optimised graph's op counts, every
activation scale / zero point and every weight / bias scale (with its
DequantizeLinear axis) compared with ORT's (QDQ, MinMax, per-tensor unless
`per_channel` is given, uint8 activations, int8 weights), and both INT8
models' error against FP32.
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


def w_params(model):
    """initializer -> (scales, axis, kind) for every DequantizeLinear of a constant:
    kind "weight" (int8) or "bias" (int32)."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in inits and n.input[0].endswith("_quantized"):
            axis = next((a.i for a in n.attribute if a.name == "axis"), None)
            scales = np.atleast_1d(inits[n.input[1]]).astype(np.float64).tolist()
            kind = "bias" if inits[n.input[0]].dtype == np.int32 else "weight"
            out[n.input[0][: -len("_quantized")]] = (scales, axis if len(scales) > 1 else None, kind)
    return out


def run(path, files, name, optimized=None):
    so = ort.SessionOptions()
    if optimized:
        so.optimized_model_filepath = optimized
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return [s.run(None, {name: np.load(f).astype(np.float32)})[0] for f in files]


def build_zoo(path):
    """A small opset-13 model with every op kind calibscope quantizes: Conv,
    Clip, MaxPool, Relu, residual Add, Mul, ConvTranspose, AveragePool,
    GlobalAveragePool, Gemm (transB=1 and 0), MatMul, Sigmoid (random weights, seed 0)."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)

    def w(name, *shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [w("w1", 8, 3, 3, 3), w("b1", 8, scale=0.1), w("w2", 8, 8, 3, 3, scale=0.15), w("b2", 8, scale=0.1),
             w("wt", 8, 4, 2, 2), w("bt", 4, scale=0.1), w("wg", 5, 4), w("bg", 5, scale=0.1),
             w("wg2", 5, 4), w("bg2", 4, scale=0.1), w("wm", 4, 3),
             numpy_helper.from_array(np.array(0.0, np.float32), "clip_min"),
             numpy_helper.from_array(np.array(6.0, np.float32), "clip_max")]
    h = helper.make_node
    nodes = [
        h("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        h("Clip", ["c1", "clip_min", "clip_max"], ["r1"], name="clip1"),
        h("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        h("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        h("Relu", ["c2"], ["r2"], name="relu2"),
        h("Add", ["r2", "p1"], ["a1"], name="residual"),
        h("Mul", ["a1", "r2"], ["m1"], name="gate"),
        h("ConvTranspose", ["m1", "wt", "bt"], ["t1"], name="up", kernel_shape=[2, 2], strides=[2, 2]),
        h("AveragePool", ["t1"], ["ap1"], name="avg", kernel_shape=[2, 2], strides=[2, 2]),
        h("GlobalAveragePool", ["ap1"], ["g1"], name="gap"),
        h("Flatten", ["g1"], ["f1"], name="flat"),
        h("Gemm", ["f1", "wg", "bg"], ["y1"], name="fc", transB=1),
        h("Gemm", ["y1", "wg2", "bg2"], ["y1b"], name="fc2"),
        h("MatMul", ["y1b", "wm"], ["y2"], name="proj"),
        h("Sigmoid", ["y2"], ["out"], name="sig"),
    ]
    graph = helper.make_graph(nodes, "zoo", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    if sys.argv[1] == "--build-zoo":
        build_zoo(sys.argv[2])
        return
    fp32, ours, calib_dir, eval_dir, work = sys.argv[1:6]
    method = sys.argv[6] if len(sys.argv) > 6 else "minmax"
    per_channel = len(sys.argv) > 7 and sys.argv[7] == "per_channel"
    from onnxruntime.quantization import CalibrationMethod
    cm = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
          "entropy": CalibrationMethod.Entropy}[method]
    os.makedirs(work, exist_ok=True)
    calib = sorted(glob.glob(os.path.join(calib_dir, "*.npy")))
    evals = sorted(glob.glob(os.path.join(eval_dir, "*.npy")))
    name = onnx.load(fp32).graph.input[0].name
    ort_path = os.path.join(work, "ort_int8.onnx")
    quantize_static(fp32, ort_path, NpyReader(calib, name), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
                    op_types_to_quantize=OPS, calibrate_method=cm)
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
    a, b = w_params(m_ours), w_params(onnx.load(ort_path))
    rows = []
    for t in sorted(set(a) | set(b)):
        r = {"weight": t, "ours": a.get(t), "ort": b.get(t)}
        if t in a and t in b and len(a[t][0]) == len(b[t][0]):
            r["scale_rel_diff"] = max(abs(x - y) / max(abs(y), 1e-30) for x, y in zip(a[t][0], b[t][0]))
        rows.append(r)
    result["weights"] = rows

    def err(ys):
        return float(np.mean([np.mean(np.abs(y - r)) for y, r in zip(ys, y32)]))

    result["ours_mae_vs_fp32"] = err(y_ours)
    result["ort_mae_vs_fp32"] = err(y_ort)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
