#[test]
fn the_private_state_carries_what_the_refresh_found_and_nothing_when_empty() {
    let repairs = Repairs {
        renewed: ["nat/us-east-1a".to_string()].into(),
        rolls: true,
    };
    assert_eq!(private_from(&private_bytes(&repairs)), repairs);
    assert!(private_bytes(&Repairs::default()).is_empty());
    // a state written before it existed, or garbage, says nothing was found
    assert_eq!(private_from(&[]), Repairs::default());
    assert_eq!(private_from(b"not json"), Repairs::default());
}

use super::*;
use tf_provider::value::Value;

fn state(name: &str) -> proto::DynamicValue {
    encode(&EnvironmentState {
        name: Value::Value(name.to_string()),
        ..Default::default()
    })
}

fn decoded(
    prior: Option<proto::DynamicValue>,
    new: Option<proto::DynamicValue>,
) -> (Option<Change>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let config = state("config");
    let schema = crate::environment::schema::environment_schema();
    let numbers = NumberShape {
        schema: &schema.block,
        fractional: FRACTIONAL_NUMBERS,
    };
    let change = Change::decode(
        prior.as_ref(),
        new.as_ref(),
        Some(&config),
        &numbers,
        &mut diags,
    );
    (change, diags)
}

#[test]
fn null_states_decide_create_update_and_delete() {
    let (create, _) = decoded(Some(wire::null()), Some(state("new")));
    assert!(matches!(create, Some(Change::Create { new, config })
        if new.name == Value::Value("new".into()) && config.name == Value::Value("config".into())));
    let (update, _) = decoded(Some(state("old")), Some(state("new")));
    assert!(
        matches!(update, Some(Change::Update { prior, .. }) if prior.name == Value::Value("old".into()))
    );
    let (delete, _) = decoded(Some(state("old")), Some(wire::null()));
    assert!(
        matches!(delete, Some(Change::Delete { prior }) if prior.name == Value::Value("old".into()))
    );
}

/// A state of environment `name` whose app block has the write-only script.
fn with_script(name: &str) -> EnvironmentState {
    EnvironmentState {
        name: Value::Value(name.to_string()),
        app: Value::Value(vec![crate::environment::model::AppBlock {
            user_data_wo: Value::Value("#!/bin/sh\nsecret".into()),
            user_data_wo_version: Value::Value(1),
            ..Default::default()
        }]),
        bastion: Value::Value(vec![crate::environment::model::BastionBlock {
            enabled: Value::Value(false),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn script_of(state: &EnvironmentState) -> &Value<String> {
    &state.app.as_ref_option().unwrap()[0].user_data_wo
}

#[test]
fn write_only_values_reach_the_resource_in_the_configuration_only() {
    let schema = crate::environment::schema::environment_schema();
    let numbers = NumberShape {
        schema: &schema.block,
        fractional: FRACTIONAL_NUMBERS,
    };
    let mut diags = Diagnostics::default();
    let (prior, new, config) = (
        encode(&with_script("old")),
        encode(&with_script("new")),
        encode(&with_script("config")),
    );
    let change = Change::decode(
        Some(&prior),
        Some(&new),
        Some(&config),
        &numbers,
        &mut diags,
    );
    let Some(Change::Update { prior, new, config }) = change else {
        panic!("an update: {:?}", diags.errors);
    };
    assert_eq!(*script_of(&prior), Value::Null);
    assert_eq!(*script_of(&new), Value::Null);
    assert!(script_of(&config).is_value());
    // the apply takes it from the configuration, and never returns it
    let applying = new.with_write_only_of(&config);
    assert!(script_of(&applying).is_value());
    let returned: EnvironmentState = wire::decode("state", Some(&encode_state(applying)))
        .unwrap()
        .unwrap();
    assert_eq!(*script_of(&returned), Value::Null);
    assert_eq!(
        returned.app.as_ref_option().unwrap()[0].user_data_wo_version,
        Value::Value(1)
    );
}

async fn validate_resource(
    config: &EnvironmentState,
    capabilities: Option<proto::ClientCapabilities>,
) -> Vec<proto::Diagnostic> {
    let service = ProviderService::new(ProdVpcProvider::default());
    let request = proto::validate_resource_config::Request {
        type_name: ENVIRONMENT_TYPE.to_string(),
        config: Some(encode(config)),
        client_capabilities: capabilities,
    };
    service
        .validate_resource_config(Request::new(request))
        .await
        .unwrap()
        .into_inner()
        .diagnostics
}

#[tokio::test]
async fn a_write_only_script_is_refused_by_a_terraform_that_would_store_it() {
    let config = with_script("shop");
    let capable = proto::ClientCapabilities {
        deferral_allowed: false,
        write_only_attributes_allowed: true,
    };
    let accepted = validate_resource(&config, Some(capable)).await;
    assert!(accepted.is_empty(), "{accepted:?}");
    let old_terraform = validate_resource(&config, None).await;
    assert_eq!(old_terraform.len(), 1, "{old_terraform:?}");
    assert_eq!(
        old_terraform[0].summary,
        "Write-only attributes need Terraform 1.11 or later"
    );
    // a plain script needs nothing of the client
    let mut plain = with_script("shop");
    plain.app = Value::Null;
    assert!(validate_resource(&plain, None).await.is_empty());
}

#[test]
fn nothing_to_change_and_undecodable_states_are_diagnostics() {
    let (none, diags) = decoded(None, Some(wire::null()));
    assert!(none.is_none());
    assert_eq!(diags.errors[0].summary, "Nothing to change");
    let garbage = proto::DynamicValue {
        msgpack: vec![0x93, 1, 2, 3],
        json: Vec::new(),
    };
    let (bad, diags) = decoded(Some(garbage), Some(state("new")));
    assert!(bad.is_none());
    assert!(diags.errors[0]
        .detail
        .contains("prior state does not match"));
}

/// The configuration Terraform sends for `app { <attribute> = <number> }`,
/// with the number as cty encodes it (an integer, a float or decimal text).
fn app_config(attribute: &str, number: serde_json::Value) -> proto::DynamicValue {
    let mut config = serde_json::to_value(EnvironmentState {
        name: Value::Value("shop".into()),
        ..Default::default()
    })
    .unwrap();
    let mut app = serde_json::to_value(crate::environment::model::AppBlock::default()).unwrap();
    app[attribute] = number;
    config["app"] = serde_json::json!([app]);
    proto::DynamicValue {
        msgpack: rmp_serde::to_vec_named(&config).unwrap(),
        json: Vec::new(),
    }
}

fn decode_app(config: &proto::DynamicValue) -> (Option<EnvironmentState>, Diagnostics) {
    let schema = crate::environment::schema::environment_schema();
    let numbers = NumberShape {
        schema: &schema.block,
        fractional: FRACTIONAL_NUMBERS,
    };
    let mut diags = Diagnostics::default();
    let state = decode_config("configuration", Some(config), &numbers, &mut diags).ok();
    (state, diags)
}

#[test]
fn decimals_terraform_sends_as_text_decode_exactly() {
    let config = app_config("cpu_target", serde_json::json!("70.1"));
    let (state, diags) = decode_app(&config);
    assert!(diags.errors.is_empty(), "{:?}", diags.errors);
    let app = state.unwrap().app.unwrap().remove(0);
    assert_eq!(app.cpu_target, Value::Value(70.1));
    let config = app_config("port", serde_json::json!(8080.0));
    let app = decode_app(&config).0.unwrap().app.unwrap().remove(0);
    assert_eq!(app.port, Value::Value(8080));
}

#[test]
fn unusable_numbers_are_errors_on_their_attribute() {
    for (attribute, config, summary) in [
        (
            "port",
            app_config("port", serde_json::json!(80.5)),
            "Whole number required",
        ),
        (
            "max_size",
            app_config(
                "max_size",
                serde_json::json!("1000000000000000000000000000000"),
            ),
            "Number out of range",
        ),
    ] {
        let (state, diags) = decode_app(&config);
        assert_eq!(diags.errors.len(), 1, "{attribute}: {:?}", diags.errors);
        assert_eq!(diags.errors[0].summary, summary);
        let steps = &diags.errors[0].attribute.steps;
        assert_eq!(steps.len(), 3, "{attribute}: path {steps:?}");
        assert!(
            diags.errors[0].detail.starts_with(attribute),
            "{}",
            diags.errors[0].detail
        );
        // the rest of the configuration still decodes, for validation to judge
        assert_eq!(state.unwrap().name, Value::Value("shop".into()));
    }
}

/// A data source configuration with `name` as given.
fn data_config(name: Value<String>) -> Option<proto::DynamicValue> {
    Some(encode(&std::collections::BTreeMap::from([("name", name)])))
}

async fn validate_data(type_name: &str, name: Value<String>) -> Vec<proto::Diagnostic> {
    let service = ProviderService::new(ProdVpcProvider::default());
    let request = proto::validate_data_resource_config::Request {
        type_name: type_name.to_string(),
        config: data_config(name),
    };
    service
        .validate_data_resource_config(Request::new(request))
        .await
        .unwrap()
        .into_inner()
        .diagnostics
}

#[tokio::test]
async fn data_source_validation_waits_for_an_unknown_name_and_refuses_an_invalid_one() {
    assert!(validate_data(ENVIRONMENT_TYPE, Value::Unknown)
        .await
        .is_empty());
    assert!(
        validate_data(ENVIRONMENT_TYPE, Value::Value("shop-prod".into()))
            .await
            .is_empty()
    );
    let invalid = validate_data(ENVIRONMENT_TYPE, Value::Value("shop--prod".into())).await;
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0].summary, "Invalid environment name");
    let on_name = wire::attribute_path(&tf_provider::AttributePath::new("name"));
    assert_eq!(invalid[0].attribute, Some(on_name));
    let unknown_type = validate_data("prodvpc_network", Value::Unknown).await;
    assert_eq!(
        unknown_type[0].summary,
        "Unknown data source type `prodvpc_network`"
    );
}

#[tokio::test]
async fn a_read_with_an_unknown_name_answers_every_attribute_unknown() {
    let service = ProviderService::new(ProdVpcProvider::default());
    let request = proto::read_data_source::Request {
        type_name: ENVIRONMENT_TYPE.to_string(),
        config: data_config(Value::Unknown),
        provider_meta: None,
        client_capabilities: None,
    };
    let response = service
        .read_data_source(Request::new(request))
        .await
        .unwrap()
        .into_inner();
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    let state: crate::environment::data_source::DataSourceState =
        wire::decode("state", response.state.as_ref())
            .unwrap()
            .unwrap();
    assert_eq!(
        state.len(),
        service.data_source_schema.block.attributes.len()
    );
    assert!(state
        .values()
        .all(|v| *v == tf_provider::value::ValueAny::Unknown));
}

#[test]
fn only_the_listed_numbers_take_fractions() {
    // every other number attribute of the app block is an integer type:
    // a fraction reaching it would not decode
    let schema = crate::environment::schema::environment_schema();
    let tf_provider::schema::NestedBlock::Optional(app) = &schema.block.blocks["app"] else {
        panic!("app is an optional block");
    };
    for (name, attribute) in &app.attributes {
        if !matches!(
            attribute.attr_type,
            tf_provider::schema::AttributeType::Number
        ) {
            continue;
        }
        let config = app_config(name, serde_json::json!(1.5));
        let raw: Result<Option<EnvironmentState>, _> = wire::decode("configuration", Some(&config));
        assert_eq!(
            raw.is_ok(),
            FRACTIONAL_NUMBERS.contains(&name.as_str()),
            "{name} and FRACTIONAL_NUMBERS disagree"
        );
    }
}
