//! The `tfplugin6.Provider` service: decodes each request, calls the provider
//! or the resource, encodes the answer. Problems travel as diagnostics; a
//! gRPC error status would hide them from the user.

use tf_provider::value::ValueEmpty;
use tf_provider::{Diagnostics, Resource};
use tonic::{Request, Response, Status};

use super::numbers::NumberShape;
use super::proto::{self, provider_server::Provider as ProviderRpc};
use super::wire::{self, decode_config, decode_input, encode, DecodeError};
use crate::environment::data_source::DataSourceConfig;
use crate::environment::model::EnvironmentState;
use crate::environment::schema::WRITE_ONLY;
use crate::environment::{upgrade, validate, EnvironmentResource};
use crate::plan::drift::Repairs;
use crate::provider::{ProdVpcProvider, ProviderConfig};

/// The one resource type this provider serves, and its one data source type.
pub const ENVIRONMENT_TYPE: &str = "prodvpc_environment";

/// The number attributes of `prodvpc_environment` that take fractions (held
/// as `f64`); every other number is a count or a port.
const FRACTIONAL_NUMBERS: &[&str] = &["cpu_target"];

pub struct ProviderService {
    provider: ProdVpcProvider,
    environment: EnvironmentResource,
    provider_schema: tf_provider::schema::Schema,
    environment_schema: tf_provider::schema::Schema,
    data_source_schema: tf_provider::schema::Schema,
}

impl ProviderService {
    pub fn new(provider: ProdVpcProvider) -> ProviderService {
        let environment = provider.environment();
        ProviderService {
            provider,
            environment,
            provider_schema: crate::provider::provider_schema(),
            environment_schema: crate::environment::schema::environment_schema(),
            data_source_schema: crate::environment::data_source::data_source_schema(),
        }
    }

    fn provider_numbers(&self) -> NumberShape<'_> {
        NumberShape {
            schema: &self.provider_schema.block,
            fractional: &[],
        }
    }

    fn environment_numbers(&self) -> NumberShape<'_> {
        NumberShape {
            schema: &self.environment_schema.block,
            fractional: FRACTIONAL_NUMBERS,
        }
    }

    /// The resource behind `type_name`, or a diagnostic naming the one served.
    fn resource(&self, type_name: &str, diags: &mut Diagnostics) -> Option<&EnvironmentResource> {
        self.environment_as("resource", type_name, diags)
    }

    /// The data source behind `type_name` (the environment, read by name), or
    /// a diagnostic naming the one served.
    fn data_source(
        &self,
        type_name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&EnvironmentResource> {
        self.environment_as("data source", type_name, diags)
    }

    /// The environment when `type_name` is its type; otherwise a diagnostic
    /// saying which `kind` ("resource", "data source") the provider serves.
    fn environment_as(
        &self,
        kind: &str,
        type_name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&EnvironmentResource> {
        if type_name == ENVIRONMENT_TYPE {
            return Some(&self.environment);
        }
        diags.root_error(
            format!("Unknown {kind} type `{type_name}`"),
            format!("The prodvpc provider serves one {kind} type, `{ENVIRONMENT_TYPE}`."),
        );
        None
    }

    fn server_capabilities() -> proto::ServerCapabilities {
        proto::ServerCapabilities {
            plan_destroy: true,
            get_provider_schema_optional: false,
            move_resource_state: false,
        }
    }
}

/// The provider declares no ephemeral resource type, so Terraform never asks
/// for one; a client that does is told so.
fn no_ephemeral_resource(type_name: &str) -> Vec<proto::Diagnostic> {
    let mut diags = Diagnostics::default();
    diags.root_error(
        format!("Unknown ephemeral resource type `{type_name}`"),
        "The prodvpc provider serves no ephemeral resource types.",
    );
    wire::diagnostics(diags)
}

/// Keeps the `Ok` of a decoding, reporting its error as a diagnostic.
fn reported<T>(decoded: Result<T, DecodeError>, diags: &mut Diagnostics) -> Option<T> {
    decoded.map_err(|e| e.report(diags)).ok()
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ProviderRpc for ProviderService {
    async fn get_metadata(
        &self,
        _: Request<proto::get_metadata::Request>,
    ) -> Reply<proto::get_metadata::Response> {
        Ok(Response::new(proto::get_metadata::Response {
            server_capabilities: Some(Self::server_capabilities()),
            diagnostics: Vec::new(),
            data_sources: vec![proto::get_metadata::DataSourceMetadata {
                type_name: ENVIRONMENT_TYPE.to_string(),
            }],
            resources: vec![proto::get_metadata::ResourceMetadata {
                type_name: ENVIRONMENT_TYPE.to_string(),
            }],
            functions: super::functions::metadata(),
            ephemeral_resources: Vec::new(),
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<proto::get_provider_schema::Request>,
    ) -> Reply<proto::get_provider_schema::Response> {
        Ok(Response::new(proto::get_provider_schema::Response {
            provider: Some(wire::schema(&self.provider_schema, &[])),
            resource_schemas: [(
                ENVIRONMENT_TYPE.to_string(),
                wire::schema(&self.environment_schema, WRITE_ONLY),
            )]
            .into(),
            data_source_schemas: [(
                ENVIRONMENT_TYPE.to_string(),
                wire::schema(&self.data_source_schema, &[]),
            )]
            .into(),
            functions: super::functions::definitions(),
            ephemeral_resource_schemas: Default::default(),
            diagnostics: Vec::new(),
            provider_meta: None,
            server_capabilities: Some(Self::server_capabilities()),
        }))
    }

    async fn validate_provider_config(
        &self,
        request: Request<proto::validate_provider_config::Request>,
    ) -> Reply<proto::validate_provider_config::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let config = decode_config::<ProviderConfig>(
            "provider configuration",
            request.config.as_ref(),
            &self.provider_numbers(),
            &mut diags,
        );
        if let Some(config) = reported(config, &mut diags).filter(|_| diags.errors.is_empty()) {
            self.provider.validate(&mut diags, &config);
        }
        Ok(Response::new(proto::validate_provider_config::Response {
            diagnostics: wire::diagnostics(diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<proto::validate_resource_config::Request>,
    ) -> Reply<proto::validate_resource_config::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        if let Some(resource) = self.resource(&request.type_name, &mut diags) {
            let config = decode_config(
                "resource configuration",
                request.config.as_ref(),
                &self.environment_numbers(),
                &mut diags,
            );
            if let Some(config) = reported(config, &mut diags) {
                let write_only_allowed = request
                    .client_capabilities
                    .is_some_and(|c| c.write_only_attributes_allowed);
                if !write_only_allowed {
                    validate::report(&validate::write_only_unsupported(&config), &mut diags);
                }
                resource.validate(&mut diags, config).await;
            }
        }
        Ok(Response::new(proto::validate_resource_config::Response {
            diagnostics: wire::diagnostics(diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<proto::validate_data_resource_config::Request>,
    ) -> Reply<proto::validate_data_resource_config::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        if let Some(data_source) = self.data_source(&request.type_name, &mut diags) {
            // the name may still be unknown here: it is judged once known
            let config = wire::decode::<DataSourceConfig>(
                "data source configuration",
                request.config.as_ref(),
            );
            if let Some(config) = reported(config, &mut diags) {
                data_source.validate_data(&mut diags, &config.unwrap_or_default());
            }
        }
        Ok(Response::new(
            proto::validate_data_resource_config::Response {
                diagnostics: wire::diagnostics(diags),
            },
        ))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<proto::upgrade_resource_state::Request>,
    ) -> Reply<proto::upgrade_resource_state::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let mut upgraded_state = None;
        if self.resource(&request.type_name, &mut diags).is_some() {
            let json = request.raw_state.map(|raw| raw.json).unwrap_or_default();
            match upgrade::upgrade(request.version, &json) {
                Ok(state) => upgraded_state = Some(encode(&state)),
                Err(error) => error.report(&mut diags),
            }
        }
        Ok(Response::new(proto::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: wire::diagnostics(diags),
        }))
    }

    async fn configure_provider(
        &self,
        request: Request<proto::configure_provider::Request>,
    ) -> Reply<proto::configure_provider::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let config = decode_config::<ProviderConfig>(
            "provider configuration",
            request.config.as_ref(),
            &self.provider_numbers(),
            &mut diags,
        );
        if let Some(config) = reported(config, &mut diags).filter(|_| diags.errors.is_empty()) {
            self.provider.configure(&mut diags, &config).await;
        }
        Ok(Response::new(proto::configure_provider::Response {
            diagnostics: wire::diagnostics(diags),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<proto::read_resource::Request>,
    ) -> Reply<proto::read_resource::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let mut new_state = None;
        let mut private = Vec::new();
        if let Some(resource) = self.resource(&request.type_name, &mut diags) {
            match reported(
                decode_input(
                    "current state",
                    request.current_state.as_ref(),
                    &self.environment_numbers(),
                    &mut Diagnostics::default(),
                ),
                &mut diags,
            ) {
                Some(Some(state)) => {
                    let read = resource
                        .read(
                            &mut diags,
                            state,
                            private_from(&request.private),
                            ValueEmpty::default(),
                        )
                        .await;
                    // `None` from read means the environment is gone: Terraform drops it from state.
                    new_state = Some(match read {
                        Some((state, repairs)) => {
                            private = private_bytes(&repairs);
                            encode_state(state)
                        }
                        None => wire::null(),
                    });
                }
                Some(None) => new_state = Some(wire::null()),
                None => {}
            }
        }
        Ok(Response::new(proto::read_resource::Response {
            new_state,
            diagnostics: wire::diagnostics(diags),
            private,
            deferred: None,
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<proto::plan_resource_change::Request>,
    ) -> Reply<proto::plan_resource_change::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let mut planned_state = None;
        let mut planned_private = Vec::new();
        let mut requires_replace = Vec::new();
        if let Some(resource) = self.resource(&request.type_name, &mut diags) {
            let change = Change::decode(
                request.prior_state.as_ref(),
                request.proposed_new_state.as_ref(),
                request.config.as_ref(),
                &self.environment_numbers(),
                &mut diags,
            );
            let empty = ValueEmpty::default;
            match change {
                Some(Change::Update { prior, new, config }) => {
                    let refreshed = private_from(&request.prior_private);
                    if let Some((state, repairs, paths)) = resource
                        .plan_update(&mut diags, prior, new, config, refreshed, empty())
                        .await
                    {
                        planned_state = Some(encode_state(state));
                        planned_private = private_bytes(&repairs);
                        requires_replace = paths.iter().map(wire::attribute_path).collect();
                    }
                }
                Some(Change::Delete { prior }) => {
                    resource
                        .plan_destroy(&mut diags, prior, Repairs::default(), empty())
                        .await;
                    planned_state = Some(wire::null());
                }
                Some(Change::Create { new, config }) => {
                    if let Some((state, _)) =
                        resource.plan_create(&mut diags, new, config, empty()).await
                    {
                        planned_state = Some(encode_state(state));
                    }
                }
                None => {}
            }
        }
        Ok(Response::new(proto::plan_resource_change::Response {
            planned_state,
            requires_replace,
            planned_private,
            diagnostics: wire::diagnostics(diags),
            legacy_type_system: false,
            deferred: None,
        }))
    }

    async fn apply_resource_change(
        &self,
        request: Request<proto::apply_resource_change::Request>,
    ) -> Reply<proto::apply_resource_change::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let mut new_state = None;
        if let Some(resource) = self.resource(&request.type_name, &mut diags) {
            let change = Change::decode(
                request.prior_state.as_ref(),
                request.planned_state.as_ref(),
                request.config.as_ref(),
                &self.environment_numbers(),
                &mut diags,
            );
            let empty = ValueEmpty::default;
            // Whatever fails, the answer is a state that still tracks every
            // object that exists: the prior state when nothing better is known.
            new_state = match change {
                Some(Change::Update { prior, new, config }) => {
                    let updated = resource
                        .update(
                            &mut diags,
                            prior.clone(),
                            new,
                            config,
                            private_from(&request.planned_private),
                            empty(),
                        )
                        .await;
                    Some(encode_state(updated.map_or(prior, |(state, _)| state)))
                }
                Some(Change::Delete { prior }) => {
                    let destroyed = resource
                        .destroy(&mut diags, prior.clone(), Repairs::default(), empty())
                        .await;
                    Some(match destroyed {
                        Some(()) => wire::null(),
                        None => encode_state(prior),
                    })
                }
                Some(Change::Create { new, config }) => {
                    let created = resource
                        .create(&mut diags, new, config, Repairs::default(), empty())
                        .await;
                    Some(created.map_or_else(wire::null, |(state, _)| encode_state(state)))
                }
                None => None,
            };
        }
        Ok(Response::new(proto::apply_resource_change::Response {
            new_state,
            private: Vec::new(),
            diagnostics: wire::diagnostics(diags),
            legacy_type_system: false,
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<proto::import_resource_state::Request>,
    ) -> Reply<proto::import_resource_state::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let mut imported_resources = Vec::new();
        if let Some(resource) = self.resource(&request.type_name, &mut diags) {
            if let Some((state, _)) = resource.import(&mut diags, request.id).await {
                imported_resources.push(proto::import_resource_state::ImportedResource {
                    type_name: request.type_name,
                    state: Some(encode_state(state)),
                    private: Vec::new(),
                });
            }
        }
        Ok(Response::new(proto::import_resource_state::Response {
            imported_resources,
            diagnostics: wire::diagnostics(diags),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        request: Request<proto::move_resource_state::Request>,
    ) -> Reply<proto::move_resource_state::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        diags.root_error(
            format!("Cannot move `{}` into `{}`", request.source_type_name, request.target_type_name),
            format!("`{ENVIRONMENT_TYPE}` state can only come from this provider; use `terraform import` with the environment's name instead."),
        );
        Ok(Response::new(proto::move_resource_state::Response {
            target_state: None,
            diagnostics: wire::diagnostics(diags),
            target_private: Vec::new(),
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<proto::read_data_source::Request>,
    ) -> Reply<proto::read_data_source::Response> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        let mut state = None;
        if let Some(data_source) = self.data_source(&request.type_name, &mut diags) {
            let config = wire::decode::<DataSourceConfig>(
                "data source configuration",
                request.config.as_ref(),
            );
            if let Some(config) = reported(config, &mut diags) {
                state = data_source
                    .read_data(
                        &mut diags,
                        &config.unwrap_or_default(),
                        &self.data_source_schema.block,
                    )
                    .await
                    .map(|answer| encode(&answer));
            }
        }
        Ok(Response::new(proto::read_data_source::Response {
            state,
            diagnostics: wire::diagnostics(diags),
            deferred: None,
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<proto::validate_ephemeral_resource_config::Request>,
    ) -> Reply<proto::validate_ephemeral_resource_config::Response> {
        Ok(Response::new(
            proto::validate_ephemeral_resource_config::Response {
                diagnostics: no_ephemeral_resource(&request.into_inner().type_name),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<proto::open_ephemeral_resource::Request>,
    ) -> Reply<proto::open_ephemeral_resource::Response> {
        Ok(Response::new(proto::open_ephemeral_resource::Response {
            diagnostics: no_ephemeral_resource(&request.into_inner().type_name),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<proto::renew_ephemeral_resource::Request>,
    ) -> Reply<proto::renew_ephemeral_resource::Response> {
        Ok(Response::new(proto::renew_ephemeral_resource::Response {
            diagnostics: no_ephemeral_resource(&request.into_inner().type_name),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<proto::close_ephemeral_resource::Request>,
    ) -> Reply<proto::close_ephemeral_resource::Response> {
        Ok(Response::new(proto::close_ephemeral_resource::Response {
            diagnostics: no_ephemeral_resource(&request.into_inner().type_name),
        }))
    }

    async fn get_functions(
        &self,
        _: Request<proto::get_functions::Request>,
    ) -> Reply<proto::get_functions::Response> {
        Ok(Response::new(proto::get_functions::Response {
            functions: super::functions::definitions(),
            diagnostics: Vec::new(),
        }))
    }

    async fn call_function(
        &self,
        request: Request<proto::call_function::Request>,
    ) -> Reply<proto::call_function::Response> {
        let request = request.into_inner();
        Ok(Response::new(super::functions::call(
            &request.name,
            &request.arguments,
        )))
    }

    async fn stop_provider(
        &self,
        _: Request<proto::stop_provider::Request>,
    ) -> Reply<proto::stop_provider::Response> {
        self.provider.stop();
        Ok(Response::new(proto::stop_provider::Response {
            error: String::new(),
        }))
    }
}

/// What a plan or apply request asks for, decoded.
// One lives per request, on its way to the resource: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Change {
    Create {
        new: EnvironmentState,
        config: EnvironmentState,
    },
    Update {
        prior: EnvironmentState,
        new: EnvironmentState,
        config: EnvironmentState,
    },
    Delete {
        prior: EnvironmentState,
    },
}

impl Change {
    /// `None` once a problem is in `diags`: a value that does not decode, or a
    /// request with neither a prior nor a new state.
    fn decode(
        prior: Option<&proto::DynamicValue>,
        new: Option<&proto::DynamicValue>,
        config: Option<&proto::DynamicValue>,
        numbers: &NumberShape,
        diags: &mut Diagnostics,
    ) -> Option<Change> {
        // Terraform sends states with numbers encoded as it encodes the
        // configuration's (70.1 as decimal text). The proposed or planned
        // state carries the configuration's numbers: an unusable one is
        // reported once, from the configuration itself.
        let mut repeated = Diagnostics::default();
        // write-only values reach the resource in the configuration only: the
        // proposed new state Terraform sends still carries them
        let prior = reported(
            decode_input("prior state", prior, numbers, &mut repeated),
            diags,
        )?
        .map(EnvironmentState::without_write_only);
        let new = decode_input("new state", new, numbers, &mut repeated);
        let new = reported(new, diags)?.map(EnvironmentState::without_write_only);
        match (prior, new) {
            (Some(prior), None) => Some(Change::Delete { prior }),
            (prior, Some(new)) => {
                let config = reported(
                    decode_config("configuration", config, numbers, diags),
                    diags,
                )?;
                if !diags.errors.is_empty() {
                    return None;
                }
                Some(match prior {
                    Some(prior) => Change::Update { prior, new, config },
                    None => Change::Create { new, config },
                })
            }
            (None, None) => {
                diags.root_error(
                    "Nothing to change",
                    "Terraform sent a change for a resource that neither exists nor is configured.",
                );
                None
            }
        }
    }
}

/// A state of the environment as Terraform receives it: never with a
/// write-only value, which Terraform would refuse.
fn encode_state(state: EnvironmentState) -> proto::DynamicValue {
    encode(&state.without_write_only())
}

/// The resource's private state as Terraform hands it back: what the last
/// refresh found (JSON). Absent (a state written before it existed, or by an
/// apply) or unreadable, it says nothing was found.
fn private_from(bytes: &[u8]) -> Repairs {
    serde_json::from_slice(bytes).unwrap_or_default()
}

/// The private state to store: nothing while there is nothing to say.
fn private_bytes(repairs: &Repairs) -> Vec<u8> {
    if *repairs == Repairs::default() {
        return Vec::new();
    }
    serde_json::to_vec(repairs).unwrap_or_default()
}

#[cfg(test)]
mod tests;
