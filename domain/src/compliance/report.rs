//! The CONTU report (like ILLiad's Copyright List): counted copies per library, work and year,
//! with works at or beyond the limit flagged. Grouping only; the rows come from the database.

use std::collections::BTreeMap;

use crate::DeliveryState;
use serde::Serialize;

use super::title;

/// One delivery as the rule of five recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct CountedCopy {
    pub delivery_id: String,
    pub request_id: String,
    /// Empty when the request named no library.
    pub library: String,
    /// `periodical` or `book`.
    pub kind: String,
    pub ident: Option<String>,
    pub title_key: String,
    pub title: String,
    pub published: Option<i32>,
    pub year: i32,
    pub counted: bool,
    pub basis: crate::Basis,
    pub state: DeliveryState,
    pub created_at: crate::Timestamp,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportLine {
    pub library: String,
    pub kind: String,
    pub ident: Option<String>,
    pub title: String,
    pub year: i32,
    /// Counted copies delivered (released ones included).
    pub copies: i64,
    /// Counted copies waiting for an officer.
    pub held: i64,
    /// CCL copies outside the count: the requesting library said they conform to copyright
    /// law by another provision than the CONTU guidelines (`Work::counts`). With `count_ccl`
    /// on they count, and are in `copies` or `held` instead.
    pub ccl: i64,
    /// Other copies recorded but outside the rule (permission, public domain, §108(d), older
    /// articles asserted CCG).
    pub not_counted: i64,
    /// `copies >= limit`: the next counted copy needs permission.
    pub flagged: bool,
    /// Other titles in this report without ISSN that look like this one.
    pub similar_to: Vec<String>,
}

/// Groups copies by (library, kind, year, work). A copy without identifier joins the identified
/// work with the same normalised title in the same library, when there is exactly one, the same
/// way the count at delivery does.
pub fn lines(copies: &[CountedCopy], limit: u32, max_edits: usize) -> Vec<ReportLine> {
    let mut ident_of_title: BTreeMap<(&str, &str, &str), Vec<&str>> = BTreeMap::new();
    for c in copies {
        if let Some(id) = &c.ident {
            let ids = ident_of_title
                .entry((&c.library, &c.kind, &c.title_key))
                .or_default();
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
    }
    let mut groups: BTreeMap<(String, String, i32, String), ReportLine> = BTreeMap::new();
    for c in copies {
        let ident = c.ident.clone().or_else(|| {
            match ident_of_title.get(&(&c.library, &c.kind, &c.title_key)) {
                Some(ids) if ids.len() == 1 => Some(ids[0].to_string()),
                _ => None,
            }
        });
        let key = match &ident {
            Some(id) => format!("id:{id}"),
            None => format!("title:{}", c.title_key),
        };
        let line = groups
            .entry((c.library.clone(), c.kind.clone(), c.year, key))
            .or_insert_with(|| ReportLine {
                library: c.library.clone(),
                kind: c.kind.clone(),
                ident: ident.clone(),
                title: c.title.clone(),
                year: c.year,
                copies: 0,
                held: 0,
                ccl: 0,
                not_counted: 0,
                flagged: false,
                similar_to: Vec::new(),
            });
        if c.ident.is_some() && line.title.is_empty() {
            line.title = c.title.clone();
        }
        match (c.counted, c.state, c.basis) {
            (false, _, crate::Basis::Ccl) => line.ccl += 1,
            (false, _, _) => line.not_counted += 1,
            (true, DeliveryState::Held, _) => line.held += 1,
            (true, _, _) => line.copies += 1,
        }
    }
    let mut out: Vec<ReportLine> = groups.into_values().collect();
    let unidentified: Vec<(String, String)> = out
        .iter()
        .filter(|l| l.ident.is_none())
        .map(|l| (l.library.clone(), title::normalise(&l.title)))
        .collect();
    for line in &mut out {
        line.flagged = line.copies >= limit as i64;
        if line.ident.is_none() {
            let me = title::normalise(&line.title);
            line.similar_to = unidentified
                .iter()
                .filter(|(lib, t)| *lib == line.library && title::near_identical(&me, t, max_edits))
                .map(|(_, t)| t.clone())
                .collect();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(
        library: &str,
        ident: Option<&str>,
        title: &str,
        counted: bool,
        state: &str,
    ) -> CountedCopy {
        with_basis(library, ident, title, counted, state, crate::Basis::Ccg)
    }

    fn with_basis(
        library: &str,
        ident: Option<&str>,
        title: &str,
        counted: bool,
        state: &str,
        basis: crate::Basis,
    ) -> CountedCopy {
        CountedCopy {
            delivery_id: "d".into(),
            request_id: "r".into(),
            library: library.into(),
            kind: "periodical".into(),
            ident: ident.map(String::from),
            title_key: title::normalise(title),
            title: title.into(),
            published: Some(2025),
            year: 2026,
            counted,
            basis,
            state: state.parse().unwrap(),
            created_at: crate::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn copies_group_by_issn_then_title_and_five_are_flagged() {
        let mut copies = Vec::new();
        for _ in 0..3 {
            copies.push(copy(
                "ZZQ",
                Some("0378-5955"),
                "Journal of Tests",
                true,
                "active",
            ));
        }
        // The same journal without its ISSN still joins it.
        copies.push(copy("ZZQ", None, "The journal of tests.", true, "purged"));
        copies.push(copy("ZZQ", None, "Journal of Tests", true, "active"));
        copies.push(copy("ZZQ", None, "Journal of Tests", true, "held"));
        copies.push(copy("ZZQ", None, "Journal of Tests", false, "active"));
        // CCL copies outside the count have their own column; with count_ccl one is counted.
        for counted in [false, false, true] {
            copies.push(with_basis(
                "ZZQ",
                Some("0378-5955"),
                "Journal of Tests",
                counted,
                "active",
                crate::Basis::Ccl,
            ));
        }
        // Another library's copies are its own.
        copies.push(copy("XYZ", None, "Journal of Tests", true, "active"));
        copies.push(copy("XYZ", None, "Jurnal of Tests", true, "active"));
        let lines = lines(&copies, 5, 2);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let zzq = lines.iter().find(|l| l.library == "ZZQ").unwrap();
        assert_eq!(
            (zzq.copies, zzq.held, zzq.ccl, zzq.not_counted, zzq.flagged),
            (6, 1, 2, 1, true)
        );
        assert_eq!(zzq.ident.as_deref(), Some("0378-5955"));
        let xyz: Vec<_> = lines.iter().filter(|l| l.library == "XYZ").collect();
        assert!(xyz.iter().all(|l| l.copies == 1 && !l.flagged));
        assert_eq!(xyz[0].similar_to.len(), 1, "{xyz:#?}");
    }
}
