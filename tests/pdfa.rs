//! PDF/A-2b end to end, checked clause by clause by `tests/pdfa_check.py`, which reads the files
//! with pikepdf (qpdf) and `qpdf --check`, not with Quire's writer: `quire process` output of a
//! grey and of a colour scan, the stamped delivery of a daemon job, and (in
//! `preservation.rs`) the PDF inside a preservation bag. The plain `pdf` output must fail the
//! same script, which shows its checks can fail.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::delivery::{add_request, get, links, path_of};
use crate::intake::jobs;
use crate::util::{Home, corpus, daemon_home, describe, start_daemon, stdout, wait_until};

/// `tests/pdfa_check.py PDF [--expect-intent rgb|grey]`, run by the pikepdf venv that
/// `scripts/bootstrap` links at `.tools/pikepdf`.
pub(crate) fn pdfa_check(pdf: &Path, intent: Option<&str>) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".tools/pikepdf/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/bootstrap",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.arg(root.join("tests/pdfa_check.py")).arg(pdf);
    if let Some(intent) = intent {
        cmd.args(["--expect-intent", intent]);
    }
    cmd.output().expect("run pdfa_check.py")
}

/// Every clause the script checks, by the name it reports.
pub(crate) const CLAUSES: &[&str] = &[
    "header",
    "qpdf-check",
    "file-identifier",
    "no-encryption",
    "output-intent",
    "xmp-metadata",
    "xmp-matches-info",
    "xmp-schemas",
    "fonts-embedded",
    "font-widths",
    "no-lzw",
    "no-javascript",
    "no-external-references",
    "device-colour-covered",
    "no-interpolate",
    "transparency",
    "annotations",
];

/// The script passed, each clause reported as holding.
pub(crate) fn assert_pdfa(pdf: &Path, intent: Option<&str>) {
    let out = pdfa_check(pdf, intent);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{}: {}",
        pdf.display(),
        describe(&out)
    );
    for clause in CLAUSES {
        assert!(
            text.contains(&format!("ok   {clause}: ")),
            "{clause} not reported as holding:\n{text}"
        );
    }
}

fn process(home: &Home, input: &Path, output_type: &str) -> std::path::PathBuf {
    let out = home.path().join(format!(
        "{}-{output_type}.pdf",
        input.file_stem().unwrap().to_str().unwrap()
    ));
    home.ok(&[
        "process",
        "--output-type",
        output_type,
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    out
}

#[test]
fn process_writes_pdfa_with_a_grey_or_srgb_intent_and_plain_pdf_fails_the_checks() {
    let home = Home::new();
    // Bitonal (CCITT) pages: a grey intent.
    let grey = process(&home, &corpus("ccitt.pdf"), "pdfa");
    assert_pdfa(&grey, Some("grey"));
    // A colour photograph: sRGB.
    let colour = process(&home, &corpus("baiona_color.jpg"), "pdfa");
    assert_pdfa(&colour, Some("rgb"));

    // The plain PDF fails, and the failures name the clauses it lacks.
    let plain = process(&home, &corpus("ccitt.pdf"), "pdf");
    let out = pdfa_check(&plain, None);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    for clause in ["output-intent", "xmp-metadata"] {
        assert!(text.contains(&format!("FAIL {clause}: ")), "{text}");
    }
    // What holds of any Quire PDF still holds of it: the checks tell clauses apart.
    for clause in [
        "header",
        "qpdf-check",
        "file-identifier",
        "fonts-embedded",
        "font-widths",
    ] {
        assert!(text.contains(&format!("ok   {clause}: ")), "{text}");
    }
}

#[test]
fn the_config_chooses_the_output_type_and_preservation_needs_pdfa() {
    let home = Home::with_config("[processing]\noutput_type = \"pdf\"\n");
    let out = home.path().join("plain.pdf");
    home.ok(&[
        "process",
        corpus("ccitt.pdf").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!pdfa_check(&out, None).status.success());
    // A plain input is stamped as it always was: the trace text in the standard Helvetica, no
    // OutputIntent or PDF/A identification added.
    let stamped = home.path().join("stamped.pdf");
    home.ok(&[
        "stamp",
        out.to_str().unwrap(),
        "-o",
        stamped.to_str().unwrap(),
        "--request",
        "TN761",
        "--recipient",
        "A. Reader",
    ]);
    let text = stdout(&pdfa_check(&stamped, None));
    for failed in [
        "FAIL fonts-embedded: not embedded: ['/Helvetica']",
        "FAIL output-intent: ",
        "FAIL xmp-metadata: pdfaid:part None",
    ] {
        assert!(text.contains(failed), "{text}");
    }
    let refused =
        Home::with_config("[processing]\noutput_type = \"pdf\"\n[preservation]\nenabled = true\n");
    let check = refused.fails(&["config", "check"]);
    assert!(
        crate::util::stderr(&check).contains("[processing] output_type")
            || stdout(&check).contains("[processing] output_type"),
        "{}",
        describe(&check)
    );
}

#[test]
fn the_stamped_delivery_of_a_pdfa_job_is_pdfa_and_still_traced() {
    // The default output type is pdfa: the daemon's job needs no setting for it. The photograph
    // has little text, so its low OCR confidence is only noted; the diagonal watermark puts
    // translucency on every page.
    let (home, port) = daemon_home(
        "[review]\n\"quality.low_ocr_confidence\" = \"note\"\n\
         [stamp.watermark]\nenabled = true\n",
    );
    add_request(&home, "TN760", &[]);
    let _d = start_daemon(&home, port);
    std::fs::copy(
        corpus("baiona_color.jpg"),
        home.path().join("var/inbox/TN760.jpg"),
    )
    .unwrap();
    wait_until(Duration::from_secs(180), "the job is delivered", || {
        jobs(&home).first().is_some_and(|j| {
            ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap())
        })
    });
    let job = &jobs(&home)[0];
    assert_eq!(job["state"], "delivered", "{job}");
    let l = links(&home);
    let (status, _, pdf) = get(
        port,
        &format!("{}/file", path_of(l[0]["url"].as_str().unwrap())),
        &[],
    );
    assert_eq!(status, 200);
    let file = home.path().join("delivered.pdf");
    std::fs::write(&file, pdf).unwrap();
    assert_pdfa(&file, Some("rgb"));
    let traced = stdout(&home.ok(&["trace", file.to_str().unwrap()]));
    assert!(traced.contains("TN760"), "{traced}");
    // The trace text, now in an embedded font, is still found in the page content alone: one
    // page cut out into a new file has no Info, no XMP and a new file identifier.
    let cut = home.path().join("cut.pdf");
    let st = Command::new("qpdf")
        .args(["--empty", "--pages"])
        .arg(&file)
        .args(["2", "--"])
        .arg(&cut)
        .status()
        .unwrap();
    assert!(st.success());
    let traced = stdout(&home.ok(&["trace", cut.to_str().unwrap()]));
    assert!(
        traced.contains("TN760") && traced.contains("modified copy"),
        "{traced}"
    );
}
