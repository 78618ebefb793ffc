use std::path::{Path, PathBuf};

use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba, RgbaImage};

use super::*;
use crate::io::test_dir;

/// A 3-wide, 2-high RGB image with distinct channel values.
fn rgb_fixture() -> RgbImage {
    RgbImage::from_fn(3, 2, |x, y| {
        let i = (y * 3 + x) as u8;
        Rgb([i * 10, 100 + i, 255 - i * 20])
    })
}

fn save_rgb(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    rgb_fixture().save(&path).unwrap();
    path
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn loads_rgb_as_chw_in_unit_range() {
    let dir = test_dir("image-rgb");
    let t = load_image(save_rgb(&dir, "a.png"), &ImageOptions::default()).unwrap();
    assert_eq!(t.shape, vec![3, 2, 3]);
    let img = rgb_fixture();
    for c in 0..3 {
        for y in 0..2 {
            for x in 0..3 {
                let want = img.get_pixel(x, y).0[c] as f32 / 255.0;
                let got = t.data[c * 6 + y as usize * 3 + x as usize];
                assert!(close(got, want, 1e-7), "c{c} y{y} x{x}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn range_mean_std_and_bgr() {
    let dir = test_dir("image-norm");
    let path = save_rgb(&dir, "a.png");
    let base = load_image(&path, &ImageOptions::default()).unwrap();
    let opts = ImageOptions {
        range: (-1.0, 1.0),
        mean: vec![0.1, 0.2, 0.3],
        std: vec![0.5, 2.0, 4.0],
        bgr: true,
        ..ImageOptions::default()
    };
    let t = load_image(&path, &opts).unwrap();
    for c in 0..3 {
        // BGR: output channel c holds input channel 2 - c.
        let src = 2 - c;
        for i in 0..6 {
            let want = (base.data[src * 6 + i] * 2.0 - 1.0 - opts.mean[src]) / opts.std[src];
            assert!(close(t.data[c * 6 + i], want, 1e-6));
        }
    }
    // Single values broadcast.
    let opts = ImageOptions {
        range: (0.0, 255.0),
        mean: vec![100.0],
        std: vec![10.0],
        ..ImageOptions::default()
    };
    let t = load_image(&path, &opts).unwrap();
    // Pixel (0,0) green channel is 100.
    assert!(close(t.data[6], 0.0, 1e-5), "{}", t.data[6]);
    assert!(close(t.data[0], -10.0, 1e-5), "{}", t.data[0]);
}

#[test]
fn imagenet_preset() {
    let o = ImageOptions::imagenet();
    assert_eq!(o.range, (0.0, 1.0));
    assert_eq!(o.channels(), 3);
    o.validate().unwrap();
}

#[test]
fn grayscale_from_rgb_uses_rec601() {
    let dir = test_dir("image-gray");
    let path = save_rgb(&dir, "a.png");
    let opts = ImageOptions {
        grayscale: true,
        ..ImageOptions::default()
    };
    let t = load_image(&path, &opts).unwrap();
    assert_eq!(t.shape, vec![1, 2, 3]);
    let px = rgb_fixture().get_pixel(2, 1).0;
    let want = (0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32) / 255.0;
    assert!(close(t.data[5], want, 1e-6));
}

#[test]
fn grayscale_file_is_exact_and_replicates_to_rgb() {
    let dir = test_dir("image-luma");
    let path = dir.join("g.png");
    GrayImage::from_fn(2, 2, |x, y| Luma([(x * 60 + y * 120) as u8]))
        .save(&path)
        .unwrap();
    let gray = ImageOptions {
        grayscale: true,
        ..ImageOptions::default()
    };
    let t = load_image(&path, &gray).unwrap();
    assert_eq!(
        t.data,
        vec![0.0, 60.0 / 255.0, 120.0 / 255.0, 180.0 / 255.0]
    );
    let t = load_image(&path, &ImageOptions::default()).unwrap();
    assert_eq!(t.shape, vec![3, 2, 2]);
    assert_eq!(t.data[..4], t.data[8..]);
}

#[test]
fn alpha_is_dropped() {
    let dir = test_dir("image-alpha");
    let path = dir.join("a.png");
    RgbaImage::from_pixel(1, 1, Rgba([255, 0, 51, 0]))
        .save(&path)
        .unwrap();
    let t = load_image(&path, &ImageOptions::default()).unwrap();
    assert_eq!(t.shape, vec![3, 1, 1]);
    assert_eq!(t.data, vec![1.0, 0.0, 0.2]);
}

#[test]
fn sixteen_bit_keeps_precision() {
    let img = ImageBuffer::<Luma<u16>, Vec<u16>>::from_pixel(1, 1, Luma([257 * 100 + 128]));
    let opts = ImageOptions {
        grayscale: true,
        range: (0.0, 255.0),
        ..ImageOptions::default()
    };
    let t = image_to_tensor(&DynamicImage::ImageLuma16(img), &opts, Path::new("mem")).unwrap();
    assert!(close(t.data[0], 100.498, 1e-3), "{}", t.data[0]);
}

#[test]
fn resize_is_half_pixel_bilinear_when_enlarging() {
    let img = GrayImage::from_fn(2, 1, |x, _| Luma([(x * 255) as u8]));
    let opts = ImageOptions {
        size: Some((1, 4)),
        grayscale: true,
        ..ImageOptions::default()
    };
    let t = image_to_tensor(&DynamicImage::ImageLuma8(img), &opts, Path::new("mem")).unwrap();
    assert_eq!(t.shape, vec![1, 1, 4]);
    for (got, want) in t.data.iter().zip([0.0, 0.25, 0.75, 1.0]) {
        assert!(close(*got, want, 1e-6), "{:?}", t.data);
    }
}

#[test]
fn resize_keeps_constant_images_constant_and_shrinks() {
    let img = RgbImage::from_pixel(7, 5, Rgb([51, 102, 204]));
    let opts = ImageOptions {
        size: Some((2, 3)),
        ..ImageOptions::default()
    };
    let t = image_to_tensor(&DynamicImage::ImageRgb8(img), &opts, Path::new("mem")).unwrap();
    assert_eq!(t.shape, vec![3, 2, 3]);
    for c in 0..3 {
        let want = [0.2, 0.4, 0.8][c];
        assert!(t.data[c * 6..(c + 1) * 6]
            .iter()
            .all(|&v| close(v, want, 1e-6)));
    }
}

#[test]
fn loads_jpeg() {
    let dir = test_dir("image-jpeg");
    let path = dir.join("a.jpg");
    RgbImage::from_pixel(8, 8, Rgb([128, 64, 32]))
        .save(&path)
        .unwrap();
    let t = load_image(&path, &ImageOptions::default()).unwrap();
    assert_eq!(t.shape, vec![3, 8, 8]);
    for (c, want) in [128.0, 64.0, 32.0].iter().enumerate() {
        let mean: f32 = t.data[c * 64..(c + 1) * 64].iter().sum::<f32>() / 64.0;
        assert!(
            close(mean * 255.0, *want, 3.0),
            "channel {c}: {}",
            mean * 255.0
        );
    }
}

#[test]
fn format_is_sniffed_not_taken_from_extension() {
    let dir = test_dir("image-sniff");
    let png = save_rgb(&dir, "a.png");
    let misnamed = dir.join("really_png.jpg");
    std::fs::copy(png, &misnamed).unwrap();
    assert_eq!(
        load_image(&misnamed, &ImageOptions::default())
            .unwrap()
            .shape,
        vec![3, 2, 3]
    );
}

#[test]
fn error_missing_file_names_it() {
    let path = Path::new("/nonexistent/glimpse/cat.png");
    match load_image(path, &ImageOptions::default()) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_undecodable_names_it() {
    let dir = test_dir("image-garbage");
    let path = dir.join("bad.png");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    match load_image(&path, &ImageOptions::default()) {
        Err(e @ Error::Image { .. }) => assert!(e.to_string().contains("bad.png"), "{e}"),
        other => panic!("{other:?}"),
    }
    std::fs::write(&path, b"plain text").unwrap();
    assert!(matches!(
        load_image(&path, &ImageOptions::default()),
        Err(Error::Image { .. })
    ));
}

#[test]
fn error_bad_options() {
    let dir = test_dir("image-opts");
    let path = save_rgb(&dir, "a.png");
    let bad = [
        (
            ImageOptions {
                std: vec![1.0, 0.0, 1.0],
                ..ImageOptions::default()
            },
            "std[1] is 0",
        ),
        (
            ImageOptions {
                std: vec![0.0],
                ..ImageOptions::default()
            },
            "std[0] is 0",
        ),
        (
            ImageOptions {
                mean: vec![0.0, 0.0],
                ..ImageOptions::default()
            },
            "mean has 2 values",
        ),
        (
            ImageOptions {
                grayscale: true,
                ..ImageOptions::imagenet()
            },
            "1 channel",
        ),
        (
            ImageOptions {
                size: Some((0, 4)),
                ..ImageOptions::default()
            },
            "must be positive",
        ),
        (
            ImageOptions {
                range: (0.0, f32::NAN),
                ..ImageOptions::default()
            },
            "finite",
        ),
        (
            ImageOptions {
                mean: vec![f32::INFINITY],
                ..ImageOptions::default()
            },
            "not finite",
        ),
    ];
    for (opts, want) in bad {
        match load_image(&path, &opts) {
            Err(Error::Invalid(m)) => assert!(m.contains(want), "'{m}' lacks '{want}'"),
            other => panic!("{opts:?}: {other:?}"),
        }
    }
}

#[test]
fn error_non_finite_result() {
    let opts = ImageOptions {
        range: (0.0, 3e38),
        std: vec![1e-30],
        ..ImageOptions::default()
    };
    let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([255, 255, 255])));
    assert!(matches!(
        image_to_tensor(&img, &opts, Path::new("mem")),
        Err(Error::NonFinite { .. })
    ));
}
