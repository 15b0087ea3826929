//! What each JPEG setting does to a page's bytes: `jpeg_settings IMAGE...` decodes each image
//! to grey (or keeps its colour with `--colour`) and prints, per setting, the encoded size and
//! the PSNR against the decoded page. The figures behind the encoder choices in
//! `pdf/image_encode.rs` (BENCHMARKS.md, "issue 19: file size"); the PSNR here is only a guide,
//! the benchmark's visual measure is computed outside Quire (`scripts/bench/visual.py`).

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

struct Setting {
    name: &'static str,
    quality: u8,
    optimized: bool,
    progressive: bool,
    sampling: SamplingFactor,
}

fn encode(raw: &[u8], w: u16, h: u16, colour: bool, s: &Setting) -> Vec<u8> {
    let mut data = Vec::new();
    let mut enc = Encoder::new(&mut data, s.quality);
    enc.set_sampling_factor(s.sampling);
    enc.set_optimized_huffman_tables(s.optimized);
    enc.set_progressive(s.progressive);
    let kind = if colour {
        ColorType::Rgb
    } else {
        ColorType::Luma
    };
    enc.encode(raw, w, h, kind).expect("encoding to a Vec");
    data
}

/// Bytes after Flate over the JPEG (`/Filter [/FlateDecode /DCTDecode]`, as OCRmyPDF writes).
fn deflated(data: &[u8]) -> usize {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec").len()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = se / a.len() as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let colour = args.iter().any(|a| a == "--colour");
    let mut settings = Vec::new();
    for quality in [70u8, 75, 78, 80, 85] {
        for (optimized, progressive) in [(false, false), (true, false), (true, true)] {
            if colour && progressive {
                continue;
            }
            settings.push(Setting {
                name: match (optimized, progressive) {
                    (false, false) => "baseline, standard tables",
                    (true, false) => "baseline, optimised tables",
                    _ => "progressive, optimised tables",
                },
                quality,
                optimized,
                progressive,
                sampling: SamplingFactor::R_4_4_4,
            });
        }
        if colour {
            settings.push(Setting {
                name: "baseline, standard, 4:2:0",
                quality,
                optimized: false,
                progressive: false,
                sampling: SamplingFactor::R_4_2_0,
            });
            settings.push(Setting {
                name: "baseline, optimised, 4:2:0",
                quality,
                optimized: true,
                progressive: false,
                sampling: SamplingFactor::R_4_2_0,
            });
        }
    }
    for path in args.iter().filter(|a| !a.starts_with("--")) {
        let img = image::open(path).expect("a readable image");
        let (raw, w, h) = if colour {
            let rgb = img.to_rgb8();
            let (w, h) = rgb.dimensions();
            (rgb.into_raw(), w, h)
        } else {
            let grey = img.to_luma8();
            let (w, h) = grey.dimensions();
            (grey.into_raw(), w, h)
        };
        println!("{path}: {w}x{h}");
        for s in &settings {
            let data = encode(&raw, w as u16, h as u16, colour, s);
            // The standard-table JPEGs again with Quire's own table pass (pdf::jpeg_optimise):
            // bytes, and whether the pixels are still exactly those of the input JPEG.
            let after = if s.optimized {
                String::new()
            } else {
                match quire_pipeline::pdf::jpeg_optimise::optimise(&data) {
                    Some(opt) => {
                        let same = image::load_from_memory(&opt).expect("decodes").into_bytes()
                            == image::load_from_memory(&data)
                                .expect("decodes")
                                .into_bytes();
                        format!("  own-table pass: {} bytes, pixels same: {same}", opt.len())
                    }
                    None => "  own-table pass: none".into(),
                }
            };
            if let Ok(dir) = std::env::var("JPEG_SETTINGS_DUMP") {
                let name = format!("q{}-{}.jpg", s.quality, s.name.replace([',', ' ', ':'], ""));
                std::fs::write(std::path::Path::new(&dir).join(name), &data).expect("dump");
            }
            let back = image::load_from_memory(&data).expect("decodes");
            let back = if colour {
                back.to_rgb8().into_raw()
            } else {
                back.to_luma8().into_raw()
            };
            println!(
                "  q{:<3} {:<32} {:>9} bytes ({:>9} deflated)  PSNR {:.2} dB{after}",
                s.quality,
                s.name,
                data.len(),
                deflated(&data),
                psnr(&raw, &back)
            );
        }
    }
}
