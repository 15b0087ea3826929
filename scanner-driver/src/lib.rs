//! Capture from SANE scanners: device listing, profiles that map to backend options, ADF batches
//! written page by page to disk, and faults (jam, cover open, busy, I/O, cancel) reported as
//! distinct errors with their own exit codes.
//!
//! Synchronous by design: it knows nothing of tokio, the database or the pipeline (the blank
//! test for duplex back sides is passed in as a closure).
//!
//! # Why our own bindings
//! The `sane-scan` crate was considered and not used: it has no way to cancel a scan from another
//! thread, and Ctrl-C must stop a device that is blocked mid-page or waiting for paper. The SANE
//! standard allows `sane_cancel` asynchronously, so [`CancelHandle`] does exactly that, guarded so
//! it can never reach a closed handle. Only a dozen C functions are needed; they are declared by
//! hand in `ffi.rs` (no bindgen, no build script) and linked against `libsane`.
//!
//! # Flow
//! [`Sane::init`] → [`Sane::open`] → [`profile::apply`] (profile + command-line settings) →
//! [`capture`] (batch into a multi-page TIFF, atomically published to the inbox).
//!
//! # Exit codes
//! Each [`FaultClass`] has its own process exit code ([`FaultClass::exit_code`]):
//!
//! | code | class |
//! |------|-------|
//! | 20 | no scanner found, or the named device does not exist |
//! | 21 | the device lacks an option or value the scan needs |
//! | 22 | the document feeder was empty at the first page |
//! | 23 | paper jam |
//! | 24 | scanner cover open |
//! | 25 | device busy |
//! | 26 | I/O error talking to the device |
//! | 27 | any other error reported by the device or SANE |
//! | 28 | the scan could not be written to disk |
//! | 130 | cancelled with Ctrl-C |

mod batch;
mod cancel;
mod capture;
mod device;
mod error;
mod ffi;
mod option;
mod page;
pub mod profile;
mod sane;
mod tiff_out;

pub use batch::{BatchPlan, BatchReport, BlankTest, PageEvent};
pub use cancel::CancelHandle;
pub use capture::{CaptureFailure, Captured, Landing, capture};
pub use device::{Applied, Device};
pub use error::{FaultClass, SaneStatus, ScanError};
/// The page type the blank test receives (the `image` crate's, re-exported).
pub use image::GrayImage;
pub use option::{Constraint, OptionInfo, OptionValue, Unit, ValueType};
pub use profile::{ApplyReport, ColorMode, PageSize, Profile, Settings, Source};
pub use sane::{DeviceInfo, Sane};
pub use tiff_out::Compression;
