//! The crate's one error type. Every variant has a stable code for logs and the API, and a message
//! that names the page or font and the reason. It does not decide what a caller does about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    #[error("the input is not a readable PDF: {reason}")]
    UnreadablePdf { reason: String },

    #[error("the input PDF is encrypted; decrypt it before stamping")]
    EncryptedPdf,

    #[error("the input PDF has no pages")]
    NoPages,

    #[error("page {page}: {reason}")]
    BadPage { page: u32, reason: String },

    #[error("font {}: cannot be read: {reason}", path.display())]
    FontUnreadable { path: PathBuf, reason: String },

    #[error(
        "no configured font has the character {ch:?} (U+{code:04X}) needed for {context:?}; fonts tried: {fonts}"
    )]
    MissingGlyph {
        ch: char,
        code: u32,
        context: String,
        fonts: String,
    },

    #[error("font {}: subsetting failed: {reason}", path.display())]
    FontSubset { path: PathBuf, reason: String },

    #[error("template {template:?}: {reason}")]
    BadTemplate { template: String, reason: String },

    #[error("delivery id {id:?} is not of the form dlv_ followed by 1 to 60 letters or digits")]
    BadDeliveryId { id: String },

    #[error("margin stamp font size {size} is below the 8 pt minimum")]
    StampTooSmall { size: f32 },

    #[error("writing the stamped PDF failed: {reason}")]
    WriteFailed { reason: String },
}

impl WatermarkError {
    /// A stable identifier for the kind of failure, for logs, metrics and API responses.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnreadablePdf { .. } => "watermark.pdf.unreadable",
            Self::EncryptedPdf => "watermark.pdf.encrypted",
            Self::NoPages => "watermark.pdf.no_pages",
            Self::BadPage { .. } => "watermark.pdf.bad_page",
            Self::FontUnreadable { .. } => "watermark.font.unreadable",
            Self::MissingGlyph { .. } => "watermark.font.missing_glyph",
            Self::FontSubset { .. } => "watermark.font.subset",
            Self::BadTemplate { .. } => "watermark.template.invalid",
            Self::BadDeliveryId { .. } => "watermark.delivery_id.invalid",
            Self::StampTooSmall { .. } => "watermark.stamp.too_small",
            Self::WriteFailed { .. } => "watermark.pdf.write",
        }
    }
}
