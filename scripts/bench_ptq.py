#!/usr/bin/env python3
"""Benchmark: calibscope's PTQ calibration against onnxruntime.quantization.quantize_static.

Runs both sides in one go on the demo model and the same preprocessed `.npy`
inputs, and prints wall time and peak memory (the child process's max RSS, as
/usr/bin/time -v reports it) with their ratios:

  * time, Percentile and Entropy, on --images inputs (default 300);
  * peak memory at --mem-small and --mem-large inputs (default 50 and 500).
    ORT keeps every activation of every image in RAM for the histogram
    methods, so its large run is capped at --ort-mem-large (default 150) to
    stay inside a 24 GB machine; its growth per image is printed instead.

    cargo build --release
    python3 scripts/bench_ptq.py            # needs numpy, pillow, onnx, onnxruntime

ORT runs with its defaults for each method (Percentile: 2048 bins, 99.999;
Entropy: 128 bins); calibscope with its defaults (2048 bins; Entropy 2048→128).
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS = ["Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "Concat", "Sigmoid", "GlobalAveragePool",
       "Relu", "Clip", "MaxPool", "AveragePool", "Resize"]


def run_measured(argv, env=None):
    """Runs argv; returns (seconds, peak RSS in MiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{err[-2000:]}")
    return dt, usage.ru_maxrss / 1024.0


def ort_child(model, folder, method, out):
    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    files = sorted(glob.glob(os.path.join(folder, "*.npy")))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.i = 0

        def get_next(self):
            if self.i >= len(files):
                return None
            self.i += 1
            return {"rgb": np.load(files[self.i - 1])}

    cm = {"percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy,
          "minmax": CalibrationMethod.MinMax}[method]
    quantize_static(model, out, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=False, op_types_to_quantize=OPS, calibrate_method=cm)


def prepare(args):
    demo = args.demo_dir
    need = args.images if args.minmax_cores else max(args.images, args.mem_large, args.mem_small)
    if not os.path.exists(os.path.join(demo, "calibscope-demo.json")):
        subprocess.check_call([args.calibscope, "demo", demo, "--seed", "77", "--samples", str(need + 30),
                               "--width", "320", "--height", "192"])
    npy_all = os.path.join(demo, "bench_npy")
    if len(glob.glob(os.path.join(npy_all, "*.npy"))) < need:
        import numpy as np
        from PIL import Image
        os.makedirs(npy_all, exist_ok=True)
        images = sorted(glob.glob(os.path.join(demo, "*", "*", "image_a6", "*.*")) +
                        glob.glob(os.path.join(demo, "*", "image_a6", "*.*")))[:need]
        for i, p in enumerate(images):
            x = np.asarray(Image.open(p).convert("RGB").resize((320, 192), Image.BILINEAR), np.float32)
            np.save(os.path.join(npy_all, f"{i:05d}.npy"), (x.transpose(2, 0, 1) / 255.0)[None].astype(np.float32))
    files = sorted(glob.glob(os.path.join(npy_all, "*.npy")))
    if len(files) < need:
        sys.exit(f"only {len(files)} inputs in {npy_all}, need {need}")

    def subset(n):
        d = os.path.join(demo, f"bench_npy_{n}")
        if len(glob.glob(os.path.join(d, "*.npy"))) != n:
            os.makedirs(d, exist_ok=True)
            for f in files[:n]:
                link = os.path.join(d, os.path.basename(f))
                if not os.path.exists(link):
                    os.symlink(f, link)
        return d

    return subset


def conv_graph(path, seed=5):
    """A conv encoder-decoder heavier than the demo model (about 2.1 GMAC per
    320x192 image; 3x the demo's calibration time), same input `rgb`
    [1,3,192,320]: a graph where inference dominates calibration. Random
    weights (seeded)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def conv(x, cin, cout, stride, name, act="Relu"):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        b = (rng.standard_normal(cout) * 0.05).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")])
        nodes.append(helper.make_node("Conv", [x, name + "_w", name + "_b"], [name + "_c"], pads=[1, 1, 1, 1],
                                      strides=[stride, stride]))
        nodes.append(helper.make_node(act, [name + "_c"], [name]))
        return name

    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales_x2"))
    x, skips, cin = "rgb", [], 3
    for i, c in enumerate([32, 64, 128, 256]):
        x = conv(x, cin, c, 2, f"enc{i}a")
        x = conv(x, c, c, 1, f"enc{i}b")
        skips.append((x, c))
        cin = c
    for i, (skip, c) in reversed(list(enumerate(skips[:-1]))):
        nodes.append(helper.make_node("Resize", [x, "", "scales_x2"], [f"up{i}"], mode="nearest"))
        nodes.append(helper.make_node("Concat", [f"up{i}", skip], [f"cat{i}"], axis=1))
        x = conv(f"cat{i}", cin + c, c, 1, f"dec{i}")
        cin = c
    nodes.append(helper.make_node("Resize", [x, "", "scales_x2"], ["up_out"], mode="nearest"))
    conv("up_out", cin, 1, 1, "depth", act="Sigmoid")
    graph = helper.make_graph(nodes, "bench_conv", [helper.make_tensor_value_info("rgb", TensorProto.FLOAT,
                                                                                 [1, 3, 192, 320])],
                              [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, 192, 320])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def minmax_and_cores(args, subset, out, env):
    """MinMax: calibscope against quantize_static on the same graph and inputs
    (target <= 1.0x), then calibscope pinned to 1 core against 2 (taskset; ONNX
    Runtime's threads, calibscope's sessions and rayon all follow the
    affinity; target >= 1.8x), and on 2 cores its default of one session per
    core against one session with 2 threads. Each measurement is repeated
    --repeats times, interleaved (the 1- and 2-core runs alternate which goes
    first), and the medians are printed. Times are whole processes; for
    calibscope, its calibration stage alone is printed too."""
    import re
    folder = subset(args.images)
    graphs = [("demo model", args.model)]
    if args.conv_graph:
        graphs.append(("conv graph", conv_graph(os.path.join(args.demo_dir, "bench_conv.onnx"))))
    stage = re.compile(r"Calibration: .*, ([0-9.]+)s of ([0-9.]+)s")

    def ours(model, cpus, tag, sessions=None):
        argv = [args.calibscope, "ptq", "--model", model, "--folder", folder, "--method", "minmax",
                "--fidelity-samples", "0", "-o", os.path.join(out, f"ours_minmax_{tag}.onnx")]
        if cpus:
            argv = ["taskset", "-c", cpus] + argv
        e = dict(env)
        if sessions:
            e["CALIBSCOPE_CALIBRATION_SESSIONS"] = str(sessions)
        import resource
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(argv, capture_output=True, text=True, env=e)
        dt = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(argv)}\n{p.stderr[-2000:]}")
        m = stage.search(p.stdout)
        # Cores the host actually gave the run (CPU seconds / wall seconds).
        cores_got = (cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime) / dt
        return dt, float(m.group(1)) if m else float("nan"), cores_got

    def load():
        return "/".join(f"{x:.1f}" for x in os.getloadavg())

    print(f"MinMax calibration on {args.images} inputs, {args.repeats} repeats each, medians; "
          f"{os.cpu_count()} cores, load average (1/5/15 min) {load()} at start")
    results = {}
    for name, model in graphs:
        r = {k: [] for k in ["ours", "ort", "one", "two", "one_stage", "two_stage", "one_session",
                             "one_session_stage", "one_cores_got", "two_cores_got"]}
        for rep in range(args.repeats):
            r["ours"].append(ours(model, None, "all")[0])
            r["ort"].append(run_measured([sys.executable, __file__, "--ort-child", model, folder, "minmax",
                                          os.path.join(out, "ort_minmax.onnx")])[0])
            order = [("one", "0"), ("two", "0,1")]
            for key, cpus in order if rep % 2 == 0 else order[::-1]:
                t, st, got = ours(model, cpus, key)
                r[key].append(t)
                r[key + "_stage"].append(st)
                r[key + "_cores_got"].append(got)
            t, st, _ = ours(model, "0,1", "one_session", sessions=1)
            r["one_session"].append(t)
            r["one_session_stage"].append(st)
        m = {k: median(v) for k, v in r.items()}
        print(f"{name}: calibscope {m['ours']:.2f} s, quantize_static {m['ort']:.2f} s, "
              f"ratio {m['ours'] / m['ort']:.2f}x (target <= 1.0x)")
        print(f"{name}: calibscope on 1 core {m['one']:.2f} s, on 2 cores {m['two']:.2f} s, "
              f"speed-up {m['one'] / m['two']:.2f}x (target >= 1.8x); calibration stage alone "
              f"{m['one_stage']:.2f} s vs {m['two_stage']:.2f} s, {m['one_stage'] / m['two_stage']:.2f}x; CPU time / wall "
              f"time (cores the host gave) {m['one_cores_got']:.2f} vs {m['two_cores_got']:.2f}")
        print(f"{name}: on 2 cores, 2 sessions x 1 thread {m['two']:.2f} s (stage {m['two_stage']:.2f} s), "
              f"1 session x 2 threads {m['one_session']:.2f} s (stage {m['one_session_stage']:.2f} s)")
        results[name] = {"medians_s": m, "runs_s": r, "ratio_to_quantize_static": m["ours"] / m["ort"],
                         "core_speedup": m["one"] / m["two"], "stage_core_speedup": m["one_stage"] / m["two_stage"]}
    print(f"load average at end {load()}")
    print(json.dumps(results))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo-dir", default="/tmp/calibscope-bench")
    ap.add_argument("--calibscope", default=os.path.join(ROOT, "target/release/calibscope"))
    ap.add_argument("--model", default=os.path.join(ROOT, "assets/demo_model.onnx"))
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--mem-small", type=int, default=50)
    ap.add_argument("--mem-large", type=int, default=500)
    ap.add_argument("--ort-mem-large", type=int, default=150)
    ap.add_argument("--minmax-cores", action="store_true",
                    help="only: MinMax against quantize_static, and calibscope on 1 core against 2 (issue 16)")
    ap.add_argument("--repeats", type=int, default=3, help="with --minmax-cores: runs of each, medians printed")
    ap.add_argument("--conv-graph", action="store_true",
                    help="with --minmax-cores: also a generated conv graph heavier than the demo model")
    ap.add_argument("--ort-child", nargs=4, metavar=("MODEL", "FOLDER", "METHOD", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ort_child:
        ort_child(*args.ort_child)
        return
    subset = prepare(args)
    out = os.path.join(args.demo_dir, "bench_out")
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, CALIBSCOPE_HOME=os.path.join(args.demo_dir, "home"))

    def ours(n, method):
        return run_measured([args.calibscope, "ptq", "--model", args.model, "--folder", subset(n), "--method", method,
                             "-o", os.path.join(out, f"ours_{method}_{n}.onnx")], env)

    def ort(n, method):
        return run_measured([sys.executable, __file__, "--ort-child", args.model, subset(n), method,
                             os.path.join(out, f"ort_{method}_{n}.onnx")])

    if args.minmax_cores:
        minmax_and_cores(args, subset, out, env)
        return

    results = {}
    print(f"Calibration time on {args.images} inputs (whole quantization run, one process each):")
    for method in ["percentile", "entropy"]:
        t_ours, m_ours = ours(args.images, method)
        t_ort, m_ort = ort(args.images, method)
        results[method] = {"calibscope_s": t_ours, "ort_s": t_ort, "speedup": t_ort / t_ours,
                           "calibscope_peak_mib": m_ours, "ort_peak_mib": m_ort}
        print(f"  {method:10s} calibscope {t_ours:7.1f} s   quantize_static {t_ort:7.1f} s   "
              f"speed-up {t_ort / t_ours:5.1f}x   (peak RSS {m_ours:6.0f} vs {m_ort:6.0f} MiB)")
    print("Peak memory (Percentile):")
    _, a = ours(args.mem_small, "percentile")
    _, b = ours(args.mem_large, "percentile")
    print(f"  calibscope       {args.mem_small:4d} inputs {a:7.0f} MiB   {args.mem_large:4d} inputs {b:7.0f} MiB"
          f"   ratio {b / a:4.2f}")
    _, c = ort(args.mem_small, "percentile")
    _, d = ort(args.ort_mem_large, "percentile")
    per = (d - c) / (args.ort_mem_large - args.mem_small)
    print(f"  quantize_static  {args.mem_small:4d} inputs {c:7.0f} MiB   {args.ort_mem_large:4d} inputs {d:7.0f} MiB"
          f"   ratio {d / c:4.2f}  (+{per:.1f} MiB per input: ~{c + per * (args.mem_large - args.mem_small):.0f} MiB"
          f" at {args.mem_large})")
    results["memory"] = {"calibscope": {str(args.mem_small): a, str(args.mem_large): b},
                         "ort": {str(args.mem_small): c, str(args.ort_mem_large): d}, "ort_mib_per_input": per}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
