//! CreateTags and DeleteTags naming objects the model keeps itself (EC2
//! Instance Connect Endpoints, regional NAT gateways): the tags apply to them
//! here and the other resources of the call pass on to moto, which would
//! refuse the whole call (`InvalidID`) for an `eice-` ID it does not know and
//! would keep a regional gateway's tags where its DescribeNatGateways answer
//! never shows them.

use std::time::Instant;

use aws_sdk_ec2::types::Tag;

use super::instance_connect::{
    dry_run, invalid, members, missing, not_found, refusal_of, request_id, well_formed, NS,
};
use super::world::World;
use super::{Call, Model, Refusal, Verdict};

/// The `<item>`s of a `tagSet` in EC2's XML, for the objects the model keeps.
pub fn tag_set_items(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| {
            format!(
                "<item><key>{}</key><value>{}</value></item>",
                super::xml::escape(k),
                super::xml::escape(v)
            )
        })
        .collect()
}

/// The model's answer to CreateTags or DeleteTags when the call names an
/// object the model keeps.
pub async fn answer(model: &Model, call: &Call) -> Option<Verdict> {
    if call.service != "ec2" || !matches!(call.action.as_str(), "CreateTags" | "DeleteTags") {
        return None;
    }
    let (ours, others): (Vec<String>, Vec<String>) = {
        let state = model.state();
        call.list("ResourceId")
            .into_iter()
            .partition(|id| kept(&state.world, id))
    };
    if ours.is_empty() {
        return None;
    }
    Some(
        tag(model, call, ours, others)
            .await
            .unwrap_or_else(Verdict::Refuse),
    )
}

/// Whether the model keeps the object `id` (an endpoint by its prefix, as
/// moto never knows one; a NAT gateway when the model made it).
fn kept(world: &World, id: &str) -> bool {
    id.starts_with("eice-") || world.regional_nats.contains_key(id)
}

async fn tag(
    model: &Model,
    call: &Call,
    ours: Vec<String>,
    others: Vec<String>,
) -> Result<Verdict, Refusal> {
    let creating = call.action == "CreateTags";
    for id in ours.iter().filter(|id| id.starts_with("eice-")) {
        well_formed(id)?;
    }
    let tags: Vec<(String, Option<String>)> = members(call, "Tag")
        .into_values()
        .map(|mut fields| {
            (
                fields.remove("Key").unwrap_or_default(),
                fields.remove("Value"),
            )
        })
        .collect();
    if creating {
        if tags.is_empty() {
            return Err(missing("Tag"));
        }
        if let Some((key, _)) = tags
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase().starts_with("aws:"))
        {
            return Err(invalid(&format!(
                "Tag key '{key}' is invalid: tag keys starting with 'aws:' are reserved for internal use"
            )));
        }
    }
    {
        let now = Instant::now();
        let state = model.state();
        let known = &state.world.instance_connect_endpoints;
        let unknown: Vec<String> = ours
            .iter()
            .filter(|id| id.starts_with("eice-"))
            .filter(|id| !known.get(id.as_str()).is_some_and(|e| e.listed(now)))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(not_found(&unknown));
        }
    }
    dry_run(call)?;
    if !others.is_empty() {
        let sdk_tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).set_value(v.clone()).build())
            .collect();
        let sdk_tags = (!sdk_tags.is_empty()).then_some(sdk_tags);
        let ec2 = &model.api.ec2;
        let result = if creating {
            ec2.create_tags()
                .set_resources(Some(others))
                .set_tags(sdk_tags)
                .send()
                .await
                .map(|_| ())
                .map_err(refusal_of)
        } else {
            ec2.delete_tags()
                .set_resources(Some(others))
                .set_tags(sdk_tags)
                .send()
                .await
                .map(|_| ())
                .map_err(refusal_of)
        };
        result?;
    }
    let mut state = model.state();
    for id in &ours {
        let Some(kept) = tags_of(&mut state.world, id) else {
            continue;
        };
        if creating {
            for (key, value) in &tags {
                let value = value.clone().unwrap_or_default();
                match kept.iter_mut().find(|(k, _)| k == key) {
                    Some(tag) => tag.1 = value,
                    None => kept.push((key.clone(), value)),
                }
            }
        } else if tags.is_empty() {
            kept.clear();
        } else {
            // a key alone deletes the tag whatever its value; a value, only that value
            kept.retain(|(k, v)| {
                !tags
                    .iter()
                    .any(|(key, value)| key == k && value.as_ref().is_none_or(|value| value == v))
            });
        }
    }
    let action = &call.action;
    Ok(Verdict::Answer(format!(
        "<{action}Response xmlns=\"{NS}\"><requestId>{}</requestId><return>true</return></{action}Response>",
        request_id()
    )))
}

/// The tags of a kept object.
fn tags_of<'w>(world: &'w mut World, id: &str) -> Option<&'w mut Vec<(String, String)>> {
    if let Some(endpoint) = world.instance_connect_endpoints.get_mut(id) {
        return Some(endpoint.tags_mut());
    }
    world.regional_nats.get_mut(id).map(|n| &mut n.tags)
}
