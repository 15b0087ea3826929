//! Page thumbnails for the job page: one page of the job's processed PDF, rendered small by
//! poppler's `pdftoppm` (already needed by Quire's tests and tools) and sent as PNG. Rendered on
//! demand, not stored: a technician looks at a few jobs. The PDF is the one
//! `quire_service::job_files` finds on this node (fetched from the object store and verified
//! when custody is there).

use std::path::Path;
use std::process::Command;

/// Width in pixels: enough to spot a blank, skewed or cropped page.
pub const WIDTH_PX: u32 = 160;
/// The page viewer's: small print readable when zoomed to full size.
pub const LARGE_WIDTH_PX: u32 = 1600;

/// Renders `page` (1-based) of `pdf` as a PNG about `width` pixels wide.
pub fn render(pdf: &Path, page: u32, width: u32) -> Result<Vec<u8>, String> {
    let out = Command::new("pdftoppm")
        .args([
            "-png",
            "-singlefile",
            "-scale-to-x",
            &width.to_string(),
            "-scale-to-y",
            "-1",
        ])
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .output()
        .map_err(|e| format!("{}: page {page}: cannot run pdftoppm: {e}", pdf.display()))?;
    if !out.status.success() || !out.stdout.starts_with(b"\x89PNG") {
        return Err(format!(
            "{}: page {page}: pdftoppm failed: {}",
            pdf.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}
