use std::path::Path;

use serde_json::Value;

use super::*;

fn t(shape: &[usize], data: &[f32]) -> Tensor<f32> {
    Tensor::new(shape.to_vec(), data.to_vec()).unwrap()
}

fn zennit_imgify() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zennit_palettes.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all["imgify"].clone()
}

fn rows(v: &Value) -> Vec<Vec<Value>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().clone())
        .collect()
}

#[test]
fn heatmaps_match_zennit_imgify() {
    let reference = zennit_imgify();
    let input = rows(&reference["input"]);
    let (h, w) = (input.len(), input[0].len());
    let data: Vec<f32> = input
        .iter()
        .flatten()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let map = t(&[h, w], &data);
    let cases = [
        ("symmetric_coldnhot", "coldnhot", Norm::Symmetric, false),
        ("minmax_hot", "hot", Norm::MinMax, false),
        ("abs_symmetric_bwr", "bwr", Norm::Symmetric, true),
    ];
    for (key, cmap, norm, abs) in cases {
        let opts = HeatmapOptions {
            cmap: Cmap::from_name(cmap).unwrap(),
            norm,
            abs,
            level: 1.0,
        };
        let img = heatmap(&map, &opts).unwrap();
        assert_eq!(img.dimensions(), (w as u32, h as u32));
        for (y, row) in rows(&reference[key]).iter().enumerate() {
            for (x, px) in row.iter().enumerate() {
                let want: Vec<u8> = px
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_u64().unwrap() as u8)
                    .collect();
                assert_eq!(
                    img.get_pixel(x as u32, y as u32).0.to_vec(),
                    want,
                    "{key} at ({y}, {x})"
                );
            }
        }
    }
}

#[test]
fn channel_sum_adds_channels() {
    let r = t(&[2, 1, 2], &[1.0, -2.0, 0.5, 4.0]);
    assert_eq!(channel_sum(&r).unwrap(), t(&[1, 2], &[1.5, 2.0]));
    let flat = t(&[1, 2], &[3.0, 4.0]);
    assert_eq!(channel_sum(&flat).unwrap(), flat);
    assert_eq!(channel_sum(&t(&[2, 0, 3], &[])).unwrap().shape, vec![0, 3]);
    assert!(matches!(
        channel_sum(&t(&[4], &[0.0; 4])),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        channel_sum(&t(&[1, 1, 1], &[f32::NAN])),
        Err(Error::NonFinite { .. })
    ));
    let broken = Tensor {
        shape: vec![2, 2],
        data: vec![0.0],
    };
    assert!(matches!(channel_sum(&broken), Err(Error::Shape(_))));
}

#[test]
fn normalisations() {
    let m = t(&[1, 4], &[-2.0, 0.0, 1.0, 4.0]);
    assert_eq!(
        normalize(&m, Norm::Symmetric).unwrap().data,
        vec![0.25, 0.5, 0.625, 1.0]
    );
    assert_eq!(
        normalize(&m, Norm::MinMax).unwrap().data,
        vec![0.0, 1.0 / 3.0, 0.5, 1.0]
    );
    let zeros = t(&[1, 2], &[0.0, 0.0]);
    assert_eq!(
        normalize(&zeros, Norm::Symmetric).unwrap().data,
        vec![0.5, 0.5]
    );
    let constant = t(&[1, 2], &[3.0, 3.0]);
    assert_eq!(
        normalize(&constant, Norm::MinMax).unwrap().data,
        vec![0.0, 0.0]
    );
    assert_eq!(
        normalize(&constant, Norm::Symmetric).unwrap().data,
        vec![1.0, 1.0]
    );
}

#[test]
fn colorize_uses_floor_of_255v() {
    let bwr = Cmap::from_name("bwr").unwrap();
    let palette = bwr.palette(1.0);
    let img = colorize(&t(&[1, 3], &[0.0, 0.5, 1.0]), &bwr, 1.0).unwrap();
    assert_eq!(img.get_pixel(0, 0).0, palette[0]);
    assert_eq!(img.get_pixel(1, 0).0, palette[127]);
    assert_eq!(img.get_pixel(2, 0).0, palette[255]);
    assert!(colorize(&t(&[3], &[0.0; 3]), &bwr, 1.0).is_err());
}

#[test]
fn level_must_be_finite() {
    let opts = HeatmapOptions {
        level: f64::NAN,
        ..HeatmapOptions::default()
    };
    assert!(matches!(
        heatmap(&t(&[1, 1], &[1.0]), &opts),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn input_images() {
    // Grey: min-max to [0, 1], replicated.
    let img = input_image(&t(&[1, 1, 3], &[-1.0, 0.0, 1.0]), false).unwrap();
    assert_eq!(img.dimensions(), (3, 1));
    assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
    assert_eq!(img.get_pixel(1, 0).0, [128, 128, 128]);
    assert_eq!(img.get_pixel(2, 0).0, [255, 255, 255]);
    // RGB over all channels together, BGR swapped.
    let rgb = t(&[3, 1, 1], &[0.0, 2.0, 4.0]);
    assert_eq!(
        input_image(&rgb, false).unwrap().get_pixel(0, 0).0,
        [0, 128, 255]
    );
    assert_eq!(
        input_image(&rgb, true).unwrap().get_pixel(0, 0).0,
        [255, 128, 0]
    );
    // Constant → mid grey.
    let flat = input_image(&t(&[3, 1, 1], &[7.0; 3]), false).unwrap();
    assert_eq!(flat.get_pixel(0, 0).0, [128, 128, 128]);
    for bad in [t(&[2, 1, 1], &[0.0; 2]), t(&[1, 1], &[0.0])] {
        assert!(matches!(input_image(&bad, false), Err(Error::Shape(_))));
    }
    assert!(matches!(
        input_image(&t(&[1, 1, 1], &[f32::INFINITY]), false),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn overlays_blend() {
    let heat = RgbImage::from_pixel(2, 1, Rgb([255, 0, 100]));
    let base = RgbImage::from_pixel(2, 1, Rgb([0, 200, 100]));
    assert_eq!(overlay(&heat, &base, 0.0).unwrap(), base);
    assert_eq!(overlay(&heat, &base, 1.0).unwrap(), heat);
    assert_eq!(
        overlay(&heat, &base, 0.5).unwrap().get_pixel(1, 0).0,
        [128, 100, 100]
    );
    assert!(matches!(overlay(&heat, &base, 1.5), Err(Error::Invalid(_))));
    let small = RgbImage::new(1, 1);
    assert!(matches!(overlay(&heat, &small, 0.5), Err(Error::Shape(_))));
}

#[test]
fn masked_input() {
    let input = t(&[1, 1, 4], &[0.0, 1.0, 1.0, 1.0]);
    let relevance = t(&[2, 1, 4], &[1.0, 2.0, -1.0, 0.5, 1.0, 2.0, 0.0, 0.5]);
    // Channel sum [2, 4, -1, 1], max 4: mask [0.5, 1, 0, 0.25].
    let img = mask_input(&relevance, &input, false, false).unwrap();
    let got: Vec<u8> = img.pixels().map(|p| p.0[0]).collect();
    assert_eq!(got, vec![0, 255, 0, 64]);
    // With abs the negative pixel shows.
    let img = mask_input(&relevance, &input, true, false).unwrap();
    assert_eq!(img.get_pixel(2, 0).0, [64, 64, 64]);
    // No positive relevance: all black.
    let img = mask_input(&t(&[1, 4], &[-1.0; 4]), &input, false, false).unwrap();
    assert!(img.pixels().all(|p| p.0 == [0, 0, 0]));
    assert!(matches!(
        mask_input(&t(&[1, 2], &[1.0; 2]), &input, false, false),
        Err(Error::Shape(_))
    ));
}

#[test]
fn png_round_trip_and_errors() {
    let dir = crate::io::test_dir("render-png");
    let img = RgbImage::from_fn(3, 2, |x, y| Rgb([x as u8 * 80, y as u8 * 200, 7]));
    let path = dir.join("h.png");
    save_png(&path, &img).unwrap();
    assert_eq!(image::open(&path).unwrap().to_rgb8(), img);
    let bad = dir.join("missing-folder/h.png");
    match save_png(&bad, &img) {
        Err(Error::Io { path, .. }) => assert_eq!(path, bad),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_channels_last_image_is_drawn_channels_first() {
    // [2, 2, 3]: pixel-major RGB → three planes.
    let hwc = t(
        &[2, 2, 3],
        &[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.],
    );
    let chw = channels_first(&hwc);
    assert_eq!(chw.shape, [3, 2, 2]);
    assert_eq!(
        chw.data,
        [1., 4., 7., 10., 2., 5., 8., 11., 3., 6., 9., 12.]
    );
    // Already channels first (or ambiguous): unchanged.
    let c = t(&[3, 2, 2], &[0.; 12]);
    assert_eq!(channels_first(&c).shape, [3, 2, 2]);
}
