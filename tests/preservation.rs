//! Preservation masters end to end: the daemon writes a BagIt bag as it delivers a scan, the
//! Library of Congress's `bagit.py` (the reference implementation, installed by
//! `scripts/bootstrap`) validates it, a tampered copy fails both its check and Quire's, the
//! reader's name is in no file of it, `purge` and `retention run` leave it, and `quire
//! preserve JOB` writes one by hand with the scanner and technician of a `quire scan`. The bag's
//! PDF passes `tests/pdfa_check.py` clause by clause (PDF/A-2b).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::custody::S3;
use crate::delivery::{S3_SECRET, add_request, links, s3_storage, start_s3s};
use crate::intake::jobs;
use crate::util::{
    Home, corpus, daemon_home, describe, staff_page_as_new_technician, start_daemon, stderr,
    stdout, wait_until,
};

const READER: &str = "Nguyễn Thị Minh Khai";
const READER_EMAIL: &str = "minh@example.org";

/// `bagit.py --validate BAG` from the venv `scripts/bootstrap` made.
fn bagit_validate(bag: &Path) -> std::process::Output {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/bagit.py");
    assert!(
        tool.exists(),
        "{} is missing: run scripts/bootstrap",
        tool.display()
    );
    Command::new(tool)
        .arg("--validate")
        .arg(bag)
        .output()
        .expect("run bagit.py")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// No file of the bag holds the reader's name or e-mail, in any case.
fn assert_no_reader_data(bag: &Path) {
    let needles = [READER.to_lowercase(), READER_EMAIL.to_lowercase()];
    for file in files_in(bag) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).to_lowercase();
        for n in &needles {
            assert!(!text.contains(n), "{} holds `{n}`", file.display());
        }
    }
}

fn wait_settled(home: &Home) -> Value {
    wait_until(
        Duration::from_secs(180),
        "the job is delivered, held or failed",
        || {
            jobs(home).first().is_some_and(|j| {
                ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap())
            })
        },
    );
    jobs(home)[0].clone()
}

#[test]
fn a_delivered_scan_leaves_a_bag_that_validates_and_outlives_purge_and_retention() {
    let (home, port) =
        daemon_home("[links]\npurge_after_days = 0\n[preservation]\nenabled = true\n");
    add_request(&home, "TN740", &[]);
    let d = start_daemon(&home, port);
    let original = corpus("ccitt.pdf");
    std::fs::copy(&original, home.path().join("var/inbox/TN740.pdf")).unwrap();
    let job = wait_settled(&home);
    assert_eq!(job["state"], "delivered", "{job}");
    let id = job["id"].as_str().unwrap().to_string();

    let bag = home.path().join("var/preservation").join(&id);
    // The job reads "delivered" once the reader has the copy; the bag follows.
    wait_until(Duration::from_secs(60), "the bag is written", || {
        bag.join("bagit.txt").is_file()
    });
    assert_eq!(
        std::fs::read(bag.join("data/originals/TN740.pdf")).unwrap(),
        std::fs::read(&original).unwrap(),
        "the original, byte for byte"
    );
    let pdf = std::fs::read(bag.join("data/processed.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // The bag's PDF is PDF/A-2b, each clause checked by an independent reader; the scan is
    // bitonal, so its intent is grey.
    crate::pdfa::assert_pdfa(&bag.join("data/processed.pdf"), Some("grey"));
    let report: Value =
        serde_json::from_slice(&std::fs::read(bag.join("data/quality-report.json")).unwrap())
            .unwrap();
    assert!(!report["pages"].as_array().unwrap().is_empty(), "{report}");
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    let total: u64 = files_in(&bag.join("data"))
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    for line in [
        "Source-Organization: Example Library".to_string(),
        "External-Identifier: request TN740".to_string(),
        format!("External-Identifier: job {id}"),
        format!("Payload-Oxum: {total}.3"),
        "Bag-Software-Agent: Quire ".to_string(),
        "Quire-Processed-PDF: PDF/A-2b (pdfaid:part 2, conformance B".to_string(),
        "Bagging-Date: 20".to_string(),
    ] {
        assert!(
            info.contains(&line),
            "`{line}` not in bag-info.txt:\n{info}"
        );
    }
    assert_no_reader_data(&bag);
    // The originals left the spool only once the bag held them.
    let spool = Path::new(job["spool_path"].as_str().unwrap());
    wait_until(
        Duration::from_secs(30),
        "the original leaves the spool",
        || !spool.join("TN740.pdf").exists(),
    );

    // The reference implementation and Quire's own check agree it is valid.
    let theirs = bagit_validate(&bag);
    assert!(theirs.status.success(), "bagit.py: {}", describe(&theirs));
    let ours = home.ok(&["preserve", "--verify", bag.to_str().unwrap()]);
    assert!(
        stdout(&ours).contains("valid (3 payload files"),
        "{}",
        describe(&ours)
    );
    let log = stdout(&home.ok(&["audit", "export", "--action", "job.preserved"]));
    assert!(log.contains(&id) && log.contains("TN740"), "{log}");
    assert!(!log.contains("Minh"), "{log}");

    // The console's job page names it.
    let page = staff_page_as_new_technician(&home, port, "tess", &format!("/staff/jobs/{id}"))
        .replace("&#x2f;", "/");
    assert!(
        page.contains("Preservation master") && page.contains(bag.to_str().unwrap()),
        "{page}"
    );
    drop(d);

    // A tampered copy fails both checks, each naming the file.
    let tampered = home.path().join("tampered");
    copy_tree(&bag, &tampered);
    let victim = tampered.join("data/originals/TN740.pdf");
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&victim, bytes).unwrap();
    let theirs = bagit_validate(&tampered);
    assert!(!theirs.status.success(), "bagit.py passed a tampered bag");
    assert!(
        stderr(&theirs).contains("data/originals/TN740.pdf"),
        "{}",
        describe(&theirs)
    );
    let ours = home.fails(&["preserve", "--verify", tampered.to_str().unwrap()]);
    assert_eq!(ours.status.code(), Some(1), "{}", describe(&ours));
    assert!(
        stderr(&ours).contains("data/originals/TN740.pdf: its checksum is"),
        "{}",
        describe(&ours)
    );

    // Purge removes the delivered copy, retention runs: the bag stays whole and valid.
    let link = links(&home)[0]["id"].as_str().unwrap().to_string();
    home.ok(&["link", "revoke", &link]);
    assert!(stdout(&home.ok(&["purge"])).contains("removed 1"));
    home.ok(&["retention", "run"]);
    let after = bagit_validate(&bag);
    assert!(after.status.success(), "{}", describe(&after));
    home.ok(&["preserve", "--verify", bag.to_str().unwrap()]);
}

/// With `destination = "store"` the bag goes to the object store (a real `s3s-fs` server) as
/// named files under `preservation/<job>/`: `bagit.py` validates it where the server keeps
/// it, `quire preserve --verify store:…` fetches and checks it, the console names it, no copy
/// stays on the node, purge leaves it, and a tampered object fails Quire's check.
#[test]
fn with_destination_store_the_bag_goes_to_the_object_store() {
    let bucket = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bucket.path().join("quire")).unwrap();
    let s3_port = crate::util::free_port();
    let _s3 = S3(start_s3s(bucket.path(), s3_port));
    let (home, port) = daemon_home(&format!(
        "{}[links]\npurge_after_days = 0\n[preservation]\nenabled = true\ndestination = \"store\"\n",
        s3_storage(s3_port, S3_SECRET)
    ));
    add_request(&home, "TN741", &[]);
    let d = start_daemon(&home, port);
    let original = corpus("ccitt.pdf");
    std::fs::copy(&original, home.path().join("var/inbox/TN741.pdf")).unwrap();
    let job = wait_settled(&home);
    assert_eq!(job["state"], "delivered", "{job}");
    let id = job["id"].as_str().unwrap().to_string();

    // s3s-fs keeps each object as a file under <root>/<bucket>/<key>: the bag as the store
    // has it, read without Quire. The job reads "delivered" once the reader has the copy; the
    // bag follows, its bagit.txt uploaded last.
    let bag = bucket.path().join("quire/preservation").join(&id);
    wait_until(Duration::from_secs(60), "the bag is in the store", || {
        bag.join("bagit.txt").is_file()
    });
    assert_eq!(
        std::fs::read(bag.join("data/originals/TN741.pdf")).unwrap(),
        std::fs::read(&original).unwrap(),
        "the original, byte for byte"
    );
    let theirs = bagit_validate(&bag);
    assert!(theirs.status.success(), "bagit.py: {}", describe(&theirs));
    assert_no_reader_data(&bag);
    // The staging copy goes right after the upload.
    for local in ["var/preservation", "var/preservation-staging"] {
        let dir = home.path().join(local);
        wait_until(
            Duration::from_secs(30),
            "no copy of the bag on the node",
            || !dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(),
        );
    }

    let location = format!("store:preservation/{id}");
    let ours = home.ok(&["preserve", "--verify", &location]);
    assert!(
        stdout(&ours).contains(&format!("{location}: valid (3 payload files")),
        "{}",
        describe(&ours)
    );
    let page = staff_page_as_new_technician(&home, port, "tess", &format!("/staff/jobs/{id}"))
        .replace("&#x2f;", "/");
    assert!(
        page.contains("Preservation master") && page.contains(&location),
        "{page}"
    );
    drop(d);

    let link = links(&home)[0]["id"].as_str().unwrap().to_string();
    home.ok(&["link", "revoke", &link]);
    assert!(stdout(&home.ok(&["purge"])).contains("removed 1"));
    home.ok(&["retention", "run"]);
    home.ok(&["preserve", "--verify", &location]);

    // Damage the stored PDF behind the store's back: the check fails naming it. (The S3
    // client already refuses the download, as the SHA-256 the upload carried no longer
    // matches; a store without checksums would leave it to the manifest check.)
    let victim = bag.join("data/processed.pdf");
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&victim, bytes).unwrap();
    let ours = home.fails(&["preserve", "--verify", &location]);
    let err = stderr(&ours);
    assert!(
        err.contains("data/processed.pdf") && err.contains("checksum"),
        "{}",
        describe(&ours)
    );
}

/// With preservation off, `quire preserve JOB` writes the bag of a job whose originals are
/// kept, naming the scanner, profile and technician of the `quire scan` that made it; once
/// the originals are gone it says so and writes nothing.
#[test]
fn quire_preserve_writes_a_bag_by_hand_with_the_scans_provenance() {
    let (home, port) = daemon_home("keep_originals = true\n");
    let sane = home.path().join("sane");
    std::fs::create_dir_all(&sane).unwrap();
    std::fs::write(sane.join("dll.conf"), "test\n").unwrap();
    add_request(&home, "TN741", &[]);
    let d = start_daemon(&home, port);
    let scan = home
        .cmd(&[
            "scan",
            "--device",
            "test:0",
            "--request",
            "TN741",
            "--source",
            "flatbed",
            "--dpi",
            "50",
            "--mode",
            "gray",
        ])
        .env("SANE_CONFIG_DIR", &sane)
        .env("USER", "tess")
        .output()
        .unwrap();
    assert!(scan.status.success(), "{}", describe(&scan));
    let job = wait_settled(&home);
    drop(d);
    let id = job["id"].as_str().unwrap().to_string();
    assert!(
        !home.path().join("var/preservation").exists(),
        "preservation is off: the daemon wrote no bag"
    );

    let out = home.ok(&["preserve", &id]);
    let bag = home.path().join("var/preservation").join(&id);
    assert!(
        stdout(&out).contains(bag.to_str().unwrap()),
        "{}",
        describe(&out)
    );
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    for line in [
        "Quire-Scanner: test:0",
        "Quire-Scan-Profile: generic",
        "Quire-Technician: tess",
        "External-Identifier: request TN741",
    ] {
        assert!(info.contains(line), "`{line}` not in bag-info.txt:\n{info}");
    }
    assert!(bag.join("data/originals/TN741.tif").is_file());
    let theirs = bagit_validate(&bag);
    assert!(theirs.status.success(), "bagit.py: {}", describe(&theirs));
    assert_no_reader_data(&bag);

    // Written again: the bag is replaced whole, nothing is left beside it.
    home.ok(&["preserve", &id]);
    let names: Vec<_> = std::fs::read_dir(home.path().join("var/preservation"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![id.clone()]);

    // Without its originals there is nothing to preserve, and nothing is written.
    let spool = PathBuf::from(job["spool_path"].as_str().unwrap());
    std::fs::remove_file(spool.join("TN741.tif")).unwrap();
    let err = home.fails(&["preserve", &id]);
    assert!(stderr(&err).contains("no originals"), "{}", describe(&err));
    assert!(
        bagit_validate(&bag).status.success(),
        "the earlier bag stays"
    );
}

/// A batch of two requests: each document gets its own bag, holding the whole batch scan as
/// its originals, and the scan leaves the spool only once both bags are written.
#[test]
fn each_document_of_a_batch_has_a_bag_of_the_whole_scan() {
    use crate::intake::{article_page, save_png_with_dpi};
    use quire_pipeline::barcode::{Symbology, sheet};
    let (home, port) = daemon_home("[preservation]\nenabled = true\n");
    add_request(&home, "TN750", &[]);
    add_request(&home, "TN751", &[]);
    let _d = start_daemon(&home, port);
    let staging = home.path().join("staging/batch");
    std::fs::create_dir_all(&staging).unwrap();
    let paper = (6.0, 8.0);
    let pages = [
        sheet("TN750", Symbology::Code128, 200.0, paper).unwrap(),
        article_page(21, 1, 200.0, 0.0),
        sheet("TN751", Symbology::Code128, 200.0, paper).unwrap(),
        article_page(22, 1, 200.0, 0.0),
    ];
    for (i, p) in pages.iter().enumerate() {
        save_png_with_dpi(p, &staging.join(format!("p{i}.png")), 200.0);
    }
    std::fs::rename(&staging, home.path().join("var/inbox/batch")).unwrap();
    wait_until(
        Duration::from_secs(180),
        "both documents are delivered",
        || {
            jobs(&home)
                .iter()
                .filter(|j| j["state"] == "delivered")
                .count()
                == 2
        },
    );
    let all = jobs(&home);
    let batch = all.iter().find(|j| j["parent_job"].is_null()).unwrap();
    let spool = PathBuf::from(batch["spool_path"].as_str().unwrap());
    wait_until(
        Duration::from_secs(30),
        "the batch scan leaves the spool",
        || !spool.join("batch").exists(),
    );
    for doc in all.iter().filter(|j| !j["parent_job"].is_null()) {
        let id = doc["id"].as_str().unwrap();
        let bag = home.path().join("var/preservation").join(id);
        let originals: Vec<String> = files_in(&bag.join("data/originals"))
            .iter()
            .map(|f| f.strip_prefix(&bag).unwrap().display().to_string())
            .collect();
        assert_eq!(
            originals,
            (0..4)
                .map(|i| format!("data/originals/batch/p{i}.png"))
                .collect::<Vec<_>>()
        );
        let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
        let request = doc["request_id"].as_str().unwrap();
        assert!(
            info.contains(&format!("External-Identifier: request {request}"))
                && info.contains(&format!(
                    "cut from batch scan {}",
                    batch["id"].as_str().unwrap()
                )),
            "{info}"
        );
        let theirs = bagit_validate(&bag);
        assert!(theirs.status.success(), "bagit.py: {}", describe(&theirs));
        assert_no_reader_data(&bag);
    }
}

/// A bag that cannot be written does not hold back the delivery; the originals stay in the
/// spool instead, and `quire preserve JOB` writes the bag once the cause is gone.
#[test]
fn when_the_bag_cannot_be_written_the_originals_stay_for_quire_preserve() {
    let (home, port) = daemon_home("[preservation]\nenabled = true\npath = \"shelf/bags\"\n");
    add_request(&home, "TN760", &[]);
    let d = start_daemon(&home, port);
    // Where the daemon's bags' folder should be made, a file: its worker cannot create it.
    // The configuration would refuse that, so the commands below get it without the path
    // (bags in <data_dir>/preservation); the daemon read its own at start.
    std::fs::write(home.path().join("shelf"), b"not a folder").unwrap();
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    std::fs::write(
        home.config_path(),
        config.replace("path = \"shelf/bags\"\n", ""),
    )
    .unwrap();
    std::fs::copy(corpus("ccitt.pdf"), home.path().join("var/inbox/TN760.pdf")).unwrap();
    let job = wait_settled(&home);
    drop(d);
    assert_eq!(job["state"], "delivered", "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let spool = PathBuf::from(job["spool_path"].as_str().unwrap());
    assert!(spool.join("TN760.pdf").is_file(), "the original stays");
    let log = stdout(&home.ok(&["audit", "export", "--action", "job.preserved"]));
    assert!(log.trim().is_empty(), "{log}");

    home.ok(&["preserve", &id]);
    let bag = home.path().join("var/preservation").join(&id);
    let theirs = bagit_validate(&bag);
    assert!(theirs.status.success(), "bagit.py: {}", describe(&theirs));
}
