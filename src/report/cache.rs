//! `matrix cache info` and `matrix cache verify`, in words: what
//! `cache::maintain` found or did, one line per fact.

use std::fmt::Write as _;

use crate::cache::maintain::{Info, Verification};

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Where the cache is, each bucket's entries and size, the total (each
/// file once), and what `verify` or the next run would remove.
pub fn info(info: &Info) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cache: {}", info.root.display());
    for b in &info.buckets {
        let _ = writeln!(
            out,
            "  {:<7} {:>4} {:<33} {:>9.1} MiB",
            b.bucket.name(),
            b.entries,
            b.bucket.describe(),
            mib(b.bytes)
        );
    }
    let _ = writeln!(
        out,
        "  {:<7} {:>4} {:<33} {:>9.1} MiB",
        "total",
        "",
        "each file once",
        mib(info.total())
    );
    let (bytes, files) = info.unlinked;
    if files > 0 {
        let _ = writeln!(
            out,
            "  {files} stored files ({:.1} MiB) are linked from no environment: `matrix cache verify` removes them",
            mib(bytes)
        );
    }
    if !info.leftovers.is_empty() {
        let _ = writeln!(
            out,
            "  {} unfinished entries ({:.1} MiB) left by runs that were killed: the next run or `matrix cache verify` removes them",
            info.leftovers.len(),
            mib(info.leftovers.iter().map(|(_, b)| b).sum())
        );
    }
    out
}

/// What `verify` removed and why, in the order it did it, then the counts.
pub fn verification<E: std::fmt::Display>(v: &Verification<E>) -> String {
    let mut out = String::new();
    if !v.swept.is_empty() {
        let _ = writeln!(
            out,
            "removed {} unfinished entries ({:.1} MiB) left by runs that were killed",
            v.swept.len(),
            mib(v.swept.iter().map(|(_, b)| b).sum::<u64>())
        );
    }
    for d in &v.damaged {
        let _ = writeln!(
            out,
            "damaged: {}: {}{}",
            d.dir.display(),
            d.why,
            if d.removed {
                "; removed, the next run makes it again"
            } else {
                "; could not remove it"
            }
        );
    }
    for path in &v.store.damaged {
        let _ = writeln!(
            out,
            "damaged: {}: its content no longer matches its SHA-256; removed, environments linked to it are found damaged above or at their next use",
            path.display()
        );
    }
    let (bytes, unlinked) = v.unlinked;
    if unlinked > 0 {
        let _ = writeln!(
            out,
            "removed {unlinked} stored files ({:.1} MiB) that no environment links to",
            mib(bytes)
        );
    }
    let _ = writeln!(
        out,
        "{} entries checked, {} damaged; {} stored files checked, {} damaged",
        v.checked,
        v.damaged.len(),
        v.store.checked,
        v.store.damaged.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Bucket;
    use crate::cache::maintain::{BucketUsage, Damaged, Fault};
    use crate::cache::store::StoreCheck;

    #[test]
    fn info_and_verification_in_words() {
        let info = Info {
            root: "/c/v2".into(),
            buckets: vec![
                BucketUsage {
                    bucket: Bucket::Store,
                    bytes: 3 * 1024 * 1024,
                    entries: 1200,
                },
                BucketUsage {
                    bucket: Bucket::Envs,
                    bytes: 1024 * 1024,
                    entries: 2,
                },
            ],
            unlinked: (1024 * 1024, 3),
            leftovers: vec![("/c/v2/builds/.staging-1".into(), 2048)],
        };
        let v = Verification {
            swept: vec![("/c/v2/builds/.staging-1".into(), 1024 * 1024)],
            checked: 4,
            damaged: vec![Damaged {
                dir: "/c/v2/envs/py/1.26.4".into(),
                why: Fault::Check("lib/core.so changed since it was made (its SHA-256 differs)"),
                removed: true,
            }],
            store: StoreCheck {
                checked: 10,
                damaged: vec!["/c/v2/store/ab12".into()],
            },
            unlinked: (0, 0),
        };
        insta::assert_snapshot!(
            "cache",
            format!("{}---\n{}", super::info(&info), verification(&v))
        );
    }
}
