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
            .contains("<probe>"),
        "{crash}"
    );
    let wrong = fork.cell("1.26.*", "1.26.*");
    assert_eq!(wrong["reason"], "wrong-result", "{wrong}");
}
