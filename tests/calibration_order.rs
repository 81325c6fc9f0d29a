//! Calibration infers images in several ONNX Runtime sessions at once, and
//! they finish out of order. Its statistics must be exactly those of adding
//! the images one by one in input order, for MinMax and for the histogram
//! methods (whose histograms widen in an order-dependent way).

mod ptq_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use calibscope::onnx;
use calibscope::preprocess::PreprocessSettings;
use calibscope::progress::Progress;
use calibscope::quantize::calibrate::{augment, calibrate_shaped};
use calibscope::quantize::graph;
use calibscope::quantize::stats::TensorStats;
use calibscope::quantize::QdqSettings;
use calibscope::runtime::infer::Model;
use sha2::{Digest, Sha256};

#[test]
fn statistics_do_not_depend_on_the_number_of_sessions() {
    ptq_support::setup();
    let dir = tempfile::tempdir().unwrap();
    let images: Vec<PathBuf> = ptq_support::demo_samples(dir.path(), 36, 11)
        .into_iter()
        .map(|s| s.image)
        .collect();
    let model = onnx::load(&ptq_support::demo_model()).unwrap();
    let q = QdqSettings::default();
    let info = graph::analyse(&model);
    let tensors = graph::tensors_to_calibrate(&model, &info, &q.op_types, &[], &[]);
    let pre = PreprocessSettings::from_model(&onnx::summarize(&model), None).unwrap();

    // The reference: one session, one image after another, `TensorStats::add`.
    let mut session = Model::from_bytes(&onnx::encode(&augment(&model, &tensors))).unwrap();
    let mut reference = |bins: usize| {
        let mut stats: BTreeMap<String, TensorStats> = tensors
            .iter()
            .map(|t| (t.clone(), TensorStats::new(bins)))
            .collect();
        let mut hash = Sha256::new();
        for image in &images {
            let (tensor, bytes) = pre.load_input(image).unwrap();
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
            session
                .run_with(&pre.input_name, &pre.input_shape(), tensor, |all| {
                    for (name, _, vals) in all {
                        if let Some(st) = stats.get_mut(name) {
                            st.add(vals);
                        }
                    }
                })
                .unwrap();
        }
        (stats, format!("{:x}", hash.finalize()))
    };

    // MinMax (no histogram), the default 2048 bins, and an odd count.
    for bins in [0, 2048, 1001] {
        let (want, want_hash) = reference(bins);
        assert!(want.values().all(|s| s.count > 0));
        // 3 sessions on any machine: more than the cores here, so images
        // finish out of order and wait for their turn.
        for sessions in [1, 3] {
            let cal = calibrate_shaped(
                &model,
                &tensors,
                &images,
                "test",
                &pre,
                pre.input_shape(),
                bins,
                Some(sessions),
                &Progress::new(),
            )
            .unwrap();
            assert_eq!(cal.images, images.len());
            assert_eq!(
                cal.set.sha256, want_hash,
                "{bins} bins, {sessions} sessions"
            );
            for (name, st) in &want {
                let got = &cal.stats[name];
                // Not assert_eq: a histogram of 2048 bins would fill the log.
                assert!(
                    got == st,
                    "{name}, {bins} bins, {sessions} sessions: min/max/range/count {:?} vs {:?} in order, {} bins differ",
                    (got.min, got.max, got.range, got.count),
                    (st.min, st.max, st.range, st.count),
                    (got.abs_hist().iter().zip(st.abs_hist()))
                        .filter(|(a, b)| *a != b)
                        .count()
                );
            }
        }
    }
}
