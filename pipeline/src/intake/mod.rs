//! The pure parts of intake: deciding when a dropped file is complete, which request a scan
//! belongs to (by file name, folder name or barcode sheet), how a batch splits into jobs, and
//! which requested pages a scan lacks.
//!
//! Nothing here watches folders, moves files, touches the database or runs OCR: the daemon in
//! the `quire` binary does that and calls these functions with what it observed. Every function
//! is deterministic given its inputs (time is passed in, never read), so each rule is tested on
//! its own.

pub mod barcode;
pub mod batch;
mod error;
pub mod folder;
pub mod look;
pub mod naming;
pub mod page_range;
pub mod pages;
pub mod settle;
pub mod temp_name;

pub use error::IntakeError;
