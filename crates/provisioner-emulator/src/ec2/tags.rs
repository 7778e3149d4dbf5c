//! CreateTags and DeleteTags on instances: tags added, replaced or removed
//! after launch, re-indexed for filters. Each id is checked before any is
//! changed, as EC2 checks the whole request first.

use super::*;
use provisioner_core::Tags;

/// The instances a tagging request names (`ResourceId.N`), each checked
/// and described before anything changes.
async fn targets(state: &AppState, params: &Params) -> Result<Vec<InstanceRecord>, WireError> {
    let ids = params.strings("ResourceId");
    if ids.is_empty() {
        required(params, "ResourceId.1")?;
    }
    let mut records = Vec::with_capacity(ids.len());
    for id in &ids {
        if !id.starts_with("i-") {
            // Only instances are modelled; other resource types are not served.
            return Err(invalid(format!(
                "This emulator tags instances only: {id:?}"
            )));
        }
        check_instance_id(id)?;
        let record = state
            .cloud
            .describe(id)
            .await
            .map_err(|e| mapping::error(&e))?;
        records.push(record);
    }
    Ok(records)
}

/// Writes `tags` as the instance's tags, keeping everything else it was
/// launched with.
async fn retag(state: &AppState, record: &InstanceRecord, tags: Tags) -> Result<(), WireError> {
    let mut config = (*record.config).clone();
    config.tags = tags;
    state
        .cloud
        .update(&record.id, &config)
        .await
        .map_err(|e| mapping::error(&e))?;
    Ok(())
}

fn answered(root: &str, request_id: &str) -> String {
    Xml::response(root, request_id, |x| x.leaf("return", "true"))
}

pub(super) async fn create_tags(state: &AppState, params: &Params, request_id: &str) -> Outcome {
    let tags: Vec<(String, String)> = params
        .members("Tag")
        .iter()
        .map(|t| {
            let (key, value) = (
                t.get("Key").unwrap_or_default(),
                t.get("Value").unwrap_or_default(),
            );
            check_tag(key, value).map(|()| (key.to_owned(), value.to_owned()))
        })
        .collect::<Result<_, _>>()?;
    if tags.is_empty() {
        required(params, "Tag.1.Key")?;
    }
    let records = targets(state, params).await?;
    let mut updated = Vec::with_capacity(records.len());
    for record in &records {
        let mut merged = record.config.tags.clone();
        merged.extend(tags.iter().cloned());
        check_tag_count(&merged)?;
        updated.push(merged);
    }
    for (record, tags) in records.iter().zip(updated) {
        retag(state, record, tags).await?;
    }
    Ok(answered("CreateTagsResponse", request_id))
}

/// DeleteTags: a tag given with a value is removed only when the value
/// matches; one given without a value is removed whatever its value; no
/// tags at all removes every tag (but `aws:` ones, which are not modelled).
pub(super) async fn delete_tags(state: &AppState, params: &Params, request_id: &str) -> Outcome {
    let wanted = params.members("Tag");
    let records = targets(state, params).await?;
    for record in &records {
        let mut tags = record.config.tags.clone();
        if wanted.is_empty() {
            tags = Tags::new();
        }
        for tag in &wanted {
            let key = tag.get("Key").unwrap_or_default();
            let matches = match tag.get("Value") {
                None => true,
                Some(value) => tags.get(key).map(String::as_str) == Some(value),
            };
            if matches {
                tags.remove(key);
            }
        }
        if tags != record.config.tags {
            retag(state, record, tags).await?;
        }
    }
    Ok(answered("DeleteTagsResponse", request_id))
}
