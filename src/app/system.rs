//! The commands about this machine rather than a run: `init` (a starter
//! matrix.toml), `cache` (where it is, what it holds) and `pythons` (every
//! interpreter found and every candidate rejected).

use std::io::Write as _;

use super::{Exit, error, hint};
use crate::cache::{self, Bucket};
use crate::cli::{CacheAction, CacheArgs, InitArgs, PythonsArgs};
use crate::config::STARTER;
use crate::python::{self, SearchRoots, Uv};

pub fn init(args: &InitArgs) -> Exit {
    if args.path.exists() && !args.force {
        error(format_args!("{} already exists", args.path.display()));
        hint("use --force to overwrite it");
        return Exit::Usage;
    }
    if let Err(e) = std::fs::write(&args.path, STARTER) {
        error(format_args!("cannot write {}: {e}", args.path.display()));
        return Exit::Environment;
    }
    println!(
        "wrote {}; run it with: matrix run -c {}",
        args.path.display(),
        args.path.display()
    );
    Exit::Ok
}

pub fn cache(args: &CacheArgs) -> Exit {
    let root = cache::root_in(args.cache_dir.as_deref());
    match args.action {
        CacheAction::Info => {
            println!("cache: {}", root.display());
            for bucket in [Bucket::Envs, Bucket::Builds, Bucket::Tools] {
                let (bytes, entries) = cache::usage(&bucket.dir(&root));
                println!(
                    "  {:<7} {entries:>4} {:<31} {:>9.1} MiB",
                    bucket.name(),
                    bucket.describe(),
                    bytes as f64 / (1024.0 * 1024.0)
                );
            }
            Exit::Ok
        }
        CacheAction::Clean => {
            if !root.exists() {
                println!("nothing to clean at {}", root.display());
                return Exit::Ok;
            }
            match std::fs::remove_dir_all(&root) {
                Ok(()) => {
                    println!("removed {}", root.display());
                    Exit::Ok
                }
                Err(e) => {
                    error(format_args!("cannot remove {}: {e}", root.display()));
                    Exit::Environment
                }
            }
        }
    }
}

pub async fn pythons(args: &PythonsArgs) -> Exit {
    let d = python::discover(&SearchRoots::from_env(Uv::locate())).await;
    if args.json {
        let found: Vec<serde_json::Value> = d
            .found
            .iter()
            .map(|f| {
                serde_json::json!({
                    "version": f.interpreter.version.to_string(),
                    "implementation": f.interpreter.implementation,
                    "machine": f.interpreter.machine,
                    "executable": f.interpreter.executable,
                    "found_at": f.path,
                    "found_in": f.source.to_string(),
                    "can_build": f.interpreter.python_h,
                })
            })
            .collect();
        let rejected: Vec<serde_json::Value> = d
            .rejected
            .iter()
            .map(|r| serde_json::json!({"path": r.path, "found_in": r.source.to_string(), "reason": r.reason}))
            .collect();
        let doc = serde_json::json!({"found": found, "rejected": rejected});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Exit::Ok;
    }
    let bold = anstyle::Style::new().bold();
    let dim = anstyle::Style::new().dimmed();
    let mut out = anstream::stdout();
    let _ = writeln!(
        out,
        "{bold}{:<10} {:<14} {:<8} {:<9} {:<6} path{bold:#}",
        "version", "implementation", "arch", "found in", "build"
    );
    for f in &d.found {
        let i = &f.interpreter;
        let build = if i.python_h { "yes" } else { "no" };
        let place = if f.path == i.executable {
            i.executable.display().to_string()
        } else {
            format!("{} → {}", f.path.display(), i.executable.display())
        };
        let _ = writeln!(
            out,
            "{:<10} {:<14} {:<8} {:<9} {:<6} {place}",
            i.version.to_string(),
            i.implementation,
            i.machine,
            f.source.to_string(),
            build
        );
    }
    if !d.rejected.is_empty() {
        let _ = writeln!(out, "\n{bold}rejected{bold:#}");
        for r in &d.rejected {
            let _ = writeln!(
                out,
                "{} {dim}({}){dim:#}: {}",
                r.path.display(),
                r.source,
                r.reason
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{dim}\"build\": Python.h is present, so extensions can be compiled for it{dim:#}"
    );
    Exit::Ok
}
