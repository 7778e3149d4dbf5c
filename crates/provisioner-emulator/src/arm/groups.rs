//! Resource groups: PUT, GET and HEAD. Every VM, network interface and
//! public address lives in one, and ARM refuses a resource, or a read, in a
//! group that does not exist (404 `ResourceGroupNotFound`).

use super::*;

const GROUPS: &str = "Microsoft.Resources/resourceGroups";

fn group_id(sub: &str, group: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{group}")
}

fn group_body(sub: &str, group: &str, location: &str, tags: &Value) -> Value {
    json!({
        "id": group_id(sub, group),
        "name": group,
        "type": GROUPS,
        "location": location,
        "tags": tags,
        "properties": {"provisioningState": "Succeeded"},
    })
}

impl ArmState {
    /// Creates (or replaces) a resource group, as a PUT does.
    pub(crate) fn put_group(&self, sub: &str, group: &str, location: &str, tags: &Value) -> bool {
        lock(&self.groups)
            .insert(
                key(&group_id(sub, group)),
                group_body(sub, group, location, tags),
            )
            .is_none()
    }

    /// The id of the group that sorts first, as it was created
    /// (`/subscriptions/S/resourceGroups/G`): where the contract's injector
    /// plants another party's VM.
    #[cfg(feature = "contract")]
    pub(crate) fn first_group_id(&self) -> Option<String> {
        let groups = lock(&self.groups);
        let first = groups.keys().min()?;
        groups[first]["id"].as_str().map(str::to_owned)
    }
}

/// Ok when the group exists; ARM's 404 otherwise.
pub(super) fn require_group(state: &AppState, sub: &str, group: &str) -> Result<(), ArmError> {
    if lock(&state.arm().groups).contains_key(&key(&group_id(sub, group))) {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{group}' could not be found."),
        ))
    }
}

/// Checks the group name as ARM does: 1 to 90 letters, digits, `_`, `-`,
/// `.`, `(` and `)`, not ending in `.`.
fn check_group_name(group: &str) -> Result<(), ArmError> {
    let ok = (1..=90).contains(&group.chars().count())
        && group
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.()".contains(c))
        && !group.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceGroup",
            "The provided resource group name has invalid characters.",
        ))
    }
}

pub(super) async fn put_group(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer((|| {
        check_auth(&headers)?;
        q.check(versions::GROUPS)?;
        check_group_name(&group)?;
        let body: Value = serde_json::from_slice(&body)
            .map_err(|e| ArmError::invalid(format!("The request content was invalid: {e}")))?;
        let location = str_at(&body, "/location").ok_or_else(|| {
            ArmError::new(
                StatusCode::BAD_REQUEST,
                "LocationRequired",
                "The location property is required for this definition.",
            )
        })?;
        let tags = body.get("tags").cloned().unwrap_or_else(|| json!({}));
        if let Some(tags) = tags.as_object() {
            let tags: Tags = tags
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            check_tags(&tags)?;
        }
        let created = state.arm().put_group(&sub, &group, location, &tags);
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((status, Json(group_body(&sub, &group, location, &tags))).into_response())
    })())
}

pub(super) async fn get_group(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer((|| {
        check_in_group(&state, &headers, &q, versions::GROUPS, (&sub, &group))?;
        let body = lock(&state.arm().groups)
            .get(&key(&group_id(&sub, &group)))
            .cloned()
            .unwrap_or_default();
        Ok(Json(body).into_response())
    })())
}

/// `check_existence`: 204 when the group exists, 404 otherwise, no body.
pub(super) async fn head_group(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer((|| {
        check_auth(&headers)?;
        q.check(versions::GROUPS)?;
        Ok(match require_group(&state, &sub, &group) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        })
    })())
}
