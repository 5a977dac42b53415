//! HTML: one self-contained file (inline CSS and a few lines of script, no
//! network), one coloured grid per interpreter; every cell links to its
//! details (reason, expectation, command, stdout, stderr) below the grid.
//! Every piece of text that came from a child process is escaped.
//!
//! Colour says what matters first: green passed, pale amber did not pass
//! but was expected not to, red was not what was expected (whatever it
//! was); the glyph says which outcome. The glyphs are in DejaVu Sans, the
//! font Chromium falls back to on a bare Linux machine. The page says when
//! the run was, of which commit, with which abimatrix, and which release
//! each requested version resolved to. Under each grid, the answer: the
//! runtime range each build works on, and the oldest build each runtime runs.

use std::fmt::Write as _;

use super::wording::{
    cell_outcome, counts_text, legend, outcome_text, reason_lines, rule_line, symbol, verdict_text,
};
use crate::outcome::OutcomeKind;
use crate::results::Document;
use crate::results::answer;
use crate::results::document::{AxisDoc, CellDoc, GridDoc};

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
    // The page printed into a CI log is read for commands too.
    super::sanitize::no_commands(&out, &ENTITIES).into_owned()
}

/// `:` and `[` as character references: what HTML and XML readers decode.
pub(super) const ENTITIES: super::sanitize::Escapes = super::sanitize::Escapes {
    colon: "&#58;",
    bracket: "&#91;",
};

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 80em; overflow-wrap: anywhere; }
table.grid { border-collapse: collapse; margin: 1em 0; }
.grid th, .grid td { border: 1px solid #ccc; padding: 4px 10px; text-align: center; }
.grid th { max-width: 14em; overflow-wrap: anywhere; }
.grid th.row { text-align: right; }
.grid td a { display: block; text-decoration: none; color: inherit; font-size: 18px; }
td.pass { background: #c8f0c8; }
td.expected { background: #fff1c2; color: #6b5200; }
td.unavailable { background: #eee; color: #999; }
td.unexpected { background: #d93025; color: #fff; font-weight: bold; }
td.absent { color: #999; }
.swatch { display: inline-block; width: 1em; height: 1em; vertical-align: middle; border: 1px solid #ccc; }
.verdict.bad { color: #d93025; font-weight: bold; } .verdict.good { color: #1e7b1e; }
table.versions { border-collapse: collapse; margin: .5em 0 1em; font-size: 13px; }
.versions th, .versions td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; overflow-wrap: anywhere; }
details { margin: 4px 0; border: 1px solid #ddd; padding: 4px 8px; overflow-wrap: anywhere; }
details:target, details[open] { background: #fafafa; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f4f4; padding: 6px; max-height: 30em; overflow: auto; }
.legend, .muted { color: #666; }
"#;

const SCRIPT: &str = r#"
function openTarget() { var d = document.getElementById(location.hash.slice(1)); if (d && d.tagName === 'DETAILS') { d.open = true; } }
window.addEventListener('hashchange', openTarget); window.addEventListener('load', openTarget);
"#;

/// The cell's colour class: what it means, not which outcome it was.
fn class_of(c: &CellDoc) -> &'static str {
    match (c.met, c.outcome) {
        (false, _) => "unexpected",
        (true, OutcomeKind::Pass) => "pass",
        (true, OutcomeKind::Unavailable) => "unavailable",
        (true, _) => "expected",
    }
}

pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    let extension = escape(doc.extension.as_deref().unwrap_or("extension"));
    let judged = crate::results::Tally::of(doc);
    let verdict = verdict_text(doc, &judged);
    let good = !judged.fails();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>abimatrix: {extension}: {}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\n<h1>abimatrix: {extension}</h1>\n<p class=\"summary\">{} · <span class=\"verdict {}\">{}</span></p>\n",
        escape(&verdict),
        escape(&counts_text(doc)),
        if good { "good" } else { "bad" },
        escape(&verdict)
    );
    write_provenance(&mut out, doc);
    let _ = writeln!(
        out,
        "<p class=\"legend\"><span class=\"swatch\" style=\"background:#c8f0c8\"></span> passed · <span class=\"swatch\" style=\"background:#fff1c2\"></span> did not pass, as expected · <span class=\"swatch\" style=\"background:#d93025\"></span> not what was expected · <span class=\"swatch\" style=\"background:#eee\"></span> unavailable</p>"
    );
    let shared = answer::across_pythons(doc);
    if !shared.is_empty() {
        out.push_str("<h2>The answer across Pythons</h2>\n<ul class=\"answer\">\n");
        for row in &shared {
            let _ = writeln!(out, "<li>{}</li>", escape(&row.to_string()));
        }
        out.push_str("</ul>\n");
    }
    let mut findings = judged.findings().peekable();
    if findings.peek().is_some() {
        out.push_str("<h2>Declared vs measured</h2>\n<ul class=\"declared\">\n");
        for f in findings {
            let _ = writeln!(
                out,
                "<li>{}<br><span class=\"muted\">{}</span></li>",
                escape(&f.text()),
                escape(&rule_line(f))
            );
        }
        out.push_str("</ul>\n");
    }
    for (index, grid) in doc.grids.iter().enumerate() {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&grid.interpreter.label));
        if let Some(note) = super::wording::builds_only(doc, index) {
            let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(note));
            continue;
        }
        write_grid(&mut out, doc, index, grid);
        write_versions(&mut out, grid);
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
        out.push_str("</ul>\n");
        let answer = answer::of_grid(doc, index);
        if !answer.rows.is_empty() {
            match super::wording::answer_scope(doc) {
                Some(scope) => {
                    let _ = writeln!(
                        out,
                        "<h3>The answer, {}</h3>\n<ul class=\"answer\">",
                        escape(&scope)
                    );
                }
                None => out.push_str("<h3>The answer</h3>\n<ul class=\"answer\">\n"),
            }
            for line in answer.lines() {
                let _ = writeln!(out, "<li>{}</li>", escape(&line));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("<h3>Cells</h3>\n");
        for (i, c) in doc
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.grid == index)
        {
            write_details(&mut out, i, c);
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// When, of what, by what: the run's date, the commit, the tool.
fn write_provenance(out: &mut String, doc: &Document) {
    let mut parts = Vec::new();
    if let Some(date) = &doc.date {
        parts.push(format!(
            "run <time datetime=\"{0}\">{0}</time>",
            escape(date)
        ));
    }
    if let Some(commit) = &doc.commit {
        parts.push(format!(
            "commit <code class=\"commit\">{}</code>",
            escape(commit)
        ));
    }
    parts.push(format!(
        "abimatrix <span class=\"version\">{}</span>",
        escape(&doc.abimatrix_version)
    ));
    if let Some(shard) = &doc.shard {
        parts.push(format!("shard {}", escape(shard)));
    }
    if let Some(installer) = &doc.installer {
        parts.push(format!("environments by {}", escape(installer)));
    }
    let _ = writeln!(
        out,
        "<p class=\"muted provenance\">{}</p>",
        parts.join(" · ")
    );
}

fn write_grid(out: &mut String, doc: &Document, index: usize, grid: &GridDoc) {
    let _ = write!(
        out,
        "<table class=\"grid\" id=\"grid-{index}\"><tr><th>{}</th>",
        super::wording::corner(doc)
    );
    for r in &grid.axes.runtime {
        let _ = write!(out, "<th>{}</th>", escape(r.label()));
    }
    out.push_str("</tr>\n");
    for b in &grid.axes.build {
        let _ = write!(
            out,
            "<tr><th class=\"row\">{}</th>",
            escape(&super::wording::row_title(doc, grid, b.label()))
        );
        for r in &grid.axes.runtime {
            match doc
                .cells
                .iter()
                .position(|c| c.grid == index && c.build == b.label() && c.runtime == r.label())
            {
                Some(i) => {
                    let c = &doc.cells[i];
                    let marker = if c.met { "" } else { "!" };
                    let _ = write!(
                        out,
                        "<td class=\"{} {}\" title=\"{}\"><a href=\"#cell-{i}\">{}{marker}</a></td>",
                        class_of(c),
                        c.outcome.as_str(),
                        escape(&format!(
                            "{}: {}{}",
                            c.pair(),
                            cell_outcome(c),
                            if c.met { "" } else { " (unexpected)" }
                        )),
                        symbol(c.outcome)
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<td class=\"absent\">{}</td>",
                        super::wording::absent_symbol(doc)
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    let _ = writeln!(
        out,
        "<p class=\"legend\">{}</p>",
        escape(&legend(doc, index))
    );
}

/// What each request resolved to, per axis.
fn write_versions(out: &mut String, grid: &GridDoc) {
    out.push_str(
        "<table class=\"versions\"><tr><th>axis</th><th>requested</th><th>resolved</th></tr>\n",
    );
    let mut row = |axis: &str, a: &AxisDoc| {
        let resolved = match (&a.version, &a.unavailable) {
            (Some(v), _) => escape(v.as_str()),
            (None, Some(why)) => format!("<span class=\"muted\">none: {}</span>", escape(why)),
            (None, None) => escape(a.label()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{axis}</td><td>{}</td><td>{resolved}</td></tr>",
            escape(&a.request)
        );
    };
    for a in &grid.axes.build {
        row("build", a);
    }
    for a in &grid.axes.runtime {
        row("runtime", a);
    }
    out.push_str("</table>\n");
    for note in super::wording::axis_notes(grid) {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(&note));
    }
    if !grid.skipped.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">no wheel for this interpreter: {}</p>",
            escape(&grid.skipped.join(", "))
        );
    }
}

fn write_details(out: &mut String, i: usize, c: &CellDoc) {
    let _ = write!(
        out,
        "<details id=\"cell-{i}\"><summary>{} {}: {}{}</summary>\n<p>{}</p>\n<p class=\"muted\">expected {} by {} · {:.3}s · {}</p>\n",
        symbol(c.outcome),
        escape(&c.pair()),
        escape(&cell_outcome(c)),
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
