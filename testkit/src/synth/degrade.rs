//! Scanner faults for synthetic pages: skew, optics blur, sensor noise, dust, binarisation.

use image::GrayImage;

use quire_pipeline::imaging::deskew::rotate_gray;

/// What the simulated scanner does to a printed page, applied in the order of the fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degradation {
    /// Skew in degrees, counter-clockwise positive (the convention of
    /// `quire_pipeline::imaging::deskew`).
    pub skew_deg: f32,
    /// Gaussian blur sigma in pixels; 0 for none. Flatbeds at 300 dpi are around 0.7–1.2.
    pub blur_sigma: f32,
    /// Standard deviation of Gaussian sensor noise in grey levels; 0 for none.
    pub noise_sigma: f32,
    /// Fraction of pixels turned to pure black or white (dust, speckle); 0 for none.
    pub speckle_rate: f32,
    /// Threshold to black and white at the end, as a bilevel scanner mode does.
    pub bilevel: bool,
    /// Seeds the noise; equal seeds give equal noise.
    pub noise_seed: u64,
}

impl Default for Degradation {
    /// A clean, straight, grey page.
    fn default() -> Self {
        Degradation {
            skew_deg: 0.0,
            blur_sigma: 0.0,
            noise_sigma: 0.0,
            speckle_rate: 0.0,
            bilevel: false,
            noise_seed: 7,
        }
    }
}

impl Degradation {
    /// A typical office scan: a little blur and noise, a few specks.
    pub fn scanner(skew_deg: f32) -> Self {
        Degradation {
            skew_deg,
            blur_sigma: 0.8,
            noise_sigma: 6.0,
            speckle_rate: 0.0002,
            ..Self::default()
        }
    }

    pub(crate) fn apply(&self, mut page: GrayImage) -> GrayImage {
        if self.skew_deg != 0.0 {
            page = rotate_gray(&page, self.skew_deg);
        }
        if self.blur_sigma > 0.0 {
            page = imageproc::filter::gaussian_blur_f32(&page, self.blur_sigma);
        }
        if self.noise_sigma > 0.0 {
            imageproc::noise::gaussian_noise_mut(
                &mut page,
                0.0,
                f64::from(self.noise_sigma),
                self.noise_seed,
            );
        }
        if self.speckle_rate > 0.0 {
            imageproc::noise::salt_and_pepper_noise_mut(
                &mut page,
                f64::from(self.speckle_rate),
                self.noise_seed.wrapping_add(1),
            );
        }
        if self.bilevel {
            page.pixels_mut()
                .for_each(|p| p.0[0] = if p.0[0] < 128 { 0 } else { 255 });
        }
        page
    }
}
