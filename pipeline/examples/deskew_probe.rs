use quire_pipeline::imaging::deskew::estimate_skew;
use quire_pipeline::synth::*;
use std::time::Instant;
fn main() {
    let dpi: f32 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(300.0);
    let bilevel = std::env::args().nth(2).is_some();
    let angles = [-14.37f32, -9.71, -5.03, -2.13, -0.77, -0.31, -0.07, 0.0, 0.04, 0.13, 0.58, 1.91, 3.33, 7.49, 11.17, 14.83];
    let mut errs = vec![];
    for (i, &a) in angles.iter().enumerate() {
        let t = Instant::now();
        let mut d = Degradation::scanner(a);
        d.bilevel = bilevel;
        let spec = PageSpec { seed: 3, page_number: 1 + i as u32 % 3, dpi, degradation: d, ..Default::default() };
        let p = render_page(&spec).unwrap();
        let tr = t.elapsed();
        let t = Instant::now();
        let e = estimate_skew(&p.image);
        let te = t.elapsed();
        println!("{a:7.2} -> {:8.3} err {:6.3} conf {:.2}  render {:?} est {:?}", e.angle_deg, e.angle_deg - a, e.confidence, tr, te);
        errs.push((e.angle_deg - a).abs());
    }
    println!("mean {:.4} max {:.4}", errs.iter().sum::<f32>() / errs.len() as f32, errs.iter().cloned().fold(0.0, f32::max));
    let blank = image::GrayImage::from_pixel(2480, 3508, image::Luma([245]));
    let mut b = blank.clone();
    imageproc::noise::gaussian_noise_mut(&mut b, 0.0, 6.0, 1);
    imageproc::noise::salt_and_pepper_noise_mut(&mut b, 0.0005, 2);
    println!("blank {:?} noisy blank {:?}", estimate_skew(&blank), estimate_skew(&b));
}
