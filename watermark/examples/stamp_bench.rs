//! Benchmark: stamp a generated many-page "searchable scan" PDF and print how long it took.
//! Usage: `stamp_bench [PAGES] [IMAGE_PIXELS]` (default 300 pages, each a distinct
//! 400×400 px raw greyscale noise image of 160 kB, so the file is the size of a real scan: 48 MB).
//! Writes the input and output to `bench-out/` for inspection. Not a test.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use quire_watermark::{
    Citation, DeliveryId, DiagonalWatermark, FontSources, Institution, Recipient, Scope, Stamp,
    StampTexts, Template, stamp_pdf,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pages: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let px: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(400);
    let input = support::heavy_pdf(pages, px);
    let stamp = Stamp {
        institution: Institution {
            name: "Example Library".into(),
            contact: "ill@example.org".into(),
        },
        request_id: "REQ-BENCH".into(),
        citation: Citation {
            title: "Journal of Benchmarks".into(),
            pages: format!("1-{pages}"),
            ..Default::default()
        },
        recipient: Recipient {
            name: "Nguyễn Thị Minh Khai 李小龍".into(),
            library: "Test Library".into(),
        },
        delivered_on: "2026-11-29".into(),
        link_expires: None,
        copyright_basis: None,
        delivery_id: DeliveryId::new("dlv_01JDQ3ZK7W8X9Y0ABCDEFGHJKM").expect("valid id"),
        texts: StampTexts::standard(),
        fonts: FontSources {
            primary: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
            fallbacks: vec!["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc".into()],
        },
        watermark: Some(DiagonalWatermark {
            text: Template::parse("{recipient} · {request} · page {page}", Scope::Page)
                .expect("valid"),
            opacity: 0.12,
        }),
    };
    // One untimed run warms the page cache for the font files.
    let _ = stamp_pdf(&support::synthetic_pdf(1, 8, None), &stamp).expect("warm-up stamp");
    let mut best = f64::MAX;
    let mut out = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        out = stamp_pdf(&input, &stamp).expect("stamping failed");
        best = best.min(start.elapsed().as_secs_f64());
    }
    let _ = std::fs::create_dir_all("bench-out");
    let _ = std::fs::write("bench-out/stamp-input.pdf", &input);
    let _ = std::fs::write("bench-out/stamp-output.pdf", &out);
    println!(
        "stamp: {pages} pages, {:.1} MB in, {:.1} MB out, best of 3: {:.0} ms ({:.2} ms/page)",
        input.len() as f64 / 1e6,
        out.len() as f64 / 1e6,
        best * 1000.0,
        best * 1000.0 / pages as f64
    );
}
