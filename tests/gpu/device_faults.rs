//! Device memory and device loss: a plan over the device's memory (here a low cap) is refused
//! before it allocates, with the figures in the message; the bytes glimpse holds are counted
//! and given back on drop; a lost device makes runs return errors, never panic or hang.

use glimpse::explain::{Explainer, Method, Target};
use glimpse::gpu::GpuOptions;
use glimpse::model::Tensor;
use glimpse::{DeviceModel, Error, Gpu};

fn lenet() -> glimpse::Graph {
    glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap()
}

fn digits(n: usize) -> Tensor {
    let all = glimpse::io::npy::read_f32(crate::common::asset("data/mnist_test_x.npy")).unwrap();
    Tensor::new(vec![n, 1, 28, 28], all.data[..n * 784].to_vec()).unwrap()
}

fn lrp() -> Method {
    "lrp:epsilon-plus-flat".parse().unwrap()
}

#[test]
fn a_plan_over_the_memory_cap_is_refused_before_it_allocates() {
    // What LRP on LeNet holds at batch 8 and at 512, on a device with no cap.
    let open = Gpu::new().unwrap();
    let model = DeviceModel::new(&open, lenet());
    let small = Explainer::new(&model, &lrp(), 8).unwrap();
    let at_8 = open.allocated_bytes();
    let big = Explainer::new(&model, &lrp(), 512).unwrap();
    let at_512 = open.allocated_bytes() - at_8;
    let weights = model.weight_bytes();
    println!("LeNet LRP holds {at_8} bytes at batch 8, {at_512} at 512; weights {weights}");
    assert!(at_8 > 0 && at_512 > 8 * at_8, "{at_8} vs {at_512}");
    drop((small, big));
    assert_eq!(
        open.allocated_bytes(),
        0,
        "dropping the plans gives their bytes back"
    );

    // A cap between the two: batch 8 builds and runs, batch 512 is refused with nothing allocated.
    let cap = weights + 4 * at_8;
    assert!(cap < at_512, "the cap must refuse batch 512");
    let gpu = Gpu::with_options(&GpuOptions {
        memory_limit: Some(cap),
        tune_cache: glimpse::tune::TuneCache::Off,
        ..GpuOptions::default()
    })
    .unwrap();
    assert_eq!(gpu.memory_budget(), Some(cap));
    assert!(
        gpu.describe().contains("plans capped at"),
        "{}",
        gpu.describe()
    );
    let model = DeviceModel::new(&gpu, lenet());
    let mut fits = Explainer::new(&model, &lrp(), 8).unwrap();
    assert!(fits.explain(&digits(8), &[Target::Predicted]).is_ok());
    // The plan's buffers, its readback buffer (made at the first run) and the weights.
    let held = gpu.allocated_bytes() + model.weight_bytes();
    let err = match Explainer::new(&model, &lrp(), 512) {
        Ok(_) => panic!("a plan of {at_512} bytes was built under a cap of {cap}"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, Error::DeviceMemory { device, in_use, needs, .. }
            if *device == cap && *in_use == held && *needs >= at_512),
        "{err:?}"
    );
    let message = err.to_string();
    for part in [
        "needs",
        &format!("{cap} bytes"),
        "already holds",
        "--batch",
        "the memory limit the device was opened with allows",
    ] {
        assert!(message.contains(part), "'{part}' missing from: {message}");
    }
    println!("{message}");
    assert_eq!(
        gpu.allocated_bytes() + model.weight_bytes(),
        held,
        "the refused plan allocated nothing that stayed counted"
    );
    // The plan that fits still runs after the refusal.
    assert!(fits.explain(&digits(8), &[Target::Predicted]).is_ok());
}

#[test]
fn a_run_on_a_lost_device_is_an_error_not_a_panic() {
    // A device of its own: the shared one must survive this test.
    let gpu = Gpu::new().unwrap();
    let model = DeviceModel::new(&gpu, lenet());
    let mut e = Explainer::new(&model, &lrp(), 4).unwrap();
    let x = digits(4);
    let before = e.explain(&x, &[Target::Predicted]).unwrap();
    assert!(!gpu.is_lost());
    gpu.device().destroy();
    let err = match e.explain(&x, &[Target::Predicted]) {
        Ok(_) => panic!("a run on a destroyed device succeeded"),
        Err(err) => err,
    };
    assert!(
        matches!(err, Error::DeviceLost { .. }),
        "expected DeviceLost, got {err:?}"
    );
    assert!(err.to_string().contains("device was lost"), "{err}");
    assert!(gpu.is_lost());
    // Still an error, again and for new plans: the device stays lost.
    assert!(matches!(
        e.explain(&x, &[Target::Predicted]),
        Err(Error::DeviceLost { .. })
    ));
    assert!(matches!(
        Explainer::new(&model, &lrp(), 2),
        Err(Error::DeviceLost { .. })
    ));
    assert_eq!(before.map.shape[0], 4);
}
