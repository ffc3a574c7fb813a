//! Stored state from earlier schema versions, brought to the current one.
//!
//! Terraform stores each resource's state as JSON with the schema version
//! that wrote it, and asks the provider to upgrade it before anything else.
//!
//! Version 0 is the layout of the releases before schema versioning:
//! - per-zone attributes were lists in zone order (`public_subnet_cidrs`,
//!   `private_subnet_cidrs`, `public_subnet_ids`, `private_subnet_ids`,
//!   `nat_gateway_ids`, `nat_public_ips`). Version 1 keys them by zone, so
//!   adding or removing a zone changes only that zone's entries;
//! - the NAT layout was a boolean `single_nat_gateway` (true: one shared NAT
//!   gateway, false: one per zone) where version 1 has `nat_gateways`;
//! - a `bastion` block had no `enabled`: its presence meant a bastion;
//! - `tags_all`, `drift` and `launch_template_version` did not exist.
//!
//! Computed values an upgrade cannot derive are left null; the refresh that
//! follows every upgrade reads them from AWS.

use serde_json::{Map, Value as Json};
use tf_provider::schema::{Block, NestedBlock};
use tf_provider::Diagnostics;

use super::model::EnvironmentState;
use super::schema::{environment_schema, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UpgradeError {
    #[error("the state was written with schema version {0}, by a newer release of this provider than the one running")]
    Newer(i64),
    #[error(
        "the state is in Terraform's pre-0.12 flatmap format, which this provider never wrote"
    )]
    Legacy,
    #[error("the state of schema version {version} is not valid: {reason}")]
    Malformed { version: i64, reason: String },
}

impl UpgradeError {
    pub fn report(&self, diags: &mut Diagnostics) {
        let advice = match self {
            UpgradeError::Newer(_) => "Use the provider release that wrote the state, or a newer one.",
            _ => "The state was not changed. Remove the resource from state (`terraform state rm`) and import it by its name (`terraform import`), which rebuilds its state from AWS.",
        };
        diags.root_error(
            "Cannot upgrade the stored state of prodvpc_environment",
            format!("{self}.\n\n{advice}"),
        );
    }
}

/// Brings `json`, stored with schema `version`, to the current schema.
pub fn upgrade(version: i64, json: &[u8]) -> Result<EnvironmentState, UpgradeError> {
    if version > SCHEMA_VERSION {
        return Err(UpgradeError::Newer(version));
    }
    if json.is_empty() {
        return Err(UpgradeError::Legacy);
    }
    let malformed = |reason: String| UpgradeError::Malformed { version, reason };
    let mut state: Json = serde_json::from_slice(json).map_err(|e| malformed(e.to_string()))?;
    let Json::Object(attributes) = &mut state else {
        return Err(malformed("it is not an object".to_string()));
    };
    if version == 0 {
        from_version_0(attributes).map_err(malformed)?;
    }
    conform(&mut state, &environment_schema().block);
    serde_json::from_value(state).map_err(|e| malformed(e.to_string()))
}

/// The version 0 -> 1 changes listed in the module documentation.
fn from_version_0(state: &mut Map<String, Json>) -> Result<(), String> {
    let zones: Vec<String> = match state.get("availability_zones") {
        Some(Json::Array(zones)) => zones
            .iter()
            .map(|zone| zone.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or("availability_zones holds a value that is not a zone name")?,
        _ => Vec::new(),
    };
    for attribute in [
        "public_subnet_cidrs",
        "private_subnet_cidrs",
        "public_subnet_ids",
        "private_subnet_ids",
    ] {
        if let Some(Json::Array(items)) = state.get(attribute) {
            if items.len() != zones.len() {
                return Err(format!(
                    "{attribute} has {} entries for {} availability zones",
                    items.len(),
                    zones.len()
                ));
            }
            let keyed: Map<String, Json> =
                zones.iter().cloned().zip(items.iter().cloned()).collect();
            state.insert(attribute.to_string(), Json::Object(keyed));
        }
    }
    // Which zone a version 0 NAT gateway sat in is not recorded; refresh reads it.
    for attribute in ["nat_gateway_ids", "nat_public_ips"] {
        state.insert(attribute.to_string(), Json::Null);
    }
    let nat = match state.remove("single_nat_gateway") {
        Some(Json::Bool(true)) => Json::from("single"),
        Some(Json::Bool(false)) => Json::from("one_per_az"),
        _ => Json::Null,
    };
    state.insert("nat_gateways".to_string(), nat);
    if let Some(Json::Array(bastions)) = state.get_mut("bastion") {
        for bastion in bastions.iter_mut().filter_map(Json::as_object_mut) {
            bastion.entry("enabled").or_insert(Json::Bool(true));
        }
    }
    Ok(())
}

/// Shapes `value` to `block`: attributes the schema lacks are dropped, the
/// ones it has and the state lacks become null (as Terraform itself reads a
/// state that predates an attribute).
fn conform(value: &mut Json, block: &Block) {
    let Json::Object(attributes) = value else {
        return;
    };
    attributes
        .retain(|name, _| block.attributes.contains_key(name) || block.blocks.contains_key(name));
    for name in block.attributes.keys() {
        attributes.entry(name.clone()).or_insert(Json::Null);
    }
    for (name, nested) in &block.blocks {
        let inner = match nested {
            NestedBlock::Single(b)
            | NestedBlock::List(b)
            | NestedBlock::Set(b)
            | NestedBlock::Map(b)
            | NestedBlock::Group(b)
            | NestedBlock::Optional(b) => b,
        };
        match attributes.entry(name.clone()).or_insert(Json::Null) {
            Json::Array(items) => items.iter_mut().for_each(|item| conform(item, inner)),
            Json::Object(map) if matches!(nested, NestedBlock::Map(_)) => {
                map.values_mut().for_each(|item| conform(item, inner))
            }
            single @ Json::Object(_) => conform(single, inner),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tf_provider::value::Value;

    fn version_0() -> Json {
        json!({
            "id": "shop",
            "name": "shop",
            "vpc_cidr": "10.20.0.0/16",
            "az_count": 2,
            "availability_zones": ["us-east-1a", "us-east-1b"],
            "single_nat_gateway": true,
            "public_subnet_cidrs": ["10.20.0.0/20", "10.20.16.0/20"],
            "private_subnet_cidrs": ["10.20.128.0/20", "10.20.144.0/20"],
            "public_subnet_ids": ["subnet-a", "subnet-b"],
            "private_subnet_ids": ["subnet-c", "subnet-d"],
            "nat_gateway_ids": ["nat-1"],
            "tags": {"team": "web"},
            "vpc_id": "vpc-1",
            "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop/1/2",
            "app": [{"instance_type": "t3.micro", "port": 8080, "min_size": 2, "max_size": 4,
                     "desired_capacity": 2, "cpu_target": 50, "health_check_path": "/health"}],
            "bastion": [{"instance_type": "t3.nano", "ssh_ingress_cidrs": ["203.0.113.0/24"]}],
            "timeouts": null
        })
    }

    fn upgraded(state: &Json) -> Result<EnvironmentState, UpgradeError> {
        upgrade(0, &serde_json::to_vec(state).unwrap())
    }

    fn keyed(pairs: &[(&str, &str)]) -> Value<std::collections::BTreeMap<String, Value<String>>> {
        super::super::model::string_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn version_0_lists_become_maps_keyed_by_zone() {
        let state = upgraded(&version_0()).unwrap();
        assert_eq!(
            state.public_subnet_cidrs,
            keyed(&[
                ("us-east-1a", "10.20.0.0/20"),
                ("us-east-1b", "10.20.16.0/20")
            ])
        );
        assert_eq!(
            state.private_subnet_ids,
            keyed(&[("us-east-1a", "subnet-c"), ("us-east-1b", "subnet-d")])
        );
        assert_eq!(state.nat_gateway_ids, Value::Null);
    }

    #[test]
    fn version_0_nat_flag_becomes_the_strategy() {
        let mut state = version_0();
        assert_eq!(
            upgraded(&state).unwrap().nat_gateways,
            Value::Value("single".into())
        );
        state["single_nat_gateway"] = json!(false);
        assert_eq!(
            upgraded(&state).unwrap().nat_gateways,
            Value::Value("one_per_az".into())
        );
        state.as_object_mut().unwrap().remove("single_nat_gateway");
        assert_eq!(upgraded(&state).unwrap().nat_gateways, Value::Null);
    }

    #[test]
    fn version_0_bastion_block_means_enabled_and_new_attributes_are_null() {
        let state = upgraded(&version_0()).unwrap();
        let bastion = super::super::model::first(&state.bastion).unwrap();
        assert_eq!(bastion.enabled, Value::Value(true));
        assert_eq!(bastion.key_name, Value::Null);
        assert_eq!(state.tags_all, Value::Null);
        assert_eq!(state.launch_template_version, Value::Null);
        let app = super::super::model::first(&state.app).unwrap();
        assert_eq!(app.port, Value::Value(8080));
        assert_eq!(app.user_data, Value::Null);
    }

    #[test]
    fn version_0_with_mismatched_zone_lists_is_refused_with_the_attribute() {
        let mut state = version_0();
        state["public_subnet_ids"] = json!(["subnet-a"]);
        let error = upgraded(&state).unwrap_err();
        assert_eq!(
            error,
            UpgradeError::Malformed {
                version: 0,
                reason: "public_subnet_ids has 1 entries for 2 availability zones".into()
            }
        );
    }

    #[test]
    fn current_version_passes_through_and_gains_missing_attributes() {
        let current = json!({"id": "shop", "name": "shop", "nat_gateways": "none",
            "public_subnet_cidrs": {"us-east-1a": "10.0.0.0/20"}, "retired": true});
        let state = upgrade(SCHEMA_VERSION, &serde_json::to_vec(&current).unwrap()).unwrap();
        assert_eq!(state.nat_gateways, Value::Value("none".into()));
        assert_eq!(
            state.public_subnet_cidrs,
            keyed(&[("us-east-1a", "10.0.0.0/20")])
        );
        assert_eq!(state.drift, Value::Null);
    }

    #[test]
    fn newer_and_legacy_states_are_refused() {
        assert_eq!(
            upgrade(SCHEMA_VERSION + 1, b"{}").unwrap_err(),
            UpgradeError::Newer(SCHEMA_VERSION + 1)
        );
        assert_eq!(upgrade(0, b"").unwrap_err(), UpgradeError::Legacy);
        assert!(matches!(
            upgrade(0, b"[1]"),
            Err(UpgradeError::Malformed { version: 0, .. })
        ));
        let mut diags = Diagnostics::default();
        UpgradeError::Newer(7).report(&mut diags);
        assert!(diags.errors[0].detail.contains("schema version 7"));
    }
}
