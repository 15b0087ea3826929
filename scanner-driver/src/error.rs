//! The crate's one error type, its stable codes, and the fault classes with their exit codes.
//!
//! A SANE status becomes a [`ScanError`] here and nowhere else, so the mapping from "what the
//! device said" to "what the technician reads and what the shell sees" is in one place.

use std::fmt;
use std::path::PathBuf;

use crate::ffi;

/// A SANE status other than GOOD, as the device reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaneStatus {
    Unsupported,
    Cancelled,
    DeviceBusy,
    Invalid,
    Eof,
    Jammed,
    NoDocs,
    CoverOpen,
    IoError,
    NoMem,
    AccessDenied,
    WarmingUp,
    HardwareLocked,
    Unknown(i32),
}

impl SaneStatus {
    /// `None` for SANE_STATUS_GOOD.
    pub(crate) fn from_raw(raw: ffi::Status) -> Option<Self> {
        Some(match raw {
            ffi::STATUS_GOOD => return None,
            ffi::STATUS_UNSUPPORTED => Self::Unsupported,
            ffi::STATUS_CANCELLED => Self::Cancelled,
            ffi::STATUS_DEVICE_BUSY => Self::DeviceBusy,
            ffi::STATUS_INVAL => Self::Invalid,
            ffi::STATUS_EOF => Self::Eof,
            ffi::STATUS_JAMMED => Self::Jammed,
            ffi::STATUS_NO_DOCS => Self::NoDocs,
            ffi::STATUS_COVER_OPEN => Self::CoverOpen,
            ffi::STATUS_IO_ERROR => Self::IoError,
            ffi::STATUS_NO_MEM => Self::NoMem,
            ffi::STATUS_ACCESS_DENIED => Self::AccessDenied,
            ffi::STATUS_WARMING_UP => Self::WarmingUp,
            ffi::STATUS_HW_LOCKED => Self::HardwareLocked,
            other => Self::Unknown(other),
        })
    }

    pub(crate) fn check(raw: ffi::Status) -> Result<(), Self> {
        match Self::from_raw(raw) {
            None => Ok(()),
            Some(status) => Err(status),
        }
    }
}

impl fmt::Display for SaneStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Unsupported => "operation not supported",
            Self::Cancelled => "operation cancelled",
            Self::DeviceBusy => "device busy",
            Self::Invalid => "invalid argument",
            Self::Eof => "end of data",
            Self::Jammed => "document feeder jammed",
            Self::NoDocs => "document feeder out of documents",
            Self::CoverOpen => "scanner cover is open",
            Self::IoError => "error during device I/O",
            Self::NoMem => "out of memory",
            Self::AccessDenied => "access to resource denied",
            Self::WarmingUp => "lamp not ready",
            Self::HardwareLocked => "scanner mechanism locked for transport",
            Self::Unknown(n) => return write!(f, "unknown SANE status {n}"),
        };
        f.write_str(text)
    }
}

/// What kind of failure a [`ScanError`] is: one exit code each, documented in `quire scan --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    NoDevice,
    OptionUnsupported,
    FeederEmpty,
    Jammed,
    CoverOpen,
    DeviceBusy,
    DeviceIo,
    DeviceOther,
    Output,
    Cancelled,
}

impl FaultClass {
    pub const ALL: [FaultClass; 10] = [
        Self::NoDevice,
        Self::OptionUnsupported,
        Self::FeederEmpty,
        Self::Jammed,
        Self::CoverOpen,
        Self::DeviceBusy,
        Self::DeviceIo,
        Self::DeviceOther,
        Self::Output,
        Self::Cancelled,
    ];

    /// The process exit code for this class. 130 for Ctrl-C follows the shell's 128+SIGINT.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::NoDevice => 20,
            Self::OptionUnsupported => 21,
            Self::FeederEmpty => 22,
            Self::Jammed => 23,
            Self::CoverOpen => 24,
            Self::DeviceBusy => 25,
            Self::DeviceIo => 26,
            Self::DeviceOther => 27,
            Self::Output => 28,
            Self::Cancelled => 130,
        }
    }

    /// Short slug used in audit action codes (`scan.fault.<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            Self::NoDevice => "no_device",
            Self::OptionUnsupported => "option_unsupported",
            Self::FeederEmpty => "feeder_empty",
            Self::Jammed => "jammed",
            Self::CoverOpen => "cover_open",
            Self::DeviceBusy => "busy",
            Self::DeviceIo => "io_error",
            Self::DeviceOther => "device_error",
            Self::Output => "output",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::NoDevice => "no scanner found, or the named device does not exist",
            Self::OptionUnsupported => "the device lacks an option or value the scan needs",
            Self::FeederEmpty => "the document feeder was empty at the first page",
            Self::Jammed => "paper jam",
            Self::CoverOpen => "scanner cover open",
            Self::DeviceBusy => "device busy (in use by another program?)",
            Self::DeviceIo => "I/O error talking to the device",
            Self::DeviceOther => "any other error reported by the device or SANE",
            Self::Output => "the scan could not be written to disk",
            Self::Cancelled => "cancelled with Ctrl-C",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("SANE could not start: {status}")]
    Init { status: SaneStatus },

    #[error("no SANE scanner found (check `scanimage -L`, the USB cable and permissions)")]
    NoDevices,

    #[error("scanner `{wanted}` not found; available: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    DeviceNotFound {
        wanted: String,
        available: Vec<String>,
    },

    #[error("{device}: cannot open: {status}")]
    Open { device: String, status: SaneStatus },

    #[error(
        "{device}: the device has no option `{option}` ({purpose}); its options are: {available}"
    )]
    OptionMissing {
        device: String,
        option: String,
        purpose: String,
        available: String,
    },

    #[error("{device}: option `{option}` does not accept `{value}`: {reason}")]
    OptionValue {
        device: String,
        option: String,
        value: String,
        reason: String,
    },

    #[error("{device}: {what} failed: {status}")]
    Control {
        device: String,
        what: String,
        status: SaneStatus,
    },

    #[error("{device}: the document feeder is empty: load the pages and scan again")]
    FeederEmpty { device: String },

    #[error("{device}: page {page}: {status}")]
    Device {
        device: String,
        page: u32,
        status: SaneStatus,
    },

    #[error("{device}: page {page}: cancelled (Ctrl-C)")]
    Cancelled { device: String, page: u32 },

    #[error("{device}: page {page}: unsupported image format from the device: {detail}")]
    Format {
        device: String,
        page: u32,
        detail: String,
    },

    #[error("{}: {action}: {source}", path.display())]
    Output {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },

    #[error("{}: page {page}: cannot encode TIFF: {detail}", path.display())]
    Encode {
        path: PathBuf,
        page: u32,
        detail: String,
    },
}

impl ScanError {
    pub fn class(&self) -> FaultClass {
        match self {
            Self::NoDevices | Self::DeviceNotFound { .. } => FaultClass::NoDevice,
            Self::OptionMissing { .. } | Self::OptionValue { .. } => FaultClass::OptionUnsupported,
            Self::FeederEmpty { .. } => FaultClass::FeederEmpty,
            Self::Cancelled { .. } => FaultClass::Cancelled,
            Self::Output { .. } | Self::Encode { .. } => FaultClass::Output,
            Self::Format { .. } | Self::Init { .. } | Self::Control { .. } => {
                FaultClass::DeviceOther
            }
            Self::Open { status, .. } | Self::Device { status, .. } => match status {
                SaneStatus::Jammed => FaultClass::Jammed,
                SaneStatus::CoverOpen => FaultClass::CoverOpen,
                SaneStatus::DeviceBusy => FaultClass::DeviceBusy,
                SaneStatus::IoError => FaultClass::DeviceIo,
                SaneStatus::Cancelled => FaultClass::Cancelled,
                SaneStatus::NoDocs => FaultClass::FeederEmpty,
                _ => FaultClass::DeviceOther,
            },
        }
    }

    /// Stable code, e.g. `scanner.fault.jammed`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Init { .. } => "scanner.sane.init",
            Self::NoDevices => "scanner.device.none",
            Self::DeviceNotFound { .. } => "scanner.device.not_found",
            Self::Open { .. } => match self.class() {
                FaultClass::DeviceBusy => "scanner.open.busy",
                _ => "scanner.open.failed",
            },
            Self::OptionMissing { .. } => "scanner.option.missing",
            Self::OptionValue { .. } => "scanner.option.value",
            Self::Control { .. } => "scanner.option.control",
            Self::FeederEmpty { .. } => "scanner.feeder.empty",
            Self::Cancelled { .. } => "scanner.cancelled",
            Self::Format { .. } => "scanner.page.format",
            Self::Output { .. } => "scanner.output.write",
            Self::Encode { .. } => "scanner.output.encode",
            Self::Device { .. } => match self.class() {
                FaultClass::Jammed => "scanner.fault.jammed",
                FaultClass::CoverOpen => "scanner.fault.cover_open",
                FaultClass::DeviceBusy => "scanner.fault.busy",
                FaultClass::DeviceIo => "scanner.fault.io_error",
                FaultClass::Cancelled => "scanner.cancelled",
                FaultClass::FeederEmpty => "scanner.feeder.empty",
                _ => "scanner.fault.other",
            },
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.class().exit_code()
    }

    pub(crate) fn output(
        path: impl Into<PathBuf>,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Output {
            path,
            action,
            source,
        }
    }
}
