//! The exit statuses `matrix` documents, written once: `--help` prints this
//! table, and every command's ending maps to one of its rows (the mapping
//! is `app::CommandError::exit_status`).

/// How `matrix` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything was as expected.
    Success,
    /// Something was not: a cell, a diagnosed package, a comparison.
    Unexpected,
    /// A mistake in what the user gave: the config, the command line, a
    /// results file.
    Usage,
    /// The machine: no interpreter, no index, a full disk, a file that
    /// cannot be written.
    Environment,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// What each status means, per audience: the grid's commands, and the
/// doctor's (whose "cell" is an installed package).
const TABLE: [(ExitStatus, &str, &str); 5] = [
    (
        ExitStatus::Success,
        "every cell did what matrix.toml expects of it",
        "every installed package that uses NumPy's C API imports",
    ),
    (
        ExitStatus::Unexpected,
        "at least one cell did not (or the run was incomplete)",
        "at least one does not",
    ),
    (
        ExitStatus::Usage,
        "bad matrix.toml or command line",
        "bad command line",
    ),
    (
        ExitStatus::Environment,
        "the environment is broken: no usable interpreter, no package index",
        "the environment is broken: its interpreter does not run, a report cannot be written",
    ),
    (
        ExitStatus::Interrupted,
        "interrupted (results gathered so far are still written)",
        "interrupted",
    ),
];

/// Whose words a help text uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Grid,
    Doctor,
}

impl ExitStatus {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Unexpected => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Environment => 3,
            ExitStatus::Interrupted => 130,
        }
    }
}

/// The "Exit status:" section of `--help`, from [`TABLE`].
pub fn help(audience: Audience) -> String {
    let rows: Vec<String> = TABLE
        .iter()
        .map(|(status, grid, doctor)| {
            let meaning = match audience {
                Audience::Grid => grid,
                Audience::Doctor => doctor,
            };
            format!("  {:<4} {meaning}", status.code())
        })
        .collect();
    format!("Exit status:\n{}", rows.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each status once, in the order of its code.
    #[test]
    fn the_table_lists_every_status_once_in_order() {
        let codes: Vec<u8> = TABLE.iter().map(|(s, _, _)| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 130]);
        assert_eq!(
            help(Audience::Grid).lines().nth(3),
            Some("  2    bad matrix.toml or command line")
        );
        assert_eq!(
            help(Audience::Doctor).lines().last(),
            Some("  130  interrupted")
        );
    }
}
