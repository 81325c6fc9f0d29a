//! The Entropy method's KL search against a NumPy transcription of
//! TensorRT's calibrator (pytorch-quantization's `_compute_amax_entropy`:
//! 2048 bins, candidates 128…2048, 128 quantized bins, zero bin ignored,
//! last minimum wins). Skips with a printed reason without Python/NumPy.

mod ptq_support;

use std::io::Write;
use std::process::{Command, Stdio};

use calibscope::quantize::methods::entropy_threshold;

const REFERENCE: &str = r#"
import json, sys
import numpy as np
hists = json.load(sys.stdin)
out = []
for bins in hists:
    bins = np.array(bins, dtype=np.float64)
    bins[0] = bins[1]
    total = bins.sum()
    nbins = 128
    divs = []
    for i in range(128, len(bins) + 1):
        space = np.linspace(0, i, num=nbins + 1)
        dig = np.digitize(range(i), space) - 1
        dig[bins[:i] == 0] = -1
        counts = np.zeros(nbins)
        for idx, d in enumerate(dig):
            if d != -1:
                counts[d] += bins[idx]
        n = np.bincount(dig[dig != -1], minlength=nbins)
        counts = np.where(n > 0, counts / np.maximum(n, 1), 0)
        q = np.array([counts[d] if d != -1 else 0.0 for d in dig])
        p = bins[:i].copy()
        p[-1] += bins[i:].sum()
        p, q = p / p.sum(), q / q.sum()
        m = p > 0
        divs.append(np.inf if np.any(q[m] == 0) else float(np.sum(p[m] * np.log(p[m] / q[m]))))
    divs = np.array(divs)
    out.append(int(len(divs) - 1 - np.argmin(divs[::-1]) + 128))
print(json.dumps(out))
"#;

#[test]
fn entropy_search_matches_tensorrt_reference() {
    // Dense histograms (every bin non-zero) of a half-normal and of a long
    // exponential tail, as post-activation |x| histograms look.
    let half_normal: Vec<u64> = (0..2048)
        .map(|k| (1e6 * (-(k as f64 / 300.0).powi(2)).exp()) as u64 + 1 + (k % 7) as u64)
        .collect();
    let tail: Vec<u64> = (0..2048)
        .map(|k| (2e5 * (-(k as f64) / 120.0).exp()) as u64 + 1 + (k % 3) as u64)
        .collect();
    let hists = vec![half_normal, tail];
    let ours: Vec<usize> = hists.iter().map(|h| entropy_threshold(h, 128)).collect();

    let child = Command::new(calibscope::runtime::python_exe())
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        ptq_support::skip_or_fail("python3 not found");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&hists).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'numpy'") {
            ptq_support::skip_or_fail("numpy is missing");
            return;
        }
        panic!("reference failed: {err}");
    }
    let reference: Vec<usize> = serde_json::from_slice(&out.stdout).unwrap();
    println!("entropy threshold bins: calibscope {ours:?}, TensorRT reference {reference:?}");
    assert_eq!(ours, reference);
    assert!(
        ours.iter().all(|&b| b > 128 && b < 2048),
        "a real clip, not an end of the range: {ours:?}"
    );
}
