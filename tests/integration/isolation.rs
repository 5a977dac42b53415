//! Fork mode and process mode must agree on every cell of a real grid:
//! outcome, reason and message, for passes, abi-major failures and crashes.

use crate::common;
use crate::common::{Project, VARIANT_EXTENSION, numpy};

fn cells(run: &common::Run) -> Vec<(String, String, String, String, String)> {
    let mut v: Vec<_> = run.results()["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            (
                s("build"),
                s("runtime"),
                s("outcome"),
                s("reason"),
                s("message"),
            )
        })
        .collect();
    v.sort();
    v
}

fn both_modes(p: &Project) -> (common::Run, common::Run) {
    let fork = p.run(&["--isolation", "fork"]);
    let process = p.run(&["--isolation", "process"]);
    (fork, process)
}

#[test]
fn fork_and_process_modes_agree_on_a_real_grid() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "{}[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*", "2.4.*"])
        ),
    );
    let (fork, process) = both_modes(&p);
    assert_eq!(fork.code(), Some(0), "{}", fork.dump());
    assert_eq!(process.code(), Some(0), "{}", process.dump());
    let (f, q) = (cells(&fork), cells(&process));
    assert_eq!(f.len(), 6);
    assert_eq!(f, q);
    assert!(f.iter().any(|c| c.3 == "abi-major") && f.iter().any(|c| c.2 == "pass"));
}

#[test]
fn fork_and_process_modes_agree_on_crashes_and_wrong_results() {
    let p = Project::new();
    // Crashes only when built against NumPy 2 (no import_array there).
    p.sample_variant(|c| format!("#include <numpy/numpyconfig.h>\n#if NPY_ABI_VERSION >= 0x02000000\n#define ABIMATRIX_SKIP_IMPORT_ARRAY 1\n#endif\n{c}"));
    p.write(
        "ext/probe.py",
        &format!(
            "{}\nassert not np.__version__.startswith('1.'), 'wrong answer on purpose under 1.x'\n",
            common::SAMPLE_PROBE
        ),
    );
    p.write(
        "matrix.toml",
        &format!(
            "{}{VARIANT_EXTENSION}[[expect]]\noutcome = \"crash\"\nbuild = \">=2\"\n[[expect]]\nbuild = \"<2\"\noutcome = \"fail\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let (fork, process) = both_modes(&p);
    assert_eq!(
        cells(&fork),
        cells(&process),
        "{}\n{}",
        fork.dump(),
        process.dump()
    );
    let b2 = fork.resolved("build", "2.0.*");
    let crash = fork.cell_at(0, &b2, &fork.resolved("runtime", "2.0.*"));
    assert_eq!(crash["signal_name"], "SIGSEGV", "{crash}");
    assert!(
        crash["traceback"]
            .as_str()
            .unwrap_or("")
            .contains("/ext/probe.py\", line "),
        "{crash}"
    );
    let wrong = fork.cell("1.26.*", "1.26.*");
    assert_eq!(wrong["reason"], "wrong-result", "{wrong}");
}

/// A grid of many runtime columns keeps at most `--jobs` fork servers alive
/// at once (each holds an imported NumPy: tens of MiB), and none outlives
/// its column: every probe counts the live servers of its own run (the
/// children of the same `matrix`, found through /proc) and writes the count.
#[test]
fn fork_servers_live_at_most_jobs_at_once_and_close_with_their_column() {
    let p = Project::new();
    p.sample_variant(|c| c.to_string());
    let counts = p.path("servers.txt");
    p.write(
        "ext/probe.py",
        &format!(
            "import os\n\
             server = os.getppid()\n\
             matrix = int(open(f'/proc/{{server}}/stat').read().rsplit(')', 1)[1].split()[1])\n\
             live = 0\n\
             for pid in filter(str.isdigit, os.listdir('/proc')):\n\
             \x20   try:\n\
             \x20       cmd = open(f'/proc/{{pid}}/cmdline', 'rb').read()\n\
             \x20       ppid = int(open(f'/proc/{{pid}}/stat').read().rsplit(')', 1)[1].split()[1])\n\
             \x20   except OSError:\n\
             \x20       continue\n\
             \x20   if b'abimatrix_forkserver' in cmd and ppid == matrix:\n\
             \x20       live += 1\n\
             open({counts:?}, 'a').write(f'{{live}}\\n')\n",
            counts = counts.display().to_string()
        ),
    );
    p.write(
        "matrix.toml",
        &format!(
            "{}{}",
            numpy(
                &["2.0.*", "2.1.*"],
                &["1.25.*", "1.26.*", "2.0.*", "2.1.*", "2.2.*", "2.3.*"]
            ),
            common::VARIANT_EXTENSION
        ),
    );
    let run = p.run(&["--jobs", "2", "--isolation", "fork"]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let seen: Vec<usize> = std::fs::read_to_string(&counts)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(seen.len(), 12, "every cell counted: {seen:?}");
    assert!(seen.iter().all(|n| (1..=2).contains(n)), "{seen:?}");
}
