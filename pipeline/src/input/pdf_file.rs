//! A PDF's object structure read from the file without its stream data.
//!
//! A scanned PDF is nearly all image data: a 200-page, 300-dpi scan is some 380 MB of JPEG
//! streams around a few hundred kilobytes of structure. [`PdfFile::open`] reads the
//! cross-reference data (tables, cross-reference streams, hybrid files, the `/Prev` chain of
//! incremental updates, object streams) and every object, but leaves each stream's data in the
//! file: a stream keeps its dictionary (with `/Length` resolved to a number) and, in
//! `start_position`, the file offset where its data starts; its `content` stays empty.
//! [`PdfFile::data`] reads one stream's bytes when they are needed — an image when its page is
//! decoded, a content stream while its page is planned — so memory follows the pages being
//! worked on, not the size of the file.
//!
//! The reader takes the file as written and nothing else: an offset that does not point at its
//! object, a `/Length` that does not end at `endstream`, a syntax error, all make
//! [`PdfFile::open`] give up with [`OpenError::Unreadable`]. The caller then falls back to
//! lopdf's lenient whole-file load ([`PdfFile::in_memory`]), which repairs what it can, so a
//! damaged file is treated as before (at the old memory cost) and a well-formed one is read in
//! memory that does not grow with its size.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use lopdf::{Dictionary, Document, Object, ObjectId, ObjectStream, Stream, StringFormat};

/// What is read at first for an object or a cross-reference section; grown while too short.
const WINDOW: usize = 4096;
/// The most bytes the non-stream part of one object, or one cross-reference table, may take.
const MAX_OBJECT: usize = 64 << 20;
/// The most an object stream or cross-reference stream may decompress to.
const MAX_DECOMPRESSED: usize = lopdf::DEFAULT_MAX_DECOMPRESSED_SIZE;
/// Nesting of arrays and dictionaries, as lopdf allows.
const MAX_DEPTH: usize = 100;
/// Nesting of parentheses inside a literal string, as lopdf allows.
const MAX_BRACKET: usize = 100;
/// How many `/Length`s may refer onwards through object streams before it is called a cycle.
const MAX_INDIRECTION: usize = 8;

/// An input PDF: its objects, and where to read stream data from.
#[derive(Debug)]
pub(crate) struct PdfFile {
    pub(crate) doc: Document,
    /// The file stream data is read from; `None` when `doc` holds every stream's data.
    file: Option<Mutex<File>>,
}

/// Why [`PdfFile::open`] did not read a file.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// A trailer names an `/Encrypt` dictionary.
    Encrypted,
    /// Not readable as written; lopdf's lenient load may still manage.
    Unreadable(#[cfg_attr(not(test), allow(dead_code))] String),
}

impl PdfFile {
    /// A document loaded whole (every stream's data in memory).
    pub(super) fn in_memory(doc: Document) -> PdfFile {
        PdfFile { doc, file: None }
    }

    /// Read the structure of the PDF at `path`, leaving stream data in the file.
    pub(crate) fn open(path: &Path) -> Result<PdfFile, OpenError> {
        let file = File::open(path).map_err(|e| OpenError::Unreadable(e.to_string()))?;
        let doc = Indexer::new(&file).map_err(OpenError::Unreadable)?.read()?;
        Ok(PdfFile {
            doc,
            file: Some(Mutex::new(file)),
        })
    }

    /// True when stream data stays in the file until asked for.
    #[cfg(test)]
    pub(super) fn is_lazy(&self) -> bool {
        self.file.is_some()
    }

    /// A stream's data as stored (still encoded).
    pub(crate) fn data<'a>(&self, stream: &'a Stream) -> std::io::Result<Cow<'a, [u8]>> {
        let Some(file) = &self.file else {
            return Ok(Cow::Borrowed(&stream.content));
        };
        let start = stream
            .start_position
            .ok_or_else(|| std::io::Error::other("a stream without a position in the file"))?;
        let length = match stream.dict.get(b"Length") {
            Ok(Object::Integer(n)) if *n >= 0 => *n as usize,
            _ => return Err(std::io::Error::other("a stream without a length")),
        };
        let mut data = vec![0; length];
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(SeekFrom::Start(start as u64))?;
        file.read_exact(&mut data)?;
        Ok(Cow::Owned(data))
    }

    /// The stream with its data, for decoding.
    pub(super) fn loaded<'a>(&self, stream: &'a Stream) -> std::io::Result<Cow<'a, Stream>> {
        if self.file.is_none() {
            return Ok(Cow::Borrowed(stream));
        }
        let data = self.data(stream)?.into_owned();
        Ok(Cow::Owned(
            Stream::new(stream.dict.clone(), data).with_compression(false),
        ))
    }
}

/// One row of the cross-reference data.
#[derive(Debug, Clone, Copy)]
enum Entry {
    Free,
    Normal { offset: u64 },
    Compressed { container: u32 },
}

/// Reads the cross-reference data and then every object listed in it.
struct Indexer<'f> {
    file: &'f File,
    len: u64,
    /// Where `%PDF-` starts: offsets in the file count from there, as in lopdf.
    base: u64,
    version: String,
    entries: BTreeMap<u32, Entry>,
    /// Object streams already decoded, by object number.
    containers: RefCell<HashMap<u32, Arc<BTreeMap<ObjectId, Object>>>>,
}

type Fallible<T> = std::result::Result<T, String>;

impl<'f> Indexer<'f> {
    fn new(file: &'f File) -> Fallible<Indexer<'f>> {
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let mut ix = Indexer {
            file,
            len,
            base: 0,
            version: String::new(),
            entries: BTreeMap::new(),
            containers: RefCell::default(),
        };
        let head = ix.read_at(0, 1024)?;
        let base = head
            .windows(5)
            .position(|w| w == b"%PDF-")
            .ok_or("no %PDF- header")?;
        ix.base = base as u64;
        let version: String = head[base + 5..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'.')
            .map(|&c| c as char)
            .collect();
        if version.is_empty() {
            return Err("no version in the %PDF- header".into());
        }
        ix.version = version;
        Ok(ix)
    }

    /// Up to `n` bytes at absolute offset `at` (fewer at the end of the file).
    fn read_at(&self, at: u64, n: usize) -> Fallible<Vec<u8>> {
        let n = n.min(self.len.saturating_sub(at) as usize);
        let mut buf = vec![0; n];
        let mut f = self.file;
        f.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        f.read_exact(&mut buf).map_err(|e| e.to_string())?;
        Ok(buf)
    }

    /// Where `offset` (relative to `%PDF-`, as the file states it) is in the file. Checked:
    /// a stated offset can be anything up to `u64::MAX`.
    fn position(&self, offset: u64) -> Fallible<u64> {
        self.base
            .checked_add(offset)
            .filter(|&at| at < self.len)
            .ok_or_else(|| format!("offset {offset} is past the end of the file"))
    }

    /// Run `parse` over the bytes from `offset` (relative to `%PDF-`), reading more while it
    /// runs out of input. Returns what it parsed and the bytes it used.
    fn parse_at<T>(
        &self,
        offset: u64,
        parse: impl Fn(&mut Lexer) -> Parsed<T>,
    ) -> Fallible<(T, usize)> {
        let at = self.position(offset)?;
        let mut window = WINDOW;
        loop {
            let buf = self.read_at(at, window)?;
            let complete = at + buf.len() as u64 >= self.len;
            let mut lex = Lexer {
                buf: &buf,
                pos: 0,
                complete,
            };
            match parse(&mut lex) {
                Ok(v) => return Ok((v, lex.pos)),
                Err(Syntax::More) if !complete && window < MAX_OBJECT => window *= 4,
                Err(Syntax::More) => {
                    return Err(format!("offset {offset}: unexpected end of the file"));
                }
                Err(Syntax::Bad(why)) => return Err(format!("offset {offset}: {why}")),
            }
        }
    }

    fn read(mut self) -> Result<Document, OpenError> {
        let trailer = self.read_xref().map_err(OpenError::Unreadable)?;
        let objects = self.read_objects().map_err(OpenError::Unreadable)?;
        let mut doc = Document::new();
        doc.version = self.version;
        doc.max_id = objects.keys().next_back().map_or(0, |id| id.0);
        doc.objects = objects;
        doc.trailer = trailer.ok_or(OpenError::Encrypted)?;
        Ok(doc)
    }

    /// Follow `startxref` and the `/Prev` chain, newest section first; an object's newest entry
    /// wins. Returns the trailer, `None` for an encrypted file.
    fn read_xref(&mut self) -> Fallible<Option<Dictionary>> {
        let tail_at = self.len.saturating_sub(2048);
        let tail = self.read_at(tail_at, 2048)?;
        let key = b"startxref";
        let at = tail
            .windows(key.len())
            .rposition(|w| w == key)
            .ok_or("no startxref")?;
        let digits: Vec<u8> = tail[at + key.len()..]
            .iter()
            .skip_while(|c| is_whitespace(**c))
            .take_while(|c| c.is_ascii_digit())
            .copied()
            .collect();
        let mut next: Option<u64> = Some(
            std::str::from_utf8(&digits)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("startxref without an offset")?,
        );
        let mut trailer: Option<Dictionary> = None;
        let mut seen = HashSet::new();
        let mut encrypted = false;
        while let Some(offset) = next.take() {
            if !seen.insert(offset) {
                return Err("the cross-reference sections form a loop".into());
            }
            let (mut section, dict) = self.read_section(offset)?;
            if let Ok(Object::Integer(stm)) = dict.get(b"XRefStm") {
                let stm = u64::try_from(*stm).map_err(|_| "an /XRefStm that is not an offset")?;
                let (hybrid, _) = self.read_xref_stream(stm)?;
                for (num, entry) in hybrid {
                    // A table's free rows may stand in for objects kept in its stream.
                    match section.get(&num) {
                        None | Some(Entry::Free) => {
                            section.insert(num, entry);
                        }
                        Some(_) => {}
                    }
                }
            }
            for (num, entry) in section {
                self.entries.entry(num).or_insert(entry);
            }
            encrypted |= dict.has(b"Encrypt");
            next = match dict.get(b"Prev") {
                Ok(Object::Integer(p)) if *p >= 0 => Some(*p as u64),
                Ok(_) => return Err("a /Prev that is not an offset".into()),
                Err(_) => None,
            };
            match &mut trailer {
                None => trailer = Some(dict),
                Some(t) => {
                    for (k, v) in dict.iter() {
                        if !t.has(k) {
                            t.set(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        if encrypted {
            return Ok(None);
        }
        let mut trailer = trailer.ok_or("no cross-reference section")?;
        trailer.remove(b"Prev");
        trailer.remove(b"XRefStm");
        if !trailer.has(b"Root") {
            return Err("the trailer names no /Root".into());
        }
        Ok(Some(trailer))
    }

    /// One cross-reference section: a table with its trailer, or a cross-reference stream.
    fn read_section(&self, offset: u64) -> Fallible<(BTreeMap<u32, Entry>, Dictionary)> {
        let starts_table = self
            .read_at(self.position(offset)?, 64)?
            .iter()
            .skip_while(|c| is_whitespace(**c))
            .take(4)
            .eq(b"xref".iter());
        if starts_table {
            Ok(self.parse_at(offset, xref_table)?.0)
        } else {
            self.read_xref_stream(offset)
        }
    }

    fn read_xref_stream(&self, offset: u64) -> Fallible<(BTreeMap<u32, Entry>, Dictionary)> {
        let (_, object) = self.indirect_object(offset, 0)?;
        let Object::Stream(stream) = object else {
            return Err(format!(
                "offset {offset}: no cross-reference table or stream"
            ));
        };
        if !stream.dict.has_type(b"XRef") {
            return Err(format!("offset {offset}: a stream that is not /Type /XRef"));
        }
        let data = self.stream_data(&stream)?;
        let decoded = Stream::new(stream.dict.clone(), data)
            .get_plain_content_with_limit(MAX_DECOMPRESSED)
            .map_err(|e| format!("cross-reference stream: {e}"))?;
        let ints = |key: &[u8]| -> Option<Vec<u64>> {
            stream
                .dict
                .get(key)
                .ok()?
                .as_array()
                .ok()?
                .iter()
                .map(|o| match o {
                    Object::Integer(i) if *i >= 0 => Some(*i as u64),
                    _ => None,
                })
                .collect()
        };
        let w = ints(b"W").filter(|w| w.len() == 3 && w.iter().all(|&n| n <= 8));
        let w = w.ok_or("cross-reference stream without a valid /W")?;
        let size = match stream.dict.get(b"Size") {
            Ok(Object::Integer(n)) if *n >= 0 => *n as u64,
            _ => return Err("cross-reference stream without /Size".into()),
        };
        let index = ints(b"Index").unwrap_or_else(|| vec![0, size]);
        if index.len() % 2 != 0 {
            return Err("cross-reference stream with an odd /Index".into());
        }
        let row = (w[0] + w[1] + w[2]) as usize;
        if row == 0 {
            return Err("cross-reference stream with empty rows".into());
        }
        let mut rows = decoded.chunks_exact(row);
        let field = |bytes: &[u8]| bytes.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
        let mut entries = BTreeMap::new();
        for pair in index.chunks(2) {
            for i in 0..pair[1] {
                let Some(r) = rows.next() else {
                    return Err("cross-reference stream shorter than its /Index".into());
                };
                let (a, rest) = r.split_at(w[0] as usize);
                let (b, _generation) = rest.split_at(w[1] as usize);
                let kind = if w[0] == 0 { 1 } else { field(a) };
                let num = u32::try_from(pair[0] + i).map_err(|e| e.to_string())?;
                let entry = match kind {
                    0 => Entry::Free,
                    1 if field(b) == 0 => continue,
                    1 => Entry::Normal { offset: field(b) },
                    2 => Entry::Compressed {
                        container: u32::try_from(field(b)).map_err(|e| e.to_string())?,
                    },
                    // Unknown types are to be read as the null object.
                    _ => continue,
                };
                entries.insert(num, entry);
            }
        }
        Ok((entries, stream.dict))
    }

    /// The object at `offset`; a stream keeps its data in the file (see the module docs).
    fn indirect_object(&self, offset: u64, depth: usize) -> Fallible<(ObjectId, Object)> {
        let ((id, object, data_at), _) = self.parse_at(offset, indirect_object)?;
        let Some(data_at) = data_at else {
            return Ok((id, object));
        };
        let Object::Dictionary(mut dict) = object else {
            unreachable!("only a dictionary is followed by stream data");
        };
        let length = match dict.get(b"Length") {
            Ok(Object::Reference(r)) => self.integer(*r, depth + 1)?,
            Ok(o) => integral(o).ok_or("a stream /Length that is not a number")?,
            Err(_) => {
                return Err(format!(
                    "object {} {}: a stream without /Length",
                    id.0, id.1
                ));
            }
        };
        let start = self.base + offset + data_at as u64;
        let length = u64::try_from(length).map_err(|_| "a negative stream /Length")?;
        let end = start
            .checked_add(length)
            .filter(|&end| end <= self.len)
            .ok_or_else(|| format!("object {} {}: the stream runs past the end", id.0, id.1))?;
        // As lopdf reads it: the data, an optional end of line, then `endstream`.
        let after = self.read_at(end, 11)?;
        let after = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .or_else(|| after.strip_prefix(b"\r"))
            .unwrap_or(&after);
        if !after.starts_with(b"endstream") {
            return Err(format!(
                "object {} {}: the stream's /Length does not end at endstream",
                id.0, id.1
            ));
        }
        dict.set("Length", Object::Integer(length as i64));
        let start = usize::try_from(start).map_err(|e| e.to_string())?;
        Ok((id, Object::Stream(Stream::with_position(dict, start))))
    }

    fn stream_data(&self, stream: &Stream) -> Fallible<Vec<u8>> {
        let start = stream.start_position.ok_or("a stream without data")? as u64;
        let length = integral(stream.dict.get(b"Length").map_err(|e| e.to_string())?)
            .ok_or("a stream without a length")? as usize;
        let data = self.read_at(start, length)?;
        if data.len() != length {
            return Err("the stream runs past the end of the file".into());
        }
        Ok(data)
    }

    /// An integer object (an indirect `/Length`).
    fn integer(&self, id: ObjectId, depth: usize) -> Fallible<i64> {
        if depth > MAX_INDIRECTION {
            return Err("a /Length that refers round in a cycle".into());
        }
        let object = match self.entries.get(&id.0) {
            Some(Entry::Normal { offset }) => self.indirect_object(*offset, depth)?.1,
            Some(Entry::Compressed { container }) => self
                .container(*container, depth)?
                .get(&(id.0, 0))
                .cloned()
                .ok_or("an object missing from its object stream")?,
            _ => return Err(format!("object {} {} is missing", id.0, id.1)),
        };
        integral(&object).ok_or_else(|| format!("object {} {} is not a number", id.0, id.1))
    }

    /// The objects of object stream `num`, decoded once.
    fn container(&self, num: u32, depth: usize) -> Fallible<Arc<BTreeMap<ObjectId, Object>>> {
        if let Some(c) = self.containers.borrow().get(&num) {
            return Ok(c.clone());
        }
        let Some(Entry::Normal { offset }) = self.entries.get(&num) else {
            return Err(format!("object stream {num} is missing"));
        };
        let (_, object) = self.indirect_object(*offset, depth)?;
        let Object::Stream(stream) = object else {
            return Err(format!("object {num} is not an object stream"));
        };
        let data = self.stream_data(&stream)?;
        let stream = Stream::new(stream.dict, data);
        let objects = ObjectStream::new_with_limit(&stream, Some(MAX_DECOMPRESSED))
            .map_err(|e| format!("object stream {num}: {e}"))?
            .objects;
        let objects = Arc::new(objects);
        self.containers.borrow_mut().insert(num, objects.clone());
        Ok(objects)
    }

    fn read_objects(&self) -> Fallible<BTreeMap<ObjectId, Object>> {
        let mut objects = BTreeMap::new();
        for (&num, entry) in &self.entries {
            match *entry {
                Entry::Free => {}
                Entry::Normal { offset } => {
                    let (id, object) = self.indirect_object(offset, 0)?;
                    if id.0 != num {
                        return Err(format!(
                            "the cross-reference data puts object {num} where object {} is",
                            id.0
                        ));
                    }
                    objects.insert(id, object);
                }
                Entry::Compressed { container } => {
                    let object = self
                        .container(container, 0)?
                        .get(&(num, 0))
                        .cloned()
                        .ok_or_else(|| format!("object {num} is missing from object stream"))?;
                    objects.insert((num, 0), object);
                }
            }
        }
        Ok(objects)
    }
}

/// An integer, or a real with an integral value, as lopdf accepts for `/Length`.
fn integral(object: &Object) -> Option<i64> {
    match object {
        Object::Integer(i) => Some(*i),
        Object::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e18 => Some(*r as i64),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax: the PDF object grammar over a window of the file.

/// Why a parse stopped.
#[derive(Debug)]
enum Syntax {
    /// The window ended first: read more and try again.
    More,
    Bad(String),
}

type Parsed<T> = std::result::Result<T, Syntax>;

fn bad<T>(why: impl Into<String>) -> Parsed<T> {
    Err(Syntax::Bad(why.into()))
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\0' | b'\x0C')
}

fn is_delimiter(c: u8) -> bool {
    b"()<>[]{}/%".contains(&c)
}

fn is_regular(c: u8) -> bool {
    !is_whitespace(c) && !is_delimiter(c)
}

struct Lexer<'b> {
    buf: &'b [u8],
    pos: usize,
    /// The window reaches the end of the file: running out is an error, not a reason to read on.
    complete: bool,
}

impl<'b> Lexer<'b> {
    fn end<T>(&self) -> Parsed<T> {
        if self.complete {
            bad("unexpected end of the file")
        } else {
            Err(Syntax::More)
        }
    }

    fn peek(&self) -> Parsed<u8> {
        match self.buf.get(self.pos) {
            Some(&c) => Ok(c),
            None => self.end(),
        }
    }

    /// White space and comments.
    fn space(&mut self) -> Parsed<()> {
        loop {
            match self.buf.get(self.pos) {
                Some(&c) if is_whitespace(c) => self.pos += 1,
                Some(b'%') => {
                    match self.buf[self.pos..]
                        .iter()
                        .position(|&c| c == b'\r' || c == b'\n')
                    {
                        Some(n) => self.pos += n,
                        None if self.complete => self.pos = self.buf.len(),
                        None => return Err(Syntax::More),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// A run of regular characters: a number or a keyword, ended inside the window (or by the
    /// end of the file).
    fn token(&mut self) -> Parsed<&'b [u8]> {
        let buf = self.buf;
        let start = self.pos;
        let end = match buf[start..].iter().position(|&c| !is_regular(c)) {
            Some(n) => start + n,
            None if self.complete => buf.len(),
            None => return Err(Syntax::More),
        };
        self.pos = end;
        Ok(&buf[start..end])
    }

    fn unsigned(&mut self) -> Parsed<u64> {
        let t = self.token()?;
        if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
            return bad("expected a number");
        }
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or_else(|| bad("number out of range"), Ok)
    }

    fn keyword(&mut self, word: &[u8]) -> Parsed<()> {
        if self.token()? == word {
            Ok(())
        } else {
            bad(format!("expected {}", String::from_utf8_lossy(word)))
        }
    }

    fn object(&mut self, depth: usize) -> Parsed<Object> {
        if depth == 0 {
            return bad("objects nested too deeply");
        }
        match self.peek()? {
            b'/' => Ok(Object::Name(self.name()?)),
            b'(' => {
                self.pos += 1;
                let s = self.literal(MAX_BRACKET)?;
                Ok(Object::String(s, StringFormat::Literal))
            }
            b'<' => {
                if self.buf.len() < self.pos + 2 {
                    return self.end();
                }
                if self.buf[self.pos + 1] == b'<' {
                    Ok(Object::Dictionary(self.dictionary(depth)?))
                } else {
                    self.hex()
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.space()?;
                    if self.peek()? == b']' {
                        self.pos += 1;
                        return Ok(Object::Array(items));
                    }
                    items.push(self.object(depth - 1)?);
                }
            }
            c if is_regular(c) => {
                let t = self.token()?;
                match t {
                    b"null" => return Ok(Object::Null),
                    b"true" => return Ok(Object::Boolean(true)),
                    b"false" => return Ok(Object::Boolean(false)),
                    _ => {}
                }
                let number = number(t).map_or_else(|| bad("not a PDF object"), Ok)?;
                // `num gen R` is a reference; the integer alone is a number.
                if let Object::Integer(num) = number
                    && t[0].is_ascii_digit()
                {
                    let after = self.pos;
                    if let Some(r) = self.reference_rest(num)? {
                        return Ok(r);
                    }
                    self.pos = after;
                }
                Ok(number)
            }
            _ => bad("not a PDF object"),
        }
    }

    /// After an unsigned integer: ` gen R`, or `None` (position then undefined).
    fn reference_rest(&mut self, num: i64) -> Parsed<Option<Object>> {
        self.space()?;
        if !self.peek()?.is_ascii_digit() {
            return Ok(None);
        }
        let t = self.token()?;
        if !t.iter().all(u8::is_ascii_digit) {
            return Ok(None);
        }
        let Some(generation) = std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
        else {
            return Ok(None);
        };
        self.space()?;
        if self.peek()? != b'R' {
            return Ok(None);
        }
        if self.token()? != b"R" {
            return Ok(None);
        }
        let Ok(num) = u32::try_from(num) else {
            return Ok(None);
        };
        Ok(Some(Object::Reference((num, generation))))
    }

    fn name(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1; // '/'
        let mut out = Vec::new();
        loop {
            match self.buf.get(self.pos) {
                None => return self.end(),
                Some(b'#') => {
                    let Some(hex) = self.buf.get(self.pos + 1..self.pos + 3) else {
                        return self.end();
                    };
                    match (hex_value(hex[0]), hex_value(hex[1])) {
                        (Some(h), Some(l)) => {
                            out.push(h << 4 | l);
                            self.pos += 3;
                        }
                        // As lopdf: any other `#` ends the name.
                        _ => return Ok(out),
                    }
                }
                Some(&c) if is_regular(c) => {
                    out.push(c);
                    self.pos += 1;
                }
                Some(_) => return Ok(out),
            }
        }
    }

    /// A literal string after its `(`, through its `)`.
    fn literal(&mut self, depth: usize) -> Parsed<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                b')' => return Ok(out),
                b'(' => {
                    if depth == 0 {
                        return bad("a string nested too deeply");
                    }
                    out.push(b'(');
                    out.extend(self.literal(depth - 1)?);
                    out.push(b')');
                }
                b'\r' => {
                    // An end of line in a string is a newline, whichever it was.
                    if self.peek()? == b'\n' {
                        self.pos += 1;
                    }
                    out.push(b'\n');
                }
                b'\\' => {
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0C),
                        b'0'..=b'7' => {
                            let mut v = u16::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek()? {
                                    d @ b'0'..=b'7' => {
                                        v = v * 8 + u16::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        b'\r' => {
                            if self.peek()? == b'\n' {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn hex(&mut self) -> Parsed<Object> {
        self.pos += 1; // '<'
        let mut out = Vec::new();
        let mut half = false;
        loop {
            let c = self.peek()?;
            self.pos += 1;
            if c == b'>' {
                return Ok(Object::String(out, StringFormat::Hexadecimal));
            }
            if is_whitespace(c) {
                continue;
            }
            let v = hex_value(c).map_or_else(|| bad("not a hexadecimal string"), Ok)?;
            if half {
                *out.last_mut().expect("a first half was pushed") |= v;
            } else {
                out.push(v << 4);
            }
            half = !half;
        }
    }

    fn dictionary(&mut self, depth: usize) -> Parsed<Dictionary> {
        self.pos += 2; // "<<"
        let mut dict = Dictionary::new();
        loop {
            self.space()?;
            match self.peek()? {
                b'>' => {
                    if self.buf.get(self.pos + 1).is_none() {
                        return self.end();
                    }
                    if self.buf[self.pos + 1] != b'>' {
                        return bad("a dictionary not closed by >>");
                    }
                    self.pos += 2;
                    return Ok(dict);
                }
                b'/' => {
                    let key = self.name()?;
                    self.space()?;
                    let value = self.object(depth - 1)?;
                    dict.set(key, value);
                }
                _ => return bad("a dictionary key that is not a name"),
            }
        }
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// An integer or a real, as lopdf reads them (a stray `-` inside a fraction is ignored).
fn number(t: &[u8]) -> Option<Object> {
    let (sign, digits) = match t.first()? {
        b'+' | b'-' => t.split_at(1),
        _ => (&t[..0], t),
    };
    if digits.is_empty() {
        return None;
    }
    if digits.iter().all(u8::is_ascii_digit) {
        let s = std::str::from_utf8(t).ok()?;
        return s.parse::<i64>().ok().map(Object::Integer);
    }
    let dot = digits.iter().position(|&c| c == b'.')?;
    let (int, frac) = (&digits[..dot], &digits[dot + 1..]);
    if !int.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(|&c| c.is_ascii_digit() || c == b'-')
        || (int.is_empty() && !frac.first().is_some_and(u8::is_ascii_digit))
    {
        return None;
    }
    let mut s: Vec<u8> = sign.to_vec();
    s.extend_from_slice(int);
    s.push(b'.');
    s.extend(frac.iter().filter(|&&c| c != b'-'));
    std::str::from_utf8(&s)
        .ok()?
        .parse::<f32>()
        .ok()
        .map(Object::Real)
}

/// `num gen obj`, the object, and for a stream where its data starts (relative to the start).
fn indirect_object(lex: &mut Lexer) -> Parsed<(ObjectId, Object, Option<usize>)> {
    lex.space()?;
    let num = lex.unsigned()?;
    lex.space()?;
    let generation = lex.unsigned()?;
    lex.space()?;
    lex.keyword(b"obj")?;
    let (Ok(num), Ok(generation)) = (u32::try_from(num), u16::try_from(generation)) else {
        return bad("object number out of range");
    };
    lex.space()?;
    let object = lex.object(MAX_DEPTH)?;
    if !matches!(object, Object::Dictionary(_)) {
        return Ok(((num, generation), object, None));
    }
    // `stream`, spaces or tabs, and one end of line, as lopdf takes them.
    let after_dict = lex.pos;
    lex.space()?;
    let rest = &lex.buf[lex.pos..];
    if rest.len() < 6 + 2 && !lex.complete && b"stream".starts_with(&rest[..rest.len().min(6)]) {
        return Err(Syntax::More);
    }
    if !rest.starts_with(b"stream") || rest.get(6).is_some_and(|&c| is_regular(c)) {
        lex.pos = after_dict;
        return Ok(((num, generation), object, None));
    }
    lex.pos += 6;
    while matches!(lex.peek()?, b' ' | b'\t') {
        lex.pos += 1;
    }
    match lex.peek()? {
        b'\n' => lex.pos += 1,
        b'\r' => {
            lex.pos += 1;
            if lex.buf.get(lex.pos) == Some(&b'\n') {
                lex.pos += 1;
            } else if lex.pos == lex.buf.len() && !lex.complete {
                return Err(Syntax::More);
            }
        }
        _ => return bad("no end of line after the stream keyword"),
    }
    Ok(((num, generation), object, Some(lex.pos)))
}

/// A cross-reference table and its trailer.
fn xref_table(lex: &mut Lexer) -> Parsed<(BTreeMap<u32, Entry>, Dictionary)> {
    lex.space()?;
    lex.keyword(b"xref")?;
    let mut entries = BTreeMap::new();
    loop {
        lex.space()?;
        if lex.peek()? == b't' {
            lex.keyword(b"trailer")?;
            break;
        }
        let start = lex.unsigned()?;
        lex.space()?;
        let count = lex.unsigned()?;
        for i in 0..count {
            lex.space()?;
            let offset = lex.unsigned()?;
            lex.space()?;
            let _generation = lex.unsigned()?;
            lex.space()?;
            let kind = lex.token()?;
            let Ok(num) = u32::try_from(start + i) else {
                return bad("object number out of range");
            };
            let entry = match kind {
                b"n" if offset == 0 => continue,
                b"n" => Entry::Normal { offset },
                b"f" => Entry::Free,
                _ => return bad("a cross-reference row that is neither n nor f"),
            };
            // The first row for a number in a section counts.
            entries.entry(num).or_insert(entry);
        }
    }
    lex.space()?;
    if lex.peek()? != b'<' {
        return bad("a trailer that is not a dictionary");
    }
    match lex.object(MAX_DEPTH)? {
        Object::Dictionary(d) => Ok((entries, d)),
        _ => bad("a trailer that is not a dictionary"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Parsed<Object> {
        Lexer {
            buf: bytes,
            pos: 0,
            complete: true,
        }
        .object(MAX_DEPTH)
    }

    #[test]
    fn objects_parse_as_lopdf_reads_them() {
        let o = parse(b"<</Type/XObject /W 12 /R 3 0 R /A[1 -2.5 .5 4.-2 (a\\(b\\)c\\101) <4142 4>] /N#20x true /B false /Z null>>").unwrap();
        let d = o.as_dict().unwrap();
        assert_eq!(d.get(b"Type").unwrap(), &Object::Name(b"XObject".to_vec()));
        assert_eq!(d.get(b"W").unwrap(), &Object::Integer(12));
        assert_eq!(d.get(b"R").unwrap(), &Object::Reference((3, 0)));
        assert_eq!(
            d.get(b"A").unwrap().as_array().unwrap(),
            &vec![
                Object::Integer(1),
                Object::Real(-2.5),
                Object::Real(0.5),
                Object::Real(4.2),
                Object::String(b"a(b)cA".to_vec(), StringFormat::Literal),
                Object::String(b"AB@".to_vec(), StringFormat::Hexadecimal),
            ]
        );
        assert_eq!(d.get(b"N x").unwrap(), &Object::Boolean(true));
        assert_eq!(d.get(b"B").unwrap(), &Object::Boolean(false));
        assert_eq!(d.get(b"Z").unwrap(), &Object::Null);
        // Two integers that are not a reference stay two integers.
        let a = parse(b"[1 2 3 R 4 5]").unwrap();
        assert_eq!(
            a.as_array().unwrap(),
            &vec![
                Object::Integer(1),
                Object::Reference((2, 3)),
                Object::Integer(4),
                Object::Integer(5)
            ]
        );
    }

    #[test]
    fn a_short_window_asks_for_more() {
        let mut lex = Lexer {
            buf: b"7 0 obj\n<</Length 10/Filter/Fl",
            pos: 0,
            complete: false,
        };
        assert!(matches!(indirect_object(&mut lex), Err(Syntax::More)));
        let mut lex = Lexer {
            buf: b"7 0 obj\n<</Length 10>>\nstream\r\n0123456789\nendstream",
            pos: 0,
            complete: true,
        };
        let (id, _, data_at) = indirect_object(&mut lex).unwrap();
        assert_eq!(id, (7, 0));
        assert_eq!(data_at, Some(31));
    }
}
