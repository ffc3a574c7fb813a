//! Conversions between the protocol's messages and the provider's types:
//! dynamic values (msgpack or JSON), diagnostics, attribute paths and schemas.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
    StringKind,
};
use tf_provider::{AttributePath, AttributePathStep, Diagnostics};

use super::numbers::{normalize_numbers, NumberShape};
use super::proto;

/// msgpack's encoding of nil, which is how the protocol says "no object".
const MSGPACK_NIL: u8 = 0xc0;

/// A value Terraform sent that does not match the schema: a protocol error,
/// reported as a diagnostic rather than a failed call.
#[derive(Debug, thiserror::Error)]
#[error("{what} does not match the provider's schema: {reason}")]
pub struct DecodeError {
    what: &'static str,
    reason: String,
}

impl DecodeError {
    pub fn report(&self, diags: &mut Diagnostics) {
        let advice = if self.what.contains("state") {
            "Check that Terraform runs the provider version that wrote this state."
        } else {
            "Run `terraform init -upgrade` so Terraform and the provider agree on the schema."
        };
        diags.root_error(
            "Unreadable value from Terraform",
            format!("{self}. {advice}"),
        );
    }
}

/// Decodes a dynamic value; `None` when Terraform sent no object (null).
pub fn decode<T: DeserializeOwned>(
    what: &'static str,
    value: Option<&proto::DynamicValue>,
) -> Result<Option<T>, DecodeError> {
    decode_numbers(what, value, None, &mut Diagnostics::default())
}

/// Decodes a value that came from the configuration: numbers are read exactly
/// as Terraform encodes them, and one that no attribute can hold is reported
/// in `diags` on its attribute (see `numbers`).
pub fn decode_input<T: DeserializeOwned>(
    what: &'static str,
    value: Option<&proto::DynamicValue>,
    shape: &NumberShape,
    diags: &mut Diagnostics,
) -> Result<Option<T>, DecodeError> {
    decode_numbers(what, value, Some(shape), diags)
}

fn decode_numbers<T: DeserializeOwned>(
    what: &'static str,
    value: Option<&proto::DynamicValue>,
    shape: Option<&NumberShape>,
    diags: &mut Diagnostics,
) -> Result<Option<T>, DecodeError> {
    let Some(value) = value else { return Ok(None) };
    let failed = |reason: String| DecodeError { what, reason };
    if !value.msgpack.is_empty() {
        if value.msgpack == [MSGPACK_NIL] {
            return Ok(None);
        }
        let decoded = match shape {
            Some(shape) => rmp_serde::from_slice(&normalize_numbers(&value.msgpack, shape, diags)),
            None => rmp_serde::from_slice(&value.msgpack),
        };
        return decoded.map(Some).map_err(|e| failed(e.to_string()));
    }
    if value.json.is_empty() || value.json == b"null" {
        return Ok(None);
    }
    serde_json::from_slice(&value.json)
        .map(Some)
        .map_err(|e| failed(e.to_string()))
}

/// Decodes a configuration, which is an object for every well-formed request;
/// a null one becomes the default.
pub fn decode_config<T: DeserializeOwned + Default>(
    what: &'static str,
    value: Option<&proto::DynamicValue>,
    shape: &NumberShape,
    diags: &mut Diagnostics,
) -> Result<T, DecodeError> {
    decode_input(what, value, shape, diags).map(Option::unwrap_or_default)
}

/// Encodes a value as msgpack, the encoding Terraform prefers.
pub fn encode<T: Serialize>(value: &T) -> proto::DynamicValue {
    proto::DynamicValue {
        // The provider's own state types always serialize; a failure here is a
        // programming error, surfaced as a null object Terraform rejects loudly.
        msgpack: rmp_serde::to_vec_named(value).unwrap_or_else(|_| vec![MSGPACK_NIL]),
        json: Vec::new(),
    }
}

/// The null object: "this resource does not exist".
pub fn null() -> proto::DynamicValue {
    proto::DynamicValue {
        msgpack: vec![MSGPACK_NIL],
        json: Vec::new(),
    }
}

pub fn attribute_path(path: &AttributePath) -> proto::AttributePath {
    use proto::attribute_path::step::Selector;
    proto::AttributePath {
        steps: path
            .steps
            .iter()
            .map(|step| proto::attribute_path::Step {
                selector: Some(match step {
                    AttributePathStep::Attribute(name) => Selector::AttributeName(name.to_string()),
                    AttributePathStep::Key(key) => Selector::ElementKeyString(key.to_string()),
                    AttributePathStep::Index(index) => Selector::ElementKeyInt(*index),
                }),
            })
            .collect(),
    }
}

pub fn diagnostics(diags: Diagnostics) -> Vec<proto::Diagnostic> {
    use proto::diagnostic::Severity;
    let convert = |severity: Severity| {
        move |diag: tf_provider::Diagnostic| proto::Diagnostic {
            severity: severity as i32,
            summary: diag.summary.into_owned(),
            detail: diag.detail.into_owned(),
            attribute: (!diag.attribute.steps.is_empty()).then(|| attribute_path(&diag.attribute)),
        }
    };
    let errors = diags.errors.into_iter().map(convert(Severity::Error));
    let warnings = diags.warnings.into_iter().map(convert(Severity::Warning));
    errors.chain(warnings).collect()
}

/// The protocol's form of `schema`, with the attributes at the paths in
/// `write_only` (attribute and block names joined by dots, as `app.user_data_wo`)
/// marked write-only: the `tf-provider` schema types have no such flag.
pub fn schema(schema: &Schema, write_only: &[&str]) -> proto::Schema {
    let marks = WriteOnly {
        paths: write_only,
        prefix: String::new(),
    };
    proto::Schema {
        version: schema.version,
        block: Some(block(&schema.block, &marks)),
    }
}

/// Which attributes are write-only, and the path of the block being converted.
struct WriteOnly<'a> {
    paths: &'a [&'a str],
    prefix: String,
}

impl WriteOnly<'_> {
    fn within(&self, name: &str) -> WriteOnly<'_> {
        WriteOnly {
            paths: self.paths,
            prefix: format!("{}{name}.", self.prefix),
        }
    }

    fn marks(&self, name: &str) -> bool {
        self.paths
            .contains(&format!("{}{name}", self.prefix).as_str())
    }
}

fn string_kind(description: &Description) -> i32 {
    match description.kind {
        StringKind::Plain => proto::StringKind::Plain as i32,
        StringKind::Markdown => proto::StringKind::Markdown as i32,
    }
}

/// Map entries in name order, so the schema Terraform receives is stable.
fn sorted<V>(map: &HashMap<String, V>) -> Vec<(&String, &V)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn block(block: &Block, write_only: &WriteOnly) -> proto::schema::Block {
    proto::schema::Block {
        version: block.version,
        attributes: attributes(&block.attributes, write_only),
        block_types: sorted(&block.blocks)
            .into_iter()
            .map(|(name, nested)| nested_block(name, nested, &write_only.within(name)))
            .collect(),
        description: block.description.content.clone(),
        description_kind: string_kind(&block.description),
        deprecated: block.deprecated,
    }
}

fn nested_block(
    name: &str,
    nested: &NestedBlock,
    write_only: &WriteOnly,
) -> proto::schema::NestedBlock {
    use proto::schema::nested_block::NestingMode;
    let (nesting, min_items, max_items, inner) = match nested {
        NestedBlock::Single(b) => (NestingMode::Single, 1, 1, b),
        NestedBlock::List(b) => (NestingMode::List, 0, 0, b),
        NestedBlock::Set(b) => (NestingMode::Set, 0, 0, b),
        NestedBlock::Map(b) => (NestingMode::Map, 0, 0, b),
        NestedBlock::Group(b) => (NestingMode::Group, 0, 0, b),
        // An optional single block is a list of at most one, as in the state.
        NestedBlock::Optional(b) => (NestingMode::List, 0, 1, b),
    };
    proto::schema::NestedBlock {
        type_name: name.to_string(),
        block: Some(block(inner, write_only)),
        nesting: nesting as i32,
        min_items,
        max_items,
    }
}

#[allow(deprecated)] // min_items/max_items of nested attribute objects: set to their defaults
fn attributes(
    map: &HashMap<String, Attribute>,
    write_only: &WriteOnly,
) -> Vec<proto::schema::Attribute> {
    use proto::schema::object::NestingMode;
    sorted(map)
        .into_iter()
        .map(|(name, attribute)| {
            let nested = match &attribute.attr_type {
                AttributeType::AttributeSingle(inner) => Some((NestingMode::Single, inner)),
                AttributeType::AttributeList(inner) => Some((NestingMode::List, inner)),
                AttributeType::AttributeSet(inner) => Some((NestingMode::Set, inner)),
                AttributeType::AttributeMap(inner) => Some((NestingMode::Map, inner)),
                _ => None,
            };
            let constraint = &attribute.constraint;
            proto::schema::Attribute {
                name: name.clone(),
                // Nested attributes carry their type in `nested_type` only.
                r#type: match nested {
                    Some(_) => Vec::new(),
                    None => attribute.attr_type.to_string().into_bytes(),
                },
                nested_type: nested.map(|(nesting, inner)| proto::schema::Object {
                    attributes: attributes(inner, &write_only.within(name)),
                    nesting: nesting as i32,
                    min_items: 0,
                    max_items: 0,
                }),
                description: attribute.description.content.clone(),
                required: *constraint == AttributeConstraint::Required,
                optional: matches!(
                    constraint,
                    AttributeConstraint::Optional | AttributeConstraint::OptionalComputed
                ),
                computed: matches!(
                    constraint,
                    AttributeConstraint::Computed | AttributeConstraint::OptionalComputed
                ),
                sensitive: attribute.sensitive,
                write_only: write_only.marks(name),
                description_kind: string_kind(&attribute.description),
                deprecated: attribute.deprecated,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::value::Value;

    #[derive(serde::Serialize, serde::Deserialize, Default, Debug, PartialEq)]
    struct Sample {
        name: Value<String>,
        size: Value<i64>,
    }

    #[test]
    fn msgpack_round_trip_keeps_unknown_and_null() {
        let sample = Sample {
            name: Value::Unknown,
            size: Value::Null,
        };
        let decoded: Option<Sample> = decode("state", Some(&encode(&sample))).unwrap();
        assert_eq!(decoded, Some(sample));
    }

    #[test]
    fn nil_and_absent_values_are_no_object() {
        assert_eq!(decode::<Sample>("state", Some(&null())).unwrap(), None);
        assert_eq!(decode::<Sample>("state", None).unwrap(), None);
        let json_null = proto::DynamicValue {
            msgpack: Vec::new(),
            json: b"null".to_vec(),
        };
        assert_eq!(decode::<Sample>("state", Some(&json_null)).unwrap(), None);
    }

    #[test]
    fn json_values_decode() {
        let json = proto::DynamicValue {
            msgpack: Vec::new(),
            json: br#"{"name":"shop","size":3}"#.to_vec(),
        };
        let decoded: Sample = decode("state", Some(&json)).unwrap().unwrap();
        assert_eq!(decoded.name, Value::Value("shop".to_string()));
        assert_eq!(decoded.size, Value::Value(3));
    }

    #[test]
    fn a_value_of_the_wrong_shape_names_what_it_was() {
        let wrong = encode(&("not", "an", "object"));
        let error = decode::<Sample>("prior state", Some(&wrong)).unwrap_err();
        assert!(error.to_string().starts_with("prior state does not match"));
    }

    #[test]
    fn diagnostics_keep_severity_and_path() {
        let mut diags = Diagnostics::default();
        diags.error(
            "Bad zone",
            "use another",
            AttributePath::new("availability_zones").index(1),
        );
        diags.root_warning("Careful", "detail");
        let converted = diagnostics(diags);
        assert_eq!(converted.len(), 2);
        assert_eq!(
            converted[0].severity,
            proto::diagnostic::Severity::Error as i32
        );
        assert_eq!(converted[0].attribute.as_ref().unwrap().steps.len(), 2);
        assert_eq!(
            converted[1].severity,
            proto::diagnostic::Severity::Warning as i32
        );
        assert!(converted[1].attribute.is_none());
    }

    #[test]
    fn optional_blocks_are_lists_of_at_most_one_in_name_order() {
        let environment = crate::environment::schema::environment_schema();
        let converted = schema(&environment, crate::environment::schema::WRITE_ONLY);
        let block = converted.block.unwrap();
        let names: Vec<&str> = block
            .block_types
            .iter()
            .map(|b| b.type_name.as_str())
            .collect();
        let mut sorted_names = names.clone();
        sorted_names.sort();
        assert_eq!(names, sorted_names);
        let app = block
            .block_types
            .iter()
            .find(|b| b.type_name == "app")
            .unwrap();
        assert_eq!(
            app.nesting,
            proto::schema::nested_block::NestingMode::List as i32
        );
        assert_eq!((app.min_items, app.max_items), (0, 1));
        let tags = block.attributes.iter().find(|a| a.name == "tags").unwrap();
        assert_eq!(tags.r#type, br#"["map","string"]"#);
        assert!(tags.optional && !tags.computed && !tags.required);
    }

    #[test]
    fn write_only_attributes_are_marked_by_path_and_nothing_else_is() {
        use crate::environment::schema::{environment_schema, WRITE_ONLY};
        let converted = schema(&environment_schema(), WRITE_ONLY);
        let mut marked = Vec::new();
        fn collect(block: &proto::schema::Block, prefix: &str, marked: &mut Vec<String>) {
            for attribute in &block.attributes {
                if attribute.write_only {
                    // Terraform refuses write-only attributes that are computed
                    assert!(!attribute.computed, "{}", attribute.name);
                    marked.push(format!("{prefix}{}", attribute.name));
                }
            }
            for nested in &block.block_types {
                let inner = nested.block.as_ref().unwrap();
                collect(inner, &format!("{prefix}{}.", nested.type_name), marked);
            }
        }
        collect(converted.block.as_ref().unwrap(), "", &mut marked);
        assert_eq!(marked, WRITE_ONLY);
        // the same name elsewhere is not marked
        let plain = schema(&environment_schema(), &["user_data_wo"]);
        let mut none = Vec::new();
        collect(plain.block.as_ref().unwrap(), "", &mut none);
        assert!(none.is_empty(), "{none:?}");
    }
}
