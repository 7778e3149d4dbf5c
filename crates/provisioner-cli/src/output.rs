//! What a run prints: a table for people, JSON (`--json`) for scripts.

use std::io::Write;

use provisioner_core::{InstanceInfo, InstanceStatus, Tags};
use time::format_description::well_known::Rfc3339;

/// `value` as pretty JSON, one document.
pub(crate) fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut dyn Write,
    value: &T,
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    writeln!(out, "{text}")
}

fn tags(tags: &Tags) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn ip(ip: Option<std::net::IpAddr>) -> String {
    ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
}

/// Rows under a header, each column as wide as its widest cell.
fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", text.join("  ").trim_end())
    };
    line(
        out,
        &header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>(),
    )?;
    for row in rows {
        line(out, row)?;
    }
    Ok(())
}

pub(crate) fn instances(
    out: &mut dyn Write,
    json: bool,
    list: &[InstanceInfo],
) -> std::io::Result<()> {
    if json {
        return write_json(out, list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.instance_id.clone(),
                i.state.to_string(),
                ip(i.private_ip),
                ip(i.public_ip),
                i.launch_time
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_else(|| "-".to_owned()),
                tags(&i.tags),
            ]
        })
        .collect();
    table(
        out,
        &["ID", "STATE", "PRIVATE IP", "PUBLIC IP", "LAUNCHED", "TAGS"],
        &rows,
    )
}

pub(crate) fn statuses(
    out: &mut dyn Write,
    json: bool,
    list: &[InstanceStatus],
) -> std::io::Result<()> {
    if json {
        return write_json(out, list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let reason = match (&s.launch_failure, &s.state_reason) {
                (Some(failure), _) => format!("launch failed: {}", failure.code),
                (None, Some(reason)) => reason.clone(),
                (None, None) => "-".to_owned(),
            };
            vec![
                s.instance_id.clone(),
                s.state.to_string(),
                ip(s.private_ip),
                ip(s.public_ip),
                reason,
            ]
        })
        .collect();
    table(
        out,
        &["ID", "STATE", "PRIVATE IP", "PUBLIC IP", "REASON"],
        &rows,
    )
}

/// The ids a command changed, one per line (a JSON array with `--json`).
pub(crate) fn ids(out: &mut dyn Write, json: bool, ids: &[String]) -> std::io::Result<()> {
    if json {
        return write_json(out, ids);
    }
    for id in ids {
        writeln!(out, "{id}")?;
    }
    Ok(())
}
