//! `jarida`: the command line. Every command reads the same configuration.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use jarida::config::{self, ConfigError, Sources};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "jarida",
    version,
    about = "Publishing and newsletters for reader-supported newsrooms"
)]
struct Cli {
    /// Configuration file (default: ./jarida.toml when it exists).
    #[arg(long, global = true, env = "JARIDA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the site (creates ./jarida-data on first start).
    Serve {
        /// Listen on this address instead of the configured one.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Print the effective configuration: every key, its default and where its value came from.
    Config {
        /// Print a jarida.toml with every key at its default instead.
        #[arg(long)]
        print_defaults: bool,
    },
    /// Import a folder of Markdown posts with TOML (+++) or YAML (---) front matter.
    Import { dir: PathBuf },
    /// Export every post to a folder in the format `import` reads.
    Export { dir: PathBuf },
    /// Create or update the database schema, then exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let src = Sources {
        explicit: cli.config.is_some(),
        file: cli
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("jarida.toml")),
    };
    if let Command::Config {
        print_defaults: true,
    } = cli.command
    {
        print!("{}", config::defaults_toml());
        return ExitCode::SUCCESS;
    }
    let cfg = match config::load(&src) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command, &src, cfg)) {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("error: {c}");
                return ExitCode::from(2);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Command, src: &Sources, mut cfg: config::Config) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Config { .. } => {
            print!("{}", config::describe(src)?);
        }
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let listener = tokio::net::TcpListener::bind(&cfg.listen)
                .await
                .with_context(|| format!("cannot listen on {}", cfg.listen))?;
            let running = jarida::start(&cfg, listener).await?;
            println!("Jarida is running at {}/", running.app.cfg.base_url);
            if let Some(url) = &running.setup_url {
                println!("Create the owner account (one-time link): {url}");
            }
            running.task.await??;
        }
        Command::Migrate => {
            jarida::open(&cfg).await?;
            println!("database schema is up to date");
        }
        Command::Import { dir } => {
            let db = jarida::open(&cfg).await?;
            let bar = progress_bar();
            let report = jarida_content::folder::import(
                &db,
                &dir,
                &cfg.media_dir(),
                time::OffsetDateTime::now_utc(),
                |done, total, path| {
                    if let Some(b) = &bar {
                        b.set_length(total as u64);
                        b.set_position(done as u64);
                        b.set_message(path.display().to_string());
                    }
                },
            )
            .await?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            for (path, e) in &report.failed {
                let line = e.line.map(|l| format!(":{l}")).unwrap_or_default();
                eprintln!("{}{line}: {}", dir.join(path).display(), e.reason);
            }
            println!(
                "imported {} new, {} updated, {} unchanged, {} failed",
                report.created,
                report.updated,
                report.unchanged,
                report.failed.len()
            );
            if !report.failed.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Export { dir } => {
            let db = jarida::open(&cfg).await?;
            let n = jarida_content::folder::export(&db, &dir, &cfg.media_dir()).await?;
            println!("exported {n} posts to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}
