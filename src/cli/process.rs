//! `quire process IN... -o OUT.pdf`: scans in, one searchable PDF out, one-shot (like ocrmypdf).
//!
//! Settings come from `[processing]`, flags override them for the run. The PDF appears only when
//! complete; on any refusal the command names the file, page and reason and exits 2, leaving
//! no output behind. Tesseract's OpenMP must be limited before libtesseract loads, so the
//! binary re-executes itself once with `OMP_THREAD_LIMIT=1` when that is not already set (main.rs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use quire_pipeline::{PipelineError, Processor, TerminalBar};

use crate::config::LoadedConfig;

/// Exit status for refused input or a failed run (clap uses 2 for usage errors too, and both
/// mean "nothing was produced").
const EXIT_REFUSED: u8 = 2;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Pages of a PDF that already carry text: when the page has a scanned image, its old text layer \
is dropped and the image is OCR'd afresh, so the text always matches the processed image; a \
page with text and no image (born-digital) is refused.

Refused input (unsupported such as JPEG 2000, encrypted, truncated, corrupt, over \
[processing] max_megapixels) is reported with the file, the page and the reason; the exit status is then 2 and no \
PDF is left behind.")]
pub struct ProcessArgs {
    /// Input scans (PNG, JPEG, TIFF, image-only PDF with JPEG, Flate, CCITT or JBIG2 images);
    /// their pages make one document, in order.
    #[arg(required = true, value_name = "IN")]
    inputs: Vec<PathBuf>,
    /// The searchable PDF to write.
    #[arg(short, long, value_name = "OUT.pdf")]
    output: PathBuf,
    /// Also write the per-page quality report as JSON.
    #[arg(long, value_name = "REPORT.json")]
    report: Option<PathBuf>,
    /// Tesseract languages, e.g. eng+fra (default: [processing] languages).
    #[arg(long)]
    lang: Option<String>,
    /// Worker threads, one OCR engine each (default: [processing] jobs; 0 = all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Measure skew but do not straighten pages.
    #[arg(long)]
    no_deskew: bool,
    /// Do not turn sideways or upside-down pages upright.
    #[arg(long)]
    no_orientation: bool,
    /// Drop blank pages instead of only flagging them in the report.
    #[arg(long)]
    remove_blank: bool,
    /// Title for the PDF metadata (default: the first input's file name).
    #[arg(long)]
    title: Option<String>,
}

pub fn run(args: ProcessArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let mut options = config.config.processing.to_options();
    if let Some(lang) = args.lang {
        options.languages = lang;
    }
    if let Some(jobs) = args.jobs {
        options.jobs = jobs;
    }
    options.deskew &= !args.no_deskew;
    options.orientation &= !args.no_orientation;
    options.remove_blank |= args.remove_blank;
    options.title = args.title;

    let processor = Processor::new(options)?;
    let done = match processor.process(&args.inputs, &args.output, &TerminalBar::new()) {
        Ok(done) => done,
        Err(err) => return Ok(refused(&err)),
    };
    if let Some(path) = &args.report {
        done.report
            .write_json(path)
            .with_context(|| format!("cannot write the report {}", path.display()))?;
    }
    let r = &done.report;
    let warned = r.pages.iter().filter(|p| !p.warnings.is_empty()).count();
    println!(
        "{}: {} pages ({} blank removed, {} with warnings), {} bytes, sha256 {}, {:.1} s",
        done.output.display(),
        r.pages_out,
        r.blank_pages_removed,
        warned,
        done.bytes,
        done.sha256,
        r.wall_seconds
    );
    Ok(ExitCode::SUCCESS)
}

fn refused(err: &PipelineError) -> ExitCode {
    eprintln!("quire: error [{}]: {err}", err.code());
    ExitCode::from(EXIT_REFUSED)
}
