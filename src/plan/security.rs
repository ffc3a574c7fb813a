//! The environment's security groups and their rules, as data.

use std::collections::{BTreeMap, BTreeSet};

use super::cidr::Cidr;
use super::ipv6::Ipv6Cidr;
use super::spec::EnvironmentSpec;

/// SSH, the only port the bastion and the app accept from admins.
pub const SSH_PORT: u16 = 22;

/// The role of a security group in the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SgRole {
    Alb,
    App,
    Bastion,
    /// the EC2 Instance Connect Endpoint's
    InstanceConnect,
}

impl SgRole {
    pub const ALL: [SgRole; 4] = [
        SgRole::Alb,
        SgRole::App,
        SgRole::Bastion,
        SgRole::InstanceConnect,
    ];

    /// Key in `security_group_ids` and in component tags.
    pub fn as_str(&self) -> &'static str {
        match self {
            SgRole::Alb => "alb",
            SgRole::App => "app",
            SgRole::Bastion => "bastion",
            SgRole::InstanceConnect => "eice",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            SgRole::Alb => "Load balancer: listener ports from the allowed CIDRs",
            SgRole::App => "App instances: app port from the load balancer, SSH from the bastion or the Instance Connect Endpoint",
            SgRole::Bastion => "Bastion: SSH from the admin CIDRs",
            SgRole::InstanceConnect => "EC2 Instance Connect Endpoint: SSH to the app instances only",
        }
    }

    pub fn parse(text: &str) -> Option<SgRole> {
        SgRole::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// Where allowed traffic comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Cidr(Cidr),
    Ipv6Cidr(Ipv6Cidr),
    Group(SgRole),
}

/// One TCP ingress rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IngressRule {
    pub port: u16,
    pub source: Source,
}

impl std::fmt::Display for IngressRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::Cidr(cidr) => write!(f, "tcp/{} from {cidr}", self.port),
            Source::Ipv6Cidr(cidr) => write!(f, "tcp/{} from {cidr}", self.port),
            Source::Group(role) => write!(f, "tcp/{} from sg/{}", self.port, role.as_str()),
        }
    }
}

/// Exactly the ingress rules each security group must have; nothing else is allowed in.
pub fn ingress_rules(spec: &EnvironmentSpec) -> BTreeMap<SgRole, BTreeSet<IngressRule>> {
    let mut rules: BTreeMap<SgRole, BTreeSet<IngressRule>> = BTreeMap::new();
    let alb = rules.entry(SgRole::Alb).or_default();
    for port in spec.load_balancer.listener_ports() {
        let ipv4 = spec
            .load_balancer
            .ingress_cidrs
            .iter()
            .map(|c| Source::Cidr(*c));
        let ipv6 = spec
            .load_balancer
            .ingress_ipv6_cidrs
            .iter()
            .map(|c| Source::Ipv6Cidr(*c));
        for source in ipv4.chain(ipv6) {
            alb.insert(IngressRule { port, source });
        }
    }
    let app = rules.entry(SgRole::App).or_default();
    app.insert(IngressRule {
        port: spec.app.port,
        source: Source::Group(SgRole::Alb),
    });
    if let Some(bastion) = &spec.bastion {
        app.insert(IngressRule {
            port: SSH_PORT,
            source: Source::Group(SgRole::Bastion),
        });
        rules.insert(
            SgRole::Bastion,
            bastion
                .ssh_ingress_cidrs
                .iter()
                .map(|cidr| Source::Cidr(*cidr))
                .chain(
                    bastion
                        .ssh_ingress_ipv6_cidrs
                        .iter()
                        .map(|cidr| Source::Ipv6Cidr(*cidr)),
                )
                .map(|source| IngressRule {
                    port: SSH_PORT,
                    source,
                })
                .collect(),
        );
    }
    if spec.instance_connect_endpoint {
        rules.entry(SgRole::App).or_default().insert(IngressRule {
            port: SSH_PORT,
            source: Source::Group(SgRole::InstanceConnect),
        });
        // AWS does not evaluate an endpoint group's inbound rules: none is kept
        rules.insert(SgRole::InstanceConnect, BTreeSet::new());
    }
    rules
}

/// The one rule a group's outbound traffic is limited to, or `None` for AWS's
/// default (all traffic anywhere): the Instance Connect Endpoint may open SSH
/// to the app instances and nothing else.
pub fn egress_only(role: SgRole) -> Option<IngressRule> {
    match role {
        SgRole::InstanceConnect => Some(IngressRule {
            port: SSH_PORT,
            source: Source::Group(SgRole::App),
        }),
        SgRole::Alb | SgRole::App | SgRole::Bastion => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::blueprint::tests::sample_spec;

    #[test]
    fn rules_match_the_product_contract() {
        let spec = sample_spec();
        let rules = ingress_rules(&spec);
        let text = |role| -> Vec<String> { rules[&role].iter().map(|r| r.to_string()).collect() };
        assert_eq!(text(SgRole::Alb), vec!["tcp/80 from 0.0.0.0/0"]);
        assert_eq!(
            text(SgRole::App),
            vec!["tcp/22 from sg/bastion", "tcp/8080 from sg/alb"]
        );
        assert_eq!(text(SgRole::Bastion), vec!["tcp/22 from 203.0.113.0/24"]);
    }

    #[test]
    fn ipv6_blocks_open_the_same_ports_as_ipv4_ones() {
        let mut spec = sample_spec();
        spec.ipv6 = true;
        spec.load_balancer.ingress_ipv6_cidrs = vec![Ipv6Cidr::ANY];
        spec.bastion.as_mut().unwrap().ssh_ingress_ipv6_cidrs =
            vec!["2001:db8::/48".parse().unwrap()];
        let rules = ingress_rules(&spec);
        let text = |role| -> Vec<String> { rules[&role].iter().map(|r| r.to_string()).collect() };
        assert_eq!(
            text(SgRole::Alb),
            vec!["tcp/80 from 0.0.0.0/0", "tcp/80 from ::/0"]
        );
        assert_eq!(
            text(SgRole::Bastion),
            vec!["tcp/22 from 203.0.113.0/24", "tcp/22 from 2001:db8::/48"]
        );
    }

    #[test]
    fn https_opens_both_listener_ports_and_no_bastion_means_no_ssh() {
        let mut spec = sample_spec();
        spec.load_balancer.certificate_arn = Some("arn:aws:acm:us-east-1:1:certificate/x".into());
        spec.bastion = None;
        let rules = ingress_rules(&spec);
        assert_eq!(rules[&SgRole::Alb].len(), 2);
        assert!(!rules.contains_key(&SgRole::Bastion));
        assert!(rules[&SgRole::App].iter().all(|r| r.port != SSH_PORT));
    }

    #[test]
    fn the_instance_connect_endpoint_alone_reaches_the_app_by_ssh() {
        let mut spec = sample_spec();
        spec.bastion = None;
        spec.instance_connect_endpoint = true;
        let rules = ingress_rules(&spec);
        let text = |role| -> Vec<String> { rules[&role].iter().map(|r| r.to_string()).collect() };
        assert_eq!(
            text(SgRole::App),
            vec!["tcp/22 from sg/eice", "tcp/8080 from sg/alb"]
        );
        assert!(rules[&SgRole::InstanceConnect].is_empty());
        assert_eq!(
            egress_only(SgRole::InstanceConnect).map(|r| r.to_string()),
            Some("tcp/22 from sg/app".to_string())
        );
        assert_eq!(egress_only(SgRole::App), None);
    }
}
