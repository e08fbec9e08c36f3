//! Smaller copies of an image, made when it is uploaded, so that a page or a partner's widget
//! asks for the width it shows (`srcset`) rather than the editor's 4000-pixel original. Each
//! copy is lossy WebP (what every current browser reads, a third of a JPEG's size), at the
//! widths of [`WIDTHS`] narrower than the original, its height in proportion. The decoder
//! refuses more than the upload's limits allow before it allocates, and its panics on damaged
//! files are caught: an image that cannot be decoded simply has no copies.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::imageops::FilterType;
use image::{ImageReader, Limits};

use crate::sniff::{MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE};

/// The widths copies are made at: a phone's column, a desktop's, and a retina desktop's.
pub const WIDTHS: [u32; 3] = [320, 640, 1280];
/// WebP's quality (0–100): visually lossless for photographs at these sizes.
const QUALITY: f32 = 80.0;

/// One copy, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// Its WebP bytes.
    pub bytes: Vec<u8>,
}

/// Why an image has no copies.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// It could not be decoded (damaged, or beyond the limits).
    #[error("the image could not be decoded: {0}")]
    Decode(#[from] image::ImageError),
    /// The decoder or encoder failed on it.
    #[error("the image could not be resized")]
    Failed,
}

/// The copies of the image `bytes` at each of [`WIDTHS`] narrower than it, narrowest first
/// (none for an image already narrow). CPU-bound: run it on the blocking pool.
pub fn render(bytes: &[u8]) -> Result<Vec<Rendered>, RenderError> {
    catch_unwind(AssertUnwindSafe(|| render_unguarded(bytes))).unwrap_or(Err(RenderError::Failed))
}

fn render_unguarded(bytes: &[u8]) -> Result<Vec<Rendered>, RenderError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| RenderError::Failed)?;
    let mut limits = Limits::default();
    let side = u32::try_from(MAX_IMAGE_SIDE).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    // Four bytes a pixel, and room for the resized copy.
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let decoded = reader.decode()?;
    let (width, height) = (decoded.width(), decoded.height());
    let alpha = decoded.color().has_alpha();
    let mut out = Vec::new();
    for target in WIDTHS.into_iter().filter(|w| *w < width) {
        let scaled = u64::from(height) * u64::from(target) / u64::from(width);
        let target_height = u32::try_from(scaled).unwrap_or(u32::MAX).max(1);
        let resized = decoded.resize_exact(target, target_height, FilterType::CatmullRom);
        let encoded = if alpha {
            let rgba = resized.to_rgba8();
            webp::Encoder::from_rgba(&rgba, target, target_height)
                .encode_simple(false, QUALITY)
                .map(|m| m.to_vec())
        } else {
            let rgb = resized.to_rgb8();
            webp::Encoder::from_rgb(&rgb, target, target_height)
                .encode_simple(false, QUALITY)
                .map(|m| m.to_vec())
        };
        let bytes = encoded.map_err(|_| RenderError::Failed)?;
        out.push(Rendered {
            width: target,
            height: target_height,
            bytes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn copies_at_each_narrower_width_in_proportion() {
        let copies = render(&png(800, 400)).unwrap();
        let sizes: Vec<(u32, u32)> = copies.iter().map(|c| (c.width, c.height)).collect();
        assert_eq!(sizes, [(320, 160), (640, 320)]);
        for c in &copies {
            assert_eq!(&c.bytes[..4], b"RIFF");
            assert_eq!(&c.bytes[8..12], b"WEBP");
            let back = image::load_from_memory(&c.bytes).unwrap();
            assert_eq!((back.width(), back.height()), (c.width, c.height));
        }
        assert!(render(&png(200, 100)).unwrap().is_empty(), "already narrow");
    }

    #[test]
    fn what_does_not_decode_has_no_copies() {
        let mut broken = png(800, 400);
        broken.truncate(100);
        assert!(render(&broken).is_err());
        assert!(render(b"not an image").is_err());
    }
}
