//! The regional NAT gateway (`nat_gateways = "regional"`): one gateway for the
//! VPC with an Elastic IP per zone, every private subnet routed to it; an
//! address taken away out of band is seen and given back; switching to zonal
//! gateways and back keeps the addresses; import reads the strategy back; and
//! destroy leaves no gateway, table or address behind.

use aws_sdk_ec2::types::Filter;

use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Api, Live};

const ADDRESS: &str = "prodvpc_environment.egress";

fn config(nat: &str) -> String {
    format!(
        r#"resource "prodvpc_environment" "egress" {{
  name         = "egress"
  az_count     = 2
  nat_gateways = "{nat}"
  app {{
    min_size = 0
    max_size = 1
  }}
  # written out: an import records the block (see the resource's Import section)
  load_balancer {{
    ingress_cidrs = ["0.0.0.0/0"]
  }}
  bastion {{
    enabled = false
  }}
}}
"#
    )
}

/// The VPC's NAT gateways that are not deleted, as (ID, availability mode,
/// (zone, allocation, association, status) of each address).
type Gateway = (String, String, Vec<(String, String, String, String)>);

fn gateways(aws: &Api, vpc: &str) -> Vec<Gateway> {
    runtime().block_on(async {
        let out = aws
            .ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("vpc-id").values(vpc).build())
            .send()
            .await
            .unwrap();
        let mut found: Vec<Gateway> = out
            .nat_gateways()
            .iter()
            .filter(|g| !matches!(g.state().map(|s| s.as_str()), Some("deleted")))
            .map(|g| {
                let mut addresses: Vec<_> = g
                    .nat_gateway_addresses()
                    .iter()
                    .map(|a| {
                        (
                            a.availability_zone().unwrap_or_default().to_string(),
                            a.allocation_id().unwrap_or_default().to_string(),
                            a.association_id().unwrap_or_default().to_string(),
                            a.status()
                                .map(|s| s.as_str().to_string())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                addresses.sort();
                (
                    g.nat_gateway_id().unwrap().to_string(),
                    g.availability_mode()
                        .map_or("zonal", |m| m.as_str())
                        .to_string(),
                    addresses,
                )
            })
            .collect();
        found.sort();
        found
    })
}

/// The default route target of each private route table, by zone.
fn private_routes(aws: &Api, vpc: &str) -> Vec<String> {
    runtime().block_on(async {
        let out = aws
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(vpc).build())
            .filters(
                Filter::builder()
                    .name("tag:prodvpc:component")
                    .values("rtb/private/*")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut targets: Vec<String> = out
            .route_tables()
            .iter()
            .filter_map(|t| {
                t.routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                    .and_then(|r| r.nat_gateway_id())
                    .map(str::to_string)
            })
            .collect();
        targets.sort();
        targets
    })
}

/// The Elastic IPs tagged for the environment.
fn tagged_addresses(aws: &Api) -> Vec<String> {
    runtime().block_on(async {
        let out = aws
            .ec2
            .describe_addresses()
            .filters(
                Filter::builder()
                    .name("tag:prodvpc:environment")
                    .values("egress")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.addresses()
            .iter()
            .filter_map(|a| a.public_ip().map(str::to_string))
            .collect()
    })
}

#[test]
fn a_regional_nat_gateway_serves_every_zone_is_repaired_switched_imported_and_destroyed() {
    let live = Live::apply(&config("regional"), ADDRESS, |_| {});
    // the route table AWS makes for the gateway is the gateway's, not foreign
    let plan = live.ws.ok(&["plan", "-no-color", "-detailed-exitcode"]);
    assert!(!plan.text().contains("not its own"), "{}", plan.text());
    live.ws.assert_no_changes("after the apply");
    // through the AWS model: moto knows no regional NAT gateway
    let aws = Api::operator(&live.layer.endpoint());
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let ids = string_map(&state["nat_gateway_ids"]);
    let ips = string_map(&state["nat_public_ips"]);
    assert_eq!(ids.keys().collect::<Vec<_>>(), ["regional"]);
    let zones: Vec<String> = ips.keys().cloned().collect();
    assert_eq!(zones.len(), 2, "{ips:?}");
    let found = gateways(&aws, &vpc);
    assert_eq!(found.len(), 1, "{found:?}");
    let (id, mode, addresses) = &found[0];
    assert_eq!((id, mode.as_str()), (&ids["regional"], "regional"));
    assert_eq!(
        addresses
            .iter()
            .map(|(zone, _, _, status)| (zone.clone(), status.as_str()))
            .collect::<Vec<_>>(),
        zones
            .iter()
            .map(|z| (z.clone(), "succeeded"))
            .collect::<Vec<_>>(),
        "an address per zone, associated when apply returned"
    );
    assert_eq!(private_routes(&aws, &vpc), vec![id.clone(), id.clone()]);
    let mut public_ips = tagged_addresses(&aws);
    public_ips.sort();
    let mut in_state: Vec<String> = ips.values().cloned().collect();
    in_state.sort();
    assert_eq!(public_ips, in_state);

    // one zone's address taken away out of band: seen, and given back
    let (lost_zone, _, association, _) = addresses[1].clone();
    runtime()
        .block_on(
            aws.ec2
                .disassociate_nat_gateway_address()
                .nat_gateway_id(id)
                .association_ids(&association)
                .send(),
        )
        .unwrap();
    live.repair(&format!(
        "does not send {lost_zone}'s traffic out from its Elastic IP"
    ));
    assert!(gateways(&aws, &vpc)[0]
        .2
        .iter()
        .any(|(zone, _, _, status)| zone == &lost_zone && status == "succeeded"));

    // the gateway deleted out of band: a new one, once AWS lets go of the
    // addresses, with the same addresses
    runtime()
        .block_on(aws.ec2.delete_nat_gateway().nat_gateway_id(id).send())
        .unwrap();
    live.repair("nat/regional is missing; apply creates it");
    let renewed = string_map(&live.state()["nat_gateway_ids"]);
    assert_ne!(renewed["regional"], *id);
    assert_eq!(string_map(&live.state()["nat_public_ips"]), ips);
    assert_eq!(
        private_routes(&aws, &vpc),
        vec![renewed["regional"].clone(), renewed["regional"].clone()]
    );

    // to a zonal gateway per zone and back: the addresses stay the same
    for (nat, gateways_wanted) in [("one_per_az", 2), ("regional", 1)] {
        live.ws.write(&config(nat));
        let plan = live.ws.ok(&["plan", "-no-color"]);
        assert!(
            plan.stdout
                .contains("Private subnets will lose internet egress for a few minutes")
                && plan
                    .stdout
                    .contains("The addresses in `nat_public_ips` are kept"),
            "{}",
            plan.stdout
        );
        live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
        live.ws
            .assert_no_changes(&format!("after switching to {nat}"));
        let now = live.state();
        assert_eq!(string_map(&now["nat_public_ips"]), ips, "{nat}");
        let found = gateways(&aws, &vpc);
        assert_eq!(found.len(), gateways_wanted, "{nat}: {found:?}");
        let mut targets: Vec<String> = string_map(&now["nat_gateway_ids"]).into_values().collect();
        targets.sort();
        let mut routes = private_routes(&aws, &vpc);
        routes.dedup();
        assert_eq!(routes, targets, "{nat}");
    }

    // imported: the strategy is read back from the gateway
    let imported = Workspace::new(Some(live.layer.endpoint()));
    imported.write(&config("regional"));
    imported.ok(&["import", "-no-color", ADDRESS, "egress"]);
    let read = imported.resource_values(ADDRESS);
    assert_eq!(read["nat_gateways"], "regional");
    imported.assert_no_changes("after the import");

    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(live.api.tagged_vpcs("egress"), 0);
    assert!(gateways(&aws, &vpc).is_empty());
    assert!(tagged_addresses(&aws).is_empty(), "every address released");
}
