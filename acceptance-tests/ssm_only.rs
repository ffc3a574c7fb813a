//! Without a bastion (the SSM-only layout), no subnet hands out public IPv4
//! addresses: only the load balancer's nodes live in the public subnets, and
//! AWS addresses those itself. Security Hub's EC2.15 passes, and a public
//! mapping turned on out of band is drift that apply turns off.

use aws_sdk_ec2::types::AttributeBooleanValue;

use crate::harness::{runtime, string_map, Api, Live};

const ADDRESS: &str = "prodvpc_environment.ssm";

const CONFIG: &str = r#"resource "prodvpc_environment" "ssm" {
  name         = "ssm"
  nat_gateways = "none"
  app {
    min_size = 0
    max_size = 1
  }
  bastion {
    enabled = false
  }
}
"#;

fn maps_public_ip(api: &Api, subnet: &str) -> Option<bool> {
    runtime().block_on(async {
        api.ec2
            .describe_subnets()
            .subnet_ids(subnet)
            .send()
            .await
            .unwrap()
            .subnets()[0]
            .map_public_ip_on_launch()
    })
}

#[test]
fn without_a_bastion_no_subnet_maps_public_ips_and_ec2_15_passes() {
    let live = Live::apply(CONFIG, ADDRESS, |_| {});
    live.ws.assert_no_changes("after the apply");
    let state = live.state();
    let public = string_map(&state["public_subnet_ids"]);
    for subnet in public
        .values()
        .chain(string_map(&state["private_subnet_ids"]).values())
    {
        assert_eq!(maps_public_ip(&live.api, subnet), Some(false), "{subnet}");
    }
    assert_eq!(string_map(&state["posture"])["EC2.15"], "pass");

    let (zone, subnet) = public.into_iter().next().unwrap();
    runtime().block_on(async {
        live.api
            .ec2
            .modify_subnet_attribute()
            .subnet_id(&subnet)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
            .send()
            .await
            .unwrap();
    });
    live.ws
        .ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert_eq!(
        string_map(&live.state()["posture"])["EC2.15"],
        format!("fail: subnet/public/{zone} assign public IPv4 on launch, which nothing needs without a bastion; apply turns it off")
    );
    live.repair(&format!(
        "subnet/public/{zone} maps public IPs on launch; apply turns it off"
    ));
    assert_eq!(maps_public_ip(&live.api, &subnet), Some(false));
    assert_eq!(string_map(&live.state()["posture"])["EC2.15"], "pass");
}
