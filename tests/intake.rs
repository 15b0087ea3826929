//! Requests and the intake daemon end to end: a real daemon, a real inbox, real files.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{
    Home, corpus, daemon_home, daemon_home_settling, http, start_daemon, start_daemon_logged,
    stderr, stdout, wait_until,
};

fn add_request(home: &Home, id: &str) {
    home.ok(&[
        "request",
        "add",
        "--id",
        id,
        "--patron",
        "Zoë Łukasiewicz",
        "--email",
        "zoe@example.org",
        "--library",
        "ZZQ",
        "--title",
        "Journal of Tests",
        "--issn",
        "1234-5679",
        "--pages",
        "1-2",
        "--basis",
        "ccg",
    ]);
}

#[test]
fn requests_are_added_listed_and_refused_when_bad() {
    let home = Home::new();
    add_request(&home, "TN100");
    let list: Value =
        serde_json::from_str(&stdout(&home.ok(&["request", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["id"], "TN100");
    assert_eq!(list[0]["patron_name"], "Zoë Łukasiewicz");
    assert_eq!(list[0]["basis"], "ccg");
    let table = stdout(&home.ok(&["request", "list"]));
    assert!(
        table.contains("TN100") && table.contains("Journal of Tests"),
        "{table}"
    );

    let err = stderr(&home.fails(&[
        "request",
        "add",
        "--id",
        "TN100",
        "--patron",
        "X",
        "--email",
        "x@example.org",
    ]));
    assert!(err.contains("exists already"), "{err}");
    let err = stderr(&home.fails(&[
        "request", "add", "--id", "TN 1", "--patron", "", "--email", "nobody",
    ]));
    assert!(
        err.contains("id `TN 1`") && err.contains("patron name") && err.contains("nobody"),
        "{err}"
    );
    let events = stdout(&home.ok(&["audit", "export", "--action", "request.created"]));
    assert_eq!(events.lines().count(), 1, "{events}");
}

#[test]
fn a_csv_import_is_all_or_nothing_and_names_bad_rows() {
    let home = Home::new();
    let good = home.path().join("good.csv");
    std::fs::write(&good, "id,patron,email,title,year,basis\nTN1,Ann,ann@example.org,Nature,2024,ccg\nTN2,Bo,bo@example.org,Science,2023,\n").unwrap();
    assert!(
        stdout(&home.ok(&["request", "import", good.to_str().unwrap()])).contains("imported 2")
    );

    let bad = home.path().join("bad.csv");
    std::fs::write(&bad, "id,patron,email,year\nTN3,Cy,cy@example.org,2020\nTN4,Di,not-an-email,20x0\nTN5,Ed,ed@example.org,2021\n").unwrap();
    let err = stderr(&home.fails(&["request", "import", bad.to_str().unwrap()]));
    assert!(
        err.contains("row 3 (TN4)") && err.contains("not-an-email") && err.contains("20x0"),
        "{err}"
    );
    let ids: Vec<Value> =
        serde_json::from_str(&stdout(&home.ok(&["request", "list", "--json"]))).unwrap();
    assert_eq!(ids.len(), 2, "nothing from the bad file may land: {ids:?}");

    let dup = home.path().join("dup.csv");
    std::fs::write(
        &dup,
        "id,patron,email\nTN9,Fay,fay@example.org\nTN1,Ann,ann@example.org\n",
    )
    .unwrap();
    let err = stderr(&home.fails(&["request", "import", dup.to_str().unwrap()]));
    assert!(
        err.contains("TN1 exists already") && err.contains("nothing imported"),
        "{err}"
    );
    let ids: Vec<Value> =
        serde_json::from_str(&stdout(&home.ok(&["request", "list", "--json"]))).unwrap();
    assert_eq!(ids.len(), 2, "TN9 must not land with the conflicting TN1");
}

pub fn jobs(home: &Home) -> Vec<Value> {
    serde_json::from_str(&stdout(&home.ok(&["jobs", "--json"]))).unwrap()
}

#[test]
fn the_api_takes_and_lists_requests_with_a_token_only() {
    let (home, port) = daemon_home("");
    let _d = start_daemon(&home, port);
    let body = r#"{"id":"TN500","patron_name":"Иван Петров","patron_email":"ivan@example.org","title":"Nature","basis":"ccl"}"#;
    assert_eq!(
        http(port, "POST", "/api/v1/requests", None, Some(body))
            .unwrap()
            .0,
        401
    );
    assert_eq!(
        http(port, "POST", "/api/v1/requests", Some("wrong"), Some(body))
            .unwrap()
            .0,
        401
    );
    let (status, text) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some("test-token-1234567890"),
        Some(body),
    )
    .unwrap();
    assert_eq!(status, 201, "{text}");
    // The same request again is taken as done (idempotent on the id); other fields conflict.
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some("test-token-1234567890"),
        Some(body),
    )
    .unwrap();
    assert_eq!(status, 200);
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some("test-token-1234567890"),
        Some(&body.replace("Nature", "Science")),
    )
    .unwrap();
    assert_eq!(status, 409);
    let bad = r#"[{"id":"TN501","patron_name":"A","patron_email":"a@example.org"},{"id":"TN502","patron_name":"B","patron_email":"nope"}]"#;
    let (status, text) = http(
        port,
        "POST",
        "/api/v1/requests",
        Some("test-token-1234567890"),
        Some(bad),
    )
    .unwrap();
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("TN502"), "{text}");
    let (status, text) = http(
        port,
        "GET",
        "/api/v1/requests",
        Some("test-token-1234567890"),
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&text).unwrap();
    let list = list["items"].as_array().unwrap();
    assert_eq!(list.len(), 1, "TN501 must not land without TN502: {text}");
    assert_eq!(list[0]["patron_name"], "Иван Петров");
}

#[test]
fn a_dropped_scan_is_taken_matched_processed_and_bad_input_is_quarantined() {
    // The broken PDF has no end marker, so it first waits as "incomplete"; a short grace makes
    // it reach processing (and quarantine) quickly.
    let (home, port) = daemon_home("incomplete_grace_secs = 2.0");
    add_request(&home, "TN200");
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    // Ignored names: never taken.
    std::fs::write(inbox.join(".hidden.png"), b"x").unwrap();
    std::fs::write(inbox.join("TN200.tif.part"), b"x").unwrap();
    std::fs::copy(corpus("baiona_color.jpg"), inbox.join("TN200_part1.jpg")).unwrap();
    std::fs::write(
        inbox.join("TN201.pdf"),
        b"%PDF-1.4\nthis is not really a PDF at all\n",
    )
    .unwrap();

    wait_until(
        Duration::from_secs(120),
        "both scans are processed or failed",
        || {
            let j = jobs(&home);
            j.len() == 2
                && j.iter().all(|j| {
                    ["processed", "held", "failed"].contains(&j["state"].as_str().unwrap())
                })
        },
    );
    let all = jobs(&home);
    let good = all
        .iter()
        .find(|j| j["source_name"] == "TN200_part1.jpg")
        .expect("the jpg became a job");
    assert_eq!(good["request_id"], "TN200");
    assert_ne!(good["state"], "failed", "{good}");
    assert!(
        Path::new(good["spool_path"].as_str().unwrap())
            .join("quire-output.pdf")
            .is_file()
    );
    let show = stdout(&home.ok(&["job", "show", good["id"].as_str().unwrap()]));
    assert!(show.contains("TN200") && show.contains("PAGE"), "{show}");

    let bad = all
        .iter()
        .find(|j| j["source_name"] == "TN201.pdf")
        .expect("the bad pdf became a job");
    assert_eq!(bad["state"], "failed");
    assert!(bad["request_id"].is_null(), "TN201 was never requested");
    let id = bad["id"].as_str().unwrap();
    let quarantine = home.path().join("var/quarantine");
    assert!(
        quarantine.join(id).join("TN201.pdf").is_file(),
        "the original is kept in quarantine"
    );
    let note = std::fs::read_to_string(quarantine.join(format!("{id}.error.txt"))).unwrap();
    assert!(
        note.contains("TN201.pdf") && note.contains("error code: pipeline."),
        "{note}"
    );

    // Ignored files stay where they were, and the daemon is still up.
    assert!(inbox.join(".hidden.png").exists() && inbox.join("TN200.tif.part").exists());
    assert_eq!(http(port, "GET", "/healthz", None, None).unwrap().0, 200);
    let log = stdout(&home.ok(&["audit", "export"]));
    for action in ["job.received", "job.processed", "job.failed"] {
        assert!(log.contains(action), "no {action} in the audit log");
    }
    home.ok(&["audit", "verify"]);

    // Reprocessing a failed job brings its original back from quarantine; it fails again and
    // goes back, never lost on the way.
    home.ok(&["job", "reprocess", id]);
    wait_until(
        Duration::from_secs(60),
        "the reprocessed job fails again",
        || {
            let log = stdout(&home.ok(&["audit", "export", "--action", "job.failed"]));
            log.lines().count() == 2
        },
    );
    assert!(quarantine.join(id).join("TN201.pdf").is_file());
    assert!(quarantine.join(format!("{id}.error.txt")).is_file());
}

#[test]
fn a_slowly_written_file_is_never_taken_early() {
    // The default settle delay: a loaded machine can stall the writer for longer than the
    // short delay the other tests use.
    let (home, port) = daemon_home_settling(2.0, "");
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    // A 20 MB greyscale TIFF, written in 40 slices over ~10 s.
    let img = image::GrayImage::from_fn(4480, 4480, |x, y| {
        image::Luma([if (x / 64 + y / 64) % 7 == 0 { 0 } else { 255 }])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Tiff).unwrap();
    let bytes = bytes.into_inner();
    assert!(bytes.len() >= 20_000_000, "{}", bytes.len());
    let expected = hex(&Sha256::digest(&bytes));
    let path = inbox.join("TN300.tif");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        for chunk in bytes.chunks(bytes.len() / 40 + 1) {
            f.write_all(chunk).unwrap();
            f.flush().unwrap();
            std::thread::sleep(Duration::from_millis(250));
            assert!(jobs(&home).is_empty(), "taken while still being written");
        }
    }
    wait_until(
        Duration::from_secs(30),
        "the finished file is taken",
        || !jobs(&home).is_empty(),
    );
    let j = jobs(&home);
    assert_eq!(j.len(), 1);
    assert_eq!(
        j[0]["source_sha256"],
        expected.as_str(),
        "custody must hold the whole file"
    );
}

#[test]
fn a_folder_per_request_becomes_one_job_and_duplicates_are_flagged() {
    let (home, port) = daemon_home("duplicates = \"skip\"\n");
    add_request(&home, "TN400");
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    let staging = home.path().join("staging/TN400");
    std::fs::create_dir_all(&staging).unwrap();
    for i in 0..3 {
        tiny_png(i)
            .save(staging.join(format!("page{i}.png")))
            .unwrap();
    }
    // Rename into place: the whole folder appears at once.
    std::fs::rename(&staging, inbox.join("TN400")).unwrap();
    wait_until(Duration::from_secs(60), "the folder is taken", || {
        jobs(&home).len() == 1
    });
    std::fs::create_dir_all(home.path().join("staging")).unwrap();
    // The same bytes twice, under two names: the second is an exact duplicate, held unprocessed.
    tiny_png(7).save(home.path().join("staging/a.png")).unwrap();
    tiny_png(7).save(home.path().join("staging/b.png")).unwrap();
    std::fs::rename(home.path().join("staging/a.png"), inbox.join("TN400_a.png")).unwrap();
    wait_until(Duration::from_secs(60), "the first copy is taken", || {
        jobs(&home).len() == 2
    });
    std::fs::rename(home.path().join("staging/b.png"), inbox.join("TN400_b.png")).unwrap();
    wait_until(Duration::from_secs(60), "the second copy is taken", || {
        jobs(&home).len() == 3
    });
    let dup = jobs(&home)
        .into_iter()
        .find(|j| j["source_name"] == "TN400_b.png")
        .unwrap();
    assert_eq!(dup["state"], "held", "{dup}");
    assert!(
        dup["hold_reason"]
            .as_str()
            .unwrap()
            .contains("exact duplicate"),
        "{dup}"
    );
    let first = jobs(&home)
        .into_iter()
        .find(|j| j["source_name"] == "TN400_a.png")
        .unwrap();
    assert!(
        !first["hold_reason"]
            .as_str()
            .unwrap_or("")
            .contains("duplicate"),
        "the first copy is no duplicate: {first}"
    );
    let folder_job = jobs(&home)
        .into_iter()
        .find(|j| j["source_name"] == "TN400")
        .unwrap();
    assert_eq!(folder_job["request_id"], "TN400");
    wait_until(
        Duration::from_secs(120),
        "the folder job is processed",
        || {
            let j = jobs(&home)
                .into_iter()
                .find(|j| j["source_name"] == "TN400")
                .unwrap();
            j["page_count"].as_i64().is_some() || j["state"] == "failed"
        },
    );
    let folder_job = jobs(&home)
        .into_iter()
        .find(|j| j["source_name"] == "TN400")
        .unwrap();
    assert_eq!(folder_job["page_count"], 3, "{folder_job}");
}

fn tiny_png(seed: u32) -> image::GrayImage {
    image::GrayImage::from_fn(300, 200, move |x, y| {
        let v = (x
            .wrapping_mul(2654435761)
            .wrapping_add(y.wrapping_mul(40503))
            .wrapping_add(seed.wrapping_mul(97)))
            >> 13;
        image::Luma([if v % 11 == 0 { 0 } else { 255 }])
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `kill -9` at random moments while 50 scans flow in: after restarts every scan is in custody
/// exactly once, processed exactly once and delivered exactly once (one delivery and one link
/// per scan), and the audit chain is whole.
#[test]
fn kill_minus_nine_at_random_points_loses_nothing_and_doubles_nothing() {
    let (home, port) = daemon_home("");
    let inbox = home.path().join("var/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let mut expected = std::collections::BTreeSet::new();
    // Small clean pages, so every scan is good enough to go out unattended.
    let page = |seed: u64| {
        use quire_testkit::synth::{PageSpec, render_page};
        render_page(&PageSpec {
            seed,
            // The printed number makes every scan distinct, whatever text the seed gives.
            page_number: seed as u32,
            dpi: 150.0,
            paper_in: (5.0, 4.0),
            font_pt: 12.0,
            ..PageSpec::default()
        })
        .unwrap()
        .image
    };
    for i in 0..50 {
        let id = format!("TN6{i:02}");
        home.ok(&[
            "request",
            "add",
            "--id",
            &id,
            "--patron",
            "Kill Test",
            "--email",
            "kill@example.org",
            "--basis",
            "public-domain",
        ]);
        let name = format!("{id}.png");
        save_png_with_dpi(&page(1000 + i), &staging.join(&name), 150.0);
        expected.insert(name);
    }
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let names: Vec<String> = expected.iter().cloned().collect();
    let mut dropped = 0;
    let settled = |home: &Home| {
        let all = jobs(home);
        all.len() == 50
            && all
                .iter()
                .all(|j| ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap()))
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut kills = 0;
    while !settled(&home) {
        assert!(
            Instant::now() < deadline,
            "not all scans were delivered in time: {:#?}",
            jobs(&home)
        );
        let mut d = start_daemon(&home, port);
        // Feed scans in bursts while the daemon runs, then kill it without warning.
        let burst = (random(8) + 3) as usize;
        for name in names.iter().skip(dropped).take(burst) {
            std::fs::rename(staging.join(name), inbox.join(name)).unwrap();
        }
        dropped = (dropped + burst).min(50);
        std::thread::sleep(Duration::from_millis(200 + random(1500)));
        if dropped == 50 && random(3) == 0 {
            std::thread::sleep(Duration::from_secs(3));
        }
        d.child.kill().unwrap(); // SIGKILL
        d.child.wait().unwrap();
        kills += 1;
    }
    assert!(
        kills >= 3,
        "the daemon should have been killed several times, was {kills}"
    );
    let all = jobs(&home);
    let sources: std::collections::BTreeSet<String> = all
        .iter()
        .map(|j| j["source_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 50, "one job per scan, no more: {all:#?}");
    assert_eq!(sources, expected, "every scan became a job");
    let hashes: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|j| j["source_sha256"].as_str().unwrap())
        .collect();
    assert_eq!(hashes.len(), 50, "every job holds its own whole scan");
    let not_delivered: Vec<&Value> = all.iter().filter(|j| j["state"] != "delivered").collect();
    assert!(
        not_delivered.is_empty(),
        "every scan should have been delivered: {not_delivered:#?}"
    );
    assert!(
        std::fs::read_dir(&inbox).unwrap().next().is_none(),
        "the inbox is empty"
    );
    let count_per_job = |action: &str| {
        let log = stdout(&home.ok(&["audit", "export", "--action", action]));
        let mut per_job = std::collections::BTreeMap::new();
        for line in log.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            *per_job
                .entry(v["subjects"]["job"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
        per_job
    };
    for action in ["job.processed", "delivery.created"] {
        let per_job = count_per_job(action);
        assert_eq!(per_job.len(), 50, "every job has a {action} event");
        assert!(
            per_job.values().all(|&n| n == 1),
            "a job has {action} twice: {per_job:?}"
        );
    }
    let links: Vec<Value> = serde_json::from_str(&stdout(&home.ok(&["links", "--json"]))).unwrap();
    let requests: std::collections::BTreeSet<&str> = links
        .iter()
        .map(|l| l["request"].as_str().unwrap())
        .collect();
    assert_eq!(links.len(), 50, "one link per scan: {links:#?}");
    assert_eq!(requests.len(), 50, "one link per request");
    home.ok(&["audit", "verify"]);
}

/// A file whose size and time have settled but that is cut short (a writer that paused) is not
/// taken; once the rest arrives it is.
#[test]
fn a_settled_but_incomplete_scan_waits_for_its_end() {
    let (home, port) = daemon_home("");
    add_request(&home, "TN830");
    let _d = start_daemon(&home, port);
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let whole = staging.join("whole.png");
    save_png_with_dpi(&article_page(30, 1, 150.0, 0.0), &whole, 150.0);
    let bytes = std::fs::read(&whole).unwrap();
    let target = home.path().join("var/inbox/TN830.png");
    std::fs::write(&target, &bytes[..bytes.len() / 2]).unwrap();
    // Five settle delays: a size-and-time rule alone would have taken it by now.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(jobs(&home).is_empty(), "a half-written PNG was taken");
    assert!(target.exists());
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&target)
        .unwrap();
    f.write_all(&bytes[bytes.len() / 2..]).unwrap();
    drop(f);
    wait_until(
        Duration::from_secs(60),
        "the completed scan is processed",
        || {
            jobs(&home)
                .first()
                .is_some_and(|j| j["page_count"].as_i64().is_some())
        },
    );
    let job = &jobs(&home)[0];
    let spool = Path::new(job["spool_path"].as_str().unwrap());
    let original = spool.join("TN830.png");
    if original.exists() {
        assert_eq!(std::fs::read(&original).unwrap(), bytes);
    }
    assert_ne!(job["state"], "failed", "{job}");
}

pub(crate) fn article_page(seed: u64, page: u32, dpi: f32, skew: f32) -> image::GrayImage {
    use quire_testkit::synth::{Degradation, PageSpec, render_page};
    let spec = PageSpec {
        seed,
        page_number: page,
        dpi,
        paper_in: (6.0, 8.0),
        degradation: Degradation {
            skew_deg: skew,
            ..Degradation::default()
        },
        ..PageSpec::default()
    };
    render_page(&spec).unwrap().image
}

pub fn save_png_with_dpi(img: &image::GrayImage, path: &Path, dpi: f32) {
    // PNG carries its resolution in pHYs; the pipeline reads it.
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), img.width(), img.height());
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let ppm = (dpi / 0.0254).round() as u32;
    enc.set_pixel_dims(Some(png::PixelDimensions {
        xppu: ppm,
        yppu: ppm,
        unit: png::Unit::Meter,
    }));
    enc.write_header()
        .unwrap()
        .write_image_data(img.as_raw())
        .unwrap();
}

/// A scan whose name names no request, with a Code 128 cover sheet for TN800 in front: the
/// sheet matches it and is left out of the delivered document.
#[test]
fn a_barcode_cover_sheet_matches_the_request_and_is_removed() {
    use quire_pipeline::barcode::{Symbology, sheet};
    let (home, port) = daemon_home("");
    add_request(&home, "TN800");
    let _d = start_daemon(&home, port);
    let staging = home.path().join("staging/batch");
    std::fs::create_dir_all(&staging).unwrap();
    save_png_with_dpi(
        &sheet("TN800", Symbology::Code128, 200.0, (6.0, 8.0)).unwrap(),
        &staging.join("p0.png"),
        200.0,
    );
    save_png_with_dpi(
        &article_page(5, 1, 200.0, 0.0),
        &staging.join("p1.png"),
        200.0,
    );
    std::fs::rename(&staging, home.path().join("var/inbox/batch")).unwrap();
    wait_until(Duration::from_secs(120), "the batch is processed", || {
        jobs(&home).first().is_some_and(|j| {
            ["delivered", "held", "failed", "processed"].contains(&j["state"].as_str().unwrap())
        })
    });
    let job = &jobs(&home)[0];
    assert_eq!(job["request_id"], "TN800", "{job}");
    assert_eq!(
        job["page_count"], 1,
        "the cover sheet is not delivered: {job}"
    );
    let shown: Value = serde_json::from_str(&stdout(&home.ok(&[
        "job",
        "show",
        job["id"].as_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(shown["report"]["pages"][0]["barcode"]["text"], "TN800");
    assert_eq!(shown["report"]["pages"][0]["barcode"]["sheet"], "request");
    assert!(shown["report"]["pages"][0]["output_page"].is_null());
}

/// The same article scanned twice (another resolution and skew): the second job's report names
/// the first, and `quire similar` finds it too; a different article matches nothing.
#[test]
fn a_rescan_is_recognised_as_a_near_duplicate() {
    let (home, port) = daemon_home("");
    add_request(&home, "TN810");
    add_request(&home, "TN811");
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    save_png_with_dpi(
        &article_page(42, 3, 200.0, 0.0),
        &staging.join("a.png"),
        200.0,
    );
    std::fs::rename(staging.join("a.png"), inbox.join("TN810.png")).unwrap();
    wait_until(
        Duration::from_secs(120),
        "the first scan is processed",
        || {
            jobs(&home)
                .first()
                .is_some_and(|j| j["page_count"].as_i64().is_some())
        },
    );
    save_png_with_dpi(
        &article_page(42, 3, 150.0, 1.2),
        &staging.join("b.png"),
        150.0,
    );
    std::fs::rename(staging.join("b.png"), inbox.join("TN811.png")).unwrap();
    wait_until(Duration::from_secs(120), "the rescan is processed", || {
        jobs(&home).len() == 2
            && jobs(&home)
                .iter()
                .all(|j| j["page_count"].as_i64().is_some())
    });
    let all = jobs(&home);
    let first = all
        .iter()
        .find(|j| j["source_name"] == "TN810.png")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = all
        .iter()
        .find(|j| j["source_name"] == "TN811.png")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown: Value =
        serde_json::from_str(&stdout(&home.ok(&["job", "show", &second, "--json"]))).unwrap();
    let near = &shown["report"]["near_duplicates"];
    assert_eq!(near[0]["job"], first.as_str(), "{near}");
    assert!(near[0]["similarity"].as_f64().unwrap() > 0.4, "{near}");
    // The text views say so too: `job show` lists it, the queue's NOTE flags it.
    let text = stdout(&home.ok(&["job", "show", &second]));
    let listed = text
        .split("near-duplicates")
        .nth(1)
        .and_then(|rest| rest.lines().nth(1))
        .unwrap_or_else(|| panic!("no near-duplicates in job show:\n{text}"));
    assert!(listed.contains(&format!("of job {first}")), "{text}");
    let queue = stdout(&home.ok(&["jobs"]));
    let row = queue.lines().find(|l| l.starts_with(&second)).unwrap();
    assert!(
        row.contains(&format!("near-duplicate of {first}")),
        "{queue}"
    );

    let other = staging.join("other.png");
    save_png_with_dpi(&article_page(7, 1, 200.0, 0.0), &other, 200.0);
    let out = stdout(&home.ok(&["similar", other.to_str().unwrap()]));
    assert!(
        out.contains("no earlier job"),
        "a different article matched: {out}"
    );
    let again = staging.join("again.png");
    save_png_with_dpi(&article_page(42, 3, 200.0, -0.7), &again, 200.0);
    let out = stdout(&home.ok(&["similar", again.to_str().unwrap()]));
    assert!(out.contains(&first) && out.contains(&second), "{out}");
}

/// One batch of two requests, each behind its cover sheet and the second also behind a PATCH-T
/// separator: the batch is split into one job per request, each delivered with only its own
/// pages, and the batch's scan leaves the spool once both are out.
#[test]
fn a_batch_with_separator_sheets_becomes_one_job_per_request() {
    use quire_pipeline::barcode::{Symbology, sheet};
    let (home, port) = daemon_home("");
    add_request(&home, "TN820");
    add_request(&home, "TN821");
    let _d = start_daemon(&home, port);
    let staging = home.path().join("staging/batch");
    std::fs::create_dir_all(&staging).unwrap();
    let paper = (6.0, 8.0);
    let pages = [
        sheet("TN820", Symbology::Code128, 200.0, paper).unwrap(),
        article_page(11, 1, 200.0, 0.0),
        article_page(11, 2, 200.0, 0.4),
        sheet("PATCHT", Symbology::Code39, 200.0, paper).unwrap(),
        sheet("TN821", Symbology::Qr, 200.0, paper).unwrap(),
        article_page(12, 1, 200.0, -0.3),
        article_page(12, 2, 200.0, 0.0),
    ];
    for (i, p) in pages.iter().enumerate() {
        save_png_with_dpi(p, &staging.join(format!("p{i}.png")), 200.0);
    }
    std::fs::rename(&staging, home.path().join("var/inbox/batch")).unwrap();
    wait_until(
        Duration::from_secs(180),
        "both documents of the batch are delivered",
        || {
            let all = jobs(&home);
            all.len() == 3 && all.iter().filter(|j| j["state"] == "delivered").count() == 2
        },
    );
    let all = jobs(&home);
    let batch = all.iter().find(|j| j["parent_job"].is_null()).unwrap();
    assert_eq!(batch["state"], "split", "{batch}");
    let id = batch["id"].as_str().unwrap();
    let shown: Value =
        serde_json::from_str(&stdout(&home.ok(&["job", "show", id, "--json"]))).unwrap();
    let documents = shown["documents"].as_array().unwrap();
    let summary: Vec<(String, i64)> = documents
        .iter()
        .map(|d| {
            (
                d["request_id"].as_str().unwrap_or("-").to_string(),
                d["page_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![("TN820".to_string(), 2), ("TN821".to_string(), 2)],
        "{documents:#?}"
    );
    // The batch's page list in text names its sheets as sheets, not as pages.
    let text = stdout(&home.ok(&["job", "show", id]));
    for sheet in [
        "cover sheet (TN820)",
        "cover sheet (TN821)",
        "separator sheet",
    ] {
        assert!(text.contains(sheet), "{sheet} in:\n{text}");
    }
    for d in documents {
        assert_eq!(d["parent_job"], id);
        let report = serde_json::from_str::<Value>(&stdout(&home.ok(&[
            "job",
            "show",
            d["id"].as_str().unwrap(),
            "--json",
        ])))
        .unwrap()["report"]
            .clone();
        let printed: Vec<&str> = report["pages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["printed_page_number"].as_str())
            .collect();
        assert_eq!(
            printed,
            vec!["1", "2"],
            "each document has its own two pages"
        );
    }
    let links: Vec<Value> = serde_json::from_str(&stdout(&home.ok(&["links", "--json"]))).unwrap();
    let mut requests: Vec<&str> = links
        .iter()
        .map(|l| l["request"].as_str().unwrap())
        .collect();
    requests.sort();
    assert_eq!(requests, vec!["TN820", "TN821"]);
    let spool = Path::new(batch["spool_path"].as_str().unwrap());
    assert!(
        !spool.join("batch").exists(),
        "the batch's scan stays in the spool after both deliveries"
    );
    let err = stderr(&home.fails(&["job", "reprocess", documents[0]["id"].as_str().unwrap()]));
    assert!(err.contains("cut from batch"), "{err}");
}

// ---- Hostile input: names, panics, links, special files, a full disk (issue 14) ----

/// A request whose scans go out unattended (no page range to check, no copyright limit).
fn add_plain_request(home: &Home, id: &str) {
    home.ok(&[
        "request",
        "add",
        "--id",
        id,
        "--patron",
        "Hostile Input",
        "--email",
        "hostile@example.org",
        "--basis",
        "public-domain",
    ]);
}

/// A small clean page, good enough to be delivered without review.
pub fn clean_page(seed: u64) -> image::GrayImage {
    use quire_testkit::synth::{PageSpec, render_page};
    render_page(&PageSpec {
        seed,
        page_number: seed as u32,
        dpi: 150.0,
        paper_in: (5.0, 4.0),
        font_pt: 12.0,
        ..PageSpec::default()
    })
    .unwrap()
    .image
}

/// Like [`start_daemon`], with extra environment variables and stderr kept in `log`.
fn job_named<'a>(all: &'a [Value], source: &str) -> Option<&'a Value> {
    all.iter().find(|j| j["source_name"] == source)
}

fn healthz(port: u16) -> (u16, Value) {
    let (status, body) = http(port, "GET", "/healthz", None, None).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A file name that is not UTF-8 used to panic the worker writing the report; the job stayed
/// `processing` and, with one worker, nothing after it was ever processed.
#[test]
fn a_scan_whose_name_is_not_utf8_is_delivered_and_shown_lossily() {
    use std::os::unix::ffi::OsStrExt;
    let (home, port) = daemon_home("concurrent_jobs = 1");
    add_plain_request(&home, "TN900");
    add_plain_request(&home, "TN901");
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let raw = std::ffi::OsStr::from_bytes(b"TN900_\xff\xfe.png");
    save_png_with_dpi(&clean_page(900), &staging.join(raw), 150.0);
    std::fs::rename(staging.join(raw), inbox.join(raw)).unwrap();
    // A right-to-left override: shown raw, "TN901_\u{202e}gnp.exe.png" would read as
    // "TN901_gnp.exe.png" reversed, disguising the name.
    let bidi = "TN901_\u{202e}gnp.exe.png";
    save_png_with_dpi(&clean_page(901), &staging.join(bidi), 150.0);
    std::fs::rename(staging.join(bidi), inbox.join(bidi)).unwrap();

    wait_until(Duration::from_secs(120), "both scans are delivered", || {
        let all = jobs(&home);
        all.len() == 2 && all.iter().all(|j| j["state"] == "delivered")
    });
    let all = jobs(&home);
    let odd = job_named(&all, "TN900_\u{fffd}\u{fffd}.png").expect("shown lossily");
    assert_eq!(odd["request_id"], "TN900");
    let show = stdout(&home.ok(&["job", "show", odd["id"].as_str().unwrap()]));
    assert!(show.contains("TN900_\u{fffd}\u{fffd}.png"), "{show}");
    let listed = stdout(&home.ok(&["jobs"]));
    assert!(
        listed.contains("TN901_\\u{202e}gnp.exe.png") && !listed.contains('\u{202e}'),
        "{listed}"
    );
    let (status, body) = healthz(port);
    assert_eq!(status, 200, "{body}");
    home.ok(&["audit", "verify"]);
}

/// A job whose processing panics (a deliberate test fault standing in for a decoder bug) is
/// tried `max_attempts` times, then failed with the panic's message and its original
/// quarantined; the worker lives on and the next scan is delivered.
#[test]
fn a_panicking_job_is_retried_then_quarantined_and_the_worker_carries_on() {
    let (home, port) = daemon_home("concurrent_jobs = 1\nmax_attempts = 2");
    add_plain_request(&home, "TN910");
    add_plain_request(&home, "TN911");
    let log = home.path().join("daemon.log");
    let _d = start_daemon_logged(&home, port, &[("QUIRE_TEST_PANIC_ON", "POISON")], &log);
    let inbox = home.path().join("var/inbox");
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    for (name, seed) in [("TN910_POISON.png", 910), ("TN911.png", 911)] {
        save_png_with_dpi(&clean_page(seed), &staging.join(name), 150.0);
        std::fs::rename(staging.join(name), inbox.join(name)).unwrap();
        // In this order: the poison is first in the queue.
        std::thread::sleep(Duration::from_millis(1500));
    }
    wait_until(
        Duration::from_secs(120),
        "the poison fails and the good scan is delivered",
        || {
            let all = jobs(&home);
            job_named(&all, "TN910_POISON.png").is_some_and(|j| j["state"] == "failed")
                && job_named(&all, "TN911.png").is_some_and(|j| j["state"] == "delivered")
        },
    );
    let all = jobs(&home);
    let poison = job_named(&all, "TN910_POISON.png").unwrap();
    let id = poison["id"].as_str().unwrap();
    assert_eq!(poison["error_code"], "worker.panic", "{poison}");
    let message = poison["error_message"].as_str().unwrap();
    assert!(
        message.contains("2 time(s)") && message.contains("test fault"),
        "{message}"
    );
    let quarantine = home.path().join("var/quarantine");
    assert!(quarantine.join(id).join("TN910_POISON.png").is_file());
    let note = std::fs::read_to_string(quarantine.join(format!("{id}.error.txt"))).unwrap();
    assert!(
        note.contains("panicked: test fault") && note.contains("intake/src/worker.rs"),
        "{note}"
    );
    let retries = stdout(&home.ok(&["audit", "export", "--action", "job.retry"]));
    assert_eq!(retries.lines().count(), 1, "{retries}");
    let (status, body) = healthz(port);
    assert_eq!(status, 200, "{body}");
    let workers: Vec<&Value> = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "quire-worker-0")
        .collect();
    assert_eq!(workers.len(), 1, "{body}");
    assert_ne!(workers[0]["state"], "dead", "{body}");
    assert!(workers[0]["last_heartbeat"].is_string(), "{body}");
    home.ok(&["audit", "verify"]);
}

/// Links, special files, empty files and folders holding a link used to sit in the inbox
/// without a word. Each now gets its reason: moved to quarantine (a link as the link itself,
/// never followed) or, where moving is unsafe, left, logged once and listed; the daemon keeps
/// running and a good scan dropped after them is delivered.
#[test]
fn hostile_inbox_entries_get_a_reason_and_a_good_scan_still_goes_out() {
    let (home, port) = daemon_home("incomplete_grace_secs = 1.0");
    add_plain_request(&home, "TN920");
    add_plain_request(&home, "TN921");
    let log = home.path().join("daemon.log");
    let _d = start_daemon_logged(&home, port, &[], &log);
    let inbox = home.path().join("var/inbox");
    let outside = home.path().join("outside.png");
    save_png_with_dpi(&clean_page(920), &outside, 150.0);
    let passwd_before = std::fs::read("/etc/passwd").unwrap();
    use std::os::unix::fs::symlink;
    symlink("/etc/passwd", inbox.join("TN920.pdf")).unwrap();
    symlink(&outside, inbox.join("TN920_out.png")).unwrap();
    symlink("/dev/zero", inbox.join("TN920_zero.tif")).unwrap();
    symlink("/", inbox.join("TN920_root")).unwrap();
    std::fs::write(inbox.join("TN920_empty.pdf"), b"").unwrap();
    let folder = inbox.join("TN921");
    std::fs::create_dir(&folder).unwrap();
    save_png_with_dpi(&clean_page(921), &folder.join("p1.png"), 150.0);
    symlink("/etc/passwd", folder.join("p2.png")).unwrap();
    let fifo = inbox.join("TN920_fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // A device node needs root (tests run as root); without it the FIFO stands for both.
    let device = inbox.join("TN920_null");
    let have_device = std::process::Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());

    let quarantine = home.path().join("var/quarantine");
    let note_saying = |needle: &str| -> Option<(String, std::path::PathBuf)> {
        for e in std::fs::read_dir(&quarantine).ok()?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".error.txt") {
                let text = std::fs::read_to_string(e.path()).unwrap();
                if text.contains(needle) {
                    return Some((text, quarantine.join(id)));
                }
            }
        }
        None
    };
    wait_until(
        Duration::from_secs(60),
        "links, the empty file and the folder are quarantined",
        || {
            [
                "source: TN920.pdf\n",
                "source: TN920_out.png\n",
                "source: TN920_zero.tif\n",
                "source: TN920_root\n",
                "source: TN920_empty.pdf\n",
                "source: TN921\n",
            ]
            .iter()
            .all(|n| note_saying(n).is_some())
        },
    );
    for (name, words) in [
        ("TN920.pdf", "symbolic link (to /etc/passwd)"),
        ("TN920_zero.tif", "symbolic link (to /dev/zero)"),
        ("TN920_root", "symbolic link (to /)"),
        ("TN920_out.png", "never follows links"),
        ("TN920_empty.pdf", "empty file (0 bytes)"),
        ("TN921", "p2.png, which is a symbolic link (to /etc/passwd)"),
    ] {
        let (note, dir) = note_saying(&format!("source: {name}\n")).unwrap();
        assert!(note.contains(words), "{name}: {note}");
        let kept = dir.join(name);
        assert!(
            std::fs::symlink_metadata(&kept).is_ok(),
            "{name} is kept in {}",
            dir.display()
        );
        assert!(!inbox.join(name).exists() && inbox.join(name).symlink_metadata().is_err());
    }
    // Moved as links, never followed or copied.
    for name in ["TN920.pdf", "TN920_out.png", "TN920_zero.tif", "TN920_root"] {
        let (_, dir) = note_saying(&format!("source: {name}\n")).unwrap();
        assert!(dir.join(name).symlink_metadata().unwrap().is_symlink());
    }
    let (_, dir) = note_saying("source: TN921\n").unwrap();
    assert!(
        dir.join("TN921/p2.png")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd_before);
    assert!(outside.is_file());

    // The FIFO (and the device) stay, listed with their reason.
    assert!(fifo.symlink_metadata().is_ok());
    let (status, body) = healthz(port);
    assert_eq!(
        status, 200,
        "ignored entries do not make intake unhealthy: {body}"
    );
    let ignored = body["ignored"].to_string();
    assert!(
        ignored.contains("TN920_fifo") && ignored.contains("FIFO"),
        "{body}"
    );
    if have_device {
        assert!(ignored.contains("character device"), "{body}");
    }
    let page = crate::util::staff_page_as_new_technician(&home, port, "tess", "/staff/jobs");
    assert!(
        page.contains("TN920_fifo") && page.contains("ignored, with reason"),
        "{page}"
    );
    assert!(page.contains("refused, in quarantine") && page.contains("TN920_empty.pdf"));

    // Still running: a good scan is delivered, nothing from above became a job.
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    save_png_with_dpi(&clean_page(922), &staging.join("TN920.png"), 150.0);
    std::fs::rename(staging.join("TN920.png"), inbox.join("TN920.png")).unwrap();
    wait_until(
        Duration::from_secs(120),
        "the good scan is delivered",
        || {
            let all = jobs(&home);
            job_named(&all, "TN920.png").is_some_and(|j| j["state"] == "delivered")
        },
    );
    assert_eq!(jobs(&home).len(), 1, "{:#?}", jobs(&home));
    let refused = stdout(&home.ok(&["audit", "export", "--action", "intake.refused"]));
    assert_eq!(refused.lines().count(), 6, "{refused}");
    // Logged once, not at every look.
    let text = std::fs::read_to_string(&log).unwrap();
    let fifo_lines = text
        .lines()
        .filter(|l| l.contains("TN920_fifo") && l.contains("ignored"))
        .count();
    assert_eq!(fifo_lines, 1, "{text}");
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::remove_file(&device);
}

/// A tmpfs mounted for one test and unmounted however the test ends.
struct Tmpfs {
    dir: std::path::PathBuf,
}

impl Tmpfs {
    /// `None` (after saying why) where mounting is not permitted.
    fn mount(dir: &Path, size_mb: u64) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "none"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self {
                dir: dir.to_owned(),
            }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs at {} ({}); this test needs root",
                    dir.display(),
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so a process still holding a file there cannot keep it mounted.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

/// Fills the file system holding `path` with a ballast file until a write fails, then gives
/// back `leave_mb`, so about that much stays free.
fn ballast(path: &Path, leave_mb: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = f.flush();
    f.set_len(written.saturating_sub(leave_mb << 20)).unwrap();
    f.sync_all().unwrap();
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                pending.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// With the spool and database on a nearly full disk, intake stops taking scans (they stay in
/// the inbox as they were), /healthz and the queue page say why, and work resumes by itself
/// when space returns.
#[test]
fn a_full_data_disk_pauses_intake_until_space_returns() {
    let (home, port) = daemon_home("min_free_mb = 24\ninbox = \"inbox\"");
    let Some(_tmpfs) = Tmpfs::mount(&home.path().join("var"), 64) else {
        return;
    };
    add_plain_request(&home, "TN930");
    let log = home.path().join("daemon.log");
    let _d = start_daemon_logged(&home, port, &[], &log);
    let (status, body) = healthz(port);
    assert_eq!(status, 200, "{body}");

    let weight = home.path().join("var/ballast");
    ballast(&weight, 12);
    wait_until(
        Duration::from_secs(20),
        "/healthz reports the full disk",
        || {
            let (status, body) = healthz(port);
            status == 503
                && body["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("disk full: ")
        },
    );
    let (_, body) = healthz(port);
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.contains("MB free under") && reason.contains("var/spool"),
        "{reason}"
    );

    let inbox = home.path().join("inbox");
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    save_png_with_dpi(&clean_page(930), &staging.join("TN930.png"), 150.0);
    let bytes = std::fs::read(staging.join("TN930.png")).unwrap();
    std::fs::rename(staging.join("TN930.png"), inbox.join("TN930.png")).unwrap();
    // Many settle delays: it would have been taken long before.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(std::fs::read(inbox.join("TN930.png")).unwrap(), bytes);
    assert!(jobs(&home).is_empty(), "{:#?}", jobs(&home));
    let page = crate::util::staff_page_as_new_technician(&home, port, "dora", "/staff/jobs");
    assert!(
        page.contains("Intake needs attention") && page.contains("disk full: "),
        "{page}"
    );

    std::fs::remove_file(&weight).unwrap();
    wait_until(Duration::from_secs(120), "the scan is delivered", || {
        jobs(&home)
            .first()
            .is_some_and(|j| j["state"] == "delivered")
    });
    let (status, body) = healthz(port);
    assert_eq!(status, 200, "{body}");
    assert!(!inbox.join("TN930.png").exists());
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("intake paused").count(),
        1,
        "logged once:\n{text}"
    );
}

/// A scan copied into a spool on another file system that fills up mid-copy: the partial copy
/// is removed, no job is recorded, the scan stays in the inbox and is taken once there is room.
#[test]
fn a_copy_cut_short_by_a_full_disk_leaves_nothing_behind() {
    let (home, port) = daemon_home("min_free_mb = 1\ninbox = \"inbox\"");
    let Some(_tmpfs) = Tmpfs::mount(&home.path().join("var"), 64) else {
        return;
    };
    add_plain_request(&home, "TN940");
    let log = home.path().join("daemon.log");
    let _d = start_daemon_logged(&home, port, &[], &log);
    let weight = home.path().join("var/ballast");
    ballast(&weight, 3);

    // Noise does not compress: a PNG of about 6 MB, more than the 3 MB left.
    let mut seed = 0x9e3779b97f4a7c15u64;
    let noise = image::GrayImage::from_fn(2500, 2500, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        image::Luma([(seed >> 32) as u8])
    });
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    save_png_with_dpi(&noise, &staging.join("TN940.png"), 300.0);
    let bytes = std::fs::read(staging.join("TN940.png")).unwrap();
    assert!(bytes.len() > 5 << 20, "{} bytes", bytes.len());
    let inbox = home.path().join("inbox");
    std::fs::rename(staging.join("TN940.png"), inbox.join("TN940.png")).unwrap();

    wait_until(
        Duration::from_secs(30),
        "a copy into the spool failed",
        || {
            std::fs::read_to_string(&log)
                .is_ok_and(|t| t.contains("could not take scan into custody"))
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(std::fs::read(inbox.join("TN940.png")).unwrap(), bytes);
    assert!(jobs(&home).is_empty(), "{:#?}", jobs(&home));
    let spool = home.path().join("var/spool");
    let left: Vec<_> = files_under(&spool);
    assert!(
        left.is_empty(),
        "nothing half-written in the spool: {left:?}"
    );

    std::fs::remove_file(&weight).unwrap();
    wait_until(Duration::from_secs(60), "the scan is taken", || {
        jobs(&home).len() == 1 && !inbox.join("TN940.png").exists()
    });
    let job = &jobs(&home)[0];
    let spooled = Path::new(job["spool_path"].as_str().unwrap()).join("TN940.png");
    if spooled.exists() {
        assert_eq!(std::fs::read(&spooled).unwrap(), bytes);
    }
}

/// `[node] roles` picks the parts a daemon runs: a web-only node leaves its inbox alone and
/// serves the console; an intake-only node takes scans into custody but neither processes them
/// nor serves the console. Each one's `/healthz` names it and its roles.
#[test]
fn a_node_runs_only_the_parts_its_roles_name() {
    // Web only: the scan stays where it was dropped.
    let (home, port) = daemon_home("[node]\nname = \"front-1\"\nroles = [\"web\"]");
    add_request(&home, "TN960");
    let d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    std::fs::copy(corpus("baiona_color.jpg"), inbox.join("TN960.jpg")).unwrap();
    let (status, health) = healthz(port);
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["node"]["name"], "front-1", "{health}");
    assert_eq!(
        health["node"]["roles"],
        serde_json::json!(["web"]),
        "{health}"
    );
    let (status, _) = http(port, "GET", "/staff/login", None, None).unwrap();
    assert_eq!(status, 200, "a web node serves the console");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        inbox.join("TN960.jpg").is_file(),
        "a web-only node took a scan"
    );
    assert!(jobs(&home).is_empty(), "{:?}", jobs(&home));
    drop(d);

    // Intake only: taken into custody, and there it waits for a worker.
    let (home, port) = daemon_home("[node]\nname = \"station-1\"\nroles = [\"intake\"]");
    add_request(&home, "TN961");
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    std::fs::copy(corpus("baiona_color.jpg"), inbox.join("TN961.jpg")).unwrap();
    wait_until(Duration::from_secs(30), "the scan is taken", || {
        jobs(&home).len() == 1
    });
    std::thread::sleep(Duration::from_secs(3));
    let j = jobs(&home);
    assert_eq!(
        j[0]["state"], "received",
        "an intake-only node processed a job: {j:?}"
    );
    let (_, health) = healthz(port);
    assert_eq!(
        health["node"]["roles"],
        serde_json::json!(["intake"]),
        "{health}"
    );
    let (status, _) = http(port, "GET", "/staff/login", None, None).unwrap();
    assert_eq!(status, 404, "an intake-only node serves no console");
}

/// The hold policy decides from outcomes: a scan of nothing but blank paper is held (it must
/// never reach a borrower), and a page skewed past 5° that Quire measured, straightened and
/// read well goes out, with the skew noted rather than held.
#[test]
fn a_blank_scan_is_held_and_a_corrected_skew_with_good_ocr_is_not() {
    let (home, port) = daemon_home("");
    for id in ["TN780", "TN781"] {
        add_plain_request(&home, id);
    }
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    let staged = home.path().join("staged");
    std::fs::create_dir_all(&staged).unwrap();
    let blank = image::GrayImage::from_pixel(750, 1000, image::Luma([250u8]));
    save_png_with_dpi(&blank, &staged.join("TN780.png"), 150.0);
    save_png_with_dpi(
        &article_page(781, 3, 200.0, 6.0),
        &staged.join("TN781.png"),
        200.0,
    );
    for name in ["TN780.png", "TN781.png"] {
        std::fs::rename(staged.join(name), inbox.join(name)).unwrap();
    }
    wait_until(Duration::from_secs(240), "both scans are settled", || {
        let all = jobs(&home);
        all.len() == 2
            && all
                .iter()
                .all(|j| ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap()))
    });
    let all = jobs(&home);
    let blank_job = job_named(&all, "TN780.png").unwrap();
    assert_eq!(blank_job["state"], "held", "{blank_job}");
    let reason = blank_job["hold_reason"].as_str().unwrap();
    assert!(reason.contains("[scan.blank]"), "{reason}");
    let skewed = job_named(&all, "TN781.png").unwrap();
    assert_eq!(skewed["state"], "delivered", "{skewed}");
    let processed = stdout(&home.ok(&["audit", "export", "--action", "job.processed"]));
    let event: Value = processed
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["subjects"]["job"] == skewed["id"])
        .unwrap();
    let notes = event["details"]["notes"].to_string();
    assert!(
        notes.contains("quality.too_skewed"),
        "the skew is noted: {event}"
    );
    assert_eq!(event["details"]["outcome"], "ready", "{event}");
}

/// The same scan dropped again for a request whose copy from it is still downloadable is held
/// (the borrower has it; a second copy would also count again), and the hold says why.
#[test]
fn an_identical_rescan_while_the_first_link_is_active_is_held() {
    let (home, port) = daemon_home("");
    add_plain_request(&home, "TN790");
    let _d = start_daemon(&home, port);
    let inbox = home.path().join("var/inbox");
    let staged = home.path().join("staged");
    std::fs::create_dir_all(&staged).unwrap();
    let page = clean_page(790);
    let settled = |n: usize| {
        let all = jobs(&home);
        all.len() == n
            && all
                .iter()
                .all(|j| ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap()))
    };
    save_png_with_dpi(&page, &staged.join("TN790.png"), 150.0);
    std::fs::rename(staged.join("TN790.png"), inbox.join("TN790.png")).unwrap();
    wait_until(
        Duration::from_secs(120),
        "the first scan is settled",
        || settled(1),
    );
    assert_eq!(jobs(&home)[0]["state"], "delivered", "{:#?}", jobs(&home));
    // The same file again, under a name that says the same request.
    save_png_with_dpi(&page, &staged.join("TN790 again.png"), 150.0);
    std::fs::rename(
        staged.join("TN790 again.png"),
        inbox.join("TN790 again.png"),
    )
    .unwrap();
    wait_until(Duration::from_secs(120), "the rescan is settled", || {
        settled(2)
    });
    let all = jobs(&home);
    let again = job_named(&all, "TN790 again.png").unwrap();
    assert_eq!(again["state"], "held", "{again}");
    let reason = again["hold_reason"].as_str().unwrap();
    assert!(
        reason.contains("delivered for request TN790 already") && reason.contains("still active"),
        "{reason}"
    );
    // A name naming a request that does not exist: the hold says what the name said.
    save_png_with_dpi(&clean_page(791), &staged.join("TN55555.png"), 150.0);
    std::fs::rename(staged.join("TN55555.png"), inbox.join("TN55555.png")).unwrap();
    wait_until(
        Duration::from_secs(120),
        "the stray scan is settled",
        || settled(3),
    );
    let all = jobs(&home);
    let stray = job_named(&all, "TN55555.png").unwrap();
    assert_eq!(stray["state"], "held", "{stray}");
    let reason = stray["hold_reason"].as_str().unwrap();
    assert!(
        reason.contains("the file name says TN55555, and there is no such request")
            && reason.contains("[request.unmatched]")
            && !reason.contains("quire "),
        "{reason}"
    );
    let stray_id = stray["id"].as_str().unwrap().to_string();
    // A typo when matching: refused, with the similar ids offered; nothing changes.
    let typo = home.fails(&["job", "match", &stray_id, "TN7900"]);
    let said = crate::util::describe(&typo);
    assert!(
        said.contains("no request TN7900") && said.contains("did you mean TN790"),
        "{said}"
    );
    // The request arrives after its scan: the held scan is matched to it at once, re-checked
    // for it, and goes out, with the audit log saying it was the file name.
    let added = home.ok(&[
        "request",
        "add",
        "--id",
        "TN55555",
        "--patron",
        "Late Reader",
        "--email",
        "late@example.org",
        "--title",
        "Journal of Late Requests",
        "--basis",
        "ccg",
    ]);
    let said = stdout(&added);
    assert!(
        said.contains(&format!("held scan {stray_id} was waiting for it"))
            && said.contains("matched to request TN55555: nothing else needs a person"),
        "{said}"
    );
    wait_until(
        Duration::from_secs(120),
        "the late request's scan is delivered",
        || job_named(&jobs(&home), "TN55555.png").is_some_and(|j| j["state"] == "delivered"),
    );
    let audit = stdout(&home.ok(&[
        "audit",
        "search",
        "--request",
        "TN55555",
        "--format",
        "jsonl",
    ]));
    assert!(
        audit.contains("job.matched") && audit.contains("file name"),
        "{audit}"
    );
    // Matching a held rescan to another request re-checks it: its live-copy hold belonged to
    // TN790 and goes; the CLI says what happens next.
    let again_id = again["id"].as_str().unwrap().to_string();
    let matched = stdout(&home.ok(&["job", "match", &again_id, "TN55555"]));
    assert!(matched.contains("matched to request TN55555"), "{matched}");
}
