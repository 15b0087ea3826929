//! Printed page numbers ([`Folio`]) and the page ranges requests ask for: `101-115`,
//! `5, 7-9`, `xii-xv`, `pp. 101–15` (an abbreviated end takes the start's leading digits).

use std::fmt;

/// A request's page field that cannot be read as pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPageRange {
    pub range: String,
    pub reason: String,
}

impl BadPageRange {
    /// The stable error code (the intake's, where this was first reported).
    pub fn code(&self) -> &'static str {
        "intake.pages.bad_range"
    }
}

impl fmt::Display for BadPageRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "page range `{}` is not understood: {}",
            self.range, self.reason
        )
    }
}

impl std::error::Error for BadPageRange {}

/// A printed page number: arabic, or lower-case roman as in front matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Folio {
    pub roman: bool,
    pub value: u32,
}

/// Roman numerals sort before arabic ones, as front matter precedes the body.
impl Ord for Folio {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (!self.roman, self.value).cmp(&(!other.roman, other.value))
    }
}

impl PartialOrd for Folio {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Folio {
    pub fn arabic(value: u32) -> Self {
        Folio {
            roman: false,
            value,
        }
    }

    pub fn roman(value: u32) -> Self {
        Folio { roman: true, value }
    }

    /// Parses `17` or `xvii` (either case); nothing else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if !text.is_empty() && text.len() <= 6 && text.chars().all(|c| c.is_ascii_digit()) {
            return text.parse().ok().filter(|v| *v > 0).map(Folio::arabic);
        }
        roman_value(text).map(Folio::roman)
    }
}

impl fmt::Display for Folio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.roman {
            f.write_str(&to_roman(self.value))
        } else {
            write!(f, "{}", self.value)
        }
    }
}

/// The value of a lower- or upper-case roman numeral in canonical form, up to 3999.
pub fn roman_value(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    if lower.is_empty() || lower.len() > 15 || !lower.chars().all(|c| "ivxlcdm".contains(c)) {
        return None;
    }
    let digit = |c: char| match c {
        'i' => 1,
        'v' => 5,
        'x' => 10,
        'l' => 50,
        'c' => 100,
        'd' => 500,
        _ => 1000,
    };
    let chars: Vec<u32> = lower.chars().map(digit).collect();
    let mut value = 0;
    for (i, d) in chars.iter().enumerate() {
        if chars.get(i + 1).is_some_and(|next| next > d) {
            value -= *d as i64
        } else {
            value += *d as i64
        }
    }
    let value = u32::try_from(value)
        .ok()
        .filter(|v| (1..4000).contains(v))?;
    // Only the canonical spelling counts, so that words like "mix" or "dim" are not numbers.
    (to_roman(value) == lower).then_some(value)
}

/// Lower-case roman numeral of `value` (1–3999).
pub fn to_roman(mut value: u32) -> String {
    const PARTS: [(u32, &str); 13] = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut out = String::new();
    for (n, s) in PARTS {
        while value >= n {
            out.push_str(s);
            value -= n;
        }
    }
    out
}

/// The pages a request asks for, in the order given, without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestedPages(pub Vec<Folio>);

/// Ranges longer than this are refused: a request for more pages is a typo.
const MAX_PAGES: u32 = 5000;

impl RequestedPages {
    /// Parses a request's page field. Parts are separated by `,` or `;`; a part is a page or
    /// two joined by `-`, `–` or `—`. A leading `p.`, `pp.` or `pages` is ignored.
    pub fn parse(text: &str) -> Result<Self, BadPageRange> {
        let bad = |reason: &str| BadPageRange {
            range: text.to_owned(),
            reason: reason.to_owned(),
        };
        let mut body = text.trim();
        for prefix in ["pages", "pp.", "pp", "p."] {
            if body.len() >= prefix.len() && body[..prefix.len()].eq_ignore_ascii_case(prefix) {
                body = &body[prefix.len()..];
                break;
            }
        }
        let mut pages: Vec<Folio> = Vec::new();
        for part in body
            .split([',', ';'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let mut ends = part.split(['-', '–', '—']).map(str::trim);
            let first = ends.next().unwrap_or_default();
            let start = Folio::parse(first)
                .ok_or_else(|| bad(&format!("`{first}` is not a page number")))?;
            let end = match ends.next() {
                None => start,
                Some(last) => {
                    let mut end = Folio::parse(last)
                        .ok_or_else(|| bad(&format!("`{last}` is not a page number")))?;
                    if end.roman != start.roman {
                        return Err(bad(&format!("`{part}` mixes roman and arabic numbers")));
                    }
                    if !end.roman && end.value < start.value && last.len() < first.len() {
                        // 101-15 means 101-115: the end repeats the start's leading digits.
                        end.value = format!("{}{last}", &first[..first.len() - last.len()])
                            .parse()
                            .unwrap_or(0);
                    }
                    end
                }
            };
            if ends.next().is_some() {
                return Err(bad(&format!("`{part}` has more than two ends")));
            }
            if end.value < start.value {
                return Err(bad(&format!("`{part}` runs backwards")));
            }
            if end.value - start.value >= MAX_PAGES {
                return Err(bad(&format!("`{part}` is more than {MAX_PAGES} pages")));
            }
            for value in start.value..=end.value {
                let folio = Folio {
                    roman: start.roman,
                    value,
                };
                if !pages.contains(&folio) {
                    pages.push(folio);
                }
            }
        }
        if pages.is_empty() {
            return Err(bad("no pages"));
        }
        Ok(RequestedPages(pages))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Folios as a short list of runs: `109, 112–113, xii`.
pub fn describe(folios: &[Folio]) -> String {
    let mut sorted = folios.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len()
            && sorted[j + 1].roman == sorted[i].roman
            && sorted[j + 1].value == sorted[j].value + 1
        {
            j += 1;
        }
        parts.push(if j == i {
            sorted[i].to_string()
        } else {
            format!("{}–{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arabic(values: impl IntoIterator<Item = u32>) -> Vec<Folio> {
        values.into_iter().map(Folio::arabic).collect()
    }

    #[test]
    fn parses_the_forms_requests_use() {
        assert_eq!(
            RequestedPages::parse("101-115").unwrap().0,
            arabic(101..=115)
        );
        assert_eq!(
            RequestedPages::parse("5, 7-9").unwrap().0,
            arabic([5, 7, 8, 9])
        );
        assert_eq!(
            RequestedPages::parse("pp. 101–15").unwrap().0,
            arabic(101..=115)
        );
        assert_eq!(
            RequestedPages::parse("1234-56").unwrap().0,
            arabic(1234..=1256)
        );
        assert_eq!(RequestedPages::parse("7; 7-8").unwrap().0, arabic([7, 8]));
        let roman = RequestedPages::parse("xii-xv, 1-2").unwrap().0;
        assert_eq!(
            roman,
            vec![
                Folio::roman(12),
                Folio::roman(13),
                Folio::roman(14),
                Folio::roman(15),
                Folio::arabic(1),
                Folio::arabic(2)
            ]
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in ["", "abc", "15-12", "1-2-3", "x-12", "1-99999", "pp."] {
            let err = RequestedPages::parse(bad).unwrap_err();
            assert_eq!(err.code(), "intake.pages.bad_range", "{bad}");
        }
    }

    #[test]
    fn roman_numerals_only_in_canonical_form() {
        assert_eq!(roman_value("xiv"), Some(14));
        assert_eq!(roman_value("MCMXC"), Some(1990));
        assert_eq!(roman_value("iiii"), None);
        assert_eq!(roman_value("mix"), Some(1009));
        assert_eq!(roman_value("dim"), None);
        assert_eq!(to_roman(49), "xlix");
    }

    #[test]
    fn describes_runs() {
        let folios = arabic([113, 109, 112]);
        assert_eq!(describe(&folios), "109, 112–113");
        assert_eq!(
            describe(&[Folio::roman(3), Folio::roman(4), Folio::arabic(1)]),
            "iii–iv, 1"
        );
    }
}
