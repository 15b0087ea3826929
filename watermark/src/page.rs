//! Page geometry: the boxes and rotation a page inherits, and the "display frame", a coordinate
//! system whose origin is the bottom-left corner of the page as a reader sees it (after /Rotate),
//! so the stamp is drawn the same way on every page. It does not draw anything.

use lopdf::{Document, Object, ObjectId};

use crate::error::WatermarkError;

/// A rectangle `[x0 y0 x1 y1]` in the page's default user space, normalised so x0 < x1, y0 < y1.
pub(crate) type Rect = [f32; 4];

/// A page attribute, looked up through the page tree as PDF inheritance requires.
pub(crate) fn inherited<'d>(doc: &'d Document, page: ObjectId, key: &[u8]) -> Option<&'d Object> {
    let mut node = doc.get_dictionary(page).ok()?;
    for _ in 0..64 {
        if let Ok(v) = node.get(key) {
            return Some(v);
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

pub(crate) fn read_rect(
    doc: &Document,
    obj: &Object,
    page: u32,
    key: &str,
) -> Result<Rect, WatermarkError> {
    let bad = |reason: String| WatermarkError::BadPage {
        page,
        reason: format!("/{key}: {reason}"),
    };
    let (_, obj) = doc.dereference(obj).map_err(|e| bad(e.to_string()))?;
    let arr = obj.as_array().map_err(|_| bad("not an array".into()))?;
    if arr.len() != 4 {
        return Err(bad(format!("has {} numbers instead of 4", arr.len())));
    }
    let mut v = [0f32; 4];
    for (slot, item) in v.iter_mut().zip(arr) {
        let (_, item) = doc.dereference(item).map_err(|e| bad(e.to_string()))?;
        *slot = item
            .as_float()
            .map_err(|_| bad("holds a non-number".into()))?;
    }
    let r = [
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ];
    if r[2] - r[0] < 1.0 || r[3] - r[1] < 1.0 {
        return Err(bad("is empty".into()));
    }
    Ok(r)
}

/// The page's /Rotate as one of 0, 90, 180, 270.
pub(crate) fn rotation(doc: &Document, page: ObjectId) -> i64 {
    let r = inherited(doc, page, b"Rotate")
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_i64().ok())
        .unwrap_or(0);
    // /Rotate must be a multiple of 90; anything else is treated as the nearest one below.
    (r.rem_euclid(360) / 90) * 90
}

/// Width and height of `rect` as displayed under `rotate`.
pub(crate) fn display_size(rect: Rect, rotate: i64) -> (f32, f32) {
    let (w, h) = (rect[2] - rect[0], rect[3] - rect[1]);
    if rotate == 90 || rotate == 270 {
        (h, w)
    } else {
        (w, h)
    }
}

/// `rect` grown by `strip` points at the edge a reader sees at the bottom.
pub(crate) fn grow_bottom(rect: Rect, rotate: i64, strip: f32) -> Rect {
    let [x0, y0, x1, y1] = rect;
    match rotate {
        90 => [x0, y0, x1 + strip, y1],
        180 => [x0, y0, x1, y1 + strip],
        270 => [x0 - strip, y0, x1, y1],
        _ => [x0, y0 - strip, x1, y1],
    }
}

/// The `cm` matrix that maps the display frame of `rect` into user space.
pub(crate) fn display_matrix(rect: Rect, rotate: i64) -> [f32; 6] {
    let [x0, y0, x1, y1] = rect;
    match rotate {
        // Displayed turned clockwise: the reader's "right" is user-space up.
        90 => [0.0, 1.0, -1.0, 0.0, x1, y0],
        180 => [-1.0, 0.0, 0.0, -1.0, x1, y1],
        270 => [0.0, -1.0, 1.0, 0.0, x0, y1],
        _ => [1.0, 0.0, 0.0, 1.0, x0, y0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: [f32; 6], u: f32, v: f32) -> (f32, f32) {
        (m[0] * u + m[2] * v + m[4], m[1] * u + m[3] * v + m[5])
    }

    #[test]
    fn display_frame_origin_is_the_seen_bottom_left_and_strip_is_at_the_seen_bottom() {
        let rect = [0.0, 0.0, 600.0, 800.0];
        for rotate in [0, 90, 180, 270] {
            let grown = grow_bottom(rect, rotate, 20.0);
            let m = display_matrix(grown, rotate);
            let (w, h) = display_size(grown, rotate);
            // Every corner of the display frame lands on a corner of the grown box.
            for (u, v) in [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)] {
                let (x, y) = apply(m, u, v);
                assert!(
                    (x - grown[0]).abs() < 1e-3 || (x - grown[2]).abs() < 1e-3,
                    "{rotate}: x {x}"
                );
                assert!(
                    (y - grown[1]).abs() < 1e-3 || (y - grown[3]).abs() < 1e-3,
                    "{rotate}: y {y}"
                );
            }
            // The strip (display v < 20) lies wholly outside the original box.
            let (x, y) = apply(m, w / 2.0, 10.0);
            let inside = x > rect[0] && x < rect[2] && y > rect[1] && y < rect[3];
            assert!(
                !inside,
                "rotate {rotate}: strip point ({x},{y}) falls on the page content"
            );
            // Just above the strip is inside the original box.
            let (x, y) = apply(m, w / 2.0, 30.0);
            assert!(
                x > rect[0] && x < rect[2] && y > rect[1] && y < rect[3],
                "rotate {rotate}"
            );
        }
    }
}
