//! `quire process` end to end.
