//! Entry points for the fuzz targets in `fuzz/` and for their regression test
//! (`tests/fuzz_regressions.rs`); compiled only with the `fuzzing` feature, so the crate's
//! public API does not grow.
//!
//! Each function takes the fuzzer's bytes, reaches the narrowest crate-internal entry that
//! reads such bytes, and returns what it returned with the result thrown away: an error is a
//! correct answer to bad input, only a panic, a crash or a hang is a finding. Where the
//! production caller guarantees something before the entry runs (the pixel limit judged on a
//! stated size, `Columns` matching the image width), these functions guarantee it the same
//! way, so that a finding is one production can reach.
//!
//! The decoders that take a path (the PDF object reader, TIFF) get the bytes as a file; see
//! [`with_file`].

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::input::ccitt::Polarity;
use crate::input::ccitt_g3::{self, G3Params};
use crate::input::{check_pixel_limit, jbig2, pdf_file, tiff};
use crate::options::ProcessOptions;

/// The most pixels a fuzzed image may state. Production's limit is `max_megapixels` (250 by
/// default); a smaller one keeps every run within libFuzzer's memory limit and fast, and the
/// code paths are the same whatever the number.
const FUZZ_MEGAPIXELS: u32 = 16;

/// Largest width or height taken from a CCITT or JBIG2 header (see [`ccitt_g3`], [`jbig2`]).
const MAX_SIDE: u32 = 4096;

/// Pages of a fuzzed TIFF decoded; more only repeat the same code over more IFDs.
const MAX_PAGES: usize = 4;

/// The PDF object reader (`input/pdf_file.rs`): cross-reference tables and streams, `/Prev`
/// chains, object streams, every object's syntax; then each stream's data read back from the
/// file as a page decode would.
pub fn pdf_file(data: &[u8]) {
    with_file(data, |path| {
        let Ok(pdf) = pdf_file::PdfFile::open(path) else {
            return;
        };
        for object in pdf.doc.objects.values() {
            if let Ok(stream) = object.as_stream() {
                let _ = pdf.data(stream);
            }
        }
    });
}

/// A PDF `CCITTFaxDecode` stream with `K >= 0` (`input/ccitt_g3.rs`). The input is an 8-byte
/// header giving the `DecodeParms`, then the stream's data:
///
/// | byte | meaning |
/// | --- | --- |
/// | 0 | bit 0 `EndOfLine`, bit 1 `EncodedByteAlign`, bit 2 `BlackIs1` |
/// | 1 | `K` (255 stands for a huge `K`, as `K = 1e9` saturates to `u32::MAX`) |
/// | 2–3 | `Columns` (which the caller has checked is the image's `/Width`), little-endian,
/// modulo 4097 |
/// | 4–5 | the image's `/Height`, little-endian, modulo 4097 |
/// | 6–7 | `Rows`, little-endian (0: not given) |
///
/// Shorter input is padded with zeros. A size the pixel limit refuses (one side 0) ends there,
/// as it does in production before any decoding.
pub fn ccitt_g3(data: &[u8]) {
    let (head, stream) = split_header::<8>(data);
    let columns = u32::from(u16::from_le_bytes([head[2], head[3]])) % (MAX_SIDE + 1);
    let height = u32::from(u16::from_le_bytes([head[4], head[5]])) % (MAX_SIDE + 1);
    let params = G3Params {
        k: if head[1] == 255 {
            u32::MAX
        } else {
            u32::from(head[1])
        },
        columns,
        rows: u32::from(u16::from_le_bytes([head[6], head[7]])),
        end_of_line: head[0] & 1 != 0,
        encoded_byte_align: head[0] & 2 != 0,
    };
    let polarity = Polarity {
        black_is_dark: head[0] & 4 == 0,
    };
    if !passes_pixel_limit(columns, height) {
        return;
    }
    let _ = ccitt_g3::decode(stream, &params, height, polarity);
}

/// A PDF `JBIG2Decode` stream with its optional `/JBIG2Globals` (`input/jbig2.rs`, jbig2dec
/// under a capped allocator). The input is a 6-byte header, then the globals, then the
/// stream's data:
///
/// | byte | meaning |
/// | --- | --- |
/// | 0–1 | the image dictionary's `/Width`, little-endian, modulo 4097 |
/// | 2–3 | `/Height`, little-endian, modulo 4097 |
/// | 4–5 | how many of the following bytes are the globals, little-endian; 0: no globals |
///
/// Shorter input is padded with zeros; a globals length past the end takes what is there. A
/// size the pixel limit refuses ends there, as in [`ccitt_g3`].
pub fn jbig2(data: &[u8]) {
    let (head, rest) = split_header::<6>(data);
    let width = u32::from(u16::from_le_bytes([head[0], head[1]])) % (MAX_SIDE + 1);
    let height = u32::from(u16::from_le_bytes([head[2], head[3]])) % (MAX_SIDE + 1);
    let globals_len = usize::from(u16::from_le_bytes([head[4], head[5]])).min(rest.len());
    let (globals, stream) = rest.split_at(globals_len);
    let globals = (globals_len > 0).then_some(globals);
    if !passes_pixel_limit(width, height) {
        return;
    }
    let _ = jbig2::decode(stream, globals, width, height);
}

/// A TIFF file (`input/tiff.rs`): the IFD chain probed, each page's stated size judged
/// against the pixel limit as `input::probe` does, then the first pages decoded (the `tiff`
/// crate, our Group 3 glue, or libtiff through leptonica).
pub fn tiff(data: &[u8]) {
    let options = fuzz_options();
    with_file(data, |path| {
        let Ok(sizes) = tiff::probe(path) else {
            return;
        };
        for (index, ((width, height), _)) in sizes.into_iter().enumerate().take(MAX_PAGES) {
            let at = crate::error::Location::page(path, index + 1);
            if check_pixel_limit(&at, width, height, &options).is_ok() {
                let _ = tiff::decode(path, index, &options, false);
            }
        }
    });
}

/// Every target by name: the name is the fuzz target's (`fuzz/fuzz_targets/<name>.rs`) and its
/// folders' (`fuzz/corpus/<name>/`, `fuzz/regressions/<name>/`).
/// A fuzz target: its name, and the function that takes one input.
pub type Target = (&'static str, fn(&[u8]));

pub const TARGETS: &[Target] = &[
    ("pdf_file", pdf_file),
    ("ccitt_g3", ccitt_g3),
    ("jbig2", jbig2),
    ("tiff", tiff),
];

fn fuzz_options() -> ProcessOptions {
    ProcessOptions {
        max_megapixels: FUZZ_MEGAPIXELS,
        ..ProcessOptions::default()
    }
}

/// The check `input::probe` makes on an image's stated size before any of it is decoded.
fn passes_pixel_limit(width: u32, height: u32) -> bool {
    let at = crate::error::Location::file("fuzz input");
    check_pixel_limit(&at, width, height, &fuzz_options()).is_ok()
}

/// The first `N` bytes (zero-padded when the input is shorter) and the rest.
fn split_header<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut head = [0u8; N];
    let n = data.len().min(N);
    head[..n].copy_from_slice(&data[..n]);
    (head, &data[n..])
}

/// Run `f` on a path whose file holds `data`.
///
/// The file is one unlinked temporary file per thread, rewritten for each input and reached
/// through `/proc/self/fd`: creating and deleting a named file per input would cost more than
/// most inputs take to parse, and a named file would be left behind when libFuzzer exits
/// without running destructors. Linux only, like the fuzzing itself.
fn with_file<T>(data: &[u8], f: impl FnOnce(&Path) -> T) -> T {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    thread_local! {
        static SCRATCH: RefCell<Option<(File, PathBuf)>> = const { RefCell::new(None) };
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let (file, path) = scratch.get_or_insert_with(|| {
            let file = tempfile::tempfile().expect("a temporary file for the fuzz input");
            let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            (file, path)
        });
        file.set_len(0).expect("the fuzz input file truncates");
        file.write_all_at(data, 0)
            .expect("the fuzz input is written");
        f(path)
    })
}
