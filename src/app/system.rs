//! The commands about this machine rather than a run: `init` (a starter
//! matrix.toml), `cache` (where it is, what it holds) and `pythons` (every
//! interpreter found and every candidate rejected).

use std::io::Write as _;

use super::CommandError;
use super::files::WriteError;
use crate::cache::lock::{Access, CacheLock};
use crate::cache::manifest::Depth;
use crate::cache::store::Store;
use crate::cache::{self, Bucket};
use crate::cli::{CacheAction, CacheArgs, InitArgs, PythonsArgs};
use crate::config::STARTER;
use crate::python::{self, SearchRoots, Uv};

pub fn init(args: &InitArgs) -> Result<(), CommandError> {
    if args.path.exists() && !args.force {
        return Err(CommandError::Exists(args.path.clone()));
    }
    std::fs::write(&args.path, STARTER).map_err(|source| WriteError {
        path: args.path.clone(),
        source,
    })?;
    println!(
        "wrote {}; run it with: {}",
        args.path.display(),
        run_command(&args.path)
    );
    Ok(())
}

/// How to run the config at `path` from here: plain `matrix run` when it is
/// the one `matrix run` reads anyway (`./matrix.toml`), else with `-c`.
fn run_command(path: &std::path::Path) -> String {
    let here = std::path::absolute("matrix.toml").ok();
    if here.is_some() && std::path::absolute(path).ok() == here {
        "matrix run".to_string()
    } else {
        format!(
            "matrix run -c {}",
            crate::process::quote(&path.to_string_lossy())
        )
    }
}

pub fn cache(args: &CacheArgs) -> Result<(), CommandError> {
    let root = cache::root_in(args.cache_dir.as_deref());
    match args.action {
        CacheAction::Info => {
            println!("cache: {}", root.display());
            // The store first: an environment's line is then what it holds
            // of its own, and the total is what the disk really holds.
            let buckets = [Bucket::Store, Bucket::Envs, Bucket::Builds, Bucket::Tools];
            let dirs: Vec<_> = buckets.iter().map(|b| b.dir(&root)).collect();
            let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
            let found = cache::usage(&dirs);
            for (bucket, (bytes, entries)) in buckets.iter().zip(&found) {
                println!(
                    "  {:<7} {entries:>4} {:<33} {:>9.1} MiB",
                    bucket.name(),
                    bucket.describe(),
                    mib(*bytes)
                );
            }
            let total: u64 = found.iter().map(|(b, _)| b).sum();
            println!(
                "  {:<7} {:>4} {:<33} {:>9.1} MiB",
                "total",
                "",
                "each file once",
                mib(total)
            );
            let (bytes, files) = Store::in_root(&root).unlinked();
            if files > 0 {
                println!(
                    "  {files} stored files ({:.1} MiB) are linked from no environment: `matrix cache verify` removes them",
                    mib(bytes)
                );
            }
            let left = cache::leftovers(&root);
            if !left.is_empty() {
                println!(
                    "  {} unfinished entries ({:.1} MiB) left by runs that were killed: the next run or `matrix cache verify` removes them",
                    left.len(),
                    mib(left.iter().map(|(_, b)| b).sum())
                );
            }
            Ok(())
        }
        CacheAction::Verify => {
            let _lock = maintain(&root)?;
            verify(&root)
        }
        CacheAction::Clean => {
            if !root.exists() {
                println!("nothing to clean at {}", root.display());
                return Ok(());
            }
            let _lock = maintain(&root)?;
            std::fs::remove_dir_all(&root).map_err(|source| CommandError::Remove {
                path: root.clone(),
                source,
            })?;
            println!("removed {}", root.display());
            Ok(())
        }
    }
}

/// The cache to ourselves for `clean` or `verify`: after the runs using it
/// have finished (said while waiting), and before another starts.
fn maintain(root: &std::path::Path) -> Result<CacheLock, CommandError> {
    let lock = CacheLock::acquire(root, Access::Exclusive, || {
        eprintln!(
            "waiting for the runs using {} to finish (Ctrl-C stops waiting)",
            root.display()
        );
    })?;
    Ok(lock)
}

/// `matrix cache verify`: every entry proven by every hash, the damaged
/// ones removed (exit 1 when there were any, so a CI step sees it), and
/// what killed runs left behind removed.
fn verify(root: &std::path::Path) -> Result<(), CommandError> {
    let swept = cache::sweep(root);
    if !swept.is_empty() {
        println!(
            "removed {} unfinished entries ({:.1} MiB) left by runs that were killed",
            swept.len(),
            swept.iter().map(|(_, b)| b).sum::<u64>() as f64 / (1024.0 * 1024.0)
        );
    }
    let mut checked = 0;
    let mut damaged = Vec::new();
    let envs = Bucket::Envs.dir(root);
    for interpreter in std::fs::read_dir(&envs).into_iter().flatten().flatten() {
        for entry in std::fs::read_dir(interpreter.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            checked += 1;
            let verdict = name
                .parse()
                .map_err(|_| format!("{} is not named by a NumPy version", dir.display()))
                .and_then(|v| {
                    crate::environment::valid(&dir, &v, Depth::Deep)
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
            if let Err(why) = verdict {
                damaged.push((dir, why));
            }
        }
    }
    for entry in std::fs::read_dir(Bucket::Builds.dir(root))
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        checked += 1;
        if let Err(why) = crate::build::verify_deep(&entry.path()) {
            damaged.push((entry.path(), why.to_string()));
        }
    }
    for (dir, why) in &damaged {
        let removed = std::fs::remove_dir_all(dir).is_ok();
        println!(
            "damaged: {}: {why}{}",
            dir.display(),
            if removed {
                "; removed, the next run makes it again"
            } else {
                "; could not remove it"
            }
        );
    }
    // After the environments: one removed above leaves its files unlinked.
    let store = Store::in_root(root);
    let stored = store.verify();
    for path in &stored.damaged {
        println!(
            "damaged: {}: its content no longer matches its SHA-256; removed, environments linked to it are found damaged above or at their next use",
            path.display()
        );
    }
    let (bytes, unlinked) = store.remove_unlinked();
    if unlinked > 0 {
        println!(
            "removed {unlinked} stored files ({:.1} MiB) that no environment links to",
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
    println!(
        "{checked} entries checked, {} damaged; {} stored files checked, {} damaged",
        damaged.len(),
        stored.checked,
        stored.damaged.len()
    );
    if damaged.is_empty() && stored.damaged.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Unmet)
    }
}

pub async fn pythons(args: &PythonsArgs) -> Result<(), CommandError> {
    let root = cache::root_in(args.cache_dir.as_deref());
    let memo = crate::cache::memo::Memo::open(
        Some(crate::cache::memo::Memo::path_in(&root)),
        Default::default(),
    );
    let d = python::discover(&SearchRoots::from_env(Uv::locate(&root)), &memo).await;
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
            .map(|r| serde_json::json!({"path": r.path, "found_in": r.source.to_string(), "reason": r.reason.to_string()}))
            .collect();
        let doc = serde_json::json!({"found": found, "rejected": rejected});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(());
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
                crate::report::sanitize::shown(&r.reason.to_string())
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{dim}\"build\": Python.h is present, so extensions can be compiled for it{dim:#}"
    );
    Ok(())
}
