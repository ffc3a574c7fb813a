use super::*;
use crate::plan::blueprint::{blueprint, tests::sample_spec, Component};
use crate::plan::spec::{
    FlowLogDestination, FlowLogSpec, GatewayService, NatStrategy, TrafficType,
};

/// The row of a kind.
fn declaration(kind: Kind) -> &'static Declaration {
    COMPONENTS
        .iter()
        .find(|d| d.kind == kind)
        .unwrap_or_else(|| panic!("{kind:?} has no row in the table of components"))
}

/// A spec that plans every kind of component there is.
fn everything() -> Blueprint {
    let mut spec = sample_spec();
    spec.instance_connect_endpoint = true;
    spec.ipv6 = true;
    spec.nat = NatStrategy::OnePerAz;
    spec.load_balancer.certificate_arn =
        Some("arn:aws:acm:us-east-1:123456789012:certificate/x".into());
    spec.endpoints.services = [GatewayService::S3, GatewayService::DynamoDb].into();
    spec.flow_logs = Some(FlowLogSpec {
        destination: FlowLogDestination::S3 {
            arn: "arn:aws:s3:::logs".into(),
        },
        traffic_type: TrafficType::All,
        max_aggregation_interval: 600,
    });
    blueprint(&spec, &["us-east-1a".into(), "us-east-1b".into()]).unwrap()
}

#[test]
fn every_kind_planned_has_one_row_and_every_row_is_planned() {
    let planned: BTreeSet<Kind> = everything()
        .components
        .iter()
        .map(Component::kind)
        .collect();
    for kind in &planned {
        let rows = COMPONENTS.iter().filter(|d| d.kind == *kind).count();
        assert_eq!(rows, 1, "{kind:?} has {rows} rows in the table");
    }
    let declared: BTreeSet<Kind> = COMPONENTS.iter().map(|d| d.kind).collect();
    assert_eq!(declared, planned, "rows for kinds no spec plans");
}

#[test]
fn every_key_matches_the_row_of_its_kind_and_no_other() {
    for component in everything().components {
        let key = component.key();
        let matching: Vec<Kind> = COMPONENTS
            .iter()
            .filter(|d| d.matches(&key))
            .map(|d| d.kind)
            .collect();
        assert_eq!(matching, [component.kind()], "{key}");
    }
    let subnet = declaration(Kind::Subnet);
    assert!(!subnet.matches("subnet/public"));
    assert!(!subnet.matches("subnet/public/us-east-1a/x"));
    assert!(!subnet.matches("subnet//us-east-1a"));
}

#[test]
fn every_kind_can_be_read_compared_and_deleted() {
    let empty = Inventory::default();
    let spec = sample_spec();
    for row in COMPONENTS {
        // read: nothing is found where nothing exists
        assert!(row.present(&spec, &empty).is_empty(), "{:?}", row.kind);
        assert!(row.ids(&empty).is_empty(), "{:?}", row.kind);
        // compared by its family's checks
        assert!(
            !row.family.checks().is_empty(),
            "{:?}: family {:?} compares nothing",
            row.kind,
            row.family
        );
        // deleted by a step of its own or with what deletes it
        if let Deletion::By(parent) = row.deletion {
            assert!(
                matches!(declaration(parent).deletion, Deletion::Own(..)),
                "{:?} goes with {parent:?}, which has no deletion of its own",
                row.kind
            );
        }
    }
}

#[test]
fn the_inventory_reads_back_each_kind_it_holds() {
    let spec = sample_spec();
    let inv = Inventory {
        route_tables: [
            ("rtb/public".to_string(), Default::default()),
            ("rtb/private/us-east-1a".to_string(), Default::default()),
        ]
        .into(),
        cpu_policy: Some(crate::aws::autoscaling::CpuPolicy {
            target: 50.0,
            metric: crate::aws::autoscaling::CpuPolicy::METRIC.into(),
            scale_in_disabled: false,
            enabled: true,
        }),
        ..Inventory::default()
    };
    assert_eq!(
        declaration(Kind::PublicRouteTable).present(&spec, &inv),
        ["rtb/public"]
    );
    assert_eq!(
        declaration(Kind::PrivateRouteTable).present(&spec, &inv),
        ["rtb/private/us-east-1a"]
    );
    assert_eq!(
        declaration(Kind::ScalingPolicy).present(&spec, &inv),
        ["policy/cpu"]
    );
}

#[test]
fn a_renewed_component_turns_unknown_only_the_outputs_its_row_names() {
    let renewed: Vec<String> = ["sg/app", "sg/alb", "alb", "nat/us-east-1a", "unheard-of"]
        .map(String::from)
        .into();
    assert_eq!(
        renewed_outputs(&renewed),
        [
            "alb_arn",
            "alb_dns_name",
            "launch_template_version",
            "listener_arns"
        ]
        .into()
    );
    assert!(renewed_outputs(&["sg/bastion".to_string()]).is_empty());
}

#[test]
fn destroy_sees_every_object_and_every_duplicate() {
    let found = |id: &str| Found {
        id: id.into(),
        ..Found::default()
    };
    let mut inv = Inventory {
        vpc: Some(found("vpc-1")),
        listed: [("subnet/public/us-east-1a".to_string(), found("subnet-1"))].into(),
        load_balancer: Some(crate::aws::elbv2::LoadBalancer {
            arn: "arn:alb".into(),
            ..Default::default()
        }),
        group: Some(crate::aws::autoscaling::Group {
            name: "shop-app".into(),
            ..Default::default()
        }),
        ..Inventory::default()
    };
    inv.strays.ec2.instances.push(found("i-copy"));
    // the kinds a listing finds: the keyed object and its listing's strays
    inv.listed.insert("vpce/s3".into(), found("vpce-1"));
    inv.listed.insert("eigw".into(), found("eigw-1"));
    for (listing, copy) in [
        (ec2::GATEWAY_ENDPOINTS, "vpce-copy"),
        (ec2::SUBNETS, "subnet-copy"),
    ] {
        let listed = ec2::Listed {
            noun: listing.noun,
            objects: vec![found(copy)],
        };
        inv.strays.ec2.listed.insert(listing.operation, listed);
    }
    let ids: BTreeSet<String> = object_ids(&inv).into_iter().collect();
    let expected = [
        "vpc-1",
        "subnet-1",
        "subnet-copy",
        "i-copy",
        "arn:alb",
        "shop-app",
        "vpce-1",
        "vpce-copy",
        "eigw-1",
    ];
    assert_eq!(ids, expected.map(String::from).into());
}
