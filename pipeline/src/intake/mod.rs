//! The pure parts of intake: deciding when a dropped file is complete, which request a scan
//! belongs to (by file name, folder name or barcode sheet), how a batch splits into jobs, and
//! which requested pages a scan lacks.
//!
//! Nothing here watches folders, moves files, touches the database or runs OCR: the daemon in
//! the `quire` binary does that and calls these functions with what it observed. Apart from
//! [`look`] and [`complete`], which read files, and [`segment::extract_pages`], which writes a
//! segment's PDF, every function is deterministic given its inputs (time
//! is passed in, never read), so each rule is tested on its own.
//!
//! - [`settle`], [`folder`], [`look`], [`temp_name`], [`complete`]: when a file or a request
//!   folder is complete, and which names are never taken.
//! - [`naming`]: the request id in a file or folder name.
//! - [`barcode`], [`batch`], [`segment`]: cover sheets, PATCH-T separators, splitting a batch,
//!   and cutting its processed output into one report and PDF per segment.
//! - [`page_range`], [`pages`]: requested page ranges and the missing-page check.
//!
//! Errors are [`IntakeError`], shared with `crate::similarity`, each with a stable code
//! (`intake.naming.*`, `intake.settle.*`, `intake.pages.*`, `intake.barcode.*`,
//! `intake.similarity.*`).

pub mod barcode;
pub mod batch;
pub mod complete;
mod error;
pub mod folder;
pub mod look;
pub mod naming;
pub mod page_range;
pub mod pages;
pub mod segment;
pub mod settle;
pub(crate) mod shrink;
pub mod temp_name;

pub use error::IntakeError;
