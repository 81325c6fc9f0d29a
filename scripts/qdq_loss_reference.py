#!/usr/bin/env python3
"""ONNX Runtime's own per-tensor errors (onnxruntime.quantization.qdq_loss_debug)
for an FP32 model and its QDQ model on a folder of .npy inputs.

    python3 scripts/qdq_loss_reference.py FP32.onnx INT8.onnx NPY_DIR WORK_DIR

Prints one JSON object: {"activations": {tensor: {"xmodel_err": dB, "qdq_err": dB}},
"weights": {weight: dB}}. Used by tests/diagnose_parity.rs.
"""

import glob
import json
import os
import sys

import numpy as np
import onnx
from onnxruntime.quantization.calibrate import CalibrationDataReader
from onnxruntime.quantization.qdq_loss_debug import (collect_activations, compute_activation_error,
                                                      compute_weight_error, create_activation_matching,
                                                      create_weight_matching,
                                                      modify_model_output_intermediate_tensors)


class NpyReader(CalibrationDataReader):
    def __init__(self, files, name):
        self.files, self.name, self.i = files, name, 0

    def get_next(self):
        if self.i >= len(self.files):
            return None
        self.i += 1
        return {self.name: np.load(self.files[self.i - 1]).astype(np.float32)}


def main():
    fp32, int8, npy_dir, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    files = sorted(glob.glob(os.path.join(npy_dir, "*.npy")))
    name = onnx.load(fp32).graph.input[0].name
    acts = {}
    for tag, path in (("float", fp32), ("qdq", int8)):
        aug = os.path.join(work, f"{tag}_aug.onnx")
        modify_model_output_intermediate_tensors(path, aug)
        acts[tag] = collect_activations(aug, NpyReader(files, name))
    matched = create_activation_matching(acts["qdq"], acts["float"])
    act_err = compute_activation_error(matched)
    w_err = compute_weight_error(create_weight_matching(fp32, int8))
    print(json.dumps({"activations": act_err, "weights": {k: float(v) for k, v in w_err.items()}}))


if __name__ == "__main__":
    main()
