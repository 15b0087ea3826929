//! `quire scan` end to end.
