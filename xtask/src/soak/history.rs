//! The story of a slot that leaked or duplicated: the caller's trace, the
//! cloud's calls and the sweep, merged on the cloud's clock.

use super::*;

/// Everything known of a soak's run, to tell the story of one slot.
pub(super) struct History<'a> {
    pub(super) provider: &'a str,
    /// The cloud's call log (the newest `CALL_LOG` calls).
    pub(super) calls: Vec<provisioner_fake::CallRecord>,
    /// Every call made, to say when the log lost the oldest.
    pub(super) calls_made: u64,
    pub(super) cycles: &'a BTreeMap<String, Cycle>,
    pub(super) sweep: &'a SweepReport,
}

impl History<'_> {
    /// The story of `slot` and its instances `ids`: what the sweep made of
    /// each instance, then one timeline of what the caller did and saw and
    /// the cloud's calls that named the instances.
    pub(super) fn story(&self, slot: &str, ids: &[String]) -> String {
        let mut out = String::new();
        let mut timeline: Vec<(Duration, String)> = Vec::new();
        match self.cycles.get(slot) {
            Some(cycle) => {
                let _ = writeln!(
                    out,
                    "  slot {slot}: the caller learned {:?}; cancelled {}, failed after acceptance {}, {} errors reached it",
                    cycle.id, cycle.cancelled, cycle.failed_after_acceptance, cycle.errors_to_caller
                );
                timeline.extend(cycle.trace.iter().cloned());
            }
            None => {
                let _ = writeln!(out, "  slot {slot}: no cycle of this slot");
            }
        }
        for id in ids {
            let lost = self.sweep.lost.iter().any(|i| &i.instance_id == id);
            let terminated = self.sweep.terminated.contains(id);
            let spared = self.sweep.spared.iter().any(|i| &i.instance_id == id);
            let failed = self
                .sweep
                .failed
                .iter()
                .find(|(i, _)| i == id)
                .map(|(_, e)| e.to_string());
            let _ = writeln!(
                out,
                "  {id}: the sweep found it lost {lost}, terminated it {terminated}, spared it {spared}, its terminate failed {failed:?}"
            );
            timeline.extend(
                self.calls
                    .iter()
                    .filter(|c| c.instance_id.as_deref() == Some(id.as_str()))
                    .map(|c| {
                        let ok = if c.ok { "ok" } else { "failed" };
                        (c.at, format!("cloud: {:?} {id} {ok}", c.op))
                    }),
            );
        }
        let logged = u64::try_from(self.calls.len()).unwrap_or(u64::MAX);
        if logged < self.calls_made {
            let _ = writeln!(
                out,
                "  (the cloud's log holds the last {logged} of {} calls)",
                self.calls_made
            );
        }
        timeline.sort_by_key(|(at, _)| *at);
        for (at, line) in timeline {
            let _ = writeln!(out, "  {:9.3}s {line}", at.as_secs_f64());
        }
        format!("soak {}: history\n{out}", self.provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_story_is_one_timeline_of_caller_and_cloud() {
        let call = |at_ms, op, id: &str, ok| provisioner_fake::CallRecord {
            op,
            instance_id: Some(id.to_owned()),
            at: Duration::from_millis(at_ms),
            ok,
        };
        let cycle = Cycle {
            trace: vec![
                (
                    Duration::from_millis(10),
                    "caller: launch (key k)".to_owned(),
                ),
                (
                    Duration::from_millis(40),
                    "caller: gave up on the launch".to_owned(),
                ),
            ],
            cancelled: true,
            ..Cycle::default()
        };
        let cycles = BTreeMap::from([("7".to_owned(), cycle)]);
        let sweep = SweepReport {
            spared: vec![provisioner_core::InstanceInfo::new(
                "vm-7",
                CloudInstanceState::Running,
            )],
            ..SweepReport::default()
        };
        let history = History {
            provider: "azure",
            calls: vec![
                call(20, Operation::Launch, "vm-7", true),
                call(30, Operation::Describe, "vm-8", true),
                call(50, Operation::Terminate, "vm-7", false),
            ],
            calls_made: 9,
            cycles: &cycles,
            sweep: &sweep,
        };
        let story = history.story("7", &["vm-7".to_owned()]);
        let lines: Vec<&str> = story.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            [
                "soak azure: history",
                "slot 7: the caller learned None; cancelled true, failed after acceptance false, 0 errors reached it",
                "vm-7: the sweep found it lost false, terminated it false, spared it true, its terminate failed None",
                "(the cloud's log holds the last 3 of 9 calls)",
                "0.010s caller: launch (key k)",
                "0.020s cloud: Launch vm-7 ok",
                "0.040s caller: gave up on the launch",
                "0.050s cloud: Terminate vm-7 failed",
            ]
        );
    }
}
