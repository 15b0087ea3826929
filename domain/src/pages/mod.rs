//! Missing pages: the printed page numbers that OCR found on a scan, compared with the pages
//! the request asked for.
//!
//! Each page's number is looked for in its first and last few lines: a line that is only a
//! number (with dashes or bars around it), `Page 17`, `p. 17`, or a number opening or closing a
//! short running head. OCR misses folios and misreads digits, so a page without a number takes
//! one from its neighbours when they agree, and a lone reading one digit off from what both
//! neighbours imply is taken as a misreading. Such pages are listed as inferred, so a
//! technician can look. Works on OCR text only; word positions are the intake's `page_number`'s job.

use std::collections::BTreeSet;

pub mod range;

pub use range::{BadPageRange, Folio, RequestedPages};
use range::{describe, roman_value};

/// Lines examined at the top and at the bottom of a page.
const EDGE_LINES: usize = 3;
/// A running head longer than this many words is body text, not a head.
const HEAD_MAX_WORDS: usize = 10;
/// Roman folios above this are words ("mix", "civil"), not front matter.
const ROMAN_MAX: u32 = 100;

/// The outcome of comparing a scan with the requested pages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageCheck {
    /// Per scanned page, its printed number as read or inferred.
    pub folios: Vec<Option<Folio>>,
    /// 0-based scanned pages whose number was inferred from neighbours, not read.
    pub inferred: Vec<usize>,
    /// 0-based scanned pages with no number read or inferred.
    pub unnumbered: Vec<usize>,
    /// Requested pages not found in the scan.
    pub missing: Vec<Folio>,
    /// Pages in the scan that were not requested.
    pub extra: Vec<Folio>,
    /// Pages scanned more than once.
    pub repeated: Vec<Folio>,
    /// 0-based scanned pages whose number is lower than the previous page's.
    pub out_of_order: Vec<usize>,
}

impl PageCheck {
    /// True when at least one page number was read, so `missing` means something.
    pub fn checked(&self) -> bool {
        self.folios.len() > self.inferred.len() + self.unnumbered.len()
    }

    /// One line for a job report, e.g. `missing 109; not requested 100`.
    pub fn summary(&self) -> String {
        if !self.checked() {
            return "no printed page numbers found; pages not checked".to_owned();
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing {}", describe(&self.missing)));
        }
        if !self.extra.is_empty() {
            parts.push(format!("not requested {}", describe(&self.extra)));
        }
        if !self.repeated.is_empty() {
            parts.push(format!("scanned twice {}", describe(&self.repeated)));
        }
        if !self.out_of_order.is_empty() {
            let pages: Vec<String> = self
                .out_of_order
                .iter()
                .map(|i| (i + 1).to_string())
                .collect();
            parts.push(format!("out of order at scan page {}", pages.join(", ")));
        }
        if parts.is_empty() {
            "all requested pages present".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// Compares the OCR text of each scanned page, in scan order, with the requested pages.
pub fn check(requested: &RequestedPages, ocr_pages: &[&str]) -> PageCheck {
    let read: Vec<Option<Folio>> = ocr_pages.iter().map(|t| printed_number(t)).collect();
    let (folios, inferred) = infer(&read);
    let unnumbered = (0..folios.len()).filter(|i| folios[*i].is_none()).collect();

    let mut seen = BTreeSet::new();
    let mut repeated = BTreeSet::new();
    for folio in folios.iter().flatten() {
        if !seen.insert(*folio) {
            repeated.insert(*folio);
        }
    }
    let wanted: BTreeSet<Folio> = requested.0.iter().copied().collect();
    let missing = requested
        .0
        .iter()
        .copied()
        .filter(|f| !seen.contains(f))
        .collect();
    let extra = seen.difference(&wanted).copied().collect();

    let mut out_of_order = Vec::new();
    let mut previous: Option<Folio> = None;
    for (i, folio) in folios.iter().enumerate() {
        let Some(folio) = folio else { continue };
        if previous.is_some_and(|p| *folio < p) {
            out_of_order.push(i);
        }
        previous = Some(*folio);
    }
    PageCheck {
        folios,
        inferred,
        unnumbered,
        missing,
        extra,
        repeated: repeated.into_iter().collect(),
        out_of_order,
    }
}

/// The page number printed on a page, from its OCR text.
pub fn printed_number(text: &str) -> Option<Folio> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let n = lines.len();
    let bottom = lines[n.saturating_sub(EDGE_LINES)..].iter().rev();
    let top = lines[..EDGE_LINES.min(n)].iter();
    // Folios at the foot are more common and less often confused with heads; look there first.
    let edges: Vec<&&str> = bottom.chain(top).collect();
    edges
        .iter()
        .find_map(|l| alone(l).or_else(|| labelled(l)))
        .or_else(|| edges.iter().find_map(|l| in_running_head(l)))
}

/// A line that is only a number, perhaps between dashes, bars or dots.
fn alone(line: &str) -> Option<Folio> {
    let core = line.trim_matches(|c: char| !c.is_alphanumeric());
    if core.contains(char::is_whitespace) {
        return None;
    }
    number(core)
}

/// `Page 17`, `page 17 of 30`, `p. 17`, `pg. 17`, `S. 17`.
fn labelled(line: &str) -> Option<Folio> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let label = pair[0].trim_end_matches(['.', ':']).to_lowercase();
        matches!(label.as_str(), "page" | "p" | "pg" | "seite" | "s")
            .then(|| number(pair[1].trim_matches(|c: char| !c.is_alphanumeric())))
            .flatten()
    })
}

/// A number opening or closing a short line: `102  JOURNAL OF LIBRARY HISTORY`.
fn in_running_head(line: &str) -> Option<Folio> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() < 2 || words.len() > HEAD_MAX_WORDS {
        return None;
    }
    let clean = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
    let first = clean(words[0]);
    let last = clean(words[words.len() - 1]);
    // Years in heads ("Vol. 12, 1987") are not folios; arabic only, and not four-digit years.
    [first, last].iter().find_map(|w| {
        let folio = digits(w)?;
        (!(1500..=2100).contains(&folio.value) || w.len() != 4).then_some(folio)
    })
}

fn number(word: &str) -> Option<Folio> {
    digits(word).or_else(|| {
        roman_value(word)
            .filter(|v| *v <= ROMAN_MAX)
            .map(Folio::roman)
    })
}

/// An arabic number of at most five digits, with OCR's usual letter-for-digit slips (`l0I`,
/// `O`) mended when the word already holds a digit.
fn digits(word: &str) -> Option<Folio> {
    if word.is_empty() || word.len() > 5 || !word.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let mended: Option<String> = word
        .chars()
        .map(|c| match c {
            '0'..='9' => Some(c),
            'l' | 'I' | '|' => Some('1'),
            'O' | 'o' => Some('0'),
            'S' => Some('5'),
            _ => None,
        })
        .collect();
    let value: u32 = mended?.parse().ok()?;
    (value > 0).then_some(Folio::arabic(value))
}

/// Fills in and mends numbers from neighbours; returns the folios and the inferred indices.
fn infer(read: &[Option<Folio>]) -> (Vec<Option<Folio>>, Vec<usize>) {
    let mut folios = read.to_vec();
    let mut inferred = Vec::new();
    let step = |f: Folio, by: i64| -> Option<Folio> {
        u32::try_from(i64::from(f.value) + by)
            .ok()
            .filter(|v| *v > 0)
            .map(|value| Folio { value, ..f })
    };
    // A lone reading one digit off from what two agreeing neighbours imply is a misreading.
    for i in 1..folios.len().saturating_sub(1) {
        let (Some(prev), Some(here), Some(next)) = (read[i - 1], read[i], read[i + 1]) else {
            continue;
        };
        let Some(expected) = step(prev, 1) else {
            continue;
        };
        // A page equal to a neighbour is a page scanned twice, not a misreading.
        let repeat = here == prev || here == next;
        if step(prev, 2) == Some(next)
            && !repeat
            && here != expected
            && one_digit_off(here, expected)
        {
            folios[i] = Some(expected);
            inferred.push(i);
        }
    }
    // A page without a number takes one from the nearest numbered pages when the pages between
    // them account exactly for the difference, or from one side at the ends of the scan.
    let known: Vec<(usize, Folio)> = read
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.map(|f| (i, f)))
        .collect();
    for i in 0..folios.len() {
        if read[i].is_some() {
            continue;
        }
        let before = known.iter().rev().find(|(j, _)| *j < i).copied();
        let after = known.iter().find(|(j, _)| *j > i).copied();
        let guess = match (before, after) {
            (Some((a, fa)), Some((b, fb))) => (fa.roman == fb.roman
                && i64::from(fb.value) - i64::from(fa.value) == (b - a) as i64)
                .then(|| step(fa, (i - a) as i64))
                .flatten(),
            (Some((a, fa)), None) if i - a <= 2 => step(fa, (i - a) as i64),
            (None, Some((b, fb))) if b - i <= 2 => step(fb, -((b - i) as i64)),
            _ => None,
        };
        if guess.is_some() {
            folios[i] = guess;
            inferred.push(i);
        }
    }
    inferred.sort_unstable();
    (folios, inferred)
}

fn one_digit_off(a: Folio, b: Folio) -> bool {
    let (a, b) = (a.value.to_string(), b.value.to_string());
    a.len() == b.len() && a.chars().zip(b.chars()).filter(|(x, y)| x != y).count() == 1
}

#[cfg(test)]
mod tests;
