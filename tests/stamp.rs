//! `quire stamp` end to end.
