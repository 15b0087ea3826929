//! Times the imaging steps on a synthetic 300-dpi A4 page (one core).
use quire_pipeline::imaging::{blank, deskew, quality};
use quire_testkit::synth::{Degradation, PageSpec, render_page};
use std::time::Instant;

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) {
    let t = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(f());
    }
    println!(
        "{label:>16}: {:7.1} ms",
        t.elapsed().as_secs_f64() * 1000.0 / runs as f64
    );
}

fn main() {
    let spec = PageSpec {
        degradation: Degradation::scanner(0.9),
        ..PageSpec::default()
    };
    let page = render_page(&spec).expect("render").image;
    let mut bilevel = page.clone();
    bilevel
        .pixels_mut()
        .for_each(|p| p.0[0] = if p.0[0] < 128 { 0 } else { 255 });
    let rgb = image::DynamicImage::ImageLuma8(page.clone()).to_rgb8();
    println!("page {}x{}", page.width(), page.height());
    time("estimate_skew", 5, || deskew::estimate_skew(&page));
    time("rotate_gray", 3, || deskew::rotate_gray(&page, -0.9));
    time("rotate_bilevel", 3, || {
        deskew::rotate_bilevel(&bilevel, -0.9)
    });
    time("rotate_rgb", 2, || deskew::rotate_rgb(&rgb, -0.9));
    time("blank::detect", 5, || blank::detect(&page));
    time("quality::checks", 5, || quality::checks(&page, 300.0));
}
