//! Starts `moto_server` on a free loopback port and stops it when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts moto's server where moto reports differently from AWS: DescribeLaunchTemplates
/// gives the tags a template was created with (moto 5.x), AWS its current tags; and
/// moto fails to launch a group's instance from a version made by
/// CreateLaunchTemplateVersion with user data; and moto's
/// ReplaceIamInstanceProfileAssociation leaves DescribeInstances reporting the old profile.
const AS_AWS: &str = r#"
import sys
from moto.ec2.models.launch_templates import LaunchTemplate
LaunchTemplate.tags = property(lambda self: self.get_tags(), lambda self, value: None)
# versions made by CreateLaunchTemplateVersion keep their user data as a plain
# string, on which moto's own launch path asserts when the group replaces an instance
from moto.core.types import Base64EncodedString
from moto.ec2.models.launch_templates import LaunchTemplateVersion
def _user_data(self):
    data = self.data.get("UserData")
    return Base64EncodedString(data) if isinstance(data, str) else data
LaunchTemplateVersion.user_data = property(_user_data)
# gateway endpoints as AWS keeps them: attaching or detaching a route table adds
# or removes the prefix-list route, deleting one removes its routes (whatever of
# them is left), and a VPC with a live endpoint is not deleted
from moto.ec2.models.vpcs import VPCEndPoint, VPCBackend
from moto.ec2.exceptions import DependencyViolationError
_modify = VPCEndPoint.modify
def _modify_routes(self, policy_doc, add_subnets, remove_subnets, add_route_tables,
                   remove_route_tables, add_security_groups, remove_security_groups):
    before = set(self.route_table_ids or [])
    _modify(self, policy_doc, add_subnets, remove_subnets, add_route_tables,
            remove_route_tables, add_security_groups, remove_security_groups)
    after = set(self.route_table_ids or [])
    prefix_list = getattr(self, "destination_prefix_list_id", None)
    if not prefix_list:
        return
    for table in after - before:
        self.ec2_backend.create_route(table, None, gateway_id=self.id,
                                      destination_prefix_list_id=prefix_list)
    for table in before - after:
        try:
            self.ec2_backend.delete_route(table, prefix_list)
        except Exception:
            pass
VPCEndPoint.modify = _modify_routes
def _delete_endpoints(self, vpce_ids=None):
    for vpce_id in vpce_ids or []:
        endpoint = self.vpc_end_points.get(vpce_id)
        if not endpoint:
            continue
        prefix_list = getattr(endpoint, "destination_prefix_list_id", None)
        for table in (endpoint.route_table_ids or []) if prefix_list else []:
            try:
                self.delete_route(table, prefix_list)
            except Exception:
                pass
        endpoint.state = "deleted"
VPCBackend.delete_vpc_endpoints = _delete_endpoints
_delete_vpc = VPCBackend.delete_vpc
def _delete_vpc_unless_endpoints(self, vpc_id):
    if any(e.vpc_id == vpc_id and e.state != "deleted" for e in self.vpc_end_points.values()):
        raise DependencyViolationError(
            f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    return _delete_vpc(self, vpc_id)
VPCBackend.delete_vpc = _delete_vpc_unless_endpoints
# a replaced instance profile association: the instance reports the new profile
from moto.ec2.models.iam_instance_profile import IamInstanceProfileAssociationBackend
_replace_profile = IamInstanceProfileAssociationBackend.replace_iam_instance_profile_association
def _replace_profile_on_instance(self, association_id, iam_instance_profile_name=None,
                                 iam_instance_profile_arn=None):
    association = _replace_profile(self, association_id, iam_instance_profile_name,
                                   iam_instance_profile_arn)
    self.modify_instance_attribute(association.instance_id, "iam_instance_profile",
                                   {"Arn": association.iam_instance_profile.arn,
                                    "Id": association.association_id})
    return association
IamInstanceProfileAssociationBackend.replace_iam_instance_profile_association = \
    _replace_profile_on_instance
# a flow log to S3 with a key prefix: moto takes everything after the ARN's
# fifth colon for the bucket's name; AWS delivers to the bucket, under the prefix
from moto.s3.models import S3Backend
_get_bucket = S3Backend.get_bucket
def _get_bucket_of_destination(self, bucket_name):
    return _get_bucket(self, bucket_name.split("/", 1)[0])
S3Backend.get_bucket = _get_bucket_of_destination
from moto.server import main
sys.exit(main(sys.argv[1:]))
"#;

/// A running moto server, killed on drop (also when a test panics).
pub struct Moto {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Moto {
    /// Starts a fresh server (each test gets its own, so tests never see each other's objects).
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-c", AS_AWS, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            // PRODVPC_MOTO_LOG=FILE keeps moto's own log (its tracebacks) for debugging
            .stderr(match std::env::var_os("PRODVPC_MOTO_LOG") {
                Some(path) => std::fs::File::create(path)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
                None => Stdio::null(),
            })
            .spawn()
            .expect("python3 with moto is installed (pip install 'moto[server]')");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start within 30s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends one request to `service` (as named in the credential scope, from
    /// which moto picks the service; it does not check the signature) and
    /// returns the answer's body. The harness has clients only for the services
    /// the provider calls; tests set up the others (IAM, S3) with this.
    fn send_raw(&self, method: &str, path: &str, service: &str, body: String) -> String {
        use http_body_util::{BodyExt, Full};
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;

        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(Full::new(bytes::Bytes::from(body)))
            .expect("a request");
        crate::harness::runtime().block_on(async {
            let client: Client<_, Full<bytes::Bytes>> =
                Client::builder(TokioExecutor::new()).build_http();
            let response = client.request(request).await.expect("moto answers");
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("a body")
                .to_bytes();
            let text = String::from_utf8_lossy(&bytes).to_string();
            assert!(
                status.is_success(),
                "{method} {service}{path}: {status} {text}"
            );
            text
        })
    }

    /// Creates an instance profile in moto's IAM and returns its ARN. EC2 launches
    /// only with a profile IAM knows.
    pub fn create_instance_profile(&self, name: &str) -> String {
        let text = self.send_raw(
            "POST",
            "/",
            "iam",
            format!(
                "Action=CreateInstanceProfile&Version=2010-05-08&InstanceProfileName={name}&Path=%2F"
            ),
        );
        let arn = text
            .split("<Arn>")
            .nth(1)
            .and_then(|rest| rest.split("</Arn>").next())
            .unwrap_or_else(|| panic!("no Arn in the CreateInstanceProfile answer: {text}"));
        arn.to_string()
    }

    /// Creates an S3 bucket in the emulator's region (a flow log to S3 needs its
    /// bucket to exist, as on AWS).
    pub fn create_bucket(&self, name: &str) {
        self.send_raw("PUT", &format!("/{name}"), "s3", String::new());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
