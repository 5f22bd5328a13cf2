//! The media library: images editors upload in the admin, each a row of the `media` table (its
//! content-addressed file in `media/`, size, type, alt text in both languages, who uploaded it)
//! and its smaller copies for `srcset`. An upload goes through [`prepare`]: its type is read from
//! its bytes (never from its name), its size and pixel count are capped before anything is decoded
//! (a small file that expands to gigabytes is refused), and a raster image is decoded, turned
//! upright and encoded again, which drops EXIF (GPS included), comments and anything hidden
//! after the picture. A file with data after the image's end or with markup inside is refused
//! outright: it is a polyglot, not a photograph. SVG is kept as drawn and served as a download
//! under a sandboxing policy, never as a document of the site.

use jarida_store::{Db, Tx, q_all, q_exec, q_one, q_opt, sqlx};

use crate::ContentError;
use crate::media::{MAX_IMAGE_BYTES, MAX_PIXELS, Pending};

/// Originals wider than this are stored at this width (a phone photo is 4000–6000 px; no page
/// shows more than this, and the full file would only slow every copy made from it).
pub const MAX_WIDTH: u32 = 2560;

/// An upload ready to be written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub image: Pending,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub original_name: String,
}

/// Why an upload is refused, said so an editor can act on it.
fn refuse(name: &str, why: impl std::fmt::Display) -> String {
    format!("{name}: {why}")
}

fn sniff(b: &[u8]) -> Option<(&'static str, &'static str)> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("png", "image/png"))
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("jpg", "image/jpeg"))
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(("webp", "image/webp"))
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some(("gif", "image/gif"))
    } else {
        let head = String::from_utf8_lossy(&b[..b.len().min(4096)]).to_ascii_lowercase();
        let t = head.trim_start_matches('\u{feff}').trim_start();
        (t.starts_with("<svg") || (t.starts_with("<?xml") && head.contains("<svg")))
            .then_some(("svg", "image/svg+xml"))
    }
}

/// Markup or script inside a raster file: what a polyglot carries for a browser to find.
fn has_markup(b: &[u8]) -> bool {
    const NEEDLES: [&[u8]; 6] = [
        b"<script",
        b"<html",
        b"<?php",
        b"<svg",
        b"<iframe",
        b"javascript:",
    ];
    b.windows(8).any(|w| {
        let lower: Vec<u8> = w.iter().map(u8::to_ascii_lowercase).collect();
        NEEDLES.iter().any(|n| lower.starts_with(n))
    })
}

/// Bytes after the image's own end (PNG's IEND chunk, JPEG's last EOI marker).
fn trailing_data(ext: &str, b: &[u8]) -> bool {
    match ext {
        "png" => match b.windows(8).rposition(|w| &w[4..8] == b"IEND") {
            Some(at) => at + 12 < b.len(),
            None => true,
        },
        "jpg" => match b.windows(2).rposition(|w| w == [0xFF, 0xD9]) {
            Some(at) => b[at + 2..].iter().any(|x| *x != 0),
            None => true,
        },
        _ => false,
    }
}

/// Checks and cleans an upload (see the module's documentation). Blocking: run it off the async
/// threads.
pub fn prepare(file_name: &str, bytes: Vec<u8>) -> Result<Prepared, String> {
    let shown = file_name.chars().take(120).collect::<String>();
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(refuse(
            &shown,
            format!("is larger than {} MB", MAX_IMAGE_BYTES / 1024 / 1024),
        ));
    }
    let Some((ext, content_type)) = sniff(&bytes) else {
        return Err(refuse(&shown, "is not a PNG, JPEG, WebP, GIF or SVG image"));
    };
    let stem = std::path::Path::new(file_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image");
    if ext == "svg" {
        let (width, height) = crate::media::svg_size(&bytes).unwrap_or((0, 0));
        let image = Pending::image(&format!("{stem}.svg"), bytes).map_err(|e| refuse(&shown, e))?;
        return Ok(Prepared {
            image,
            content_type,
            width,
            height,
            original_name: shown,
        });
    }
    if trailing_data(ext, &bytes) || has_markup(&bytes) {
        return Err(refuse(
            &shown,
            "carries data besides the picture (markup, or bytes after the image's end); export it again from an image editor",
        ));
    }
    let format =
        image::ImageFormat::from_extension(ext).ok_or_else(|| refuse(&shown, "unknown type"))?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits.clone());
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| refuse(&shown, format!("does not read as an image ({e})")))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(refuse(
            &shown,
            format!(
                "is {w}×{h} pixels; the most accepted is {} megapixels",
                MAX_PIXELS / 1_000_000
            ),
        ));
    }
    let mut decoder = image::ImageReader::with_format(std::io::Cursor::new(&bytes), format);
    decoder.limits(limits);
    let mut dec = decoder
        .into_decoder()
        .map_err(|e| refuse(&shown, format!("does not decode ({e})")))?;
    use image::ImageDecoder;
    let orientation = dec
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(dec)
        .map_err(|e| refuse(&shown, format!("does not decode ({e})")))?;
    img.apply_orientation(orientation);
    if img.width() > MAX_WIDTH {
        let height = ((u64::from(img.height()) * u64::from(MAX_WIDTH)) / u64::from(img.width()))
            .max(1) as u32;
        img = crate::media::resize(&img, MAX_WIDTH, height);
    }
    let mut out = Vec::new();
    // Encoded again from pixels: no metadata survives. GIF's first frame becomes a PNG.
    let (ext, content_type) = match ext {
        "jpg" => {
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
            img.to_rgb8()
                .write_with_encoder(enc)
                .map_err(|e| refuse(&shown, e))?;
            ("jpg", content_type)
        }
        "webp" => {
            // libwebp, lossy at a high quality: `image`'s own encoder is lossless only, and a
            // photograph came out several times the size it was sent at.
            out = crate::media::to_webp(&img, false, 90.0)
                .ok_or_else(|| refuse(&shown, "could not be encoded again as WebP"))?;
            ("webp", content_type)
        }
        _ => {
            img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
                .map_err(|e| refuse(&shown, e))?;
            ("png", "image/png")
        }
    };
    let image = Pending::image(&format!("{stem}.{ext}"), out).map_err(|e| refuse(&shown, e))?;
    Ok(Prepared {
        image,
        content_type,
        width: img.width(),
        height: img.height(),
        original_name: shown,
    })
}

/// An image of the library.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub name: String,
    pub original_name: String,
    pub content_type: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    pub alt_en: String,
    pub alt_ar: String,
    pub uploaded_by: Option<i64>,
    pub uploaded_at: i64,
}

impl Item {
    pub fn url(&self) -> String {
        format!("/media/{}", self.name)
    }
}

const COLS: &str = "id, name, original_name, content_type, bytes, width, height, alt_en, alt_ar, uploaded_by, uploaded_at";

/// Records an uploaded image (its files already written); the same image uploaded again is the
/// same row. Returns its id.
pub async fn record(
    tx: &mut Tx,
    p: &Prepared,
    alt_en: &str,
    alt_ar: &str,
    by: Option<i64>,
    now: i64,
) -> Result<i64, ContentError> {
    let existing: Option<(i64,)> = q_opt!(
        tx.conn(),
        (i64,),
        "SELECT id FROM media WHERE name = $1",
        &p.image.name
    )?;
    if let Some((id,)) = existing {
        return Ok(id);
    }
    let (id,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "INSERT INTO media (name, original_name, content_type, bytes, width, height, alt_en, alt_ar, uploaded_by, uploaded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &p.image.name,
        &p.original_name,
        p.content_type,
        p.image.bytes.len() as i64,
        i64::from(p.width),
        i64::from(p.height),
        alt_en.trim(),
        alt_ar.trim(),
        by,
        now
    )?;
    Ok(id)
}

/// The library, newest first, filtered by words of the file name or alt text.
pub async fn list(db: &Db, q: Option<&str>, limit: i64) -> Result<Vec<Item>, ContentError> {
    let pattern = q
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_', '\\'], "")));
    Ok(q_all!(
        db.acquire().await?.conn(),
        Item,
        sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM media WHERE ($1 IS NULL OR LOWER(original_name) LIKE $1 OR LOWER(alt_en) LIKE $1 \
             OR LOWER(alt_ar) LIKE $1 OR LOWER(name) LIKE $1) ORDER BY uploaded_at DESC, id DESC LIMIT $2"
        )),
        pattern,
        limit
    )?)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Item>, ContentError> {
    Ok(q_opt!(
        db.acquire().await?.conn(),
        Item,
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM media WHERE id = $1")),
        id
    )?)
}

pub async fn set_alt(
    tx: &mut Tx,
    id: i64,
    alt_en: &str,
    alt_ar: &str,
) -> Result<bool, ContentError> {
    Ok(q_exec!(
        tx.conn(),
        "UPDATE media SET alt_en = $1, alt_ar = $2 WHERE id = $3",
        alt_en.trim(),
        alt_ar.trim(),
        id
    )? > 0)
}

/// The posts that use the image `name` (as cover or in their text): (id, lang, title).
pub async fn usage(c: &mut Tx, name: &str) -> Result<UsedBy, ContentError> {
    let url = format!("/media/{name}");
    let like = format!("%{}%", url.replace(['%', '_'], ""));
    Ok(q_all!(
        c.conn(),
        (i64, String, String),
        "SELECT id, lang, title FROM posts WHERE cover = $1 OR body_md LIKE $2 ORDER BY id",
        &url,
        like
    )?)
}

/// The posts using an image: (id, lang, title).
pub type UsedBy = Vec<(i64, String, String)>;

/// What deleting an image did.
#[derive(Debug)]
pub enum Deleted {
    /// There was no such image.
    Gone,
    /// The row is deleted; the caller removes its files once the transaction commits.
    Deleted(Item),
    /// Posts still use it: nothing was deleted.
    InUse(UsedBy),
}

/// Deletes the row of an image no post uses.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<Deleted, ContentError> {
    let item: Option<Item> = q_opt!(
        tx.conn(),
        Item,
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM media WHERE id = $1")),
        id
    )?;
    let Some(item) = item else {
        return Ok(Deleted::Gone);
    };
    let used = usage(tx, &item.name).await?;
    if !used.is_empty() {
        return Ok(Deleted::InUse(used));
    }
    q_exec!(tx.conn(), "DELETE FROM media WHERE id = $1", id)?;
    Ok(Deleted::Deleted(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn uploads_are_typed_by_their_bytes_and_cleaned() {
        let p = prepare("Chart FINAL.jpg", png(600, 300)).unwrap();
        assert!(p.image.name.starts_with("chart-final-") && p.image.name.ends_with(".png"));
        assert_eq!((p.width, p.height, p.content_type), (600, 300, "image/png"));

        let mut polyglot = png(10, 10);
        polyglot.extend_from_slice(b"<html><script>alert(1)</script>");
        let e = prepare("cat.png", polyglot).unwrap_err();
        assert!(e.contains("carries data besides the picture"), "{e}");

        let e = prepare("notes.png", b"just some text".to_vec()).unwrap_err();
        assert!(e.contains("is not a PNG, JPEG"), "{e}");

        let e = prepare("huge.png", vec![0u8; (MAX_IMAGE_BYTES + 1) as usize]).unwrap_err();
        assert!(e.contains("larger than 20 MB"), "{e}");

        let wide = prepare("wide.png", png(3000, 100)).unwrap();
        assert_eq!(wide.width, MAX_WIDTH);

        let svg = prepare(
            "logo.svg",
            br#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20"></svg>"#.to_vec(),
        )
        .unwrap();
        assert_eq!(
            (svg.content_type, svg.width, svg.height),
            ("image/svg+xml", 40, 20)
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_decoded() {
        // A PNG header that claims 30000 × 30000 pixels: refused from the header alone.
        let mut b = png(1, 1);
        b[16..20].copy_from_slice(&30000u32.to_be_bytes());
        b[20..24].copy_from_slice(&30000u32.to_be_bytes());
        let e = prepare("bomb.png", b).unwrap_err();
        assert!(e.contains("pixels") || e.contains("does not"), "{e}");
    }
}
