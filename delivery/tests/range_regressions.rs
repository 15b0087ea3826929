//! The `range` fuzz target's inputs (FUZZING.md), replayed as an ordinary test: every file
//! under `fuzz/regressions/range/` must keep `parse_range`'s promises without a panic.

use std::path::Path;

#[test]
fn every_range_regression_input_keeps_the_parsers_promises() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/range");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no inputs", dir.display());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let result = std::panic::catch_unwind(|| quire_delivery::range::fuzz_check(&data));
        assert!(result.is_ok(), "{} panics", file.display());
    }
}
