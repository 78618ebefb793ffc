//! Sliding windows against a plain loop: two digits side by side (28 × 56), windows of LeNet's
//! 28 × 28 every 10 pixels (the last flush with the edge), each crop explained alone for the
//! class the sliding run chose and added into place — for the summed score (LRP and gradient ×
//! input) and the maximum (only the best window).

use glimpse::explain::window::{explain_windows, Sliding, WindowScore};
use glimpse::explain::{argmax, Explainer, Method, Target};
use glimpse::model::Tensor;

fn canvas() -> Tensor {
    let all = glimpse::io::npy::read_f32(crate::common::asset("data/mnist_test_x.npy")).unwrap();
    let mut data = vec![0.0f32; 28 * 56];
    for y in 0..28 {
        for x in 0..28 {
            data[y * 56 + x] = all.data[y * 28 + x];
            data[y * 56 + 28 + x] = all.data[784 + y * 28 + x];
        }
    }
    Tensor::new(vec![1, 1, 28, 56], data).unwrap()
}

fn crop(x: &Tensor, x0: usize) -> Tensor {
    let mut data = Vec::with_capacity(784);
    for y in 0..28 {
        data.extend_from_slice(&x.data[y * 56 + x0..y * 56 + x0 + 28]);
    }
    Tensor::new(vec![1, 1, 28, 28], data).unwrap()
}

#[test]
fn stitched_windows_equal_the_loop_over_crops() {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    let model = crate::common::model(&graph);
    let x = canvas();
    for name in ["lrp:epsilon-plus-flat", "gradient-x-input"] {
        let method: Method = name.parse().unwrap();
        let mut e = Explainer::new(&model, &method, 8).unwrap();
        for score in [WindowScore::Sum, WindowScore::Max] {
            let s = Sliding {
                window: (28, 28),
                stride: (10, 10),
                score,
            };
            let got = explain_windows(&mut e, &x, &Target::Predicted, &s).unwrap();
            let wx = got.windows.as_ref().unwrap();
            let xs: Vec<usize> = wx
                .positions
                .iter()
                .map(|&(y, x0)| {
                    assert_eq!(y, 0);
                    x0
                })
                .collect();
            assert_eq!(xs, [0, 10, 20, 28]);
            // The loop: every crop alone; the class from the summed (or largest) logits.
            let crops: Vec<_> = xs
                .iter()
                .map(|&x0| e.explain(&crop(&x, x0), &[Target::Predicted]).unwrap())
                .collect();
            let class = match score {
                WindowScore::Sum => {
                    let mut sum = vec![0.0f32; 10];
                    for c in &crops {
                        sum.iter_mut()
                            .zip(&c.outputs.data)
                            .for_each(|(s, v)| *s += v);
                    }
                    argmax(&sum)
                }
                WindowScore::Max => {
                    let top = |c: &glimpse::Explanation| {
                        c.outputs.data.iter().cloned().fold(f32::MIN, f32::max)
                    };
                    let k = (0..4)
                        .max_by(|&a, &b| top(&crops[a]).total_cmp(&top(&crops[b])))
                        .unwrap();
                    crops[k].classes[0]
                }
            };
            assert_eq!(got.classes, [class], "{name} {score:?}");
            let mut want = vec![0.0f64; 28 * 56];
            let mut score_want = Vec::new();
            for (j, &x0) in xs.iter().enumerate() {
                let m = e.explain(&crop(&x, x0), &[Target::Class(class)]).unwrap();
                score_want.push(m.scores[0]);
                if score == WindowScore::Max && wx.best.as_ref().unwrap()[0] != j {
                    continue;
                }
                for y in 0..28 {
                    for xx in 0..28 {
                        want[y * 56 + x0 + xx] += m.map.data[y * 28 + xx] as f64;
                    }
                }
            }
            let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let worst = got
                .map
                .data
                .iter()
                .zip(&want)
                .fold(0.0f64, |a, (g, w)| a.max((*g as f64 - w).abs()));
            assert!(
                worst / scale < 1e-6,
                "{name} {score:?}: {:e}",
                worst / scale
            );
            for (a, b) in wx.window_scores.iter().zip(&score_want) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "{name} {score:?}: window score {a} vs {b}"
                );
            }
            let explained = match score {
                WindowScore::Sum => score_want.iter().sum::<f64>(),
                WindowScore::Max => score_want.iter().cloned().fold(f64::MIN, f64::max),
            };
            assert!((got.scores[0] - explained).abs() < 1e-4, "{name} {score:?}");
        }
    }
    // Coverage: columns 0–9 one window, 10–19 two, 20–27 three, 28–29 three, 30–47 two …
    let mut e = Explainer::new(&model, &"gradient".parse().unwrap(), 8).unwrap();
    let s = Sliding {
        window: (28, 28),
        stride: (10, 10),
        score: WindowScore::Sum,
    };
    let got = explain_windows(&mut e, &x, &Target::Class(3), &s).unwrap();
    let cov = &got.windows.unwrap().coverage;
    let row: Vec<f32> = cov.data[..56].to_vec();
    let want: Vec<f32> = (0..56)
        .map(|c| {
            [0, 10, 20, 28]
                .iter()
                .filter(|&&x0| (x0..x0 + 28).contains(&c))
                .count() as f32
        })
        .collect();
    assert_eq!(row, want);
    let too_small = Sliding {
        window: (28, 28),
        stride: (10, 10),
        score: WindowScore::Sum,
    };
    let gappy = Sliding {
        window: (28, 28),
        stride: (10, 30),
        score: WindowScore::Sum,
    };
    let err = explain_windows(&mut e, &x, &Target::Predicted, &gappy).unwrap_err();
    assert!(
        err.to_string().contains("larger than the 28×28 window"),
        "{err}"
    );
    let small = Tensor::new(vec![1, 1, 20, 56], vec![0.0; 20 * 56]).unwrap();
    let err = explain_windows(&mut e, &small, &Target::Predicted, &too_small).unwrap_err();
    assert!(
        err.to_string().contains("larger than the 20×56 input"),
        "{err}"
    );
}
