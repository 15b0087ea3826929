//! Benchmark helper for `scripts/bench/process.sh`: writes a synthetic scanned article, and
//! scores text layers against its truth.
//!
//! `bench_article generate OUT.pdf TRUTH_DIR PAGES [DPI]` renders PAGES pages of a seeded article
//! with scanner faults and small known skews, writes them as an image-only JPEG PDF (as a
//! sheet-fed scanner does) and the truth of page N as TRUTH_DIR/page-NNNN.txt. Pages are rendered
//! in parallel and only encoded pages are kept, so 200 pages fit in modest memory.
//!
//! `bench_article cer TRUTH_DIR TEXT_DIR` reads TEXT_DIR/page-NNNN.txt for every truth page and
//! prints the character error rate over the whole article (edit distances summed over pages,
//! divided by the summed truth length), then one line per page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use quire_testkit::synth::{
    Degradation, ImagePdf, PageSpec, PdfImageCodec, PdfPageImage, cer, render_page,
};
use rayon::prelude::*;

/// Skew of page `n`: small and varied, as a sheet feeder leaves pages, both directions.
fn skew_of(n: u32) -> f32 {
    const SKEWS: [f32; 7] = [0.42, -0.87, 1.33, -0.19, 0.71, -1.62, 0.08];
    SKEWS[(n as usize - 1) % SKEWS.len()]
}

fn generate(out: &Path, truth_dir: &Path, pages: u32, dpi: f32) -> std::io::Result<()> {
    std::fs::create_dir_all(truth_dir)?;
    let mut pdf = ImagePdf::new();
    // Chunks bound memory: a chunk of decoded pages at a time, then only JPEG bytes remain.
    let numbers: Vec<u32> = (1..=pages).collect();
    for chunk in numbers.chunks(8) {
        let encoded: Vec<(u32, String, PdfPageImage)> = chunk
            .par_iter()
            .map(|&n| {
                let spec = PageSpec {
                    seed: 2024,
                    page_number: n,
                    dpi,
                    degradation: Degradation {
                        noise_seed: u64::from(n),
                        ..Degradation::scanner(skew_of(n))
                    },
                    ..PageSpec::default()
                };
                let page = render_page(&spec)?;
                let image = PdfPageImage::encode(&page.image, dpi, PdfImageCodec::Dct)?;
                Ok((n, page.truth, image))
            })
            .collect::<std::io::Result<_>>()?;
        for (n, truth, image) in encoded {
            std::fs::write(truth_dir.join(format!("page-{n:04}.txt")), truth)?;
            pdf.push(image);
        }
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    pdf.save_to(&mut file)
}

fn score(truth_dir: &Path, text_dir: &Path) -> std::io::Result<()> {
    let mut truths: Vec<PathBuf> = std::fs::read_dir(truth_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    truths.sort();
    let per_page: Vec<(String, f64, usize)> = truths
        .par_iter()
        .map(|truth_path| {
            let name = truth_path
                .file_name()
                .expect("file")
                .to_string_lossy()
                .into_owned();
            let truth = std::fs::read_to_string(truth_path)?;
            let text = std::fs::read_to_string(text_dir.join(&name)).unwrap_or_default();
            let len = truth
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .count();
            Ok((name, cer(&truth, &text), len))
        })
        .collect::<std::io::Result<_>>()?;
    let total_len: usize = per_page.iter().map(|p| p.2).sum();
    let edits: f64 = per_page.iter().map(|p| p.1 * p.2 as f64).sum();
    println!("{:.5}", edits / total_len.max(1) as f64);
    for (name, rate, _) in per_page {
        println!("{name} {rate:.5}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate", out, truth, pages, rest @ ..] => {
            let dpi = rest.first().and_then(|d| d.parse().ok()).unwrap_or(300.0);
            match pages.parse() {
                Ok(pages) => generate(Path::new(out), Path::new(truth), pages, dpi),
                Err(_) => Err(std::io::Error::other(format!("not a page count: {pages}"))),
            }
        }
        ["cer", truth, text] => score(Path::new(truth), Path::new(text)),
        _ => {
            eprintln!(
                "usage: bench_article generate OUT.pdf TRUTH_DIR PAGES [DPI]\n       bench_article cer TRUTH_DIR TEXT_DIR"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_article: {e}");
            ExitCode::FAILURE
        }
    }
}
