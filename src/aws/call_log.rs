//! One DEBUG log line per AWS call: service, operation, the object it
//! concerns, how long it took with how many attempts, the request id AWS gave
//! it and the error code it ended with. Registered on every SDK client, so a
//! user reading `TF_LOG_PROVIDER=debug` sees what the provider asked of AWS
//! without the SDK's own internals. It also keeps the calls in flight of an
//! operation run under [`InFlight::tracking`], so a timeout can say which
//! answers it was still waiting for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::plan::spec::TAG_COMPONENT;

/// The AWS calls an operation has in flight, by call number: `ec2.DescribeNatGateways (nat-1)`.
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<Mutex<BTreeMap<u64, String>>>);

tokio::task_local! {
    /// The calls in flight of the operation the current task runs.
    static IN_FLIGHT: InFlight;
}

impl InFlight {
    /// Runs `work`, recording the AWS calls it makes until each is answered.
    pub async fn tracking<F: std::future::Future>(&self, work: F) -> F::Output {
        IN_FLIGHT.scope(self.clone(), work).await
    }

    /// The calls still unanswered, oldest first: the first few, and how many more.
    pub fn pending(&self) -> Vec<String> {
        const SHOWN: usize = 4;
        let calls: Vec<String> = self
            .0
            .lock()
            .map(|calls| calls.values().cloned().collect())
            .unwrap_or_default();
        let mut shown: Vec<String> = calls.iter().take(SHOWN).cloned().collect();
        if calls.len() > SHOWN {
            shown.push(format!("{} more", calls.len() - SHOWN));
        }
        shown
    }

    /// Applies `change` to the current task's calls, when it tracks them.
    fn with_current(change: impl FnOnce(&mut BTreeMap<u64, String>)) {
        let _ = IN_FLIGHT.try_with(|in_flight| {
            if let Ok(mut calls) = in_flight.0.lock() {
                change(&mut calls);
            }
        });
    }
}

/// The number of a call, for [`InFlight`].
#[derive(Debug, Clone, Copy)]
struct CallNumber(u64);

impl Storable for CallNumber {
    type Storer = StoreReplace<Self>;
}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// `service.Operation`, from the call's metadata.
fn call_name(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>()
        .map(|m| (m.service().to_string(), m.name().to_string()))
        .unwrap_or_default()
}

/// The SDK interceptor that writes the line (see the module docs), and
/// tells the pacing of a throttling answer.
#[derive(Debug)]
pub struct AwsCallLog {
    /// whose buckets the client's calls draw from (see [`super::pace::scope`])
    pacing: std::sync::Arc<str>,
}

impl AwsCallLog {
    pub fn new(pacing: std::sync::Arc<str>) -> AwsCallLog {
        AwsCallLog { pacing }
    }
}

/// When the call started.
#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// What the call is about, read from the request before it is sent (the
/// request itself is gone once it has been transmitted).
#[derive(Debug, Clone)]
struct Concerns(String);

impl Storable for Concerns {
    type Storer = StoreReplace<Self>;
}

/// The attempts of a call that failed and were retried: the codes they met
/// (`RequestLimitExceeded`, `Throttling`, `timeout`, ...) and how long the
/// call waited between attempts, so a slow call's line says why it was slow.
#[derive(Debug, Clone, Default)]
struct Retries {
    codes: Vec<String>,
    waited: std::time::Duration,
    /// when the last failed attempt ended
    failed_at: Option<Instant>,
}

impl Storable for Retries {
    type Storer = StoreReplace<Self>;
}

impl Intercept for AwsCallLog {
    fn name(&self) -> &'static str {
        "AwsCallLog"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let object = context
            .request()
            .body()
            .bytes()
            .map(|body| object_of(&String::from_utf8_lossy(body)))
            .unwrap_or_default();
        // a retried attempt is serialized again: the call keeps its number
        if cfg.load::<CallNumber>().is_none() {
            let number = CALLS.fetch_add(1, Ordering::Relaxed);
            cfg.interceptor_state().store_put(CallNumber(number));
            let (service, operation) = call_name(cfg);
            let call = match object.is_empty() {
                true => format!("{service}.{operation}"),
                false => format!("{service}.{operation} ({object})"),
            };
            InFlight::with_current(|calls| {
                calls.insert(number, call);
            });
        }
        if !object.is_empty() {
            cfg.interceptor_state().store_put(Concerns(object));
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(mut retries) = cfg.load::<Retries>().cloned() {
            if let Some(failed_at) = retries.failed_at.take() {
                retries.waited += failed_at.elapsed();
                cfg.interceptor_state().store_put(retries);
            }
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(code) = error_code(context) {
            if crate::error::classify(&code) == crate::error::ErrorClass::Throttled {
                let (service, operation) = call_name(cfg);
                super::pace::throttled(&self.pacing, &service, &operation);
            }
            let mut retries = cfg.load::<Retries>().cloned().unwrap_or_default();
            retries.codes.push(code);
            retries.failed_at = Some(Instant::now());
            cfg.interceptor_state().store_put(retries);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallNumber(number)) = cfg.load::<CallNumber>().copied() {
            InFlight::with_current(|calls| {
                calls.remove(&number);
            });
        }
        if !tracing::enabled!(target: "prodvpc::aws", tracing::Level::DEBUG) {
            return Ok(());
        }
        let (service, operation) = call_name(cfg);
        let duration_ms = cfg
            .load::<Started>()
            .map(|started| started.0.elapsed().as_millis() as u64);
        let attempts = cfg.load::<RequestAttempts>().map(|a| a.attempts());
        let object = cfg.load::<Concerns>().map(|c| c.0.as_str());
        let response = context.response();
        let body = response
            .and_then(|r| r.body().bytes())
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let request_id = response
            .and_then(|r| {
                ["x-amzn-requestid", "x-amz-request-id"]
                    .iter()
                    .find_map(|header| r.headers().get(*header))
            })
            .map(str::to_string)
            .or_else(|| xml_element(&body, &["RequestId", "requestId", "RequestID"]));
        let error = error_code(context);
        let retries = cfg.load::<Retries>();
        let message = format!("AWS call {service}.{operation}");
        tracing::debug!(
            target: "prodvpc::aws",
            service = service.as_str(),
            operation = operation.as_str(),
            object = object,
            duration_ms = duration_ms,
            attempts = attempts,
            request_id = request_id.as_deref(),
            error_code = error.as_deref(),
            retried_on = retries.map(|r| r.codes.join(",")),
            retry_wait_ms = retries.map(|r| r.waited.as_millis() as u64),
            "{message}"
        );
        Ok(())
    }
}

/// The code a failed call or attempt ended with: AWS's error code, else what
/// kept an answer from coming; `None` when it succeeded.
fn error_code(context: &FinalizerInterceptorContextRef<'_>) -> Option<String> {
    let response = context.response();
    let body = response
        .and_then(|r| r.body().bytes())
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    match context.output_or_error() {
        Some(Err(failure)) => Some(xml_element(&body, &["Code"]).unwrap_or_else(|| {
            if failure.is_timeout_error() {
                "timeout".to_string()
            } else if failure.is_connector_error() {
                "connection failed".to_string()
            } else if let Some(status) = response.map(|r| r.status().as_u16()) {
                format!("HTTP {status}")
            } else {
                "no response".to_string()
            }
        })),
        _ => None,
    }
}

/// The first `<name>text</name>` of an XML body, for any of `names`.
fn xml_element(body: &str, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find('<')? + start;
        Some(body[start..end].trim().to_string()).filter(|text| !text.is_empty())
    })
}

/// At most this many values of one parameter are shown.
const MAX_VALUES: usize = 3;

/// What a query-protocol request (EC2, Auto Scaling and ELBv2 all use one)
/// concerns, as `key=value` pairs: the provider's component tag on a create
/// call, top-level identifiers (`VpcId`, `SubnetId.1`, `LoadBalancerArn`,
/// `AutoScalingGroupName`, `Name` ...), and describe filters
/// (`vpc-id=vpc-123`). Empty when the request names nothing.
pub fn object_of(form_body: &str) -> String {
    let params: Vec<(String, String)> = form_body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (percent_decode(key), percent_decode(value)))
        .collect();
    let mut shown: Vec<(String, Vec<String>)> = Vec::new();
    // a value repeated (the component tag of each TagSpecification a launch
    // template's create sends, for the template, its instances and volumes) is shown once
    let mut show = |name: &str, value: &str| match shown.iter_mut().find(|(n, _)| n == name) {
        Some((_, values)) if values.iter().any(|v| v == value) => {}
        Some((_, values)) => values.push(value.to_string()),
        None => shown.push((name.to_string(), vec![value.to_string()])),
    };
    // a tag is sent as `<prefix>.Key=<key>` next to `<prefix>.Value=<value>`
    let value_beside = |key: &str, from: &str, to: &str| {
        let sibling = format!("{}{to}", key.strip_suffix(from)?);
        params.iter().find(|(k, _)| *k == sibling).map(|(_, v)| v)
    };
    for (key, value) in &params {
        if value == TAG_COMPONENT {
            if let Some(component) = value_beside(key, "Key", "Value") {
                show("component", component);
            }
        }
    }
    for (key, value) in &params {
        let segments: Vec<&str> = key
            .split('.')
            .filter(|s| *s != "member" && !s.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        match segments.as_slice() {
            [name] if names_an_object(name) => show(name, value),
            // `Filter.1.Name=vpc-id` with `Filter.1.Value.1=vpc-123`
            ["Filter", "Name"] => params
                .iter()
                .filter(|(k, _)| {
                    k.strip_prefix(key.trim_end_matches("Name"))
                        .is_some_and(|rest| rest.starts_with("Value."))
                })
                .for_each(|(_, filter_value)| show(value, filter_value)),
            _ => {}
        }
    }
    shown
        .iter()
        .map(|(name, values)| {
            let more = values.len().saturating_sub(MAX_VALUES);
            let listed = values[..values.len() - more].join(",");
            match more {
                0 => format!("{name}={listed}"),
                _ => format!("{name}={listed} (+{more} more)"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a top-level parameter names the object a call is about.
fn names_an_object(parameter: &str) -> bool {
    let singular = parameter.strip_suffix('s').unwrap_or(parameter);
    singular.ends_with("Id")
        || singular.ends_with("Arn")
        || matches!(
            singular,
            "Name" | "AutoScalingGroupName" | "LaunchTemplateName" | "PolicyName"
        )
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_call_names_its_component_and_parent() {
        let body = "Action=CreateSubnet&Version=2016-11-15&VpcId=vpc-0abc&CidrBlock=10.0.0.0%2F20\
            &TagSpecification.1.ResourceType=subnet\
            &TagSpecification.1.Tag.1.Key=prodvpc%3Aenvironment&TagSpecification.1.Tag.1.Value=shop\
            &TagSpecification.1.Tag.2.Key=prodvpc%3Acomponent\
            &TagSpecification.1.Tag.2.Value=subnet%2Fpublic%2Fus-east-1a";
        assert_eq!(
            object_of(body),
            "component=subnet/public/us-east-1a VpcId=vpc-0abc"
        );
    }

    #[test]
    fn a_component_tagged_on_several_resource_types_is_named_once() {
        let tag = |n: u32, resource: &str| {
            format!(
                "&TagSpecification.{n}.ResourceType={resource}\
                 &TagSpecification.{n}.Tag.1.Key=prodvpc%3Acomponent&TagSpecification.{n}.Tag.1.Value=lt"
            )
        };
        let body = format!(
            "Action=CreateLaunchTemplate&LaunchTemplateName=shop-app{}{}{}",
            tag(1, "launch-template"),
            tag(2, "instance"),
            tag(3, "volume")
        );
        assert_eq!(object_of(&body), "component=lt LaunchTemplateName=shop-app");
    }

    #[test]
    fn identifiers_lists_and_filters_are_named() {
        assert_eq!(
            object_of("Action=DeleteSubnet&SubnetId=subnet-1&Version=2016-11-15"),
            "SubnetId=subnet-1"
        );
        assert_eq!(
            object_of("Action=DescribeTargetHealth&TargetGroupArn=arn%3Aaws%3Atg"),
            "TargetGroupArn=arn:aws:tg"
        );
        assert_eq!(
            object_of("Action=DescribeAutoScalingGroups&AutoScalingGroupNames.member.1=shop-app"),
            "AutoScalingGroupNames=shop-app"
        );
        assert_eq!(
            object_of(
                "Action=DescribeSubnets&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1\
                 &Filter.2.Name=tag%3Aprodvpc%3Aenvironment&Filter.2.Value.1=shop"
            ),
            "vpc-id=vpc-1 tag:prodvpc:environment=shop"
        );
        assert_eq!(
            object_of("Action=DescribeInstances&InstanceId.1=i-1&InstanceId.2=i-2&InstanceId.3=i-3&InstanceId.4=i-4&InstanceId.5=i-5"),
            "InstanceId=i-1,i-2,i-3 (+2 more)"
        );
        assert_eq!(
            object_of("Action=DescribeAvailabilityZones&Version=2016-11-15"),
            ""
        );
    }

    #[test]
    fn form_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%3A"), "a/b c:");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn xml_elements() {
        let body = "<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code></Error></Errors><RequestID>r-1</RequestID></Response>";
        assert_eq!(
            xml_element(body, &["Code"]).as_deref(),
            Some("InvalidVpcID.NotFound")
        );
        assert_eq!(
            xml_element(body, &["RequestId", "RequestID"]).as_deref(),
            Some("r-1")
        );
        assert_eq!(xml_element(body, &["Missing"]), None);
    }
}
