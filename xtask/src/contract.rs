//! `cargo xtask contract`: the suite on every provider, as a matrix.

use std::fmt::Write as _;
use std::time::Duration;

use provisioner_core::contract::{run_all, Case, ContractReport, Outcome};

use crate::subjects::{self, Against, Subject};
use crate::Which;

/// `cargo xtask contract`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// The provider to run, or all of them.
    #[arg(long = "provider", value_enum, default_value = "all")]
    which: Which,
    /// What the providers run against.
    #[arg(long, value_enum, default_value = "emulator")]
    against: Against,
}

/// What became of one provider.
enum Column {
    Ran(ContractReport),
    /// Not run, and why; not a failure.
    NotRun(String),
}

pub(crate) fn run(options: Options) -> Result<bool, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;
    let mut columns = Vec::new();
    for provider in &options.which.names() {
        let column = runtime.block_on(run_provider(provider, options.against))?;
        columns.push((*provider, column));
    }
    print!("{}", render(&columns));
    Ok(columns
        .iter()
        .all(|(_, c)| !matches!(c, Column::Ran(r) if r.count_failed() > 0)))
}

async fn run_provider(provider: &str, against: Against) -> Result<Column, String> {
    Ok(match subjects::subject(provider, against).await? {
        Subject::Ready(subject) => Column::Ran(run_all(&subject).await),
        Subject::NotRun(why) => Column::NotRun(why),
    })
}

fn cell(outcome: &Outcome, duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    match outcome {
        Outcome::Passed => format!("passed {ms:.1}ms"),
        Outcome::Skipped(_) => "skipped".to_owned(),
        Outcome::Failed(_) => format!("FAILED {ms:.1}ms"),
    }
}

fn render(columns: &[(&str, Column)]) -> String {
    // As wide as the longest case name.
    let case_width = Case::ALL.iter().map(|c| c.name().len()).max().unwrap_or(0);
    const CELL_WIDTH: usize = 16;
    let mut out = String::new();
    let _ = write!(out, "{:<case_width$} {:<6}", "case", "clause");
    for (name, _) in columns {
        let _ = write!(out, " {name:<CELL_WIDTH$}");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    for (row, case) in Case::ALL.iter().enumerate() {
        let _ = write!(out, "{:<case_width$} {:<6}", case.name(), case.clause());
        for (_, column) in columns {
            let text = match column {
                Column::Ran(report) => {
                    let r = &report.cases[row];
                    cell(&r.outcome, r.duration)
                }
                Column::NotRun(_) => "-".to_owned(),
            };
            let _ = write!(out, " {text:<CELL_WIDTH$}");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out.push('\n');
    for (name, column) in columns {
        if let Column::Ran(report) = column {
            for r in &report.cases {
                if r.outcome != Outcome::Passed {
                    let _ = writeln!(out, "{name} {}: {}", r.case.name(), r.outcome);
                }
            }
        }
    }
    for (name, column) in columns {
        let _ = match column {
            Column::Ran(r) => writeln!(
                out,
                "{name}: {} passed, {} failed, {} skipped",
                r.count_passed(),
                r.count_failed(),
                r.count_skipped()
            ),
            Column::NotRun(why) => writeln!(out, "{name}: {why}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        crate::parse_options("contract", args)
    }

    #[test]
    fn options_default_to_every_provider_on_the_emulator() {
        let o = parse(&[]).unwrap();
        assert_eq!(
            (o.which.names(), o.against),
            (vec!["fake", "ec2", "gcp", "azure"], Against::Emulator)
        );
        let o = parse(&["--provider", "ec2", "--against", "moto"]).unwrap();
        assert_eq!((o.which.names(), o.against), (vec!["ec2"], Against::Moto));
        assert!(parse(&["--provider", "aws"]).is_err());
    }

    #[test]
    fn matrix_closes_with_one_count_line_per_provider() {
        let report = ContractReport {
            cases: Case::ALL
                .iter()
                .map(|&case| provisioner_core::contract::CaseReport {
                    case,
                    outcome: if case == Case::LaunchIsIdempotent {
                        Outcome::Skipped("no client tokens".into())
                    } else {
                        Outcome::Passed
                    },
                    duration: Duration::from_millis(3),
                })
                .collect(),
        };
        let text = render(&[
            ("fake", Column::Ran(report)),
            ("gcp", Column::NotRun("not built".into())),
        ]);
        assert!(
            text.contains(&format!(
                "fake: {} passed, 0 failed, 1 skipped",
                Case::ALL.len() - 1
            )),
            "{text}"
        );
        assert!(
            text.contains("fake launch_is_idempotent: skipped (no client tokens)"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("gcp: not built"), "{text}");
    }
}
