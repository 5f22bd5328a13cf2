//! The media folder: images posts use, stored under content-addressed names (`chart-<hash>.png`) so
//! the same image imported twice lands on one file and a name is a strong cache validator. Bytes come
//! in already read (through [`crate::confined`] for files, or from an upload) and already checked, so
//! nothing reaches `media/` before the post that uses it has validated.

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
            let tmp = self.dir.join(format!(".{}.tmp", img.name));
            let written = fs::File::create(&tmp)
                .and_then(|mut f| {
                    f.write_all(&img.bytes)?;
                    f.sync_all()
                })
                .and_then(|_| fs::rename(&tmp, &dest));
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                return Err(fail(
                    &created,
                    format!("cannot write {}: {e}", dest.display()),
                ));
            }
            created.push(dest);
        }
        Ok(created)
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
}
