//! The `--json` results file: the [`Document`] itself, pretty-printed.

use crate::results::Document;

pub fn render(doc: &Document) -> String {
    doc.to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn every_outcome() {
        insta::assert_snapshot!(render(&fixtures::every_outcome()));
    }

    #[test]
    fn an_interrupted_run() {
        insta::assert_snapshot!(render(&fixtures::interrupted()));
    }
}
