//! ONNX Runtime is found through calibscope's own search (the path the app
//! and CI use) and runs a model built in Rust.

mod ptq_support;

use calibscope::onnx::{
    self, make_model, make_node, make_shaped_value_info, make_value_info, proto, tensor_from_f32,
    DataType,
};
use calibscope::runtime::{self, infer::Model};

#[test]
fn runtime_is_found_and_runs_a_model_built_in_rust() {
    ptq_support::setup();
    let loc = match runtime::loaded_location() {
        Ok(l) => l,
        Err(e) => panic!("ONNX Runtime could not be found or provisioned: {e}"),
    };
    println!("ONNX Runtime from {:?}: {}", loc.source, loc.path.display());

    // y = x * 2 + 1, built with the ONNX editing API and run in ONNX Runtime.
    let x = make_shaped_value_info("x", DataType::Float, &[3]);
    let graph = proto::GraphProto {
        name: Some("affine".into()),
        node: vec![
            make_node("Mul", &["x", "two"], &["x2"], "mul", vec![]),
            make_node("Add", &["x2", "one"], &["y"], "add", vec![]),
        ],
        initializer: vec![
            tensor_from_f32("two", &[], &[2.0]),
            tensor_from_f32("one", &[], &[1.0]),
        ],
        input: vec![x],
        output: vec![make_value_info("y", DataType::Float)],
        ..Default::default()
    };
    let model = make_model(graph, 13);
    let mut m = Model::from_bytes(&onnx::encode(&model)).unwrap();
    let y = m.run_one("x", &[3], vec![0.0, 1.5, -2.0], "y").unwrap();
    assert_eq!(y, vec![1.0, 4.0, -3.0]);

    // A session on bytes that are no model is an error, not a crash.
    assert!(Model::from_bytes(b"not a model").is_err());
}
