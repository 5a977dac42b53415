//! HTML: one self-contained file (inline CSS and a few lines of script, no
//! network), one coloured grid per interpreter; every cell links to its
//! details (reason, expectation, command, stdout, stderr) below the grid.
//! Every piece of text that came from a child process is escaped.

use std::fmt::Write as _;

use super::grid::{counts_text, legend, outcome_text, reason_lines, symbol};
use crate::outcome::OutcomeKind;
use crate::results::Document;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table.grid { border-collapse: collapse; margin: 1em 0; }
.grid th, .grid td { border: 1px solid #ccc; padding: 4px 10px; text-align: center; }
.grid th.row { text-align: right; }
.grid td a { display: block; text-decoration: none; color: inherit; font-size: 18px; }
td.pass { background: #c8f0c8; } td.fail { background: #ffe3a3; } td.crash { background: #e8b3f0; }
td.timeout { background: #ffd0a0; } td.build-failed { background: #f5c6a5; } td.unavailable { background: #eee; color: #999; }
td.unexpected { outline: 3px solid #d00; outline-offset: -3px; font-weight: bold; }
details { margin: 4px 0; border: 1px solid #ddd; padding: 4px 8px; }
details:target, details[open] { background: #fafafa; }
pre { white-space: pre-wrap; background: #f4f4f4; padding: 6px; max-height: 30em; overflow: auto; }
.legend, .muted { color: #666; }
"#;

const SCRIPT: &str = r#"
function openTarget() { var d = document.getElementById(location.hash.slice(1)); if (d && d.tagName === 'DETAILS') { d.open = true; } }
window.addEventListener('hashchange', openTarget); window.addEventListener('load', openTarget);
"#;

fn class_of(kind: OutcomeKind) -> &'static str {
    kind.as_str()
}

pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    let extension = escape(doc.extension.as_deref().unwrap_or("extension"));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>abimatrix: {extension}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\n<h1>abimatrix: {extension}</h1>\n<p>{}</p>\n",
        escape(&counts_text(doc))
    );
    for (index, grid) in doc.grids.iter().enumerate() {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&grid.interpreter.label));
        let _ = write!(
            out,
            "<table class=\"grid\" id=\"grid-{index}\"><tr><th>{}</th>",
            super::grid::corner(doc)
        );
        for r in &grid.axes.runtime {
            let _ = write!(out, "<th>{}</th>", escape(r.label()));
        }
        out.push_str("</tr>\n");
        for b in &grid.axes.build {
            let _ = write!(out, "<tr><th class=\"row\">{}</th>", escape(b.label()));
            for r in &grid.axes.runtime {
                match doc
                    .cells
                    .iter()
                    .position(|c| c.grid == index && c.build == b.label() && c.runtime == r.label())
                {
                    Some(i) => {
                        let c = &doc.cells[i];
                        let unexpected = if c.met { "" } else { " unexpected" };
                        let marker = if c.met { "" } else { "!" };
                        let _ = write!(
                            out,
                            "<td class=\"{}{unexpected}\" title=\"{}\"><a href=\"#cell-{i}\">{}{marker}</a></td>",
                            class_of(c.outcome),
                            escape(&format!(
                                "{}: {}",
                                c.pair(),
                                outcome_text(c.outcome, c.reason)
                            )),
                            symbol(c.outcome)
                        );
                    }
                    None => out.push_str("<td>?</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        let _ = writeln!(out, "<p class=\"legend\">{}</p>", escape(&legend()));
        out.push_str("<ul>\n");
        for line in reason_lines(doc, index) {
            let _ = writeln!(
                out,
                "<li>{} <b>{}</b> ({}): {}<br><span class=\"muted\">{}</span></li>",
                symbol(line.kind),
                escape(&line.name),
                escape(&line.count_text()),
                escape(&line.message),
                escape(&line.cells_text(usize::MAX))
            );
        }
        out.push_str("</ul>\n<h3>Cells</h3>\n");
        for (i, c) in doc
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.grid == index)
        {
            let _ = write!(
                out,
                "<details id=\"cell-{i}\"><summary>{} {}: {}{}</summary>\n<p>{}</p>\n<p class=\"muted\">expected {} by {} · {:.3}s · {}</p>\n",
                symbol(c.outcome),
                escape(&c.pair()),
                escape(&outcome_text(c.outcome, c.reason)),
                if c.met { "" } else { " (unexpected)" },
                escape(&c.message),
                escape(&outcome_text(c.expected.outcome, c.expected.reason)),
                escape(&c.expected.rule()),
                c.duration_s,
                escape(&c.platform)
            );
            if let Some(cmd) = &c.command {
                let _ = writeln!(out, "<p>command:</p><pre>{}</pre>", escape(cmd));
            }
            if let Some(hint) = &c.hint {
                let _ = writeln!(out, "<p><b>hint:</b> {}</p>", escape(hint));
            }
            if let Some(tb) = &c.traceback {
                let _ = writeln!(out, "<p>traceback:</p><pre>{}</pre>", escape(tb));
            }
            for (name, text) in [("stdout", &c.stdout), ("stderr", &c.stderr)] {
                if !text.is_empty() {
                    let _ = writeln!(out, "<p>{name}:</p><pre>{}</pre>", escape(text));
                }
            }
            out.push_str("</details>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_a_child_could_write() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}
