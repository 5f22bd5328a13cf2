//! `jarida import wordpress FILE`: moving a site in from another platform, and `jarida redirects`:
//! the old addresses the site answers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use jarida::config::Config;

use jarida_content::Kind;
use jarida_content::moving::{MoveOptions, MoveReport};

#[derive(Subcommand)]
pub enum ImportFrom {
    /// A WordPress export (Tools → Export, "All content"): posts, pages, authors, categories and
    /// tags, featured images, Polylang languages and translations; old links become redirects.
    /// A dry run unless --apply.
    Wordpress {
        /// The export's XML file.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
        /// A copy of the old site's wp-content/uploads folder: images are copied from it.
        #[arg(long, value_name = "DIR")]
        uploads: Option<PathBuf>,
    },
    /// A Ghost export (Settings → Migrate → Export content, JSON): posts and pages, tags, authors,
    /// feature images, members with their newsletter choices (imported as readers with consent
    /// "imported from Ghost on D") and the suppression list. A post tagged #ar is Arabic. A dry
    /// run unless --apply.
    Ghost {
        /// The export's JSON file.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
        /// A copy of the old site's content/images folder: images are copied from it.
        #[arg(long, value_name = "DIR")]
        uploads: Option<PathBuf>,
        /// The old site's address, which Ghost writes as __GHOST_URL__ (https://news.example).
        #[arg(long, value_name = "URL", default_value = "")]
        site_url: String,
    },
    /// A Substack export (Settings → Exports, the zip): posts from posts.csv and their HTML, and
    /// the subscriber list. A dry run unless --apply.
    Substack {
        /// The export's zip file.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

/// What every platform's import takes.
#[derive(clap::Args)]
pub struct Common {
    /// Write. Without it nothing is written and the report says what would be.
    #[arg(long)]
    apply: bool,
    /// A category or tag (by its slug) whose posts are of a kind: --kind news=news --kind
    /// infographics=design. Other categories become tags.
    #[arg(long = "kind", value_name = "SLUG=KIND")]
    kinds: Vec<String>,
    /// The same mapping from a file, one `slug = kind` per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    kinds_file: Option<PathBuf>,
    /// The kind of posts no mapped category or tag names, and of pages.
    #[arg(long, default_value = "report")]
    default_kind: String,
    /// The language of posts that do not say theirs (a WordPress site without Polylang, a Ghost
    /// post without #ar).
    #[arg(long)]
    lang: Option<String>,
    /// Download the images that are neither in --uploads nor on this site from the old site
    /// (when applying). Without it they stay at their old address and the report lists them.
    #[arg(long)]
    fetch_media: bool,
}

#[derive(Subcommand)]
pub enum RedirectsCommand {
    /// Every old address and where it leads.
    List,
    /// Answer OLD (a path of the old site, such as /2024/05/story/) with a permanent redirect to TO
    /// (a path of this site, such as /en/story).
    Add { old: String, to: String },
    /// Stop answering OLD.
    Remove { old: String },
}

fn kind(s: &str, what: &str) -> anyhow::Result<Kind> {
    Kind::parse(s.trim()).with_context(|| {
        format!(
            "{what}: {s:?} is not a kind (report, news or design)",
            s = s.trim()
        )
    })
}

/// The category → kind mapping from `--kind` and `--kinds-file`.
fn kinds(args: &[String], file: Option<&Path>) -> anyhow::Result<HashMap<String, Kind>> {
    let mut out = HashMap::new();
    for a in args {
        let (cat, k) = a
            .split_once('=')
            .with_context(|| format!("--kind {a:?}: write it as CATEGORY=KIND"))?;
        out.insert(cat.trim().to_string(), kind(k, &format!("--kind {a:?}"))?);
    }
    if let Some(f) = file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{}:{}", f.display(), i + 1);
            let (cat, k) = line
                .split_once('=')
                .with_context(|| format!("{at}: write each line as `category = kind`"))?;
            out.insert(cat.trim().to_string(), kind(k, &at)?);
        }
    }
    Ok(out)
}

fn options(c: &Common, uploads: Option<PathBuf>, cfg: &Config) -> anyhow::Result<MoveOptions> {
    let default_lang = match &c.lang {
        Some(l) => jarida_core::Lang::parse(l)
            .with_context(|| format!("--lang {l:?}: the site publishes in en and ar"))?,
        None => cfg.default_lang,
    };
    Ok(MoveOptions {
        apply: c.apply,
        uploads,
        default_lang,
        kinds: kinds(&c.kinds, c.kinds_file.as_deref())?,
        default_kind: kind(&c.default_kind, "--default-kind")?,
        fetch: c.fetch_media.then(fetcher),
    })
}

/// How `--fetch-media` downloads: HTTP(S) GETs with a time limit, at most five redirects, and the
/// size cap of an uploaded image. ureq (blocking) is enough: the import calls it from a blocking
/// thread, one image at a time.
fn fetcher() -> jarida_content::moving::Fetch {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .max_redirects(5)
        .user_agent("jarida (moving in)")
        .build()
        .into();
    std::sync::Arc::new(move |url: &str| {
        let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
        resp.body_mut()
            .with_config()
            .limit(jarida_content::media::MAX_IMAGE_BYTES)
            .read_to_vec()
            .map_err(|e| e.to_string())
    })
}

pub async fn import_from(from: ImportFrom, cfg: &Config) -> anyhow::Result<ExitCode> {
    let (file, opts) = match from {
        ImportFrom::Ghost {
            file,
            common,
            uploads,
            site_url,
        } => {
            let opts = options(&common, uploads, cfg)?;
            return ghost(&file, &opts, &site_url, cfg).await;
        }
        ImportFrom::Substack { file, common } => {
            let opts = options(&common, None, cfg)?;
            return substack(&file, &opts, cfg).await;
        }
        ImportFrom::Wordpress {
            file,
            common,
            uploads,
        } => {
            let opts = options(&common, uploads, cfg)?;
            (file, opts)
        }
    };
    let size = std::fs::metadata(&file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let db = jarida::open(cfg).await?;
    let bar = crate::progress_bar_with("{bar:40} {bytes}/{total_bytes} {wide_msg}");
    if let Some(b) = &bar {
        b.set_length(size);
    }
    let report = jarida_content::moving::import_wordpress(
        &db,
        &file,
        &cfg.media_dir(),
        &opts,
        time::OffsetDateTime::now_utc(),
        |offset| {
            if let Some(b) = &bar {
                b.set_position(offset);
            }
        },
    )
    .await
    .with_context(|| format!("{} was not imported", file.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print_report(&file, "WordPress export", &report, &cfg.data_dir);
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Lines of the "to look at" list printed; the whole list goes to a file beside the data.
const LOOK_PRINTED: usize = 100;

/// Readers from another platform, through the CSV import (which recognizes the layout, checks
/// every address and records consent as "imported from <platform> on D"); in a dry run, counted.
async fn readers(
    db: &jarida_store::Db,
    opts: &MoveOptions,
    name: &str,
    csv: Vec<u8>,
    rows: usize,
) -> anyhow::Result<bool> {
    if !opts.apply {
        println!("readers: {rows} in {name} would be imported (with --apply)");
        return Ok(true);
    }
    let import_opts = jarida_audience::csv_io::ImportOptions {
        confirmed: true,
        default_lang: opts.default_lang.code().to_string(),
        mapping: None,
        confirm_ttl_secs: 0,
        confirmation: None,
    };
    let report = jarida_audience::csv_io::import(
        db,
        csv.as_slice(),
        &import_opts,
        time::OffsetDateTime::now_utc(),
        |_| {},
    )
    .await
    .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    for (line, reason) in &report.errors {
        eprintln!("{name}:{line}: {reason}");
    }
    println!(
        "readers: {} rows ({} layout): {} imported, {} already subscribed, {} suppressed and skipped, {} duplicates, {} errors",
        report.rows,
        report.format,
        report.imported,
        report.existing,
        report.suppressed,
        report.duplicates,
        report.error_count - report.duplicates,
    );
    Ok(report.error_count == report.duplicates)
}

async fn ghost(
    file: &Path,
    opts: &MoveOptions,
    site: &str,
    cfg: &Config,
) -> anyhow::Result<ExitCode> {
    let db = jarida::open(cfg).await?;
    let (report, export) = jarida_content::moving::import_ghost(
        &db,
        file,
        &cfg.media_dir(),
        opts,
        site,
        time::OffsetDateTime::now_utc(),
        |_| {},
    )
    .await
    .with_context(|| format!("{} was not imported", file.display()))?;
    print_report(file, "Ghost export", &report, &cfg.data_dir);
    // Members as Ghost's own members CSV lays them out, so the readers' import reads them as
    // Ghost's (and says so in each consent record).
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["email", "name", "subscribed_to_emails"])?;
    for m in &export.members {
        w.write_record([
            m.email.as_str(),
            m.name.as_deref().unwrap_or(""),
            if m.subscribed() { "true" } else { "false" },
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut ok = report.failed.is_empty();
    if !export.members.is_empty() {
        ok &= readers(
            &db,
            opts,
            "the export's members",
            bytes,
            export.members.len(),
        )
        .await?;
    }
    if !export.suppressions.is_empty() {
        if opts.apply {
            let now = time::OffsetDateTime::now_utc();
            let mut tx = db.begin().await?;
            let mut n = 0;
            for (email, reason) in &export.suppressions {
                let Ok(normalized) = jarida_audience::email::normalize(email) else {
                    continue;
                };
                jarida_audience::subscribers::suppress(
                    tx.conn(),
                    &normalized,
                    &format!("imported from Ghost: {reason}"),
                    now,
                )
                .await?;
                n += 1;
            }
            tx.commit().await?;
            println!("suppressed addresses: {n} added to the suppression list");
        } else {
            println!(
                "suppressed addresses: {} would be added to the suppression list",
                export.suppressions.len()
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn substack(file: &Path, opts: &MoveOptions, cfg: &Config) -> anyhow::Result<ExitCode> {
    let db = jarida::open(cfg).await?;
    let report = jarida_content::moving::import_substack(
        &db,
        file,
        &cfg.media_dir(),
        opts,
        time::OffsetDateTime::now_utc(),
        |_| {},
    )
    .await
    .with_context(|| format!("{} was not imported", file.display()))?;
    print_report(file, "Substack export", &report, &cfg.data_dir);
    let mut ok = report.failed.is_empty();
    if let Some((name, bytes)) =
        jarida_content::moving::substack::subscribers(file).map_err(|e| anyhow::anyhow!("{e}"))?
    {
        let rows = bytes
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            .saturating_sub(1);
        ok &= readers(&db, opts, &name, bytes, rows).await?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(file: &Path, what: &str, report: &MoveReport, data_dir: &Path) {
    if report.applied {
        println!("{what} {}: imported", file.display());
    } else {
        println!(
            "{what} {}: dry run, nothing was written (run again with --apply to import)",
            file.display()
        );
    }
    let width = report.counts.keys().map(|k| k.len()).max().unwrap_or(0);
    for (k, n) in &report.counts {
        println!("  {k:<width$}  {n}");
    }
    if !report.look.is_empty() {
        println!("to look at ({}):", report.look.len());
        for (entry, note) in report.look.iter().take(LOOK_PRINTED) {
            println!("  {entry}: {note}");
        }
        if report.look.len() > LOOK_PRINTED {
            let list: String = report
                .look
                .iter()
                .map(|(entry, note)| format!("{entry}: {note}\n"))
                .collect();
            let at = data_dir.join(format!(
                "import-{}.txt",
                time::OffsetDateTime::now_utc().unix_timestamp()
            ));
            match std::fs::write(&at, list) {
                Ok(()) => println!(
                    "  … and {} more: the whole list is in {}",
                    report.look.len() - LOOK_PRINTED,
                    at.display()
                ),
                Err(e) => eprintln!("cannot write the whole list to {}: {e}", at.display()),
            }
        }
    }
    for e in &report.failed {
        if e.line > 0 {
            eprintln!("{}:{}: {}: {}", file.display(), e.line, e.entry, e.reason);
        } else {
            eprintln!("{}: {}: {}", file.display(), e.entry, e.reason);
        }
    }
    if !report.failed.is_empty() {
        println!(
            "failed: {} (listed above, the rest were imported)",
            report.failed.len()
        );
    }
}

pub async fn redirects(command: RedirectsCommand, cfg: &Config) -> anyhow::Result<ExitCode> {
    use jarida_content::redirects;
    let db = jarida::open(cfg).await?;
    match command {
        RedirectsCommand::List => {
            for r in redirects::list(&db).await? {
                println!("{}\t{}\t{}", r.from_path, r.to_path, r.origin);
            }
        }
        RedirectsCommand::Add { old, to } => {
            let (path, query) = match old.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (old.as_str(), None),
            };
            let key = redirects::key(path, query).with_context(|| {
                format!("{old:?} is not a path (it must start with / and be UTF-8 once decoded)")
            })?;
            redirects::check_target(&to).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut tx = db.begin().await?;
            redirects::put(
                tx.conn(),
                &key,
                &to,
                "editor",
                time::OffsetDateTime::now_utc(),
            )
            .await?;
            tx.commit().await?;
            println!("{key} -> {to}");
        }
        RedirectsCommand::Remove { old } => {
            let (path, query) = match old.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (old.as_str(), None),
            };
            let key =
                redirects::key(path, query).with_context(|| format!("{old:?} is not a path"))?;
            if !redirects::remove(&db, &key).await? {
                eprintln!("no redirect from {key}");
                return Ok(ExitCode::from(1));
            }
            println!("removed {key}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
