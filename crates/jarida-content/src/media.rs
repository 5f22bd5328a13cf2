//! The media folder: images posts use, stored under content-addressed names (`chart-<hash>.png`) so
//! the same image imported twice lands on one file and a name is a strong cache validator. Bytes come
//! in already read (through [`crate::confined`] for files, or from an upload) and already checked, so
//! nothing reaches `media/` before the post that uses it has validated.
//!
//! A PNG or JPEG wider than the smallest of [`WIDTHS`] also gets smaller copies
//! (`chart-<hash>.w480.png`), written beside it, so pages can offer a phone a small file through
//! `srcset`, and WebP copies at those widths and its own (`chart-<hash>.w1200.webp`; lossy for a
//! photograph, lossless for a PNG chart whose edges must stay sharp), offered first through
//! `<picture>`; [`MediaDir::picture`] says what a page may offer and the image's size, so the page
//! reserves its box before it loads.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Image types a post may carry.
pub const IMAGE_EXTS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "avif", "svg"];

/// The largest image accepted (a full-width photograph or an infographic fits easily).
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// An image ready to be written: its media name and bytes.
#[derive(Debug, Clone)]
pub struct Pending {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Pending {
    /// Names `bytes` after `file_name`'s stem and a hash of the bytes. Refuses a name that is not one
    /// of [`IMAGE_EXTS`] and bytes that do not look like that kind of image.
    pub fn image(file_name: &str, bytes: Vec<u8>) -> Result<Pending, String> {
        let path = Path::new(file_name);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if !IMAGE_EXTS.contains(&ext.as_str()) {
            return Err(format!("is not one of {}", IMAGE_EXTS.join(", ")));
        }
        if !looks_like(&ext, &bytes) {
            return Err(format!("is not a {ext} image"));
        }
        let hash = hex::encode(&Sha256::digest(&bytes)[..6]);
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(crate::model::slugify)
            .unwrap_or_default();
        let stem = stem.strip_suffix(&format!("-{hash}")).unwrap_or(&stem);
        let stem = if stem.is_empty() { "image" } else { stem };
        Ok(Pending {
            name: format!("{stem}-{hash}.{ext}"),
            bytes,
        })
    }

    pub fn url(&self) -> String {
        format!("/media/{}", self.name)
    }
}

/// Whether the bytes start the way files of that type do. A key or a text file renamed `.png` is
/// refused, so a mistake (or a trick) cannot publish something that is not an image.
fn looks_like(ext: &str, b: &[u8]) -> bool {
    match ext {
        "png" => b.starts_with(b"\x89PNG\r\n\x1a\n"),
        "jpg" | "jpeg" => b.starts_with(&[0xFF, 0xD8, 0xFF]),
        "gif" => b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a"),
        "webp" => b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP",
        "avif" => b.len() >= 12 && &b[4..8] == b"ftyp",
        "svg" => {
            let head = String::from_utf8_lossy(&b[..b.len().min(1024)]).to_ascii_lowercase();
            head.contains("<svg")
        }
        _ => false,
    }
}

/// The site's media folder.
#[derive(Debug, Clone)]
pub struct MediaDir {
    dir: PathBuf,
}

impl MediaDir {
    pub fn new(dir: &Path) -> MediaDir {
        MediaDir {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes the images that are not there yet (atomically: a temporary file renamed into place).
    /// Returns the paths it created, so a caller whose transaction then fails can remove them.
    pub fn write_all(&self, images: &[Pending]) -> Result<Vec<PathBuf>, String> {
        let mut created = Vec::new();
        if images.is_empty() {
            return Ok(created);
        }
        let fail = |created: &[PathBuf], msg: String| {
            remove(created);
            msg
        };
        fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        for img in images {
            let dest = self.dir.join(&img.name);
            if dest.exists() || created.contains(&dest) {
                continue;
            }
            let copies = variants(&img.name, &img.bytes);
            for (name, bytes) in std::iter::once((img.name.as_str(), &img.bytes))
                .chain(copies.iter().map(|(n, b)| (n.as_str(), b)))
            {
                let dest = self.dir.join(name);
                if let Err(e) = self.write_one(name, bytes) {
                    return Err(fail(
                        &created,
                        format!("cannot write {}: {e}", dest.display()),
                    ));
                }
                created.push(dest);
            }
        }
        Ok(created)
    }

    /// Writes `name` atomically: a temporary file, synced, renamed into place.
    fn write_one(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let written = fs::File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                f.sync_all()
            })
            .and_then(|_| fs::rename(&tmp, self.dir.join(name)));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// What a page may offer of the image at `url`: for a file in this folder its size and the
    /// smaller copies that exist; for anything else the address alone.
    pub fn picture(&self, url: &str) -> Picture {
        let Some(name) = url
            .strip_prefix("/media/")
            .filter(|n| !n.is_empty() && !n.starts_with('.') && !n.contains(['/', '\\']))
        else {
            return Picture::remote(url);
        };
        let path = self.dir.join(name);
        let size = if name.to_ascii_lowercase().ends_with(".svg") {
            fs::read(&path).ok().and_then(|b| svg_size(&b))
        } else {
            image::ImageReader::open(&path)
                .and_then(|r| r.with_guessed_format())
                .ok()
                .and_then(|r| r.into_dimensions().ok())
        };
        let mut srcset: Vec<String> = WIDTHS
            .iter()
            .filter(|w| size.is_some_and(|(iw, _)| **w < iw))
            .filter(|w| self.dir.join(variant_name(name, **w)).is_file())
            .map(|w| format!("/media/{} {w}w", variant_name(name, *w)))
            .collect();
        if let (false, Some((w, _))) = (srcset.is_empty(), size) {
            srcset.push(format!("{url} {w}w"));
        }
        let webp: Vec<String> = size
            .map(|(iw, _)| webp_widths(iw))
            .unwrap_or_default()
            .into_iter()
            .filter(|w| self.dir.join(webp_name(name, *w)).is_file())
            .map(|w| format!("/media/{} {w}w", webp_name(name, w)))
            .collect();
        Picture {
            src: url.to_string(),
            srcset: srcset.join(", "),
            webp: webp.join(", "),
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
        }
    }
}

/// The widths smaller copies are made at: a phone's column, a tablet's or a 2x phone's, a
/// desktop's wide cover.
pub const WIDTHS: [u32; 3] = [480, 960, 1600];

/// The largest image (in pixels) copies are made of: decoding takes four bytes a pixel.
pub const MAX_PIXELS: u64 = 40_000_000;

/// The name of the copy of `name` that is `width` pixels wide.
pub fn variant_name(name: &str, width: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.w{width}.{ext}"),
        None => format!("{name}.w{width}"),
    }
}

/// The name of the WebP copy of `name` that is `width` pixels wide.
pub fn webp_name(name: &str, width: u32) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    format!("{stem}.w{width}.webp")
}

/// The widths of an image's WebP copies: each of [`WIDTHS`] below its own, and its own (up to
/// [`MAX_WEBP_WIDTH`], past which none is made).
fn webp_widths(width: u32) -> Vec<u32> {
    let mut out: Vec<u32> = WIDTHS.iter().copied().filter(|w| *w < width).collect();
    if width <= MAX_WEBP_WIDTH {
        out.push(width);
    }
    out
}

/// The widest image given a WebP copy of its own size: the library's uploads are at most this wide;
/// a wider imported original still gets the smaller ones.
pub const MAX_WEBP_WIDTH: u32 = 2560;

/// Every file written beside `name` ([`variants`]'s copies), for removing an image with its copies.
pub fn copies_of(name: &str, width: u32) -> Vec<String> {
    let mut out: Vec<String> = WIDTHS
        .iter()
        .filter(|w| **w < width)
        .map(|w| variant_name(name, *w))
        .collect();
    out.extend(webp_widths(width).into_iter().map(|w| webp_name(name, w)));
    out
}

/// What a page offers of one image: the original, its smaller copies and its size in pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Picture {
    pub src: String,
    /// `url 480w, url 960w, …` (empty when there are no copies).
    pub srcset: String,
    /// The WebP copies, the same way (empty when there are none).
    pub webp: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Picture {
    /// An image that is not in the media folder (a remote URL): only its address is known.
    pub fn remote(url: &str) -> Picture {
        Picture {
            src: url.to_string(),
            srcset: String::new(),
            webp: String::new(),
            width: None,
            height: None,
        }
    }
}

fn variant_format(name: &str) -> Option<image::ImageFormat> {
    match name.rsplit_once('.')?.1.to_ascii_lowercase().as_str() {
        "png" => Some(image::ImageFormat::Png),
        "jpg" | "jpeg" => Some(image::ImageFormat::Jpeg),
        _ => None,
    }
}

/// The width and height an SVG declares (its `viewBox`, else `width` and `height`): enough for the
/// page to reserve the image's proportions. Read by hand: an XML parser for two attributes of one
/// start tag would be the only one in the program.
pub(crate) fn svg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let head = std::str::from_utf8(&bytes[..bytes.len().min(4096)]).ok()?;
    let start = head.find("<svg")?;
    let tag = &head[start..start + head[start..].find('>')?];
    let attr = |name: &str| -> Option<&str> {
        let at = tag.find(&format!(" {name}="))? + name.len() + 2;
        let quote = tag[at..].chars().next()?;
        let rest = &tag[at + 1..];
        Some(&rest[..rest.find(quote)?])
    };
    if let Some(vb) = attr("viewBox") {
        let n: Vec<f64> = vb
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        if let [_, _, w, h] = n[..]
            && w >= 1.0
            && h >= 1.0
        {
            return Some((w.round() as u32, h.round() as u32));
        }
    }
    let px = |v: &str| {
        v.trim_end_matches("px")
            .parse::<f64>()
            .ok()
            .filter(|n| *n >= 1.0)
    };
    Some((px(attr("width")?)? as u32, px(attr("height")?)? as u32))
}

/// Smaller copies of a PNG or JPEG at each of [`WIDTHS`] narrower than it, and WebP copies at
/// those widths and its own. Nothing for other types, for images too large to decode safely, or
/// for bytes that do not decode (the original is still served; pages just offer no copies).
pub fn variants(name: &str, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Some(format) = variant_format(name) else {
        return Vec::new();
    };
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let Ok((w, h)) = reader.into_dimensions() else {
        return Vec::new();
    };
    if u64::from(w) * u64::from(h) > MAX_PIXELS || w <= WIDTHS[0] {
        return Vec::new();
    }
    let img = match image::load_from_memory_with_format(bytes, format) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(name, error = %e, "image does not decode: no smaller copies");
            return Vec::new();
        }
    };
    // Each width is resized and encoded (its own format, then WebP) on a thread of its own, the
    // original's WebP on another: encoding is most of an upload's time, and the server has more
    // than one core for it (`bench/admin.sh` measures it).
    let widths: Vec<u32> = WIDTHS.iter().copied().filter(|x| *x < w).collect();
    let copy = |width: u32| -> Vec<(String, Vec<u8>)> {
        let height = ((u64::from(h) * u64::from(width)) / u64::from(w)).max(1) as u32;
        let small = resize(&img, width, height);
        let mut made = Vec::new();
        let mut buf = Vec::new();
        let written = match format {
            image::ImageFormat::Jpeg => {
                let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 82);
                small.to_rgb8().write_with_encoder(enc)
            }
            _ => small.write_to(&mut std::io::Cursor::new(&mut buf), format),
        };
        match written {
            Ok(()) => made.push((variant_name(name, width), buf)),
            Err(e) => tracing::warn!(name, width, error = %e, "could not make a smaller copy"),
        }
        if let Some(b) = webp_copy(&small, format) {
            made.push((webp_name(name, width), b));
        }
        made
    };
    std::thread::scope(|scope| {
        let own = (w <= MAX_WEBP_WIDTH).then(|| scope.spawn(|| webp_copy(&img, format)));
        let smaller: Vec<_> = widths
            .iter()
            .map(|width| {
                let copy = &copy;
                scope.spawn(move || copy(*width))
            })
            .collect();
        let mut out = Vec::new();
        for t in smaller {
            match t.join() {
                Ok(made) => out.extend(made),
                Err(_) => tracing::warn!(name, "a smaller copy's thread failed"),
            }
        }
        if let Some(t) = own {
            match t.join() {
                Ok(Some(b)) => out.push((webp_name(name, w), b)),
                Ok(None) => {}
                Err(_) => tracing::warn!(name, "the WebP copy's thread failed"),
            }
        }
        out
    })
}

/// A copy's WebP: lossy for a JPEG's photograph, lossless for a PNG (a chart's text and lines
/// would blur).
fn webp_copy(img: &image::DynamicImage, from: image::ImageFormat) -> Option<Vec<u8>> {
    if from == image::ImageFormat::Png {
        to_webp(img, true, WEBP_LOSSLESS_EFFORT)
    } else {
        to_webp(img, false, WEBP_QUALITY)
    }
}

/// WebP quality for photographs: about the JPEG copies' look at two thirds of their size.
const WEBP_QUALITY: f32 = 80.0;

/// For lossless WebP the "quality" is effort: past this little is gained on a chart, and a wide
/// PNG took seconds.
const WEBP_LOSSLESS_EFFORT: f32 = 20.0;

/// `img` as WebP: lossy at `quality`, or lossless (then `quality` is effort). None when libwebp
/// refuses it (logged; the page then offers the other copies).
pub(crate) fn to_webp(img: &image::DynamicImage, lossless: bool, quality: f32) -> Option<Vec<u8>> {
    let encoded = if img.color().has_alpha() {
        let px = img.to_rgba8();
        webp::Encoder::from_rgba(&px, img.width(), img.height()).encode_simple(lossless, quality)
    } else {
        let px = img.to_rgb8();
        webp::Encoder::from_rgb(&px, img.width(), img.height()).encode_simple(lossless, quality)
    };
    match encoded {
        Ok(m) => Some(m.to_vec()),
        Err(e) => {
            tracing::warn!(error = ?e, "could not make a WebP copy");
            None
        }
    }
}

/// `img` at `width` × `height` with the Catmull-Rom filter, through `fast_image_resize` (SIMD);
/// through `image`'s own resizer if that cannot take the pixel type.
pub fn resize(img: &image::DynamicImage, width: u32, height: u32) -> image::DynamicImage {
    let mut dst = image::DynamicImage::new(width, height, img.color());
    let opts = fast_image_resize::ResizeOptions::new().resize_alg(
        fast_image_resize::ResizeAlg::Convolution(fast_image_resize::FilterType::CatmullRom),
    );
    match fast_image_resize::Resizer::new().resize(img, &mut dst, &opts) {
        Ok(()) => dst,
        Err(e) => {
            tracing::debug!(error = %e, "SIMD resize refused the image; using image's resizer");
            img.resize_exact(width, height, image::imageops::FilterType::CatmullRom)
        }
    }
}

/// Removes files written for a save that did not commit.
pub fn remove(paths: &[PathBuf]) {
    for p in paths {
        if let Err(e) = fs::remove_file(p) {
            tracing::warn!(path = %p.display(), error = %e, "could not remove an unused media file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_content_addressed_and_types_checked() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        let a = Pending::image("My Chart.png", png.clone()).unwrap();
        assert!(a.name.starts_with("my-chart-") && a.name.ends_with(".png"));
        let again = Pending::image(&a.name, png).unwrap();
        assert_eq!(
            again.name, a.name,
            "re-importing an exported image keeps its name"
        );
        assert!(Pending::image("secret.png", b"-----BEGIN KEY".to_vec()).is_err());
        assert!(Pending::image("notes.txt", b"hello".to_vec()).is_err());
        assert!(Pending::image("d.svg", b"<?xml?><svg xmlns='x'/>".to_vec()).is_ok());
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut buf = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut buf), image::ImageFormat::Png)
            .unwrap();
        buf
    }

    #[test]
    fn large_images_get_smaller_copies_and_pages_learn_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaDir::new(dir.path());
        let big = Pending::image("cover.png", png(1200, 600)).unwrap();
        let small = Pending::image("icon.png", png(300, 300)).unwrap();
        let created = media.write_all(&[big.clone(), small.clone()]).unwrap();
        assert_eq!(
            created.len(),
            7,
            "the cover, its 480 and 960 copies, WebP at 480, 960 and 1200, the icon: {created:?}"
        );
        let p = media.picture(&big.url());
        assert_eq!((p.width, p.height), (Some(1200), Some(600)));
        let w480 = format!("/media/{}", variant_name(&big.name, 480));
        assert_eq!(
            p.srcset,
            format!(
                "{w480} 480w, /media/{} 960w, {} 1200w",
                variant_name(&big.name, 960),
                big.url()
            )
        );
        assert_eq!(
            p.webp,
            format!(
                "/media/{} 480w, /media/{} 960w, /media/{} 1200w",
                webp_name(&big.name, 480),
                webp_name(&big.name, 960),
                webp_name(&big.name, 1200)
            )
        );
        let webp = std::fs::read(dir.path().join(webp_name(&big.name, 960))).unwrap();
        assert_eq!(&webp[8..12], b"WEBP");
        let decoded = image::load_from_memory_with_format(&webp, image::ImageFormat::WebP).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (960, 480));
        let mut listed = copies_of(&big.name, 1200);
        listed.sort();
        let mut written: Vec<String> = created
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("cover-"))
            .filter(|n| *n != big.name)
            .collect();
        written.sort();
        assert_eq!(listed, written, "copies_of names every copy written");
        let copy = image::open(dir.path().join(variant_name(&big.name, 480))).unwrap();
        assert_eq!(
            (copy.width(), copy.height()),
            (480, 240),
            "proportions kept"
        );
        let p = media.picture(&small.url());
        assert_eq!(
            (p.width, p.srcset.as_str()),
            (Some(300), ""),
            "nothing smaller to offer"
        );
        assert_eq!(
            media.picture("https://example.org/x.png"),
            Picture::remote("https://example.org/x.png")
        );
        assert_eq!(media.picture("/media/../secret.png").width, None);
    }

    #[test]
    fn svg_sizes_come_from_the_view_box_or_the_attributes() {
        assert_eq!(
            svg_size(b"<svg xmlns='x' viewBox='0 0 800 450'>"),
            Some((800, 450))
        );
        assert_eq!(
            svg_size(b"<svg width=\"640px\" height=\"480\">"),
            Some((640, 480))
        );
        assert_eq!(svg_size(b"<svg>"), None);
        assert_eq!(svg_size(b"<svg viewBox=\"0 0 0 0\""), None);
        assert_eq!(svg_size(&[0xff, 0xfe]), None);
    }
}
