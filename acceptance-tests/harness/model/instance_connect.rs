//! EC2 Instance Connect Endpoints, which moto does not implement: the model
//! keeps them itself and answers their calls as AWS does.
//!
//! CreateInstanceConnectEndpoint checks its subnet and security groups with
//! moto (the VPC's default group when none is given), enforces AWS's quotas
//! (one endpoint per VPC, one per subnet, five per region; none adjustable)
//! and answers `create-in-progress`; about 60 s later the endpoint is
//! `create-complete` (`create-failed` with a `stateMessage` while the model is
//! told to fail them). AWS does not delete an endpoint while it is being
//! created; once deleted it is `delete-in-progress` for about 30 s, then
//! listed as `delete-complete` for a while before it is gone. Until
//! `delete-complete` its network interface (a fake one: moto never sees it)
//! holds its subnet, its security groups and its VPC (see
//! [`super::dependencies`]). CreateTags and DeleteTags that name endpoints
//! apply to them in the model (see [`super::tagging`]).

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::Filter;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use super::clock::{EICE_CREATING, EICE_DELETED_LISTED, EICE_DELETING};
use super::xml::Document;
use super::{escape, idempotency, Call, Model, Refusal, Verdict};

pub(super) const NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
/// moto's account, which owns everything the model makes.
const ACCOUNT: &str = "123456789012";
/// AWS's quotas, none of them adjustable.
const PER_VPC: usize = 1;
const PER_SUBNET: usize = 1;
const PER_REGION: usize = 5;
/// DescribeInstanceConnectEndpoints' `MaxResults` range.
const MAX_RESULTS: std::ops::RangeInclusive<usize> = 1..=50;
/// AWS takes at most this many security groups per endpoint.
const MAX_GROUPS: usize = 16;

/// One EC2 Instance Connect Endpoint: `create-in-progress` until
/// `complete_at`, then `create-complete` (or `create-failed`); after its
/// deletion `delete-in-progress` until `delete_complete_at`, then
/// `delete-complete`, listed until `gone_at`.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub vpc: String,
    pub subnet: String,
    pub groups: Vec<String>,
    zone: String,
    zone_id: Option<String>,
    region: String,
    /// the random label of its DNS names
    dns_label: String,
    interface: String,
    preserve_client_ip: bool,
    ip_address_type: String,
    tags: Vec<(String, String)>,
    /// `createdAt` as AWS writes it
    created: String,
    created_at: Instant,
    complete_at: Instant,
    /// the `stateMessage` it ends `create-failed` with, if it fails
    failure: Option<String>,
    delete_complete_at: Option<Instant>,
    gone_at: Option<Instant>,
}

impl Endpoint {
    pub fn state(&self, now: Instant) -> &'static str {
        match self.delete_complete_at {
            Some(at) if now < at => "delete-in-progress",
            Some(_) => "delete-complete",
            None if now < self.complete_at => "create-in-progress",
            None if self.failure.is_some() => "create-failed",
            None => "create-complete",
        }
    }

    /// Until `delete-complete` its network interface sits in its subnet, in
    /// its security groups and in its VPC.
    pub fn holds_interface(&self, now: Instant) -> bool {
        self.delete_complete_at.is_none_or(|at| now < at)
    }

    /// Whether AWS still lists it (a `delete-complete` one for a while).
    pub fn listed(&self, now: Instant) -> bool {
        self.gone_at.is_none_or(|at| now < at)
    }

    fn state_message(&self, now: Instant) -> Option<&str> {
        self.failure
            .as_deref()
            .filter(|_| self.state(now) == "create-failed")
    }

    /// The `Ec2InstanceConnectEndpoint` structure's elements as AWS answers them.
    fn fields(&self, now: Instant) -> String {
        let id = &self.id;
        let region = &self.region;
        let label = &self.dns_label;
        let message = self
            .state_message(now)
            .map(|m| format!("<stateMessage>{}</stateMessage>", escape(m)))
            .unwrap_or_default();
        let zone_id = self
            .zone_id
            .as_ref()
            .map(|z| format!("<availabilityZoneId>{}</availabilityZoneId>", escape(z)))
            .unwrap_or_default();
        let groups: String = self
            .groups
            .iter()
            .map(|g| format!("<item>{}</item>", escape(g)))
            .collect();
        let tags = super::tagging::tag_set_items(&self.tags);
        format!(
            "<ownerId>{ACCOUNT}</ownerId>\
             <instanceConnectEndpointId>{id}</instanceConnectEndpointId>\
             <instanceConnectEndpointArn>arn:aws:ec2:{region}:{ACCOUNT}:instance-connect-endpoint/{id}</instanceConnectEndpointArn>\
             <state>{state}</state>{message}\
             <dnsName>{id}.{label}.ec2-instance-connect-endpoint.{region}.amazonaws.com</dnsName>\
             <fipsDnsName>{id}.{label}.fips.ec2-instance-connect-endpoint.{region}.amazonaws.com</fipsDnsName>\
             <networkInterfaceIdSet><item>{interface}</item></networkInterfaceIdSet>\
             <vpcId>{vpc}</vpcId>\
             <availabilityZone>{zone}</availabilityZone>{zone_id}\
             <createdAt>{created}</createdAt>\
             <subnetId>{subnet}</subnetId>\
             <preserveClientIp>{preserve}</preserveClientIp>\
             <securityGroupIdSet>{groups}</securityGroupIdSet>\
             <tagSet>{tags}</tagSet>\
             <ipAddressType>{ip_address_type}</ipAddressType>",
            state = self.state(now),
            interface = self.interface,
            vpc = escape(&self.vpc),
            zone = escape(&self.zone),
            created = self.created,
            subnet = escape(&self.subnet),
            preserve = self.preserve_client_ip,
            ip_address_type = escape(&self.ip_address_type),
        )
    }

    /// Its tags, for CreateTags and DeleteTags (see [`super::tagging`]).
    pub fn tags_mut(&mut self) -> &mut Vec<(String, String)> {
        &mut self.tags
    }
}

/// The model's own answer to a call about EC2 Instance Connect Endpoints.
pub async fn answer(model: &Model, call: &Call) -> Option<Verdict> {
    if call.service != "ec2" {
        return None;
    }
    let verdict = match call.action.as_str() {
        "CreateInstanceConnectEndpoint" => create(model, call).await,
        "DeleteInstanceConnectEndpoint" => delete(model, call),
        "DescribeInstanceConnectEndpoints" => describe(model, call),
        _ => return None,
    };
    Some(verdict.unwrap_or_else(Verdict::Refuse))
}

/// A create answer replayed for a repeated ClientToken reports the endpoint
/// as it is now; EC2 lists each endpoint's network interface (requester
/// managed, of type `ec2_instance_connect_endpoint`) in its subnet until the
/// endpoint is `delete-complete`.
pub fn rewrite(
    world: &super::world::World,
    call: &Call,
    answer: &mut super::xml::Element,
    now: Instant,
) {
    if call.key() == "ec2:DescribeNetworkInterfaces" {
        list_interfaces(world, call, answer, now);
        return;
    }
    if call.key() != "ec2:CreateInstanceConnectEndpoint" {
        return;
    }
    answer.for_each_with_child("instanceConnectEndpointId", &mut |id, item| {
        if let Some(endpoint) = world.instance_connect_endpoints.get(id) {
            item.set_path(&["state"], endpoint.state(now));
            if let Some(message) = endpoint.state_message(now) {
                item.set_path(&["stateMessage"], message);
            }
        }
    });
}

/// Adds the interfaces of the endpoints a DescribeNetworkInterfaces selects
/// by VPC, subnet or ID (moto never sees them). A call with other filters is
/// left as moto answered it.
fn list_interfaces(
    world: &super::world::World,
    call: &Call,
    answer: &mut super::xml::Element,
    now: Instant,
) {
    let Ok(filters) = filters(call, &["vpc-id", "subnet-id", "network-interface-id"]) else {
        return;
    };
    let ids = call.list("NetworkInterfaceId");
    let selected = |e: &Endpoint| {
        let of = |name: &str| -> Option<&str> {
            Some(match name {
                "vpc-id" => &e.vpc,
                "subnet-id" => &e.subnet,
                _ => &e.interface,
            })
        };
        (ids.is_empty() || ids.contains(&e.interface))
            && filters
                .iter()
                .all(|(name, values)| of(name).is_some_and(|v| values.iter().any(|x| x == v)))
    };
    let Some(list) = answer
        .children
        .iter_mut()
        .find(|c| c.name == "networkInterfaceSet")
    else {
        return;
    };
    for endpoint in world.instance_connect_endpoints.values() {
        if endpoint.region != call.region || !endpoint.holds_interface(now) || !selected(endpoint) {
            continue;
        }
        let groups: String = endpoint
            .groups
            .iter()
            .map(|g| format!("<item><groupId>{}</groupId></item>", escape(g)))
            .collect();
        let item = format!(
            "<item><networkInterfaceId>{interface}</networkInterfaceId>\
             <subnetId>{subnet}</subnetId><vpcId>{vpc}</vpcId>\
             <availabilityZone>{zone}</availabilityZone>\
             <description/><ownerId>{ACCOUNT}</ownerId>\
             <requesterManaged>true</requesterManaged><status>in-use</status>\
             <interfaceType>ec2_instance_connect_endpoint</interfaceType>\
             <groupSet>{groups}</groupSet><tagSet/></item>",
            interface = endpoint.interface,
            subnet = escape(&endpoint.subnet),
            vpc = escape(&endpoint.vpc),
            zone = escape(&endpoint.zone),
        );
        if let Some(doc) = super::xml::Document::parse(&item) {
            list.children.push(doc.root);
        }
    }
}

async fn create(model: &Model, call: &Call) -> Result<Verdict, Refusal> {
    let subnet_id = call
        .param("SubnetId")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("SubnetId"))?;
    let tags = tags_to_create(call, "instance-connect-endpoint")?;
    let subnet = model
        .api
        .ec2
        .describe_subnets()
        .subnet_ids(subnet_id)
        .send()
        .await
        .ok()
        .and_then(|out| out.subnets().first().cloned())
        .ok_or_else(|| {
            Refusal::new(
                400,
                "InvalidSubnetID.NotFound",
                &format!("The subnet ID '{subnet_id}' does not exist"),
            )
        })?;
    let vpc = subnet.vpc_id().unwrap_or_default().to_string();
    let groups = security_groups(model, call, &vpc).await?;
    let has_ipv4 = subnet.cidr_block().is_some_and(|c| !c.is_empty());
    let has_ipv6 = subnet
        .ipv6_cidr_block_association_set()
        .iter()
        .any(|a| a.ipv6_cidr_block().is_some());
    let ip_address_type = match call.param("IpAddressType") {
        Some(kind @ ("ipv4" | "dualstack" | "ipv6")) => kind.to_string(),
        Some(other) => {
            return Err(invalid(&format!(
                "Value ({other}) for parameter IpAddressType is invalid. Valid values: ipv4, dualstack, ipv6."
            )))
        }
        // AWS's default follows the subnet's CIDRs
        None if has_ipv4 && has_ipv6 => "dualstack".into(),
        None if has_ipv6 => "ipv6".into(),
        None => "ipv4".into(),
    };
    let preserve_client_ip = call.param("PreserveClientIp") == Some("true");
    if preserve_client_ip && ip_address_type != "ipv4" {
        return Err(Refusal::new(
            400,
            "InvalidParameterCombination",
            "PreserveClientIp is only supported on IPv4 EC2 Instance Connect Endpoints.",
        ));
    }
    dry_run(call)?;

    let now = Instant::now();
    let mut guard = model.state();
    let state = &mut *guard;
    quota(&state.world, &call.region, &vpc, subnet_id, now)?;
    let id = format!("eice-{}", state.rng.hex(17));
    let token = match call.param("ClientToken").filter(|t| !t.is_empty()) {
        Some(token) => token.to_string(),
        None => {
            let hex = state.rng.hex(32);
            format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            )
        }
    };
    let endpoint = Endpoint {
        id: id.clone(),
        vpc,
        subnet: subnet_id.to_string(),
        groups,
        zone: subnet.availability_zone().unwrap_or_default().to_string(),
        zone_id: subnet.availability_zone_id().map(str::to_string),
        region: call.region.clone(),
        dns_label: state.rng.hex(8),
        interface: format!("eni-{}", state.rng.hex(17)),
        preserve_client_ip,
        ip_address_type,
        tags,
        created: timestamp(SystemTime::now()),
        created_at: now,
        complete_at: now + state.clock.scaled(EICE_CREATING),
        failure: state.instance_connect_failure.clone(),
        delete_complete_at: None,
        gone_at: None,
    };
    let answer = format!(
        "<CreateInstanceConnectEndpointResponse xmlns=\"{NS}\"><requestId>{}</requestId><instanceConnectEndpoint>{}</instanceConnectEndpoint><clientToken>{}</clientToken></CreateInstanceConnectEndpointResponse>",
        request_id(),
        endpoint.fields(now),
        escape(&token),
    );
    state
        .world
        .instance_connect_endpoints
        .insert(id.clone(), endpoint);
    state.recent.note(&id, now);
    idempotency::remember(&mut state.client_tokens, call, &answer);
    Ok(Verdict::Answer(answer))
}

/// The endpoint's security groups: those named, each of which must be in
/// `vpc`, or the VPC's default group.
async fn security_groups(model: &Model, call: &Call, vpc: &str) -> Result<Vec<String>, Refusal> {
    let mut named = call.list("SecurityGroupId");
    named.dedup();
    if named.len() > MAX_GROUPS {
        return Err(invalid(&format!(
            "You can specify up to {MAX_GROUPS} security groups for an EC2 Instance Connect Endpoint."
        )));
    }
    if named.is_empty() {
        let by = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
        let default = model
            .api
            .ec2
            .describe_security_groups()
            .filters(by("vpc-id", vpc))
            .filters(by("group-name", "default"))
            .send()
            .await
            .ok()
            .and_then(|out| {
                out.security_groups()
                    .first()?
                    .group_id()
                    .map(str::to_string)
            });
        return default.map(|g| vec![g]).ok_or_else(|| {
            Refusal::new(
                400,
                "InvalidGroup.NotFound",
                &format!("The security group 'default' does not exist in VPC '{vpc}'"),
            )
        });
    }
    for group in &named {
        let found = model
            .api
            .ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .ok()
            .and_then(|out| out.security_groups().first().cloned());
        let in_vpc = found.is_some_and(|g| g.vpc_id() == Some(vpc));
        if !in_vpc {
            return Err(Refusal::new(
                400,
                "InvalidGroup.NotFound",
                &format!("The security group '{group}' does not exist in VPC '{vpc}'"),
            ));
        }
    }
    Ok(named)
}

/// AWS's quotas on endpoints not yet `delete-complete`. AWS does not document
/// the error code it answers with once one is reached; the model uses
/// `InstanceConnectEndpointLimitExceeded`, after EC2's other `*LimitExceeded`.
fn quota(
    world: &super::world::World,
    region: &str,
    vpc: &str,
    subnet: &str,
    now: Instant,
) -> Result<(), Refusal> {
    let live: Vec<&Endpoint> = world
        .instance_connect_endpoints
        .values()
        .filter(|e| e.region == region && e.holds_interface(now))
        .collect();
    let exceeded = |message: String| {
        Err(Refusal::new(
            400,
            "InstanceConnectEndpointLimitExceeded",
            &message,
        ))
    };
    let ids = |f: &dyn Fn(&Endpoint) -> bool| {
        live.iter()
            .filter(|e| f(e))
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if live.iter().filter(|e| e.subnet == subnet).count() >= PER_SUBNET {
        return exceeded(format!(
            "You've reached the maximum number of EC2 Instance Connect Endpoints in subnet {subnet} ({PER_SUBNET}; this quota cannot be increased): {} must be deleted first.",
            ids(&|e| e.subnet == subnet)
        ));
    }
    if live.iter().filter(|e| e.vpc == vpc).count() >= PER_VPC {
        return exceeded(format!(
            "You've reached the maximum number of EC2 Instance Connect Endpoints in VPC {vpc} ({PER_VPC}; this quota cannot be increased): {} must be deleted first.",
            ids(&|e| e.vpc == vpc)
        ));
    }
    if live.len() >= PER_REGION {
        return exceeded(format!(
            "You've reached the maximum number of EC2 Instance Connect Endpoints in region {region} ({PER_REGION}; this quota cannot be increased)."
        ));
    }
    Ok(())
}

fn delete(model: &Model, call: &Call) -> Result<Verdict, Refusal> {
    let id = call
        .param("InstanceConnectEndpointId")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("InstanceConnectEndpointId"))?;
    well_formed(id)?;
    let now = Instant::now();
    let mut guard = model.state();
    let state = &mut *guard;
    let clock = state.clock;
    let endpoint = state
        .world
        .instance_connect_endpoints
        .get_mut(id)
        .filter(|e| e.listed(now))
        .ok_or_else(|| not_found(&[id.to_string()]))?;
    if endpoint.state(now) == "create-in-progress" {
        return Err(Refusal::new(
            400,
            "IncorrectState",
            &format!("The EC2 Instance Connect Endpoint '{id}' is in the create-in-progress state and cannot be deleted until its creation completes."),
        ));
    }
    dry_run(call)?;
    // a repeated delete answers as the first did, with the state it is in now
    if endpoint.delete_complete_at.is_none() {
        let complete = now + clock.scaled(EICE_DELETING);
        endpoint.delete_complete_at = Some(complete);
        endpoint.gone_at = Some(complete + clock.scaled(EICE_DELETED_LISTED));
    }
    Ok(Verdict::Answer(format!(
        "<DeleteInstanceConnectEndpointResponse xmlns=\"{NS}\"><requestId>{}</requestId><instanceConnectEndpoint>{}</instanceConnectEndpoint></DeleteInstanceConnectEndpointResponse>",
        request_id(),
        endpoint.fields(now),
    )))
}

fn describe(model: &Model, call: &Call) -> Result<Verdict, Refusal> {
    let ids = call.list("InstanceConnectEndpointId");
    for id in &ids {
        well_formed(id)?;
    }
    let filters = filters(call, FILTERS)?;
    let max = match call.param("MaxResults") {
        None => None,
        Some(text) => Some(
            text.parse::<usize>()
                .ok()
                .filter(|n| MAX_RESULTS.contains(n))
                .ok_or_else(|| {
                    invalid(&format!(
                        "Value ( {text} ) for parameter maxResults is invalid. Parameter must be between {} and {}.",
                        MAX_RESULTS.start(),
                        MAX_RESULTS.end()
                    ))
                })?,
        ),
    };
    let start = match call.param("NextToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token.parse::<usize>().map_err(|_| {
            Refusal::new(
                400,
                "InvalidPaginationToken",
                &format!("The pagination token '{token}' is invalid."),
            )
        })?,
    };
    dry_run(call)?;

    let now = Instant::now();
    let state = model.state();
    let known = &state.world.instance_connect_endpoints;
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !known.get(id.as_str()).is_some_and(|e| e.listed(now)))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(not_found(&missing));
    }
    let mut found: Vec<&Endpoint> = known
        .values()
        .filter(|e| e.listed(now) && e.region == call.region)
        .filter(|e| ids.is_empty() || ids.contains(&e.id))
        .filter(|e| {
            filters
                .iter()
                .all(|(name, values)| selects(e, name, values, now))
        })
        .collect();
    found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let items: String = found
        .iter()
        .map(|e| format!("<item>{}</item>", e.fields(now)))
        .collect();
    let body = format!(
        "<DescribeInstanceConnectEndpointsResponse xmlns=\"{NS}\"><requestId>{}</requestId><instanceConnectEndpointSet>{items}</instanceConnectEndpointSet></DescribeInstanceConnectEndpointsResponse>",
        request_id()
    );
    let Some(mut doc) = Document::parse(&body) else {
        return Ok(Verdict::Answer(body));
    };
    if let Some(lag) = state.listing_lag {
        state.recent.hide_young(call, &mut doc.root, lag, now);
    }
    drop(state);
    if let Some(set) = doc
        .root
        .children
        .iter_mut()
        .find(|c| c.name == "instanceConnectEndpointSet")
    {
        let total = set.children.len();
        let end = max.map_or(total, |m| (start + m).min(total));
        set.children = set
            .children
            .drain(..)
            .skip(start)
            .take(end.saturating_sub(start))
            .collect();
        if end < total {
            doc.root.set_path(&["nextToken"], &end.to_string());
        }
    }
    Ok(Verdict::Answer(doc.render()))
}

/// Whether filter `name` with `values` (any of them, with EC2's `*` and `?`
/// wildcards) selects the endpoint.
fn selects(e: &Endpoint, name: &str, values: &[String], now: Instant) -> bool {
    let any = |text: &str| values.iter().any(|v| wildcard(v, text));
    match name {
        "instance-connect-endpoint-id" => any(&e.id),
        "state" => any(e.state(now)),
        "subnet-id" => any(&e.subnet),
        "vpc-id" => any(&e.vpc),
        "tag-key" => e.tags.iter().any(|(k, _)| any(k)),
        "tag-value" => e.tags.iter().any(|(_, v)| any(v)),
        _ => {
            let key = name.strip_prefix("tag:").unwrap_or_default();
            e.tags.iter().any(|(k, v)| k == key && any(v))
        }
    }
}

/// The filters DescribeInstanceConnectEndpoints knows (and `tag:<key>`).
const FILTERS: &[&str] = &[
    "instance-connect-endpoint-id",
    "state",
    "subnet-id",
    "vpc-id",
    "tag-key",
    "tag-value",
];

/// The call's filters (`Filter.N.Name`, `Filter.N.Value.M`), refusing a name
/// not in `known` (nor `tag:<key>`).
pub(super) fn filters(call: &Call, known: &[&str]) -> Result<Vec<(String, Vec<String>)>, Refusal> {
    members(call, "Filter")
        .into_values()
        .map(|fields| {
            let name = fields.get("Name").cloned().unwrap_or_default();
            let known = known.contains(&name.as_str())
                || name.strip_prefix("tag:").is_some_and(|k| !k.is_empty());
            if !known {
                return Err(invalid(&format!("The filter '{name}' is invalid")));
            }
            let mut values: Vec<(u32, String)> = fields
                .iter()
                .filter_map(|(field, value)| {
                    Some((field.strip_prefix("Value.")?.parse().ok()?, value.clone()))
                })
                .collect();
            values.sort();
            Ok((name, values.into_iter().map(|(_, v)| v).collect()))
        })
        .collect()
}

/// The tags of `TagSpecification.N` for an object of `kind` (AWS's resource
/// type); AWS refuses a specification for another resource type.
pub(super) fn tags_to_create(call: &Call, kind: &str) -> Result<Vec<(String, String)>, Refusal> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for (n, fields) in members(call, "TagSpecification") {
        let named = fields
            .get("ResourceType")
            .map(String::as_str)
            .unwrap_or_default();
        if named != kind {
            return Err(invalid(&format!(
                "'{named}' is not a valid taggable resource type for this operation."
            )));
        }
        for (_, mut tag) in members(call, &format!("TagSpecification.{n}.Tag")) {
            let key = tag.remove("Key").unwrap_or_default();
            let value = tag.remove("Value").unwrap_or_default();
            if key.to_ascii_lowercase().starts_with("aws:") {
                return Err(invalid(&format!(
                    "Tag key '{key}' is invalid: tag keys starting with 'aws:' are reserved for internal use"
                )));
            }
            match tags.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = value,
                None => tags.push((key, value)),
            }
        }
    }
    Ok(tags)
}

/// The members of list `prefix` (`prefix.N.field...`) by index, each as its
/// fields (`Name`, `Value.1`, `Tag.1.Key`, ...).
pub(super) fn members(call: &Call, prefix: &str) -> BTreeMap<u32, BTreeMap<String, String>> {
    let mut found: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    for (name, value) in &call.params {
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
        let Ok(index) = index.parse() else {
            continue;
        };
        found
            .entry(index)
            .or_default()
            .insert(field.to_string(), value.clone());
    }
    found
}

/// `eice-` and 17 hexadecimal digits, or AWS's Malformed refusal.
pub(super) fn well_formed(id: &str) -> Result<(), Refusal> {
    let hex = id.strip_prefix("eice-").unwrap_or_default();
    if hex.len() == 17 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(());
    }
    Err(Refusal::new(
        400,
        "InvalidInstanceConnectEndpointId.Malformed",
        &format!("Invalid id: \"{id}\" (expecting \"eice-...\")"),
    ))
}

pub(super) fn not_found(ids: &[String]) -> Refusal {
    let message = match ids {
        [id] => format!("The instanceConnectEndpoint ID '{id}' does not exist"),
        _ => format!(
            "The instanceConnectEndpoint IDs '{}' do not exist",
            ids.join(", ")
        ),
    };
    Refusal::new(400, "InvalidInstanceConnectEndpointId.NotFound", &message)
}

pub(super) fn missing(parameter: &str) -> Refusal {
    Refusal::new(
        400,
        "MissingParameter",
        &format!("The request must contain the parameter {parameter}"),
    )
}

pub(super) fn invalid(message: &str) -> Refusal {
    Refusal::new(400, "InvalidParameterValue", message)
}

/// AWS's answer to a call with `DryRun=true` that would have succeeded.
pub(super) fn dry_run(call: &Call) -> Result<(), Refusal> {
    if call.param("DryRun") == Some("true") {
        return Err(Refusal::new(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    Ok(())
}

/// moto's refusal of the resources passed on to it, as the call's answer.
pub(super) fn refusal_of<E: ProvideErrorMetadata>(error: SdkError<E, HttpResponse>) -> Refusal {
    let status = error
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or(500);
    Refusal::new(
        status,
        error.code().unwrap_or("InternalError"),
        error.message().unwrap_or("An internal error has occurred"),
    )
}

/// EC2's wildcards in filter values: `*` any run of characters, `?` one.
pub(super) fn wildcard(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// `createdAt` as AWS writes it: ISO-8601 with milliseconds.
pub(super) fn timestamp(at: SystemTime) -> String {
    let millis = DateTime::from(at).to_millis().unwrap_or_default();
    let seconds = DateTime::from_secs(millis.div_euclid(1000))
        .fmt(Format::DateTime)
        .unwrap_or_default();
    format!(
        "{}.{:03}Z",
        seconds.trim_end_matches('Z'),
        millis.rem_euclid(1000)
    )
}

pub(super) fn request_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("model-{nanos:x}")
}
