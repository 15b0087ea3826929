//! Progress of a run: a trait the orchestration calls, a silent one, and a terminal bar
//! (indicatif) that draws only when stderr is a terminal.

/// Told about each finished page. Called from one thread at a time, in page order.
pub trait Progress: Sync {
    fn start(&self, _total_pages: usize) {}
    fn page_done(&self, _done: usize) {}
    fn finish(&self) {}
    /// Asked between pages (and at least every [`crate::document::INTERRUPT_POLL`]): whether the caller
    /// wants the run to stop. The run then ends with [`crate::PipelineError::Interrupted`],
    /// leaving no output. The one place a caller can reach into a run, so it lives here.
    fn interrupted(&self) -> bool {
        false
    }
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}

/// A progress bar on stderr; hidden when stderr is not a terminal (logs, pipes, the daemon).
pub struct TerminalBar {
    bar: indicatif::ProgressBar,
}

impl TerminalBar {
    pub fn new() -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} pages ({per_sec}, eta {eta})",
            )
            .expect("the template is valid"),
        );
        TerminalBar { bar }
    }
}

impl Default for TerminalBar {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TerminalBar {
    fn start(&self, total_pages: usize) {
        self.bar.set_length(total_pages as u64);
    }

    fn page_done(&self, done: usize) {
        self.bar.set_position(done as u64);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
