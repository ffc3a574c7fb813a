//! Regional NAT gateways (AWS, November 2025), which moto 5.2.1 does not know:
//! the model keeps them itself and answers their calls as AWS does.
//!
//! CreateNatGateway with `AvailabilityMode=regional` names a VPC, no subnet.
//! With `AvailabilityZoneAddress.N` (manual mode: `autoProvisionZones` and
//! `autoScalingIps` `disabled`) each named zone's traffic leaves from that
//! zone's Elastic IPs; without (automatic mode: both `enabled`) AWS picks the
//! zones and addresses itself. AWS answers `pending`, later `available`,
//! with every address `associating`, then `succeeded`; it makes the gateway a
//! route table of its own (`routeTableId`) with a route to the VPC's internet
//! gateway. A `private` connectivity type is silently made `public`.
//! AssociateNatGatewayAddress (with `AvailabilityZone` or
//! `AvailabilityZoneId`) adds a zone's addresses (`associating`, then
//! `succeeded`); DisassociateNatGatewayAddress takes them away
//! (`disassociating`, then gone from `natGatewayAddressSet`), and while one
//! is disassociating AWS takes no other association change. DeleteNatGateway:
//! `deleting`, then `deleted`; the addresses stay associated until then and
//! are not released, and the routes that name the gateway stay (blackholes).
//!
//! moto never sees a regional gateway: DescribeNatGateways is moto's answer
//! with the model's gateways added (by `NatGatewayId.N` and the filters
//! `nat-gateway-id`, `vpc-id`, `subnet-id`, `state`, `tag:<key>`, `tag-key`,
//! `tag-value`), and the zonal ones moto lists are given the
//! `availabilityMode` AWS reports for them (`zonal`). The Elastic IPs a
//! gateway holds are reported associated by DescribeAddresses and refused to
//! ReleaseAddress and AssociateAddress (see [`super::dependencies`]); its VPC
//! is not deleted and its internet gateway not detached while it holds them.
//! moto stores a route to a NAT gateway it does not know without a target:
//! the model remembers it and DescribeRouteTables reports its `natGatewayId`.
//! The gateway's own route table is a real one in moto (so DescribeRouteTables
//! lists it and CreateRoute adds to it), refused to DeleteRouteTable while the
//! gateway lives and removed when it reaches `deleted`.
//!
//! What AWS does not document is marked "(AWS does not say)" where the model
//! had to choose: the error codes of refused parameter combinations, the
//! durations of an address change, a VPC without an internet gateway (the
//! gateway ends `failed` with `Gateway.NotAttached`, as a zonal one does),
//! and the automatic mode's addresses (the model gives it none).

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use aws_sdk_ec2::types::Filter;

use super::clock::{
    NAT_ADDRESS_ASSOCIATING, NAT_ADDRESS_DISASSOCIATING, NAT_DELETING, NAT_PENDING,
};
use super::instance_connect::{
    dry_run, filters, invalid, members, missing, request_id, tags_to_create, timestamp, wildcard,
    NS,
};
use super::world::{nat_state, World};
use super::xml::{Document, Element};
use super::{escape, idempotency, Call, Model, Refusal, Verdict};

/// The filters DescribeNatGateways knows (and `tag:<key>`).
const FILTERS: &[&str] = &[
    "nat-gateway-id",
    "state",
    "subnet-id",
    "vpc-id",
    "tag-key",
    "tag-value",
];

/// A regional NAT gateway: `pending` until `available_at`, then `available`
/// (or `failed`); after DeleteNatGateway `deleting` until `deleted_at`.
#[derive(Clone, Debug)]
pub struct RegionalNat {
    pub id: String,
    pub vpc: String,
    region: String,
    /// the route table AWS made for it (none when it failed)
    route_table: Option<String>,
    pub tags: Vec<(String, String)>,
    /// automatic mode: AWS manages the zones and addresses
    automatic: bool,
    /// `createTime` as AWS writes it
    created: String,
    created_at: Instant,
    available_at: Instant,
    deleted_at: Option<Instant>,
    /// `deleteTime` as AWS writes it
    deleted: Option<String>,
    /// AWS's `failureCode` and `failureMessage` when it ends `failed`
    failure: Option<(String, String)>,
    addresses: Vec<Address>,
    /// set once its route table was removed (at `deleted` or `failed`)
    cleaned: bool,
}

/// One Elastic IP of a regional gateway, carrying one zone's traffic:
/// `associating` until `succeeded_at`; after its disassociation
/// `disassociating` until `gone_at`, then no longer listed.
#[derive(Clone, Debug)]
pub struct Address {
    pub allocation: String,
    public_ip: String,
    zone: String,
    zone_id: String,
    pub association: String,
    succeeded_at: Instant,
    gone_at: Option<Instant>,
}

impl Address {
    /// Its `status`, `None` once it is gone.
    fn status(&self, now: Instant) -> Option<&'static str> {
        match self.gone_at {
            Some(at) if now >= at => None,
            Some(_) => Some("disassociating"),
            None if now < self.succeeded_at => Some("associating"),
            None => Some("succeeded"),
        }
    }

    /// The `NatGatewayAddress` item as AWS answers it (AWS gives a regional
    /// gateway's address no network interface or private IP of the customer's).
    fn item(&self, now: Instant) -> String {
        format!(
            "<item><allocationId>{}</allocationId><publicIp>{}</publicIp><associationId>{}</associationId><status>{}</status><availabilityZone>{}</availabilityZone><availabilityZoneId>{}</availabilityZoneId></item>",
            escape(&self.allocation),
            escape(&self.public_ip),
            self.association,
            self.status(now).unwrap_or("succeeded"),
            escape(&self.zone),
            escape(&self.zone_id),
        )
    }
}

impl RegionalNat {
    pub fn state(&self, now: Instant) -> &'static str {
        nat_state(
            self.available_at,
            self.deleted_at,
            self.failure.is_some(),
            now,
        )
    }

    /// Until it is deleted (or has failed) it holds its addresses, its route
    /// table and its VPC.
    pub fn live(&self, now: Instant) -> bool {
        !matches!(self.state(now), "deleted" | "failed")
    }

    /// The addresses it holds now: those not gone, while it is live.
    pub fn held_addresses(&self, now: Instant) -> impl Iterator<Item = &Address> {
        let holds = self.live(now);
        self.addresses
            .iter()
            .filter(move |a| holds && a.status(now).is_some())
    }

    /// The addresses `natGatewayAddressSet` lists: those not gone.
    fn listed_addresses(&self, now: Instant) -> impl Iterator<Item = &Address> {
        self.addresses
            .iter()
            .filter(move |a| a.status(now).is_some())
    }

    /// The `NatGateway` structure's elements as AWS answers them.
    fn fields(&self, now: Instant) -> String {
        let state = self.state(now);
        let deleted = self
            .deleted
            .as_ref()
            .filter(|_| matches!(state, "deleting" | "deleted"))
            .map(|t| format!("<deleteTime>{t}</deleteTime>"))
            .unwrap_or_default();
        let failure = self
            .failure
            .as_ref()
            .filter(|_| state == "failed")
            .map(|(code, message)| {
                format!(
                    "<failureCode>{}</failureCode><failureMessage>{}</failureMessage>",
                    escape(code),
                    escape(message)
                )
            })
            .unwrap_or_default();
        let addresses: String = self.listed_addresses(now).map(|a| a.item(now)).collect();
        let tags = super::tagging::tag_set_items(&self.tags);
        let mode = if self.automatic {
            "enabled"
        } else {
            "disabled"
        };
        let route_table = self
            .route_table
            .as_ref()
            .map(|r| format!("<routeTableId>{r}</routeTableId>"))
            .unwrap_or_default();
        format!(
            "<createTime>{created}</createTime>{deleted}{failure}\
             <natGatewayAddressSet>{addresses}</natGatewayAddressSet>\
             <natGatewayId>{id}</natGatewayId>\
             <state>{state}</state>\
             <vpcId>{vpc}</vpcId>\
             <tagSet>{tags}</tagSet>\
             <connectivityType>public</connectivityType>\
             <availabilityMode>regional</availabilityMode>\
             <autoScalingIps>{mode}</autoScalingIps>\
             <autoProvisionZones>{mode}</autoProvisionZones>{route_table}",
            created = self.created,
            id = self.id,
            vpc = escape(&self.vpc),
        )
    }

    /// Its structure as an element called `name` (`item`, `natGateway`).
    fn element(&self, name: &str, now: Instant) -> Option<Element> {
        let doc = Document::parse(&format!("<{name}>{}</{name}>", self.fields(now)))?;
        Some(doc.root)
    }

    /// Whether filter `name` with `values` (any of them, with EC2's wildcards)
    /// selects the gateway.
    fn selects(&self, name: &str, values: &[String], now: Instant) -> bool {
        let any = |text: &str| values.iter().any(|v| wildcard(v, text));
        match name {
            "nat-gateway-id" => any(&self.id),
            "state" => any(self.state(now)),
            // it has no subnet
            "subnet-id" => false,
            "vpc-id" => any(&self.vpc),
            "tag-key" => self.tags.iter().any(|(k, _)| any(k)),
            "tag-value" => self.tags.iter().any(|(_, v)| any(v)),
            _ => {
                let key = name.strip_prefix("tag:").unwrap_or_default();
                self.tags.iter().any(|(k, v)| k == key && any(v))
            }
        }
    }
}

/// The model's own answer to a call about a regional NAT gateway.
pub async fn answer(model: &Model, call: &Call) -> Option<Verdict> {
    if call.service != "ec2" {
        return None;
    }
    let named = call.param("NatGatewayId").unwrap_or_default();
    let ours = || model.state().world.regional_nats.contains_key(named);
    let verdict = match call.action.as_str() {
        "CreateNatGateway" if call.param("AvailabilityMode") == Some("regional") => {
            create(model, call).await
        }
        "DeleteNatGateway" if ours() => delete(model, call, named),
        "AssociateNatGatewayAddress" if ours() => associate(model, call, named).await,
        "DisassociateNatGatewayAddress" if ours() => disassociate(model, call, named),
        _ => return None,
    };
    Some(verdict.unwrap_or_else(Verdict::Refuse))
}

/// AWS's refusal of a zonal gateway's parameter on a regional one (AWS does
/// not say which code; the model answers as EC2 does other combinations).
fn not_regional(parameter: &str) -> Refusal {
    Refusal::new(
        400,
        "InvalidParameterCombination",
        &format!("The parameter {parameter} is not supported for a regional NAT gateway."),
    )
}

async fn create(model: &Model, call: &Call) -> Result<Verdict, Refusal> {
    // a regional gateway lives in no subnet and takes its addresses per zone
    for parameter in [
        "SubnetId",
        "AllocationId",
        "PrivateIpAddress",
        "SecondaryPrivateIpAddressCount",
    ] {
        if call.param(parameter).is_some() {
            return Err(not_regional(parameter));
        }
    }
    for list in ["SecondaryAllocationId", "SecondaryPrivateIpAddress"] {
        if !call.list(list).is_empty() {
            return Err(not_regional(list));
        }
    }
    let vpc = call
        .param("VpcId")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("VpcId"))?
        .to_string();
    let tags = tags_to_create(call, "natgateway")?;
    let asked = zone_addresses(call)?;
    let known = model
        .api
        .ec2
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .is_ok_and(|out| !out.vpcs().is_empty());
    if !known {
        return Err(Refusal::new(
            400,
            "InvalidVpcID.NotFound",
            &format!("The vpc ID '{vpc}' does not exist"),
        ));
    }
    let zones = zones(model).await;
    let mut planned: Vec<(Zone, String, String)> = Vec::new();
    for (named, allocations) in &asked {
        let zone = resolve(&zones, named, &call.region)?;
        if planned.iter().any(|(z, _, _)| z.name == zone.name) {
            return Err(invalid(&format!(
                "The Availability Zone {} is named more than once.",
                zone.name
            )));
        }
        for allocation in allocations {
            planned.push((zone.clone(), allocation.clone(), String::new()));
        }
    }
    for i in 0..planned.len() {
        let allocation = planned[i].1.clone();
        if planned[..i].iter().any(|(_, a, _)| *a == allocation) {
            return Err(invalid(&format!(
                "The allocation ID '{allocation}' is named more than once."
            )));
        }
        planned[i].2 = free_address(model, &allocation).await?;
    }
    let gateway = internet_gateway(model, &vpc).await;
    dry_run(call)?;

    let failure = match &gateway {
        None => Some((
            "Gateway.NotAttached".to_string(),
            format!("Network {vpc} has no Internet gateway attached"),
        )),
        Some(_) => model.state().nat_failure.clone(),
    };
    // AWS makes the gateway its route table, with a route to the internet gateway
    let route_table = match (&gateway, &failure) {
        (Some(igw), None) => Some(own_route_table(model, &vpc, igw).await?),
        _ => None,
    };

    let now = Instant::now();
    let mut guard = model.state();
    let state = &mut *guard;
    let id = format!("nat-{}", state.rng.hex(17));
    let available_at = now + state.clock.scaled(NAT_PENDING);
    let addresses = planned
        .into_iter()
        .map(|(zone, allocation, public_ip)| Address {
            allocation,
            public_ip,
            zone: zone.name,
            zone_id: zone.id,
            association: format!("eipassoc-{}", state.rng.hex(17)),
            succeeded_at: available_at,
            gone_at: None,
        })
        .collect();
    let gateway = RegionalNat {
        id: id.clone(),
        vpc,
        region: call.region.clone(),
        route_table,
        tags,
        automatic: asked.is_empty(),
        created: timestamp(SystemTime::now()),
        created_at: now,
        available_at,
        deleted_at: None,
        deleted: None,
        failure,
        addresses,
        cleaned: false,
    };
    let token = call
        .param("ClientToken")
        .filter(|t| !t.is_empty())
        .map(|t| format!("<clientToken>{}</clientToken>", escape(t)))
        .unwrap_or_default();
    let answer = format!(
        "<CreateNatGatewayResponse xmlns=\"{NS}\"><requestId>{}</requestId>{token}<natGateway>{}</natGateway></CreateNatGatewayResponse>",
        request_id(),
        gateway.fields(now),
    );
    state.world.regional_nats.insert(id.clone(), gateway);
    state.recent.note(&id, now);
    idempotency::remember(&mut state.client_tokens, call, &answer);
    Ok(Verdict::Answer(answer))
}

/// `AvailabilityZoneAddress.N`: per entry its zone (name or ID, as given) and
/// allocation IDs, in order.
fn zone_addresses(call: &Call) -> Result<Vec<(String, Vec<String>)>, Refusal> {
    members(call, "AvailabilityZoneAddress")
        .into_values()
        .map(|fields| {
            let zone = fields
                .get("AvailabilityZone")
                .or_else(|| fields.get("AvailabilityZoneId"))
                .cloned()
                .ok_or_else(|| missing("AvailabilityZoneAddress.AvailabilityZone"))?;
            let allocations = indexed(&fields, "AllocationId.");
            if allocations.is_empty() {
                return Err(missing("AvailabilityZoneAddress.AllocationId"));
            }
            Ok((zone, allocations))
        })
        .collect()
}

/// The values of `prefix1`, `prefix2`, ... among a member's fields, in order.
fn indexed(fields: &BTreeMap<String, String>, prefix: &str) -> Vec<String> {
    let mut found: Vec<(u32, String)> = fields
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix(prefix)?.parse().ok()?, value.clone())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, v)| v).collect()
}

/// An Availability Zone: its name and its ID.
#[derive(Clone, Debug)]
struct Zone {
    name: String,
    id: String,
}

/// The region's zones, as moto knows them.
async fn zones(model: &Model) -> Vec<Zone> {
    let Ok(out) = model.api.ec2.describe_availability_zones().send().await else {
        return Vec::new();
    };
    out.availability_zones()
        .iter()
        .map(|z| Zone {
            name: z.zone_name().unwrap_or_default().to_string(),
            id: z.zone_id().unwrap_or_default().to_string(),
        })
        .collect()
}

/// The zone named (by name or ID) in the call's region.
fn resolve(zones: &[Zone], named: &str, region: &str) -> Result<Zone, Refusal> {
    zones
        .iter()
        .find(|z| (z.name == named || z.id == named) && z.name.starts_with(region))
        .cloned()
        .ok_or_else(|| {
            invalid(&format!(
                "Value ({named}) for parameter availabilityZone is invalid. The Availability Zone is not in region {region}."
            ))
        })
}

/// The public IP of Elastic IP `allocation` when nothing holds it: AWS's
/// refusal when it does not exist or is associated (to an instance, an
/// interface or another NAT gateway), in the words of its NAT failure codes.
async fn free_address(model: &Model, allocation: &str) -> Result<String, Refusal> {
    let found = model
        .api
        .ec2
        .describe_addresses()
        .allocation_ids(allocation)
        .send()
        .await
        .ok()
        .and_then(|out| out.addresses().first().cloned())
        .ok_or_else(|| {
            Refusal::new(
                400,
                "InvalidAllocationID.NotFound",
                &format!("The allocation ID '{allocation}' does not exist"),
            )
        })?;
    let held = model
        .state()
        .world
        .allocation_holder(allocation, Instant::now());
    if found.association_id().is_some() || held.is_some() {
        return Err(Refusal::new(
            400,
            "Resource.AlreadyAssociated",
            &format!("Elastic IP address {allocation} is already associated"),
        ));
    }
    Ok(found.public_ip().unwrap_or_default().to_string())
}

/// The internet gateway attached to `vpc`, if any.
async fn internet_gateway(model: &Model, vpc: &str) -> Option<String> {
    let out = model
        .api
        .ec2
        .describe_internet_gateways()
        .filters(
            Filter::builder()
                .name("attachment.vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .ok()?;
    out.internet_gateways()
        .first()?
        .internet_gateway_id()
        .map(str::to_string)
}

/// The route table AWS makes a new regional gateway: in its VPC, with the
/// default route to the internet gateway.
async fn own_route_table(model: &Model, vpc: &str, gateway: &str) -> Result<String, Refusal> {
    let ec2 = &model.api.ec2;
    let table = ec2
        .create_route_table()
        .vpc_id(vpc)
        .send()
        .await
        .map_err(super::instance_connect::refusal_of)?
        .route_table
        .and_then(|t| t.route_table_id)
        .unwrap_or_default();
    ec2.create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(gateway)
        .send()
        .await
        .map_err(super::instance_connect::refusal_of)?;
    Ok(table)
}

fn not_found(id: &str) -> Refusal {
    Refusal::new(
        400,
        "NatGatewayNotFound",
        &format!("The Nat Gateway {id} was not found"),
    )
}

/// AWS's refusal of an address change on a gateway in `state` (AWS does not
/// say which code; the model answers as EC2 does other wrong-state calls).
fn incorrect_state(id: &str, why: &str) -> Refusal {
    Refusal::new(
        400,
        "IncorrectState",
        &format!("The NAT gateway {id} {why}."),
    )
}

fn delete(model: &Model, call: &Call, id: &str) -> Result<Verdict, Refusal> {
    dry_run(call)?;
    let now = Instant::now();
    let mut guard = model.state();
    let state = &mut *guard;
    let clock = state.clock;
    let gateway = state
        .world
        .regional_nats
        .get_mut(id)
        .filter(|g| g.state(now) != "deleted")
        .ok_or_else(|| not_found(id))?;
    // a repeated delete answers as the first did
    if gateway.deleted_at.is_none() {
        gateway.deleted_at = Some(now + clock.scaled(NAT_DELETING));
        gateway.deleted = Some(timestamp(SystemTime::now()));
    }
    Ok(Verdict::Answer(format!(
        "<DeleteNatGatewayResponse xmlns=\"{NS}\"><requestId>{}</requestId><natGatewayId>{id}</natGatewayId></DeleteNatGatewayResponse>",
        request_id()
    )))
}

/// Refuses an address change unless the gateway is `pending` or `available`
/// and no address is disassociating ("While disassociating is in progress,
/// you cannot associate/disassociate additional EIPs").
fn changeable(gateway: &RegionalNat, now: Instant) -> Result<(), Refusal> {
    let state = gateway.state(now);
    if !matches!(state, "pending" | "available") {
        return Err(incorrect_state(&gateway.id, &format!("is {state}")));
    }
    if gateway
        .listed_addresses(now)
        .any(|a| a.status(now) == Some("disassociating"))
    {
        return Err(incorrect_state(
            &gateway.id,
            "has Elastic IP addresses being disassociated; try again once they are",
        ));
    }
    Ok(())
}

/// The `natGatewayAddressSet` answer of an address change.
fn address_answer(action: &str, id: &str, addresses: &[Address], now: Instant) -> Verdict {
    let items: String = addresses.iter().map(|a| a.item(now)).collect();
    Verdict::Answer(format!(
        "<{action}Response xmlns=\"{NS}\"><requestId>{}</requestId><natGatewayId>{id}</natGatewayId><natGatewayAddressSet>{items}</natGatewayAddressSet></{action}Response>",
        request_id()
    ))
}

async fn associate(model: &Model, call: &Call, id: &str) -> Result<Verdict, Refusal> {
    let allocations = call.list("AllocationId");
    if allocations.is_empty() {
        return Err(missing("AllocationId"));
    }
    let named = call
        .param("AvailabilityZone")
        .or_else(|| call.param("AvailabilityZoneId"))
        .ok_or_else(|| missing("AvailabilityZone"))?;
    let zone = resolve(&zones(model).await, named, &call.region)?;
    let mut public_ips = Vec::new();
    for (i, allocation) in allocations.iter().enumerate() {
        if allocations[..i].contains(allocation) {
            return Err(invalid(&format!(
                "The allocation ID '{allocation}' is named more than once."
            )));
        }
        public_ips.push(free_address(model, allocation).await?);
    }
    dry_run(call)?;
    let now = Instant::now();
    let mut guard = model.state();
    let state = &mut *guard;
    let gateway = state
        .world
        .regional_nats
        .get(id)
        .ok_or_else(|| not_found(id))?;
    changeable(gateway, now)?;
    let succeeded_at = gateway
        .available_at
        .max(now + state.clock.scaled(NAT_ADDRESS_ASSOCIATING));
    let added: Vec<Address> = allocations
        .into_iter()
        .zip(public_ips)
        .map(|(allocation, public_ip)| Address {
            allocation,
            public_ip,
            zone: zone.name.clone(),
            zone_id: zone.id.clone(),
            association: format!("eipassoc-{}", state.rng.hex(17)),
            succeeded_at,
            gone_at: None,
        })
        .collect();
    if let Some(gateway) = state.world.regional_nats.get_mut(id) {
        gateway.addresses.extend(added.iter().cloned());
    }
    Ok(address_answer(&call.action, id, &added, now))
}

fn disassociate(model: &Model, call: &Call, id: &str) -> Result<Verdict, Refusal> {
    let associations = call.list("AssociationId");
    if associations.is_empty() {
        return Err(missing("AssociationId"));
    }
    // AWS waits for the connections to drain, at most this long
    let drain = match call.param("MaxDrainDurationSeconds") {
        None => 350.0,
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .ok_or_else(|| {
                invalid(&format!(
                    "Value ({text}) for parameter MaxDrainDurationSeconds is invalid."
                ))
            })?,
    };
    dry_run(call)?;
    let now = Instant::now();
    let mut guard = model.state();
    let state = &mut *guard;
    let gone_at = now + state.clock.scaled(NAT_ADDRESS_DISASSOCIATING.min(drain));
    let gateway = state
        .world
        .regional_nats
        .get_mut(id)
        .ok_or_else(|| not_found(id))?;
    changeable(gateway, now)?;
    if let Some(unknown) = associations.iter().find(|association| {
        !gateway
            .listed_addresses(now)
            .any(|a| a.association == **association)
    }) {
        return Err(Refusal::new(
            400,
            "InvalidAssociationID.NotFound",
            &format!("The association ID '{unknown}' does not exist"),
        ));
    }
    let mut taken = Vec::new();
    for address in &mut gateway.addresses {
        if associations.contains(&address.association) && address.status(now).is_some() {
            address.gone_at = Some(gone_at);
            taken.push(address.clone());
        }
    }
    Ok(address_answer(&call.action, id, &taken, now))
}

/// Learns the routes that name a regional gateway (moto stores them without
/// a target) and forgets those replaced or deleted.
pub fn learn(world: &mut World, call: &Call) {
    let table = call.param("RouteTableId").unwrap_or_default().to_string();
    let destination = || {
        [
            "DestinationCidrBlock",
            "DestinationIpv6CidrBlock",
            "DestinationPrefixListId",
        ]
        .into_iter()
        .find_map(|p| call.param(p))
        .unwrap_or_default()
        .to_string()
    };
    match call.key().as_str() {
        "ec2:CreateRoute" | "ec2:ReplaceRoute" => {
            let key = (table, destination());
            match call.param("NatGatewayId") {
                Some(nat) if world.regional_nats.contains_key(nat) => {
                    world.regional_routes.insert(key, nat.to_string());
                }
                _ => {
                    world.regional_routes.remove(&key);
                }
            }
        }
        "ec2:DeleteRoute" => {
            world.regional_routes.remove(&(table, destination()));
        }
        "ec2:DeleteRouteTable" => world.regional_routes.retain(|(t, _), _| *t != table),
        _ => {}
    }
}

/// DescribeNatGateways: moto's zonal gateways with the mode AWS reports for
/// them, and the model's regional ones the call selects, added to the last
/// page of moto's answer.
pub fn merge(world: &World, call: &Call, answer: &mut Element, now: Instant) {
    if call.key() != "ec2:DescribeNatGateways" {
        return;
    }
    let Some(set) = answer
        .children
        .iter_mut()
        .find(|c| c.name == "natGatewaySet")
    else {
        return;
    };
    for item in &mut set.children {
        if item.child("availabilityMode").is_none() {
            item.set_path(&["availabilityMode"], "zonal");
        }
    }
    if answer
        .child_text("nextToken")
        .is_some_and(|t| !t.is_empty())
    {
        return;
    }
    // moto has answered already: a filter it let pass selects nothing of ours
    let Ok(filters) = filters(call, FILTERS) else {
        return;
    };
    let ids = call.list("NatGatewayId");
    let mut found: Vec<&RegionalNat> = world
        .regional_nats
        .values()
        .filter(|g| g.region == call.region)
        .filter(|g| ids.is_empty() || ids.contains(&g.id))
        .filter(|g| filters.iter().all(|(n, v)| g.selects(n, v, now)))
        .collect();
    found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let Some(set) = answer
        .children
        .iter_mut()
        .find(|c| c.name == "natGatewaySet")
    else {
        return;
    };
    set.children
        .extend(found.iter().filter_map(|g| g.element("item", now)));
}

/// Reports what moto cannot: a replayed create's gateway as it is now, the
/// `natGatewayId` of routes to a regional gateway (a blackhole once it is
/// deleted or failed), and the Elastic IPs a regional gateway holds as associated.
pub fn rewrite(world: &World, call: &Call, answer: &mut Element, now: Instant) {
    match call.key().as_str() {
        "ec2:CreateNatGateway" => {
            for child in &mut answer.children {
                let id = child.child_text("natGatewayId").unwrap_or_default();
                if let Some(fresh) = world
                    .regional_nats
                    .get(id)
                    .and_then(|g| g.element(&child.name, now))
                {
                    *child = fresh;
                }
            }
        }
        "ec2:DescribeRouteTables" => {
            answer.for_each_with_child("routeTableId", &mut |table, item| {
                let Some(routes) = item.children.iter_mut().find(|c| c.name == "routeSet") else {
                    return;
                };
                for route in &mut routes.children {
                    let destination = [
                        "destinationCidrBlock",
                        "destinationIpv6CidrBlock",
                        "destinationPrefixListId",
                    ]
                    .into_iter()
                    .find_map(|name| route.child_text(name))
                    .unwrap_or_default()
                    .to_string();
                    let key = (table.to_string(), destination);
                    let Some(nat) = world.regional_routes.get(&key) else {
                        continue;
                    };
                    let live = world.regional_nats.get(nat).is_some_and(|g| g.live(now));
                    route.set_path(&["natGatewayId"], nat);
                    route.set_path(&["state"], if live { "active" } else { "blackhole" });
                }
            });
        }
        "ec2:DescribeAddresses" => {
            answer.for_each_with_child("allocationId", &mut |allocation, item| {
                if let Some((_, association)) = world.regional_address(allocation, now) {
                    item.set_path(&["associationId"], association);
                }
            });
        }
        _ => {}
    }
}

/// The route tables of regional gateways that reached `deleted` (or ended
/// `failed`), which AWS removes with them (each is reported once).
pub fn due_route_tables(world: &mut World, now: Instant) -> Vec<String> {
    world
        .regional_nats
        .values_mut()
        .filter(|g| !g.cleaned && !g.live(now))
        .filter_map(|g| {
            g.cleaned = true;
            g.route_table.clone()
        })
        .collect()
}

/// The live regional gateway whose own route table is `table`, if any.
pub fn route_table_owner(world: &World, table: &str, now: Instant) -> Option<String> {
    world
        .regional_nats
        .values()
        .find(|g| g.route_table.as_deref() == Some(table) && g.live(now))
        .map(|g| g.id.clone())
}
