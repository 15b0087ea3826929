//! `quire scan`: capture from a SANE scanner into the inbox as one multi-page TIFF named for the
//! request, with a progress line per page, clear fault messages and one exit code per fault.
//!
//! The scanning itself is the scanner-driver crate's; this file turns flags and `[scanner]`
//! config into its settings, hands it the pipeline's blank test for duplex back sides, prints,
//! and writes faults (and completed captures) to the audit log when a request is known.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use quire_scanner_driver::{
    ApplyReport, BatchPlan, CaptureFailure, Captured, ColorMode, Device, FaultClass, Landing,
    OptionValue, PageEvent, PageSize, Sane, ScanError, Settings, Source, capture, profile,
};
use serde_json::json;

use super::actor;
use crate::config::LoadedConfig;
use crate::state::{self, NewEvent};
use quire_domain::Action;

const EXIT_CODES: &str = "\
Exit codes:
  0    the scan landed in the inbox
  1    any other error (configuration, unknown profile, ...)
  2    wrong command-line usage
  20   no scanner found, or the named device does not exist
  21   the device lacks an option or value the scan needs
  22   the document feeder was empty at the first page
  23   paper jam
  24   scanner cover open
  25   device busy (in use by another program?)
  26   I/O error talking to the device
  27   any other error reported by the device or SANE
  28   the scan could not be written to disk
  130  cancelled with Ctrl-C

On a fault the pages scanned so far are kept in <data_dir>/scan-partial/<name>.partial.tif,
outside the inbox, so they are never taken as a complete scan. With --request, faults and
completed scans are written to the audit log (actions scan.fault.<class>, scan.captured).";

#[derive(Debug, clap::Args)]
#[command(after_long_help = EXIT_CODES, after_help = "Exit codes: 20 no device, 21 option unsupported, 22 feeder empty, 23 jam, 24 cover open, 25 busy, 26 I/O error, 27 other device error, 28 disk error, 130 Ctrl-C (--help for details).")]
pub struct ScanArgs {
    /// Show the scanners SANE finds and their options, then exit.
    #[arg(long)]
    list: bool,

    /// SANE device name (as `--list` shows it). Default: [scanner] device, else the first found.
    #[arg(long, short = 'd')]
    device: Option<String>,

    /// Capture profile from [scanner.profiles]. Default: [scanner] profile.
    #[arg(long)]
    profile: Option<String>,

    /// The request this scan belongs to: names the file (<REQUEST>.tif) and its audit events.
    #[arg(long)]
    request: Option<String>,

    /// Where the paper is: the flatbed or the document feeder (one side or both).
    #[arg(long, value_enum)]
    source: Option<SourceArg>,

    /// Resolution in dpi; the nearest the device offers is used.
    #[arg(long)]
    dpi: Option<f64>,

    /// Colour mode: black and white, grey or colour.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,

    /// Page size: a4, a5, letter, legal or WIDTHxHEIGHT in mm.
    #[arg(long, value_parser = parse_page)]
    page: Option<PageSize>,

    /// Stop after N pages. Default: until the feeder is empty (one page on a flatbed).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pages: Option<u32>,

    /// Set any device option, as `--list` names it (repeatable; applied last, in order).
    #[arg(long = "option", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    options: Vec<(String, String)>,

    /// Duplex: leave out blank back sides (the pipeline's blank test). Also [scanner] skip_blank_backs.
    #[arg(long)]
    skip_blank_backs: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SourceArg {
    Flatbed,
    Adf,
    AdfDuplex,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Color,
    Gray,
    Lineart,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}`: expected NAME=VALUE")),
    }
}

fn parse_page(text: &str) -> Result<PageSize, String> {
    PageSize::try_from(text.to_string())
}

pub fn run(args: ScanArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    if args.list {
        return list(args.device.as_deref());
    }
    let scanner = &config.config.scanner;
    let profile_name = args
        .profile
        .clone()
        .unwrap_or_else(|| scanner.profile.clone());
    let Some(profile) = scanner.profile(&profile_name) else {
        anyhow::bail!(
            "no scanner profile `{profile_name}`; known: {}",
            scanner.profile_names().join(", ")
        );
    };
    let stem = match &args.request {
        Some(request) => check_request(request)?,
        None => timestamped_name(),
    };
    let landing = Landing {
        inbox: config.config.intake.inbox.clone(),
        partial_dir: config.data_dir().join("scan-partial"),
        stem,
    };
    let settings = Settings {
        source: args.source.map(|s| match s {
            SourceArg::Flatbed => Source::Flatbed,
            SourceArg::Adf => Source::Adf,
            SourceArg::AdfDuplex => Source::AdfDuplex,
        }),
        dpi: args.dpi,
        mode: args.mode.map(|m| match m {
            ModeArg::Color => ColorMode::Color,
            ModeArg::Gray => ColorMode::Gray,
            ModeArg::Lineart => ColorMode::Lineart,
        }),
        page: args.page,
        extra_options: args.options.clone(),
    };
    let device_name = args
        .device
        .clone()
        .or_else(|| Some(scanner.device.clone()).filter(|d| !d.is_empty()));

    let sane = match Sane::init() {
        Ok(s) => s,
        Err(error) => return fail(config, &args, device_name.as_deref(), early(error)),
    };
    let mut device = match sane.open(device_name.as_deref()) {
        Ok(d) => d,
        Err(error) => return fail(config, &args, device_name.as_deref(), early(error)),
    };
    let name = device.name().to_string();
    let report = match profile::apply(&mut device, &profile, &settings) {
        Ok(r) => r,
        Err(error) => return fail(config, &args, Some(&name), early(error)),
    };
    describe_settings(&device, &profile_name, &report);

    let skip_blank = args.skip_blank_backs || scanner.skip_blank_backs;
    if skip_blank && !report.duplex {
        eprintln!(
            "note: blank back sides are only skipped on duplex sources; this source is not duplex"
        );
    }
    let plan = BatchPlan {
        feeder: report.feeder,
        duplex: report.duplex,
        max_pages: args.pages,
        dpi: report.dpi,
        compression: scanner.compression,
    };
    if let Err(e) = device.cancel_handle().cancel_on_ctrl_c() {
        eprintln!("warning: {e}; Ctrl-C will stop quire without keeping the pages so far");
    }
    let mut is_blank =
        |page: &quire_scanner_driver::GrayImage| quire_pipeline::imaging::blank::detect(page).blank;
    let blank: Option<quire_scanner_driver::BlankTest<'_>> = if skip_blank && report.duplex {
        Some(&mut is_blank)
    } else {
        None
    };
    let mut line = ProgressLine::new();
    let outcome = capture(&mut device, &plan, &landing, blank, &mut |e| line.page(e));
    line.finish();
    drop(device);
    drop(sane);
    match outcome {
        Ok(captured) => succeed(config, &args, &name, &captured),
        Err(failure) => fail(config, &args, Some(&name), failure),
    }
}

fn early(error: ScanError) -> CaptureFailure {
    CaptureFailure {
        error,
        report: Default::default(),
        partial: None,
    }
}

/// A request id names a file in the inbox, so it must be a plain file name.
fn check_request(request: &str) -> anyhow::Result<String> {
    let ok = !request.starts_with('.') && quire_domain::names::is_plain(request, 100);
    anyhow::ensure!(
        ok,
        "--request `{request}`: use letters, digits, '-', '_' and '.' only (it names the scan file)"
    );
    Ok(request.to_string())
}

fn timestamped_name() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format =
        time::macros::format_description!("scan-[year][month][day]-[hour][minute][second]");
    now.format(&format)
        .unwrap_or_else(|_| format!("scan-{}", std::process::id()))
}

fn describe_settings(device: &Device<'_>, profile: &str, report: &ApplyReport) {
    let set: Vec<String> = report
        .applied
        .iter()
        .map(|a| format!("{}={}", a.option, a.actual))
        .collect();
    eprintln!(
        "scanning from {} with profile `{profile}`: {}",
        device.name(),
        set.join(", ")
    );
    for note in &report.notes {
        eprintln!("note: {note}");
    }
}

fn succeed(
    config: &LoadedConfig,
    args: &ScanArgs,
    device: &str,
    captured: &Captured,
) -> anyhow::Result<ExitCode> {
    let r = &captured.report;
    let skipped = if r.skipped_blank > 0 {
        format!(", {} blank back side(s) left out", r.skipped_blank)
    } else {
        String::new()
    };
    eprintln!(
        "{} page(s) in {:.3} s ({:.1} pages/s){skipped}: {}",
        r.kept,
        r.elapsed.as_secs_f64(),
        r.scanned as f64 / r.elapsed.as_secs_f64().max(1e-6),
        captured.path.display()
    );
    println!("{}", captured.path.display());
    if let Some(request) = &args.request {
        let details = json!({
            "device": device,
            // Named in the preservation master's bag-info.txt (`quire_service::preserve`).
            "profile": args.profile.as_deref().unwrap_or(&config.config.scanner.profile),
            "file": captured.path.display().to_string(),
            "pages_scanned": r.scanned,
            "pages_kept": r.kept,
            "blank_backs_skipped": r.skipped_blank,
        });
        audit(
            config,
            NewEvent::new(actor(), Action::ScanCaptured),
            request,
            details,
        )
        .context("the scan landed, but writing the audit event failed")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn fail(
    config: &LoadedConfig,
    args: &ScanArgs,
    device: Option<&str>,
    failure: CaptureFailure,
) -> anyhow::Result<ExitCode> {
    let class = failure.error.class();
    eprintln!("quire: scan failed [{}]: {failure}", failure.error.code());
    if let Some(hint) = hint(class) {
        eprintln!("{hint}");
    }
    if let Some(request) = &args.request {
        let details = json!({
            "device": device,
            "code": failure.error.code(),
            "message": failure.error.to_string(),
            "exit_code": class.exit_code(),
            "pages_scanned": failure.report.scanned,
            "pages_kept": failure.report.kept,
            "partial": failure.partial.as_ref().map(|p| p.display().to_string()),
        });
        if let Err(e) = audit(
            config,
            NewEvent::scan_fault(actor(), class.slug()),
            request,
            details,
        ) {
            eprintln!("quire: warning: could not write the audit event: {e:#}");
        }
    }
    Ok(ExitCode::from(class.exit_code()))
}

fn hint(class: FaultClass) -> Option<&'static str> {
    Some(match class {
        FaultClass::Jammed => {
            "Clear the jam, put the unscanned pages back in the feeder and scan again."
        }
        FaultClass::CoverOpen => "Close the scanner cover and scan again.",
        FaultClass::DeviceBusy => {
            "Another program may be using the scanner; close it or wait, then scan again."
        }
        FaultClass::DeviceIo => "Check the cable and power, then scan again.",
        FaultClass::FeederEmpty => "Load the pages into the document feeder.",
        FaultClass::NoDevice => "`quire scan --list` shows the scanners SANE can see.",
        FaultClass::OptionUnsupported => {
            "`quire scan --list` shows the device's options and values."
        }
        _ => return None,
    })
}

fn audit(
    config: &LoadedConfig,
    event: NewEvent,
    request: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let db = state::open(config)?;
    db.audit_append(event.subject("request", request).details(details))?;
    Ok(())
}

/// `quire scan --list`: every device and its settable options.
fn list(only: Option<&str>) -> anyhow::Result<ExitCode> {
    let fail = |error: ScanError| {
        eprintln!("quire: [{}] {error}", error.code());
        Ok(ExitCode::from(error.exit_code()))
    };
    let sane = match Sane::init() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let devices = match sane.devices() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let names: Vec<String> = match only {
        Some(name) => vec![name.to_string()],
        None if devices.is_empty() => return fail(ScanError::NoDevices),
        None => devices.iter().map(|d| d.name.clone()).collect(),
    };
    let mut out = std::io::stdout().lock();
    for name in names {
        let info = devices.iter().find(|d| d.name == name);
        match info {
            Some(d) => writeln!(out, "{}  ({} {}, {})", d.name, d.vendor, d.model, d.kind)?,
            None => writeln!(out, "{name}")?,
        }
        let device = match sane.open(Some(&name)) {
            Ok(d) => d,
            Err(e) => return fail(e),
        };
        for o in device.options() {
            if !o.is_settable() && o.value_type != quire_scanner_driver::ValueType::Button {
                continue;
            }
            let current = match device.get(&o.name) {
                Ok(OptionValue::Press) | Err(_) => String::new(),
                Ok(v) => format!(" [{v}]"),
            };
            let state = if o.is_active() { "" } else { " (inactive)" };
            writeln!(
                out,
                "    --option {}={}{current}{state}",
                o.name,
                o.allowed()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per page: rewritten in place on a terminal, appended otherwise (logs, pipes).
struct ProgressLine {
    terminal: bool,
    drawn: bool,
}

impl ProgressLine {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    fn page(&mut self, e: &PageEvent) {
        let rate = e.scanned as f64 / e.elapsed.as_secs_f64().max(1e-3);
        let side = if e.back_side { " (back)" } else { "" };
        let blank = if e.skipped_blank {
            ", blank: left out"
        } else {
            ""
        };
        let kind = if e.color { "colour" } else { "gray" };
        let text = format!(
            "page {}{side}: {}x{} {kind} {}-bit{blank}; {} kept, {rate:.2} pages/s",
            e.scanned, e.width, e.height, e.depth, e.kept
        );
        if self.terminal {
            eprint!("\r\x1b[2K{text}");
            let _ = std::io::stderr().flush();
            self.drawn = true;
        } else {
            eprintln!("{text}");
        }
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}
