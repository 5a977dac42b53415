//! How wide the terminal on standard output is, for what a finished run
//! prints there. A grid of every release is far wider than a terminal, and
//! a wrapped grid reads as noise: on a terminal too narrow for it, the run
//! shows the answer instead ([`crate::report::text::for_terminal`]). A pipe
//! or a file always gets the whole report, whatever its width, so what a
//! script reads never depends on the window it ran in.

use std::io::IsTerminal;

/// The width of the terminal on standard output; `None` when it is not one.
pub fn width() -> Option<usize> {
    width_of(
        std::io::stdout().is_terminal(),
        std::env::var("COLUMNS").ok().as_deref(),
        || terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)),
    )
}

/// `COLUMNS` when it is a positive number (the user's word, as for `ls`),
/// else what the terminal says; nothing at all when not a terminal.
fn width_of(
    terminal: bool,
    columns: Option<&str>,
    detect: impl FnOnce() -> Option<usize>,
) -> Option<usize> {
    if !terminal {
        return None;
    }
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
        .or_else(detect)
}

#[cfg(test)]
mod tests {
    use super::width_of;

    #[test]
    fn a_pipe_has_no_width_whatever_columns_says() {
        assert_eq!(width_of(false, Some("40"), || Some(80)), None);
    }

    #[test]
    fn columns_wins_over_the_terminal_unless_it_is_not_a_width() {
        assert_eq!(width_of(true, Some("40"), || Some(80)), Some(40));
        assert_eq!(width_of(true, Some("wide"), || Some(80)), Some(80));
        assert_eq!(width_of(true, Some("0"), || Some(80)), Some(80));
        assert_eq!(width_of(true, None, || Some(80)), Some(80));
        assert_eq!(width_of(true, None, || None), None);
    }
}
