//! The Azure Monitor activity log of the subscription
//! (`GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values`,
//! api-version 2015-04-01): where Azure reports a Spot VM eviction, as an
//! event whose operation is `Microsoft.Compute/virtualMachines/evictSpotVM/action`
//! (what public eviction runbooks and the scale-set variant,
//! `virtualMachineScaleSets/evictSpotVM/action`, show; the instance view of
//! an evicted VM says only that it is deallocated).
//!
//! The face's log holds the power actions callers made through it (start,
//! deallocate, powerOff) and the evictions of the model's reclaims, each
//! kept an hour (Azure keeps 90 days). `$filter` takes the patterns the
//! operation's reference allows and nothing else: `eventTimestamp ge 'T'`
//! (required), optionally `and eventTimestamp le 'T'`, and at most one of
//! `resourceGroupName`, `resourceUri`, `resourceProvider`, `correlationId`
//! `eq 'VALUE'`, joined by `and`.

use std::collections::VecDeque;
use std::time::Duration;

use time::OffsetDateTime;

use super::*;

/// The api-versions of the activity log.
const VERSIONS: &[&str] = &["2015-04-01"];

/// The operation of a Spot VM eviction.
pub(super) const EVICT: &str = "Microsoft.Compute/virtualMachines/evictSpotVM/action";

/// The operation of a start.
pub(super) const START: &str = "Microsoft.Compute/virtualMachines/start/action";

/// How long the face keeps an event.
const KEPT: Duration = Duration::from_secs(3600);

/// One event of the log.
#[derive(Debug, Clone)]
pub(super) struct Event {
    at: OffsetDateTime,
    operation: String,
    sub: String,
    group: String,
    /// The resource's id.
    resource: String,
    caller: String,
    /// The model's id of the VM.
    vm: String,
    /// For a start, the model's number of it: a start that failed after
    /// acceptance ends `Failed`.
    start: u32,
}

/// The power actions callers made through the face.
#[derive(Debug, Default)]
pub(crate) struct ActivityLog {
    events: Mutex<VecDeque<Event>>,
}

impl ActivityLog {
    /// Logs that a caller's `operation` on VM `record` succeeded now.
    pub(super) fn record(&self, now: OffsetDateTime, operation: &str, record: &InstanceRecord) {
        let mut events = lock(&self.events);
        while events.front().is_some_and(|e| now - e.at > KEPT) {
            events.pop_front();
        }
        events.push_back(Event {
            start: record.starts,
            ..event_of(now, operation, &record.id, &record.attributes, "caller")
        });
    }
}

fn event_of(
    at: OffsetDateTime,
    operation: &str,
    name: &str,
    attributes: &Attributes,
    caller: &str,
) -> Event {
    let get = |k: &str| attributes.get(k).cloned().unwrap_or_default();
    let (sub, group) = (get(attr::SUBSCRIPTION), get(attr::GROUP));
    Event {
        at,
        operation: operation.to_owned(),
        resource: resource_id(&sub, &group, VMS, name),
        sub,
        group,
        caller: caller.to_owned(),
        vm: name.to_owned(),
        start: 0,
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LogParams {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

/// What a `$filter` asks for.
#[derive(Debug, Default, PartialEq)]
struct LogQuery {
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    /// `(field, value)`: the one scope the filter names, if any.
    scope: Option<(String, String)>,
}

fn bad_filter(why: &str) -> ArmError {
    ArmError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!(
            "The $filter is invalid: {why}. Only eventTimestamp ge/le and one of resourceGroupName, resourceUri, resourceProvider or correlationId eq are allowed."
        ),
    )
}

fn parse_filter(text: &str) -> Result<LogQuery, ArmError> {
    let mut query = LogQuery::default();
    for clause in split_and(text) {
        let mut parts = clause.trim().splitn(3, ' ');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_filter(&format!("cannot read {clause:?}")));
        };
        let value = value
            .trim()
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(|| bad_filter("values are quoted with '"))?;
        match (field, op.to_ascii_lowercase().as_str()) {
            ("eventTimestamp", "ge" | "le") => {
                let at = OffsetDateTime::parse(value, &Rfc3339)
                    .map_err(|_| bad_filter(&format!("{value:?} is not a time")))?;
                if op.eq_ignore_ascii_case("ge") {
                    query.from = Some(at);
                } else {
                    query.to = Some(at);
                }
            }
            ("resourceGroupName" | "resourceUri" | "resourceProvider" | "correlationId", "eq")
                if query.scope.is_none() =>
            {
                query.scope = Some((field.to_owned(), value.to_owned()));
            }
            _ => return Err(bad_filter(&format!("{clause:?} is not allowed"))),
        }
    }
    if query.from.is_none() {
        return Err(bad_filter("the start time (eventTimestamp ge) is required"));
    }
    Ok(query)
}

/// The clauses of a filter joined by ` and ` (any case), quotes respected.
fn split_and(text: &str) -> Vec<&str> {
    let mut clauses = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted
            && text
                .get(i..i + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case(" and "))
        {
            clauses.push(&text[start..i]);
            start = i + 5;
            i += 5;
            continue;
        }
        i += 1;
    }
    clauses.push(&text[start..]);
    clauses
}

impl LogQuery {
    fn admits(&self, e: &Event) -> bool {
        let in_time =
            self.from.is_none_or(|from| e.at >= from) && self.to.is_none_or(|to| e.at <= to);
        in_time
            && match &self.scope {
                None => true,
                Some((field, value)) => match field.as_str() {
                    "resourceGroupName" => e.group.eq_ignore_ascii_case(value),
                    "resourceUri" => e.resource.eq_ignore_ascii_case(value),
                    "resourceProvider" => value.eq_ignore_ascii_case("Microsoft.Compute"),
                    _ => false,
                },
            }
    }
}

/// `activityLogs.list`: the events of the subscription the filter admits,
/// oldest first, in one page.
pub(super) async fn list_activity(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    Query(q): axum::extract::Query<LogParams>,
    headers: HeaderMap,
) -> Response {
    answer((|| {
        check_auth(&headers)?;
        let version = Params {
            api_version: q.api_version.clone(),
            expand: None,
            status_only: None,
            filter: None,
            skip_token: None,
        };
        version.check(VERSIONS)?;
        let query = parse_filter(q.filter.as_deref().unwrap_or_default())?;
        let evictions = state.cloud.reclaims().into_iter().filter_map(|r| {
            r.attributes.get(attr::GROUP)?;
            Some(event_of(
                r.at,
                EVICT,
                &r.id,
                &r.attributes,
                "Microsoft.Compute",
            ))
        });
        let mut events: Vec<Event> = lock(&state.arm().activity.events)
            .iter()
            .cloned()
            .chain(evictions)
            .filter(|e| e.sub == sub && query.admits(e))
            .collect();
        events.sort_by_key(|e| e.at);
        let value: Vec<Value> = events
            .iter()
            .map(|e| {
                let failed =
                    e.operation == START && state.cloud.failed_start(&e.vm, e.start).is_some();
                event_json(e, if failed { "Failed" } else { "Succeeded" })
            })
            .collect();
        Ok(Json(json!({ "value": value })).into_response())
    })())
}

/// The event's JSON, its operation ended with `status`.
fn event_json(e: &Event, status: &str) -> Value {
    let at = e.at.format(&Rfc3339).unwrap_or_default();
    let ticks = e.at.unix_timestamp_nanos() / 100;
    let id = request_id();
    json!({
        "authorization": {"action": e.operation, "scope": e.resource},
        "caller": e.caller,
        "channels": "Operation",
        "correlationId": id,
        "eventDataId": id,
        "eventName": {"value": "EndRequest", "localizedValue": "End request"},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "id": format!("{}/events/{id}/ticks/{ticks}", e.resource),
        "level": "Informational",
        "operationId": id,
        "operationName": {"value": e.operation, "localizedValue": e.operation},
        "resourceGroupName": e.group,
        "resourceProviderName": {"value": "Microsoft.Compute", "localizedValue": "Microsoft.Compute"},
        "resourceType": {"value": VMS, "localizedValue": VMS},
        "resourceId": e.resource,
        "status": {"value": status, "localizedValue": status},
        "subStatus": {"value": "", "localizedValue": ""},
        "eventTimestamp": at,
        "submissionTimestamp": at,
        "subscriptionId": e.sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_the_documented_patterns_only() {
        let q = parse_filter(
            "eventTimestamp ge '2026-11-26T00:00:00Z' and eventTimestamp le '2026-11-27T00:00:00Z' and resourceUri eq '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/a and b'",
        )
        .unwrap();
        assert_eq!(
            q.scope,
            Some((
                "resourceUri".to_owned(),
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/a and b".to_owned()
            ))
        );
        assert!(q.from.is_some() && q.to.is_some());
        for bad in [
            "",
            "resourceGroupName eq 'g'",
            "eventTimestamp ge 'yesterday'",
            "eventTimestamp ge '2026-11-26T00:00:00Z' and status eq 'Succeeded'",
            "eventTimestamp ge '2026-11-26T00:00:00Z' and resourceGroupName eq 'g' and resourceUri eq 'x'",
            "eventTimestamp ge 2026-11-26T00:00:00Z",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
