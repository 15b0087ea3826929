//! `quire scan` end to end, against the real SANE `test` backend: an ADF batch landing in the
//! inbox, fault exit codes and audit events, Ctrl-C keeping a partial file, option errors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{Home, describe, stderr, stdout};

/// A Quire home whose SANE config loads only the test backend.
fn home() -> Home {
    let home = Home::new();
    let sane = home.path().join("sane");
    std::fs::create_dir_all(&sane).unwrap();
    std::fs::write(sane.join("dll.conf"), "test\n").unwrap();
    home
}

fn scan(home: &Home, args: &[&str]) -> Command {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    let mut c = home.cmd(&all);
    c.env("SANE_CONFIG_DIR", home.path().join("sane"));
    c
}

/// Runs a scan that ends in a fault. SANE's test backend cancels its reader thread
/// asynchronously (`pthread_cancel`) when `sane_cancel` follows a forced read status, and a
/// thread cancelled inside `malloc` deadlocks at its own exit (seen under load: the reader stuck
/// in `tcache_thread_shutdown`, `sane_test_cancel` joining it forever). That is the backend's
/// bug, not a scanner's, so a run that hangs there is killed and tried again (its partial file
/// removed), at most three times; the run that ends is checked in full.
fn scan_fault(home: &Home, args: &[&str], request: &str) -> std::process::Output {
    for _ in 0..3 {
        let mut child = scan(home, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(inbox(home).join(format!(".{request}.tif.part")));
    }
    panic!("quire scan {args:?} hung three times");
}

fn inbox(home: &Home) -> PathBuf {
    home.path().join("var/inbox")
}

fn inbox_names(home: &Home) -> Vec<String> {
    match std::fs::read_dir(inbox(home)) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Counts the images in a little-endian TIFF by walking its directory chain.
fn tiff_pages(path: &Path) -> usize {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        &b[..4],
        b"II*\0",
        "{} is not a little-endian TIFF",
        path.display()
    );
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    let (mut offset, mut pages) = (u32_at(4), 0);
    while offset != 0 {
        pages += 1;
        offset = u32_at(offset + 2 + 12 * u16_at(offset));
    }
    pages
}

fn audit_events(home: &Home, request: &str) -> Vec<serde_json::Value> {
    let out = home.ok(&["audit", "export", "--request", request]);
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn list_shows_devices_and_their_options() {
    let home = home();
    let out = scan(&home, &["--list"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("test:0") && text.contains("test:1"), "{text}");
    assert!(
        text.contains("--option read-return-value=Default|"),
        "{text}"
    );
    assert!(text.contains("--option resolution=1..1200dpi"), "{text}");
}

#[test]
fn help_documents_every_exit_code() {
    let out = crate::util::quire()
        .args(["scan", "--help"])
        .output()
        .unwrap();
    let text = stdout(&out);
    for code in ["20", "21", "22", "23", "24", "25", "26", "27", "28", "130"] {
        assert!(
            text.contains(&format!("  {code} ")),
            "exit code {code} undocumented:\n{text}"
        );
    }
}

#[test]
fn adf_batch_lands_in_the_inbox_named_for_the_request_and_is_audited() {
    let home = home();
    let out = scan(
        &home,
        &[
            "--device",
            "test:0",
            "--request",
            "REQ-7",
            "--source",
            "adf",
            "--dpi",
            "50",
            "--mode",
            "gray",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let file = inbox(&home).join("REQ-7.tif");
    assert_eq!(stdout(&out).trim(), file.display().to_string());
    assert_eq!(
        inbox_names(&home),
        vec!["REQ-7.tif"],
        "only the finished file, no temporaries"
    );
    assert_eq!(tiff_pages(&file), 10);
    let err = stderr(&out);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("page ")).count(),
        10,
        "one progress line per page:\n{err}"
    );
    let events = audit_events(&home, "REQ-7");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["action"], "scan.captured");
    assert_eq!(events[0]["details"]["pages_kept"], 10);

    // A second scan for the same request never overwrites the first.
    let again = scan(
        &home,
        &[
            "--device",
            "test:0",
            "--request",
            "REQ-7",
            "--source",
            "flatbed",
            "--dpi",
            "50",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(again.status.code(), Some(28), "{}", describe(&again));
    assert_eq!(tiff_pages(&file), 10);
}

#[test]
fn each_fault_has_its_exit_code_message_and_audit_event() {
    let home = home();
    let cases = [
        ("SANE_STATUS_JAMMED", 23, "jammed", "scan.fault.jammed"),
        (
            "SANE_STATUS_COVER_OPEN",
            24,
            "cover is open",
            "scan.fault.cover_open",
        ),
        (
            "SANE_STATUS_DEVICE_BUSY",
            25,
            "device busy",
            "scan.fault.busy",
        ),
        ("SANE_STATUS_IO_ERROR", 26, "I/O", "scan.fault.io_error"),
        (
            "SANE_STATUS_NO_DOCS",
            22,
            "feeder is empty",
            "scan.fault.feeder_empty",
        ),
    ];
    for (status, code, words, action) in cases {
        let request = format!("REQ-{code}");
        let option = format!("read-return-value={status}");
        let out = scan_fault(
            &home,
            &[
                "-d",
                "test:0",
                "--request",
                &request,
                "--source",
                "adf",
                "--dpi",
                "50",
                "--option",
                &option,
            ],
            &request,
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{status}: {}",
            describe(&out)
        );
        assert!(stderr(&out).contains(words), "{status}: {}", stderr(&out));
        let events = audit_events(&home, &request);
        assert_eq!(events.len(), 1, "{status}: {events:?}");
        assert_eq!(events[0]["action"], action);
        assert_eq!(events[0]["subjects"]["request"], request.as_str());
        assert_eq!(events[0]["details"]["exit_code"], code);
    }
    assert!(
        inbox_names(&home).is_empty(),
        "nothing lands after a fault: {:?}",
        inbox_names(&home)
    );
}

#[test]
fn ctrl_c_keeps_the_pages_so_far_in_a_partial_file_outside_the_inbox() {
    let home = home();
    let mut child = scan(
        &home,
        &[
            "-d",
            "test:0",
            "--request",
            "REQ-C",
            "--source",
            "adf",
            "--dpi",
            "50",
            // The test backend then takes about 0.2 s a page: time to interrupt mid-batch.
            "--option",
            "read-delay=yes",
            "--option",
            "read-delay-duration=200000",
        ],
    )
    .stderr(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("page 2:") {
            break;
        }
    }
    assert!(
        seen.contains("page 2:"),
        "the scan did not get to page 2:\n{seen}"
    );
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    let partial = home.path().join("var/scan-partial/REQ-C.partial.tif");
    assert!(
        seen.contains(&partial.display().to_string()),
        "says where the pages are:\n{seen}"
    );
    let kept = tiff_pages(&partial);
    assert!((2..10).contains(&kept), "{kept} pages kept");
    assert!(inbox_names(&home).is_empty(), "{:?}", inbox_names(&home));
    let events = audit_events(&home, "REQ-C");
    assert_eq!(events[0]["action"], "scan.fault.cancelled");
    assert_eq!(events[0]["details"]["pages_kept"], kept);
}

#[test]
fn unknown_devices_and_options_are_reported_with_what_exists() {
    let home = home();
    let out = scan(&home, &["--device", "nosuch:0", "--dpi", "50"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(20), "{}", describe(&out));
    assert!(stderr(&out).contains("test:0"), "{}", stderr(&out));

    let out = scan(&home, &["-d", "test:0", "--option", "no-such-option=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(21), "{}", describe(&out));
    assert!(stderr(&out).contains("no-such-option"), "{}", stderr(&out));

    let out = scan(&home, &["-d", "test:0", "--profile", "scansnap-ix1500"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(21), "{}", describe(&out));
    assert!(stderr(&out).contains("ADF Duplex"), "{}", stderr(&out));

    let out = scan(&home, &["-d", "test:0", "--profile", "nonesuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("scansnap-ix1500"),
        "lists the known profiles: {}",
        stderr(&out)
    );

    let out = scan(&home, &["-d", "test:0", "--request", "../etc/passwd"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(inbox_names(&home).is_empty());
}

#[test]
fn lineart_three_pass_and_hand_scanner_scans_land() {
    let home = home();
    let runs: [(&str, &[&str]); 3] = [
        ("REQ-L", &["--mode", "lineart"]),
        ("REQ-3", &["--mode", "color", "--option", "three-pass=yes"]),
        ("REQ-H", &["--option", "hand-scanner=yes"]),
    ];
    for (request, extra) in runs {
        let mut args = vec![
            "-d",
            "test:0",
            "--request",
            request,
            "--source",
            "flatbed",
            "--dpi",
            "50",
        ];
        args.extend_from_slice(extra);
        let out = scan(&home, &args).output().unwrap();
        assert!(out.status.success(), "{request}: {}", describe(&out));
        assert_eq!(tiff_pages(&inbox(&home).join(format!("{request}.tif"))), 1);
    }
}
