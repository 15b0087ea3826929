//! Whether a settled file reads as a whole image or PDF: the last of the settle rules ("it
//! decodes"). Scanning software that pauses mid-file (a slow ADF, a network share that flushes
//! late) leaves a file whose size and time stop changing before it is complete; this catches
//! the usual ways such a file is cut short without decoding any pixels:
//!
//! - PDF: no `%%EOF` near the end;
//! - JPEG: no end-of-image marker near the end;
//! - PNG: no `IEND` chunk at the end;
//! - TIFF: a page directory, strip or tile that lies past the end of the file;
//! - any file: nothing in it at all (0 bytes).
//!
//! It reads headers and the file's tail only, so it costs microseconds to a few milliseconds.
//! A format it does not know is "complete": processing decides, and refuses it with a reason.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    /// Cut short, and how: for the log while the daemon waits for the writer.
    Incomplete(String),
}

/// How far from the end an end marker may lie (scanners and libraries pad or append a newline).
const TAIL: u64 = 4096;

pub fn completeness(path: &Path) -> Completeness {
    match check(path) {
        Ok(()) => Completeness::Complete,
        Err(reason) => Completeness::Incomplete(reason),
    }
}

fn check(path: &Path) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len == 0 {
        // A scanner often creates the file before it writes anything.
        return Err("empty file (0 bytes)".to_string());
    }
    let mut head = [0u8; 8];
    let n = read_up_to(&mut file, &mut head)?;
    let head = &head[..n];
    if head.starts_with(b"%PDF-") {
        let tail = tail(&mut file, len)?;
        return contains(&tail, b"%%EOF")
            .then_some(())
            .ok_or_else(|| "PDF without %%EOF at its end".to_string());
    }
    if head.starts_with(&[0xFF, 0xD8]) {
        let tail = tail(&mut file, len)?;
        return contains(&tail, &[0xFF, 0xD9])
            .then_some(())
            .ok_or_else(|| "JPEG without its end-of-image marker".to_string());
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        let tail = tail(&mut file, len)?;
        return contains(&tail, b"IEND")
            .then_some(())
            .ok_or_else(|| "PNG without its IEND chunk".to_string());
    }
    if head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || head.starts_with(b"II+\0")
        || head.starts_with(b"MM\0+")
    {
        file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        return tiff_within(file, len);
    }
    Ok(())
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> Result<usize, String> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(filled)
}

fn tail(file: &mut File, len: u64) -> Result<Vec<u8>, String> {
    let start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity((len - start) as usize);
    file.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every page directory readable, and every strip or tile inside the file.
fn tiff_within(file: File, len: u64) -> Result<(), String> {
    let mut decoder =
        Decoder::new(BufReader::new(file)).map_err(|e| format!("TIFF header: {e}"))?;
    let mut page = 1;
    loop {
        let (offsets, counts) = match (
            decoder.get_tag_u64_vec(Tag::StripOffsets),
            decoder.get_tag_u64_vec(Tag::StripByteCounts),
        ) {
            (Ok(o), Ok(c)) => (o, c),
            _ => (
                decoder
                    .get_tag_u64_vec(Tag::TileOffsets)
                    .map_err(|e| format!("TIFF page {page}: no strips or tiles: {e}"))?,
                decoder
                    .get_tag_u64_vec(Tag::TileByteCounts)
                    .map_err(|e| format!("TIFF page {page}: no strip or tile sizes: {e}"))?,
            ),
        };
        let end = offsets
            .iter()
            .zip(&counts)
            .map(|(o, c)| o.saturating_add(*c))
            .max()
            .unwrap_or(0);
        if end > len {
            return Err(format!(
                "TIFF page {page} needs {end} bytes but the file has {len}"
            ));
        }
        if !decoder.more_images() {
            return Ok(());
        }
        decoder
            .next_image()
            .map_err(|e| format!("TIFF page {}: {e}", page + 1))?;
        page += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_testkit::synth::{
        Format, PageSpec, PdfImageCodec, TiffCompression, render_page, write,
    };

    /// Every format the generator writes is complete whole, and incomplete cut at 60 %.
    #[test]
    fn whole_files_are_complete_and_cut_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let page = render_page(&PageSpec {
            dpi: 100.0,
            paper_in: (3.0, 4.0),
            ..PageSpec::default()
        })
        .unwrap()
        .image;
        let two = [page.clone(), page.clone()];
        let cases: [(Format, &str, &[image::GrayImage]); 6] = [
            (Format::Png, "png", std::slice::from_ref(&page)),
            (
                Format::Jpeg { quality: 80 },
                "jpg",
                std::slice::from_ref(&page),
            ),
            (Format::Tiff(TiffCompression::Lzw), "tif", &two),
            (Format::Tiff(TiffCompression::G4), "tif", &two),
            (Format::Tiff(TiffCompression::None), "tif", &two),
            (Format::Pdf(PdfImageCodec::Dct), "pdf", &two),
        ];
        for (n, (format, ext, pages)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("whole{n}.{ext}"));
            write(&path, pages, 100.0, format).unwrap();
            assert_eq!(
                completeness(&path),
                Completeness::Complete,
                "{format:?} whole"
            );
            let bytes = std::fs::read(&path).unwrap();
            let cut = dir.path().join(format!("cut{n}.{ext}"));
            std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
            assert!(
                matches!(completeness(&cut), Completeness::Incomplete(_)),
                "{format:?} cut at 60 % was judged complete"
            );
        }
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "not a scan").unwrap();
        assert_eq!(completeness(&other), Completeness::Complete);
        let empty = dir.path().join("empty.pdf");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            completeness(&empty),
            Completeness::Incomplete("empty file (0 bytes)".into())
        );
    }
}
