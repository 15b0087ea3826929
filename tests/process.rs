//! `quire process` end to end: real scans from the shared corpus and synthetic pages with known
//! text, through the real binary, checked with real tools (qpdf, pdftotext, pdfimages, pdfinfo).
//!
//! Kept fast on purpose: each corpus page is OCR'd at most once across this file, and
//! synthetic pages are small.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use quire_testkit::synth;
use serde_json::Value;

use crate::util::{Home, corpus, describe, quire, stderr, stdout};

fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

fn qpdf_check(pdf: &Path) {
    let out = tool("qpdf", &["--check", pdf.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "qpdf --check failed:\n{}",
        describe(&out)
    );
}

fn pdftotext(pdf: &Path, page: usize) -> String {
    let p = page.to_string();
    let out = tool(
        "pdftotext",
        &[
            "-enc",
            "UTF-8",
            "-f",
            &p,
            "-l",
            &p,
            pdf.to_str().unwrap(),
            "-",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn words(text: &str) -> Vec<String> {
    let mut w: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    w.sort();
    w
}

/// Share of `a`'s words (as a multiset) missing from `b`.
fn missing_share(a: &[String], b: &[String]) -> f64 {
    let mut pool = b.to_vec();
    let mut missing = 0;
    for w in a {
        match pool.iter().position(|x| x == w) {
            Some(i) => {
                pool.swap_remove(i);
            }
            None => missing += 1,
        }
    }
    missing as f64 / a.len().max(1) as f64
}

fn read_report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "pdf" || e == "part")
                || p.to_string_lossy().contains(".part")
        })
        .collect()
}

fn run(home: &Home, args: &[&str]) -> Output {
    home.cmd(args).output().expect("run quire")
}

#[test]
fn corpus_bilevel_scans_become_one_searchable_pdf() {
    let home = Home::new();
    let out_pdf = home.path().join("out.pdf");
    let report = home.path().join("report.json");
    let linn = corpus("linn.png");
    let typewriter = corpus("typewriter.png");
    let out = run(
        &home,
        &[
            "process",
            linn.to_str().unwrap(),
            typewriter.to_str().unwrap(),
            "-o",
            out_pdf.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--jobs",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    qpdf_check(&out_pdf);

    let r = read_report(&report);
    let pages = r["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    assert!(
        pages[0]["source_file"]
            .as_str()
            .unwrap()
            .ends_with("linn.png")
    );
    assert!(
        pages[1]["source_file"]
            .as_str()
            .unwrap()
            .ends_with("typewriter.png")
    );
    for p in pages {
        assert_eq!(
            p["image_encoding"], "ccitt_g4",
            "bilevel stays bilevel: {p}"
        );
        assert_eq!(p["blank"], false);
        assert!(p["bytes"].as_u64().unwrap() > 10_000);
        assert!(p["skew"]["confidence"].is_number());
        // Neither file states a resolution; the fallback is used and said so.
        assert_eq!(p["dpi_assumed"], true);
        assert!(
            p["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["code"] == "page.dpi_assumed")
        );
    }
    assert!(
        pages[0]["word_count"].as_u64().unwrap() > 300,
        "{}",
        pages[0]["word_count"]
    );
    assert!(pages[0]["mean_ocr_confidence"].as_f64().unwrap() > 70.0);
    assert!(
        r["ocr_engines_started"].as_u64().unwrap() <= 2,
        "one engine per worker at most"
    );

    // The page keeps its physical size: 2550×3300 px at 300 dpi is US Letter.
    let info = String::from_utf8(tool("pdfinfo", &[out_pdf.to_str().unwrap()]).stdout).unwrap();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    assert_eq!(field("Pages"), "2", "{info}");
    assert!(field("Page size").starts_with("612 x 792 pts"), "{info}");
    assert_eq!(field("Title"), "linn", "{info}");
    assert!(field("Producer").starts_with("Quire"), "{info}");
    assert!(field("CreationDate").contains("20"), "{info}");

    // Images are CCITT, the text layer is there and says what tesseract read.
    let images =
        String::from_utf8(tool("pdfimages", &["-list", out_pdf.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(
        images.lines().filter(|l| l.contains(" ccitt ")).count(),
        2,
        "{images}"
    );
    for (i, p) in pages.iter().enumerate() {
        let ocr = words(p["text"].as_str().unwrap());
        let extracted = words(&pdftotext(&out_pdf, i + 1));
        let lost = missing_share(&ocr, &extracted);
        let extra = missing_share(&extracted, &ocr);
        assert!(
            lost < 0.01 && extra < 0.01,
            "page {}: {lost:.3} of OCR words missing, {extra:.3} extra",
            i + 1
        );
    }
    // Against the corpus transcription (itself OCR, so compare words loosely).
    let truth = words(&std::fs::read_to_string(corpus("linn.txt")).unwrap());
    let ours = words(pages[0]["text"].as_str().unwrap());
    let lost = missing_share(&truth, &ours);
    assert!(lost < 0.15, "{lost:.3} of linn.txt's words not found");
    assert!(
        leftovers(home.path()).iter().all(|p| p == &out_pdf),
        "{:?}",
        leftovers(home.path())
    );
}

#[test]
fn scanner_pdf_images_pass_through_untouched() {
    let home = Home::new();
    let out_pdf = home.path().join("epson-ocr.pdf");
    let report = home.path().join("r.json");
    let epson = corpus("epson.pdf");
    let mut cmd = home.cmd(&[
        "process",
        epson.to_str().unwrap(),
        "-o",
        out_pdf.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--no-deskew",
    ]);
    // The user's umask decides who may read what they asked for, as with any tool.
    // SAFETY: umask is async-signal-safe and touches nothing else of the child.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    for file in [&out_pdf, &report] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{} under umask 022", file.display());
    }
    qpdf_check(&out_pdf);
    let r = read_report(&report);
    assert_eq!(r["pages"][0]["image_encoding"], "passthrough");
    assert_eq!(r["pages"][0]["dpi_assumed"], false);
    // The CCITT stream is byte for byte the scanner's.
    let dir = tempfile::tempdir().unwrap();
    for (pdf, prefix) in [(&epson, "in"), (&out_pdf, "out")] {
        let p = dir.path().join(prefix);
        assert!(
            tool(
                "pdfimages",
                &["-ccitt", pdf.to_str().unwrap(), p.to_str().unwrap()]
            )
            .status
            .success()
        );
    }
    let a = std::fs::read(dir.path().join("in-000.ccitt")).unwrap();
    let b = std::fs::read(dir.path().join("out-000.ccitt")).unwrap();
    assert!(
        a == b,
        "CCITT data changed ({} vs {} bytes)",
        a.len(),
        b.len()
    );
    let text = pdftotext(&out_pdf, 1);
    assert!(text.split_whitespace().count() > 100, "{text}");
}

#[test]
fn colour_and_blank_pages_one_document_and_blank_removal() {
    let home = Home::new();
    let out_pdf = home.path().join("mixed.pdf");
    let report = home.path().join("r.json");
    let jpg = corpus("baiona_color.jpg");
    let blank = corpus("blank.pdf");
    let args = [
        "process",
        jpg.to_str().unwrap(),
        blank.to_str().unwrap(),
        "-o",
        out_pdf.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let out = run(&home, &args);
    assert!(out.status.success(), "{}", describe(&out));
    qpdf_check(&out_pdf);
    let r = read_report(&report);
    let pages = r["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0]["image_encoding"], "jpeg");
    assert_eq!(pages[0]["blank"], false);
    assert_eq!(pages[1]["blank"], true);
    assert_eq!(pages[1]["output_page"], 2, "flagged, not removed");
    assert_eq!(r["pages_out"], 2);

    let mut removing = args.to_vec();
    removing.push("--remove-blank");
    let out = run(&home, &removing);
    assert!(out.status.success(), "{}", describe(&out));
    let r = read_report(&report);
    assert_eq!(r["pages_out"], 1);
    assert_eq!(r["blank_pages_removed"], 1);
    assert!(r["pages"][1]["output_page"].is_null());

    // Nothing but a blank page, removed: refused, and no PDF.
    let lonely = home.path().join("lonely.pdf");
    let out = run(
        &home,
        &[
            "process",
            blank.to_str().unwrap(),
            "-o",
            lonely.to_str().unwrap(),
            "--remove-blank",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("pipeline.output.all_pages_removed"),
        "{}",
        describe(&out)
    );
    assert!(!lonely.exists());
}

/// A 1-bit TIFF header claiming 35000×35000 pixels, with almost nothing behind it.
fn bomb_tiff() -> Vec<u8> {
    let entries: [(u16, u16, u32); 8] = [
        (256, 4, 35_000),
        (257, 4, 35_000),
        (258, 3, 1),
        (259, 3, 4),
        (262, 3, 0),
        (273, 4, 110),
        (278, 4, 35_000),
        (279, 4, 16),
    ];
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, ty, value) in entries {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&ty.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        if ty == 3 {
            t.extend_from_slice(&(value as u16).to_le_bytes());
            t.extend_from_slice(&[0, 0]);
        } else {
            t.extend_from_slice(&value.to_le_bytes());
        }
    }
    t.extend_from_slice(&[0u8; 20]);
    t
}

#[test]
fn refused_inputs_name_file_page_reason_and_leave_no_output() {
    let home = Home::new();
    let dir = home.path();
    let out_pdf = dir.join("never.pdf");
    let good = corpus("baiona_color.jpg");

    let notes = dir.join("notes.png");
    std::fs::write(&notes, "not an image\n").unwrap();
    let encrypted = dir.join("locked.pdf");
    let enc = tool(
        "qpdf",
        &[
            "--encrypt",
            "user",
            "owner",
            "256",
            "--",
            corpus("ccitt.pdf").to_str().unwrap(),
            encrypted.to_str().unwrap(),
        ],
    );
    assert!(enc.status.success());
    let linn = std::fs::read(corpus("linn.png")).unwrap();
    let cut = dir.join("cut.png");
    std::fs::write(&cut, &linn[..linn.len() / 3]).unwrap();
    let pdf = std::fs::read(corpus("epson.pdf")).unwrap();
    let mut garbled = pdf.clone();
    let mid = garbled.len() / 2;
    garbled[mid..mid + 4000].iter_mut().for_each(|b| *b = b'#');
    let corrupt = dir.join("garbled.pdf");
    std::fs::write(&corrupt, &garbled).unwrap();
    let bomb = dir.join("bomb.tif");
    std::fs::write(&bomb, bomb_tiff()).unwrap();

    // OCRmyPDF's exit codes: 2 input file error, 8 encrypted PDF.
    let cases: [(&Path, &str, &str, i32); 5] = [
        (&notes, "notes.png", "pipeline.decode.unsupported", 2),
        (&encrypted, "locked.pdf", "pipeline.decode.encrypted", 8),
        (&cut, "cut.png, page 1", "pipeline.decode.", 2),
        (&corrupt, "garbled.pdf", "pipeline.decode.", 2),
        (&bomb, "bomb.tif, page 1", "pipeline.decode.too_large", 2),
    ];
    for (bad, names, code, status) in cases {
        // The good page comes first, so a failure after real work still leaves nothing.
        let started = Instant::now();
        let out = run(
            &home,
            &[
                "process",
                good.to_str().unwrap(),
                bad.to_str().unwrap(),
                "-o",
                out_pdf.to_str().unwrap(),
            ],
        );
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(status), "{}", describe(&out));
        let err = stderr(&out);
        assert!(
            err.contains(names) && err.contains(code),
            "expected {names} / {code}:\n{err}"
        );
        assert!(
            leftovers(dir)
                .iter()
                .all(|p| p.extension().is_some_and(|e| e == "pdf")
                    && p != &out_pdf
                    && !p.to_string_lossy().contains(".part")),
            "{:?}",
            leftovers(dir)
        );
        assert!(!out_pdf.exists());
        if code.ends_with("too_large") {
            assert!(took < Duration::from_secs(5), "the bomb took {took:?}");
        }
    }
}

#[test]
fn synthetic_pages_in_every_format_read_back_with_low_cer() {
    use synth::{Format, PageSpec, PdfImageCodec, TiffCompression};
    let home = Home::new();
    let dir = home.path();
    // Half pages at 200 dpi keep OCR quick; text at 12 pt is well above tesseract's comfort.
    let spec = PageSpec {
        dpi: 200.0,
        paper_in: (8.27, 4.5),
        font_pt: 12.0,
        ..PageSpec::default()
    };
    let pages = synth::render_article(&spec, 2).unwrap();
    let formats: Vec<(&str, Format)> = vec![
        ("p.png", Format::Png),
        ("p.jpg", Format::Jpeg { quality: 90 }),
        ("lzw.tif", Format::Tiff(TiffCompression::Lzw)),
        ("g4.tif", Format::Tiff(TiffCompression::G4)),
        ("packbits.tif", Format::Tiff(TiffCompression::PackBits)),
        ("deflate.tif", Format::Tiff(TiffCompression::Deflate)),
        ("flate.pdf", Format::Pdf(PdfImageCodec::Flate)),
        ("dct.pdf", Format::Pdf(PdfImageCodec::Dct)),
        ("ccitt.pdf", Format::Pdf(PdfImageCodec::Ccitt)),
    ];
    let mut inputs = Vec::new();
    for (i, (name, format)) in formats.iter().enumerate() {
        let path = dir.join(name);
        let page = &pages[i % 2];
        synth::write(&path, std::slice::from_ref(&page.image), page.dpi, *format).unwrap();
        inputs.push((path, i % 2));
    }
    // A two-page TIFF too: pages in order.
    let multi = dir.join("two.tif");
    synth::write(
        &multi,
        &[pages[0].image.clone(), pages[1].image.clone()],
        spec.dpi,
        Format::Tiff(TiffCompression::None),
    )
    .unwrap();

    let out_pdf = dir.join("all.pdf");
    let report = dir.join("r.json");
    let mut args: Vec<String> = vec!["process".into()];
    args.extend(inputs.iter().map(|(p, _)| p.to_string_lossy().into_owned()));
    args.push(multi.to_string_lossy().into_owned());
    args.extend([
        "-o".into(),
        out_pdf.to_string_lossy().into_owned(),
        "--report".into(),
        report.to_string_lossy().into_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&home, &args);
    assert!(out.status.success(), "{}", describe(&out));
    qpdf_check(&out_pdf);
    let r = read_report(&report);
    let got = r["pages"].as_array().unwrap();
    let mut expected: Vec<usize> = inputs.iter().map(|(_, k)| *k).collect();
    expected.extend([0, 1]);
    assert_eq!(got.len(), expected.len());
    for (i, (p, truth_index)) in got.iter().zip(&expected).enumerate() {
        let truth = &pages[*truth_index].truth;
        let text = p["text"].as_str().unwrap();
        let cer = synth::cer(truth, text);
        assert!(
            cer <= 0.02,
            "page {} ({}): CER {cer:.4}\n--- read ---\n{text}\n--- truth ---\n{truth}",
            i + 1,
            p["source_file"]
        );
        let printed = p["printed_page_number"].as_str().map(str::to_owned);
        assert_eq!(
            printed,
            Some((truth_index + 1).to_string()),
            "page {}",
            i + 1
        );
        let layer = pdftotext(&out_pdf, i + 1);
        let layer_cer = synth::cer(&words(text).join(" "), &words(&layer).join(" "));
        assert!(
            layer_cer < 0.01,
            "page {}: the text layer differs from the OCR ({layer_cer:.4})",
            i + 1
        );
    }
}

/// A quick page for the tests below: half an A4 page at 200 dpi, as PNG with its resolution.
fn small_pages(dir: &Path, count: u32) -> Vec<(PathBuf, String)> {
    let spec = synth::PageSpec {
        dpi: 200.0,
        paper_in: (8.27, 4.5),
        font_pt: 12.0,
        ..synth::PageSpec::default()
    };
    synth::render_article(&spec, count)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, page)| {
            let path = dir.join(format!("page{}.png", i + 1));
            synth::write(
                &path,
                std::slice::from_ref(&page.image),
                page.dpi,
                synth::Format::Png,
            )
            .unwrap();
            (path, page.truth)
        })
        .collect()
}

/// `cmd` runs under `umask`.
fn with_umask(cmd: &mut Command, umask: libc::mode_t) {
    // SAFETY: umask is async-signal-safe and touches nothing else of the child.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            libc::umask(umask);
            Ok(())
        });
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn exit_codes_are_ocrmypdfs() {
    let home = Home::new();
    let dir = home.path();
    let good = corpus("baiona_color.jpg");
    let good = good.to_str().unwrap();
    let out_pdf = dir.join("out.pdf");
    let out = out_pdf.to_str().unwrap();
    let expect = |args: &[&str], status: i32, says: &[&str]| {
        let o = run(&home, args);
        assert_eq!(o.status.code(), Some(status), "{args:?}\n{}", describe(&o));
        let err = stderr(&o);
        for s in says {
            assert!(err.contains(s), "{args:?}: expected {s:?} in\n{err}");
        }
        assert!(!err.contains(".part"), "a temporary file named:\n{err}");
        assert!(!out_pdf.exists(), "{args:?} left {}", out_pdf.display());
    };

    // 1: bad arguments, where clap's own status would be 2.
    expect(&["process", good, "-o", out, "--bogus"], 1, &["--bogus"]);
    expect(&["process", good], 1, &["--output"]);
    expect(
        &["process", good, "-o", out, "--jobs", "many"],
        1,
        &["many"],
    );
    expect(
        &["process", good, "-o", out, "--deskew", "--no-deskew"],
        1,
        &["--no-deskew"],
    );
    // Other commands keep clap's 2.
    let o = run(&home, &["jobs", "--bogus"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));

    // 2: input file error: a file that does not exist.
    let gone = dir.join("gone.png");
    expect(
        &["process", good, gone.to_str().unwrap(), "-o", out],
        2,
        &["gone.png", "pipeline.input.read"],
    );

    // 3: missing dependency: a language with no traineddata, by each spelling of the flag.
    for flag in ["--lang", "-l", "--language"] {
        expect(
            &["process", good, "-o", out, flag, "xqz"],
            3,
            &["xqz", "pipeline.ocr.init"],
        );
    }

    // 5: file access error. Tests run as root, which reads any file whatever its mode, so the
    // inputs that cannot be read are a folder and a path through a file.
    let folder = dir.join("a-folder.png");
    std::fs::create_dir(&folder).unwrap();
    expect(
        &["process", good, folder.to_str().unwrap(), "-o", out],
        5,
        &["a-folder.png"],
    );
    let through = dir.join("notes.txt/page.png");
    std::fs::write(dir.join("notes.txt"), "a file, not a folder\n").unwrap();
    expect(
        &["process", good, through.to_str().unwrap(), "-o", out],
        5,
        &["notes.txt/page.png"],
    );
    // An output folder that does not exist is named as that folder, for each output, before
    // any work is done.
    let missing = dir.join("no-such-folder");
    let in_missing = |name: &str| missing.join(name).to_string_lossy().into_owned();
    let folder_msg = format!("the folder {} does not exist", missing.display());
    for extra in [
        vec!["-o", &in_missing("out.pdf")],
        vec!["-o", out, "--report", &in_missing("r.json")],
        vec!["-o", out, "--sidecar", &in_missing("s.txt")],
    ] {
        let mut args = vec!["process", good];
        args.extend(extra.iter().copied());
        expect(&args, 5, &[&folder_msg, "pipeline.output.folder"]);
    }

    // 9: invalid configuration.
    let bad_config = dir.join("bad.toml");
    std::fs::write(
        &bad_config,
        "data_dir = \"var\"\n[processing]\nno_such_key = 1\n",
    )
    .unwrap();
    let o = quire()
        .args(["--config", bad_config.to_str().unwrap()])
        .args(["process", good, "-o", out])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(9), "{}", describe(&o));
    assert!(stderr(&o).contains("no_such_key"), "{}", describe(&o));
    let o = quire()
        .args(["--config", dir.join("absent.toml").to_str().unwrap()])
        .args(["process", good, "-o", out])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(9), "{}", describe(&o));

    // The help lists every code.
    let help = stdout(&home.ok(&["process", "--help"]));
    for code in ["1 ", "2 ", "3 ", "5 ", "8 ", "9 ", "15 ", "130 "] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(code)),
            "no exit code {code} in\n{help}"
        );
    }
}

#[test]
fn ctrl_c_exits_130_and_leaves_nothing() {
    let home = Home::new();
    let out_dir = home.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out_pdf = out_dir.join("never.pdf");
    let linn = corpus("linn.png");
    let linn = linn.to_str().unwrap();
    // Enough full pages, one worker, that the run is still going when it is interrupted.
    let mut args = vec!["process"];
    args.extend([linn; 8]);
    args.extend(["-o", out_pdf.to_str().unwrap(), "--jobs", "1"]);
    let mut child = home
        .cmd(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The temporary PDF appears once the run is under way (and Ctrl-C is caught).
    let part = || {
        std::fs::read_dir(&out_dir)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".part"))
    };
    let started = Instant::now();
    while !part() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never started"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let interrupted = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", describe(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", describe(&out));
    // It stopped after the page in hand, not after all eight (each takes seconds).
    assert!(
        interrupted.elapsed() < Duration::from_secs(60),
        "took {:?} to stop",
        interrupted.elapsed()
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn sidecar_umask_language_alias_and_warnings_summary() {
    let home = Home::new();
    let dir = home.path();
    let pages = small_pages(dir, 2);
    let blank = corpus("blank.pdf");
    let out_pdf = dir.join("article.pdf");
    let report = dir.join("r.json");
    let sidecar = dir.join("article.txt");
    let mut args: Vec<&str> = vec!["process"];
    args.extend(pages.iter().map(|(p, _)| p.to_str().unwrap()));
    args.push(blank.to_str().unwrap());
    args.extend([
        "-o",
        out_pdf.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--sidecar",
        sidecar.to_str().unwrap(),
    ]);
    let mut first = args.clone();
    first.extend(["-l", "eng"]);
    let mut cmd = home.cmd(&first);
    with_umask(&mut cmd, 0o027);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // Every output honours the umask (the temporary files they were written as are 0600).
    for file in [&out_pdf, &report, &sidecar] {
        assert_eq!(mode(file), 0o640, "{} under umask 027", file.display());
    }

    let r = read_report(&report);
    let texts: Vec<&str> = r["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    let side = std::fs::read_to_string(&sidecar).unwrap();
    let side_pages: Vec<&str> = side.split('\u{c}').collect();
    assert_eq!(side_pages, texts, "one form feed between pages, in order");
    for (i, (_, truth)) in pages.iter().enumerate() {
        let cer = synth::cer(truth, side_pages[i]);
        assert!(cer <= 0.02, "page {}: CER {cer:.4}", i + 1);
    }
    assert_eq!(
        side_pages[2].trim(),
        "",
        "the blank page keeps its empty place"
    );

    // The summary names each warning by page, in words and by code.
    let said = stdout(&out);
    assert!(
        said.contains("page 3: blank (page.blank)"),
        "{}",
        describe(&out)
    );
    let mut expected = 0;
    for p in r["pages"].as_array().unwrap() {
        let n = p["output_page"].as_u64().unwrap();
        expected += usize::from(p["blank"] == true);
        for w in p["warnings"].as_array().unwrap() {
            expected += 1;
            let line = format!(
                "page {n}: {} ({})",
                w["message"].as_str().unwrap(),
                w["code"].as_str().unwrap()
            );
            assert!(said.contains(&line), "no {line:?} in\n{said}");
        }
    }
    let header = if expected == 1 {
        "1 warning:".to_owned()
    } else {
        format!("{expected} warnings:")
    };
    assert!(said.contains(&header), "no {header:?} in\n{said}");

    // A blank page removed has no place in the sidecar; `--language` is `--lang` too.
    args.extend(["--remove-blank", "--language", "eng"]);
    let out = run(&home, &args);
    assert!(out.status.success(), "{}", describe(&out));
    let side = std::fs::read_to_string(&sidecar).unwrap();
    assert_eq!(side.matches('\u{c}').count(), 1, "{side:?}");
    assert!(stdout(&out).contains("no warnings"), "{}", describe(&out));
}

#[test]
fn deskew_and_rotate_pages_turn_on_what_the_config_turned_off() {
    let home = Home::with_config("[processing]\ndeskew = false\norientation = false\n");
    let dir = home.path();
    let spec = synth::PageSpec {
        dpi: 200.0,
        paper_in: (8.27, 4.5),
        font_pt: 12.0,
        degradation: synth::Degradation {
            skew_deg: 3.0,
            ..synth::Degradation::default()
        },
        ..synth::PageSpec::default()
    };
    let pages = synth::render_article(&spec, 2).unwrap();
    let skewed = dir.join("skewed.png");
    synth::write(
        &skewed,
        std::slice::from_ref(&pages[0].image),
        spec.dpi,
        synth::Format::Png,
    )
    .unwrap();
    let upside_down = dir.join("upside-down.png");
    let turned = image::imageops::rotate180(&pages[1].image);
    synth::write(&upside_down, &[turned], spec.dpi, synth::Format::Png).unwrap();
    let out_pdf = dir.join("o.pdf");
    let report = dir.join("r.json");
    let base = [
        "process",
        skewed.to_str().unwrap(),
        upside_down.to_str().unwrap(),
        "-o",
        out_pdf.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];

    let out = run(&home, &base);
    assert!(out.status.success(), "{}", describe(&out));
    let r = read_report(&report);
    assert_eq!(
        r["pages"][0]["skew"]["corrected"], false,
        "config: no deskew"
    );
    assert_eq!(
        r["pages"][1]["rotation_applied"], 0,
        "config: no orientation"
    );

    let mut on = base.to_vec();
    on.extend(["--deskew", "--rotate-pages"]);
    let out = run(&home, &on);
    assert!(out.status.success(), "{}", describe(&out));
    let r = read_report(&report);
    assert_eq!(
        r["pages"][0]["skew"]["corrected"], true,
        "{}",
        r["pages"][0]
    );
    assert_eq!(r["pages"][1]["rotation_applied"], 180, "{}", r["pages"][1]);
}
