//! The picture of one environment, `docs/environment.svg`: what a
//! `prodvpc_environment` builds and the way a request takes through it, with
//! the optional parts, each box naming the blueprint components it shows by
//! their `prodvpc:component` keys. Rendered here rather than drawn by hand so
//! it cannot fall behind: `diagram_is_current` keeps the committed file equal
//! to the rendering, and `every_component_is_pictured` fails when the blueprint
//! gains a kind of component no box shows.

use std::fmt::Write;

/// Where the rendering is committed, relative to the repository.
pub const PATH: &str = "docs/environment.svg";

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 850;

/// How a box is drawn.
#[derive(Clone, Copy, PartialEq)]
enum Look {
    /// outside the environment (users, operators, AWS services)
    External,
    /// a component every environment has
    Core,
    /// a component an input can leave out
    Optional,
    /// a network area that holds boxes (the VPC, a zone, a subnet)
    Area,
}

struct Node {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    look: Look,
    title: &'static str,
    note: &'static str,
    /// the component keys this box shows; `<zone>` stands for each zone's name
    keys: &'static [&'static str],
    /// where an area's label starts, past the boxes on its border
    indent: u32,
}

const fn node(
    (x, y, w, h): (u32, u32, u32, u32),
    look: Look,
    title: &'static str,
    note: &'static str,
    keys: &'static [&'static str],
) -> Node {
    Node {
        x,
        y,
        w,
        h,
        look,
        title,
        note,
        keys,
        indent: 10,
    }
}

/// Areas first, so the boxes inside are drawn over them.
const NODES: &[Node] = &[
    Node {
        indent: 592,
        ..node(
            (10, 150, 980, 500),
            Look::Area,
            "VPC",
            "vpc_cidr (default 10.0.0.0/16); default group emptied",
            &["vpc"],
        )
    },
    node(
        (22, 190, 470, 448),
        Look::Area,
        "Availability zone 1",
        "az_count (default 2) or availability_zones",
        &[],
    ),
    node(
        (508, 190, 470, 448),
        Look::Area,
        "Availability zone 2",
        "each zone has one public and one private subnet",
        &[],
    ),
    node(
        (32, 232, 450, 140),
        Look::Area,
        "Public subnet",
        "",
        &["subnet/public/<zone>"],
    ),
    node(
        (518, 232, 450, 140),
        Look::Area,
        "Public subnet",
        "",
        &["subnet/public/<zone>"],
    ),
    node(
        (32, 410, 450, 218),
        Look::Area,
        "Private subnet",
        "",
        &["subnet/private/<zone>"],
    ),
    node(
        (518, 410, 450, 218),
        Look::Area,
        "Private subnet",
        "",
        &["subnet/private/<zone>"],
    ),
    node(
        (20, 44, 240, 54),
        Look::Optional,
        "S3 bucket or CloudWatch Logs",
        "where flow_logs delivers",
        &[],
    ),
    node(
        (400, 44, 200, 54),
        Look::External,
        "Users on the internet",
        "load_balancer.ingress_cidrs",
        &[],
    ),
    node(
        (615, 44, 165, 54),
        Look::Optional,
        "Session Manager",
        "SSM-only layout",
        &[],
    ),
    node(
        (795, 44, 185, 54),
        Look::External,
        "Operators",
        "bastion.ssh_ingress_cidrs",
        &[],
    ),
    node(
        (420, 124, 160, 52),
        Look::Core,
        "Internet gateway",
        "attached to the VPC",
        &["igw"],
    ),
    node(
        (40, 124, 200, 52),
        Look::Optional,
        "VPC flow log",
        "flow_logs",
        &["flowlog"],
    ),
    node(
        (252, 124, 156, 52),
        Look::Optional,
        "Egress-only gateway",
        "ipv6: IPv6 out only",
        &["eigw"],
    ),
    node(
        (42, 254, 200, 54),
        Look::Core,
        "NAT gateway + Elastic IP",
        "nat_gateways: one_per_az",
        &["nat/<zone>", "eip/<zone>"],
    ),
    node(
        (42, 314, 200, 54),
        Look::Core,
        "Public route table",
        "0.0.0.0/0 → internet gateway",
        &["rtb/public"],
    ),
    node(
        (258, 254, 484, 54),
        Look::Core,
        "Application Load Balancer (internet-facing)",
        "HTTP :80; HTTPS :443 with certificate_arn",
        &["alb", "sg/alb", "listener/http", "listener/https"],
    ),
    node(
        (758, 254, 200, 54),
        Look::Core,
        "NAT gateway + Elastic IP",
        "(none with nat_gateways = single)",
        &["nat/<zone>", "eip/<zone>"],
    ),
    node(
        (758, 314, 200, 54),
        Look::Optional,
        "SSH bastion",
        "SSH from ssh_ingress_cidrs",
        &["bastion", "sg/bastion"],
    ),
    node(
        (380, 340, 240, 54),
        Look::Core,
        "Target group",
        "app.port, health_check_path",
        &["tg"],
    ),
    node(
        (42, 440, 916, 110),
        Look::Core,
        "Auto Scaling group in the private subnets",
        "from a launch template (IMDSv2, encrypted root volume, no public IP); target tracking on average CPU",
        &["asg", "lt", "policy/cpu"],
    ),
    node(
        (60, 490, 180, 50),
        Look::Core,
        "Instance",
        "app port from the ALB only",
        &["sg/app"],
    ),
    node(
        (268, 490, 190, 50),
        Look::Core,
        "Instance",
        "SSH from the bastion only",
        &["sg/app"],
    ),
    node(
        (542, 490, 190, 50),
        Look::Core,
        "Instance",
        "min_size .. max_size",
        &["sg/app"],
    ),
    node(
        (760, 490, 180, 50),
        Look::Core,
        "Instance",
        "rolled by instance refresh",
        &["sg/app"],
    ),
    node(
        (42, 564, 200, 56),
        Look::Core,
        "Private route table",
        "0.0.0.0/0 → the zone's NAT",
        &["rtb/private/<zone>"],
    ),
    node(
        (258, 564, 484, 56),
        Look::Optional,
        "S3 and DynamoDB gateway endpoints",
        "vpc_endpoints (on by default): routes in every private route table",
        &["vpce/s3", "vpce/dynamodb"],
    ),
    node(
        (758, 564, 200, 56),
        Look::Core,
        "Private route table",
        "0.0.0.0/0 → the zone's NAT",
        &["rtb/private/<zone>"],
    ),
];

/// What travels along an arrow.
#[derive(Clone, Copy, PartialEq)]
enum Flow {
    Request,
    Egress,
    Operator,
    Records,
}

impl Flow {
    const ALL: [Flow; 4] = [Flow::Request, Flow::Egress, Flow::Operator, Flow::Records];

    fn class(self) -> &'static str {
        match self {
            Flow::Request => "request",
            Flow::Egress => "egress",
            Flow::Operator => "operator",
            Flow::Records => "records",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Flow::Request => "#1f5fbf",
            Flow::Egress => "#d9822b",
            Flow::Operator => "#2e9d57",
            Flow::Records => "#7a8794",
        }
    }

    /// stroke width and dashes
    fn line(self) -> (f32, &'static str) {
        match self {
            Flow::Request => (2.6, "none"),
            Flow::Egress => (2.0, "7 4"),
            Flow::Operator => (2.0, "3 3"),
            Flow::Records => (1.6, "2 3"),
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Flow::Request => {
                "a request: internet gateway → load balancer → target group → instance"
            }
            Flow::Egress => {
                "the instances' way out: private route table → NAT gateway → internet gateway"
            }
            Flow::Operator => {
                "operators: SSH to the bastion, then to the instances (or Session Manager)"
            }
            Flow::Records => "flow log records",
        }
    }
}

struct Arrow {
    flow: Flow,
    points: &'static [(u32, u32)],
}

const ARROWS: &[Arrow] = &[
    Arrow {
        flow: Flow::Request,
        points: &[(500, 98), (500, 124)],
    },
    Arrow {
        flow: Flow::Request,
        points: &[(500, 176), (500, 254)],
    },
    Arrow {
        flow: Flow::Request,
        points: &[(500, 308), (500, 340)],
    },
    Arrow {
        flow: Flow::Request,
        points: &[(440, 394), (363, 490)],
    },
    Arrow {
        flow: Flow::Request,
        points: &[(560, 394), (637, 490)],
    },
    Arrow {
        flow: Flow::Egress,
        points: &[(150, 540), (150, 564)],
    },
    Arrow {
        flow: Flow::Egress,
        points: &[(242, 592), (250, 592), (250, 281), (242, 281)],
    },
    Arrow {
        flow: Flow::Egress,
        points: &[(142, 254), (142, 222), (432, 222), (432, 176)],
    },
    Arrow {
        flow: Flow::Egress,
        points: &[(850, 540), (850, 564)],
    },
    Arrow {
        flow: Flow::Egress,
        points: &[(758, 592), (750, 592), (750, 281), (758, 281)],
    },
    Arrow {
        flow: Flow::Egress,
        points: &[(858, 254), (858, 222), (568, 222), (568, 176)],
    },
    Arrow {
        flow: Flow::Operator,
        points: &[(975, 98), (975, 341), (958, 341)],
    },
    Arrow {
        flow: Flow::Operator,
        points: &[(900, 368), (900, 490)],
    },
    Arrow {
        flow: Flow::Operator,
        points: &[(795, 71), (780, 71)],
    },
    Arrow {
        flow: Flow::Records,
        points: &[(140, 124), (140, 98)],
    },
];

/// Lines under the legend: the layouts the inputs choose.
const NOTES: &[&str] = &[
    "Dashed boxes are optional: flow_logs adds the flow log; vpc_endpoints (on by default) the gateway endpoints;",
    "bastion { enabled = false } with an app.iam_instance_profile holding AmazonSSMManagedInstanceCore is the",
    "SSM-only layout: no bastion and no sg/bastion, operators reach the instances through Session Manager.",
    "nat_gateways = \"single\" keeps one NAT gateway for every zone, \"none\" none (the instances get no way out).",
    "Each box names, in grey, the prodvpc:component keys of what it shows (<zone>: one per zone).",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const STYLE: &str = "
  text { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; fill: #1b2733; }
  .title { font-size: 18px; font-weight: bold; }
  .name { font-size: 13px; font-weight: bold; }
  .note { font-size: 11px; fill: #3c4a57; }
  .keys { font-family: 'DejaVu Sans Mono', Menlo, monospace; font-size: 10px; fill: #7a8794; }
  .legend { font-size: 12px; }
  .External { fill: #fdf6e3; stroke: #8a7a4a; stroke-width: 1.2; }
  .Core { fill: #e8f1fb; stroke: #2f6db5; stroke-width: 1.2; }
  .Optional { fill: #f3f6f8; stroke: #5b6b7a; stroke-width: 1.2; stroke-dasharray: 6 4; }
  .Area { fill: #ffffff; fill-opacity: 0.55; stroke: #9aa9b7; stroke-width: 1; }
";

fn look_class(look: Look) -> &'static str {
    match look {
        Look::External => "External",
        Look::Core => "Core",
        Look::Optional => "Optional",
        Look::Area => "Area",
    }
}

fn draw_node(svg: &mut String, n: &Node) {
    let radius = if n.look == Look::Area { 10 } else { 6 };
    let _ = writeln!(
        svg,
        r#"<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="{radius}"/>"#,
        look_class(n.look),
        n.x,
        n.y,
        n.w,
        n.h
    );
    // areas are titled in their top left corner, boxes in their middle
    let (anchor, x) = if n.look == Look::Area {
        ("start", n.x + n.indent)
    } else {
        ("middle", n.x + n.w / 2)
    };
    let mut line_y = n.y + 17;
    let mut line = |class: &str, text: &str| {
        if !text.is_empty() {
            let _ = writeln!(
                svg,
                r#"<text class="{class}" x="{x}" y="{line_y}" text-anchor="{anchor}">{}</text>"#,
                escape(text)
            );
            line_y += 14;
        }
    };
    if n.look == Look::Area {
        // one line: the title, then its note and keys after it
        let keys = n.keys.join("  ");
        let text = [n.title, n.note, &keys]
            .iter()
            .filter(|t| !t.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" · ");
        line("note", &text);
    } else {
        line("name", n.title);
        line("note", n.note);
        line("keys", &n.keys.join("  "));
    }
}

fn draw_arrow(svg: &mut String, arrow: &Arrow) {
    let points: Vec<String> = arrow
        .points
        .iter()
        .map(|(x, y)| format!("{x},{y}"))
        .collect();
    let class = arrow.flow.class();
    let _ = writeln!(
        svg,
        r#"<polyline class="{class}" points="{}" marker-end="url(#head-{class})"/>"#,
        points.join(" ")
    );
}

/// The SVG document of `docs/environment.svg`.
pub fn environment_svg() -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title">"#
    );
    svg.push_str("<!-- generated by src/environment/diagram.rs; regenerate with PRODVPC_UPDATE_DOCS=1 cargo test diagram_is_current -->\n");
    svg.push_str(r#"<title id="title">One prodvpc_environment: the components it builds and the way a request takes</title>"#);
    let _ = write!(svg, "\n<style>{STYLE}");
    for flow in Flow::ALL {
        let (width, dashes) = flow.line();
        let _ = writeln!(
            svg,
            "  .{} {{ stroke: {}; stroke-width: {width}; fill: none; stroke-dasharray: {dashes}; }}",
            flow.class(),
            flow.color()
        );
    }
    svg.push_str("</style>\n<defs>\n");
    for flow in Flow::ALL {
        let class = flow.class();
        let _ = writeln!(
            svg,
            r#"<marker id="head-{class}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"#,
            flow.color()
        );
    }
    let _ = writeln!(
        svg,
        r##"</defs>
<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#f7f9fb"/>
<text class="title" x="20" y="28">One prodvpc_environment and the way a request takes</text>"##
    );
    for n in NODES {
        draw_node(&mut svg, n);
    }
    for arrow in ARROWS {
        draw_arrow(&mut svg, arrow);
    }
    let mut y = 672;
    for flow in Flow::ALL {
        let class = flow.class();
        let _ = writeln!(
            svg,
            r#"<line class="{class}" x1="20" y1="{}" x2="60" y2="{}" marker-end="url(#head-{class})"/><text class="legend" x="70" y="{y}">{}</text>"#,
            y - 4,
            y - 4,
            escape(flow.legend())
        );
        y += 17;
    }
    let mut y = y + 8;
    for note in NOTES {
        let _ = writeln!(
            svg,
            r#"<text class="legend" x="20" y="{y}">{}</text>"#,
            escape(note)
        );
        y += 16;
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::blueprint::blueprint;
    use crate::plan::spec::{FlowLogDestination, FlowLogSpec, TrafficType};

    fn root() -> &'static std::path::Path {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn diagram_is_current() {
        let rendered = environment_svg();
        let path = root().join(PATH);
        if std::env::var_os("PRODVPC_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == rendered,
            "{PATH} is stale: run PRODVPC_UPDATE_DOCS=1 cargo test --lib diagram_is_current"
        );
    }

    /// An environment with every optional part: bastion, HTTPS, both
    /// gateway endpoints, a flow log.
    #[test]
    fn every_component_is_pictured() {
        let mut spec = crate::plan::blueprint::tests::sample_spec();
        spec.ipv6 = true;
        spec.load_balancer.certificate_arn =
            Some("arn:aws:acm:us-east-1:123456789012:certificate/x".into());
        spec.flow_logs = Some(FlowLogSpec {
            destination: FlowLogDestination::S3 {
                arn: "arn:aws:s3:::logs".into(),
            },
            traffic_type: TrafficType::All,
            max_aggregation_interval: 600,
        });
        let zones = ["us-east-1a".to_string(), "us-east-1b".to_string()];
        let full = blueprint(&spec, &zones).unwrap();
        assert!(full.components.len() > 20, "{:?}", full.components);
        let pictured: Vec<&str> = NODES.iter().flat_map(|n| n.keys.iter().copied()).collect();
        for component in &full.components {
            let key = zones
                .iter()
                .fold(component.key(), |key, zone| key.replace(zone, "<zone>"));
            assert!(
                pictured.contains(&key.as_str()),
                "{key} is in the blueprint but no box of the diagram shows it"
            );
        }
        // and nothing pictured that the blueprint does not build
        for key in pictured {
            assert!(
                full.components.iter().any(|c| zones
                    .iter()
                    .fold(c.key(), |k, zone| k.replace(zone, "<zone>"))
                    == key),
                "the diagram shows {key}, which no environment has"
            );
        }
    }

    #[test]
    fn the_svg_names_each_component_key_once_per_box() {
        let svg = environment_svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        for n in NODES.iter().filter(|n| !n.keys.is_empty()) {
            let keys = escape(&n.keys.join("  "));
            assert!(svg.contains(&keys), "{keys} missing from the SVG");
        }
        assert_eq!(svg.matches("<polyline").count(), ARROWS.len());
    }
}
