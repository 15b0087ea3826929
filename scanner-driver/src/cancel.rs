//! Cancelling a scan from outside the scanning thread, and Ctrl-C wired to it.
//!
//! The SANE standard allows `sane_cancel` to be called asynchronously (even from a signal
//! handler), which is what stops a device that is blocked mid-page or waiting for paper. This is
//! the "safe cancel" the `sane-scan` crate lacks: the handle is guarded so a cancel can never
//! reach a handle that has been closed.
//!
//! A cancel first only asks: the scanning thread sees the request between two reads (a read
//! returns within a fraction of a second while pages flow) and cancels the scan itself. Only a
//! device still blocked in one read after [`ASYNC_GRACE`] is cancelled from outside. Cancelling
//! from outside while a read runs is what the standard allows, but SANE's `test` backend then
//! joins its reader thread twice (once in `sane_cancel`, once in `sane_read`), and the second
//! join never returns: `quire scan` hung on Ctrl-C in one run of the end-to-end tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::ffi;

/// How long a requested cancel waits for the scanning thread before cancelling from outside.
pub const ASYNC_GRACE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct CancelState {
    requested: AtomicBool,
    /// The scanning thread has seen the request and cancels the scan itself.
    acknowledged: AtomicBool,
    /// The open handle as an address; 0 once closed. Held locked while cancelling or closing.
    handle: Mutex<usize>,
}

/// A cheap clonable handle that stops the current scan of one device.
#[derive(Clone, Default)]
pub struct CancelHandle {
    state: Arc<CancelState>,
}

impl CancelHandle {
    pub(crate) fn attach(&self, handle: ffi::Handle) {
        *self.state.handle.lock().unwrap_or_else(|p| p.into_inner()) = handle as usize;
    }

    /// Called before `sane_close`: afterwards a cancel only sets the flag.
    pub(crate) fn detach(&self) {
        *self.state.handle.lock().unwrap_or_else(|p| p.into_inner()) = 0;
    }

    /// Asks the device to stop; the scan then ends with a `Cancelled` error. The scanning
    /// thread cancels between reads; a device blocked in one read for [`ASYNC_GRACE`] is
    /// cancelled from here.
    pub fn cancel(&self) {
        self.state.requested.store(true, Ordering::SeqCst);
        let state = Arc::clone(&self.state);
        std::thread::spawn(move || {
            std::thread::sleep(ASYNC_GRACE);
            let handle = state.handle.lock().unwrap_or_else(|p| p.into_inner());
            if *handle != 0 && !state.acknowledged.load(Ordering::SeqCst) {
                // SAFETY: the handle is open (detach takes this lock before closing), and the
                // SANE standard allows sane_cancel concurrently with other calls on the handle.
                unsafe { ffi::sane_cancel(*handle as ffi::Handle) };
            }
        });
    }

    /// For the scanning thread: whether a cancel was requested; if so, the caller now ends the
    /// scan itself, and no cancel from outside follows.
    pub(crate) fn take_request(&self) -> bool {
        if !self.is_requested() {
            return false;
        }
        // Under the lock: a cancel from outside already under way finishes first.
        let _handle = self.state.handle.lock().unwrap_or_else(|p| p.into_inner());
        self.state.acknowledged.store(true, Ordering::SeqCst);
        true
    }

    pub fn is_requested(&self) -> bool {
        self.state.requested.load(Ordering::SeqCst)
    }

    /// Makes Ctrl-C (SIGINT) cancel this handle's scan, and a second Ctrl-C exit with 130 at
    /// once. The handler is installed once per process; later calls only retarget it.
    pub fn cancel_on_ctrl_c(&self) -> Result<(), String> {
        static TARGET: OnceLock<Mutex<Option<CancelHandle>>> = OnceLock::new();
        let mut installed = Ok(());
        let target = TARGET.get_or_init(|| {
            installed = ctrlc::set_handler(|| {
                if let Some(Some(handle)) = TARGET
                    .get()
                    .map(|t| t.lock().unwrap_or_else(|p| p.into_inner()).clone())
                {
                    // A second Ctrl-C means the device did not stop: leave at once.
                    if handle.is_requested() {
                        std::process::exit(130);
                    }
                    handle.cancel();
                }
            })
            .map_err(|e| format!("cannot catch Ctrl-C: {e}"));
            Mutex::new(None)
        });
        *target.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.clone());
        installed
    }
}
