// Temporary scratch driver (pipeline core); to be deleted.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "rot" {
        let img = image::open(&args[2]).unwrap().into_luma8();
        for deg in [90, 180, 270] {
            let r = match deg { 90 => image::imageops::rotate90(&img), 180 => image::imageops::rotate180(&img), _ => image::imageops::rotate270(&img) };
            let t = std::time::Instant::now();
            let o = quire_pipeline::ocr::with_osd(None, |e| e.detect(&r, 300)).unwrap();
            let half = image::imageops::resize(&r, r.width() / 2, r.height() / 2, image::imageops::FilterType::Triangle);
            let t2 = std::time::Instant::now();
            let o2 = quire_pipeline::ocr::with_osd(None, |e| e.detect(&half, 150)).unwrap();
            println!("turned cw {deg}: full {:?} {:?} | half {:?} {:?}", o, t.elapsed() - t2.elapsed(), o2, t2.elapsed());
        }
        return;
    }
    let out = std::path::PathBuf::from(&args[1]);
    let inputs: Vec<std::path::PathBuf> = args[2..].iter().map(Into::into).collect();
    let opts = quire_pipeline::ProcessOptions { jobs: 2, ..Default::default() };
    let p = quire_pipeline::Processor::new(opts).unwrap();
    match p.process(&inputs, &out, &quire_pipeline::Silent) {
        Ok(d) => {
            let mut r = d.report.clone();
            for pg in &mut r.pages { pg.text = pg.text.chars().take(200).collect(); }
            println!("{}", r.to_json());
        }
        Err(e) => println!("ERR {} {}", e.code(), e),
    }
}
