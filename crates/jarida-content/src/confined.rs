//! Reading files that untrusted text names: an image a post refers to, a cover, and later the files an
//! importer or an upload hands us. Every read is confined to one folder: the reference is
//! percent-decoded first, absolute paths are refused, `..` may move around inside the folder but never
//! out of it, no symbolic link is followed at any step, only regular files are read, and each read is
//! capped in size. One `jarida import` of a folder holding `chart.png -> ../jarida-data/keys/secret.key`
//! once published the site's key; this module is the one door through which such reads go.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Why a referenced file was not read. Each names the reference as it was written.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("{0:?} is not a usable path (empty, NUL, backslash or bad percent-encoding)")]
    Invalid(String),
    #[error("{0:?} is an absolute path; only files inside the imported folder are read")]
    Absolute(String),
    #[error("{0:?} leads outside the imported folder")]
    Escapes(String),
    #[error("{reference:?} goes through a symbolic link ({link}); links are not followed")]
    Symlink { reference: String, link: String },
    #[error("{0:?} is not a regular file")]
    NotFile(String),
    #[error("{reference:?} is larger than the limit of {max} bytes")]
    TooLarge { reference: String, max: u64 },
    #[error("{reference:?} cannot be read: {error}")]
    Io {
        reference: String,
        error: std::io::Error,
    },
}

/// A folder whose files may be read by relative reference, and nothing outside it.
#[derive(Debug, Clone)]
pub struct Confined {
    root: PathBuf,
}

impl Confined {
    /// `root` is resolved once (a root given through a link is fine: the operator chose it).
    pub fn new(root: &Path) -> std::io::Result<Confined> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        Ok(Confined { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path inside the folder that `reference` names when written in a file that lives in
    /// `from` (a folder relative to the root), as components relative to the root.
    pub fn resolve(&self, from: &Path, reference: &str) -> Result<PathBuf, PathError> {
        let invalid = || PathError::Invalid(reference.to_string());
        let decoded = percent_encoding::percent_decode_str(reference)
            .decode_utf8()
            .map_err(|_| invalid())?;
        // Query strings and fragments are not part of a file name.
        let decoded = decoded.split(['?', '#']).next().unwrap_or("");
        if decoded.is_empty() || decoded.contains(['\0', '\\']) {
            return Err(invalid());
        }
        if decoded.starts_with('/') || decoded.starts_with('~') {
            return Err(PathError::Absolute(reference.to_string()));
        }
        let mut parts: Vec<String> = Vec::new();
        for c in from.components() {
            match c {
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::CurDir => {}
                _ => return Err(PathError::Escapes(reference.to_string())),
            }
        }
        for seg in decoded.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(PathError::Escapes(reference.to_string()));
                    }
                }
                s => parts.push(s.to_string()),
            }
        }
        if parts.is_empty() {
            return Err(invalid());
        }
        Ok(parts.iter().collect())
    }

    /// Reads the file `reference` names (see [`Confined::resolve`]), at most `max` bytes.
    pub fn read(&self, from: &Path, reference: &str, max: u64) -> Result<Vec<u8>, PathError> {
        let rel = self.resolve(from, reference)?;
        self.read_rel(&rel, reference, max)
    }

    /// Reads `rel` (components relative to the root, as [`Confined::resolve`] gives them).
    pub fn read_rel(&self, rel: &Path, reference: &str, max: u64) -> Result<Vec<u8>, PathError> {
        let io = |error| PathError::Io {
            reference: reference.to_string(),
            error,
        };
        // Every step is looked at without following links, so neither a linked folder nor a linked
        // file can take the read elsewhere.
        let mut cur = self.root.clone();
        let n = rel.components().count();
        let mut last = None;
        for (i, c) in rel.components().enumerate() {
            let Component::Normal(seg) = c else {
                return Err(PathError::Escapes(reference.to_string()));
            };
            cur.push(seg);
            let meta = fs::symlink_metadata(&cur).map_err(io)?;
            if meta.file_type().is_symlink() {
                return Err(PathError::Symlink {
                    reference: reference.to_string(),
                    link: rel
                        .components()
                        .take(i + 1)
                        .collect::<PathBuf>()
                        .display()
                        .to_string(),
                });
            }
            if i + 1 < n && !meta.is_dir() {
                return Err(PathError::NotFile(reference.to_string()));
            }
            last = Some(meta);
        }
        let Some(meta) = last else {
            return Err(PathError::Invalid(reference.to_string()));
        };
        if !meta.is_file() {
            return Err(PathError::NotFile(reference.to_string()));
        }
        if meta.len() > max {
            return Err(PathError::TooLarge {
                reference: reference.to_string(),
                max,
            });
        }
        let file = fs::File::open(&cur).map_err(io)?;
        // The file opened must be the one looked at: a link swapped in between is refused.
        let opened = file.metadata().map_err(io)?;
        if opened.ino() != meta.ino() || opened.dev() != meta.dev() || !opened.is_file() {
            return Err(PathError::Symlink {
                reference: reference.to_string(),
                link: rel.display().to_string(),
            });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > max {
            return Err(PathError::TooLarge {
                reference: reference.to_string(),
                max,
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, Confined) {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("posts/images")).unwrap();
        fs::write(d.path().join("posts/images/a.png"), b"png").unwrap();
        fs::write(d.path().join("shared.png"), b"shared").unwrap();
        let c = Confined::new(d.path()).unwrap();
        (d, c)
    }

    #[test]
    fn reads_inside_the_folder_only() {
        let (d, c) = folder();
        let from = Path::new("posts");
        assert_eq!(c.read(from, "images/a.png", 100).unwrap(), b"png");
        assert_eq!(
            c.read(from, "./images/../images/a.png", 100).unwrap(),
            b"png"
        );
        assert_eq!(c.read(from, "../shared.png", 100).unwrap(), b"shared");
        assert_eq!(c.read(from, "images/a%2Epng", 100).unwrap(), b"png");
        assert!(matches!(
            c.read(from, "../../etc/passwd", 100),
            Err(PathError::Escapes(_))
        ));
        assert!(matches!(
            c.read(from, "..%2F..%2Fetc%2Fpasswd", 100),
            Err(PathError::Escapes(_))
        ));
        assert!(matches!(
            c.read(from, "%2Fetc%2Fpasswd", 100),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(
            c.read(from, "/etc/passwd", 100),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(
            c.read(from, "a%00.png", 100),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(
            c.read(from, "..\\x.png", 100),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(
            c.read(from, "images/a.png", 2),
            Err(PathError::TooLarge { .. })
        ));
        assert!(matches!(
            c.read(from, "images", 100),
            Err(PathError::NotFile(_))
        ));
        drop(d);
    }

    #[test]
    fn links_are_never_followed() {
        let (d, c) = folder();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.key"), b"secret").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.key"),
            d.path().join("posts/chart.png"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("posts/linked")).unwrap();
        // A link to a file inside the folder is refused too: what it points to may change.
        std::os::unix::fs::symlink(
            d.path().join("shared.png"),
            d.path().join("posts/inside.png"),
        )
        .unwrap();
        let from = Path::new("posts");
        for r in ["chart.png", "linked/secret.key", "inside.png"] {
            assert!(
                matches!(c.read(from, r, 100), Err(PathError::Symlink { .. })),
                "{r} must be refused"
            );
        }
    }
}
