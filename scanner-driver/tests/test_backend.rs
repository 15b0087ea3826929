//! Captures from the real SANE `test` backend (no mocks): ADF batches, depths, colour modes,
//! three-pass and hand-scanner frames, and every injectable fault. Pixel data is checked
//! against what `scanimage` gets from the same device with the same options.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use quire_scanner_driver::{
    BatchPlan, CaptureFailure, Captured, ColorMode, FaultClass, Landing, PageEvent, Profile, Sane,
    ScanError, Settings, Source, capture, profile,
};
use tiff::decoder::{Decoder, DecodingResult};

/// Points SANE at a config folder whose dll.conf loads only the test backend. Done once, before
/// any test touches libsane, and shared with the `scanimage` child processes.
fn sane_test_backend() {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("quire-scanner-driver-sane-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dll.conf"), "test\n").unwrap();
        // SAFETY: runs once under OnceLock before any thread reads SANE_CONFIG_DIR.
        unsafe { std::env::set_var("SANE_CONFIG_DIR", &dir) };
        dir
    });
}

struct Run {
    _dir: tempfile::TempDir,
    landing: Landing,
    outcome: Result<Captured, CaptureFailure>,
    events: Vec<PageEvent>,
    notes: Vec<String>,
}

impl Run {
    fn ok(&self) -> &Captured {
        match &self.outcome {
            Ok(c) => c,
            Err(f) => panic!("capture failed: {f}"),
        }
    }

    fn err(&self) -> &CaptureFailure {
        match &self.outcome {
            Ok(c) => panic!(
                "capture succeeded with {} pages, expected a fault",
                c.report.kept
            ),
            Err(f) => f,
        }
    }
}

struct Options<'a> {
    settings: Settings,
    profile: Profile,
    duplex: Option<bool>,
    cancel_after: Option<u32>,
    blank: Option<quire_scanner_driver::BlankTest<'a>>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            profile: Profile::generic(),
            duplex: None,
            cancel_after: None,
            blank: None,
        }
    }
}

fn settings(source: Source, mode: ColorMode, dpi: f64, extra: &[(&str, &str)]) -> Settings {
    Settings {
        source: Some(source),
        mode: Some(mode),
        dpi: Some(dpi),
        page: None,
        extra_options: extra
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    }
}

fn run(opts: Options<'_>) -> Run {
    sane_test_backend();
    let dir = tempfile::tempdir().unwrap();
    let landing = Landing {
        inbox: dir.path().join("inbox"),
        partial_dir: dir.path().join("scan-partial"),
        stem: "REQ-1".into(),
    };
    let sane = Sane::init().unwrap();
    let mut device = sane.open(Some("test:0")).unwrap();
    let mut events = Vec::new();
    let (outcome, notes) = match profile::apply(&mut device, &opts.profile, &opts.settings) {
        Err(error) => (
            Err(CaptureFailure {
                error,
                report: Default::default(),
                partial: None,
            }),
            Vec::new(),
        ),
        Ok(report) => {
            let plan = BatchPlan {
                feeder: report.feeder,
                duplex: opts.duplex.unwrap_or(report.duplex),
                max_pages: None,
                dpi: report.dpi,
                compression: Default::default(),
            };
            let cancel = device.cancel_handle();
            let outcome = capture(
                &mut device,
                &plan,
                &landing,
                opts.blank,
                &mut |e: &PageEvent| {
                    events.push(e.clone());
                    if opts.cancel_after == Some(e.scanned) {
                        cancel.cancel();
                    }
                },
            );
            (outcome, report.notes)
        }
    };
    Run {
        _dir: dir,
        landing,
        outcome,
        events,
        notes,
    }
}

/// One decoded TIFF page: dimensions, colour type and samples widened to u16.
#[derive(Debug)]
struct TiffPage {
    width: u32,
    height: u32,
    color: tiff::ColorType,
    samples: Vec<u16>,
}

fn read_tiff(path: &Path) -> Vec<TiffPage> {
    let mut decoder = Decoder::new(BufReader::new(File::open(path).unwrap())).unwrap();
    let mut pages = Vec::new();
    loop {
        let (width, height) = decoder.dimensions().unwrap();
        let color = decoder.colortype().unwrap();
        let samples = match decoder.read_image().unwrap() {
            DecodingResult::U8(v) => v.into_iter().map(u16::from).collect(),
            DecodingResult::U16(v) => v,
            other => panic!(
                "unexpected sample type {:?}",
                std::mem::discriminant(&other)
            ),
        };
        pages.push(TiffPage {
            width,
            height,
            color,
            samples,
        });
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().unwrap();
    }
    pages
}

/// A PNM from scanimage: P4 (packed, 1 = black), P5 or P6 (8 or 16-bit big-endian).
struct Pnm {
    width: u32,
    height: u32,
    samples: Vec<u16>,
}

fn scanimage(args: &[&str]) -> Pnm {
    sane_test_backend();
    let out = Command::new("scanimage")
        .args(["-d", "test:0", "--format=pnm"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scanimage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_pnm(&out.stdout)
}

fn parse_pnm(bytes: &[u8]) -> Pnm {
    let mut fields = Vec::new();
    let mut i = 0;
    let want = if &bytes[..2] == b"P4" { 3 } else { 4 };
    while fields.len() < want {
        if bytes[i] == b'#' {
            while bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i].is_ascii_whitespace() {
            i += 1;
        } else {
            let start = i;
            while !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
        }
    }
    let data = &bytes[i + 1..];
    let width: u32 = fields[1].parse().unwrap();
    let height: u32 = fields[2].parse().unwrap();
    let samples = match (fields[0].as_str(), fields.get(3).map(|s| s.as_str())) {
        ("P4", _) => {
            // Unpacked to one sample per pixel, 1 = black, like SANE.
            let row = width.div_ceil(8) as usize;
            (0..height as usize)
                .flat_map(|y| {
                    (0..width as usize)
                        .map(move |x| (data[y * row + x / 8] >> (7 - x % 8)) as u16 & 1)
                })
                .collect()
        }
        (_, Some("65535")) => data
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
        _ => data.iter().map(|&b| u16::from(b)).collect(),
    };
    Pnm {
        width,
        height,
        samples,
    }
}

fn unpack_bilevel(page: &TiffPage) -> Vec<u16> {
    // The tiff crate hands 1-bit pages back packed, rows padded to whole bytes; 0 = black.
    let row = page.width.div_ceil(8) as usize;
    (0..page.height as usize)
        .flat_map(|y| {
            (0..page.width as usize)
                .map(move |x| 1 - ((page.samples[y * row + x / 8] >> (7 - x % 8)) & 1))
        })
        .collect()
}

#[test]
fn adf_batch_of_ten_pages_lands_in_the_inbox_as_one_tiff() {
    let r = run(Options {
        settings: settings(
            Source::Adf,
            ColorMode::Gray,
            50.0,
            &[("test-picture", "Grid")],
        ),
        ..Default::default()
    });
    let captured = r.ok();
    assert_eq!(captured.path, r.landing.final_path());
    assert_eq!((captured.report.scanned, captured.report.kept), (10, 10));
    assert_eq!(
        r.events.iter().map(|e| e.scanned).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert!(
        !r.landing.temp_path().exists(),
        "temporary file left behind"
    );
    let pages = read_tiff(&captured.path);
    assert_eq!(pages.len(), 10);
    let reference = scanimage(&[
        "--source",
        "Automatic Document Feeder",
        "--mode",
        "Gray",
        "--resolution",
        "50",
        "--test-picture",
        "Grid",
    ]);
    for page in &pages {
        assert_eq!(
            (page.width, page.height),
            (reference.width, reference.height)
        );
        assert_eq!(page.color, tiff::ColorType::Gray(8));
        assert_eq!(page.samples, reference.samples);
    }
    let inbox: Vec<_> = std::fs::read_dir(&r.landing.inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(inbox, vec![std::ffi::OsString::from("REQ-1.tif")]);
}

#[test]
fn flatbed_scans_one_page_and_records_the_resolution() {
    let r = run(Options {
        settings: settings(Source::Flatbed, ColorMode::Gray, 75.0, &[]),
        ..Default::default()
    });
    let captured = r.ok();
    assert_eq!(captured.report.kept, 1);
    let mut decoder = Decoder::new(File::open(&captured.path).unwrap()).unwrap();
    let x_res = decoder.get_tag(tiff::tags::Tag::XResolution).unwrap();
    assert_eq!(format!("{x_res:?}"), "Rational(7500, 100)");
}

fn compare_with_scanimage(mode: ColorMode, depth: &str, expect: tiff::ColorType) {
    let sane_mode = if mode == ColorMode::Color {
        "Color"
    } else {
        "Gray"
    };
    let r = run(Options {
        settings: settings(
            Source::Flatbed,
            mode,
            50.0,
            &[("depth", depth), ("test-picture", "Color pattern")],
        ),
        ..Default::default()
    });
    let pages = read_tiff(&r.ok().path);
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    assert_eq!(page.color, expect, "{sane_mode} depth {depth}");
    let reference = scanimage(&[
        "--mode",
        sane_mode,
        "--depth",
        depth,
        "--resolution",
        "50",
        "--test-picture",
        "Color pattern",
    ]);
    assert_eq!(
        (page.width, page.height),
        (reference.width, reference.height)
    );
    let ours = if expect == tiff::ColorType::Gray(1) {
        unpack_bilevel(page)
    } else {
        page.samples.clone()
    };
    assert_eq!(ours.len(), reference.samples.len());
    assert!(
        ours == reference.samples,
        "{sane_mode} depth {depth}: pixels differ from scanimage"
    );
    assert!(
        ours.iter().any(|&s| s != ours[0]),
        "a colour pattern must not be uniform"
    );
}

#[test]
fn gray_depth_1_is_bilevel_and_matches_scanimage() {
    compare_with_scanimage(ColorMode::Gray, "1", tiff::ColorType::Gray(1));
}

#[test]
fn gray_depth_8_matches_scanimage() {
    compare_with_scanimage(ColorMode::Gray, "8", tiff::ColorType::Gray(8));
}

#[test]
fn gray_depth_16_matches_scanimage() {
    compare_with_scanimage(ColorMode::Gray, "16", tiff::ColorType::Gray(16));
}

#[test]
fn colour_depth_8_matches_scanimage() {
    compare_with_scanimage(ColorMode::Color, "8", tiff::ColorType::RGB(8));
}

#[test]
fn colour_depth_16_matches_scanimage() {
    compare_with_scanimage(ColorMode::Color, "16", tiff::ColorType::RGB(16));
}

#[test]
fn lineart_falls_back_to_gray_at_depth_1_with_a_note() {
    let r = run(Options {
        settings: settings(Source::Flatbed, ColorMode::Lineart, 50.0, &[]),
        ..Default::default()
    });
    assert!(
        r.notes.iter().any(|n| n.contains("no lineart mode")),
        "{:?}",
        r.notes
    );
    let pages = read_tiff(&r.ok().path);
    assert_eq!(pages[0].color, tiff::ColorType::Gray(1));
    // The default test picture is solid black.
    assert!(unpack_bilevel(&pages[0]).iter().all(|&s| s == 1));
}

#[test]
fn three_pass_colour_is_interleaved_like_single_pass() {
    let pattern = [("test-picture", "Color pattern")];
    let single = run(Options {
        settings: settings(Source::Flatbed, ColorMode::Color, 50.0, &pattern),
        ..Default::default()
    });
    let three = run(Options {
        settings: settings(
            Source::Flatbed,
            ColorMode::Color,
            50.0,
            &[
                pattern[0],
                ("three-pass", "yes"),
                ("three-pass-order", "GBR"),
            ],
        ),
        ..Default::default()
    });
    let (a, b) = (read_tiff(&single.ok().path), read_tiff(&three.ok().path));
    assert_eq!(b[0].color, tiff::ColorType::RGB(8));
    assert_eq!((a[0].width, a[0].height), (b[0].width, b[0].height));
    assert!(
        a[0].samples == b[0].samples,
        "three-pass pixels differ from single-pass"
    );
}

#[test]
fn hand_scanner_pages_of_unknown_height_are_complete() {
    let r = run(Options {
        settings: settings(
            Source::Flatbed,
            ColorMode::Gray,
            50.0,
            &[("hand-scanner", "yes"), ("test-picture", "Grid")],
        ),
        ..Default::default()
    });
    let pages = read_tiff(&r.ok().path);
    let reference = scanimage(&[
        "--hand-scanner=yes",
        "--resolution",
        "50",
        "--test-picture",
        "Grid",
    ]);
    assert!(pages[0].height > 0);
    assert_eq!(
        (pages[0].width, pages[0].height),
        (reference.width, reference.height)
    );
    assert!(pages[0].samples == reference.samples);
}

fn fault(value: &str, source: Source) -> Run {
    run(Options {
        settings: settings(
            source,
            ColorMode::Gray,
            50.0,
            &[("read-return-value", value)],
        ),
        ..Default::default()
    })
}

#[test]
fn each_injected_fault_has_its_class_code_and_exit_code() {
    let cases = [
        (
            "SANE_STATUS_JAMMED",
            FaultClass::Jammed,
            "scanner.fault.jammed",
            23,
        ),
        (
            "SANE_STATUS_COVER_OPEN",
            FaultClass::CoverOpen,
            "scanner.fault.cover_open",
            24,
        ),
        (
            "SANE_STATUS_DEVICE_BUSY",
            FaultClass::DeviceBusy,
            "scanner.fault.busy",
            25,
        ),
        (
            "SANE_STATUS_IO_ERROR",
            FaultClass::DeviceIo,
            "scanner.fault.io_error",
            26,
        ),
        (
            "SANE_STATUS_NO_DOCS",
            FaultClass::FeederEmpty,
            "scanner.feeder.empty",
            22,
        ),
        (
            "SANE_STATUS_CANCELLED",
            FaultClass::Cancelled,
            "scanner.cancelled",
            130,
        ),
        (
            "SANE_STATUS_NO_MEM",
            FaultClass::DeviceOther,
            "scanner.fault.other",
            27,
        ),
    ];
    for (value, class, code, exit) in cases {
        let r = fault(value, Source::Adf);
        let failure = r.err();
        assert_eq!(failure.error.class(), class, "{value}: {}", failure.error);
        assert_eq!(failure.error.code(), code, "{value}");
        assert_eq!(failure.error.exit_code(), exit, "{value}");
        assert_eq!(
            failure.partial, None,
            "{value}: nothing was scanned, so nothing is kept"
        );
        assert!(
            !r.landing.final_path().exists() && !r.landing.temp_path().exists(),
            "{value}"
        );
    }
}

#[test]
fn exit_codes_are_distinct_per_fault_class() {
    let mut codes: Vec<u8> = FaultClass::ALL.iter().map(|c| c.exit_code()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), FaultClass::ALL.len());
    assert!(!codes.contains(&0) && !codes.contains(&1) && !codes.contains(&2));
}

#[test]
fn cancel_mid_batch_keeps_the_pages_so_far_outside_the_inbox() {
    let r = run(Options {
        settings: settings(Source::Adf, ColorMode::Gray, 50.0, &[]),
        cancel_after: Some(3),
        ..Default::default()
    });
    let failure = r.err();
    assert_eq!(
        failure.error.class(),
        FaultClass::Cancelled,
        "{}",
        failure.error
    );
    assert_eq!(failure.report.kept, 3);
    let partial = failure.partial.clone().expect("a partial file");
    assert_eq!(partial, r.landing.partial_path());
    assert!(!partial.starts_with(&r.landing.inbox));
    assert_eq!(read_tiff(&partial).len(), 3);
    assert!(failure.to_string().contains(&partial.display().to_string()));
    assert!(!r.landing.final_path().exists() && !r.landing.temp_path().exists());
}

#[test]
fn blank_back_sides_are_skipped_in_duplex_only() {
    let mut seen = 0;
    let mut is_blank = |page: &image::GrayImage| {
        seen += 1;
        page.pixels().all(|p| p.0[0] > 250)
    };
    let r = run(Options {
        settings: settings(
            Source::Adf,
            ColorMode::Gray,
            50.0,
            &[("test-picture", "Solid white")],
        ),
        duplex: Some(true),
        blank: Some(&mut is_blank),
        ..Default::default()
    });
    let captured = r.ok();
    assert_eq!(
        (
            captured.report.scanned,
            captured.report.kept,
            captured.report.skipped_blank
        ),
        (10, 5, 5)
    );
    assert_eq!(read_tiff(&captured.path).len(), 5);
    assert!(
        r.events
            .iter()
            .filter(|e| e.skipped_blank)
            .all(|e| e.back_side)
    );
    drop(r);
    assert_eq!(seen, 5, "only back sides are tested");

    let mut never = |_: &image::GrayImage| -> bool { panic!("not duplex: no page is a back side") };
    let r = run(Options {
        settings: settings(
            Source::Adf,
            ColorMode::Gray,
            50.0,
            &[("test-picture", "Solid white")],
        ),
        blank: Some(&mut never),
        ..Default::default()
    });
    assert_eq!(r.ok().report.kept, 10);
}

#[test]
fn missing_options_and_values_are_reported_never_ignored() {
    let r = run(Options {
        settings: settings(
            Source::Adf,
            ColorMode::Gray,
            50.0,
            &[("no-such-option", "1")],
        ),
        ..Default::default()
    });
    let err = &r.err().error;
    assert!(
        matches!(err, ScanError::OptionMissing { option, .. } if option == "no-such-option"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 21);

    let r = run(Options {
        settings: settings(Source::AdfDuplex, ColorMode::Gray, 50.0, &[]),
        ..Default::default()
    });
    let err = &r.err().error;
    assert!(
        matches!(err, ScanError::OptionValue { option, .. } if option == "source"),
        "{err}"
    );
    assert!(
        err.to_string().contains("Automatic Document Feeder"),
        "lists what the device offers: {err}"
    );

    // The ScanSnap profile on a device without ADF Duplex fails on the source...
    let r = run(Options {
        profile: Profile::scansnap_ix1500(),
        ..Default::default()
    });
    assert_eq!(r.err().error.class(), FaultClass::OptionUnsupported);
    // ...and with a source the device has, the fujitsu-only extras are noted as missing.
    let r = run(Options {
        profile: Profile {
            source: None,
            mode: Some(ColorMode::Gray),
            ..Profile::scansnap_ix1500()
        },
        settings: Settings {
            dpi: Some(50.0),
            ..Default::default()
        },
        ..Default::default()
    });
    r.ok();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("swdeskew") && n.contains("not present")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes.iter().any(|n| n.contains("br-y")),
        "A4 is taller than the test device: {:?}",
        r.notes
    );
}

#[test]
fn unknown_device_lists_the_ones_there_are() {
    sane_test_backend();
    let sane = Sane::init().unwrap();
    let names: Vec<String> = sane
        .devices()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert!(names.contains(&"test:0".to_string()), "{names:?}");
    let err = sane
        .open(Some("nosuchbackend:7"))
        .err()
        .expect("no such device");
    assert_eq!(err.class(), FaultClass::NoDevice, "{err}");
    assert!(err.to_string().contains("test:0"), "{err}");
}
