//! Near-duplicate detection on synthetic articles: every rescan (another resolution, skew,
//! JPEG quality, OCR noise) is found, and 200 different articles sharing a journal's running
//! head and copyright footer never match each other. Prints the score distributions, which is
//! the benchmark for the thresholds in `similarity::compare`.

use std::io::Cursor;
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, Luma};
use imageproc::drawing::{draw_filled_circle_mut, draw_filled_rect_mut};
use imageproc::rect::Rect;
use quire_pipeline::imaging::deskew::rotate_gray;
use quire_pipeline::similarity::{
    PAGE_MATCH_IMAGE, PAGE_MATCH_TEXT, PageFingerprint, compare_documents, minhash_similarity,
    phash_similarity,
};
use quire_testkit::synth::{Degradation, PageSpec, render_article};
use rayon::prelude::*;

const ARTICLES: u64 = 200;
const PAGES: u32 = 2;
/// Every this many articles is scanned a second time.
const RESCAN_EVERY: u64 = 10;
const ORIGINAL_DPI: f32 = 100.0;

const HEAD: &str = "JOURNAL OF LIBRARY HISTORY Vol. 12, No. 3 (Summer 1987)";
const FOOT: &str = "This content downloaded from the archive on Tue, 12 Mar 2020. All use subject to the terms and conditions of the publisher.";

/// A rescan setting: resolution, skew, JPEG quality, OCR character error rate.
struct Rescan {
    dpi: f32,
    skew_deg: f32,
    jpeg_quality: u8,
    ocr_error_rate: f64,
}

const RESCANS: [Rescan; 3] = [
    Rescan {
        dpi: 150.0,
        skew_deg: -1.2,
        jpeg_quality: 30,
        ocr_error_rate: 0.02,
    },
    Rescan {
        dpi: 75.0,
        skew_deg: 2.0,
        jpeg_quality: 50,
        ocr_error_rate: 0.03,
    },
    Rescan {
        dpi: 200.0,
        skew_deg: 0.7,
        jpeg_quality: 15,
        ocr_error_rate: 0.01,
    },
];

fn jpeg(page: &GrayImage, quality: u8) -> GrayImage {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut bytes), quality)
        .encode_image(page)
        .unwrap();
    image::load_from_memory(&bytes).unwrap().to_luma8()
}

/// OCR-like damage: a share of letters swapped for look-alikes, dropped, or a space lost.
fn ocr_noise(text: &str, rate: f64, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1_000_000) as f64 / 1_000_000.0
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if next() >= rate {
            out.push(c);
            continue;
        }
        match (c, next()) {
            (' ', _) => {}
            (_, r) if r < 0.3 => {}
            ('e', _) => out.push('c'),
            ('l', _) => out.push('1'),
            ('m', _) => out.push_str("rn"),
            ('o', _) => out.push('0'),
            (c, _) => {
                out.push(c);
                out.push('\'');
            }
        }
    }
    out
}

fn with_boilerplate(truth: &str) -> String {
    format!("{HEAD}\n{truth}\n{FOOT}")
}

fn original(seed: u64) -> Vec<PageFingerprint> {
    let spec = PageSpec {
        seed,
        dpi: ORIGINAL_DPI,
        font_pt: 10.0,
        degradation: Degradation::scanner(0.3),
        ..PageSpec::default()
    };
    render_article(&spec, PAGES)
        .unwrap()
        .iter()
        .map(|p| PageFingerprint::of(&p.image, p.dpi, &with_boilerplate(&p.truth)))
        .collect()
}

fn rescan(seed: u64, how: &Rescan) -> Vec<PageFingerprint> {
    let degradation = Degradation {
        noise_seed: seed + 99,
        ..Degradation::scanner(how.skew_deg)
    };
    let spec = PageSpec {
        seed,
        dpi: how.dpi,
        font_pt: 10.0,
        degradation,
        ..PageSpec::default()
    };
    render_article(&spec, PAGES)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = ocr_noise(
                &with_boilerplate(&p.truth),
                how.ocr_error_rate,
                seed * 10 + i as u64,
            );
            PageFingerprint::of(&jpeg(&p.image, how.jpeg_quality), p.dpi, &text)
        })
        .collect()
}

fn stats(name: &str, values: &mut [f32]) {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    println!(
        "{name}: n={n} min={:.3} median={:.3} p99={:.3} max={:.3}",
        values[0],
        values[n / 2],
        values[(n * 99 / 100).min(n - 1)],
        values[n - 1]
    );
}

#[test]
fn every_rescan_is_found_and_no_two_articles_match() {
    let start = Instant::now();
    let originals: Vec<Vec<PageFingerprint>> = (0..ARTICLES)
        .into_par_iter()
        .map(|k| original(1000 + k))
        .collect();
    let rescanned: Vec<(u64, Vec<PageFingerprint>)> = (0..ARTICLES)
        .into_par_iter()
        .filter(|k| k % RESCAN_EVERY == 0)
        .map(|k| {
            (
                k,
                rescan(
                    1000 + k,
                    &RESCANS[(k / RESCAN_EVERY) as usize % RESCANS.len()],
                ),
            )
        })
        .collect();
    println!(
        "rendered and fingerprinted {} pages in {:?}",
        (originals.len() + rescanned.len()) * PAGES as usize,
        start.elapsed()
    );

    // Score distributions, page against page.
    let (mut same_text, mut same_image, mut other_text, mut other_image) =
        (vec![], vec![], vec![], vec![]);
    for (k, pages) in &rescanned {
        for (i, page) in pages.iter().enumerate() {
            let own = &originals[*k as usize][i];
            same_text.push(minhash_similarity(&page.minhash, &own.minhash));
            same_image.push(phash_similarity(&page.phash, &own.phash));
        }
    }
    for a in 0..originals.len() {
        for b in a + 1..originals.len() {
            for (pa, pb) in originals[a].iter().zip(&originals[b]) {
                other_text.push(minhash_similarity(&pa.minhash, &pb.minhash));
                other_image.push(phash_similarity(&pa.phash, &pb.phash));
            }
        }
    }
    stats(
        "text similarity, rescan vs its original page",
        &mut same_text,
    );
    stats(
        "text similarity, different articles, same page number",
        &mut other_text,
    );
    stats(
        "image similarity, rescan vs its original page",
        &mut same_image,
    );
    stats(
        "image similarity, different articles, same page number",
        &mut other_image,
    );
    println!("thresholds: text {PAGE_MATCH_TEXT}, image {PAGE_MATCH_IMAGE}");

    // Documents: every rescan matches its own article in full and nothing else.
    for (k, pages) in &rescanned {
        for (j, old) in originals.iter().enumerate() {
            let found = compare_documents(pages, old);
            if j as u64 == *k {
                let found = found.unwrap_or_else(|| panic!("rescan of article {k} not recognised"));
                assert_eq!(found.new_pages, 1..=PAGES as usize, "article {k}");
                assert_eq!(found.old_pages, 1..=PAGES as usize, "article {k}");
            } else {
                assert_eq!(found, None, "rescan of article {k} matched article {j}");
            }
        }
    }
    let false_matches: Vec<(usize, usize)> = (0..originals.len())
        .into_par_iter()
        .flat_map_iter(|a| {
            let originals = &originals;
            (a + 1..originals.len()).filter_map(move |b| {
                compare_documents(&originals[a], &originals[b]).map(|_| (a, b))
            })
        })
        .collect();
    assert_eq!(false_matches, vec![], "different articles matched");
    println!(
        "{} rescans found, 0 false matches among {ARTICLES} articles, in {:?}",
        rescanned.len(),
        start.elapsed()
    );
}

/// A page without text (a plate: shapes in shades of grey), drawn from `seed` at `dpi`.
fn plate(seed: u64, dpi: f32) -> GrayImage {
    let mut state = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut next = move |n: u32| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % u64::from(n)) as u32
    };
    let inch = |v: u32| (v as f32 / 100.0 * dpi) as i32;
    let (w, h) = ((8.27 * dpi) as u32, (11.69 * dpi) as u32);
    let mut page = GrayImage::from_pixel(w, h, Luma([245]));
    for _ in 0..12 {
        let shade = Luma([next(200) as u8 + 10]);
        // Positions and sizes in hundredths of an inch, so every resolution draws the same plate.
        let (x, y) = (inch(80 + next(560)), inch(80 + next(900)));
        if next(2) == 0 {
            let (rw, rh) = (inch(40 + next(250)), inch(40 + next(250)));
            draw_filled_rect_mut(
                &mut page,
                Rect::at(x, y).of_size(rw.max(1) as u32, rh.max(1) as u32),
                shade,
            );
        } else {
            draw_filled_circle_mut(&mut page, (x, y), inch(20 + next(150)), shade);
        }
    }
    page
}

#[test]
fn pages_without_text_match_by_image() {
    let start = Instant::now();
    let originals: Vec<PageFingerprint> = (0..ARTICLES)
        .into_par_iter()
        .map(|k| PageFingerprint::of(&plate(k, ORIGINAL_DPI), ORIGINAL_DPI, ""))
        .collect();
    let rescanned: Vec<(usize, PageFingerprint)> = (0..ARTICLES)
        .into_par_iter()
        .filter(|k| k % RESCAN_EVERY == 0)
        .map(|k| {
            let how = &RESCANS[(k / RESCAN_EVERY) as usize % RESCANS.len()];
            let mut page = rotate_gray(&plate(k, how.dpi), how.skew_deg);
            imageproc::noise::gaussian_noise_mut(&mut page, 0.0, 6.0, k);
            (
                k as usize,
                PageFingerprint::of(&jpeg(&page, how.jpeg_quality), how.dpi, ""),
            )
        })
        .collect();
    let mut same: Vec<f32> = rescanned
        .iter()
        .map(|(k, p)| phash_similarity(&p.phash, &originals[*k].phash))
        .collect();
    let mut other = Vec::new();
    for a in 0..originals.len() {
        for b in a + 1..originals.len() {
            other.push(phash_similarity(&originals[a].phash, &originals[b].phash));
        }
    }
    stats(
        "image similarity, rescanned plate vs its original",
        &mut same,
    );
    stats("image similarity, different plates", &mut other);
    for (k, page) in &rescanned {
        for (j, old) in originals.iter().enumerate() {
            let found = compare_documents(std::slice::from_ref(page), std::slice::from_ref(old));
            assert_eq!(
                found.is_some(),
                j == *k,
                "rescanned plate {k} against plate {j}: {found:?}"
            );
        }
    }
    println!("plates checked in {:?}", start.elapsed());
}
