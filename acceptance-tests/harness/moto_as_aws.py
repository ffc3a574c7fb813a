"""moto's server, corrected where moto 5.2.1 answers differently from AWS.

The acceptance tests, the benchmark, the demo and `make emulator` all start moto
through this file (acceptance-tests/harness/moto.rs runs it with the repository's
.venv python, which .ci/setup installs from .ci/python/requirements.txt), so each
meets the same AWS. Arguments are moto_server's: `-H 127.0.0.1 -p PORT`.

The corrections patch moto 5.2.1's internals; the requirements file pins that
version. What each one fixes:
- DescribeLaunchTemplates gives the tags a template was created with (moto 5.x),
  AWS its current tags;
- a version made by CreateLaunchTemplateVersion with user data fails to launch a
  group's instance;
- gateway endpoints do not own their routes;
- ReplaceIamInstanceProfileAssociation leaves DescribeInstances reporting the old
  profile;
- a flow log to an S3 key prefix looks for a bucket named after the prefix;
- an instance launched from a launch template gets an unencrypted root volume
  at /dev/sda1 whatever its image's root device, and the template's mapping of
  the image's root device (/dev/xvda on Amazon Linux) as one more volume;
- every load balancer answers with the hosted zone `Z2P70J7EXAMPLE`, AWS's
  application load balancers with their region's (a constant per region);
- TerminateInstances terminates an instance whose termination protection was
  turned on by ModifyInstanceAttribute, or whose stop protection is on; AWS
  refuses both with OperationNotPermitted;
- an instance launched from a launch template (a group's) gets moto's default
  metadata options (IMDSv2 optional, hop limit 1), AWS the template's.
"""
import os
import sys
import threading
import time


def _exit_with_parent():
    # The process that started moto (a test, the emulator) may die without
    # stopping it (SIGKILL, a panic in another thread): moto must not outlive it.
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


threading.Thread(target=_exit_with_parent, daemon=True).start()

import moto

if moto.__version__ != "5.2.1":
    sys.exit(f"moto {moto.__version__} at {moto.__file__}: these corrections patch moto 5.2.1's "
             "internals; run `bash .ci/setup`, which installs it into .venv/")
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
# the root volume where the image has its root device, replaced (not joined) by
# a launch's mapping of that device, as AWS does
from moto.ec2.models.instances import Instance
def _setup_root_where_the_image_has_it(self):
    volume = self.ec2_backend.create_volume(size=8, zone_name=self._placement.zone)
    self.ec2_backend.attach_volume(volume.id, self.id, self.root_device_name, True)
    self._default_root = volume.id
Instance.setup_defaults = _setup_root_where_the_image_has_it
_add_block_device = Instance.add_block_device
def _add_block_device_replacing_the_root(self, size, device_path, *args, **kwargs):
    default_root = getattr(self, "_default_root", None)
    if default_root and device_path == self.root_device_name:
        self.ec2_backend.detach_volume(default_root, self.id, device_path)
        self.ec2_backend.delete_volume(default_root)
        self._default_root = None
    _add_block_device(self, size, device_path, *args, **kwargs)
Instance.add_block_device = _add_block_device_replacing_the_root
# application load balancers report their region's hosted zone, as AWS's do
# (https://docs.aws.amazon.com/general/latest/gr/elb.html; the regions the tests use)
from moto.elbv2.models import FakeLoadBalancer
ALB_HOSTED_ZONES = {"us-east-1": "Z35SXDOTRQ7X7K", "eu-west-1": "Z32O12XQLNTSW2"}
_balancer_init = FakeLoadBalancer.__init__
def _balancer_in_its_zone(self, *args, **kwargs):
    _balancer_init(self, *args, **kwargs)
    region = self.arn.split(":")[3]
    if self.type == "application" and region in ALB_HOSTED_ZONES:
        self.canonical_hosted_zone_id = ALB_HOSTED_ZONES[region]
FakeLoadBalancer.__init__ = _balancer_in_its_zone
# termination and stop protection refuse TerminateInstances (ModifyInstanceAttribute
# stores "true" as text, which moto's own check of `is True` misses)
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.exceptions import EC2ClientError
_terminate = InstanceBackend.terminate_instances
def _terminate_unless_protected(self, instance_ids):
    for instance in self.get_multi_instances_by_id(instance_ids):
        for attribute, field in (("disableApiTermination", "disable_api_termination"),
                                 ("disableApiStop", "disable_api_stop")):
            if str(getattr(instance, field)).lower() == "true":
                raise EC2ClientError(
                    "OperationNotPermitted",
                    f"The instance '{instance.id}' may not be terminated. Modify its "
                    f"'{attribute}' instance attribute and try again.")
    return _terminate(self, instance_ids)
InstanceBackend.terminate_instances = _terminate_unless_protected
# an instance launched from a template has the template's metadata options
_run_instances = InstanceBackend.run_instances
def _run_with_template_metadata(self, image_id, count, user_data, security_group_names,
                                **kwargs):
    if kwargs.get("launch_template") and not kwargs.get("metadata_options"):
        data = self._get_template_from_args(kwargs["launch_template"]).data
        if data.get("MetadataOptions"):
            kwargs["metadata_options"] = data["MetadataOptions"]
    return _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
InstanceBackend.run_instances = _run_with_template_metadata
from moto.server import main
sys.exit(main(sys.argv[1:]))
