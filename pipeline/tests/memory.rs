//! Memory per page (issue 14): a page is processed with at most two page-sized buffers alive at
//! once, and a fine scan is OCR'd from a shrunk copy that still reads and still puts the words
//! where they are on the full-resolution page.
//!
//! The heap is measured with a counting allocator, which is why this is its own test binary
//! whose tests run one at a time (`SERIAL`): other tests running beside one would count too. Tesseract allocates through
//! C `malloc` and is not counted; what is counted are the page buffers Quire itself makes,
//! which is what the pipeline controls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use quire_pipeline::{ProcessOptions, Processor, Silent};
use quire_testkit::synth::{self, Degradation, Format, PageSpec};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed straight to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Held by each test for its whole run, so that no two count at once.
static SERIAL: Mutex<()> = Mutex::new(());

const DPI: f32 = 800.0;
const PAPER_IN: (f32, f32) = (5.0, 3.0);

#[test]
fn a_fine_skewed_grey_page_takes_two_buffers_at_most_and_still_reads() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let spec = PageSpec {
        seed: 14,
        dpi: DPI,
        paper_in: PAPER_IN,
        font_pt: 11.0,
        // Skewed, so the page is straightened: the one step that needs a second buffer.
        degradation: Degradation::scanner(1.2),
        ..PageSpec::default()
    };
    let page = synth::render_page(&spec).unwrap();
    let (width, height) = page.image.dimensions();
    let page_bytes = width as usize * height as usize;
    let input = dir.path().join("fine.png");
    synth::write(&input, std::slice::from_ref(&page.image), DPI, Format::Png).unwrap();
    let truth = page.truth.clone();
    drop(page);

    let processor = Processor::new(ProcessOptions {
        jobs: 1,
        ..ProcessOptions::default()
    })
    .unwrap();
    let output = dir.path().join("out.pdf");
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let done = processor.process(&[input], &output, &Silent).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;

    eprintln!(
        "peak heap {:.1} MB for a {:.1} MB page",
        peak as f64 / 1e6,
        page_bytes as f64 / 1e6
    );
    let report = &done.report.pages[0];
    assert!(
        report.skew.as_ref().is_some_and(|s| s.corrected),
        "the page was meant to be straightened: {:?}",
        report.skew
    );
    // The page itself and its straightened copy while it is being made; a grey copy of a grey
    // page, or a full-size copy for tesseract, would make three or more.
    assert!(
        peak as f64 <= 2.25 * page_bytes as f64,
        "peak heap {:.1} MB for a {:.1} MB page ({:.2} buffers)",
        peak as f64 / 1e6,
        page_bytes as f64 / 1e6,
        peak as f64 / page_bytes as f64
    );

    // OCR read a 300-dpi copy and still reads the page.
    let cer = synth::cer(&truth, &report.text);
    assert!(cer < 0.03, "CER {cer:.3}:\n{}", report.text);
    // The PDF keeps the full-resolution image at the page's physical size.
    assert_eq!((report.width_px, report.height_px), (width, height));
    assert!(
        (report.dpi_x - DPI).abs() < 0.5 && (report.dpi_y - DPI).abs() < 0.5,
        "{} × {} dpi",
        report.dpi_x,
        report.dpi_y
    );
    let info = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(&output)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&info.stdout);
    let image_line = listing.lines().nth(2).expect("one image listed");
    let fields: Vec<&str> = image_line.split_whitespace().collect();
    assert_eq!(
        (fields[3], fields[4]),
        (width.to_string().as_str(), height.to_string().as_str()),
        "{listing}"
    );
    // Words sit where they are on the page: the text layer spans the text block of the
    // full-size page, not a corner of it (as boxes in the shrunk copy's pixels read at the
    // page's resolution would).
    let bbox = std::process::Command::new("pdftotext")
        .args(["-bbox", "-enc", "UTF-8"])
        .arg(&output)
        .arg("-")
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&bbox.stdout);
    let x_max = html
        .lines()
        .filter(|l| l.trim_start().starts_with("<word"))
        .filter_map(|l| {
            let start = l.find("xMax=\"")? + 6;
            l[start..].split('"').next()?.parse::<f32>().ok()
        })
        .fold(0.0f32, f32::max);
    let page_width_pt = PAPER_IN.0 * 72.0;
    assert!(
        x_max > page_width_pt * 0.6 && x_max <= page_width_pt,
        "rightmost word ends at {x_max} pt on a {page_width_pt} pt page"
    );
}

/// The page on cream paper as an RGB PNG, at the test's resolution.
fn write_rgb_png(path: &std::path::Path, page: &image::GrayImage) {
    synth::cream::write_png(path, page, DPI).unwrap();
}

/// The page on cream paper as a 4:2:0 colour JPEG, at the test's resolution.
fn write_rgb_jpeg(path: &std::path::Path, page: &image::GrayImage) {
    synth::cream::write_jpeg(path, page, DPI).unwrap();
}

/// One fine, skewed colour page, written by `write` and processed with the colour-planes
/// threshold lowered so that a 9.6 MP page is held as planes, as a 250 MP one is.
struct ColourRun {
    /// Peak Rust heap while processing, in luma planes (one byte a pixel).
    planes: f64,
    output: std::path::PathBuf,
    size: (u32, u32),
    _dir: tempfile::TempDir,
}

fn colour_run(seed: u64, name: &str, write: fn(&std::path::Path, &image::GrayImage)) -> ColourRun {
    let dir = tempfile::tempdir().unwrap();
    let spec = PageSpec {
        seed,
        dpi: DPI,
        paper_in: PAPER_IN,
        font_pt: 11.0,
        degradation: Degradation::scanner(1.2),
        ..PageSpec::default()
    };
    let page = synth::render_page(&spec).unwrap();
    let size = page.image.dimensions();
    let plane_bytes = size.0 as usize * size.1 as usize;
    let input = dir.path().join(name);
    write(&input, &page.image);
    let truth = page.truth.clone();
    drop(page);

    let processor = Processor::new(ProcessOptions {
        jobs: 1,
        ..ProcessOptions::default()
    })
    .unwrap()
    .with_colour_planes_above(1_000_000);
    let output = dir.path().join("out.pdf");
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut done = processor.process(&[input], &output, &Silent).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let planes = peak as f64 / plane_bytes as f64;
    eprintln!(
        "{name}: peak heap {:.1} MB for {:.1} MB of luma ({planes:.2} planes)",
        peak as f64 / 1e6,
        plane_bytes as f64 / 1e6,
    );
    let report = done.report.pages.remove(0);
    assert!(
        report.skew.as_ref().is_some_and(|s| s.corrected),
        "the page was meant to be straightened: {:?}",
        report.skew
    );
    let cer = synth::cer(&truth, &report.text);
    assert!(cer < 0.03, "CER {cer:.3}:\n{}", report.text);
    assert_eq!(
        report.image_encoding,
        quire_pipeline::pdf::ImageEncoding::Jpeg
    );
    ColourRun {
        planes,
        output,
        size,
        _dir: dir,
    }
}

#[test]
fn a_fine_skewed_colour_page_held_as_planes_takes_less_than_its_rgb_size_and_still_reads() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let run = colour_run(15, "fine-colour.png", write_rgb_png);
    // The planes (1.5) and one straightened plane while it is made (1), with the OCR copy and
    // decoder and encoder work space: under 3, the page's own size as RGB. Held as RGB it
    // took over 6: the RGB page (3), its grey view (1), and its straightened copy (3).
    assert!(run.planes <= 3.0, "{:.2} planes", run.planes);
    // Still a colour image of the page's full size in the PDF.
    let info = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(&run.output)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&info.stdout);
    let fields: Vec<&str> = listing
        .lines()
        .nth(2)
        .expect("one image listed")
        .split_whitespace()
        .collect();
    let (width, height) = run.size;
    assert_eq!(
        (fields[3], fields[4], fields[5]),
        (
            width.to_string().as_str(),
            height.to_string().as_str(),
            "rgb"
        ),
        "{listing}"
    );
}

#[test]
fn a_fine_skewed_colour_jpeg_is_decoded_straight_into_planes_and_still_reads() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let run = colour_run(16, "fine-colour.jpg", write_rgb_jpeg);
    // The JPEG file (read whole: a few tenths of a plane), its planes (1.5), one straightened
    // plane while it is made (1), and work space. Decoded whole as RGB and converted, the RGB
    // page alone is 3. (libjpeg-turbo's own work space, an MCU row, is C heap and not counted
    // here; peak RSS in BENCHMARKS.md counts it.)
    assert!(run.planes <= 2.8, "{:.2} planes", run.planes);
}
