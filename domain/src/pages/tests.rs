//! Missing-page checks on OCR-like texts: body lines of prose with the folio in the styles
//! journals print, some folios lost or misread as OCR does.

use super::*;

/// OCR-like text of one page: a running head, prose, and a foot line.
fn page(head: &str, foot: &str, seed: usize) -> String {
    const WORDS: [&str; 12] = [
        "the",
        "library",
        "collection",
        "of",
        "letters",
        "was",
        "printed",
        "in",
        "1887,",
        "and",
        "read",
        "widely",
    ];
    let mut lines = vec![head.to_owned()];
    for l in 0..30 {
        let line: Vec<&str> = (0..11)
            .map(|w| WORDS[(seed * 7 + l * 5 + w * 3) % WORDS.len()])
            .collect();
        lines.push(line.join(" "));
    }
    lines.push(String::new());
    lines.push(foot.to_owned());
    lines.join("\n")
}

fn pages_with_feet(feet: &[&str]) -> Vec<String> {
    feet.iter()
        .enumerate()
        .map(|(i, f)| page("Journal of Library History 1987", f, i))
        .collect()
}

fn run(requested: &str, pages: &[String]) -> PageCheck {
    let texts: Vec<&str> = pages.iter().map(String::as_str).collect();
    check(&RequestedPages::parse(requested).unwrap(), &texts)
}

fn arabic(values: impl IntoIterator<Item = u32>) -> Vec<Folio> {
    values.into_iter().map(Folio::arabic).collect()
}

#[test]
fn reads_the_folio_styles_journals_print() {
    assert_eq!(printed_number(&page("", "17", 0)), Some(Folio::arabic(17)));
    assert_eq!(
        printed_number(&page("", "— 17 —", 0)),
        Some(Folio::arabic(17))
    );
    assert_eq!(
        printed_number(&page("", "Page 17", 0)),
        Some(Folio::arabic(17))
    );
    assert_eq!(
        printed_number(&page("", "page 17 of 30", 0)),
        Some(Folio::arabic(17))
    );
    assert_eq!(
        printed_number(&page("", "p. 17", 0)),
        Some(Folio::arabic(17))
    );
    assert_eq!(printed_number(&page("", "xiv", 0)), Some(Folio::roman(14)));
    assert_eq!(
        printed_number(&page("102 JOURNAL OF LIBRARY HISTORY", "", 0)),
        Some(Folio::arabic(102))
    );
    assert_eq!(
        printed_number(&page("NOTES ON RIVER TRADE | 103", "", 0)),
        Some(Folio::arabic(103))
    );
    assert_eq!(
        printed_number(&page("", "l04", 0)),
        Some(Folio::arabic(104))
    );
    // A year closing a running head is not a folio, and prose has none.
    assert_eq!(
        printed_number(&page("Journal of Library History 1987", "", 0)),
        None
    );
    assert_eq!(printed_number(""), None);
}

#[test]
fn reports_a_missing_page_in_the_middle() {
    let feet: Vec<String> = (101..=115)
        .filter(|p| *p != 109)
        .map(|p| p.to_string())
        .collect();
    let feet: Vec<&str> = feet.iter().map(String::as_str).collect();
    let result = run("101-115", &pages_with_feet(&feet));
    assert!(result.checked());
    assert_eq!(result.missing, arabic([109]));
    assert!(
        result.extra.is_empty() && result.out_of_order.is_empty() && result.inferred.is_empty()
    );
    assert_eq!(result.summary(), "missing 109");
}

#[test]
fn a_lost_or_misread_folio_is_inferred_not_reported() {
    // 101 unprinted (first page), 104 lost by OCR, 106 misread as 108, 110 read as "ll0".
    let feet = [
        "", "102", "103", "", "105", "108", "107", "108", "109", "ll0",
    ];
    let result = run("101-110", &pages_with_feet(&feet));
    assert_eq!(result.missing, vec![], "{result:?}");
    assert_eq!(result.inferred, vec![0, 3, 5]);
    assert!(result.repeated.is_empty() && result.out_of_order.is_empty());
    assert_eq!(result.summary(), "all requested pages present");
}

#[test]
fn extra_repeated_and_out_of_order_pages_are_named() {
    // The last page of the previous article, a swap, and a page scanned twice.
    let feet = ["100", "101", "103", "102", "104", "104", "105"];
    let result = run("101-106", &pages_with_feet(&feet));
    assert_eq!(result.missing, arabic([106]));
    assert_eq!(result.extra, arabic([100]));
    assert_eq!(result.repeated, arabic([104]));
    assert_eq!(result.out_of_order, vec![3]);
    assert_eq!(
        result.summary(),
        "missing 106; not requested 100; scanned twice 104; out of order at scan page 4"
    );
}

#[test]
fn a_gap_between_disagreeing_neighbours_is_not_guessed() {
    let feet = ["101", "", "104"];
    let result = run("101-104", &pages_with_feet(&feet));
    assert_eq!(result.unnumbered, vec![1]);
    assert_eq!(result.missing, arabic([102, 103]));
}

#[test]
fn roman_front_matter_and_unnumbered_scans() {
    let feet = ["xii", "xiii", "", "xv"];
    let result = run("xii-xv", &pages_with_feet(&feet));
    assert!(result.missing.is_empty(), "{result:?}");
    assert_eq!(result.folios[2], Some(Folio::roman(14)));
    let blank = run("1-3", &pages_with_feet(&["", "", ""]));
    assert!(!blank.checked());
    assert_eq!(
        blank.summary(),
        "no printed page numbers found; pages not checked"
    );
}
