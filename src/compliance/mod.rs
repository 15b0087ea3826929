//! Copyright compliance: the CONTU "rule of five" (what a copy is a copy of, whether it counts,
//! what the policy does with one too many), the CONTU report, and how long records are kept.
//!
//! Pure rules only. Counting happens in the database inside the delivery's own transaction (so
//! two concurrent deliveries cannot both be the fifth), holding and releasing are
//! `Database` methods, and the commands live in `crate::cli`.

pub mod issn;
pub mod report;
pub mod retention;
pub mod title;
pub mod work;

pub use report::CountedCopy;
pub use work::{CopyDecision, Verdict, Work};
