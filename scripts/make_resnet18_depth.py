"""A ResNet-18 depth network shaped like the users' (monodepth2-style encoder
and decoder, input `rgb` [1,3,384,640] in [0,1], one sigmoid output
`depth_sigmoid` [1,1,384,640]) with seeded random weights: the same
operators and compute as the real network, for timing only (its depth is
meaningless). `cargo bench --bench eval` uses it with BENCH_MODEL=FILE.

    python3 scripts/make_resnet18_depth.py /tmp/resnet18_depth.onnx
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

rng = np.random.default_rng(18)
nodes, inits = [], []
count = [0]


def name(p):
    count[0] += 1
    return f"{p}{count[0]}"


def conv(x, cin, cout, k, stride=1, relu=True):
    w = name("w")
    b = name("b")
    inits.append(numpy_helper.from_array(
        (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32), w))
    inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), b))
    y = name("conv")
    nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride],
                                  pads=[k // 2] * 4))
    if not relu:
        return y
    r = name("relu")
    nodes.append(helper.make_node("Relu", [y], [r]))
    return r


def block(x, cin, cout, stride):
    y = conv(x, cin, cout, 3, stride)
    y = conv(y, cout, cout, 3, 1, relu=False)
    skip = x if (stride == 1 and cin == cout) else conv(x, cin, cout, 1, stride, relu=False)
    s = name("add")
    nodes.append(helper.make_node("Add", [y, skip], [s]))
    r = name("relu")
    nodes.append(helper.make_node("Relu", [s], [r]))
    return r


def up(x):
    y = name("up")
    nodes.append(helper.make_node("Resize", [x, "roi", "scales2"], [y], mode="nearest"))
    return y


inits.append(numpy_helper.from_array(np.array([], np.float32), "roi"))
inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales2"))

# Encoder: ResNet-18.
x = conv("rgb", 3, 64, 7, 2)
p = name("pool")
nodes.append(helper.make_node("MaxPool", [x], [p], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
feats = [x]
x, c = p, 64
for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
    x = block(x, c, cout, stride)
    x = block(x, cout, cout, 1)
    feats.append(x)
    c = cout
# Decoder (monodepth2's channels), skip connections by concatenation.
skips = {4: (feats[3], 256), 3: (feats[2], 128), 2: (feats[1], 64), 1: (feats[0], 64)}
for i, cout in zip([4, 3, 2, 1, 0], [256, 128, 64, 32, 16]):
    x = conv(x, c, cout, 3)
    x = up(x)
    cin = cout
    if i in skips:
        s, sc = skips[i]
        cat = name("cat")
        nodes.append(helper.make_node("Concat", [x, s], [cat], axis=1))
        x, cin = cat, cout + sc
    x = conv(x, cin, cout, 3)
    c = cout
y = conv(x, c, 1, 3, relu=False)
nodes.append(helper.make_node("Sigmoid", [y], ["depth_sigmoid"]))

graph = helper.make_graph(
    nodes, "resnet18_depth",
    [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, [1, 3, 384, 640])],
    [helper.make_tensor_value_info("depth_sigmoid", TensorProto.FLOAT, [1, 1, 384, 640])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="calibscope")
model.ir_version = 8
for k, v in [("min_depth", "0.5"), ("max_depth", "100")]:
    model.metadata_props.add(key=k, value=v)
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
