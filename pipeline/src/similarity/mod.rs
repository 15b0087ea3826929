//! Near-duplicate detection (placeholder while being written).
