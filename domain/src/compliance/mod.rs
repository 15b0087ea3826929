//! Copyright compliance: the CONTU "rule of five" (what a copy is a copy of, whether it counts,
//! what the policy does with one too many), the CONTU report, and how long records are kept.
//!
//! Pure rules only. Counting happens in the store inside the delivery's own transaction (so
//! two concurrent deliveries cannot both be the fifth); what is counted, and what the count
//! means, is decided here, so every backend applies the same rule.

pub mod count;
pub mod issn;
pub mod report;
pub mod retention;
pub mod rules;
pub mod title;
pub mod work;

pub use report::CountedCopy;
pub use rules::{ComplianceConfig, ContuPolicy};
pub use work::{CopyDecision, Verdict, Work};
