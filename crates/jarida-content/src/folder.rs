//! `jarida import DIR` and `jarida export DIR`: a folder of Markdown files with front matter, and the
//! images they reference by relative path.

use std::fs;
use std::path::{Path, PathBuf};

use jarida_store::Db;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::frontmatter::{self, FileError};
use crate::repo::{self, Saved};
use crate::{ContentError, markdown};

const IMAGE_EXTS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "avif", "svg"];

/// The outcome of an import: counts and each failed file with its reason.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: Vec<(PathBuf, FileError)>,
}

/// The Markdown files under `dir`, sorted so runs are reproducible.
pub fn post_files(dir: &Path) -> Result<Vec<PathBuf>, ContentError> {
    if !dir.is_dir() {
        return Err(ContentError::Folder {
            path: dir.to_path_buf(),
            reason: "is not a folder".into(),
        });
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "md" || e == "markdown"))
        .collect();
    files.sort();
    Ok(files)
}

/// Imports every post file under `dir`. Each file is saved in its own transaction: a bad file is
/// reported and the others still import. `progress` is called after each file.
pub async fn import(
    db: &Db,
    dir: &Path,
    media_dir: &Path,
    now: OffsetDateTime,
    mut progress: impl FnMut(usize, usize, &Path),
) -> Result<ImportReport, ContentError> {
    let files = post_files(dir)?;
    let mut report = ImportReport::default();
    for (i, path) in files.iter().enumerate() {
        let rel = path.strip_prefix(dir).unwrap_or(path);
        match import_file(db, path, rel, media_dir, now).await {
            Ok(Saved::Created(_)) => report.created += 1,
            Ok(Saved::Updated(_)) => report.updated += 1,
            Ok(Saved::Unchanged(_)) => report.unchanged += 1,
            Err(ImportFileError::Bad(e)) => report.failed.push((rel.to_path_buf(), e)),
            Err(ImportFileError::Content(e)) => return Err(e),
        }
        progress(i + 1, files.len(), rel);
    }
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

async fn import_file(
    db: &Db,
    path: &Path,
    rel: &Path,
    media_dir: &Path,
    now: OffsetDateTime,
) -> Result<Saved, ImportFileError> {
    let bytes = fs::read(path).map_err(|e| {
        ImportFileError::Bad(FileError {
            line: None,
            reason: format!("cannot read: {e}"),
        })
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ImportFileError::Bad(FileError {
            line: Some(line),
            reason: "is not valid UTF-8 text".into(),
        })
    })?;
    let parsed = frontmatter::parse(&text, rel, now).map_err(ImportFileError::Bad)?;
    let mut post = parsed.post;
    let base = path.parent().unwrap_or(Path::new("."));

    // Relative images are copied into media under a content-addressed name and the body points at it.
    for url in markdown::image_urls(&post.body_md) {
        if !is_relative(&url) {
            continue;
        }
        let line = post
            .body_md
            .lines()
            .position(|l| l.contains(&url))
            .map(|i| i + parsed.body_line);
        let stored = store_media(base, &url, media_dir)
            .map_err(|reason| ImportFileError::Bad(FileError { line, reason }))?;
        post.body_md = rewrite_url(&post.body_md, &url, &stored);
    }
    if let Some(c) = post.cover.clone()
        && is_relative(&c)
    {
        let line = text.lines().position(|l| l.contains(&c)).map(|i| i + 1);
        post.cover = Some(
            store_media(base, &c, media_dir)
                .map_err(|reason| ImportFileError::Bad(FileError { line, reason }))?,
        );
    }

    let mut tx = db.begin().await.map_err(ContentError::from)?;
    let saved = repo::save(tx.conn(), &post, now).await?;
    tx.commit().await.map_err(ContentError::from)?;
    Ok(saved)
}

fn is_relative(url: &str) -> bool {
    !(url.is_empty()
        || url.starts_with('/')
        || url.starts_with('#')
        || url.contains("://")
        || url.starts_with("data:"))
}

/// Copies `base/rel` into the media folder; returns its site URL (`/media/NAME`). The name keeps the
/// original stem for readability and adds a hash of the bytes, so the same image imported twice (or
/// exported and imported again) lands on the same name.
fn store_media(base: &Path, rel: &str, media_dir: &Path) -> Result<String, String> {
    let decoded = percent_decode(rel);
    let src = base.join(&decoded);
    let ext = src
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !IMAGE_EXTS.contains(&ext.as_str()) {
        return Err(format!(
            "image {rel:?} is not one of {}",
            IMAGE_EXTS.join(", ")
        ));
    }
    let bytes = fs::read(&src)
        .map_err(|e| format!("image {rel:?} cannot be read ({}): {e}", src.display()))?;
    let hash = hex::encode(&Sha256::digest(&bytes)[..6]);
    let stem = src
        .file_stem()
        .and_then(|s| s.to_str())
        .map(crate::model::slugify)
        .unwrap_or_default();
    let stem = stem.strip_suffix(&format!("-{hash}")).unwrap_or(&stem);
    let stem = if stem.is_empty() { "image" } else { stem };
    let name = format!("{stem}-{hash}.{ext}");
    fs::create_dir_all(media_dir)
        .map_err(|e| format!("cannot create {}: {e}", media_dir.display()))?;
    let dest = media_dir.join(&name);
    if !dest.exists() {
        let tmp = media_dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, &bytes)
            .and_then(|_| fs::rename(&tmp, &dest))
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    }
    Ok(format!("/media/{name}"))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
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
        let Some(mut post) = repo::load(db, &lang, &slug, false).await? else {
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

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("my%20chart.png"), "my chart.png");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%é%"), "%é%");
    }
}
