//! Quire's skew estimate (`imaging::deskew`) against Leptonica's `pixFindSkewSweepAndSearch`
//! (the library tesseract already links) on the pages of the deskew tests: the same synthetic
//! pages of known skew, and the corpus scan turned by known angles. Prints, per set and in all,
//! each method's mean and worst absolute error in degrees and how many estimates it was unsure
//! of. `cargo run --release -p quire-pipeline --example deskew_compare`; the figures are in
//! `imaging/deskew.rs` and BENCHMARKS.md.

use std::time::{Duration, Instant};

use image::GrayImage;
use quire_pipeline::imaging::deskew::{MIN_CONFIDENCE, estimate_skew, rotate_bilevel};
use quire_testkit::synth::{Degradation, PageSpec, Typeface, render_page};

/// Leptonica's own defaults (`skew.c`: reductions 4 and 2, 1° sweep steps, 0.01° final
/// precision), with the sweep widened from its default ±7° to a degree past Quire's ±15°:
/// Leptonica gives up on a peak at the very edge of its sweep ("max found at sweep edge"), so
/// at exactly ±15° it would fail on the test's 14.83° page for that reason alone.
const SWEEP_REDUCTION: i32 = 4;
const SEARCH_REDUCTION: i32 = 2;
const SWEEP_RANGE_DEG: f32 = 16.0;
const SWEEP_DELTA_DEG: f32 = 1.0;
const MIN_SEARCH_DELTA_DEG: f32 = 0.01;
/// Leptonica's threshold for an 8-bit page going to 1 bit (`pixConvertTo1`'s usual 130).
const THRESHOLD: i32 = 130;
/// Below this confidence Leptonica itself reports the angle as unreliable (`skew.c`,
/// `MinValidMaxscore` aside: `pixDeskew` does not rotate below a confidence of 3.0).
const LEPTONICA_MIN_CONFIDENCE: f32 = 3.0;

/// Leptonica's estimate for `page`: (angle in degrees, confidence), or None when it fails.
/// Leptonica gives the angle to rotate clockwise to deskew; that is Quire's counter-clockwise
/// skew angle, the same number.
fn leptonica_skew(page: &GrayImage) -> Option<(f32, f32)> {
    use leptonica_sys as l;
    let (w, h) = (page.width() as i32, page.height() as i32);
    // SAFETY: the PIX is created here with the page's size and depth 8, so every row has `wpl`
    // 32-bit words; every pointer is checked for null and each PIX destroyed exactly once.
    unsafe {
        let mut grey = l::pixCreate(w, h, 8);
        if grey.is_null() {
            return None;
        }
        let wpl = l::pixGetWpl(grey) as usize;
        let data = l::pixGetData(grey);
        for (y, row) in page.rows().enumerate() {
            let line = std::slice::from_raw_parts_mut(data.add(y * wpl), wpl);
            for (x, p) in row.enumerate() {
                // Leptonica packs 8-bit pixels big-endian within each native 32-bit word.
                let shift = 24 - 8 * (x % 4);
                line[x / 4] |= u32::from(p.0[0]) << shift;
            }
        }
        let mut bits = l::pixConvertTo1(grey, THRESHOLD);
        l::pixDestroy(&mut grey);
        if bits.is_null() {
            return None;
        }
        let (mut angle, mut confidence) = (0f32, 0f32);
        let failed = l::pixFindSkewSweepAndSearch(
            bits,
            &mut angle,
            &mut confidence,
            SWEEP_REDUCTION,
            SEARCH_REDUCTION,
            SWEEP_RANGE_DEG,
            SWEEP_DELTA_DEG,
            MIN_SEARCH_DELTA_DEG,
        );
        l::pixDestroy(&mut bits);
        (failed == 0).then_some((angle, confidence))
    }
}

/// One page: its true skew, and each method's (angle, confidence); Leptonica's None if it failed.
struct Case {
    truth: f32,
    quire: (f32, f32),
    leptonica: Option<(f32, f32)>,
}

#[derive(Default)]
struct Tally {
    errors: Vec<f32>,
    unsure: usize,
}

impl Tally {
    fn add(&mut self, error: f32, sure: bool) {
        self.errors.push(error.abs());
        self.unsure += usize::from(!sure);
    }

    fn line(&self) -> String {
        let n = self.errors.len().max(1) as f32;
        format!(
            "mean {:.3}°, worst {:.3}°, unsure {}/{}",
            self.errors.iter().sum::<f32>() / n,
            self.errors.iter().cloned().fold(0.0, f32::max),
            self.unsure,
            self.errors.len()
        )
    }
}

/// (set name, [(true skew, page)]) for the synthetic sets of `deskew_tests.rs`.
fn synthetic_sets() -> Vec<(&'static str, Vec<(f32, GrayImage)>)> {
    let render = |angles: &[f32], spec: &dyn Fn(f32) -> PageSpec| {
        angles
            .iter()
            .map(|&a| (a, render_page(&spec(a)).expect("render").image))
            .collect::<Vec<_>>()
    };
    vec![
        (
            "grey 200 dpi",
            render(
                &[
                    -14.37, -9.71, -3.33, -0.77, -0.07, 0.0, 0.04, 0.31, 2.13, 6.58, 11.17, 14.83,
                ],
                &|a| PageSpec {
                    seed: 11,
                    dpi: 200.0,
                    degradation: Degradation::scanner(a),
                    ..PageSpec::default()
                },
            ),
        ),
        (
            "bilevel 300 dpi",
            render(&[-12.9, -1.37, 0.19, 4.61], &|a| PageSpec {
                seed: 12,
                page_number: 2,
                dpi: 300.0,
                degradation: Degradation {
                    bilevel: true,
                    ..Degradation::scanner(a)
                },
                ..PageSpec::default()
            }),
        ),
        (
            "small sans 150 dpi",
            render(&[-7.77, -0.23, 0.09, 13.1], &|a| PageSpec {
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
            }),
        ),
    ]
}

fn main() {
    let (mut quire_all, mut lept_all) = (Tally::default(), Tally::default());
    let (mut quire_time, mut lept_time) = (Duration::ZERO, Duration::ZERO);
    let mut quire_timed = |page: &GrayImage| {
        let t = Instant::now();
        let e = estimate_skew(page);
        quire_time += t.elapsed();
        e
    };
    let mut lept_timed = |page: &GrayImage| {
        let t = Instant::now();
        let e = leptonica_skew(page);
        lept_time += t.elapsed();
        e
    };
    let mut report = |name: &str, cases: &[Case]| {
        let (mut q, mut l) = (Tally::default(), Tally::default());
        for &Case {
            truth,
            quire: (q_angle, q_conf),
            leptonica: lept,
        } in cases
        {
            let q_sure = q_conf >= MIN_CONFIDENCE;
            q.add(q_angle - truth, q_sure);
            quire_all.add(q_angle - truth, q_sure);
            let (l_angle, l_conf) = lept.unwrap_or((0.0, 0.0));
            let l_sure = lept.is_some() && l_conf >= LEPTONICA_MIN_CONFIDENCE;
            l.add(l_angle - truth, l_sure);
            lept_all.add(l_angle - truth, l_sure);
            println!(
                "  {name:<20} {truth:>7.2}°  quire {q_angle:>7.3}° (conf {q_conf:.2})  \
                 leptonica {l_angle:>7.3}° (conf {l_conf:.2})"
            );
        }
        println!("{name}: quire {}; leptonica {}", q.line(), l.line());
    };

    for (name, pages) in synthetic_sets() {
        let cases: Vec<_> = pages
            .iter()
            .map(|(truth, page)| {
                let q = quire_timed(page);
                Case {
                    truth: *truth,
                    quire: (q.angle_deg, q.confidence),
                    leptonica: lept_timed(page),
                }
            })
            .collect();
        report(name, &cases);
    }

    // The corpus scan, turned: measured relative to each method's own reading of the scan.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/linn.png");
    let scan = image::open(path).expect("corpus linn.png").to_luma8();
    let q_base = estimate_skew(&scan).angle_deg;
    let l_base = leptonica_skew(&scan).map_or(0.0, |(a, _)| a);
    let cases: Vec<_> = [-6.4f32, 2.75]
        .iter()
        .map(|&turn| {
            let turned = rotate_bilevel(&scan, turn);
            let q = quire_timed(&turned);
            Case {
                truth: turn,
                quire: (q.angle_deg - q_base, q.confidence),
                leptonica: lept_timed(&turned).map(|(a, c)| (a - l_base, c)),
            }
        })
        .collect();
    report("linn.png turned", &cases);

    println!(
        "all: quire {}, {:.0} ms a page",
        quire_all.line(),
        quire_time.as_secs_f64() * 1000.0 / quire_all.errors.len() as f64
    );
    println!(
        "all: leptonica {}, {:.0} ms a page (with the conversion to 1 bit)",
        lept_all.line(),
        lept_time.as_secs_f64() * 1000.0 / lept_all.errors.len() as f64
    );
}
