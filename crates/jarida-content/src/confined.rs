//! Reading files that untrusted text names: an image a post refers to, a cover, and later the files an
//! importer or an upload hands us. Every read is confined to one folder: the reference is
//! percent-decoded first, absolute paths are refused, `..` may move around inside the folder but never
//! out of it, no symbolic link is followed at any step, only regular files are read, and each read is
//! capped in size. One `jarida import` of a folder holding `chart.png -> ../jarida-data/keys/secret.key`
//! once published the site's key; this module is the one door through which such reads go.

use std::fs;
use std::io::Read;
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
    ///
    /// The walk opens one component at a time relative to the folder opened before it, never
    /// following a link (`O_NOFOLLOW`), so a folder swapped for a link while the import runs cannot
    /// take the read elsewhere either; the file is opened non-blocking (a FIFO cannot hang the
    /// import) and checked through its own descriptor.
    pub fn read_rel(&self, rel: &Path, reference: &str, max: u64) -> Result<Vec<u8>, PathError> {
        use rustix::fs::{CWD, FileType, Mode, OFlags, fstat, openat};
        let io = |error: std::io::Error| PathError::Io {
            reference: reference.to_string(),
            error,
        };
        let link = |i: usize| PathError::Symlink {
            reference: reference.to_string(),
            link: rel
                .components()
                .take(i + 1)
                .collect::<PathBuf>()
                .display()
                .to_string(),
        };
        let segs: Vec<&std::ffi::OsStr> = rel
            .components()
            .map(|c| match c {
                Component::Normal(s) => Ok(s),
                _ => Err(PathError::Escapes(reference.to_string())),
            })
            .collect::<Result<_, _>>()?;
        let Some((last, dirs)) = segs.split_last() else {
            return Err(PathError::Invalid(reference.to_string()));
        };
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut dir = openat(
            CWD,
            &self.root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io(e.into()))?;
        for (i, seg) in dirs.iter().enumerate() {
            dir = match openat(&dir, *seg, dir_flags, Mode::empty()) {
                Ok(d) => d,
                // A link (ELOOP under O_NOFOLLOW) or not a folder at all.
                Err(rustix::io::Errno::LOOP) => return Err(link(i)),
                Err(rustix::io::Errno::NOTDIR) => {
                    return Err(
                        match rustix::fs::statat(&dir, *seg, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                        {
                            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                                link(i)
                            }
                            _ => PathError::NotFile(reference.to_string()),
                        },
                    );
                }
                Err(e) => return Err(io(e.into())),
            };
        }
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match openat(&dir, *last, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => return Err(link(dirs.len())),
            Err(e) => return Err(io(e.into())),
        };
        let st = fstat(&fd).map_err(|e| io(e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(PathError::NotFile(reference.to_string()));
        }
        let len = u64::try_from(st.st_size).unwrap_or(u64::MAX);
        if len > max {
            return Err(PathError::TooLarge {
                reference: reference.to_string(),
                max,
            });
        }
        let file = fs::File::from(fd);
        let mut bytes = Vec::with_capacity(len as usize);
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
        // A FIFO cannot hang the import: it is opened without blocking and refused.
        let fifo = d.path().join("posts/pipe.png");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(matches!(
            c.read(Path::new("posts"), "pipe.png", 100),
            Err(PathError::NotFile(_))
        ));
        let from = Path::new("posts");
        for r in ["chart.png", "linked/secret.key", "inside.png"] {
            assert!(
                matches!(c.read(from, r, 100), Err(PathError::Symlink { .. })),
                "{r} must be refused"
            );
        }
    }
}
