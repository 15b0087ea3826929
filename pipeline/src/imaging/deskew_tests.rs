//! Skew estimation against synthetic pages of known skew, and rotation properties.

use image::{GrayImage, Luma, Rgb, RgbImage};

use super::deskew::{MIN_CONFIDENCE, estimate_skew, rotate_bilevel, rotate_gray, rotate_rgb};
use quire_testkit::synth::{Degradation, PageSpec, Typeface, render_page};

/// Renders pages at the given skews and returns (true angle, estimate) pairs.
fn estimates(angles: &[f32], spec: impl Fn(f32) -> PageSpec) -> Vec<(f32, f32, f32)> {
    angles
        .iter()
        .map(|&a| {
            let page = render_page(&spec(a)).expect("render");
            assert_eq!(page.skew_deg, a);
            let e = estimate_skew(&page.image);
            (a, e.angle_deg, e.confidence)
        })
        .collect()
}

/// The bounds: mean absolute error ≤ 0.05°, none worse than 0.2°, all confident.
fn assert_bounds(results: &[(f32, f32, f32)]) {
    let errors: Vec<f32> = results.iter().map(|(a, e, _)| (e - a).abs()).collect();
    let mean = errors.iter().sum::<f32>() / errors.len() as f32;
    let worst = errors.iter().cloned().fold(0.0, f32::max);
    assert!(mean <= 0.05, "mean error {mean}: {results:?}");
    assert!(worst <= 0.2, "worst error {worst}: {results:?}");
    for (a, _, c) in results {
        assert!(*c >= MIN_CONFIDENCE, "confidence {c} at {a}°: {results:?}");
    }
}

#[test]
fn grey_scanned_pages_within_bounds_across_the_range() {
    let angles = [
        -14.37, -9.71, -3.33, -0.77, -0.07, 0.0, 0.04, 0.31, 2.13, 6.58, 11.17, 14.83,
    ];
    let results = estimates(&angles, |a| PageSpec {
        seed: 11,
        dpi: 200.0,
        degradation: Degradation::scanner(a),
        ..PageSpec::default()
    });
    assert_bounds(&results);
}

#[test]
fn bilevel_pages_at_300_dpi_within_bounds() {
    let angles = [-12.9, -1.37, 0.19, 4.61];
    let results = estimates(&angles, |a| PageSpec {
        seed: 12,
        page_number: 2,
        dpi: 300.0,
        degradation: Degradation {
            bilevel: true,
            ..Degradation::scanner(a)
        },
        ..PageSpec::default()
    });
    assert_bounds(&results);
}

#[test]
fn small_sans_pages_at_low_resolution_within_bounds() {
    let angles = [-7.77, -0.23, 0.09, 13.1];
    let results = estimates(&angles, |a| PageSpec {
        seed: 13,
        dpi: 150.0,
        paper_in: (5.83, 8.27),
        typeface: Typeface::Sans,
        degradation: Degradation {
            blur_sigma: 1.2,
            noise_sigma: 10.0,
            ..Degradation::scanner(a)
        },
        ..PageSpec::default()
    });
    assert_bounds(&results);
}

#[test]
fn blank_and_noisy_pages_are_unsure_and_not_rotated() {
    let clean = GrayImage::from_pixel(1240, 1754, Luma([245]));
    let mut noisy = clean.clone();
    imageproc::noise::gaussian_noise_mut(&mut noisy, 0.0, 8.0, 3);
    imageproc::noise::salt_and_pepper_noise_mut(&mut noisy, 0.001, 4);
    for page in [clean, noisy] {
        let e = estimate_skew(&page);
        assert!(e.confidence < MIN_CONFIDENCE, "{e:?}");
        assert!(!e.should_rotate(), "{e:?}");
    }
}

#[test]
fn pages_without_lines_are_unsure() {
    // Scattered blobs, like a photograph's dark patches: no direction is preferred.
    let mut page = GrayImage::from_pixel(1240, 1754, Luma([240]));
    let mut state = 12345u64;
    let mut next = |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % m) as i32
    };
    for _ in 0..400 {
        let (x, y, r) = (next(1240), next(1754), 3 + next(25));
        imageproc::drawing::draw_filled_circle_mut(&mut page, (x, y), r, Luma([30]));
    }
    let e = estimate_skew(&page);
    assert!(e.confidence < MIN_CONFIDENCE, "{e:?}");
}

#[test]
fn real_scan_turned_by_a_known_angle() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/linn.png");
    let scan = image::open(path).expect("corpus linn.png").to_luma8();
    let base = estimate_skew(&scan);
    assert!(base.confidence >= MIN_CONFIDENCE, "{base:?}");
    for turn in [-6.4f32, 2.75] {
        let turned = rotate_bilevel(&scan, turn);
        let e = estimate_skew(&turned);
        let measured = e.angle_deg - base.angle_deg;
        assert!(
            (measured - turn).abs() <= 0.1,
            "turned {turn}°, measured {measured}° ({e:?})"
        );
    }
}

#[test]
fn correcting_by_the_estimate_straightens_the_page() {
    let page = render_page(&PageSpec {
        seed: 14,
        dpi: 150.0,
        degradation: Degradation::scanner(4.4),
        ..PageSpec::default()
    })
    .expect("render");
    let e = estimate_skew(&page.image);
    assert!(e.should_rotate());
    let straightened = rotate_gray(&page.image, e.correction_deg());
    let after = estimate_skew(&straightened);
    assert!(after.angle_deg.abs() < 0.05, "{after:?}");
    assert!(!after.should_rotate(), "{after:?}");
}

#[test]
fn positive_angles_turn_counter_clockwise_with_a_white_fill() {
    // A black dot right of centre goes up (smaller y) when turned counter-clockwise.
    let mut page = GrayImage::from_pixel(201, 201, Luma([255]));
    for y in 98..103 {
        for x in 178..183 {
            page.put_pixel(x, y, Luma([0]));
        }
    }
    let turned = rotate_bilevel(&page, 90.0);
    assert_eq!(
        turned.get_pixel(100, 20).0[0],
        0,
        "the dot should now be above the centre"
    );
    assert_eq!(turned.get_pixel(180, 100).0[0], 255);

    let black = GrayImage::from_pixel(100, 60, Luma([0]));
    let turned = rotate_gray(&black, 10.0);
    assert_eq!(turned.dimensions(), (100, 60));
    assert_eq!(
        turned.get_pixel(0, 0).0[0],
        255,
        "corners are filled with white"
    );
    assert_eq!(turned.get_pixel(50, 30).0[0], 0);

    let colour = RgbImage::from_pixel(100, 60, Rgb([200, 10, 10]));
    let turned = rotate_rgb(&colour, -7.0);
    assert_eq!(turned.get_pixel(0, 0), &Rgb([255, 255, 255]));
    assert_eq!(turned.get_pixel(50, 30), &Rgb([200, 10, 10]));
}

#[test]
fn bilevel_rotation_stays_bilevel_and_keeps_ink() {
    let page = render_page(&PageSpec {
        seed: 15,
        dpi: 150.0,
        paper_in: (4.0, 4.0),
        degradation: Degradation {
            bilevel: true,
            ..Degradation::default()
        },
        ..PageSpec::default()
    })
    .expect("render")
    .image;
    let ink = |p: &GrayImage| p.pixels().filter(|p| p.0[0] == 0).count() as f64;
    let turned = rotate_bilevel(&page, 3.7);
    assert!(turned.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
    let ratio = ink(&turned) / ink(&page);
    assert!(
        (0.9..1.1).contains(&ratio),
        "ink changed by a factor {ratio}"
    );
}

#[test]
fn turning_there_and_back_keeps_the_page() {
    let page = render_page(&PageSpec {
        seed: 16,
        dpi: 150.0,
        paper_in: (4.0, 4.0),
        ..PageSpec::default()
    })
    .expect("render")
    .image;
    let back = rotate_gray(&rotate_gray(&page, 2.9), -2.9);
    // Compare away from the corners, which the first turn filled with white.
    let (w, h) = page.dimensions();
    let (mut diff, mut n) = (0u64, 0u64);
    for y in h / 8..h * 7 / 8 {
        for x in w / 8..w * 7 / 8 {
            diff += u64::from(page.get_pixel(x, y).0[0].abs_diff(back.get_pixel(x, y).0[0]));
            n += 1;
        }
    }
    let mean = diff as f64 / n as f64;
    assert!(
        mean < 4.0,
        "mean difference {mean} after turning there and back"
    );
}
