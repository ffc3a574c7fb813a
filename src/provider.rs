//! The `prodvpc` provider: its configuration block and the AWS clients it builds.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};
use tokio_util::sync::CancellationToken;

use crate::aws::{AwsClients, ClientSettings, Endpoints};
use crate::environment::EnvironmentResource;

/// Set once by `configure`, read by the resource. Terraform may validate and
/// plan before it configures the provider, hence the shared set-once cell.
pub type SharedClients = Arc<OnceLock<Arc<AwsClients>>>;

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct EndpointsBlock {
    pub ec2: Value<String>,
    pub autoscaling: Value<String>,
    pub elbv2: Value<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct DefaultTagsBlock {
    pub tags: Value<BTreeMap<String, Value<String>>>,
}

/// The provider block as Terraform sends it.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ProviderConfig {
    pub region: Value<String>,
    pub profile: Value<String>,
    pub max_retries: Value<i64>,
    pub endpoints: Value<Vec<EndpointsBlock>>,
    pub default_tags: Value<Vec<DefaultTagsBlock>>,
}

/// The provider.
#[derive(Default)]
pub struct ProdVpcProvider {
    clients: SharedClients,
    /// Cancelled when Terraform asks the provider to stop (StopProvider).
    stop: CancellationToken,
}

fn optional(attr_type: AttributeType, doc: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(doc),
        constraint: AttributeConstraint::Optional,
        sensitive: false,
        deprecated: false,
    }
}

fn nested(doc: &str, attributes: Vec<(&str, Attribute)>) -> NestedBlock {
    NestedBlock::Optional(Block {
        version: 1,
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        blocks: HashMap::new(),
        description: Description::markdown(doc),
        deprecated: false,
    })
}

/// The provider block's schema.
pub fn provider_schema() -> Schema {
    use AttributeType::{Number, String};
    let endpoint = |service: &str| {
        optional(
            String,
            &format!(
                "URL of the {service} API, overriding `AWS_ENDPOINT_URL` and the regional default."
            ),
        )
    };
    Schema {
        version: 1,
        block: Block {
            version: 1,
            attributes: [
                ("region", optional(String, "AWS region, for example `us-east-1`. Default: the standard chain (`AWS_REGION`, the profile's region).")),
                ("profile", optional(String, "Named profile of the shared AWS config and credentials files (SSO profiles included). Default: `AWS_PROFILE` or `default`.")),
                ("max_retries", optional(Number, "Retries of a throttled or failed AWS call before giving up, with adaptive backoff. Default `9`.")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            blocks: [
                ("endpoints", nested("Custom service endpoints, for emulators or private endpoints.", vec![
                    ("ec2", endpoint("EC2")),
                    ("autoscaling", endpoint("Auto Scaling")),
                    ("elbv2", endpoint("Elastic Load Balancing v2")),
                ])),
                ("default_tags", nested("Tags applied to every AWS object this provider creates, under each resource's own `tags`.", vec![
                    ("tags", optional(AttributeType::Map(Box::new(String)), "Tag keys and values.")),
                ])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            description: Description::markdown("Stands up production AWS network environments. Credentials come from the standard AWS chain."),
            deprecated: false,
        },
    }
}

impl ProviderConfig {
    /// The client settings, with problems reported against their attribute.
    pub fn settings(&self, diags: &mut Diagnostics) -> Option<ClientSettings> {
        let endpoints = self
            .endpoints
            .as_ref_option()
            .and_then(|list| list.first())
            .map(|block| Endpoints {
                ec2: block.ec2.as_ref_option().cloned(),
                autoscaling: block.autoscaling.as_ref_option().cloned(),
                elbv2: block.elbv2.as_ref_option().cloned(),
            })
            .unwrap_or_default();
        let default_tags: BTreeMap<String, String> = self
            .default_tags
            .as_ref_option()
            .and_then(|list| list.first())
            .and_then(|block| block.tags.as_ref_option())
            .map(|tags| {
                tags.iter()
                    .filter_map(|(k, v)| v.as_ref_option().map(|v| (k.clone(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let max_retries = match self.max_retries {
            Value::Value(n) if !(0..=100).contains(&n) => {
                diags.error(
                    "Invalid max_retries",
                    format!("max_retries is {n}; use a number from 0 to 100."),
                    AttributePath::new("max_retries"),
                );
                return None;
            }
            Value::Value(n) => Some(n as u32),
            _ => None,
        };
        Some(ClientSettings {
            region: self.region.as_ref_option().cloned(),
            profile: self.profile.as_ref_option().cloned(),
            max_retries,
            endpoints,
            default_tags,
        })
    }
}

impl ProdVpcProvider {
    /// Checks the provider block; problems are reported against their attribute.
    pub fn validate(&self, diags: &mut Diagnostics, config: &ProviderConfig) {
        let _ = config.settings(diags);
    }

    /// Builds the AWS clients the resource uses.
    pub async fn configure(&self, diags: &mut Diagnostics, config: &ProviderConfig) {
        let Some(settings) = config.settings(diags) else {
            return;
        };
        let clients = Arc::new(AwsClients::connect(settings).await);
        // Terraform configures a provider process once; a second call keeps the first clients.
        let _ = self.clients.set(clients);
    }

    /// The `prodvpc_environment` resource, sharing this provider's clients and stop signal.
    pub fn environment(&self) -> EnvironmentResource {
        EnvironmentResource::new(self.clients.clone(), self.stop.clone())
    }

    /// Abandons the work in flight: each operation returns at once with the
    /// state of what exists. Everything it created is tagged, so the next
    /// command finds it.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}
