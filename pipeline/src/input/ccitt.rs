//! CCITT fax decoding (Group 4, and Group 3 one-dimensional with EOL codes) to a bilevel image.
//!
//! Shared by TIFF pages (Group 3, which the `tiff` crate does not decode) and PDF pages (which
//! keep their CCITT stream for the output and need pixels only for analysis and OCR). PDF's
//! Group 3 streams, whose EOL codes are optional, go to [`super::ccitt_g3`] instead; it fills
//! its rows with [`fill_row`] here.

use image::GrayImage;

/// How coded colours become pixels. In both TIFF and PDF the fax code's "black" run is a 1 bit
/// or a 0 bit depending on a flag, and the flag alone does not say how it looks; this does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polarity {
    /// True when a coded black run is displayed black (the usual case).
    pub black_is_dark: bool,
}

/// Decode a Group 4 stream of `width`×`height`. `None` when the data is damaged.
pub(crate) fn decode_g4(
    data: &[u8],
    width: u32,
    height: u32,
    polarity: Polarity,
) -> Option<GrayImage> {
    let mut img = GrayImage::new(width, height);
    let (dark, light) = levels(polarity);
    let mut y = 0u32;
    let mut ok = true;
    fax::decoder::decode_g4(data.iter().copied(), width, Some(height), |transitions| {
        if y >= height {
            return;
        }
        ok &= fill_row(&mut img, y, transitions, width, dark, light);
        y += 1;
    })?;
    (ok && y == height).then_some(img)
}

/// Decode Group 3 one-dimensional rows (each starting with an EOL), appending up to
/// `rows` rows to `out` starting at row `y0`. Returns the number of rows decoded.
pub(crate) fn decode_g3_rows(
    data: &[u8],
    width: u32,
    out: &mut GrayImage,
    y0: u32,
    rows: u32,
    polarity: Polarity,
) -> Option<u32> {
    let (dark, light) = levels(polarity);
    let mut decoded = 0u32;
    let mut ok = true;
    let mut decoder =
        fax::decoder::Group3Decoder::new(data.iter().copied().map(Ok::<u8, ()>)).ok()?;
    while decoded < rows {
        let Ok(status) = decoder.advance() else {
            // TIFF Group 3 has no end-of-page codes, so the last row ends the data without the
            // EOL the decoder looks for next; the row itself was decoded before that.
            if decoded + 1 == rows {
                ok &= fill_row(out, y0 + decoded, decoder.transitions(), width, dark, light);
                decoded += 1;
            }
            break;
        };
        ok &= fill_row(out, y0 + decoded, decoder.transitions(), width, dark, light);
        decoded += 1;
        if status == fax::decoder::DecodeStatus::End {
            break;
        }
    }
    (ok && decoded > 0).then_some(decoded)
}

/// The grey values of a coded black and a coded white pixel.
pub(crate) fn levels(polarity: Polarity) -> (u8, u8) {
    if polarity.black_is_dark {
        (0, 255)
    } else {
        (255, 0)
    }
}

/// Paint row `y` from its changing elements (the positions where the colour flips, starting
/// white). `false` when a position lies past the row.
pub(crate) fn fill_row(
    img: &mut GrayImage,
    y: u32,
    transitions: &[u32],
    width: u32,
    dark: u8,
    light: u8,
) -> bool {
    if transitions.iter().any(|&t| t > width) {
        return false;
    }
    let stride = img.width() as usize;
    let row = &mut img.as_mut()[y as usize * stride..(y as usize + 1) * stride];
    let width = (width as usize).min(stride);
    // Read the list as `fax::decoder::pels` does, so damaged G4 rows look as they always did: a
    // run is as long as the step to its transition (none when the list goes backwards), and
    // the colour after the last transition runs to the end of the row. Slice fills, not a
    // pixel iterator: this is on every row of every bilevel page.
    let mut x = 0usize;
    let mut last = 0u32;
    let mut black = false;
    for &t in transitions {
        let end = (x + t.saturating_sub(last) as usize).min(width);
        row[x..end].fill(if black { dark } else { light });
        x = end;
        last = t;
        black = !black;
    }
    row[x..width].fill(if black { dark } else { light });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use fax::Color;

    #[test]
    fn fill_row_paints_as_the_fax_crate_reads_transitions() {
        let width = 40u32;
        let lists: [&[u32]; 8] = [
            &[],
            &[0],
            &[3, 9],
            &[0, 1, 39],
            &[5, 5, 20],
            &[12, 7, 30],
            &[10, 20, 40],
            &[2, 40, 41],
        ];
        for list in lists {
            let mut img = GrayImage::new(width, 1);
            let ok = fill_row(&mut img, 0, list, width, 0, 255);
            assert_eq!(ok, list.iter().all(|&t| t <= width), "{list:?}");
            if ok {
                let want: Vec<u8> = fax::decoder::pels(list, width)
                    .map(|c| if c == Color::Black { 0 } else { 255 })
                    .collect();
                assert_eq!(img.as_raw(), &want, "{list:?}");
            }
        }
    }

    #[test]
    fn g4_round_trips_through_the_fax_encoder() {
        let (w, h) = (64u32, 16u32);
        let img = GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if (x / 8 + y / 4) % 2 == 0 { 0 } else { 255 }])
        });
        let mut enc = fax::encoder::Encoder::new(fax::VecWriter::new());
        for y in 0..h {
            let row = (0..w).map(|x| {
                if img.get_pixel(x, y)[0] == 0 {
                    Color::Black
                } else {
                    Color::White
                }
            });
            enc.encode_line(row, w).unwrap();
        }
        let data = enc.finish().unwrap().finish();
        let back = decode_g4(
            &data,
            w,
            h,
            Polarity {
                black_is_dark: true,
            },
        )
        .unwrap();
        assert_eq!(back, img);
        assert!(
            decode_g4(
                &data[..data.len() / 3],
                w,
                h,
                Polarity {
                    black_is_dark: true
                }
            )
            .is_none()
        );
    }
}
