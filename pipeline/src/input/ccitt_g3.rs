//! PDF CCITT Group 3 streams (`CCITTFaxDecode` with `K >= 0`) to pixels.
//!
//! One job: turn the bit stream of a Group 3 image, one-dimensional (`K = 0`, modified Huffman,
//! ITU-T T.4 §4.1) or mixed one- and two-dimensional (`K > 0`, modified READ, T.4 §4.2), into
//! rows of pixels, with the PDF meaning of its `DecodeParms`:
//! - `EndOfLine`: EOL codes (eleven or more 0 bits, then a 1) may come before any row, with
//!   fill bits before them, and are always accepted; the flag only says they are there.
//! - `K > 0`: the tag bit after an EOL says whether the row is one- or two-dimensional. Rows
//!   without an EOL carry the tag bit too, as the PDF reference implies (the filter "does not
//!   distinguish between different positive K values") and poppler reads; Ghostscript's encoder
//!   instead leaves it out and makes every `K`-th row one-dimensional. When a stream does not
//!   decode cleanly the first way it is tried the second, so both kinds read.
//! - `EncodedByteAlign`: each row starts on a byte boundary. With EOLs the fill bits go before
//!   the EOL (which is then found wherever it ends) and nothing is skipped after it, since the
//!   EOL already ends the padding; without EOLs the decoder skips to the next byte.
//! - `EndOfBlock`: the end-of-block code (RTC, six EOLs, each followed by its tag bit when
//!   `K > 0`) ends the data. Two EOLs in a row are taken as RTC whether or not the flag is set,
//!   just as EOLs are accepted without `EndOfLine`; the flag itself needs no parameter here:
//!   it only matters to a decoder that does not know the height, and this one always does.
//! - `Rows`: when given it must cover the image's height; decoding stops at the height.
//! - `Columns` is the row width; `BlackIs1` is the caller's [`Polarity`].
//!
//! Damaged data gives an error naming the row, never a panic: codes that mean nothing, runs
//! past the row's end, a vertical code reaching behind the current position, EOLs inside a
//! row, data that stops early. Every step consumes bits, so the work is bounded by the data;
//! the only allocation the size of the image is the image.
//!
//! Not done: uncompressed mode (the T.4 extension code `0000001111`, which PDF writers do not
//! emit) is refused as unsupported. Group 4 (`K < 0`) is [`super::ccitt::decode_g4`]'s.
//!
//! Why not `hayro-ccitt` (issue 20): version 0.5.0, lenient mode, was run on the streams of
//! `every_image_and_parameter_combination_round_trips_through_ghostscript` (the test
//! `hayro_ccitt_fails_the_round_trips_named_in_the_module_documentation` keeps the result
//! checked). It reads every stream with EOLs and every `K = 0` stream, but fails 175 of the 420
//! decodes, all of them in two cases:
//! - every `K > 0` stream without EOLs (168): it reads a tag bit before every row, as the PDF
//!   reference implies, while Ghostscript's encoder writes none there and makes every `K`-th row
//!   one-dimensional; the second row already goes wrong (`InvalidCode`, `Overflow`, or wrong
//!   pixels). This decoder tries both readings (above).
//! - `K = 0` without EOLs while `DecodeParms` says `EndOfLine true` and `EndOfBlock true` (7):
//!   it trusts the flag, finds no EOL and returns success after one row, the image silently cut.
//!
//! So this decoder stays, and with it the `fax` glue in `ccitt.rs` (Group 4, and TIFF's Group 3),
//! which the issue asked to replace only together with it.

use std::fmt;

use image::GrayImage;

use super::ccitt::{Polarity, fill_row, levels};

/// The decode parameters of a Group 3 stream (PDF `DecodeParms`, `K >= 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct G3Params {
    /// PDF `K`: 0 for one-dimensional coding only, above 0 for mixed coding.
    pub k: u32,
    /// PDF `Columns`: pixels per row.
    pub columns: u32,
    /// PDF `Rows`: 0 when not given.
    pub rows: u32,
    pub end_of_line: bool,
    pub encoded_byte_align: bool,
}

/// Why a stream could not be decoded. Rows count from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum G3Error {
    /// The data, or an end-of-block code, stops before every row is there.
    Truncated { rows: u32, of: u32 },
    /// Bits that do not decode, or decode to an impossible row.
    Corrupt { row: u32, reason: &'static str },
    /// Coding this decoder does not do.
    Unsupported { row: u32, reason: &'static str },
}

impl fmt::Display for G3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            G3Error::Truncated { rows, of } => {
                write!(f, "CCITT Group 3 image data ends after {rows} of {of} rows")
            }
            G3Error::Corrupt { row, reason } => write!(
                f,
                "CCITT Group 3 image data does not decode in row {}: {reason}",
                row + 1
            ),
            G3Error::Unsupported { row, reason } => {
                write!(f, "CCITT Group 3 {reason} (row {})", row + 1)
            }
        }
    }
}

/// Decode `height` rows of a Group 3 stream. `height` is the image's; the caller has already
/// judged `columns × height` against the pixel limit.
pub(crate) fn decode(
    data: &[u8],
    params: &G3Params,
    height: u32,
    polarity: Polarity,
) -> Result<GrayImage, G3Error> {
    if params.columns == 0 {
        return Err(G3Error::Corrupt {
            row: 0,
            reason: "Columns is 0",
        });
    }
    if params.rows != 0 && params.rows < height {
        return Err(G3Error::Truncated {
            rows: params.rows,
            of: height,
        });
    }
    let mut img = GrayImage::new(params.columns, height);
    if params.k == 0 {
        decode_rows(data, params, height, Tags::None, polarity, &mut img)?;
        return Ok(img);
    }
    let as_specified = decode_rows(data, params, height, Tags::EveryRow, polarity, &mut img);
    if as_specified == Ok(Ending::Clean) {
        return Ok(img);
    }
    // Either reading may decode all rows by chance with the other's data; the one that also
    // ends where the data ends is the right one.
    let ghostscript = decode_rows(data, params, height, Tags::AfterEol, polarity, &mut img);
    match (as_specified, ghostscript) {
        (_, Ok(Ending::Clean)) | (Err(_), Ok(Ending::Trailing)) => Ok(img),
        (Ok(_), _) => {
            decode_rows(data, params, height, Tags::EveryRow, polarity, &mut img)?;
            Ok(img)
        }
        (Err(a), Err(b)) => Err(if rows_reached(&b) > rows_reached(&a) {
            b
        } else {
            a
        }),
    }
}

fn rows_reached(e: &G3Error) -> u32 {
    match e {
        G3Error::Truncated { rows, .. } => *rows,
        G3Error::Corrupt { row, .. } | G3Error::Unsupported { row, .. } => *row,
    }
}

/// Where a `K > 0` stream keeps its tag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tags {
    /// `K = 0`: every row is one-dimensional.
    None,
    /// Before every row, after its EOL if it has one.
    EveryRow,
    /// Only after EOLs; a row without one is one-dimensional when its index is a multiple of
    /// `K` (Ghostscript's encoder).
    AfterEol,
}

/// What follows the last row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Nothing but fill bits, EOLs and their tag bits.
    Clean,
    /// Coded data, so this reading may have gone astray.
    Trailing,
}

/// Why a row failed, before it is known whether the data simply ran out.
#[derive(Debug, Clone, Copy)]
enum Fault {
    BadCode,
    EolInRow,
    RunPastRow,
    VerticalOutOfRow,
    Uncompressed,
}

impl Fault {
    fn reason(self) -> &'static str {
        match self {
            Fault::BadCode => "a bit pattern that is no code",
            Fault::EolInRow => "an end-of-line code before the row is complete",
            Fault::RunPastRow => "runs add up to more than the row's width",
            Fault::VerticalOutOfRow => "a vertical-mode change outside the row",
            Fault::Uncompressed => "uncompressed mode is not supported",
        }
    }
}

fn decode_rows(
    data: &[u8],
    params: &G3Params,
    height: u32,
    tags: Tags,
    polarity: Polarity,
    img: &mut GrayImage,
) -> Result<Ending, G3Error> {
    let width = params.columns;
    let (dark, light) = levels(polarity);
    let mut bits = Bits::new(data);
    // Changing elements of the row above (an imaginary white row at first) and of this row.
    // The reference row ends with three `width` sentinels, so b1 and b2 always exist.
    let capacity = width as usize + SENTINELS;
    let mut reference: Vec<u32> = Vec::with_capacity(capacity);
    let mut current: Vec<u32> = Vec::with_capacity(capacity);
    reference.extend([width; SENTINELS]);
    for y in 0..height {
        let two_dimensional = match start_row(&mut bits, params, tags, y) {
            RowStart::Row { two_dimensional } => two_dimensional,
            RowStart::End => {
                return Err(G3Error::Truncated {
                    rows: y,
                    of: height,
                });
            }
        };
        current.clear();
        let row = if two_dimensional {
            decode_2d_row(&mut bits, width, &reference, &mut current)
        } else {
            decode_1d_row(&mut bits, width, &mut current)
        };
        if let Err(fault) = row {
            return Err(match fault {
                Fault::Uncompressed => G3Error::Unsupported {
                    row: y,
                    reason: fault.reason(),
                },
                _ if bits.near_end() => G3Error::Truncated {
                    rows: y,
                    of: height,
                },
                _ => G3Error::Corrupt {
                    row: y,
                    reason: fault.reason(),
                },
            });
        }
        if bits.overrun() {
            // The row's last code was completed by the zeros read past the end.
            return Err(G3Error::Truncated {
                rows: y,
                of: height,
            });
        }
        let painted = fill_row(img, y, &current, width, dark, light);
        debug_assert!(painted, "changes are only recorded inside the row");
        std::mem::swap(&mut reference, &mut current);
        reference.extend([width; SENTINELS]);
    }
    Ok(if trailer_is_clean(&mut bits, params.k > 0) {
        Ending::Clean
    } else {
        Ending::Trailing
    })
}

const SENTINELS: usize = 3;

enum RowStart {
    Row {
        two_dimensional: bool,
    },
    /// The data ends, or an end-of-block code comes.
    End,
}

/// Skip what comes before a row's data: padding, an EOL, the tag bit.
fn start_row(bits: &mut Bits<'_>, params: &G3Params, tags: Tags, y: u32) -> RowStart {
    if params.encoded_byte_align && !params.end_of_line {
        bits.align();
    }
    // Valid row data never starts with more than 7 zeros (the extended make-up codes), so 11
    // or more are an EOL, with any fill bits before it. Aligned rows are checked from the byte
    // boundary: the fill bits up to it plus a code's leading zeros could pass for an EOL.
    let has_eol = match bits.zeros_ahead() {
        None => return RowStart::End,
        Some(zeros) if zeros >= EOL_ZEROS => {
            bits.consume(zeros + 1);
            true
        }
        Some(_) => false,
    };
    if has_eol {
        // A second EOL straight after the first, with or without a tag bit between, is RTC.
        if eol_or_end_ahead(bits) {
            return RowStart::End;
        }
        if params.k > 0 {
            let one_dimensional = bits.read_bit();
            if eol_or_end_ahead(bits) {
                return RowStart::End;
            }
            return RowStart::Row {
                two_dimensional: !one_dimensional,
            };
        }
        return RowStart::Row {
            two_dimensional: false,
        };
    }
    if params.encoded_byte_align && params.end_of_line {
        // The EOL the flag promised is missing; the row still starts on a byte boundary.
        bits.align();
    }
    let two_dimensional = match tags {
        Tags::None => false,
        Tags::EveryRow => !bits.read_bit(),
        Tags::AfterEol => !y.is_multiple_of(params.k),
    };
    RowStart::Row { two_dimensional }
}

const EOL_ZEROS: usize = 11;

fn eol_or_end_ahead(bits: &Bits<'_>) -> bool {
    bits.zeros_ahead().is_none_or(|zeros| zeros >= EOL_ZEROS)
}

/// Whether all that follows is fill bits and EOLs (an RTC), with tag bits after them.
fn trailer_is_clean(bits: &mut Bits<'_>, tagged: bool) -> bool {
    loop {
        match bits.zeros_ahead() {
            None => return true,
            Some(zeros) if zeros >= EOL_ZEROS => {
                bits.consume(zeros + 1);
                if tagged && bits.peek(1) == 1 {
                    bits.consume(1);
                }
            }
            Some(_) => return false,
        }
    }
}

/// Record a change of colour at `x`; one at the row's end is no change. Two at the same place
/// (a run of length 0) cancel out, so the list stays the row's real changing elements, which
/// the next row is coded against.
#[inline]
fn push_change(changes: &mut Vec<u32>, x: u32, width: u32) {
    if x >= width {
        return;
    }
    if changes.last() == Some(&x) {
        changes.pop();
    } else {
        changes.push(x);
    }
}

/// One modified-Huffman row (T.4 §4.1): runs alternating from white, up to the row's width.
fn decode_1d_row(bits: &mut Bits<'_>, width: u32, changes: &mut Vec<u32>) -> Result<(), Fault> {
    let mut a0 = 0u32;
    let mut white = true;
    loop {
        a0 += read_run(bits, white, width - a0)?;
        if a0 == width {
            return Ok(());
        }
        push_change(changes, a0, width);
        white = !white;
    }
}

/// One modified-READ row (T.4 §4.2.1), coded against the changing elements of the row above.
fn decode_2d_row(
    bits: &mut Bits<'_>,
    width: u32,
    reference: &[u32],
    changes: &mut Vec<u32>,
) -> Result<(), Fault> {
    let w = i64::from(width);
    // a0 starts on an imaginary white pixel before the row.
    let mut a0: i64 = -1;
    let mut white = true;
    // Reference elements before `i` are all at or left of a0.
    let mut i = 0usize;
    while a0 < w {
        while i64::from(reference[i]) <= a0 {
            i += 1;
        }
        // b1 is the first change right of a0 to the colour opposite a0's: changes to black sit
        // at even indices, since every row starts white.
        let j = if i.is_multiple_of(2) == white {
            i
        } else {
            i + 1
        };
        let b1 = i64::from(reference[j]);
        let b2 = i64::from(reference[j + 1]);
        let code = MODES[bits.peek(MODE_BITS) as usize];
        bits.consume(usize::from(code.len));
        match code.mode {
            Mode::Pass => a0 = b2,
            Mode::Horizontal => {
                let start = a0.max(0) as u32;
                let a1 = start + read_run(bits, white, width - start)?;
                let a2 = a1 + read_run(bits, !white, width - a1)?;
                push_change(changes, a1, width);
                push_change(changes, a2, width);
                a0 = i64::from(a2);
            }
            Mode::Vertical(offset) => {
                let a1 = b1 + i64::from(offset);
                if a1 < a0.max(0) || a1 > w {
                    return Err(Fault::VerticalOutOfRow);
                }
                push_change(changes, a1 as u32, width);
                a0 = a1;
                white = !white;
            }
            Mode::Extension => return Err(Fault::Uncompressed),
            Mode::Eol => return Err(Fault::EolInRow),
            Mode::Invalid => return Err(Fault::BadCode),
        }
    }
    Ok(())
}

/// One run: make-up codes, then a terminating code. At most `limit` long.
#[inline]
fn read_run(bits: &mut Bits<'_>, white: bool, limit: u32) -> Result<u32, Fault> {
    let table = if white { &WHITE } else { &BLACK };
    let mut run = 0u32;
    loop {
        let code = table[bits.peek(RUN_BITS) as usize];
        bits.consume(usize::from(code.len));
        match code.kind {
            Kind::Terminating => {
                run += u32::from(code.run);
                return if run <= limit {
                    Ok(run)
                } else {
                    Err(Fault::RunPastRow)
                };
            }
            Kind::MakeUp => {
                run += u32::from(code.run);
                if run > limit {
                    return Err(Fault::RunPastRow);
                }
            }
            Kind::Eol => return Err(Fault::EolInRow),
            Kind::Invalid => return Err(Fault::BadCode),
        }
    }
}

/// The stream as bits, most significant first. Reads past the end see zeros, which no code
/// is made of; [`Bits::overrun`] tells when a code took some.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    len: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            len: data.len() * 8,
        }
    }

    /// 32 bits from bit `at`.
    #[inline]
    fn window(&self, at: usize) -> u32 {
        let byte = at / 8;
        let word = match self.data.get(byte..byte + 8) {
            Some(b) => u64::from_be_bytes(b.try_into().expect("eight bytes")),
            None => {
                let mut b = [0u8; 8];
                let tail = self.data.get(byte..).unwrap_or(&[]);
                b[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(b)
            }
        };
        ((word << (at % 8)) >> 32) as u32
    }

    /// The next `n` bits (1 to 32) as a number.
    #[inline]
    fn peek(&self, n: u32) -> u32 {
        self.window(self.pos) >> (32 - n)
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    fn read_bit(&mut self) -> bool {
        let bit = self.peek(1) == 1;
        self.consume(1);
        bit
    }

    fn align(&mut self) {
        self.pos = self.pos.next_multiple_of(8);
    }

    /// How many 0 bits come before the next 1; `None` when no 1 is left.
    fn zeros_ahead(&self) -> Option<usize> {
        let mut at = self.pos;
        while at < self.len {
            let window = self.window(at);
            if window != 0 {
                return Some(at + window.leading_zeros() as usize - self.pos);
            }
            at += 32;
        }
        None
    }

    /// Whether the data is used up but for zero padding, or for less than a code: where a
    /// stream cut short fails.
    fn near_end(&self) -> bool {
        self.len.saturating_sub(self.pos) < RUN_BITS as usize || self.zeros_ahead().is_none()
    }

    fn overrun(&self) -> bool {
        self.pos > self.len
    }
}

// ---- Code tables (ITU-T T.4, tables 1 to 4), looked up on the next 13 or 7 bits ----

/// Bits looked at for a run code: the longest (black make-up) codes have 13.
const RUN_BITS: u32 = 13;
/// Bits looked at for a two-dimensional mode code.
const MODE_BITS: u32 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Terminating,
    MakeUp,
    Eol,
}

#[derive(Debug, Clone, Copy)]
struct RunCode {
    /// Code length in bits; 0 for an invalid entry.
    len: u8,
    kind: Kind,
    run: u16,
}

const NO_RUN: RunCode = RunCode {
    len: 0,
    kind: Kind::Invalid,
    run: 0,
};

/// Terminating codes for white runs of 0 to 63.
const WHITE_TERMINATING: [&str; 64] = [
    "00110101", "000111", "0111", "1000", "1011", "1100", "1110", "1111", "10011", "10100",
    "00111", "01000", "001000", "000011", "110100", "110101", "101010", "101011", "0100111",
    "0001100", "0001000", "0010111", "0000011", "0000100", "0101000", "0101011", "0010011",
    "0100100", "0011000", "00000010", "00000011", "00011010", "00011011", "00010010", "00010011",
    "00010100", "00010101", "00010110", "00010111", "00101000", "00101001", "00101010", "00101011",
    "00101100", "00101101", "00000100", "00000101", "00001010", "00001011", "01010010", "01010011",
    "01010100", "01010101", "00100100", "00100101", "01011000", "01011001", "01011010", "01011011",
    "01001010", "01001011", "00110010", "00110011", "00110100",
];

/// Make-up codes for white runs of 64 to 1728, in steps of 64.
const WHITE_MAKE_UP: [&str; 27] = [
    "11011",
    "10010",
    "010111",
    "0110111",
    "00110110",
    "00110111",
    "01100100",
    "01100101",
    "01101000",
    "01100111",
    "011001100",
    "011001101",
    "011010010",
    "011010011",
    "011010100",
    "011010101",
    "011010110",
    "011010111",
    "011011000",
    "011011001",
    "011011010",
    "011011011",
    "010011000",
    "010011001",
    "010011010",
    "011000",
    "010011011",
];

/// Terminating codes for black runs of 0 to 63.
const BLACK_TERMINATING: [&str; 64] = [
    "0000110111",
    "010",
    "11",
    "10",
    "011",
    "0011",
    "0010",
    "00011",
    "000101",
    "000100",
    "0000100",
    "0000101",
    "0000111",
    "00000100",
    "00000111",
    "000011000",
    "0000010111",
    "0000011000",
    "0000001000",
    "00001100111",
    "00001101000",
    "00001101100",
    "00000110111",
    "00000101000",
    "00000010111",
    "00000011000",
    "000011001010",
    "000011001011",
    "000011001100",
    "000011001101",
    "000001101000",
    "000001101001",
    "000001101010",
    "000001101011",
    "000011010010",
    "000011010011",
    "000011010100",
    "000011010101",
    "000011010110",
    "000011010111",
    "000001101100",
    "000001101101",
    "000011011010",
    "000011011011",
    "000001010100",
    "000001010101",
    "000001010110",
    "000001010111",
    "000001100100",
    "000001100101",
    "000001010010",
    "000001010011",
    "000000100100",
    "000000110111",
    "000000111000",
    "000000100111",
    "000000101000",
    "000001011000",
    "000001011001",
    "000000101011",
    "000000101100",
    "000001011010",
    "000001100110",
    "000001100111",
];

/// Make-up codes for black runs of 64 to 1728, in steps of 64.
const BLACK_MAKE_UP: [&str; 27] = [
    "0000001111",
    "000011001000",
    "000011001001",
    "000001011011",
    "000000110011",
    "000000110100",
    "000000110101",
    "0000001101100",
    "0000001101101",
    "0000001001010",
    "0000001001011",
    "0000001001100",
    "0000001001101",
    "0000001110010",
    "0000001110011",
    "0000001110100",
    "0000001110101",
    "0000001110110",
    "0000001110111",
    "0000001010010",
    "0000001010011",
    "0000001010100",
    "0000001010101",
    "0000001011010",
    "0000001011011",
    "0000001100100",
    "0000001100101",
];

/// Make-up codes for runs of either colour of 1792 to 2560, in steps of 64 (T.4 table 3).
const EXTENDED_MAKE_UP: [&str; 13] = [
    "00000001000",
    "00000001100",
    "00000001101",
    "000000010010",
    "000000010011",
    "000000010100",
    "000000010101",
    "000000010110",
    "000000010111",
    "000000011100",
    "000000011101",
    "000000011110",
    "000000011111",
];

const EOL_CODE: &str = "000000000001";

/// Enter `code` in a table indexed by the next `bits` bits: every index it is a prefix of.
/// Two codes on one index is a typo in the tables above, and stops the build.
const fn enter<T: Copy, const N: usize>(
    table: &mut [T; N],
    filled: &mut [bool; N],
    bits: u32,
    code: &str,
    entry: T,
) {
    let code = code.as_bytes();
    let mut prefix = 0usize;
    let mut k = 0;
    while k < code.len() {
        prefix = prefix * 2 + (code[k] - b'0') as usize;
        k += 1;
    }
    let spare = bits as usize - code.len();
    let first = prefix << spare;
    let mut index = first;
    while index < first + (1 << spare) {
        assert!(!filled[index], "CCITT code tables overlap");
        filled[index] = true;
        table[index] = entry;
        index += 1;
    }
}

const fn run_table(terminating: &[&str; 64], make_up: &[&str; 27]) -> [RunCode; 1 << RUN_BITS] {
    let mut table = [NO_RUN; 1 << RUN_BITS];
    let mut filled = [false; 1 << RUN_BITS];
    let mut n = 0;
    while n < 64 {
        let entry = RunCode {
            len: terminating[n].len() as u8,
            kind: Kind::Terminating,
            run: n as u16,
        };
        enter(&mut table, &mut filled, RUN_BITS, terminating[n], entry);
        n += 1;
    }
    let mut n = 0;
    while n < 27 {
        let entry = RunCode {
            len: make_up[n].len() as u8,
            kind: Kind::MakeUp,
            run: 64 * (n as u16 + 1),
        };
        enter(&mut table, &mut filled, RUN_BITS, make_up[n], entry);
        n += 1;
    }
    let mut n = 0;
    while n < 13 {
        let entry = RunCode {
            len: EXTENDED_MAKE_UP[n].len() as u8,
            kind: Kind::MakeUp,
            run: 1792 + 64 * n as u16,
        };
        enter(
            &mut table,
            &mut filled,
            RUN_BITS,
            EXTENDED_MAKE_UP[n],
            entry,
        );
        n += 1;
    }
    let eol = RunCode {
        len: EOL_CODE.len() as u8,
        kind: Kind::Eol,
        run: 0,
    };
    enter(&mut table, &mut filled, RUN_BITS, EOL_CODE, eol);
    table
}

static WHITE: [RunCode; 1 << RUN_BITS] = run_table(&WHITE_TERMINATING, &WHITE_MAKE_UP);
static BLACK: [RunCode; 1 << RUN_BITS] = run_table(&BLACK_TERMINATING, &BLACK_MAKE_UP);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Invalid,
    Pass,
    Horizontal,
    /// a1 relative to b1: -3 (VL3) to 3 (VR3).
    Vertical(i8),
    /// The extension code; uncompressed mode.
    Extension,
    /// Seven zeros: an EOL's start.
    Eol,
}

#[derive(Debug, Clone, Copy)]
struct ModeCode {
    len: u8,
    mode: Mode,
}

const fn mode_table() -> [ModeCode; 1 << MODE_BITS] {
    let codes: [(&str, Mode); 11] = [
        ("0001", Mode::Pass),
        ("001", Mode::Horizontal),
        ("1", Mode::Vertical(0)),
        ("011", Mode::Vertical(1)),
        ("000011", Mode::Vertical(2)),
        ("0000011", Mode::Vertical(3)),
        ("010", Mode::Vertical(-1)),
        ("000010", Mode::Vertical(-2)),
        ("0000010", Mode::Vertical(-3)),
        ("0000001", Mode::Extension),
        ("0000000", Mode::Eol),
    ];
    let mut table = [ModeCode {
        len: 0,
        mode: Mode::Invalid,
    }; 1 << MODE_BITS];
    let mut filled = [false; 1 << MODE_BITS];
    let mut n = 0;
    while n < codes.len() {
        let entry = ModeCode {
            len: codes[n].0.len() as u8,
            mode: codes[n].1,
        };
        enter(&mut table, &mut filled, MODE_BITS, codes[n].0, entry);
        n += 1;
    }
    table
}

static MODES: [ModeCode; 1 << MODE_BITS] = mode_table();

#[cfg(test)]
pub(super) mod tests {
    //! Round trips through Ghostscript's `CCITTFaxEncode`, an encoder written independently of
    //! this decoder, over images that reach every code and mode and over every combination of
    //! the parameters; then damaged data.

    use std::path::Path;
    use std::process::Command;

    use image::{GrayImage, Luma};

    use super::*;
    use crate::input::format_tests::assert_same;
    use quire_testkit::synth::{Degradation, PageSpec, render_page};

    const DARK: Polarity = Polarity {
        black_is_dark: true,
    };

    /// An encoder call: the image (0 = black) and the filter's parameters.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Encoding {
        pub k: u32,
        pub end_of_line: bool,
        pub encoded_byte_align: bool,
        pub end_of_block: bool,
        pub black_is_1: bool,
    }

    impl Encoding {
        fn params(&self, width: u32, height: u32) -> G3Params {
            G3Params {
                k: self.k,
                columns: width,
                rows: height,
                end_of_line: self.end_of_line,
                encoded_byte_align: self.encoded_byte_align,
            }
        }
    }

    /// Every combination the tests run: K in {0, 1, 2, 4, 1000} and each flag either way,
    /// BlackIs1 alternating.
    fn every_encoding() -> Vec<Encoding> {
        let mut all = Vec::new();
        for k in [0, 1, 2, 4, 1000] {
            for flags in 0..8u32 {
                all.push(Encoding {
                    k,
                    end_of_line: flags & 1 != 0,
                    encoded_byte_align: flags & 2 != 0,
                    end_of_block: flags & 4 != 0,
                    black_is_1: (flags.count_ones() + k) % 2 == 1,
                });
            }
        }
        all
    }

    /// Encode every (image, encoding) pair with one Ghostscript run; the streams in order.
    pub(crate) fn ghostscript_encode(jobs: &[(&GrayImage, Encoding)]) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let mut ps = String::from(
            "/buf 65536 string def\n\
             /copyto { /dst exch def /src exch def\n\
               { src buf readstring exch dst exch writestring not { exit } if } loop\n\
             } bind def\n",
        );
        for (n, (img, enc)) in jobs.iter().enumerate() {
            let raw = dir.path().join(format!("{n}.raw"));
            std::fs::write(&raw, packed_rows(img, enc.black_is_1)).unwrap();
            let out = dir.path().join(format!("{n}.g3"));
            ps.push_str(&format!(
                "/out ({}) (w) file def\n\
                 /enc out << /K {} /Columns {} /Rows {} /EndOfLine {} /EncodedByteAlign {} \
                 /EndOfBlock {} /BlackIs1 {} >> /CCITTFaxEncode filter def\n\
                 /src ({}) (r) file def\n\
                 src enc copyto src closefile enc closefile out closefile\n",
                out.display(),
                enc.k,
                img.width(),
                img.height(),
                enc.end_of_line,
                enc.encoded_byte_align,
                enc.end_of_block,
                enc.black_is_1,
                raw.display(),
            ));
        }
        let script = dir.path().join("encode.ps");
        std::fs::write(&script, ps).unwrap();
        run_ghostscript(&script);
        (0..jobs.len())
            .map(|n| std::fs::read(dir.path().join(format!("{n}.g3"))).unwrap())
            .collect()
    }

    fn run_ghostscript(script: &Path) {
        let out = Command::new("gs")
            .args(["-q", "-dNOSAFER", "-dBATCH", "-dNODISPLAY"])
            .arg(script)
            .output()
            .expect("Ghostscript (gs) is installed: scripts/bootstrap installs it");
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "gs failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Rows packed 8 pixels a byte, each row padded to a byte, as the encoder reads them: a
    /// 0 bit is black unless BlackIs1.
    fn packed_rows(img: &GrayImage, black_is_1: bool) -> Vec<u8> {
        let stride = (img.width() as usize).div_ceil(8);
        let mut out = vec![0u8; stride * img.height() as usize];
        for (y, row) in img.rows().enumerate() {
            for (x, p) in row.enumerate() {
                if (p[0] < 128) == black_is_1 {
                    out[y * stride + x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        out
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn bilevel(w: u32, h: u32, black: impl Fn(u32, u32) -> bool) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| Luma([if black(x, y) { 0 } else { 255 }]))
    }

    /// A scanned text page, thresholded as a bilevel scanner does.
    pub(crate) fn text_page() -> GrayImage {
        let page = render_page(&PageSpec {
            dpi: 200.0,
            paper_in: (4.13, 5.83),
            degradation: Degradation {
                bilevel: true,
                ..Degradation::scanner(0.6)
            },
            ..PageSpec::default()
        })
        .expect("render");
        bilevel(page.image.width(), page.image.height(), |x, y| {
            page.image.get_pixel(x, y)[0] < 128
        })
    }

    /// Noise whose density changes from row to row, 203 wide (not a multiple of 8).
    fn noise() -> GrayImage {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut img = GrayImage::new(203, 97);
        for y in 0..97 {
            let density = [2, 50, 95, 10][y as usize % 4];
            for x in 0..203 {
                let black = rng.below(100) < density;
                img.put_pixel(x, y, Luma([if black { 0 } else { 255 }]));
            }
        }
        img
    }

    /// Single pixels and one-pixel gaps at both edges of a 37-pixel row.
    fn edges() -> GrayImage {
        let w = 37;
        let rows: [&dyn Fn(u32) -> bool; 9] = [
            &|x| x == 0,
            &|x| x == w - 1,
            &|x| x == 0 || x == w - 1,
            &|x| x != 0,
            &|x| x != w - 1,
            &|x| x % 2 == 0,
            &|x| x % 2 == 1,
            &|x| x == 1 || x == w - 2,
            &|_| true,
        ];
        // Each pattern under every other, so two-dimensional rows code each against each.
        let order: Vec<usize> = (0..rows.len())
            .flat_map(|a| (0..rows.len()).flat_map(move |b| [a, b]))
            .collect();
        bilevel(w, order.len() as u32, |x, y| rows[order[y as usize]](x))
    }

    /// Bars whose edges move by -3 to 3 pixels a row: every vertical mode, and pass modes
    /// where bars end.
    fn moving_edges() -> GrayImage {
        let mut rng = Rng(7);
        let h = 120;
        let mut bars: Vec<(i64, i64)> = (0..12).map(|i| (i * 25 + 3, i * 25 + 14)).collect();
        let mut rows = Vec::new();
        for y in 0..h {
            for bar in &mut bars {
                bar.0 = (bar.0 + rng.below(7) as i64 - 3).clamp(0, 299);
                bar.1 = (bar.1 + rng.below(7) as i64 - 3).clamp(bar.0, 299);
            }
            let row: Vec<bool> = (0..300)
                .map(|x| (y % 17 != 16) && bars.iter().any(|&(a, b)| x >= a && x < b))
                .collect();
            rows.push(row);
        }
        bilevel(300, h, |x, y| rows[y as usize][x as usize])
    }

    /// 5300 wide: every terminating and make-up code of both colours, runs longer than 2560
    /// (several make-up codes in one run), all-white and all-black rows.
    fn long_runs() -> GrayImage {
        let w = 5300u32;
        let mut rows: Vec<Vec<bool>> = (0..64u32)
            .map(|r| {
                let white = r + 64 * (r % 41);
                let black = (63 - r) + 64 * ((r * 7) % 41);
                (0..w).map(|x| x >= white && x < white + black).collect()
            })
            .collect();
        rows.push(vec![false; w as usize]);
        rows.push(vec![true; w as usize]);
        rows.push((0..w).map(|x| x >= 2700).collect());
        rows.push((0..w).map(|x| x < 2600 || x == w - 1).collect());
        rows.push(vec![true; w as usize]);
        bilevel(w, rows.len() as u32, |x, y| rows[y as usize][x as usize])
    }

    fn test_images() -> Vec<(&'static str, GrayImage)> {
        vec![
            ("text page", text_page()),
            ("noise", noise()),
            ("all white", bilevel(64, 16, |_, _| false)),
            ("all black", bilevel(64, 16, |_, _| true)),
            ("edges", edges()),
            ("moving edges", moving_edges()),
            ("long runs", long_runs()),
        ]
    }

    #[test]
    fn every_image_and_parameter_combination_round_trips_through_ghostscript() {
        let images = test_images();
        let encodings = every_encoding();
        let jobs: Vec<(&GrayImage, Encoding)> = images
            .iter()
            .flat_map(|(_, img)| encodings.iter().map(move |e| (img, *e)))
            .collect();
        let streams = ghostscript_encode(&jobs);
        let names = images
            .iter()
            .flat_map(|(name, _)| encodings.iter().map(move |_| *name));
        for ((name, (img, enc)), data) in names.zip(&jobs).zip(&streams) {
            let what = format!("{name}, {enc:?}");
            let params = enc.params(img.width(), img.height());
            let got =
                decode(data, &params, img.height(), DARK).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_same(&got, img, &what);
            if !enc.encoded_byte_align {
                // EOLs are accepted without EndOfLine, and their absence is forgiven with it.
                let flipped = G3Params {
                    end_of_line: !enc.end_of_line,
                    ..params
                };
                let got = decode(data, &flipped, img.height(), DARK)
                    .unwrap_or_else(|e| panic!("{what}, EndOfLine flipped: {e}"));
                assert_same(&got, img, &format!("{what}, EndOfLine flipped"));
            }
        }
    }

    /// hayro-ccitt (0.5) on the same Ghostscript streams as the round trip above, in its lenient
    /// mode: it fails exactly the streams the module documentation names, and reads the rest.
    /// When a new version reads those too, this test fails, and it is time to try replacing
    /// this decoder again.
    #[test]
    fn hayro_ccitt_fails_the_round_trips_named_in_the_module_documentation() {
        struct Rows<'a> {
            img: &'a mut GrayImage,
            y: u32,
            ok: bool,
        }
        impl hayro_ccitt::Decoder for Rows<'_> {
            fn push_row(&mut self, changes: &[u32]) {
                if self.y < self.img.height() {
                    let w = self.img.width();
                    self.ok &= fill_row(self.img, self.y, changes, w, 0, 255);
                }
                self.y += 1;
            }
        }
        let images = test_images();
        let encodings = every_encoding();
        let jobs: Vec<(&GrayImage, Encoding)> = images
            .iter()
            .flat_map(|(_, img)| encodings.iter().map(move |e| (img, *e)))
            .collect();
        let streams = ghostscript_encode(&jobs);
        let names = images
            .iter()
            .flat_map(|(name, _)| encodings.iter().map(move |_| *name));
        let mut unexpected = Vec::new();
        let mut failures = 0;
        for ((name, (img, enc)), data) in names.zip(&jobs).zip(&streams) {
            for claims_eol in [enc.end_of_line, !enc.end_of_line] {
                if claims_eol != enc.end_of_line && enc.encoded_byte_align {
                    continue;
                }
                let settings = hayro_ccitt::DecodeSettings {
                    columns: img.width(),
                    rows: img.height(),
                    end_of_block: enc.end_of_block,
                    end_of_line: claims_eol,
                    rows_are_byte_aligned: enc.encoded_byte_align,
                    encoding: if enc.k == 0 {
                        hayro_ccitt::EncodingMode::Group3_1D
                    } else {
                        hayro_ccitt::EncodingMode::Group3_2D
                    },
                    strict: false,
                };
                let mut got = GrayImage::new(img.width(), img.height());
                let mut rows = Rows {
                    img: &mut got,
                    y: 0,
                    ok: true,
                };
                let result = hayro_ccitt::decode(
                    data,
                    &mut rows,
                    &mut hayro_ccitt::DecoderContext::new(settings),
                );
                let read = result.is_ok() && rows.ok && rows.y == img.height() && got == **img;
                // (1) mixed coding without EOLs; (2) EOLs claimed but absent, with EndOfBlock.
                let named = !enc.end_of_line && (enc.k > 0 || (claims_eol && enc.end_of_block));
                failures += usize::from(!read);
                if read == named {
                    unexpected.push(format!(
                        "{name}, {enc:?}, EndOfLine {claims_eol}: read {read}, {result:?}"
                    ));
                }
            }
        }
        assert!(unexpected.is_empty(), "{unexpected:#?}");
        assert_eq!(failures, 175, "the count in the module documentation");
    }

    /// Take the EOLs out of a stream written without fill bits, leaving what follows them
    /// (for `K > 0`, the tag bits): the tagged rows without EOLs that poppler reads.
    pub(crate) fn strip_eols(data: &[u8]) -> Vec<u8> {
        let bit = |i: usize| data[i / 8] >> (7 - i % 8) & 1;
        let total = data.len() * 8;
        let mut kept: Vec<u8> = Vec::with_capacity(total);
        let mut i = 0;
        while i < total {
            let eol = i + 12 <= total && (i..i + 11).all(|j| bit(j) == 0) && bit(i + 11) == 1;
            if eol {
                i += 12;
            } else {
                kept.push(bit(i));
                i += 1;
            }
        }
        kept.chunks(8)
            .map(|byte| {
                byte.iter()
                    .enumerate()
                    .fold(0u8, |acc, (n, &b)| acc | b << (7 - n))
            })
            .collect()
    }

    #[test]
    fn tagged_rows_without_eols_decode_as_the_pdf_reference_reads_them() {
        let images = test_images();
        let jobs: Vec<(&GrayImage, Encoding)> = images
            .iter()
            .flat_map(|(_, img)| {
                [1, 2, 4, 1000].map(|k| {
                    let enc = Encoding {
                        k,
                        end_of_line: true,
                        encoded_byte_align: false,
                        end_of_block: false,
                        black_is_1: false,
                    };
                    (img, enc)
                })
            })
            .collect();
        let streams = ghostscript_encode(&jobs);
        for ((img, enc), data) in jobs.iter().zip(&streams) {
            let tagged = strip_eols(data);
            assert!(tagged.len() < data.len());
            let params = G3Params {
                end_of_line: false,
                ..enc.params(img.width(), img.height())
            };
            let got = decode(&tagged, &params, img.height(), DARK)
                .unwrap_or_else(|e| panic!("{}x{}, K {}: {e}", img.width(), img.height(), enc.k));
            assert_same(&got, img, &format!("K {}", enc.k));
        }
    }

    #[test]
    fn the_code_tables_are_complete_and_only_eight_zeros_lead_nowhere() {
        for table in [&WHITE, &BLACK] {
            for (index, code) in table.iter().enumerate() {
                let valid = code.kind != Kind::Invalid;
                // The codes' lengths sum to 1 - 2^-8 (Kraft): everything but 0000 0000 is a
                // code, and 0000 0000 only leads to EOL.
                assert_eq!(valid, index >> 5 != 0 || index >> 1 == 1, "{index:013b}");
                assert_eq!(code.len == 0, !valid);
            }
        }
        assert!(MODES.iter().all(|m| m.mode != Mode::Invalid));
    }

    /// Bits as text to bytes, zero-padded.
    fn from_bits(bits: &str) -> Vec<u8> {
        let bits: Vec<u8> = bits.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        bits.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |acc, (n, &b)| acc | (b - b'0') << (7 - n))
            })
            .collect()
    }

    fn params(k: u32, columns: u32, rows: u32) -> G3Params {
        G3Params {
            k,
            columns,
            rows,
            end_of_line: false,
            encoded_byte_align: false,
        }
    }

    #[test]
    fn hand_coded_rows_decode_and_fill_bits_before_eols_are_skipped() {
        // 16 wide: white 4 (1011), black 8 (000101), white 4 (1011); then an EOL with five
        // fill bits, tag 0 and the same row in two dimensions: V0 V0 V0 (1 1 1).
        let data = from_bits("1011 000101 1011  00000 000000000001 0 1 1 1");
        let img = decode(&data, &params(1, 16, 2), 2, DARK).unwrap();
        for y in 0..2 {
            let row: Vec<u8> = (0..16).map(|x| img.get_pixel(x, y)[0]).collect();
            assert_eq!(
                row,
                [[255; 4], [0; 4], [0; 4], [255; 4]].concat(),
                "row {y}"
            );
        }
        // With EncodedByteAlign, fill bits may also put the EOL itself on the byte boundary
        // (rather than its end, as Ghostscript does); the row data then follows unaligned.
        let data = from_bits(
            "000000000001 1011 000101 1011 000000 \
             000000000001 1011 000101 1011",
        );
        let aligned_eols = G3Params {
            end_of_line: true,
            encoded_byte_align: true,
            ..params(0, 16, 2)
        };
        let img = decode(&data, &aligned_eols, 2, DARK).unwrap();
        assert_eq!(img.get_pixel(3, 1)[0], 255);
        assert_eq!(img.get_pixel(4, 1)[0], 0);
        assert_eq!(img.get_pixel(12, 1)[0], 255);
        // Tag 1: white 4 (1011), black 2 (11), white 1794 (extended make-up 1792, then 2).
        // Tag 0: pass mode over that black bar (0001), then V0 onto the row's end (1).
        let data = from_bits("1 1011 11 00000001000 0111  0 0001 1");
        let img = decode(&data, &params(1, 1800, 2), 2, DARK).unwrap();
        let black: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p[0] == 0)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert_eq!(black, [(4, 0), (5, 0)]);
    }

    #[test]
    fn uncompressed_mode_is_refused_as_unsupported() {
        // Tag 0 (two-dimensional), then the extension code for uncompressed mode.
        let data = from_bits("0 0000001111 0000");
        let err = decode(&data, &params(1, 16, 1), 1, DARK).unwrap_err();
        assert!(matches!(err, G3Error::Unsupported { row: 0, .. }), "{err}");
        assert!(err.to_string().contains("uncompressed"), "{err}");
    }

    #[test]
    fn rows_short_of_the_height_and_early_end_of_block_are_truncation() {
        let one_row = from_bits("101010 000000000001 000000000001");
        assert_eq!(
            decode(&one_row, &params(0, 16, 0), 3, DARK).unwrap_err(),
            G3Error::Truncated { rows: 1, of: 3 }
        );
        assert_eq!(
            decode(&one_row, &params(0, 16, 2), 3, DARK).unwrap_err(),
            G3Error::Truncated { rows: 2, of: 3 }
        );
        // Rows beyond the height are never read.
        let white = decode(&one_row, &params(0, 16, 9), 1, DARK).unwrap();
        assert!(white.as_raw().iter().all(|&p| p == 255));
        let err = decode(&[], &params(4, 16, 0), 1, DARK).unwrap_err();
        assert_eq!(err, G3Error::Truncated { rows: 0, of: 1 });
    }

    #[test]
    fn damaged_data_gives_errors_never_panics_or_hangs() {
        let img = noise();
        let text = text_page();
        let encodings: Vec<Encoding> = every_encoding()
            .into_iter()
            .filter(|e| !e.end_of_block)
            .collect();
        let jobs: Vec<(&GrayImage, Encoding)> = encodings
            .iter()
            .map(|e| (&img, *e))
            .chain([(&text, encodings[12])])
            .collect();
        let streams = ghostscript_encode(&jobs);
        let mut rng = Rng(42);
        for ((img, enc), data) in jobs.iter().zip(&streams) {
            let params = enc.params(img.width(), img.height());
            let h = img.height();
            // Cut anywhere: an error, unless only the padding at the end went.
            let step = (data.len() / 150).max(1);
            for cut in (0..data.len()).step_by(step) {
                match decode(&data[..cut], &params, h, DARK) {
                    Ok(got) => assert_same(&got, img, &format!("{enc:?} cut at {cut}")),
                    Err(G3Error::Truncated { .. } | G3Error::Corrupt { .. }) => {}
                    Err(e) => panic!("{enc:?} cut at {cut}: {e}"),
                }
            }
            // Flipped bits and garbled bytes: any answer but a panic.
            for _ in 0..40 {
                let mut bad = data.clone();
                for _ in 0..=rng.below(4) {
                    let at = rng.below(bad.len() as u64) as usize;
                    if rng.below(2) == 0 {
                        bad[at] ^= 1 << rng.below(8);
                    } else {
                        bad[at] = rng.next() as u8;
                    }
                }
                let _ = decode(&bad, &params, h, DARK);
            }
        }
        // Random bytes under every parameter set and a range of sizes.
        for enc in every_encoding() {
            for (w, h) in [(1, 1), (7, 3), (64, 50), (203, 9), (3000, 4)] {
                for _ in 0..20 {
                    let len = rng.below(300) as usize;
                    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    let _ = decode(&data, &enc.params(w, h), h, DARK);
                    let zeros_and_ones: Vec<u8> = (0..len)
                        .map(|_| [0, 0xFF, 0x01][rng.below(3) as usize])
                        .collect();
                    let _ = decode(&zeros_and_ones, &enc.params(w, h), h, DARK);
                }
            }
        }
    }
}
