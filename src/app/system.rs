//! The commands about this machine rather than a run: `init` (a starter
//! matrix.toml), `cache` (where it is, what it holds, its maintenance, done
//! by `cache::maintain`) and `pythons` (every interpreter found and every
//! candidate rejected).

use std::io::Write as _;

use super::CommandError;
use super::files::WriteError;
use crate::cache;
use crate::cache::lock::{Access, CacheLock};
use crate::cache::maintain::{self, CacheEntry, Cleaned};
use crate::cache::manifest::Depth;
use crate::cli::{CacheAction, CacheArgs, InitArgs, PythonsArgs};
use crate::config::STARTER;
use crate::python::{self, SearchRoots, Uv};
use crate::report;

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
        CacheAction::Info => print!("{}", report::cache::info(&maintain::info(&root))),
        CacheAction::Verify => {
            let _lock = to_ourselves(&root)?;
            let verified = maintain::verify(&root, |entry| match entry {
                CacheEntry::Environment { dir, numpy } => {
                    crate::environment::valid(dir, numpy, Depth::Deep)
                        .map(drop)
                        .map_err(Stale::Environment)
                }
                CacheEntry::Build { dir } => crate::build::verify_deep(dir).map_err(Stale::Build),
            });
            print!("{}", report::cache::verification(&verified));
            // A CI step sees what was damaged.
            if !verified.intact() {
                return Err(CommandError::Unmet);
            }
        }
        CacheAction::Clean => {
            // Nothing to lock (nor to make a lock file in) when it is not there.
            let _lock = root.exists().then(|| to_ourselves(&root)).transpose()?;
            let cleaned = maintain::clean(&root).map_err(|source| CommandError::Remove {
                path: root.clone(),
                source,
            })?;
            match cleaned {
                Cleaned::Removed => println!("removed {}", root.display()),
                Cleaned::Nothing => println!("nothing to clean at {}", root.display()),
            }
        }
    }
    Ok(())
}

/// Why an entry is damaged, in its owner's words.
#[derive(Debug, thiserror::Error)]
enum Stale {
    #[error(transparent)]
    Environment(crate::environment::StaleEnv),
    #[error(transparent)]
    Build(crate::build::StaleBuild),
}

/// The cache to ourselves for `clean` or `verify`: after the runs using it
/// have finished (said while waiting), and before another starts.
fn to_ourselves(root: &std::path::Path) -> Result<CacheLock, CommandError> {
    let lock = CacheLock::acquire(root, Access::Exclusive, || {
        eprintln!(
            "waiting for the runs using {} to finish (Ctrl-C stops waiting)",
            root.display()
        );
    })?;
    Ok(lock)
}

pub async fn pythons(args: &PythonsArgs) -> Result<(), CommandError> {
    let root = cache::root_in(args.cache_dir.as_deref());
    let memo = crate::cache::memo::Memo::open(
        Some(crate::cache::memo::Memo::path_in(&root)),
        Default::default(),
    );
    let d = python::discover(&SearchRoots::from_env(Uv::locate(&root)), &memo).await;
    let text = if args.json {
        report::pythons::json(&d)
    } else {
        report::pythons::table(&d)
    };
    let _ = write!(anstream::stdout(), "{text}");
    Ok(())
}
