//! Article-like text from a seed: a title, then paragraphs of plain English-looking sentences.
//!
//! The words are common English words so that OCR's dictionary behaves as on real articles;
//! the text means nothing. Numbers (years, counts) and light punctuation appear as in prose.

use super::rng::SplitMix64;

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "library",
    "collection",
    "manuscript",
    "journal",
    "article",
    "reader",
    "history",
    "volume",
    "printed",
    "paper",
    "letter",
    "archive",
    "record",
    "study",
    "method",
    "result",
    "question",
    "evidence",
    "report",
    "century",
    "period",
    "public",
    "small",
    "large",
    "early",
    "later",
    "modern",
    "common",
    "several",
    "between",
    "during",
    "within",
    "without",
    "against",
    "through",
    "under",
    "after",
    "before",
    "because",
    "while",
    "although",
    "however",
    "therefore",
    "perhaps",
    "almost",
    "always",
    "often",
    "never",
    "still",
    "already",
    "together",
    "however",
    "whole",
    "known",
    "found",
    "given",
    "made",
    "used",
    "shown",
    "written",
    "described",
    "published",
    "observed",
    "between",
    "number",
    "system",
    "process",
    "region",
    "water",
    "market",
    "river",
    "village",
    "school",
    "church",
    "council",
    "society",
    "family",
    "country",
    "government",
    "company",
    "material",
    "language",
    "science",
    "nature",
    "theory",
    "practice",
    "example",
    "figure",
    "table",
    "section",
    "chapter",
    "edition",
    "author",
    "editor",
    "source",
    "account",
    "view",
    "point",
    "place",
    "time",
    "year",
    "world",
    "life",
    "work",
    "part",
    "case",
    "form",
    "order",
    "change",
    "growth",
    "trade",
    "travel",
    "music",
    "poetry",
    "painting",
    "museum",
    "garden",
    "bridge",
    "harbour",
    "winter",
    "summer",
    "morning",
    "evening",
    "careful",
    "simple",
    "important",
    "different",
    "general",
    "particular",
    "original",
    "natural",
    "political",
    "social",
    "economic",
    "local",
    "national",
    "ancient",
    "recent",
    "possible",
    "necessary",
];

const TITLE_WORDS: &[&str] = &[
    "Notes",
    "Records",
    "Letters",
    "Studies",
    "Essays",
    "Observations",
    "Remarks",
    "Accounts",
];
const TITLE_TOPICS: &[&str] = &[
    "River Trade",
    "Village Schools",
    "Harbour Bridges",
    "Winter Gardens",
    "Public Libraries",
    "Early Printing",
    "Church Music",
    "Market Towns",
];

/// The article title, the same for every page of an article.
pub(crate) fn title(seed: u64) -> String {
    let mut rng = SplitMix64::new(seed ^ 0x7469_746c_6521);
    format!("{} on {}", rng.pick(TITLE_WORDS), rng.pick(TITLE_TOPICS))
}

/// An endless supply of paragraphs for one page of an article.
pub(crate) struct Paragraphs {
    rng: SplitMix64,
}

impl Paragraphs {
    pub(crate) fn for_page(seed: u64, page_number: u32) -> Self {
        let mixed = seed.wrapping_mul(0x100_0000_01b3) ^ u64::from(page_number);
        Paragraphs {
            rng: SplitMix64::new(mixed),
        }
    }

    /// The next paragraph, as a list of words (punctuation attached).
    pub(crate) fn next_paragraph(&mut self) -> Vec<String> {
        let sentences = self.rng.range(3, 6);
        (0..sentences).flat_map(|_| self.sentence()).collect()
    }

    fn sentence(&mut self) -> Vec<String> {
        let len = self.rng.range(7, 19) as usize;
        let mut words: Vec<String> = Vec::with_capacity(len);
        for i in 0..len {
            let word = match self.rng.range(0, 39) {
                0 => self.rng.range(1500, 1990).to_string(),
                1 => self.rng.range(2, 99).to_string(),
                _ => self.rng.pick(WORDS).to_string(),
            };
            words.push(if i == 0 { capitalise(&word) } else { word });
            if i + 2 < len && i > 2 && self.rng.range(0, 9) == 0 {
                words[i].push(',');
            }
        }
        words.last_mut().expect("sentences have words").push('.');
        words
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
