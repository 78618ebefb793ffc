use std::fs;
use std::path::{Path, PathBuf};

use image::{GrayImage, Luma, Rgb, RgbImage};

use super::*;
use crate::io::test_dir;

fn batch_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/npy/batch.npy")
}

fn names(items: &[NamedInput]) -> Vec<&str> {
    items.iter().map(|(n, _)| n.as_str()).collect()
}

/// A folder with two images, two arrays and files that must be skipped.
fn mixed_folder(name: &str) -> PathBuf {
    let dir = test_dir(name);
    RgbImage::from_pixel(6, 4, Rgb([255, 0, 0]))
        .save(dir.join("b.png"))
        .unwrap();
    RgbImage::from_pixel(3, 3, Rgb([0, 0, 255]))
        .save(dir.join("a.JPG"))
        .unwrap();
    let item = Tensor::new(vec![3, 2, 2], (0..12).map(|i| i as f32).collect()).unwrap();
    npy::write_f32(dir.join("c.npy"), &item).unwrap();
    let batch = Tensor::new(vec![2, 3, 2, 2], vec![0.5; 24]).unwrap();
    npy::write_f32(dir.join("d.npy"), &batch).unwrap();
    fs::write(dir.join("notes.txt"), "skip me").unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    RgbImage::from_pixel(2, 2, Rgb([0, 0, 0]))
        .save(dir.join("sub/e.png"))
        .unwrap();
    dir
}

#[test]
fn folder_sorted_recursive_with_resize() {
    let dir = mixed_folder("inputs-folder");
    fs::create_dir(dir.join(".hidden")).unwrap();
    RgbImage::from_pixel(2, 2, Rgb([0, 0, 0]))
        .save(dir.join(".hidden/f.png"))
        .unwrap();
    let items = load_inputs(&[dir], &[3, 2, 2], &ImageOptions::default()).unwrap();
    assert_eq!(
        names(&items),
        [
            "a.JPG",
            "b.png",
            "c.npy",
            "d.npy[0]",
            "d.npy[1]",
            "sub/e.png"
        ]
    );
    for (_, t) in &items {
        assert_eq!(t.shape, vec![3, 2, 2]);
    }
    // b.png is pure red, resized 6x4 -> 2x2.
    assert!(items[1].1.data[..4].iter().all(|&v| (v - 1.0).abs() < 1e-6));
    assert!(items[1].1.data[4..].iter().all(|&v| v.abs() < 1e-6));
    assert_eq!(items[2].1.data[11], 11.0);
}

#[test]
fn output_stems_keep_the_extension_and_never_collide() {
    let dir = test_dir("inputs-stems");
    for sub in ["a", "b"] {
        fs::create_dir(dir.join(sub)).unwrap();
        for name in ["x.png", "x.jpg"] {
            RgbImage::from_pixel(2, 2, Rgb([9, 9, 9]))
                .save(dir.join(sub).join(name))
                .unwrap();
        }
    }
    let items = list_inputs(std::slice::from_ref(&dir), &[3, 2, 2]).unwrap();
    let stems: Vec<String> = items.iter().map(InputItem::output_stem).collect();
    assert_eq!(stems, ["a/x.jpg", "a/x.png", "b/x.jpg", "b/x.png"]);
    // The two folders on their own: both hold x.png, named x.png under each root.
    let m = list_inputs(&[dir.join("a"), dir.join("b")], &[3, 2, 2])
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("a/x.jpg") && m.contains("b/x.jpg") && m.contains("'x.jpg'"),
        "{m}"
    );
    let batch = list_inputs(&[batch_fixture()], &[1, 2, 2]).unwrap();
    assert_eq!(batch[1].output_stem(), "batch.npy_1");
}

#[test]
fn list_files_name_paths_relative_to_their_folder() {
    let dir = mixed_folder("inputs-list");
    fs::write(
        dir.join("list.txt"),
        "# two of them\nsub/e.png\n\n./b.png\n",
    )
    .unwrap();
    let items = load_inputs(
        &[dir.join("list.txt")],
        &[3, 2, 2],
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(names(&items), ["sub/e.png", "b.png"]);
    for (entry, want) in [
        ("../b.png", "inside the list's folder"),
        ("notes.txt", "unknown input type"),
    ] {
        fs::write(dir.join("bad.txt"), format!("b.png\n{entry}\n")).unwrap();
        let m = list_inputs(&[dir.join("bad.txt")], &[3, 2, 2])
            .unwrap_err()
            .to_string();
        assert!(m.contains("bad.txt line 2") && m.contains(want), "{m}");
    }
}

#[test]
fn explicit_paths_keep_their_order() {
    let dir = mixed_folder("inputs-order");
    let paths = [dir.join("c.npy"), dir.join("b.png"), batch_fixture()];
    let err = load_inputs(&paths, &[3, 2, 2], &ImageOptions::default()).unwrap_err();
    // batch.npy holds 1-channel items: a shape error naming the file and both shapes.
    let m = err.to_string();
    assert!(matches!(err, Error::Shape(_)), "{m}");
    assert!(
        m.contains("batch.npy") && m.contains("[2, 1, 2, 2]") && m.contains("[3, 2, 2]"),
        "{m}"
    );
    let items = load_inputs(&paths[..2], &[3, 2, 2], &ImageOptions::default()).unwrap();
    assert_eq!(names(&items), ["c.npy", "b.png"]);
}

#[test]
fn npy_batch_items_are_named_and_split() {
    let items = load_inputs(&[batch_fixture()], &[1, 2, 2], &ImageOptions::default()).unwrap();
    assert_eq!(names(&items), ["batch.npy[0]", "batch.npy[1]"]);
    assert_eq!(items[1].1.data, vec![0.5, 0.625, 0.75, 0.875]);
}

#[test]
fn rgb_image_becomes_grayscale_for_one_channel_models() {
    let dir = test_dir("inputs-gray");
    let path = dir.join("x.png");
    RgbImage::from_pixel(4, 4, Rgb([255, 255, 255]))
        .save(&path)
        .unwrap();
    let items = load_inputs(&[path], &[1, 28, 28], &ImageOptions::default()).unwrap();
    assert_eq!(items[0].1.shape, vec![1, 28, 28]);
    assert!(items[0].1.data.iter().all(|&v| (v - 1.0).abs() < 1e-5));
}

#[test]
fn explicit_size_must_match() {
    let dir = test_dir("inputs-size");
    let path = dir.join("x.png");
    GrayImage::from_pixel(5, 5, Luma([9])).save(&path).unwrap();
    let opts = ImageOptions {
        size: Some((3, 3)),
        ..ImageOptions::default()
    };
    let ok = load_inputs(std::slice::from_ref(&path), &[3, 3, 3], &opts).unwrap();
    assert_eq!(ok[0].1.shape, vec![3, 3, 3]);
    let m = load_inputs(&[path], &[3, 4, 4], &opts)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("x.png") && m.contains("[3, 3, 3]") && m.contains("[3, 4, 4]"),
        "{m}"
    );
}

#[test]
fn images_need_one_or_three_channels() {
    let dir = test_dir("inputs-channels");
    let path = dir.join("x.png");
    GrayImage::from_pixel(2, 2, Luma([9])).save(&path).unwrap();
    for expected in [&[4, 2, 2][..], &[12][..]] {
        let e = load_inputs(
            std::slice::from_ref(&path),
            expected,
            &ImageOptions::default(),
        );
        assert!(matches!(e, Err(Error::Shape(_))), "{e:?}");
    }
    let gray = ImageOptions {
        grayscale: true,
        ..ImageOptions::default()
    };
    assert!(matches!(
        load_inputs(&[path], &[3, 2, 2], &gray),
        Err(Error::Shape(_))
    ));
}

#[test]
fn npy_of_any_rank() {
    let dir = test_dir("inputs-rank");
    let path = dir.join("v.npy");
    npy::write_f32(&path, &Tensor::new(vec![2, 5], vec![1.0; 10]).unwrap()).unwrap();
    let items = load_inputs(&[path], &[5], &ImageOptions::default()).unwrap();
    assert_eq!(names(&items), ["v.npy[0]", "v.npy[1]"]);
}

#[test]
fn error_non_finite_names_file() {
    let dir = test_dir("inputs-nan");
    let path = dir.join("bad.npy");
    let mut data = vec![0.0; 8];
    data[5] = f32::NAN;
    npy::write_f32(&path, &Tensor::new(vec![2, 1, 2, 2], data).unwrap()).unwrap();
    match load_inputs(&[path], &[1, 2, 2], &ImageOptions::default()) {
        Err(Error::NonFinite { what, index }) => {
            // Item 1 of the batch, value 1 of that item.
            assert!(what.ends_with("bad.npy[1]"), "{what}");
            assert_eq!(index, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_empty_batch() {
    let dir = test_dir("inputs-empty-batch");
    let path = dir.join("e.npy");
    npy::write_f32(&path, &Tensor::new(vec![0, 1, 2, 2], vec![]).unwrap()).unwrap();
    let e = load_inputs(&[path], &[1, 2, 2], &ImageOptions::default());
    assert!(matches!(e, Err(Error::Shape(_))), "{e:?}");
}

#[test]
fn error_unknown_extension_missing_path_empty_folder() {
    let dir = test_dir("inputs-errors");
    let svg = dir.join("notes.svg");
    fs::write(&svg, "x").unwrap();
    match load_inputs(&[svg], &[3, 2, 2], &ImageOptions::default()) {
        Err(Error::Invalid(m)) => assert!(m.contains("notes.svg") && m.contains("'.svg'"), "{m}"),
        other => panic!("{other:?}"),
    }
    let bare = dir.join("README");
    fs::write(&bare, "x").unwrap();
    match load_inputs(&[bare], &[3, 2, 2], &ImageOptions::default()) {
        Err(Error::Invalid(m)) => assert!(m.contains("no extension"), "{m}"),
        other => panic!("{other:?}"),
    }
    let missing = dir.join("missing.png");
    match load_inputs(
        std::slice::from_ref(&missing),
        &[3, 2, 2],
        &ImageOptions::default(),
    ) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    let empty = dir.join("empty");
    fs::create_dir(&empty).unwrap();
    match load_inputs(&[empty], &[3, 2, 2], &ImageOptions::default()) {
        Err(Error::Invalid(m)) => assert!(m.contains("no input files"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(load_inputs(&[], &[3, 2, 2], &ImageOptions::default())
        .unwrap()
        .is_empty());
}
