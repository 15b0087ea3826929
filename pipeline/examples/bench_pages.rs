//! Benchmark helper for `scripts/bench/memory.sh`: writes one large synthetic scanned page in
//! the formats whose memory use differs.
//!
//! `bench_pages OUT_DIR MEGAPIXELS` renders an A4 page at the resolution that gives about
//! MEGAPIXELS million pixels (25 → 506 dpi, 100 → 1011 dpi, 250 → 1599 dpi), with a scanner's
//! blur, noise and a 0.8° skew (so the page is straightened, as most are), and writes
//! OUT_DIR/grey-MEGAPIXELSmp.png (8-bit grey), .jpg (grey JPEG), g4-MEGAPIXELSmp.tif (bilevel,
//! CCITT G4), rgb-MEGAPIXELSmp.png (the page on cream paper, 8-bit RGB), rgb-MEGAPIXELSmp.jpg
//! (the same, baseline JPEG at 4:2:0 as scanners write colour), rgb-MEGAPIXELSmp.tif (the same,
//! uncompressed TIFF in strips of 64 rows, as many scanners write it) and the page's text as
//! OUT_DIR/truth-MEGAPIXELSmp/page-0001.txt. Files already there are kept: the page is the same.
//! The colour files are written row by row from the grey page, so the generator never holds
//! the page as RGB.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use quire_testkit::synth::{self, Degradation, Format, PageSpec, TiffCompression, cream};

const A4_IN: (f32, f32) = (8.27, 11.69);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(Ok(mp))) = (args.first(), args.get(1).map(|m| m.parse::<f32>())) else {
        eprintln!("usage: bench_pages OUT_DIR MEGAPIXELS");
        return ExitCode::from(2);
    };
    match generate(Path::new(dir), mp) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_pages: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(dir: &Path, mp: f32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = |kind: &str, ext: &str| dir.join(format!("{kind}-{mp}mp.{ext}"));
    let truth_dir = dir.join(format!("truth-{mp}mp"));
    let outputs: [PathBuf; 6] = [
        name("grey", "png"),
        name("grey", "jpg"),
        name("g4", "tif"),
        name("rgb", "png"),
        name("rgb", "jpg"),
        name("rgb", "tif"),
    ];
    if outputs.iter().all(|p| p.exists()) && truth_dir.join("page-0001.txt").exists() {
        return Ok(());
    }
    let dpi = (mp * 1e6 / (A4_IN.0 * A4_IN.1)).sqrt().round();
    let spec = PageSpec {
        seed: 14,
        dpi,
        paper_in: A4_IN,
        degradation: Degradation::scanner(0.8),
        ..PageSpec::default()
    };
    let page = synth::render_page(&spec)?;
    eprintln!(
        "{mp} MP: {}×{} at {dpi} dpi",
        page.image.width(),
        page.image.height()
    );
    std::fs::create_dir_all(&truth_dir)?;
    std::fs::write(truth_dir.join("page-0001.txt"), &page.truth)?;
    let pages = std::slice::from_ref(&page.image);
    synth::write(&outputs[0], pages, dpi, Format::Png)?;
    synth::write(&outputs[1], pages, dpi, Format::Jpeg { quality: 85 })?;
    synth::write(&outputs[2], pages, dpi, Format::Tiff(TiffCompression::G4))?;
    cream::write_png(&outputs[3], &page.image, dpi)?;
    cream::write_jpeg(&outputs[4], &page.image, dpi)?;
    cream::write_tiff(&outputs[5], &page.image, dpi)
}
