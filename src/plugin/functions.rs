//! Provider-defined functions (Terraform 1.8 and later): their signatures for
//! GetProviderSchema and GetFunctions, and CallFunction's decoding, call and
//! encoding. Each function's work is a pure function of `plan/`.

use std::collections::HashMap;

use super::proto;
use crate::plan::layout::{subnet_layout, LayoutError};

/// `provider::prodvpc::subnet_layout(vpc_cidr, zones)`.
pub const SUBNET_LAYOUT: &str = "subnet_layout";

fn markdown() -> i32 {
    proto::StringKind::Markdown as i32
}

fn parameter(name: &str, cty_type: &str, description: &str) -> proto::function::Parameter {
    proto::function::Parameter {
        name: name.to_string(),
        r#type: cty_type.as_bytes().to_vec(),
        allow_null_value: false,
        // an unknown argument makes the result unknown: Terraform skips the call
        allow_unknown_values: false,
        description: description.to_string(),
        description_kind: markdown(),
    }
}

/// Every function of the provider, by name.
pub fn definitions() -> HashMap<String, proto::Function> {
    [(
        SUBNET_LAYOUT.to_string(),
        proto::Function {
            parameters: vec![
                parameter(
                    "vpc_cidr",
                    r#""string""#,
                    "The environment's `vpc_cidr`, from /16 to /24, for example `10.20.0.0/16`.",
                ),
                parameter(
                    "zones",
                    r#"["list","string"]"#,
                    "The environment's availability zones, 2 to 8 names, each once.",
                ),
            ],
            variadic_parameter: None,
            r#return: Some(proto::function::Return {
                r#type: br#"["object",{"private":["map","string"],"public":["map","string"]}]"#
                    .to_vec(),
            }),
            summary: "The subnet blocks an environment carves".to_string(),
            description: "Returns `{ public = { zone = cidr }, private = { zone = cidr } }`: exactly the blocks `prodvpc_environment` carves for `vpc_cidr` over `zones` when `public_subnet_cidrs` and `private_subnet_cidrs` are not set, so other resources (peering routes, firewall rules, a database subnet group's neighbours) can be planned against them before the environment exists. The same checks as the resource: an argument it would refuse is an error naming that argument and the fix.".to_string(),
            description_kind: markdown(),
            deprecation_message: String::new(),
        },
    )]
    .into()
}

/// The names, for GetMetadata.
pub fn metadata() -> Vec<proto::get_metadata::FunctionMetadata> {
    definitions()
        .into_keys()
        .map(|name| proto::get_metadata::FunctionMetadata { name })
        .collect()
}

fn failure(text: String, argument: Option<usize>) -> proto::call_function::Response {
    proto::call_function::Response {
        result: None,
        error: Some(proto::FunctionError {
            text,
            function_argument: argument.map(|a| a as i64),
        }),
    }
}

/// Runs function `name` on its msgpack-encoded arguments.
pub fn call(name: &str, arguments: &[proto::DynamicValue]) -> proto::call_function::Response {
    if name != SUBNET_LAYOUT {
        return failure(
            format!("The prodvpc provider has no function `{name}`."),
            None,
        );
    }
    let decoded = (|| -> Result<(String, Vec<String>), LayoutError> {
        let argument = |index: usize| {
            arguments.get(index).ok_or_else(|| LayoutError {
                argument: index,
                message: format!(
                    "subnet_layout takes 2 arguments, {} given.",
                    arguments.len()
                ),
            })
        };
        let undecodable = |index: usize, what: &str| LayoutError {
            argument: index,
            message: format!("argument {} of subnet_layout must be {what}.", index + 1),
        };
        let vpc_cidr: String =
            rmp_serde::from_slice(&argument(0)?.msgpack).map_err(|_| undecodable(0, "a string"))?;
        let zones: Vec<String> = rmp_serde::from_slice(&argument(1)?.msgpack)
            .map_err(|_| undecodable(1, "a list of strings"))?;
        Ok((vpc_cidr, zones))
    })();
    match decoded.and_then(|(vpc_cidr, zones)| subnet_layout(&vpc_cidr, &zones)) {
        Ok(layout) => proto::call_function::Response {
            result: Some(super::wire::encode(&layout)),
            error: None,
        },
        Err(error) => failure(error.message, Some(error.argument)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<T: serde::Serialize>(v: &T) -> proto::DynamicValue {
        proto::DynamicValue {
            msgpack: rmp_serde::to_vec(v).unwrap(),
            json: Vec::new(),
        }
    }

    #[test]
    fn a_call_answers_the_carved_blocks_as_an_object_of_two_maps() {
        let answer = call(
            SUBNET_LAYOUT,
            &[
                value(&"10.20.0.0/16"),
                value(&vec!["us-east-1a", "us-east-1b"]),
            ],
        );
        assert!(answer.error.is_none(), "{:?}", answer.error);
        let result: HashMap<String, HashMap<String, String>> =
            rmp_serde::from_slice(&answer.result.unwrap().msgpack).unwrap();
        assert_eq!(result["public"]["us-east-1a"], "10.20.0.0/20");
        assert_eq!(result["private"]["us-east-1b"], "10.20.144.0/20");
    }

    #[test]
    fn a_bad_argument_is_an_error_on_that_argument() {
        let answer = call(
            SUBNET_LAYOUT,
            &[
                value(&"10.0.0.0/8"),
                value(&vec!["us-east-1a", "us-east-1b"]),
            ],
        );
        let error = answer.error.unwrap();
        assert_eq!(error.function_argument, Some(0));
        assert!(error.text.contains("from /16 to /24"), "{}", error.text);
        let answer = call(
            SUBNET_LAYOUT,
            &[value(&"10.0.0.0/16"), value(&vec!["us-east-1a"])],
        );
        assert_eq!(answer.error.unwrap().function_argument, Some(1));
        assert!(call("nope", &[])
            .error
            .unwrap()
            .text
            .contains("no function `nope`"));
    }

    #[test]
    fn the_signature_names_both_parameters_and_the_result_type() {
        let all = definitions();
        let function = &all[SUBNET_LAYOUT];
        let names: Vec<&str> = function
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["vpc_cidr", "zones"]);
        let result: serde_json::Value =
            serde_json::from_slice(&function.r#return.as_ref().unwrap().r#type).unwrap();
        assert_eq!(result[0], "object");
        for parameter in &function.parameters {
            serde_json::from_slice::<serde_json::Value>(&parameter.r#type).unwrap();
        }
    }
}
