//! Splitting one scanned batch into one job per request at its cover and separator sheets.
//!
//! Which pages are sheets is read per page by `quire_pipeline::barcode` ([`Sheet`]). Sheets
//! are removed from the delivered documents. Whether a barcode names a real request is the
//! daemon's question; a segment with an unknown id goes to the unmatched queue like any other.

use std::ops::Range;

use quire_pipeline::barcode::{PageBarcodes, Sheet};

/// One document of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The request named by its sheet; `None` when no sheet named one (pages before the first
    /// sheet, or after a bare PATCH-T): match it by file name or by hand.
    pub request: Option<String>,
    /// The 0-based batch pages to deliver.
    pub pages: Range<usize>,
    /// The 0-based batch pages that are sheets of this segment, removed from delivery.
    pub sheets: Vec<usize>,
}

/// Splits a batch, in page order, into segments. A run of sheets (a PATCH-T and a cover sheet,
/// say) opens one segment; a second request sheet in a run opens another, so a cover sheet
/// with nothing after it yields an empty segment the daemon can report. Segments with no
/// request and no pages are dropped.
pub fn split_batch(pages: &[PageBarcodes]) -> Vec<Segment> {
    let sheets: Vec<Sheet> = pages.iter().map(PageBarcodes::sheet).collect();
    split_sheets(&sheets)
}

/// [`split_batch`] with [`PageBarcodes::sheet_knowing`]: pages carrying the id of an open
/// request are cover sheets even when much else is printed on them.
pub fn split_batch_knowing(
    pages: &[PageBarcodes],
    is_open_request: impl Fn(&str) -> bool,
) -> Vec<Segment> {
    let sheets: Vec<Sheet> = pages
        .iter()
        .map(|p| p.sheet_knowing(&is_open_request))
        .collect();
    split_sheets(&sheets)
}

/// [`split_batch`] on already-classified pages.
pub fn split_sheets(sheets: &[Sheet]) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut current = Segment {
        request: None,
        pages: 0..0,
        sheets: Vec::new(),
    };
    for (i, sheet) in sheets.iter().enumerate() {
        let has_content = !current.pages.is_empty();
        match sheet {
            Sheet::Content if has_content => current.pages.end = i + 1,
            Sheet::Content => current.pages = i..i + 1,
            Sheet::Separator | Sheet::Request(_) => {
                let second_request =
                    matches!(sheet, Sheet::Request(_)) && current.request.is_some();
                if has_content || second_request {
                    let next = Segment {
                        request: None,
                        pages: i + 1..i + 1,
                        sheets: Vec::new(),
                    };
                    push(&mut segments, std::mem::replace(&mut current, next));
                }
                current.sheets.push(i);
                current.pages = i + 1..i + 1;
                if let Sheet::Request(id) = sheet {
                    current.request = Some(id.clone());
                }
            }
        }
    }
    push(&mut segments, current);
    segments
}

fn push(segments: &mut Vec<Segment>, segment: Segment) {
    if segment.request.is_some() || !segment.pages.is_empty() {
        segments.push(segment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str) -> Sheet {
        Sheet::Request(id.to_owned())
    }

    fn segment(request: Option<&str>, pages: Range<usize>, sheets: &[usize]) -> Segment {
        Segment {
            request: request.map(str::to_owned),
            pages,
            sheets: sheets.to_vec(),
        }
    }

    #[test]
    fn a_busy_page_is_a_cover_sheet_only_when_its_barcode_is_an_open_request() {
        use quire_pipeline::barcode::{Barcode, Symbology};
        let form = PageBarcodes {
            barcode: Some(Barcode {
                text: "TN5".into(),
                symbology: Symbology::Qr,
            }),
            ink_outside: 0.06,
        };
        assert_eq!(form.sheet(), Sheet::Content);
        assert_eq!(
            form.sheet_knowing(|id| id == "TN5"),
            Sheet::Request("TN5".into())
        );
        assert_eq!(form.sheet_knowing(|id| id == "TN6"), Sheet::Content);
        let content = PageBarcodes {
            barcode: None,
            ink_outside: 0.06,
        };
        assert_eq!(
            split_batch_knowing(&[form, content], |id| id == "TN5"),
            vec![segment(Some("TN5"), 1..2, &[0])]
        );
    }

    #[test]
    fn cover_sheets_open_one_segment_each() {
        use Sheet::Content as C;
        let batch = [request("TN1"), C, C, request("TN2"), C, C, C];
        assert_eq!(
            split_sheets(&batch),
            vec![
                segment(Some("TN1"), 1..3, &[0]),
                segment(Some("TN2"), 4..7, &[3])
            ]
        );
    }

    #[test]
    fn patch_t_runs_pages_before_sheets_and_empty_covers() {
        use Sheet::{Content as C, Separator as P};
        // Loose pages first, a bare PATCH-T, a PATCH-T followed by a cover, two covers in a row.
        let batch = [
            C,
            C,
            P,
            C,
            P,
            request("TN3"),
            C,
            request("TN4"),
            request("TN5"),
            C,
            P,
            P,
        ];
        assert_eq!(
            split_sheets(&batch),
            vec![
                segment(None, 0..2, &[]),
                segment(None, 3..4, &[2]),
                segment(Some("TN3"), 6..7, &[4, 5]),
                segment(Some("TN4"), 8..8, &[7]),
                segment(Some("TN5"), 9..10, &[8]),
            ]
        );
        assert_eq!(split_sheets(&[]), vec![]);
        assert_eq!(split_sheets(&[C]), vec![segment(None, 0..1, &[])]);
    }
}
