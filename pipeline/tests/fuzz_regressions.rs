//! The fuzzers' findings, replayed as ordinary tests (CI does not run the fuzzers).
//!
//! Every file under `fuzz/regressions/<target>/` goes through the entry point fuzz target
//! `<target>` calls (`quire_pipeline::fuzz_api`); an error is a fine answer, a panic is a
//! failure. The folders hold each crash a fuzzer found (after its fix) and a few small inputs
//! that reached new code, so no folder is empty. FUZZING.md has the story of each.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use quire_pipeline::fuzz_api::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_regression_input_is_decoded_or_refused_without_a_panic() {
    let mut panicked = Vec::new();
    for &(target, entry) in TARGETS {
        let dir = fuzz_dir().join("regressions").join(target);
        let files = inputs(&dir);
        assert!(
            !files.is_empty(),
            "{}: no regression inputs for fuzz target {target}",
            dir.display()
        );
        for file in files {
            let data = std::fs::read(&file).expect("a readable regression input");
            if catch_unwind(AssertUnwindSafe(|| entry(&data))).is_err() {
                panicked.push(file.display().to_string());
            }
        }
    }
    assert!(
        panicked.is_empty(),
        "these inputs panic (the panic messages are above):\n{}",
        panicked.join("\n")
    );
}

/// The table the test above replays and the fuzz targets must not drift apart: each entry
/// has its target file calling that very entry, and its `[[bin]]`.
#[test]
fn every_entry_point_has_its_fuzz_target() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for &(target, _) in TARGETS {
        let path = fuzz_dir().join(format!("fuzz_targets/{target}.rs"));
        let source =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            source.contains(&format!("fuzz_api::{target}(")),
            "{} does not call fuzz_api::{target}",
            path.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "fuzz/Cargo.toml has no [[bin]] named {target}"
        );
    }
}
