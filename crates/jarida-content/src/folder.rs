//! `jarida import DIR` and `jarida export DIR`: a folder of Markdown files with front matter, and the
//! images they reference by relative path.

use std::fs;
use std::path::{Path, PathBuf};

use jarida_store::Db;
use time::OffsetDateTime;

use crate::confined::Confined;
use crate::frontmatter::{self, FileError};
use crate::media::{MAX_IMAGE_BYTES, MediaDir, Pending};
use crate::repo::{self, Saved};
use crate::{ContentError, markdown};

/// The outcome of an import: counts and each failed file with its reason.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: Vec<(PathBuf, FileError)>,
}

/// Entries of an imported folder that were not read, with the reason.
pub type Refused = Vec<(PathBuf, FileError)>;

/// The largest post file read (a long report is a few hundred kilobytes).
pub const MAX_POST_BYTES: u64 = 8 * 1024 * 1024;

/// The Markdown files under `dir`, sorted so runs are reproducible, and the entries that were not
/// read: links (never followed, so a link cannot pull in a file from elsewhere) and unreadable ones.
pub fn post_files(dir: &Path) -> Result<(Vec<PathBuf>, Refused), ContentError> {
    if !dir.is_dir() {
        return Err(ContentError::Folder {
            path: dir.to_path_buf(),
            reason: "is not a folder".into(),
        });
    }
    let mut files = Vec::new();
    let mut refused = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                refused.push((
                    rel,
                    FileError {
                        line: None,
                        reason: format!("cannot be read: {err}"),
                    },
                ));
                continue;
            }
        };
        let is_post = e
            .path()
            .extension()
            .is_some_and(|x| x == "md" || x == "markdown");
        if !is_post {
            continue;
        }
        if e.path_is_symlink() {
            let rel = e.path().strip_prefix(dir).unwrap_or(e.path()).to_path_buf();
            refused.push((
                rel,
                FileError {
                    line: None,
                    reason: "is a symbolic link; links are not followed".into(),
                },
            ));
        } else if e.file_type().is_file() {
            files.push(e.into_path());
        }
    }
    files.sort();
    Ok((files, refused))
}

/// Imports every post file under `dir`. Each file is saved in its own transaction: a bad file is
/// reported and the others still import. `progress` is called after each file.
///
/// Everything a post names is read through [`Confined`]: only files inside `dir`, no links, capped
/// sizes. Its images are read and checked before anything is written, and written to `media/` only
/// once the post has validated and saved; a transaction that then fails removes them again.
pub async fn import(
    db: &Db,
    dir: &Path,
    media_dir: &Path,
    now: OffsetDateTime,
    mut progress: impl FnMut(usize, usize, &Path),
) -> Result<ImportReport, ContentError> {
    let (files, refused) = post_files(dir)?;
    let folder = Confined::new(dir).map_err(|e| ContentError::Folder {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let media = MediaDir::new(media_dir);
    let mut report = ImportReport {
        failed: refused,
        ..Default::default()
    };
    for (i, path) in files.iter().enumerate() {
        let rel = path.strip_prefix(dir).unwrap_or(path);
        match import_file(db, &folder, rel, &media, now).await {
            Ok(Saved::Created(_)) => report.created += 1,
            Ok(Saved::Updated(_)) => report.updated += 1,
            Ok(Saved::Unchanged(_)) => report.unchanged += 1,
            Err(ImportFileError::Bad(e)) => report.failed.push((rel.to_path_buf(), e)),
            Err(ImportFileError::Content(e)) => return Err(e),
        }
        progress(i + 1, files.len(), rel);
    }
    report.failed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(report)
}

enum ImportFileError {
    Bad(FileError),
    Content(ContentError),
}

impl From<ContentError> for ImportFileError {
    fn from(e: ContentError) -> Self {
        ImportFileError::Content(e)
    }
}

fn bad(line: Option<usize>, reason: String) -> ImportFileError {
    ImportFileError::Bad(FileError { line, reason })
}

async fn import_file(
    db: &Db,
    folder: &Confined,
    rel: &Path,
    media: &MediaDir,
    now: OffsetDateTime,
) -> Result<Saved, ImportFileError> {
    let bytes = folder
        .read_rel(rel, &rel.display().to_string(), MAX_POST_BYTES)
        .map_err(|e| bad(None, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        bad(Some(line), "is not valid UTF-8 text".into())
    })?;
    let parsed = frontmatter::parse(&text, rel, now).map_err(ImportFileError::Bad)?;
    let mut post = parsed.post;
    let base = rel.parent().unwrap_or(Path::new(""));

    // Relative images: read and checked now, written only after the post has saved. Each file is
    // read once however often (and however spelled) the post names it, and a post's images are
    // capped in number and in total size, so one file cannot make the import hold gigabytes.
    let mut images = Images::default();
    for url in markdown::image_urls(&post.body_md) {
        if !is_relative(&url) {
            continue;
        }
        let line = post
            .body_md
            .lines()
            .position(|l| l.contains(&url))
            .map(|i| i + parsed.body_line);
        let to = images
            .add(folder, base, &url)
            .map_err(|reason| bad(line, reason))?;
        post.body_md = rewrite_url(&post.body_md, &url, &to);
    }
    if let Some(c) = post.cover.clone()
        && is_relative(&c)
    {
        let line = text.lines().position(|l| l.contains(&c)).map(|i| i + 1);
        let to = images
            .add(folder, base, &c)
            .map_err(|reason| bad(line, reason))?;
        post.cover = Some(to);
    }
    // A design (an infographic) is its image: without a cover, its first image stands for it in
    // lists, feeds and shared links.
    if post.cover.is_none() && post.kind == crate::Kind::Design {
        post.cover = markdown::image_urls(&post.body_md).into_iter().next();
    }
    let images = images.read;

    let mut tx = db.begin().await.map_err(ContentError::from)?;
    let saved = repo::save(tx.conn(), &post, now).await?;
    let created = media
        .write_all(&images)
        .map_err(|reason| bad(None, reason))?;
    if let Err(e) = tx.commit().await {
        crate::media::remove(&created);
        return Err(ContentError::from(e).into());
    }
    Ok(saved)
}

fn is_relative(url: &str) -> bool {
    !(url.is_empty()
        || url.starts_with('/')
        || url.starts_with('#')
        || url.contains("://")
        || url.starts_with("data:"))
}

/// Most images one post may carry, and their total size.
const MAX_IMAGES_PER_POST: usize = 200;
const MAX_IMAGE_BYTES_PER_POST: u64 = 200 * 1024 * 1024;

/// The images of one post, each read once.
#[derive(Default)]
struct Images {
    read: Vec<Pending>,
    by_path: std::collections::HashMap<PathBuf, String>,
    bytes: u64,
}

impl Images {
    /// Reads the image `reference` names (once per file) and returns its media URL.
    fn add(&mut self, folder: &Confined, base: &Path, reference: &str) -> Result<String, String> {
        let rel = folder
            .resolve(base, reference)
            .map_err(|e| format!("image {e}"))?;
        if let Some(url) = self.by_path.get(&rel) {
            return Ok(url.clone());
        }
        if self.read.len() >= MAX_IMAGES_PER_POST {
            return Err(format!(
                "image {reference:?}: a post may carry at most {MAX_IMAGES_PER_POST} images"
            ));
        }
        let img = read_image(folder, &rel, reference)?;
        self.bytes += img.bytes.len() as u64;
        if self.bytes > MAX_IMAGE_BYTES_PER_POST {
            return Err(format!(
                "image {reference:?}: the post's images exceed {} MB in all",
                MAX_IMAGE_BYTES_PER_POST / (1024 * 1024)
            ));
        }
        let url = img.url();
        self.by_path.insert(rel, url.clone());
        self.read.push(img);
        Ok(url)
    }
}

/// Reads an image a post refers to by relative path (`rel`, resolved inside the imported folder).
fn read_image(folder: &Confined, rel: &Path, reference: &str) -> Result<Pending, String> {
    let file_name = rel
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let ext_ok = Path::new(&file_name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| crate::media::IMAGE_EXTS.contains(&e.to_ascii_lowercase().as_str()));
    if !ext_ok {
        return Err(format!(
            "image {reference:?} is not one of {}",
            crate::media::IMAGE_EXTS.join(", ")
        ));
    }
    let bytes = folder
        .read_rel(rel, reference, MAX_IMAGE_BYTES)
        .map_err(|e| format!("image {e}"))?;
    Pending::image(&file_name, bytes).map_err(|e| format!("image {reference:?} {e}"))
}

/// Points the Markdown's references to `from` at `to`, in the inline (`](x`, `](<x>`) and reference
/// definition (`]: x`) forms.
fn rewrite_url(md: &str, from: &str, to: &str) -> String {
    md.replace(&format!("]({from}"), &format!("]({to}"))
        .replace(&format!("](<{from}>"), &format!("](<{to}>"))
        .replace(&format!("]: {from}"), &format!("]: {to}"))
}

/// Writes every post (any status) as `<slug>.<lang>.md` with TOML front matter, and the media they
/// use under `media/`, in the format `import` reads.
pub async fn export(db: &Db, dir: &Path, media_dir: &Path) -> Result<usize, ContentError> {
    let io = |path: &Path, e: std::io::Error| ContentError::Folder {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut n = 0;
    for (lang, slug) in repo::all_keys(db).await? {
        let Some(mut post) = repo::load(db, lang, &slug, false).await? else {
            continue;
        };
        let mut used: Vec<String> = markdown::image_urls(&post.body_md)
            .into_iter()
            .filter(|u| u.starts_with("/media/"))
            .collect();
        used.extend(
            post.cover
                .iter()
                .filter(|c| c.starts_with("/media/"))
                .cloned(),
        );
        for url in used {
            let name = &url["/media/".len()..];
            if name.contains('/') || name.contains("..") {
                continue;
            }
            let src = media_dir.join(name);
            let dest_dir = dir.join("media");
            fs::create_dir_all(&dest_dir).map_err(|e| io(&dest_dir, e))?;
            let dest = dest_dir.join(name);
            fs::copy(&src, &dest).map_err(|e| io(&src, e))?;
            let rel = format!("media/{name}");
            post.body_md = rewrite_url(&post.body_md, &url, &rel);
            if post.cover.as_deref() == Some(url.as_str()) {
                post.cover = Some(rel);
            }
        }
        let path = dir.join(format!("{}.{}.md", post.slug, post.lang));
        fs::write(&path, frontmatter::write(&post)).map_err(|e| io(&path, e))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_rewrite_in_every_form() {
        let md = "![a](img/x.png) ![b](<img/x.png>)\n\n[r]: img/x.png\n";
        let out = rewrite_url(md, "img/x.png", "/media/x-1.png");
        assert_eq!(
            out,
            "![a](/media/x-1.png) ![b](</media/x-1.png>)\n\n[r]: /media/x-1.png\n"
        );
    }

    #[test]
    fn relative_means_a_local_path() {
        assert!(is_relative("img/x.png"));
        assert!(is_relative("../x.png"));
        assert!(!is_relative("/media/x.png"));
        assert!(!is_relative("https://x/y.png"));
    }
}
