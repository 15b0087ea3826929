//! The PDF reader that leaves stream data in the file ([`super::pdf_file`]): it must see the
//! objects lopdf sees, on the corpus and on the shapes `qpdf` writes (object streams,
//! cross-reference streams, linearized files, indirect `/Length`s, incremental updates); pages
//! decode the same either way; damaged files still go through lopdf; and a probed PDF holds no
//! stream data at all.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use lopdf::{Dictionary, Document, Object, Stream};

use super::pdf::{self, plan_pages};
use super::pdf_file::{OpenError, PdfFile};
use super::{Source, probe};
use crate::error::Location;
use crate::options::ProcessOptions;
use crate::page::Raster;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus")).join(name)
}

const CORPUS_PDFS: [&str; 4] = ["ccitt.pdf", "epson.pdf", "multipage.pdf", "blank.pdf"];

fn qpdf(args: &[&str], input: &Path, output: &Path) {
    let status = Command::new("qpdf")
        .args(args)
        .arg(input)
        .arg(output)
        .status()
        .expect("qpdf runs");
    // 3 is "succeeded with warnings".
    assert!(
        matches!(status.code(), Some(0 | 3)),
        "qpdf {args:?} failed: {status}"
    );
}

/// The lazily read objects are lopdf's, with every stream's data left in the file but readable.
fn assert_reads_like_lopdf(path: &Path) {
    let lazy = PdfFile::open(path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    assert!(lazy.is_lazy());
    let full = Document::load(path).unwrap();
    let what = path.display();
    let mut stream_bytes = 0;
    for (id, theirs) in &full.objects {
        // lopdf keeps the cross-reference stream among the objects; it is structure, not content.
        if let Object::Stream(s) = theirs
            && s.dict.has_type(b"XRef")
        {
            continue;
        }
        let ours = lazy
            .doc
            .objects
            .get(id)
            .unwrap_or_else(|| panic!("{what}: object {id:?} missing"));
        match (theirs, ours) {
            (Object::Stream(t), Object::Stream(o)) => {
                assert!(o.content.is_empty(), "{what}: {id:?} holds its data");
                let without_length = |d: &Dictionary| {
                    let mut d = d.clone();
                    d.remove(b"Length");
                    d
                };
                assert_eq!(
                    without_length(&t.dict),
                    without_length(&o.dict),
                    "{what}: {id:?}"
                );
                assert_eq!(
                    lazy.data(o).unwrap().as_ref(),
                    &t.content[..],
                    "{what}: {id:?}"
                );
                stream_bytes += t.content.len();
            }
            _ => assert_eq!(theirs, ours, "{what}: {id:?}"),
        }
    }
    for id in lazy.doc.objects.keys() {
        assert!(
            full.objects.contains_key(id),
            "{what}: {id:?} is not lopdf's"
        );
    }
    assert!(stream_bytes > 0);
    assert_eq!(lazy.doc.get_pages(), full.get_pages(), "{what}");
    let trailer_root = |d: &Document| d.trailer.get(b"Root").unwrap().clone();
    assert_eq!(trailer_root(&lazy.doc), trailer_root(&full), "{what}");
}

#[test]
fn reads_the_objects_lopdf_reads() {
    let dir = tempfile::tempdir().unwrap();
    for name in CORPUS_PDFS {
        let original = corpus(name);
        assert_reads_like_lopdf(&original);
        // Object streams with a cross-reference stream; linearized; QDF (every /Length
        // indirect, uncompressed streams); classic table without object streams.
        for (tag, args) in [
            ("objstm", &["--object-streams=generate"][..]),
            ("linear", &["--linearize", "--object-streams=generate"][..]),
            ("qdf", &["--qdf", "--object-streams=disable"][..]),
            ("plain", &["--object-streams=disable"][..]),
        ] {
            let out = dir.path().join(format!("{tag}-{name}"));
            qpdf(args, &original, &out);
            assert_reads_like_lopdf(&out);
        }
    }
}

/// Each page of `path` decoded from the lazily read file and from a whole-file lopdf load.
fn assert_pages_decode_alike(path: &Path) {
    let opts = ProcessOptions::default();
    let lazy = PdfFile::open(path).unwrap();
    let full = PdfFile::in_memory(Document::load(path).unwrap());
    let lazy_plans = plan_pages(&lazy, path).unwrap();
    let full_plans = plan_pages(&full, path).unwrap();
    assert_eq!(lazy_plans.len(), full_plans.len());
    for (n, ((lid, lplan), (fid, fplan))) in lazy_plans.iter().zip(&full_plans).enumerate() {
        assert_eq!(lid, fid);
        let at = Location::page(path, n + 1);
        let a = pdf::decode(&lazy, *lid, lplan, &at, &opts, false);
        let b = pdf::decode(&full, *fid, fplan, &at, &opts, false);
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string());
                continue;
            }
            (a, b) => panic!("{at}: {:?} vs {:?}", a.err(), b.err()),
        };
        let raw = |r: &Raster| match r {
            Raster::Bilevel(g) | Raster::Gray(g) => g.as_raw().clone(),
            Raster::Rgb(c) => c.as_raw().clone(),
            Raster::Ycc420(p) => {
                [&p.luma.as_raw()[..], &p.cb.as_raw()[..], &p.cr.as_raw()[..]].concat()
            }
        };
        assert_eq!(raw(&a.raster), raw(&b.raster), "{at}");
        assert_eq!(a.dpi, b.dpi, "{at}");
        assert_eq!(a.had_text, b.had_text, "{at}");
        let pass = |p: &Option<crate::page::EmbeddedImage>| {
            p.as_ref().map(|e| {
                (
                    e.data.clone(),
                    format!("{:?}", e.dict),
                    e.icc_profile.as_ref().map(|s| s.content.clone()),
                )
            })
        };
        assert_eq!(pass(&a.passthrough), pass(&b.passthrough), "{at}");
    }
}

#[test]
fn pages_decode_as_from_a_whole_file_load() {
    for name in CORPUS_PDFS {
        assert_pages_decode_alike(&corpus(name));
    }
}

/// `ccitt.pdf` with one page object replaced by an incremental update that turns the page.
#[test]
fn incremental_updates_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let original = corpus("ccitt.pdf");
    let mut bytes = std::fs::read(&original).unwrap();
    let doc = Document::load(&original).unwrap();
    let (_, page_id) = doc.get_pages().into_iter().next().unwrap();
    let mut page = doc.get_dictionary(page_id).unwrap().clone();
    page.set("Rotate", Object::Integer(90));
    let prev = {
        let tail = String::from_utf8_lossy(&bytes[bytes.len() - 64..]).into_owned();
        let after = &tail[tail.rfind("startxref").unwrap() + 9..];
        after
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    let at = bytes.len();
    bytes.extend(format!("{} {} obj\n", page_id.0, page_id.1).bytes());
    lopdf::Writer::write_object(&mut bytes, &Object::Dictionary(page)).unwrap();
    bytes.extend(b"\nendobj\n");
    let xref = bytes.len();
    let size = doc.max_id + 1;
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    bytes.extend(
        format!(
            "xref\n0 1\n0000000000 65535 f \n{} 1\n{at:010} {:05} n \ntrailer\n<< /Size {size} /Root {} {} R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n",
            page_id.0, page_id.1, root.0, root.1
        )
        .bytes(),
    );
    let path = dir.path().join("updated.pdf");
    std::fs::write(&path, &bytes).unwrap();

    assert_reads_like_lopdf(&path);
    let lazy = PdfFile::open(&path).unwrap();
    let page = lazy.doc.get_dictionary(page_id).unwrap();
    assert_eq!(page.get(b"Rotate").unwrap(), &Object::Integer(90));
    assert_pages_decode_alike(&path);
}

#[test]
fn damaged_cross_reference_data_falls_back_to_lopdf() {
    let dir = tempfile::tempdir().unwrap();
    let original = corpus("ccitt.pdf");
    let bytes = std::fs::read(&original).unwrap();
    // A comment after the header line shifts every object away from its recorded offset.
    let eol = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut shifted = bytes[..eol].to_vec();
    shifted.extend(b"% shifted by a careless editor\n");
    shifted.extend(&bytes[eol..]);
    let path = dir.path().join("shifted.pdf");
    std::fs::write(&path, &shifted).unwrap();
    match PdfFile::open(&path) {
        Err(OpenError::Unreadable(why)) => assert!(why.contains("offset"), "{why}"),
        other => panic!("read as written: {other:?}"),
    }

    let opts = ProcessOptions::default();
    let pages = probe(std::slice::from_ref(&path), &opts).unwrap();
    let Source::Pdf { doc, .. } = &pages[0].source else {
        panic!("not read as a PDF");
    };
    assert!(!doc.is_lazy());
    let ours = pages[0].decode(&opts).unwrap();
    let theirs = probe(&[original], &opts).unwrap()[0].decode(&opts).unwrap();
    assert_eq!(ours.raster.to_gray(), theirs.raster.to_gray());
}

/// An image-only PDF of `pages` pages, one small JPEG on each (a different one on each page);
/// returns the JPEGs.
fn scan_pdf(path: &Path, pages: usize) -> Vec<Vec<u8>> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    let mut jpegs = Vec::new();
    for n in 0..pages {
        let img = image::GrayImage::from_fn(32, 48, |x, y| {
            image::Luma([((x * 5 + y * 3 + n as u32 * 17) % 256) as u8])
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        let mut d = Dictionary::new();
        d.set("Type", Object::Name(b"XObject".to_vec()));
        d.set("Subtype", Object::Name(b"Image".to_vec()));
        d.set("Width", Object::Integer(32));
        d.set("Height", Object::Integer(48));
        d.set("BitsPerComponent", Object::Integer(8));
        d.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
        d.set("Filter", Object::Name(b"DCTDecode".to_vec()));
        let image_id = doc.add_object(Stream::new(d, jpeg.clone()).with_compression(false));
        jpegs.push(jpeg);
        let content = doc.add_object(Stream::new(
            Dictionary::new(),
            b"q 72 0 0 108 0 0 cm /Im0 Do Q".to_vec(),
        ));
        let mut xo = Dictionary::new();
        xo.set("Im0", Object::Reference(image_id));
        let mut resources = Dictionary::new();
        resources.set("XObject", Object::Dictionary(xo));
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference(pages_id));
        page.set(
            "MediaBox",
            Object::Array(vec![0.into(), 0.into(), 72.into(), 108.into()]),
        );
        page.set("Resources", Object::Dictionary(resources));
        page.set("Contents", Object::Reference(content));
        kids.push(Object::Reference(doc.add_object(page)));
    }
    let mut tree = Dictionary::new();
    tree.set("Type", Object::Name(b"Pages".to_vec()));
    tree.set("Count", Object::Integer(pages as i64));
    tree.set("Kids", Object::Array(kids));
    doc.objects.insert(pages_id, Object::Dictionary(tree));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", Object::Reference(pages_id));
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    doc.save(path).unwrap();
    jpegs
}

/// The issue this reader exists for: the list of pages of a scanned PDF must not hold the
/// file's image data (nor any other stream data); each page reads its own image when decoded.
#[test]
fn probing_a_scan_pdf_holds_none_of_its_stream_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.pdf");
    let jpegs = scan_pdf(&path, 40);
    let opts = ProcessOptions::default();
    let pages = probe(std::slice::from_ref(&path), &opts).unwrap();
    assert_eq!(pages.len(), 40);
    let docs: Vec<&Arc<PdfFile>> = pages
        .iter()
        .map(|p| match &p.source {
            Source::Pdf { doc, .. } => doc,
            _ => panic!("not read as a PDF"),
        })
        .collect();
    assert!(docs.iter().all(|d| Arc::ptr_eq(d, docs[0])));
    let held: usize = docs[0]
        .doc
        .objects
        .values()
        .filter_map(|o| o.as_stream().ok())
        .map(|s| s.content.len())
        .sum();
    assert_eq!(held, 0, "the probed PDF holds {held} bytes of stream data");
    assert!(docs[0].is_lazy());

    // Decoding reads the page's own image, which still passes through unchanged.
    for n in [0, 17, 39] {
        let page = pages[n].decode(&opts).unwrap();
        assert_eq!(page.raster.dimensions(), (32, 48));
        assert_eq!(page.passthrough.unwrap().data, jpegs[n], "page {}", n + 1);
    }
}
