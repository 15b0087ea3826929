//! Stamping delivered PDFs: a copyright cover sheet, a margin notice on every page, an optional
//! diagonal watermark, and a per-delivery id that survives rewriting, so a leaked copy can be
//! traced back to its delivery.
//!
//! This crate is pure: PDF bytes and a [`Stamp`] in, PDF bytes out ([`stamp_pdf`]). It reads
//! font files and nothing else, knows nothing of the database, and generates no ids or dates.
//!
//! # What a stamped file guarantees
//! - Page 1 is a cover sheet the size of the document's first page: institution and contact,
//!   request, citation, recipient and library, delivery date, link expiry, pages delivered, and
//!   the copyright notice (by default the §108(a)(3) legend; optionally a longer one).
//! - Every other page is the original page, in the original order, with a strip added below
//!   it that carries the margin stamp (at least 8 pt). Existing content streams, images and the
//!   OCR text layer are kept byte for byte; the stamp is a separate content stream appended to
//!   the page, wrapped so that the page's own graphics state cannot leak into it.
//! - Strip, not scaling: growing the page box leaves all existing coordinates (and so the text
//!   layer and links) exactly where they were and can never cover content; the page becomes
//!   about a third of an inch taller.
//! - All stamp text is set in subset-embedded TrueType fonts (Type0/Identity-H with ToUnicode),
//!   so it renders and extracts as written in any script the configured fonts cover. A
//!   character no configured font has is an error ([`WatermarkError::MissingGlyph`]).
//! - The delivery id is in the file identifier, the Info dictionary, the XMP metadata and in
//!   invisible text on every page; [`trace::find_deliveries`] finds it in the file, in copies
//!   rewritten by qpdf, in single pages cut out of it and in copies with metadata stripped.
//! - Encrypted input is refused rather than silently decrypted.
//! - A PDF/A input gives a PDF/A copy: the trace text's font embedded too, the XMP extended by
//!   a schema for Quire's property and kept equal to the Info dictionary (title, modification
//!   date: the clock's, the one date this crate makes), the OutputIntent kept. See `pdfa.rs`.

mod cover;
mod error;
mod font;
mod layout;
mod margin;
mod page;
mod pdfa;
mod spec;
mod stamp;
pub mod template;
pub mod trace;

pub use error::WatermarkError;
pub use spec::{
    Citation, CoverRow, DEFAULT_NOTICE, DeliveryId, DiagonalWatermark, FontSources, Institution,
    Recipient, Stamp, StampTexts,
};
pub use stamp::stamp_pdf;
pub use template::{Placeholder, Scope, Template};
