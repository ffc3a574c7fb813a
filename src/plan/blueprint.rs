//! The components of an environment and where each one goes, decided from the
//! spec and the resolved zones alone.

use std::collections::{BTreeMap, BTreeSet};

use super::cidr::{carve, CarveError, Cidr, Tier};
use super::security::SgRole;
use super::spec::{EnvironmentSpec, GatewayService, NatStrategy};

/// Logical identity of a component, stored in its `prodvpc:component` tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Vpc,
    InternetGateway,
    /// outbound-only IPv6 for the private subnets, with `ipv6`
    EgressOnlyInternetGateway,
    Subnet(Tier, String),
    PublicRouteTable,
    PrivateRouteTable(String),
    ElasticIp(String),
    NatGateway(String),
    SecurityGroup(SgRole),
    LoadBalancer,
    TargetGroup,
    Listener(&'static str),
    LaunchTemplate,
    AutoScalingGroup,
    ScalingPolicy,
    Bastion,
    InstanceConnectEndpoint,
    GatewayEndpoint(GatewayService),
    FlowLog,
}

/// What a component is, whatever its zone, tier, role or service: the row of
/// the table of components (`apply::components`) that says how it is read,
/// compared and deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Vpc,
    InternetGateway,
    EgressOnlyInternetGateway,
    Subnet,
    PublicRouteTable,
    PrivateRouteTable,
    ElasticIp,
    NatGateway,
    SecurityGroup,
    LoadBalancer,
    TargetGroup,
    Listener,
    LaunchTemplate,
    AutoScalingGroup,
    ScalingPolicy,
    Bastion,
    InstanceConnectEndpoint,
    GatewayEndpoint,
    FlowLog,
}

/// The listener role (`http`, `https`) of a load balancer port: 80 and 443
/// are the environment's listeners; any other is not, whoever made it.
pub fn listener_role(port: i32) -> Option<&'static str> {
    match port {
        80 => Some("http"),
        443 => Some("https"),
        _ => None,
    }
}

impl Component {
    pub fn kind(&self) -> Kind {
        match self {
            Component::Vpc => Kind::Vpc,
            Component::InternetGateway => Kind::InternetGateway,
            Component::EgressOnlyInternetGateway => Kind::EgressOnlyInternetGateway,
            Component::Subnet(..) => Kind::Subnet,
            Component::PublicRouteTable => Kind::PublicRouteTable,
            Component::PrivateRouteTable(_) => Kind::PrivateRouteTable,
            Component::ElasticIp(_) => Kind::ElasticIp,
            Component::NatGateway(_) => Kind::NatGateway,
            Component::SecurityGroup(_) => Kind::SecurityGroup,
            Component::LoadBalancer => Kind::LoadBalancer,
            Component::TargetGroup => Kind::TargetGroup,
            Component::Listener(_) => Kind::Listener,
            Component::LaunchTemplate => Kind::LaunchTemplate,
            Component::AutoScalingGroup => Kind::AutoScalingGroup,
            Component::ScalingPolicy => Kind::ScalingPolicy,
            Component::Bastion => Kind::Bastion,
            Component::InstanceConnectEndpoint => Kind::InstanceConnectEndpoint,
            Component::GatewayEndpoint(_) => Kind::GatewayEndpoint,
            Component::FlowLog => Kind::FlowLog,
        }
    }

    /// The tag value, e.g. `subnet/private/us-east-1a`.
    pub fn key(&self) -> String {
        match self {
            Component::Vpc => "vpc".into(),
            Component::InternetGateway => "igw".into(),
            Component::EgressOnlyInternetGateway => "eigw".into(),
            Component::Subnet(tier, zone) => format!("subnet/{}/{zone}", tier.as_str()),
            Component::PublicRouteTable => "rtb/public".into(),
            Component::PrivateRouteTable(zone) => format!("rtb/private/{zone}"),
            Component::ElasticIp(zone) => format!("eip/{zone}"),
            Component::NatGateway(zone) => format!("nat/{zone}"),
            Component::SecurityGroup(role) => format!("sg/{}", role.as_str()),
            Component::LoadBalancer => "alb".into(),
            Component::TargetGroup => "tg".into(),
            Component::Listener(protocol) => format!("listener/{protocol}"),
            Component::LaunchTemplate => "lt".into(),
            Component::AutoScalingGroup => "asg".into(),
            Component::ScalingPolicy => "policy/cpu".into(),
            Component::Bastion => "bastion".into(),
            Component::InstanceConnectEndpoint => "eice".into(),
            Component::GatewayEndpoint(service) => format!("vpce/{}", service.as_str()),
            Component::FlowLog => "flowlog".into(),
        }
    }
}

/// The keys of the NAT gateways under a strategy: the zones that hold a zonal
/// one (in name order), or [`NatStrategy::REGIONAL_KEY`] for the regional one.
pub fn nat_zones(nat: NatStrategy, zones: &[String]) -> Vec<String> {
    match nat {
        NatStrategy::OnePerAz => zones.to_vec(),
        NatStrategy::Single => zones.iter().min().cloned().into_iter().collect(),
        NatStrategy::None => Vec::new(),
        NatStrategy::Regional => vec![NatStrategy::REGIONAL_KEY.to_string()],
    }
}

/// The zones with an Elastic IP of the NAT gateways: each zonal gateway's,
/// or every zone for the regional gateway, which has an address per zone.
pub fn address_zones(nat: NatStrategy, zones: &[String]) -> Vec<String> {
    match nat {
        NatStrategy::Regional => zones.to_vec(),
        zonal => nat_zones(zonal, zones),
    }
}

/// The key of the NAT gateway a private subnet's default route points to, if any.
pub fn nat_for_zone(nat: NatStrategy, zones: &[String], zone: &str) -> Option<String> {
    match nat {
        NatStrategy::OnePerAz => Some(zone.to_string()),
        NatStrategy::Single => zones.iter().min().cloned(),
        NatStrategy::None => None,
        NatStrategy::Regional => Some(NatStrategy::REGIONAL_KEY.to_string()),
    }
}

/// An environment laid out over concrete zones.
#[derive(Clone, Debug, PartialEq)]
pub struct Blueprint {
    pub zones: Vec<String>,
    pub subnets: BTreeMap<(Tier, String), Cidr>,
    /// the keys of the NAT gateways (see [`nat_zones`])
    pub nat_zones: Vec<String>,
    /// the zones of their Elastic IPs (see [`address_zones`])
    pub address_zones: Vec<String>,
    pub listeners: Vec<&'static str>,
    pub components: BTreeSet<Component>,
}

/// Lays the spec out over `zones` (sorted and deduplicated here).
pub fn blueprint(spec: &EnvironmentSpec, zones: &[String]) -> Result<Blueprint, CarveError> {
    let mut zones = zones.to_vec();
    zones.sort();
    zones.dedup();
    let subnets = carve(spec.vpc_cidr, &zones, &spec.subnet_cidrs)?;
    let nat_zones = nat_zones(spec.nat, &zones);
    let address_zones = address_zones(spec.nat, &zones);
    let listeners: Vec<&'static str> = if spec.load_balancer.certificate_arn.is_some() {
        vec!["http", "https"]
    } else {
        vec!["http"]
    };
    let mut components: BTreeSet<Component> = [
        Component::Vpc,
        Component::InternetGateway,
        Component::PublicRouteTable,
        Component::SecurityGroup(SgRole::Alb),
        Component::SecurityGroup(SgRole::App),
        Component::LoadBalancer,
        Component::TargetGroup,
        Component::LaunchTemplate,
        Component::AutoScalingGroup,
        Component::ScalingPolicy,
    ]
    .into_iter()
    .collect();
    for key in subnets.keys() {
        components.insert(Component::Subnet(key.0, key.1.clone()));
    }
    for zone in &zones {
        components.insert(Component::PrivateRouteTable(zone.clone()));
    }
    for key in &nat_zones {
        components.insert(Component::NatGateway(key.clone()));
    }
    for zone in &address_zones {
        components.insert(Component::ElasticIp(zone.clone()));
    }
    for listener in &listeners {
        components.insert(Component::Listener(listener));
    }
    if spec.bastion.is_some() {
        components.insert(Component::SecurityGroup(SgRole::Bastion));
        components.insert(Component::Bastion);
    }
    if spec.instance_connect_endpoint {
        components.insert(Component::SecurityGroup(SgRole::InstanceConnect));
        components.insert(Component::InstanceConnectEndpoint);
    }
    for service in &spec.endpoints.services {
        components.insert(Component::GatewayEndpoint(*service));
    }
    if spec.flow_logs.is_some() {
        components.insert(Component::FlowLog);
    }
    if spec.ipv6 {
        components.insert(Component::EgressOnlyInternetGateway);
    }
    Ok(Blueprint {
        zones,
        subnets,
        nat_zones,
        address_zones,
        listeners,
        components,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::spec::*;

    pub(crate) fn sample_spec() -> EnvironmentSpec {
        EnvironmentSpec {
            name: "shop-prod".into(),
            vpc_cidr: "10.20.0.0/16".parse().unwrap(),
            zones: ZoneChoice::Count(2),
            subnet_cidrs: BTreeMap::new(),
            nat: NatStrategy::OnePerAz,
            app: AppSpec {
                port: 8080,
                ..AppSpec::default()
            },
            load_balancer: LoadBalancerSpec::default(),
            bastion: Some(BastionSpec {
                instance_type: "t3.nano".into(),
                ssh_ingress_cidrs: vec!["203.0.113.0/24".parse().unwrap()],
                ssh_ingress_ipv6_cidrs: Vec::new(),
                key_name: None,
                ami_id: None,
                iam_instance_profile: None,
            }),
            instance_connect_endpoint: false,
            ipv6: false,
            ipv6_subnet_cidrs: BTreeMap::new(),
            dhcp_options: None,
            endpoints: EndpointsSpec::default(),
            flow_logs: None,
            tags: BTreeMap::new(),
            ignored_tags: Default::default(),
            timeouts: Timeouts::default(),
        }
    }

    fn zones() -> Vec<String> {
        vec![
            "us-east-1b".into(),
            "us-east-1a".into(),
            "us-east-1c".into(),
        ]
    }

    #[test]
    fn gateway_endpoints_follow_the_services() {
        let mut spec = sample_spec();
        let keys = |spec: &EnvironmentSpec| -> Vec<String> {
            blueprint(spec, &zones())
                .unwrap()
                .components
                .iter()
                .map(Component::key)
                .filter(|k| k.starts_with("vpce/"))
                .collect()
        };
        assert_eq!(keys(&spec), ["vpce/s3", "vpce/dynamodb"]);
        spec.endpoints.services.remove(&GatewayService::S3);
        assert_eq!(keys(&spec), ["vpce/dynamodb"]);
        spec.endpoints.services.clear();
        assert!(keys(&spec).is_empty());
    }

    #[test]
    fn nat_strategies_place_gateways() {
        let z = zones();
        assert_eq!(nat_zones(NatStrategy::OnePerAz, &z).len(), 3);
        assert_eq!(
            nat_zones(NatStrategy::Single, &z),
            vec!["us-east-1a".to_string()]
        );
        assert!(nat_zones(NatStrategy::None, &z).is_empty());
        assert_eq!(
            nat_for_zone(NatStrategy::Single, &z, "us-east-1c").as_deref(),
            Some("us-east-1a")
        );
        assert_eq!(
            nat_for_zone(NatStrategy::OnePerAz, &z, "us-east-1c").as_deref(),
            Some("us-east-1c")
        );
        assert_eq!(nat_for_zone(NatStrategy::None, &z, "us-east-1c"), None);
    }

    #[test]
    fn blueprint_lists_every_component() {
        let bp = blueprint(&sample_spec(), &zones()).unwrap();
        assert_eq!(bp.zones, vec!["us-east-1a", "us-east-1b", "us-east-1c"]);
        let count = |f: fn(&Component) -> bool| bp.components.iter().filter(|c| f(c)).count();
        assert_eq!(count(|c| matches!(c, Component::Subnet(..))), 6);
        assert_eq!(count(|c| matches!(c, Component::NatGateway(_))), 3);
        assert_eq!(count(|c| matches!(c, Component::PrivateRouteTable(_))), 3);
        assert!(bp.components.contains(&Component::Bastion));
        assert_eq!(bp.listeners, vec!["http"]);
        assert_eq!(
            Component::Subnet(Tier::Private, "us-east-1a".into()).key(),
            "subnet/private/us-east-1a"
        );
    }

    #[test]
    fn a_regional_gateway_is_one_with_an_address_in_every_zone() {
        let mut spec = sample_spec();
        spec.nat = NatStrategy::Regional;
        let bp = blueprint(&spec, &zones()).unwrap();
        let gateways: Vec<String> = bp
            .components
            .iter()
            .filter(|c| matches!(c, Component::NatGateway(_)))
            .map(Component::key)
            .collect();
        assert_eq!(gateways, ["nat/regional"]);
        assert_eq!(bp.address_zones, bp.zones);
        let addresses = bp
            .components
            .iter()
            .filter(|c| matches!(c, Component::ElasticIp(_)))
            .count();
        assert_eq!(addresses, 3);
        // every private subnet routes to it
        for zone in &bp.zones {
            assert_eq!(
                nat_for_zone(NatStrategy::Regional, &bp.zones, zone).as_deref(),
                Some(NatStrategy::REGIONAL_KEY)
            );
        }
    }

    #[test]
    fn no_bastion_no_nat() {
        let mut spec = sample_spec();
        spec.bastion = None;
        spec.nat = NatStrategy::None;
        let bp = blueprint(&spec, &zones()).unwrap();
        assert!(!bp.components.contains(&Component::Bastion));
        assert!(!bp
            .components
            .contains(&Component::SecurityGroup(SgRole::Bastion)));
        assert!(!bp
            .components
            .iter()
            .any(|c| matches!(c, Component::NatGateway(_) | Component::ElasticIp(_))));
    }
}
