//! Aligned text tables for the listing commands (`jobs`, `job show`, `links`, `deliveries`,
//! `user list`): each column as wide as its widest cell, so long ids and times never push the
//! next column out of line as fixed `{:<N}` widths did. The last column is not padded.

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    /// Numbers.
    Right,
}

/// A table being filled: a header row, then rows of the same length.
pub struct Table {
    header: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns by header, all left-aligned until [`Table::right`] says otherwise.
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            align: vec![Align::Left; header.len()],
            rows: Vec::new(),
        }
    }

    /// Right-aligns the columns with these headers (counts, page numbers).
    pub fn right(mut self, columns: &[&str]) -> Self {
        for (i, h) in self.header.iter().enumerate() {
            if columns.contains(h) {
                self.align[i] = Align::Right;
            }
        }
        self
    }

    /// Adds a row; a short row is padded with empty cells, so a missing value cannot shift the
    /// columns after it.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert!(cells.len() <= self.header.len(), "more cells than columns");
        let mut cells = cells;
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as lines, without trailing spaces.
    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            let last = row.len().saturating_sub(1);
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i] - width(cell);
                match self.align[i] {
                    Align::Right => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(cell);
                    }
                    Align::Left => {
                        line.push_str(cell);
                        if i < last {
                            line.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table to stdout.
    pub fn print(&self) {
        print!("{}", self.render());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(&["JOB", "PAGES", "NOTE"]).right(&["PAGES"]);
        t.row(vec!["job_1".into(), "3".into(), "held".into()]);
        t.row(vec!["job_long_id".into(), "120".into()]);
        assert_eq!(
            t.render(),
            "JOB          PAGES  NOTE\n\
             job_1            3  held\n\
             job_long_id    120\n"
        );
    }

    #[test]
    fn wide_characters_count_once() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["Иван".into(), "x".into()]);
        assert_eq!(t.render(), "A     B\nИван  x\n");
    }
}
