//! The output PDF: page images at their physical size under an invisible, searchable text layer.
//!
//! Pages are written one by one as they finish ([`writer::PdfWriter`]), so the document is never
//! held in memory whole. lopdf supplies the object model and serialisation; framing, the xref
//! table and the trailer are ours because lopdf can only save a whole in-memory document.

pub mod font;
pub mod image_encode;
pub mod jpeg_optimise;
pub mod pdfa;
pub mod text_layer;
pub mod writer;

pub use image_encode::{EncodedImage, ImageEncoding};
pub use pdfa::OutputType;
pub use writer::{PdfWriter, WrittenPdf};
