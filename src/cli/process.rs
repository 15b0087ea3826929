//! `quire process IN... -o OUT.pdf`: scans in, one searchable PDF out, one-shot (like ocrmypdf).
//!
//! Settings come from `[processing]`, flags override them for the run. The PDF appears only when
//! complete; on any refusal the command names the file, page and reason and exits with one of
//! OCRmyPDF's exit codes ([`ProcessExit`]), leaving no output behind, so that batch scripts
//! written for `ocrmypdf` can switch on the status unchanged. Tesseract's OpenMP must be limited
//! before libtesseract loads, so the binary re-executes itself once with `OMP_THREAD_LIMIT=1`
//! when that is not already set (main.rs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use quire_pipeline::{PipelineError, Processor, Progress, Report, TerminalBar};

use crate::config::{LoadedConfig, Source};

/// The exit status of `quire process`: OCRmyPDF's documented codes (its `ExitCode`), those of
/// them that Quire can meet. Four of OCRmyPDF's codes are never used, and the help says why:
/// 4 (output file invalid: OCRmyPDF checks the PDF it got back from Ghostscript; Quire writes
/// its PDF itself), 6 (page already has text, when asked not to replace it: Quire has no such
/// option; a scanned page's old text layer is always replaced, and a page of text without a
/// scan is refused as an input file error), 7 (a helper program failed: tesseract runs in this
/// process) and 10 (PDF/A conversion failed: Quire writes no PDF/A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessExit {
    BadArgs,
    InputFile,
    MissingDependency,
    FileAccess,
    Encrypted,
    InvalidConfig,
    Other,
    Interrupted,
}

impl ProcessExit {
    pub const ALL: [ProcessExit; 8] = [
        Self::BadArgs,
        Self::InputFile,
        Self::MissingDependency,
        Self::FileAccess,
        Self::Encrypted,
        Self::InvalidConfig,
        Self::Other,
        Self::Interrupted,
    ];

    pub fn code(self) -> u8 {
        match self {
            Self::BadArgs => 1,
            Self::InputFile => 2,
            Self::MissingDependency => 3,
            Self::FileAccess => 5,
            Self::Encrypted => 8,
            Self::InvalidConfig => 9,
            Self::Other => 15,
            Self::Interrupted => 130,
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Self::BadArgs => {
                "bad arguments (an unknown flag, a missing -o, a value of the wrong kind)"
            }
            Self::InputFile => {
                "input file error: unsupported, truncated, corrupt, missing, over the size limits, \
                 a page of text with no scan, or every page blank and removed"
            }
            Self::MissingDependency => {
                "missing dependency: a language's traineddata or tesseract's data"
            }
            Self::FileAccess => {
                "file access error: an input that cannot be read (a folder, a path through a \
                 file, no permission), or an output that cannot be written (its folder missing)"
            }
            Self::Encrypted => "encrypted PDF (decrypt it first, e.g. qpdf --decrypt)",
            Self::InvalidConfig => "invalid configuration file (--config, QUIRE_CONFIG)",
            Self::Other => "any other error",
            Self::Interrupted => {
                "interrupted (Ctrl-C): the pages in hand are finished and nothing is left \
                 behind; a second Ctrl-C ends at once"
            }
        }
    }

    /// The status for a refusal of the pipeline.
    pub fn of(err: &PipelineError) -> ProcessExit {
        use std::io::ErrorKind;
        match err {
            PipelineError::NoInput => Self::BadArgs,
            PipelineError::Read { source, .. } if source.kind() == ErrorKind::NotFound => {
                Self::InputFile
            }
            PipelineError::Read { .. } => Self::FileAccess,
            PipelineError::Unsupported { .. }
            | PipelineError::Truncated { .. }
            | PipelineError::Corrupt { .. }
            | PipelineError::Jbig2 { .. }
            | PipelineError::TooLarge { .. }
            | PipelineError::OverMemoryBudget { .. }
            | PipelineError::BornDigital { .. }
            | PipelineError::AllPagesRemoved => Self::InputFile,
            PipelineError::Encrypted { .. } => Self::Encrypted,
            PipelineError::OcrInit { .. } => Self::MissingDependency,
            PipelineError::Write { .. } | PipelineError::OutputFolder { .. } => Self::FileAccess,
            PipelineError::Interrupted => Self::Interrupted,
            PipelineError::Ocr { .. }
            | PipelineError::BarcodeEncode { .. }
            | PipelineError::CorruptFingerprint { .. } => Self::Other,
        }
    }
}

impl From<ProcessExit> for ExitCode {
    fn from(exit: ProcessExit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// `quire process --help`'s closing text: how text already on a page is treated, and the exit
/// codes, written from [`ProcessExit`] so that the list cannot drift from the code.
fn after_help() -> String {
    let mut help = String::from(
        "Pages of a PDF that already carry text: when the page has a scanned image, its old text \
         layer is dropped and the image is OCR'd afresh, so the text always matches the \
         processed image; a page with text and no image (born-digital) is refused.\n\n\
         Refused input is reported with the file, the page and the reason, and no PDF is left \
         behind.\n\n\
         Exit status (OCRmyPDF's codes, so scripts written for ocrmypdf work unchanged):\n  \
         0    success\n",
    );
    for exit in ProcessExit::ALL {
        help.push_str(&format!("  {:<4} {}\n", exit.code(), exit.meaning()));
    }
    help.push_str(
        "  OCRmyPDF's 4 (output file invalid), 6 (page already has text), 7 (a helper program \
         failed) and 10 (PDF/A conversion failed) are never used: Quire writes its PDF itself, \
         with tesseract in the same process, rather than checking one a helper program gave \
         back; it has no option to keep a page's old text; it writes no PDF/A.",
    );
    help
}

#[derive(Debug, clap::Args)]
#[command(after_help = after_help())]
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
    /// Also write the OCR text of the PDF's pages, one form feed between pages (as ocrmypdf).
    #[arg(long, value_name = "FILE.txt")]
    sidecar: Option<PathBuf>,
    /// Tesseract languages, e.g. eng+fra (default: [processing] languages).
    #[arg(short = 'l', long, visible_alias = "language")]
    lang: Option<String>,
    /// Worker threads, one OCR engine each (default: [processing] jobs; 0 = all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Straighten skewed pages (the default; overrides [processing] deskew = false).
    #[arg(long, conflicts_with = "no_deskew")]
    deskew: bool,
    /// Measure skew but do not straighten pages.
    #[arg(long)]
    no_deskew: bool,
    /// Turn sideways or upside-down pages upright (the default; overrides [processing]
    /// orientation = false).
    #[arg(long, conflicts_with = "no_orientation")]
    rotate_pages: bool,
    /// Do not turn sideways or upside-down pages upright.
    #[arg(long)]
    no_orientation: bool,
    /// Drop blank pages instead of only flagging them in the report.
    #[arg(long)]
    remove_blank: bool,
    /// Title for the PDF metadata (default: the first input's file name).
    #[arg(long)]
    title: Option<String>,
    /// pdfa: PDF/A-2b; pdf: a plain PDF (default: [processing] output_type, itself pdfa).
    #[arg(long, value_enum, value_name = "TYPE")]
    output_type: Option<quire_pipeline::OutputType>,
}

/// Whether the command line that clap refused was meant for `quire process`: clap then ends
/// with 1, OCRmyPDF's "bad arguments", rather than its own 2, which `process` uses for bad
/// input. Asked of clap itself, leniently, so global flags before the command count as usual.
pub fn is_process_command_line() -> bool {
    use clap::CommandFactory;
    super::Cli::command()
        .ignore_errors(true)
        .try_get_matches()
        .is_ok_and(|m| m.subcommand_name() == Some("process"))
}

pub fn run(args: ProcessArgs, source: &Source) -> ExitCode {
    let config = match LoadedConfig::load(source) {
        Ok(config) => config,
        Err(errs) => {
            eprintln!("quire: error: {errs}");
            return ProcessExit::InvalidConfig.into();
        }
    };
    match process(args, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quire: error [{}]: {err}", err.code());
            ProcessExit::of(&err).into()
        }
    }
}

fn process(args: ProcessArgs, config: &LoadedConfig) -> Result<(), PipelineError> {
    let mut options = config.config.processing.to_options();
    if let Some(lang) = args.lang {
        options.languages = lang;
    }
    if let Some(jobs) = args.jobs {
        options.jobs = jobs;
    }
    options.deskew = (options.deskew || args.deskew) && !args.no_deskew;
    options.orientation = (options.orientation || args.rotate_pages) && !args.no_orientation;
    options.remove_blank |= args.remove_blank;
    options.title = args.title;
    if let Some(output_type) = args.output_type {
        options.output_type = output_type;
    }

    // Every output's folder is checked before the work, not after it.
    for path in [
        Some(&args.output),
        args.report.as_ref(),
        args.sidecar.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        quire_pipeline::report::output_folder(path)?;
    }
    let progress = Interruptible::new(TerminalBar::new());
    let processor = Processor::new(options)?;
    let done = processor.process(&args.inputs, &args.output, &progress)?;
    if let Some(path) = &args.report {
        done.report.write_json(path)?;
    }
    if let Some(path) = &args.sidecar {
        done.report.write_sidecar(path)?;
    }
    let r = &done.report;
    println!(
        "{}: {} pages ({} blank removed), {} bytes, sha256 {}, {:.1} s",
        done.output.display(),
        r.pages_out,
        r.blank_pages_removed,
        done.bytes,
        done.sha256,
        r.wall_seconds
    );
    println!("{}", warnings_summary(r));
    Ok(())
}

/// The warnings of the pages in the PDF, each by page, in plain words and by code: "no
/// warnings", or "2 warnings:" and one indented line each. A blank page kept in the PDF counts
/// (the daemon holds it as `page.blank`); a page removed as blank or as a barcode sheet does not.
fn warnings_summary(report: &Report) -> String {
    let mut lines = Vec::new();
    let mut pages: Vec<_> = report
        .pages
        .iter()
        .filter_map(|p| p.output_page.map(|n| (n, p)))
        .collect();
    pages.sort_by_key(|(n, _)| *n);
    for (n, page) in pages {
        if page.blank {
            lines.push(format!("page {n}: blank (page.blank)"));
        }
        for w in &page.warnings {
            lines.push(format!("page {n}: {} ({})", w.message, w.code));
        }
    }
    match lines.len() {
        0 => "no warnings".to_owned(),
        1 => format!("1 warning:\n  {}", lines[0]),
        n => format!("{n} warnings:\n  {}", lines.join("\n  ")),
    }
}

/// Set by the SIGINT handler; read by the run between pages.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The progress bar, plus Ctrl-C: the first SIGINT asks the run to stop (it finishes the pages
/// in flight, deletes its temporary file and exits 130); a second one exits 130 at once.
struct Interruptible<P> {
    inner: P,
}

impl<P: Progress> Interruptible<P> {
    fn new(inner: P) -> Self {
        let installed = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                std::process::exit(ProcessExit::Interrupted.code().into());
            }
        });
        // Without the handler Ctrl-C still ends the run, only less tidily (SIGINT's default).
        if let Err(e) = installed {
            eprintln!("quire: warning: cannot catch Ctrl-C ({e}); it will end the run abruptly");
        }
        Interruptible { inner }
    }
}

impl<P: Progress> Progress for Interruptible<P> {
    fn start(&self, total_pages: usize) {
        self.inner.start(total_pages);
    }

    fn page_done(&self, done: usize) {
        self.inner.page_done(done);
    }

    fn finish(&self) {
        self.inner.finish();
    }

    fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}
