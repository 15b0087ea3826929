//! `quire stamp` end to end: the real binary on real scans, checked with qpdf and pdftotext.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).join(name)
}

fn quire(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(args)
        .current_dir(dir)
        .env_remove("QUIRE_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("quire runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pdftotext(path: &Path, page: u32) -> String {
    let p = page.to_string();
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-f", &p, "-l", &p])
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    flat(&text(&out.stdout))
}

#[test]
fn stamps_a_scan_with_cover_margin_and_traceable_id() {
    let dir = tempfile::tempdir().unwrap();
    let out_pdf = dir.path().join("out.pdf");
    let input = corpus("ccitt.pdf");
    let out = quire(
        dir.path(),
        &[
            "stamp",
            input.to_str().unwrap(),
            "-o",
            out_pdf.to_str().unwrap(),
            "--request",
            "REQ-77",
            "--recipient",
            "李小龍",
            "--library",
            "Bibliothèque nationale",
            "--title",
            "Linn Products Review",
            "--pages",
            "1",
            "--date",
            "2026-11-29",
            "--delivery",
            "dlv_01JDQ3ZK7W8X9Y0ABCDEFGHJKM",
        ],
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("delivery: dlv_01JDQ3ZK7W8X9Y0ABCDEFGHJKM"),
        "{stdout}"
    );

    let bytes = std::fs::read(&out_pdf).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    assert!(
        stdout.contains(&format!("sha256: {sha}")),
        "printed hash is not the file's: {stdout}"
    );

    let check = Command::new("qpdf")
        .arg("--check")
        .arg(&out_pdf)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stdout));

    let cover = pdftotext(&out_pdf, 1);
    for expected in [
        "Example Library",
        "REQ-77",
        "李小龍",
        "Bibliothèque nationale",
        "Linn Products Review",
        "Title 17 U.S. Code",
    ] {
        assert!(
            cover.contains(expected),
            "cover lacks {expected:?}: {cover}"
        );
    }
    let page = pdftotext(&out_pdf, 2);
    assert!(
        page.contains("Delivered to 李小龍 (Bibliothèque nationale) · request REQ-77 · 2026-11-29"),
        "{page}"
    );
    assert_eq!(
        quire_watermark::trace::find_delivery_ids(&bytes).unwrap(),
        vec!["dlv_01JDQ3ZK7W8X9Y0ABCDEFGHJKM".to_string()]
    );
}

#[test]
fn generates_a_delivery_id_when_none_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let out_pdf = dir.path().join("out.pdf");
    let input = corpus("epson.pdf");
    let args = [
        "stamp",
        input.to_str().unwrap(),
        "-o",
        out_pdf.to_str().unwrap(),
        "--request",
        "R1",
        "--recipient",
        "Иван Петров",
        "--watermark",
    ];
    let out = quire(dir.path(), &args);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("delivery: "))
        .expect("delivery line")
        .to_string();
    assert!(id.starts_with("dlv_") && id.len() == 30, "{id}");
    let found =
        quire_watermark::trace::find_delivery_ids(&std::fs::read(&out_pdf).unwrap()).unwrap();
    assert_eq!(found, vec![id]);
}

#[test]
fn unknown_placeholder_in_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("quire.toml");
    std::fs::write(&config, "[stamp]\nmargin = \"For {recipent}\"\n").unwrap();
    let input = corpus("ccitt.pdf");
    let out = quire(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "stamp",
            input.to_str().unwrap(),
            "-o",
            "x.pdf",
            "--request",
            "R",
            "--recipient",
            "A",
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("{recipent}") && stderr.contains("margin"),
        "{stderr}"
    );
    assert!(!dir.path().join("x.pdf").exists());
}

#[test]
fn unreadable_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a.pdf");
    std::fs::write(&bad, "hello").unwrap();
    for input in [bad.clone(), dir.path().join("missing.pdf")] {
        let out = quire(
            dir.path(),
            &[
                "stamp",
                input.to_str().unwrap(),
                "-o",
                "x.pdf",
                "--request",
                "R",
                "--recipient",
                "A",
            ],
        );
        assert!(!out.status.success());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(input.file_name().unwrap().to_str().unwrap()),
            "{stderr}"
        );
    }
}

/// Issue 19's accessibility clauses, read back by qpdf (not Quire's writer): a processed and
/// stamped copy states its language from the OCR languages, shows its title (from the
/// citation) instead of the file name, and reads in order with `pdftotext -layout`: the cover
/// sheet, then the article's page.
#[test]
fn a_delivered_copy_declares_its_language_and_title_and_reads_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let processed = dir.path().join("processed.pdf");
    let out = quire(
        dir.path(),
        &[
            "process",
            corpus("ccitt.pdf").to_str().unwrap(),
            "-o",
            processed.to_str().unwrap(),
            "-l",
            "eng",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stamped = dir.path().join("stamped.pdf");
    let out = quire(
        dir.path(),
        &[
            "stamp",
            processed.to_str().unwrap(),
            "-o",
            stamped.to_str().unwrap(),
            "--request",
            "REQ-78",
            "--recipient",
            "Ada Reader",
            "--title",
            "Linn Products Review",
            "--article",
            "Sondek at fifty",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let json = Command::new("qpdf")
        .args(["--json=2", "--json-key=qpdf"])
        .arg(&stamped)
        .output()
        .unwrap();
    assert!(json.status.success(), "{}", text(&json.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let objects = &doc["qpdf"][1];
    let object = |reference: &serde_json::Value| {
        objects[format!("obj:{}", reference.as_str().unwrap())]["value"].clone()
    };
    let trailer = &objects["trailer"]["value"];
    let catalog = object(&trailer["/Root"]);
    let info = object(&trailer["/Info"]);
    assert_eq!(catalog["/Lang"], "u:en", "{catalog}");
    assert_eq!(
        catalog["/ViewerPreferences"]["/DisplayDocTitle"], true,
        "{catalog}"
    );
    assert_eq!(
        info["/Title"], "u:Sondek at fifty (Linn Products Review)",
        "{info}"
    );

    let all = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&stamped)
        .arg("-")
        .output()
        .unwrap();
    let all = text(&all.stdout);
    let pages: Vec<&str> = all.split('\u{c}').collect();
    assert!(pages.len() >= 2, "{all}");
    assert!(
        pages[0].contains("REQ-78") && pages[0].contains("Title 17 U.S. Code"),
        "the cover sheet reads first: {}",
        pages[0]
    );
    assert!(
        pages[1].contains("Delivered to Ada Reader") && !pages[1].contains("Title 17 U.S. Code"),
        "then the article's page with its stamp: {}",
        pages[1]
    );
}
