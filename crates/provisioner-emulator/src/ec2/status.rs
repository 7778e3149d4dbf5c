//! DescribeInstanceStatus: each instance's state and its two status checks
//! (system and instance reachability). Running instances only, unless
//! `IncludeAllInstances=true`; checks `initializing` while an instance
//! boots, `ok` once it runs, `not-applicable` when it does not run.

use super::*;

/// The most instance ids one DescribeInstanceStatus may name.
const MAX_STATUS_IDS: usize = 100;

/// The two checks of an instance in `state`.
fn check_status(state: CloudInstanceState) -> (&'static str, &'static str) {
    match state {
        CloudInstanceState::Running => ("ok", "passed"),
        CloudInstanceState::Pending => ("initializing", "initializing"),
        _ => ("not-applicable", "not-applicable"),
    }
}

pub(super) async fn describe_instance_status(
    state: &AppState,
    params: &Params,
    request_id: &str,
) -> Outcome {
    let asked = ids_or_page(params)?;
    // The reference: "Maximum 100 explicitly specified instance IDs"; EC2
    // answers more with this 400 (its own wording, typo included, as SDK
    // users have quoted it).
    if asked.0.len() > MAX_STATUS_IDS {
        return Err(WireError::bad_request(
            "InvalidRequest",
            format!(
                "{} exceeds the maximum number of instance IDs that can be specificied ({MAX_STATUS_IDS}). Please specify fewer than {MAX_STATUS_IDS} instance IDs.",
                asked.0.len()
            ),
        ));
    }
    // Every id is checked before the other parameters.
    asked.0.iter().try_for_each(|id| check_instance_id(id))?;
    let all = match params.get("IncludeAllInstances") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(invalid(format!("Invalid boolean {other:?}"))),
    };
    let (mut filter, residual) = filters(params)?;
    // Without IncludeAllInstances only running instances are shown: ask the
    // model's index for those alone.
    if !all && filter.states.contains(&CloudInstanceState::Running) {
        filter.states = vec![CloudInstanceState::Running];
    }
    let shown = |r: &InstanceRecord| {
        (all || r.state == CloudInstanceState::Running)
            && filter.matches(&r.config.tags, r.state)
            && residual.iter().all(|f| f.admits(r))
    };
    let (records, next) = described(state, params, asked, &filter, shown).await?;
    Ok(Xml::response(
        "DescribeInstanceStatusResponse",
        request_id,
        |x| {
            x.items("instanceStatusSet", &records, |x, r| {
                let (name, code) = mapping::state(r.state);
                let (status, detail) = check_status(r.state);
                x.leaf("instanceId", &*r.id);
                x.leaf("availabilityZone", ZONE);
                x.elem("instanceState", |x| {
                    x.leaf("code", code);
                    x.leaf("name", name);
                });
                for check in ["systemStatus", "instanceStatus"] {
                    x.elem(check, |x| {
                        x.leaf("status", status);
                        x.items("details", [detail], |x, detail| {
                            x.leaf("name", "reachability");
                            x.leaf("status", detail);
                        });
                    });
                }
                x.elem("eventsSet", |_| {});
            });
            if let Some(next) = next {
                x.leaf("nextToken", format!("page-{next:x}"));
            }
        },
    ))
}
