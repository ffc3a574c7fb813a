//! `data "prodvpc_environment"`: an environment read by its name, so that other
//! configurations can use its networks, security groups and load balancer
//! without the remote state of the configuration that manages it.
//!
//! The schema is the resource's, cut down: `name`, then every attribute the
//! resource computes, all read-only, with the resource's own descriptions, so
//! the two cannot drift apart. The nested input blocks (`app`,
//! `load_balancer`, ...) are left out. The read is the import's: found by its
//! tags, read with describes only; nothing in AWS is changed.

use std::collections::BTreeMap;

use serde::Deserialize;
use tf_provider::schema::{AttributeConstraint, Block, Description, Schema};
use tf_provider::value::{Value, ValueAny};
use tf_provider::{AttributePath, Diagnostics};

use super::model::EnvironmentState;
use super::schema::{environment_schema, name_rules};
use super::{observe_by_name, report_aws, validate, EnvironmentResource, Phase};

/// The version of the data source's schema (it keeps no state to upgrade).
const SCHEMA_VERSION: i64 = 0;

/// Attributes the resource computes that the data source leaves out: `drift`
/// compares AWS with the configuration that manages the environment, which
/// only that configuration's resource knows.
pub const LEFT_OUT: [&str; 1] = ["drift"];

/// The data source's configuration: its one argument. Terraform sends the
/// read-only attributes too, as nulls; they are ignored.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct DataSourceConfig {
    pub name: Value<String>,
}

/// What the data source answers: every attribute of its schema by name, null
/// where it does not apply (no bastion, no NAT gateway).
pub type DataSourceState = BTreeMap<String, ValueAny>;

/// The schema of `data "prodvpc_environment"`, derived from the resource's.
pub fn data_source_schema() -> Schema {
    let resource = environment_schema().block;
    let attributes = resource
        .attributes
        .into_iter()
        .filter_map(|(name, mut attribute)| {
            if name == "name" {
                attribute.description = Description::markdown(format!(
                    "Name of the environment to read, as given to its resource: {}. It is found by its `prodvpc:environment` tag in the provider's region.",
                    name_rules()
                ));
                return Some((name, attribute));
            }
            let computed = matches!(
                attribute.constraint,
                AttributeConstraint::Computed | AttributeConstraint::OptionalComputed
            );
            if !computed || LEFT_OUT.contains(&name.as_str()) {
                return None;
            }
            attribute.constraint = AttributeConstraint::Computed;
            Some((name, attribute))
        })
        .collect();
    Schema {
        version: SCHEMA_VERSION,
        block: Block {
            version: SCHEMA_VERSION,
            attributes,
            blocks: Default::default(),
            description: Description::markdown(
                "Reads an existing `prodvpc_environment` by its name: the IDs of its VPC, subnets, gateways, security groups, load balancer and app tier, its effective network settings and its security posture, for configurations that build on an environment another configuration manages. Only a completed environment is read, and nothing in AWS is changed.",
            ),
            deprecated: false,
        },
    }
}

/// The answer for `state`: the attributes of the data source's schema, taken
/// from the resource state of the same name.
pub fn answer(state: &EnvironmentState, schema: &Block) -> Result<DataSourceState, String> {
    let serde_json::Value::Object(mut fields) =
        serde_json::to_value(state).map_err(|e| e.to_string())?
    else {
        return Err("the environment state is not an object".into());
    };
    schema
        .attributes
        .keys()
        .map(|name| {
            let value = fields.remove(name).unwrap_or(serde_json::Value::Null);
            let value = serde_json::from_value(value).map_err(|e| format!("{name}: {e}"))?;
            Ok((name.clone(), value))
        })
        .collect()
}

/// The answer while the name is unknown: every attribute unknown, to be read
/// once it is known.
fn unknown(schema: &Block) -> DataSourceState {
    schema
        .attributes
        .keys()
        .map(|name| (name.clone(), ValueAny::Unknown))
        .collect()
}

impl EnvironmentResource {
    /// Checks the data source's `name` as the resource's; an unknown name
    /// (from a value known only after apply) passes, and is read later.
    pub fn validate_data(&self, diags: &mut Diagnostics, config: &DataSourceConfig) {
        validate::report(&validate::check_name_only(&config.name), diags);
    }

    /// Reads the completed environment named in `config`. An error on `name`
    /// says when there is none, or when it is still being created.
    pub async fn read_data(
        &self,
        diags: &mut Diagnostics,
        config: &DataSourceConfig,
        schema: &Block,
    ) -> Option<DataSourceState> {
        let name = match &config.name {
            Value::Value(name) => name,
            // Terraform reads only a known configuration; were it to send an
            // unknown name, the answer says that everything is still unknown
            Value::Unknown => return Some(unknown(schema)),
            Value::Null => {
                diags.error(
                    "Missing environment name",
                    "Set `name` to the name of the environment to read.",
                    AttributePath::new("name"),
                );
                return None;
            }
        };
        let problems = validate::check_name_only(&config.name);
        if !problems.is_empty() {
            validate::report(&problems, diags);
            return None;
        }
        let clients = self.clients(diags)?;
        let region = clients
            .ec2
            .config()
            .region()
            .map_or_else(|| "the provider's region".to_string(), |r| r.to_string());
        // the tags the objects carry, whatever this provider's default_tags
        let observed = match observe_by_name(&clients, name, &BTreeMap::new()).await {
            Ok(observed) => observed,
            Err(error) => {
                report_aws(diags, "Could not read the environment", &error, Phase::Read);
                return None;
            }
        };
        let Some(observed) = observed else {
            diags.error(
                format!("No environment named `{name}`"),
                format!("No VPC tagged `prodvpc:environment = {name}` exists in {region}. Check the name (it is the `name` of the `prodvpc_environment` resource that manages it), the provider's `region`, and that its credentials are for the account that holds the environment."),
                AttributePath::new("name"),
            );
            return None;
        };
        if observed.unfinished {
            let vpc = observed
                .state
                .vpc_id
                .as_ref_option()
                .cloned()
                .unwrap_or_default();
            diags.error(
                format!("Environment `{name}` is still being created"),
                format!("Its VPC {vpc} in {region} is marked `prodvpc:status = creating`: the apply that creates it has not finished, or stopped part way. Read it once that apply completes: run the apply of the configuration that manages it (it resumes where it stopped), then this one again."),
                AttributePath::new("name"),
            );
            return None;
        }
        match answer(&observed.state, schema) {
            Ok(state) => Some(state),
            Err(error) => {
                diags.root_error(
                    "Could not encode the environment",
                    format!("{error}. This is a bug in the provider; please report it."),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::schema::AttributeConstraint::{Computed, OptionalComputed, Required};

    #[test]
    fn every_attribute_the_resource_computes_is_read_only_here() {
        let resource = environment_schema().block;
        let data = data_source_schema().block;
        for (name, attribute) in &resource.attributes {
            let computed = matches!(attribute.constraint, Computed | OptionalComputed);
            if computed && !LEFT_OUT.contains(&name.as_str()) {
                let mirrored = data
                    .attributes
                    .get(name)
                    .unwrap_or_else(|| panic!("`{name}` is computed by the resource but missing"));
                assert_eq!(mirrored.attr_type, attribute.attr_type, "{name}");
                assert_eq!(mirrored.description, attribute.description, "{name}");
            }
        }
        for (name, attribute) in &data.attributes {
            assert!(
                resource.attributes.contains_key(name),
                "`{name}` is not the resource's"
            );
            let expected = if name == "name" { Required } else { Computed };
            assert_eq!(attribute.constraint, expected, "{name}");
        }
        for name in [
            "vpc_cidr",
            "availability_zones",
            "tags_all",
            "posture",
            "id",
        ] {
            assert!(data.attributes.contains_key(name), "{name}");
        }
        for name in ["tags", "drift"] {
            assert!(!data.attributes.contains_key(name), "{name}");
        }
        assert!(data.blocks.is_empty(), "input blocks are left out");
    }

    #[test]
    fn the_answer_has_every_attribute_null_where_it_does_not_apply() {
        let schema = data_source_schema().block;
        let state = EnvironmentState {
            name: Value::Value("shop".into()),
            vpc_id: Value::Value("vpc-1".into()),
            launch_template_version: Value::Value(3),
            private_subnet_ids: super::super::model::string_map([(
                "us-east-1a".to_string(),
                "subnet-1".to_string(),
            )]),
            ..Default::default()
        };
        let answer = answer(&state, &schema).unwrap();
        let names: Vec<&String> = answer.keys().collect();
        let mut expected: Vec<&String> = schema.attributes.keys().collect();
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(answer["vpc_id"], ValueAny::String("vpc-1".into()));
        assert_eq!(answer["launch_template_version"], ValueAny::Number(3));
        assert_eq!(answer["bastion_instance_id"], ValueAny::Null);
        assert!(matches!(&answer["private_subnet_ids"], ValueAny::Map(m) if m.len() == 1));
        assert!(unknown(&schema)
            .values()
            .all(|value| *value == ValueAny::Unknown));
    }
}
