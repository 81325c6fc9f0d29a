#!/usr/bin/env python3
"""Writes a ResNet-18-shaped depth network as ONNX (opset 11), for the
method-comparison test of issue 16 (tests/diagnose_resnet.rs).

Encoder: ResNet-18 (7x7/2 stem, max-pool, 8 basic blocks at 64/128/256/512,
1x1 downsample on the first block of each stage), every Conv followed by
BatchNormalization. Decoder: 3x3 Conv + BN + ReLU, nearest 2x upsampling
and skip Adds from layer3/2/1, two more upsamplings to full size, a 3x3
Conv to one channel and a Sigmoid (inverse depth, decoded as monodepth2's
disp_to_depth between 0.5 and 100 m; stored in the model's metadata).

The input feeds the first Conv directly (no in-graph normalisation), as in
the issue's ResNet-18, so a collapsed input range shows.

Weights are He-initialised from a fixed seed; the BatchNorm running
statistics are measured by a numpy forward pass over synthetic images, so
every layer's activations have the scale a trained network's have
(gamma/beta drawn around 1/0, the residual branch's last gamma smaller).
Same arguments, same bytes.

    python3 scripts/make_resnet18_depth.py OUT.onnx [--width 160 --height 96 --seed 0]
"""

import argparse

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper, numpy_helper


def conv2d(x, w, b, stride, pad):
    """NCHW convolution in numpy (float64), via sliding windows."""
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # N, H, W, Co
    return y.transpose(0, 3, 1, 2) + b[None, :, None, None]


def maxpool(x):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    win = sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    return win.max(axis=(4, 5))


def up2(x):
    return x.repeat(2, axis=2).repeat(2, axis=3)


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    def conv_bn(self, x, xv, cout, k, stride, gamma_scale=(0.7, 1.2), relu=True):
        """Conv (He init) + BN with statistics measured on `xv`; returns (name, value)."""
        cin = xv.shape[1]
        fan_in = cin * k * k
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(cout, cin, k, k))
        b = np.zeros(cout)
        y = conv2d(xv, w, b, stride, k // 2)
        mean = y.mean(axis=(0, 2, 3))
        var = y.var(axis=(0, 2, 3)) + 1e-3
        gamma = self.rng.uniform(*gamma_scale, size=cout)
        beta = self.rng.normal(0.0, 0.1, size=cout)
        z = (y - mean[None, :, None, None]) / np.sqrt(var + 1e-5)[None, :, None, None]
        z = z * gamma[None, :, None, None] + beta[None, :, None, None]
        c = self.name("conv")
        wn = self.const(c + ".weight", w)
        bn_ = self.const(c + ".bias", b)
        self.nodes.append(
            helper.make_node(
                "Conv", [x, wn, bn_], [c], name=c,
                kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4,
            )
        )
        n = self.name("bn")
        ins = [c] + [
            self.const(f"{n}.{p}", v)
            for p, v in (("scale", gamma), ("bias", beta), ("mean", mean), ("var", var))
        ]
        self.nodes.append(helper.make_node("BatchNormalization", ins, [n], name=n, epsilon=1e-5))
        if not relu:
            return n, z
        r = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [n], [r], name=r))
        return r, np.maximum(z, 0.0)

    def add_relu(self, a, av, b, bv, relu=True):
        s = self.name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [s], name=s))
        v = av + bv
        if not relu:
            return s, v
        r = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [s], [r], name=r))
        return r, np.maximum(v, 0.0)

    def block(self, x, xv, cout, stride):
        """ResNet basic block: conv-bn-relu, conv-bn (gamma 0.1–0.25: residual branches add a little to the identity, as in trained networks), + identity or 1x1 downsample."""
        h, hv = self.conv_bn(x, xv, cout, 3, stride)
        h, hv = self.conv_bn(h, hv, cout, 3, 1, gamma_scale=(0.1, 0.25), relu=False)
        if stride != 1 or xv.shape[1] != cout:
            x, xv = self.conv_bn(x, xv, cout, 1, stride, relu=False)
        return self.add_relu(h, hv, x, xv)

    def maxpool(self, x, xv):
        m = self.name("maxpool")
        self.nodes.append(
            helper.make_node("MaxPool", [x], [m], name=m, kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
        )
        return m, maxpool(xv)

    def upsample(self, x, xv):
        u = self.name("upsample")
        roi = self.const(u + ".roi", np.zeros(0))
        scales = self.const(u + ".scales", np.array([1.0, 1.0, 2.0, 2.0]))
        self.nodes.append(
            helper.make_node("Resize", [x, roi, scales], [u], name=u, mode="nearest",
                             coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        )
        return u, up2(xv)


def synthetic_images(rng, n, h, w):
    """Smooth scenes in [0, 1]: a sky-to-ground gradient, blobs, texture."""
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    out = np.empty((n, 3, h, w))
    for i in range(n):
        base = 0.2 + 0.6 * (1 - yy) * rng.uniform(0.5, 1.0)
        for _ in range(4):
            cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
            base = base + rng.uniform(-0.4, 0.4) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)
        for c in range(3):
            tex = rng.normal(0, 0.05, size=(h, w))
            out[i, c] = np.clip(base * rng.uniform(0.7, 1.1) + tex, 0, 1)
    return out


def build(width, height, seed):
    rng = np.random.default_rng(seed)
    xv = synthetic_images(rng, 4, height, width)
    b = Builder(rng)
    x, v = b.conv_bn("rgb", xv, 64, 7, 2)
    x, v = b.maxpool(x, v)
    skips = []
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        x, v = b.block(x, v, cout, stride)
        x, v = b.block(x, v, cout, 1)
        skips.append((x, v))
    # Decoder: reduce, upsample, add the encoder's skip at each scale.
    for (sx, sv), cout in zip(reversed(skips[:3]), (256, 128, 64)):
        x, v = b.conv_bn(x, v, cout, 3, 1)
        x, v = b.upsample(x, v)
        x, v = b.add_relu(x, v, sx, sv, relu=False)
    for cout in (32, 16):
        x, v = b.conv_bn(x, v, cout, 3, 1)
        x, v = b.upsample(x, v)
    # Output: 3x3 conv to one channel, scaled so the sigmoid's input has std
    # about 1 around -1.5 (mostly far scenes, as a real disparity map).
    w = rng.normal(0.0, 1.0, size=(1, v.shape[1], 3, 3))
    pre = conv2d(v, w, np.zeros(1), 1, 1)
    w /= pre.std()
    bias = np.array([-1.5 - pre.mean() / pre.std()])
    wn = b.const("disp.weight", w)
    bn_ = b.const("disp.bias", bias)
    b.nodes.append(helper.make_node("Conv", [x, wn, bn_], ["disp"], name="disp", kernel_shape=[3, 3], pads=[1] * 4))
    b.nodes.append(helper.make_node("Sigmoid", ["disp"], ["depth_sigmoid"], name="sigmoid"))
    graph = helper.make_graph(
        b.nodes,
        "resnet18_depth",
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("depth_sigmoid", TensorProto.FLOAT, [1, 1, height, width])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="calibscope-test")
    model.ir_version = 6
    for k, val in (("min_depth", "0.5"), ("max_depth", "100.0"), ("decoding", "disp_to_depth")):
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=val))
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.width % 32 or a.height % 32:
        ap.error("width and height must be multiples of 32 (five stride-2 stages)")
    m = build(a.width, a.height, a.seed)
    onnx.save(m, a.out)
    params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    convs = sum(n.op_type == "Conv" for n in m.graph.node)
    print(f"wrote {a.out}: {convs} Conv, {len(m.graph.node)} nodes, {params / 1e6:.1f} M parameters")


if __name__ == "__main__":
    main()
