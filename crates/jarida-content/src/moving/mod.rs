//! Moving in from another platform: a newsroom's archive, authors, images and old links, read
//! from its export and saved as this site's posts. Each platform's reader (`wordpress`) makes
//! [`Entry`]s; this module saves them: a dry run by default (every entry saved inside a
//! transaction that is then rolled back, so the counts are exactly what `--apply` will do), the
//! same item always becoming the same post (`imported_items`), images copied from a local copy of
//! the old site's uploads, and each old address kept as a redirect. Owns `imported_items`.

pub mod ghost;
pub mod html;
pub mod substack;
pub mod wordpress;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use jarida_core::Lang;
use jarida_store::{Db, q_exec, q_opt};
use time::OffsetDateTime;

use crate::confined::Confined;
use crate::media::{MAX_IMAGE_BYTES, MediaDir, Pending};
use crate::redirects::{self, Put};
use crate::repo::{self, Saved, reborrow};
use crate::{ContentError, Kind, PostInput, markdown};

/// Downloads an image from the old site: its bytes, or why not. Given by the program (this crate
/// does no networking) and called on a blocking thread.
pub type Fetch = std::sync::Arc<dyn Fn(&str) -> Result<Vec<u8>, String> + Send + Sync>;

/// How an export is imported.
#[derive(Clone)]
pub struct MoveOptions {
    /// Write (otherwise a dry run).
    pub apply: bool,
    /// A local copy of the old site's uploads (WordPress's `wp-content/uploads`), images matched
    /// by their path below it.
    pub uploads: Option<PathBuf>,
    /// The language of items that do not say theirs.
    pub default_lang: Lang,
    /// Category (by its slug) → kind; other categories become tags.
    pub kinds: HashMap<String, Kind>,
    pub default_kind: Kind,
    /// Images neither in `uploads` nor on this site are downloaded with it (`--fetch-media`),
    /// when applying; a dry run counts them.
    pub fetch: Option<Fetch>,
}

impl std::fmt::Debug for MoveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoveOptions")
            .field("apply", &self.apply)
            .field("uploads", &self.uploads)
            .field("default_lang", &self.default_lang)
            .field("kinds", &self.kinds)
            .field("default_kind", &self.default_kind)
            .field("fetch", &self.fetch.is_some())
            .finish()
    }
}

/// One item of an export, made into a post.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Names the item across imports: platform, site and id.
    pub origin: String,
    /// How the report names it ("post 12 \"Title\"").
    pub label: String,
    /// Where it is in the export: a byte offset or a line, as the platform's `locate` reads it.
    pub line_offset: u64,
    pub is_page: bool,
    pub input: PostInput,
    /// The old site's paths for it (`/2024/05/x/`, `/?p=12`).
    pub old_paths: Vec<String>,
    /// What a person should look at.
    pub notes: Vec<String>,
}

/// An item that could not be imported: which, where, why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{entry} (line {line}): {reason}")]
pub struct EntryError {
    pub entry: String,
    pub line: u64,
    pub reason: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct MoveReport {
    pub applied: bool,
    /// Counts per kind of object and outcome ("posts created", "redirects unchanged", …).
    pub counts: BTreeMap<String, u64>,
    pub failed: Vec<EntryError>,
    /// (entry, what to look at).
    pub look: Vec<(String, String)>,
}

impl MoveReport {
    fn add(&mut self, key: impl Into<String>, n: u64) {
        *self.counts.entry(key.into()).or_default() += n;
    }

    pub fn count(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }
}

/// The images of an old site, read from a local copy of its uploads folder.
struct Uploads {
    dir: Confined,
    /// Where the platform keeps uploads in its addresses (`/wp-content/uploads/`).
    marker: &'static str,
    /// Old address → media address, for images already read in this run.
    seen: HashMap<String, String>,
}

/// The part of an image's address below the uploads folder (`2024/05/x.jpg`), the folder being
/// `marker` in the platform's addresses.
fn uploads_rel(url: &str, marker: &str) -> Option<String> {
    let i = url.find(marker)?;
    let rest = &url[i + marker.len()..];
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!decoded.is_empty()).then_some(decoded)
}

/// WordPress's resized copies are named `x-1024x768.jpg`, Ghost's are under `size/w600/`: the
/// original is the one to keep, since this site makes its own sizes from it.
fn original_of(rel: &str) -> Option<String> {
    if let Some(rest) = rel.strip_prefix("size/")
        && let Some((_, original)) = rest.split_once('/')
    {
        return Some(original.to_string());
    }
    let (stem, ext) = rel.rsplit_once('.')?;
    let (base, size) = stem.rsplit_once('-')?;
    let (w, h) = size.split_once('x')?;
    (!w.is_empty()
        && !h.is_empty()
        && w.bytes().all(|b| b.is_ascii_digit())
        && h.bytes().all(|b| b.is_ascii_digit()))
    .then(|| format!("{base}.{ext}"))
}

impl Uploads {
    /// The image at `url` from the uploads copy: `Ok(None)` when it is not an uploads address or
    /// the file is not there.
    fn read(&mut self, url: &str) -> Result<Option<(String, Option<Pending>)>, String> {
        if let Some(known) = self.seen.get(url) {
            return Ok(Some((known.clone(), None)));
        }
        let Some(rel) = uploads_rel(url, self.marker) else {
            return Ok(None);
        };
        let mut candidates: Vec<String> = original_of(&rel).into_iter().collect();
        candidates.push(rel);
        for c in candidates {
            let Ok(resolved) = self.dir.resolve(Path::new(""), &c) else {
                continue;
            };
            let Ok(bytes) = self.dir.read_rel(&resolved, &c, MAX_IMAGE_BYTES) else {
                continue;
            };
            let name = Path::new(&c)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("image");
            let img = Pending::image(name, bytes).map_err(|e| format!("image {c:?} {e}"))?;
            let media = img.url();
            self.seen.insert(url.to_string(), media.clone());
            return Ok(Some((media, Some(img))));
        }
        Ok(None)
    }
}

/// Where an import finds images: the uploads copy, then the old site itself.
struct Images {
    uploads: Option<Uploads>,
    fetch: Option<Fetch>,
    marker: &'static str,
    /// Old address → media address, for images downloaded in this run.
    fetched: HashMap<String, String>,
}

/// What [`Images::find`] found for an address.
enum Found {
    /// This site's address for it, the image to write unless written already in this run, and
    /// whether it was downloaded.
    Here(String, Option<Pending>, bool),
    /// Not found; the reason when a download failed.
    Missing(Option<String>),
    /// To be downloaded when the import is applied (a dry run).
    ToFetch,
}

impl Images {
    async fn find(&mut self, url: &str, apply: bool) -> Result<Found, String> {
        if let Some(u) = self.uploads.as_mut()
            && let Some((to, img)) = u.read(url)?
        {
            return Ok(Found::Here(to, img, false));
        }
        let Some(fetch) = self.fetch.clone() else {
            return Ok(Found::Missing(None));
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Ok(Found::Missing(None));
        }
        if let Some(known) = self.fetched.get(url) {
            return Ok(Found::Here(known.clone(), None, true));
        }
        if !apply {
            return Ok(Found::ToFetch);
        }
        // The original before a resized copy (`x-1024x768.jpg`): this site makes its own sizes.
        let mut tries = Vec::new();
        if let Some(rel) = uploads_rel(url, self.marker)
            && let Some(original) = original_of(&rel)
            && let Some(i) = url.find(self.marker)
        {
            tries.push(format!("{}{}{original}", &url[..i], self.marker));
        }
        tries.push(url.to_string());
        let mut why = String::new();
        for t in tries {
            let f = fetch.clone();
            let at = t.clone();
            let got = tokio::task::spawn_blocking(move || f(&at))
                .await
                .map_err(|e| e.to_string())?;
            let bytes = match got {
                Ok(b) => b,
                Err(e) => {
                    why = format!("{t}: {e}");
                    continue;
                }
            };
            let name = t
                .split(['?', '#'])
                .next()
                .and_then(|p| p.rsplit('/').next())
                .filter(|n| !n.is_empty())
                .unwrap_or("image")
                .to_string();
            match Pending::image(&name, bytes) {
                Ok(img) => {
                    let to = img.url();
                    self.fetched.insert(url.to_string(), to.clone());
                    return Ok(Found::Here(to, Some(img), true));
                }
                Err(e) => why = format!("{t}: not an image this site takes ({e})"),
            }
        }
        Ok(Found::Missing(Some(why)))
    }
}

/// Points every reference to `from` in a body at `to`.
fn rewrite(md: &str, from: &str, to: &str) -> String {
    md.replace(&format!("]({from}"), &format!("]({to}"))
        .replace(&format!("](<{from}>"), &format!("](<{to}>"))
}

/// Links to the old site's pages (`](https://old.example/2024/05/x/)`) as paths of this site,
/// which the old addresses' redirects answer. Its uploads stay as they are: they are images to
/// copy, or to leave where they are.
fn local_links(md: &str, base: &str, uploads: &str) -> String {
    let needle = format!("]({base}/");
    let mut out = String::with_capacity(md.len());
    let mut rest = md;
    while let Some(i) = rest.find(&needle) {
        let after = &rest[i + needle.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with(uploads) {
            out.push_str(&needle);
        } else {
            out.push_str("](/");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Which platform an export is from: its name in the report and the redirects, and where its
/// addresses keep uploaded images.
struct Platform {
    name: &'static str,
    uploads: &'static str,
    /// The export, and how a failed entry's position in it becomes a line.
    file: PathBuf,
    locate: fn(&Path, u64) -> u64,
}

/// Reads an export with `read` on a thread of its own (it is synchronous and CPU-bound: XML and
/// HTML) while the entries it plans are saved here, at most 64 waiting between the two.
async fn run(
    db: &Db,
    media_dir: &Path,
    opts: &MoveOptions,
    now: OffsetDateTime,
    platform: Platform,
    read: impl FnOnce(&tokio::sync::mpsc::Sender<Msg>) -> Result<(), String> + Send + 'static,
    mut progress: impl FnMut(u64),
) -> Result<MoveReport, ContentError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(64);
    let reader = tokio::task::spawn_blocking(move || {
        let r = read(&tx);
        if let Err(e) = r {
            let _ = tx.blocking_send(Msg::Fatal(e));
        }
    });
    let uploads = match &opts.uploads {
        Some(dir) => Some(Uploads {
            dir: Confined::new(dir).map_err(|e| ContentError::Folder {
                path: dir.clone(),
                reason: e.to_string(),
            })?,
            seen: HashMap::new(),
            marker: platform.uploads,
        }),
        None => None,
    };
    let mut images = Images {
        uploads,
        fetch: opts.fetch.clone(),
        marker: platform.uploads,
        fetched: HashMap::new(),
    };
    let media = MediaDir::new(media_dir);
    let mut report = MoveReport {
        applied: opts.apply,
        ..Default::default()
    };
    let mut used: HashSet<(Lang, String)> = HashSet::new();
    let mut redirected: HashSet<String> = HashSet::new();
    let mut fatal = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Entry(entry, offset) => {
                let label = entry.label.clone();
                let line_offset = entry.line_offset;
                match save(
                    db,
                    *entry,
                    &media,
                    &mut images,
                    opts,
                    now,
                    platform.name,
                    &mut used,
                    &mut report,
                )
                .await
                {
                    Ok(()) => {}
                    Err(SaveError::Bad(reason)) => report.failed.push(EntryError {
                        entry: label,
                        line: (platform.locate)(&platform.file, line_offset),
                        reason,
                    }),
                    Err(SaveError::Store(e)) => return Err(e),
                }
                progress(offset);
            }
            Msg::Redirects(list) => {
                for (from, to) in list {
                    let Some(key) = redirects::key(&from, None) else {
                        continue;
                    };
                    if !redirected.insert(key.clone()) {
                        continue;
                    }
                    let mut tx = db.begin().await?;
                    let put = redirects::put(tx.conn(), &key, &to, platform.name, now).await?;
                    if opts.apply {
                        tx.commit().await?;
                    }
                    report.add(redirect_count(put), 1);
                }
            }
            Msg::Skipped(what) => report.add(format!("skipped: {what}"), 1),
            Msg::Failed(e) => report.failed.push(e),
            Msg::Count(key, n) => report.add(key, n),
            Msg::Fatal(e) => fatal = Some(e),
        }
    }
    reader
        .await
        .map_err(|e| ContentError::Export(format!("the export's reader stopped: {e}")))?;
    if let Some(reason) = fatal {
        return Err(ContentError::Export(reason));
    }
    Ok(report)
}

fn redirect_count(put: Put) -> &'static str {
    match put {
        Put::Created => "redirects created",
        Put::Updated => "redirects updated",
        Put::Unchanged => "redirects unchanged",
    }
}

/// What the reading thread sends.
enum Msg {
    /// An entry, and how far into the file it ends.
    Entry(Box<Entry>, u64),
    /// (old path, new path) pairs for listings (categories, tags).
    Redirects(Vec<(String, String)>),
    Skipped(String),
    Failed(EntryError),
    /// A count for the report.
    Count(String, u64),
    /// The file cannot be read on: the import stops with this.
    Fatal(String),
}

enum SaveError {
    Bad(String),
    Store(ContentError),
}

impl From<ContentError> for SaveError {
    fn from(e: ContentError) -> Self {
        match e {
            ContentError::Invalid { field, reason } => SaveError::Bad(format!("{field}: {reason}")),
            e => SaveError::Store(e),
        }
    }
}

impl From<jarida_store::StoreError> for SaveError {
    fn from(e: jarida_store::StoreError) -> Self {
        SaveError::Store(e.into())
    }
}

/// A slug for a new post: the wanted one, or with `-2`, `-3`… when another post has it.
async fn free_slug(
    c: &mut jarida_store::Conn<'_>,
    lang: Lang,
    wanted: &str,
    used: &HashSet<(Lang, String)>,
) -> Result<String, SaveError> {
    for n in 1..1000 {
        let slug = if n == 1 {
            wanted.to_string()
        } else {
            format!("{wanted}-{n}")
        };
        let taken: Option<(i64,)> = q_opt!(
            reborrow(c),
            (i64,),
            "SELECT id FROM posts WHERE lang = $1 AND slug = $2",
            lang.code(),
            &slug
        )?;
        if taken.is_none() && !used.contains(&(lang, slug.clone())) {
            return Ok(slug);
        }
    }
    Err(SaveError::Bad(format!("no free slug near {wanted:?}")))
}

/// Saves one entry in its own transaction (rolled back in a dry run): the post, which item it
/// came from, its redirects and its images.
#[allow(clippy::too_many_arguments)]
async fn save(
    db: &Db,
    mut entry: Entry,
    media: &MediaDir,
    sources: &mut Images,
    opts: &MoveOptions,
    now: OffsetDateTime,
    source: &str,
    used: &mut HashSet<(Lang, String)>,
    report: &mut MoveReport,
) -> Result<(), SaveError> {
    let what = if entry.is_page { "pages" } else { "posts" };
    // Images: from the uploads copy when it has them, else downloaded (`--fetch-media`), else
    // left at their old address.
    let mut images: Vec<Pending> = Vec::new();
    let mut urls = markdown::image_urls(&entry.input.body_md);
    urls.extend(entry.input.cover.clone());
    let mut copied = 0;
    let mut to_fetch = 0;
    let mut fetched = 0;
    let mut remote = Vec::new();
    let mut done: HashSet<String> = HashSet::new();
    for url in urls {
        let ours = url.starts_with("/media/");
        if ours || !(url.starts_with("http") || url.starts_with('/')) || !done.insert(url.clone()) {
            continue;
        }
        match sources
            .find(&url, opts.apply)
            .await
            .map_err(SaveError::Bad)?
        {
            Found::Here(to, img, downloaded) => {
                entry.input.body_md = rewrite(&entry.input.body_md, &url, &to);
                if entry.input.cover.as_deref() == Some(url.as_str()) {
                    entry.input.cover = Some(to);
                }
                images.extend(img);
                if downloaded {
                    fetched += 1;
                } else {
                    copied += 1;
                }
            }
            Found::ToFetch => to_fetch += 1,
            Found::Missing(why) => {
                if let Some(why) = why {
                    entry
                        .notes
                        .push(format!("image could not be downloaded: {why}"));
                }
                remote.push(url);
            }
        }
    }
    for url in &remote {
        entry
            .notes
            .push(format!("image left at its old address: {url}"));
    }

    let mut tx = db.begin().await.map_err(ContentError::from)?;
    let mut c = tx.conn();
    let known: Option<(String, String)> = q_opt!(
        reborrow(&mut c),
        (String, String),
        "SELECT p.lang, p.slug FROM imported_items i JOIN posts p ON p.id = i.post_id WHERE i.origin = $1",
        &entry.origin
    )?;
    match known {
        Some((lang, slug)) if lang == entry.input.lang.code() => entry.input.slug = slug,
        _ => {
            let slug = free_slug(&mut c, entry.input.lang, &entry.input.slug, used).await?;
            if slug != entry.input.slug {
                entry.notes.push(format!(
                    "slug {:?} was taken: saved as {slug:?}",
                    entry.input.slug
                ));
                entry.input.slug = slug;
            }
        }
    }
    used.insert((entry.input.lang, entry.input.slug.clone()));
    let saved = repo::save(reborrow(&mut c), &entry.input, now).await?;
    q_exec!(
        reborrow(&mut c),
        "INSERT INTO imported_items (origin, post_id) VALUES ($1, $2) \
         ON CONFLICT (origin) DO UPDATE SET post_id = excluded.post_id",
        &entry.origin,
        saved.id()
    )?;
    let to = format!("/{}/{}", entry.input.lang.code(), entry.input.slug);
    let mut puts = Vec::new();
    let mut keys = HashSet::new();
    for old in &entry.old_paths {
        let (path, query) = match old.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (old.as_str(), None),
        };
        let Some(key) = redirects::key(path, query) else {
            continue;
        };
        // The old address may be the new one (a site that kept `/en/slug`): nothing to do.
        if key == to || key == "/" || !keys.insert(key.clone()) {
            continue;
        }
        puts.push(redirects::put(reborrow(&mut c), &key, &to, source, now).await?);
    }
    let created = if opts.apply {
        media.write_all(&images).map_err(SaveError::Bad)?
    } else {
        Vec::new()
    };
    if opts.apply
        && let Err(e) = tx.commit().await
    {
        crate::media::remove(&created);
        return Err(SaveError::Store(e.into()));
    }
    report.add(
        format!(
            "{what} {}",
            match saved {
                Saved::Created(_) => "created",
                Saved::Updated(_) => "updated",
                Saved::Unchanged(_) => "unchanged",
            }
        ),
        1,
    );
    match entry.input.status {
        crate::Status::Draft => report.add("drafts among them", 1),
        crate::Status::Scheduled => report.add("scheduled among them", 1),
        crate::Status::Published => {}
    }
    for p in puts {
        report.add(redirect_count(p), 1);
    }
    report.add("images copied", copied);
    if fetched > 0 {
        report.add("images downloaded", fetched);
    }
    if to_fetch > 0 {
        report.add("images to download when applied", to_fetch);
    }
    report.add("images left at their old address", remote.len() as u64);
    for n in entry.notes {
        report.look.push((entry.label.clone(), n));
    }
    Ok(())
}

/// Imports a WordPress export (WXR). See [`wordpress`] for what is read.
pub async fn import_wordpress(
    db: &Db,
    file: &Path,
    media_dir: &Path,
    opts: &MoveOptions,
    now: OffsetDateTime,
    progress: impl FnMut(u64),
) -> Result<MoveReport, ContentError> {
    let path = file.to_path_buf();
    let plan_opts = opts.clone();
    run(
        db,
        media_dir,
        opts,
        now,
        Platform {
            name: "wordpress",
            uploads: "/wp-content/uploads/",
            file: file.to_path_buf(),
            locate: wordpress::line_at,
        },
        move |tx| {
            // First pass: what items refer to (authors, attachments), wherever they are in the file.
            let mut channel = wordpress::Channel::default();
            wordpress::read(&path, &mut channel, |_, _| {}).map_err(|e| e.to_string())?;
            let base = channel.base_url.trim_end_matches('/').to_string();
            let _ = tx.blocking_send(Msg::Count("authors".into(), channel.authors.len() as u64));
            let mut second = wordpress::Channel::default();
            let mut closed = false;
            wordpress::read(&path, &mut second, |item, _| {
                if closed {
                    return;
                }
                let offset = item.offset;
                let listings = if item.post_type == "post" && item.status == "publish" {
                    let lang = item
                        .terms
                        .iter()
                        .find(|(d, _, _)| d == "language")
                        .and_then(|(_, n, _)| Lang::parse(n.split(['-', '_']).next().unwrap_or(n)))
                        .unwrap_or(plan_opts.default_lang);
                    wordpress::taxonomy_paths(&item, &plan_opts, lang)
                } else {
                    Vec::new()
                };
                let msg = match wordpress::plan(item, &channel, &plan_opts, &path) {
                    wordpress::Planned::Entry(mut e) => {
                        // Links to the old site's own pages become paths of this one, which the
                        // redirects then answer.
                        if !base.is_empty() {
                            e.input.body_md = local_links(&e.input.body_md, &base, "wp-content/");
                        }
                        Msg::Entry(e, offset)
                    }
                    wordpress::Planned::Skipped(what) => Msg::Skipped(what),
                    wordpress::Planned::Failed(e) => Msg::Failed(e),
                };
                if tx.blocking_send(msg).is_err()
                    || (!listings.is_empty() && tx.blocking_send(Msg::Redirects(listings)).is_err())
                {
                    // The saving side stopped (a database error): read no further.
                    closed = true;
                }
            })
            .map_err(|e| e.to_string())
        },
        progress,
    )
    .await
}

/// Imports a Ghost export (JSON). The members it holds, and its suppression list, are returned for
/// the readers' import. `site` is the old site's address (for `__GHOST_URL__`).
pub async fn import_ghost(
    db: &Db,
    file: &Path,
    media_dir: &Path,
    opts: &MoveOptions,
    site: &str,
    now: OffsetDateTime,
    progress: impl FnMut(u64),
) -> Result<(MoveReport, ghost::Export), ContentError> {
    let path = file.to_path_buf();
    let first = path.clone();
    let export = tokio::task::spawn_blocking(move || ghost::read(&first))
        .await
        .map_err(|e| ContentError::Export(format!("the export's reader stopped: {e}")))?
        .map_err(ContentError::Export)?;
    let export = std::sync::Arc::new(export);
    let shared = export.clone();
    let plan_opts = opts.clone();
    let site = site.trim_end_matches('/').to_string();
    let report = run(
        db,
        media_dir,
        opts,
        now,
        Platform {
            name: "ghost",
            uploads: "/content/images/",
            file: file.to_path_buf(),
            locate: |_, line| line,
        },
        move |tx| {
            let mut i = 0u64;
            ghost::each_post(&path, &mut |post| {
                i += 1;
                let lang = ghost::lang_of(&shared, &post, plan_opts.default_lang);
                let msg = match ghost::plan(&shared, &post, &plan_opts, &site) {
                    Ok(Some(mut e)) => {
                        if let Some(kind) = ghost::kind_of(&shared, &post, &plan_opts) {
                            e.input.kind = kind;
                        }
                        if !site.is_empty() {
                            e.input.body_md = local_links(&e.input.body_md, &site, "content/");
                        }
                        Msg::Entry(Box::new(e), i)
                    }
                    Ok(None) => return true,
                    Err(e) => Msg::Failed(e),
                };
                if tx.blocking_send(msg).is_err() {
                    return false;
                }
                if post.status.as_deref() == Some("published") {
                    let listings = ghost::listing_paths(&shared, &post, lang, &plan_opts);
                    if !listings.is_empty() && tx.blocking_send(Msg::Redirects(listings)).is_err() {
                        return false;
                    }
                }
                true
            })
        },
        progress,
    )
    .await?;
    let export = std::sync::Arc::try_unwrap(export).unwrap_or_default();
    Ok((report, export))
}

/// Imports a Substack export (the zip). Its subscriber list is read by the readers' import
/// ([`substack::subscribers`]).
pub async fn import_substack(
    db: &Db,
    file: &Path,
    media_dir: &Path,
    opts: &MoveOptions,
    now: OffsetDateTime,
    progress: impl FnMut(u64),
) -> Result<MoveReport, ContentError> {
    let path = file.to_path_buf();
    let plan_opts = opts.clone();
    run(
        db,
        media_dir,
        opts,
        now,
        Platform {
            name: "substack",
            // Substack's images are on its own servers, never in a folder of the export.
            uploads: "/substack-has-no-uploads-folder/",
            file: file.to_path_buf(),
            locate: |_, line| line,
        },
        move |tx| {
            let mut n = 0u64;
            let mut closed = false;
            substack::read(&path, &plan_opts, |planned| {
                if closed {
                    return;
                }
                n += 1;
                let msg = match planned {
                    substack::Planned::Entry(e) => Msg::Entry(e, n),
                    substack::Planned::Failed(e) => Msg::Failed(e),
                };
                closed = tx.blocking_send(msg).is_err();
            })
        },
        progress,
    )
    .await
}
