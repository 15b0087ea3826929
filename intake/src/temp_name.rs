//! Names that mark a file as not yet ours: scanners and copy tools write under a temporary name
//! and rename into place when done, so such files are ignored until the rename.

use std::path::{Component, Path};

/// True when `path` (relative to the inbox root, or absolute below it) must be ignored: a
/// `.part` or `.tmp` extension, a `~` suffix, a dot-file, or anything inside a dot-folder.
pub fn is_temporary(path: &Path, inbox: &Path) -> bool {
    let relative = path.strip_prefix(inbox).unwrap_or(path);
    let hidden = relative.components().any(|c| match c {
        Component::Normal(name) => name.to_string_lossy().starts_with('.'),
        _ => false,
    });
    if hidden {
        return true;
    }
    let Some(name) = relative
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
    else {
        return true;
    };
    name.ends_with('~') || name.ends_with(".part") || name.ends_with(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_ignored_and_scans_are_not() {
        let inbox = Path::new("/srv/inbox");
        for name in [
            "TN1.pdf.part",
            "TN1.TMP",
            "TN1.tif~",
            ".TN1.pdf",
            ".sync/TN1.pdf",
            "TN1/.cache/page1.tif",
        ] {
            assert!(
                is_temporary(&inbox.join(name), inbox),
                "{name} should be ignored"
            );
        }
        for name in [
            "TN1.pdf",
            "TN1_part2.tif",
            "TN1/page1.tif",
            "TN1.partial.pdf",
        ] {
            assert!(
                !is_temporary(&inbox.join(name), inbox),
                "{name} should be taken"
            );
        }
        // A dot in the inbox path itself must not hide everything below it.
        let dotted = Path::new("/home/u/.quire/inbox");
        assert!(!is_temporary(&dotted.join("TN1.pdf"), dotted));
    }
}
