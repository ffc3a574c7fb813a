//! The `prodvpc_environment` schema. Descriptions are Markdown and double as
//! the registry documentation: `docs/resources/environment.md` is rendered from
//! them by [`crate::docs`].

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::AttributePath;

use super::model::EnvironmentState;
use crate::apply::components::{recording_attributes, Record};
use crate::apply::posture::CONTROLS;
use crate::plan::spec::{
    AppSpec, InstanceMix, NatStrategy, RefreshPreferences, TrafficType, DEFAULT_AZ_COUNT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_SSL_POLICY, DEFAULT_VPC_CIDR, FLOW_LOG_INTERVALS,
    IDLE_TIMEOUT_RANGE, MAX_HEALTH_CHECK_GRACE_PERIOD, MAX_INSTANCE_WARMUP, MAX_NAME_LEN,
};

/// Version of the state layout; bump it together with an upgrade step in `model.rs`.
pub const SCHEMA_VERSION: i64 = 1;

/// Write-only attributes, by their path of attribute names: Terraform (1.11 and
/// later) sends them in the configuration only, and they are never in a state
/// or plan it keeps. See [`EnvironmentState::without_write_only`].
pub const WRITE_ONLY: &[&str] = &["app.user_data_wo"];

/// Top-level attributes whose change replaces the whole environment.
pub const REPLACING_ATTRIBUTES: [&str; 2] = ["name", "vpc_cidr"];

use AttributeConstraint::{Computed, Optional, OptionalComputed, Required};

/// The `posture` attribute's documentation: every control judged and what satisfies it.
fn posture_description() -> String {
    let controls: Vec<String> = CONTROLS
        .iter()
        .map(|(id, satisfied)| format!("`{id}`: {satisfied}."))
        .collect();
    format!(
        "The security posture AWS reports, judged by AWS Foundational Security Best Practices controls from what the last refresh (or apply) observed in AWS, not from the configuration: each applicable control maps to `pass` or one line starting `fail: ` that says why, for example `fail: sg/app allows tcp/22 from 0.0.0.0/0`. A control whose objects do not exist (the bastion when disabled) is left out. Judged again by every refresh, and by every apply that can change a verdict: a plan that repairs drift or changes an input a control looks at shows it as known after apply; a change of sizes, scaling, health check, tags or timeouts alone keeps it known (as the last refresh judged it). Controls: {}",
        controls.join(" ")
    )
}

/// What a valid environment name is made of, for the documentation of every `name`.
pub fn name_rules() -> String {
    format!("1-{MAX_NAME_LEN} letters, digits and hyphens, starting with a letter and not ending with a hyphen")
}

fn attr(attr_type: AttributeType, constraint: AttributeConstraint, doc: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(doc),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

fn string_map() -> AttributeType {
    AttributeType::Map(Box::new(AttributeType::String))
}

fn string_list() -> AttributeType {
    AttributeType::List(Box::new(AttributeType::String))
}

fn block(doc: &str, attributes: Vec<(&str, Attribute)>) -> NestedBlock {
    block_with(doc, attributes, Vec::new())
}

/// A block that holds blocks of its own.
fn block_with(
    doc: &str,
    attributes: Vec<(&str, Attribute)>,
    blocks: Vec<(&str, NestedBlock)>,
) -> NestedBlock {
    NestedBlock::Optional(Block {
        version: SCHEMA_VERSION,
        attributes: into_map(attributes),
        blocks: blocks
            .into_iter()
            .map(|(name, nested)| (name.to_string(), nested))
            .collect(),
        description: Description::markdown(doc),
        deprecated: false,
    })
}

fn instance_refresh_block() -> NestedBlock {
    use AttributeType::Number;
    let defaults = RefreshPreferences::default();
    let (min, max) = (
        RefreshPreferences::MIN_HEALTHY_RANGE,
        RefreshPreferences::MAX_HEALTHY_RANGE,
    );
    let spread = RefreshPreferences::MAX_HEALTHY_SPREAD;
    block(
        "How the rolling instance refresh replaces the app instances when the launch template changes (`instance_type`, `ami_id`, `user_data`). Changing these settings alone replaces nothing: they apply to the next refresh. Without this block every default applies.",
        vec![
            ("min_healthy_percentage", attr(Number, OptionalComputed, &format!("Percentage of the desired capacity kept in service and healthy while instances are replaced, {}-{}. Default `{}`.", min.start(), min.end(), defaults.min_healthy_percentage))),
            ("max_healthy_percentage", attr(Number, OptionalComputed, &format!("Percentage of the desired capacity that may be in service or pending while instances are replaced, {}-{} and at most {spread} above `min_healthy_percentage`. Default `{}`. Above 100, replacements are launched before the instances they replace terminate; the provider always sends it, so Auto Scaling never drops below `min_healthy_percentage` (it launches first when the group is too small to do otherwise).", max.start(), max.end(), defaults.max_healthy_percentage))),
            ("instance_warmup", attr(Number, Optional, &format!("Seconds a new instance warms up before the refresh moves on to the next batch, 0-{MAX_INSTANCE_WARMUP}. Default: not set, so AWS uses the group's `health_check_grace_period`."))),
            ("wait_for_completion", attr(AttributeType::Bool, Optional, &format!("Whether apply waits for the refresh it starts to finish. Default `{}`: apply returns once every instance runs the new launch template version and serves, within `timeouts.update`, logging the refresh's progress. A refresh whose new instances fail their health checks is rolled back by AWS (auto rollback), one cancelled elsewhere or that runs out of time is rolled back to the version the group ran, and apply fails with AWS's reason while state keeps the version the instances run, so the next plan shows the change still to make. `false`: apply returns right after starting the refresh; AWS still rolls back a failure, and the next plan shows it.", defaults.wait_for_completion))),
        ],
    )
}

fn into_map(attributes: Vec<(&str, Attribute)>) -> HashMap<String, Attribute> {
    attributes
        .into_iter()
        .map(|(name, attribute)| (name.to_string(), attribute))
        .collect()
}

fn app_block() -> NestedBlock {
    use AttributeType::{Number, String};
    let mut user_data = attr(
        String,
        Optional,
        "Script passed to every instance at boot (plain text; the provider base64-encodes it). Changing it rolls the instances.",
    );
    user_data.sensitive = true;
    let mut user_data_wo = attr(
        String,
        Optional,
        "Write-only user data (Terraform 1.11 or later): the script passed to every instance at boot, as `user_data`, except that it never reaches the state or the plan. Set `user_data_wo_version` with it and raise that number to roll out a changed script: a changed script alone changes nothing, since no state holds it to compare with. Conflicts with `user_data`. The launch template holds the script, as it must to pass it to the instances; its version's description records `user_data_wo_version`.",
    );
    user_data_wo.sensitive = true;
    block_with(
        "The application tier: a launch template and an Auto Scaling Group in the private subnets, registered in the ALB's target group, scaled on average CPU.",
        vec![
            ("ami_id", attr(String, OptionalComputed, "AMI of the app instances. Default: the newest Amazon Linux 2023 (x86_64) image, looked up when the environment is created. Any image works alike: its root volume, mapped under the image's own root device name (`/dev/xvda`, `/dev/sda1`, ...), is encrypted gp3 of 20 GiB, or as large as the image's root snapshot when that is larger (30 GiB on Windows), with no second volume. Plan refuses an image that no instance could launch from: one `instance_type` (or a type of the mix) does not run (architecture, virtualization, ENA where EC2 states it), an instance store-backed or unavailable (pending, failed, disabled) image; it warns of one deprecated already.")),
            ("instance_type", attr(String, OptionalComputed, "EC2 instance type. Default `t3.micro`.")),
            ("port", attr(Number, OptionalComputed, "Port the application listens on; the ALB forwards to it. 1-65535, default `80`.")),
            ("user_data", user_data),
            ("user_data_wo", user_data_wo),
            ("user_data_wo_version", attr(Number, Optional, "Version of `user_data_wo`, required with it: changing it writes a new launch template version with the configured script and rolls the instances, as a change of `user_data` does. Any whole number; raising it by one each time is the convention. A refresh compares it with the description of the launch template version the group runs: a group switched to a version without it (or with another) is drift. A version made out of band that copies the description with another script cannot be told apart, since no state holds the script.")),
            ("min_size", attr(Number, OptionalComputed, "Smallest number of instances. Default `2`.")),
            ("max_size", attr(Number, OptionalComputed, "Largest number of instances, at least `min_size`. Default `4`, or `min_size` when that is larger (so `min_size = 6` alone gives `max_size = 6`).")),
            ("desired_capacity", attr(Number, OptionalComputed, "Instances to start with, between `min_size` and `max_size`. Default `min_size`. Later changes made by the autoscaler are not drift. Left out, it follows the bounds as AWS moves it: a `min_size` raised above it raises it, a `max_size` lowered below it lowers it, and capacity the autoscaler chose within the bounds is kept.")),
            ("cpu_target", attr(Number, OptionalComputed, "Target-tracking goal for average CPU utilisation, in percent, greater than 0 and at most 100. Default `50`.")),
            ("health_check_path", attr(String, OptionalComputed, "HTTP path the target group probes; must start with `/`. Default `/`.")),
            ("health_check_grace_period", attr(Number, OptionalComputed, &format!("Seconds the Auto Scaling Group waits after an instance comes into service before it acts on failed health checks, 0-{MAX_HEALTH_CHECK_GRACE_PERIOD}. Default `{}`. Changed in place.", AppSpec::default().health_check_grace_period))),
            ("iam_instance_profile", attr(String, Optional, "IAM instance profile of the app instances, by name or ARN (`arn:aws:iam::<account>:instance-profile/<path/>name`); its role's credentials reach them through the instance metadata service. A profile whose role has the `AmazonSSMManagedInstanceCore` policy gives Systems Manager Session Manager access without SSH or a bastion. Set on the launch template: changing it rolls the instances. Passing it needs `iam:PassRole` on the role.")),
            ("wait_for_capacity", attr(AttributeType::Bool, OptionalComputed, "Whether apply waits until at least `min_size` instances are in service and healthy in the target group, so the environment serves when apply returns (bounded by `timeouts`). Default `true`; set `false` when instances only become healthy later (for example, once a deployment pipeline ships the application).")),
        ],
        vec![
            ("instance_refresh", instance_refresh_block()),
            ("mixed_instances", mixed_instances_block()),
        ],
    )
}

fn mixed_instances_block() -> NestedBlock {
    use AttributeType::{Number, String};
    let strategies = InstanceMix::SPOT_STRATEGIES
        .map(|s| format!("`{s}`"))
        .join(", ");
    block(
        &format!("Several instance types and a Spot share for the app instances (an Auto Scaling mixed instances policy around the provider's launch template). On-Demand capacity takes the types in the order listed; Spot capacity is spread over them by `spot_allocation_strategy`, and capacity rebalancing is on whenever Spot is used, so Auto Scaling replaces a Spot instance AWS warns is at risk before it is interrupted. Adding, changing or removing the block changes the group in place: it applies to the instances launched from then on, and the running ones stay until they are replaced (a launch template change rolls them all). Without this block the group launches `instance_type` On-Demand only. At most {} types.", InstanceMix::MAX_INSTANCE_TYPES),
        vec![
            ("instance_types", attr(string_list(), Required, &format!("Instance types the group may launch, in order of priority, 1-{} distinct ones (for example `[\"t3.micro\", \"t3a.micro\", \"t2.micro\"]`). Plan checks that each is offered in the environment's zones and runs the image's architecture. They override `instance_type`, which stays the launch template's.", InstanceMix::MAX_INSTANCE_TYPES))),
            ("on_demand_base_capacity", attr(Number, OptionalComputed, &format!("Instances always launched On-Demand, before any Spot is used. Default `{}`.", InstanceMix::DEFAULT_ON_DEMAND_BASE))),
            ("on_demand_percentage_above_base_capacity", attr(Number, OptionalComputed, &format!("Percentage of the capacity above `on_demand_base_capacity` launched On-Demand, 0-100; the rest is Spot. Default `{}` (no Spot); `0` runs everything above the base on Spot.", InstanceMix::DEFAULT_ON_DEMAND_PERCENTAGE))),
            ("spot_allocation_strategy", attr(String, OptionalComputed, &format!("How Auto Scaling picks Spot pools: one of {strategies}. Default `{}`, AWS's recommendation: the pools least likely to be interrupted, at a low price.", InstanceMix::DEFAULT_SPOT_STRATEGY))),
        ],
    )
}

fn access_logs_block() -> NestedBlock {
    use AttributeType::String;
    block(
        "Writes the load balancer's access logs to an S3 bucket. The bucket must exist in the environment's region and its policy must allow Elastic Load Balancing to deliver logs (see *Enable access logs for your Application Load Balancer* in the AWS documentation); otherwise AWS refuses the setting and apply fails naming the bucket. Removing the block turns logging off.",
        vec![
            ("bucket", attr(String, Required, "Name of the S3 bucket: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.")),
            ("prefix", attr(String, Optional, "Key prefix of the log objects inside the bucket, without a leading or trailing `/` and without `AWSLogs` (AWS adds `AWSLogs/<account>/...` after it). Default: none, logs go under `AWSLogs/` at the bucket's root.")),
        ],
    )
}

fn load_balancer_block() -> NestedBlock {
    use AttributeType::{Bool, Number, String};
    block_with(
        "The internet-facing Application Load Balancer in the public subnets. Its settings change in place; refresh reports any that differ as drift and apply restores them.",
        vec![
            ("ingress_cidrs", attr(string_list(), OptionalComputed, "IPv4 CIDR blocks allowed to reach the listener ports. Default `[\"0.0.0.0/0\"]`.")),
            ("ingress_ipv6_cidrs", attr(string_list(), OptionalComputed, "IPv6 CIDR blocks allowed to reach the listener ports, with `ipv6` (refused without it). Default `[\"::/0\"]` with `ipv6`, `[]` without.")),
            ("certificate_arn", attr(String, Optional, "ACM certificate ARN. When set, HTTPS on 443 forwards to the app and HTTP on 80 redirects to HTTPS; otherwise HTTP on 80 forwards.")),
            ("ssl_policy", attr(String, OptionalComputed, &format!("Security policy of the HTTPS listener (TLS versions and ciphers), such as `ELBSecurityPolicy-TLS13-1-2-Res-2021-06`; used only with `certificate_arn`. Default `{DEFAULT_SSL_POLICY}` (TLS 1.3 and 1.2)."))),
            ("drop_invalid_header_fields", attr(Bool, OptionalComputed, "Whether the load balancer drops HTTP headers whose names are not valid (a request-smuggling defence) instead of forwarding them to the app. Default `true`.")),
            ("idle_timeout", attr(Number, OptionalComputed, &format!("Seconds a connection may stay idle before the load balancer closes it, {}-{}. Default `{DEFAULT_IDLE_TIMEOUT}`.", IDLE_TIMEOUT_RANGE.start(), IDLE_TIMEOUT_RANGE.end()))),
            ("deletion_protection", attr(Bool, OptionalComputed, "Whether AWS refuses to delete the load balancer. While `true`, the provider refuses to destroy or replace the environment before deleting anything; set it to `false` and apply first. Default `false`.")),
        ],
        vec![("access_logs", access_logs_block())],
    )
}

fn bastion_block() -> NestedBlock {
    use AttributeType::{Bool, String};
    block(
        "The SSH bastion host in the first public subnet, the only way in to the app instances on port 22.",
        vec![
            ("enabled", attr(Bool, OptionalComputed, "Whether to run the bastion. Default `true`.")),
            ("instance_type", attr(String, OptionalComputed, "EC2 instance type of the bastion. Default `t3.nano`.")),
            ("ssh_ingress_cidrs", attr(string_list(), Optional, "IPv4 CIDR blocks allowed to SSH to the bastion. Required when the bastion is enabled; a `/0` block is refused.")),
            ("ssh_ingress_ipv6_cidrs", attr(string_list(), Optional, "IPv6 CIDR blocks allowed to SSH to the bastion, with `ipv6` (refused without it); `::/0` is refused. The bastion has an IPv6 address in its public subnet's /64 when it is launched with `ipv6` on.")),
            ("key_name", attr(String, Optional, "Name of an EC2 key pair installed on the bastion.")),
            ("ami_id", attr(String, OptionalComputed, "AMI of the bastion. Default: the same image as the app. Checked as `app.ami_id` is; its encrypted gp3 root volume is 8 GiB, or as large as the image's root snapshot. Plan warns of a Windows image, which serves no SSH by default.")),
            ("iam_instance_profile", attr(String, Optional, "IAM instance profile of the bastion, by name or ARN (`arn:aws:iam::<account>:instance-profile/<path/>name`). Changed on the running instance (its profile association is replaced), never by replacing it; removed out of band, it shows as drift and apply restores it. Passing it needs `iam:PassRole` on the role.")),
        ],
    )
}

fn endpoints_block() -> NestedBlock {
    use AttributeType::Bool;
    block(
        "Gateway VPC endpoints: S3 and DynamoDB traffic of the private subnets goes through them instead of the NAT gateways. They cost nothing, while NAT gateways charge per GB processed. Without this block both are on. AWS routes the services' prefix lists to them in every route table they serve; those routes are theirs, not drift.",
        vec![
            ("s3", attr(Bool, OptionalComputed, "Whether to create the S3 gateway endpoint. Default `true`.")),
            ("dynamodb", attr(Bool, OptionalComputed, "Whether to create the DynamoDB gateway endpoint. Default `true`.")),
            ("public_route_table", attr(Bool, OptionalComputed, "Whether the endpoints also serve the public route table (the bastion, and anything else in the public subnets), besides every private one. Default `false`.")),
        ],
    )
}

fn flow_logs_block() -> NestedBlock {
    use AttributeType::{Number, String};
    let traffic = TrafficType::CHOICES.map(|t| format!("`{t}`")).join(", ");
    let intervals = FLOW_LOG_INTERVALS.map(|i| format!("`{i}`")).join(" or ");
    block(
        "A flow log of the VPC's traffic (AWS Foundational Security Best Practices EC2.6), delivered to an S3 bucket or a CloudWatch Logs log group. Off unless this block is set. AWS cannot change a flow log: a change of any setting replaces it (the old one is deleted, then the new one created, so a few seconds go unlogged). Removing the block deletes it.",
        vec![
            ("destination_arn", attr(String, Required, "ARN of where the records go: an S3 bucket, optionally with a key prefix (`arn:aws:s3:::my-bucket` or `arn:aws:s3:::my-bucket/vpc-logs`), or a CloudWatch Logs log group (`arn:aws:logs:<region>:<account>:log-group:<name>`). The bucket must exist and its policy allow the log delivery service to write (AWS's *Publish flow logs to Amazon S3*); a missing log group is created by AWS.")),
            ("traffic_type", attr(String, OptionalComputed, &format!("Which traffic is recorded: {traffic}. Default `ALL`; EC2.6 asks for `REJECT` or `ALL`."))),
            ("iam_role_arn", attr(String, Optional, "ARN of the IAM role the flow log service assumes to write to CloudWatch Logs (`arn:aws:iam::<account>:role/<name>`). Required for a log group destination and refused for S3, which the log delivery service writes with the bucket's policy. Passing it needs `iam:PassRole` on the role.")),
            ("max_aggregation_interval", attr(Number, OptionalComputed, &format!("Seconds over which packets are aggregated into one record: {intervals}. Default `600`."))),
        ],
    )
}

fn timeouts_block() -> NestedBlock {
    let doc = |phase: &str| {
        format!("How long {phase} may take, as a duration such as `30m` or `1h30m`. Default `30m`.")
    };
    block(
        "Limits for long operations.",
        vec![
            (
                "create",
                attr(AttributeType::String, Optional, &doc("creation")),
            ),
            (
                "update",
                attr(AttributeType::String, Optional, &doc("an update")),
            ),
            (
                "delete",
                attr(
                    AttributeType::String,
                    Optional,
                    &doc("deletion (including waiting for AWS to release network interfaces)"),
                ),
            ),
        ],
    )
}

/// The full schema of `prodvpc_environment`.
pub fn environment_schema() -> Schema {
    use AttributeType::{Bool, Number, String};
    let nat_doc = format!(
        "NAT strategy: `{}` (default, one NAT gateway per AZ, survives an AZ outage), `{}` (one shared NAT gateway, cheaper), `{}` (one [regional NAT gateway](https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateways-regional.html) for the whole VPC, with an Elastic IP per AZ: no public subnet hosts it, and it survives an AZ outage as one per AZ does) or `{}` (private subnets get no internet route). Changing it is done in place: between zonal gateways and the regional one the Elastic IPs move (they are kept, and so are `nat_public_ips`), so the old gateways are deleted first and the private subnets have no internet egress for the few minutes until the new one is available; the plan's warning says which.",
        NatStrategy::OnePerAz.as_str(),
        NatStrategy::Single.as_str(),
        NatStrategy::Regional.as_str(),
        NatStrategy::None.as_str()
    );
    let name_doc = format!(
        "Name of the environment, unique in the account and region: {}. It names the ALB and the target group and tags every object. Changing it replaces the environment.",
        name_rules()
    );
    let attributes = vec![
        ("id", attr(String, Computed, "Identifier of the environment (its name); use it to import.")),
        ("name", attr(String, Required, &name_doc)),
        ("vpc_cidr", attr(String, OptionalComputed, &format!("IPv4 block of the VPC, from /16 to /24. Default `{DEFAULT_VPC_CIDR}`. Changing it replaces the environment."))),
        ("az_count", attr(Number, OptionalComputed, &format!("How many availability zones to span (at least 2) when `availability_zones` is not set: the zones already in use, then the region's first available ones in name order. They are chosen at plan (the plan shows `availability_zones`, the carved blocks and the keys of every per-zone map), so a change keeps every surviving zone's subnets and NAT gateways known. Default `{DEFAULT_AZ_COUNT}`."))),
        ("availability_zones", attr(string_list(), OptionalComputed, "Availability zones to span, by name (at least 2, no duplicates). Default: chosen from `az_count`.")),
        ("nat_gateways", attr(String, OptionalComputed, &nat_doc)),
        ("instance_connect_endpoint", attr(Bool, OptionalComputed, "Whether an [EC2 Instance Connect Endpoint](https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/connect-with-ec2-instance-connect-endpoint.html) in the first private subnet gives SSH to the app instances through AWS: no bastion, no public address, access granted by IAM (`ec2-instance-connect:OpenTunnel`) and logged in CloudTrail. Its security group `eice` may open SSH to the app's group only, and the app's group admits SSH from it. Connect with `aws ec2-instance-connect ssh --instance-id <id> --connection-type eice` (AWS CLI v2). Turning it on or off changes the environment in place, with or without the bastion. AWS allows one per VPC. Default `false`.")),
        ("ipv6", attr(Bool, OptionalComputed, "Whether the environment is dual-stack: an Amazon-provided IPv6 /56 on the VPC, a /64 in every subnet (instances launched there get an IPv6 address), `::/0` routed to the internet gateway from the public subnets and to an egress-only internet gateway (outbound only) from the private ones, a `dualstack` load balancer admitting `load_balancer.ingress_ipv6_cidrs`, and SSH to the bastion from `bastion.ssh_ingress_ipv6_cidrs`. IPv4 stays as it is: turning it on or off changes the environment in place and keeps every IPv4 ID. Turning it off removes the blocks, which AWS allows only once no network interface in a subnet holds an IPv6 address: the environment's instances give theirs up first. Default `false`.")),
        ("dhcp_options_id", attr(String, OptionalComputed, "The DHCP options set the VPC uses (`dopt-...`), which gives its instances their DNS servers, domain name and NTP servers. Default: the set AWS gives a new VPC, recorded when the environment is created (or imported). Set it to use a set of your own (your directory's DNS servers, say); changed in place, and instances take the new options when they next renew their DHCP lease. The set is never modified or deleted: it is not the environment's. Another set associated out of band is drift, and apply associates this one again. Removing the attribute keeps the set in use.")),
        ("public_subnet_cidrs", attr(string_map(), OptionalComputed, "Public subnet blocks keyed by AZ name. When set, it gives a block for every zone, taken as written (Terraform keeps a configured map as the configuration writes it, so the provider cannot add the zones it leaves out), and values known only at apply are kept unknown in the plan. Left out, the blocks are carved from the VPC at plan when the zones are known: 16 equal slots, the first 8 public, the last 8 private, clear of any configured private blocks (carved at apply while those are unknown). Carved blocks are kept in state and never re-carved; an added zone takes the next free slot.")),
        ("private_subnet_cidrs", attr(string_map(), OptionalComputed, "Private subnet blocks keyed by AZ name; as `public_subnet_cidrs`.")),
        ("vpc_ipv6_cidr", attr(String, Computed, "The VPC's IPv6 block, a /56 AWS chooses from its pool when `ipv6` is turned on (null without `ipv6`).")),
        ("public_subnet_ipv6_cidrs", attr(string_map(), Computed, "Public subnet IPv6 blocks (/64) keyed by AZ name, with `ipv6`. Carved from `vpc_ipv6_cidr` as the IPv4 blocks are carved from the VPC: each zone owns a fixed slot of its tier, a block once given is kept, and an added zone takes the next free slot; known at plan once the VPC's block is.")),
        ("private_subnet_ipv6_cidrs", attr(string_map(), Computed, "Private subnet IPv6 blocks (/64) keyed by AZ name; as `public_subnet_ipv6_cidrs`.")),
        ("tags", attr(string_map(), Optional, "Tags for every AWS object of the environment, merged over the provider's `default_tags`. Keys starting with `aws:` or `prodvpc:` are reserved.")),
        ("tags_all", attr(string_map(), Computed, "The tags applied: provider `default_tags` merged with `tags`.")),
        ("nat_public_ips", attr(string_map(), Computed, "Elastic IP addresses of the NAT gateways keyed by AZ: the source address of the app's outbound traffic (with the regional NAT gateway, each AZ's traffic leaves from that AZ's address).")),
        ("alb_dns_name", attr(String, Computed, "DNS name of the ALB: the address of the application.")),
        ("alb_zone_id", attr(String, Computed, "Route 53 hosted zone of the ALB, for alias records.")),
        ("target_group_arn", attr(String, Computed, "ARN of the target group of the app instances.")),
        ("launch_template_version", attr(Number, Computed, "Version of the launch template the Auto Scaling Group runs.")),
        ("bastion_public_ip", attr(String, Computed, "Public IP of the bastion (null when disabled).")),
        ("bastion_ipv6_address", attr(String, Computed, "IPv6 address of the bastion, from its public subnet's /64: where `bastion.ssh_ingress_ipv6_cidrs` reach it (null without `ipv6` or without the bastion). A bastion running when `ipv6` is turned on is given one in place.")),
        ("drift", attr(string_list(), Computed, "Differences between AWS and the configuration found by the last refresh, each saying what is wrong and what apply does about it, for example `sg/app has an extra ingress rule tcp/22 from ::/0; apply removes it`. Everything the provider sets is compared: components, tags, VPC DNS, public IP mapping, routes and associations, rules in both directions and both IP families (and the VPC's default group), group sizes and grace period, the launch template version the group runs, health check, the load balancer's attributes, listeners (with the HTTPS listener's SSL policy), the bastion's settings, the route tables the gateway endpoints serve and the flow log's settings. Non-empty means the next plan is a repair; it shows this list becoming known after apply, which empties it. Settings AWS reports as one value and that change in place (the group's `min_size`, `max_size` and `health_check_grace_period`, `cpu_target`, `health_check_path`, and the load balancer's `drop_invalid_header_fields`, `deletion_protection` and `idle_timeout`) also show the drift on their attribute, as AWS has them -> as configured.")),
        ("posture", attr(string_map(), Computed, &posture_description())),
    ];
    // the IDs of the environment's objects, declared with their kinds
    let recorded = recording_attributes().map(|attribute| {
        let attr_type = match attribute.record {
            Record::One { .. } => String,
            Record::Map { .. } => string_map(),
        };
        (
            attribute.name,
            attr(attr_type, Computed, attribute.description),
        )
    });
    let attributes: Vec<(&str, Attribute)> = attributes.into_iter().chain(recorded).collect();
    let blocks = [
        ("app", app_block()),
        ("load_balancer", load_balancer_block()),
        ("bastion", bastion_block()),
        ("vpc_endpoints", endpoints_block()),
        ("flow_logs", flow_logs_block()),
        ("timeouts", timeouts_block()),
    ]
    .into_iter()
    .map(|(name, nested)| (name.to_string(), nested))
    .collect();
    Schema {
        version: SCHEMA_VERSION,
        block: Block {
            version: SCHEMA_VERSION,
            attributes: into_map(attributes),
            blocks,
            description: Description::markdown(
                "A production AWS network environment: a VPC over two or more AZs with public and private subnets, internet and NAT gateways, an Application Load Balancer, an auto-scaled app tier in the private subnets, locked-down security groups and an SSH bastion. Every object is tagged `prodvpc:environment = <name>`; creation resumes after an interruption and deletion leaves nothing behind.",
            ),
            deprecated: false,
        },
    }
}

/// The attributes whose change forces replacement, among those that differ.
pub fn replacement_paths(
    prior: &EnvironmentState,
    planned: &EnvironmentState,
) -> Vec<AttributePath> {
    let (prior, planned) = (serde_json::to_value(prior), serde_json::to_value(planned));
    let (Ok(prior), Ok(planned)) = (prior, planned) else {
        return Vec::new();
    };
    REPLACING_ATTRIBUTES
        .iter()
        .filter(|name| prior.get(**name) != planned.get(**name))
        .map(|name| AttributePath::new(*name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_attributes(block: &Block, out: &mut Vec<(String, Attribute)>, prefix: &str) {
        for (name, attribute) in &block.attributes {
            out.push((format!("{prefix}{name}"), attribute.clone()));
        }
        for (name, nested) in &block.blocks {
            if let NestedBlock::Optional(inner) = nested {
                all_attributes(inner, out, &format!("{prefix}{name}."));
            }
        }
    }

    #[test]
    fn every_attribute_is_documented() {
        let mut attributes = Vec::new();
        all_attributes(&environment_schema().block, &mut attributes, "");
        assert!(attributes.len() >= 45, "{} attributes", attributes.len());
        for (name, attribute) in attributes {
            assert!(
                attribute.description.content.len() > 10,
                "{name} lacks a description"
            );
        }
    }

    #[test]
    fn user_data_is_sensitive() {
        let schema = environment_schema();
        let Some(NestedBlock::Optional(app)) = schema.block.blocks.get("app") else {
            panic!("no app block")
        };
        assert!(app.attributes["user_data"].sensitive);
    }
}
