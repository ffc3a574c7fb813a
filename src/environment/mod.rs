//! `prodvpc_environment`: thin glue between tf-provider and the planner/executor.

mod converge;
pub mod data_source;
pub mod diagram;
mod images;

pub mod model;
mod observe;
mod planning;
mod quotas;
mod region_checks;
pub mod schema;
pub mod upgrade;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::apply::inventory::{
    foreign_interfaces, interface_in_words, Hints, Inventory, Lookup, NAT_GATEWAY_KEYS, SUBNET_KEYS,
};
use crate::apply::{components, destroy, drift, executor};
use crate::aws::call_log::InFlight;
use crate::aws::ec2;
use crate::aws::AwsClients;
use crate::aws::SharedClients;
use crate::error::AwsError;
use crate::plan::blueprint::blueprint;
use crate::plan::cidr::Tier;
use crate::plan::drift::Repairs;
use crate::plan::spec::{AppSpec, EnvironmentSpec, IgnoredTags, Names, ZoneChoice};
use model::{first, known_strings, string_list, string_map, to_spec, EnvironmentState};
use observe::{
    applied_default_tags, component_ids, fill_inputs, fill_missing_inputs, fill_outputs,
    import_blocks, observe_load_balancer_settings, opt, record_dhcp_options, settle,
    settle_failed_update, show_drift_on_inputs, unset_inputs_at_defaults, user_tags,
};
use planning::{
    desired_within_bounds, disruptions, drift_of, inputs_of, plan_alb_zone, plan_outputs,
    plan_zones, set_tags_all, sets_desired_capacity, unknown_outputs, zones_of, Refreshed,
};

/// The `prodvpc_environment` resource.
pub struct EnvironmentResource {
    clients: SharedClients,
    stop: CancellationToken,
    /// names of environments this configuration already manages, as this
    /// process has seen them (refreshed, updated or imported): a plan to
    /// create one of them replaces it, and is not a second owner
    managed: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl EnvironmentResource {
    pub fn new(clients: SharedClients, stop: CancellationToken) -> Self {
        EnvironmentResource {
            clients,
            stop,
            managed: Default::default(),
        }
    }

    fn remember_managed(&self, name: &Value<String>) {
        if let (Some(name), Ok(mut managed)) = (name.as_ref_option(), self.managed.lock()) {
            managed.insert(name.clone());
        }
    }

    fn is_managed_here(&self, name: &str) -> bool {
        self.managed
            .lock()
            .map(|managed| managed.contains(name))
            .unwrap_or(false)
    }

    /// Warns at plan of a create whose name another configuration's complete
    /// environment holds in this region, which apply refuses (an environment
    /// an interrupted create left unfinished is adopted, and one this
    /// configuration manages is being replaced). A warning, not an error:
    /// Terraform plans a create again at apply, in a process that has not
    /// refreshed the environment a `create_before_destroy` replacement
    /// deposed, and an error there would leave that environment deposed
    /// instead of restored.
    async fn check_name_is_free(&self, diags: &mut Diagnostics, name: &str) -> Option<()> {
        if self.is_managed_here(name) {
            return Some(());
        }
        let clients = self.clients(diags)?;
        match crate::aws::ec2::environment_vpcs(&clients.ec2, name).await {
            Ok(vpcs) => {
                let Some((vpc_id, _)) = vpcs.iter().find(|(_, status)| {
                    status.as_deref() != Some(crate::plan::spec::STATUS_CREATING)
                }) else {
                    return Some(());
                };
                diags.warning(
                    "An environment of this name already exists",
                    format!("The environment `{name}` ({vpc_id}) exists in this region and no resource of this configuration manages it, so apply will refuse to create it and change nothing. To manage it here, import it: `terraform import <address> {name}` or an `import` block with `id = \"{name}\"`. Otherwise choose another `name`. (A `create_before_destroy` replacement cannot reuse its own name either.)"),
                    AttributePath::new("name"),
                );
                Some(())
            }
            Err(error) => {
                report_aws(
                    diags,
                    "Could not check whether the name is free",
                    &error,
                    Phase::Plan,
                );
                None
            }
        }
    }

    /// Runs `work` unless Terraform asks the provider to stop first. Dropping
    /// the work abandons calls in flight; what they create is tagged on
    /// creation, so discovery finds it later.
    async fn unless_stopped<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        tokio::select! {
            outcome = work => outcome,
            () = self.stop.cancelled() => Err(AwsError::Interrupted),
        }
    }

    fn clients(&self, diags: &mut Diagnostics) -> Option<Arc<AwsClients>> {
        let clients = self.clients.get().cloned();
        if clients.is_none() {
            diags.root_error(
                "Provider not configured",
                "The prodvpc provider was used before Terraform configured it. Check the `provider \"prodvpc\"` block.",
            );
        }
        clients
    }

    fn default_tags(&self) -> BTreeMap<String, String> {
        self.clients
            .get()
            .map(|c| c.default_tags.clone())
            .unwrap_or_default()
    }

    /// The region the clients call, once the provider is configured.
    fn region(&self) -> Option<String> {
        let clients = self.clients.get()?;
        Some(clients.ec2.config().region()?.to_string())
    }
}

const CREATE_FAILED: &str = "Creating the environment failed";

/// Where in Terraform's workflow an AWS error happened: what the user must
/// be told about what exists depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// plan-time checks: nothing is built yet
    Plan,
    /// refresh and import: nothing in AWS is changed
    Read,
    /// a create: Terraform taints what it returns, so the next apply replaces it
    Create,
    /// an update: the next apply continues it
    Update,
    Destroy,
}

/// What a failed create leaves and what each way on does.
const AFTER_A_FAILED_CREATE: &str = "What was built is tagged and kept in state, so nothing is orphaned. Terraform marks the environment tainted: the next apply deletes it and builds it anew. To continue from where it stopped instead, fix the cause, run `terraform untaint <address>`, then apply.";

fn report_aws(diags: &mut Diagnostics, summary: &str, error: &AwsError, phase: Phase) {
    let advice = match (error, phase) {
        (AwsError::Interrupted | AwsError::Timeout { .. }, Phase::Create) => AFTER_A_FAILED_CREATE,
        (AwsError::Interrupted, _) => "What was built so far is kept in state and tagged in AWS. Run the command again to continue.",
        (AwsError::Unsatisfiable(_), _) => "Change the configuration as the message says, then apply again.",
        (AwsError::DestroyBlocked { .. }, _) => "Each entry says what to do. Running destroy again changes nothing until they are gone: the environment never deletes or modifies what is not its own.",
        // a create refused before it built anything is reported as an update
        (error, Phase::Update) if error.is_quota() => "An account quota of the region is reached (the code says which): raise it in Service Quotas, or free what uses it, then apply again; it resumes where it stopped.",
        (AwsError::FailedInAws { .. }, Phase::Update) => "AWS's reason says what to fix: a setting, a quota (Service Quotas), or capacity in a zone (wait or choose another instance type). Then apply again.",
        (AwsError::Rollout(_), _) => "State records the launch template version the group runs, so the next plan shows the change still to make. Fix what the reason names (for example the user data or image that keeps the app from answering its health check), then apply again.",
        (AwsError::Transport { .. } | AwsError::Unexpected { .. }, Phase::Plan | Phase::Read) => "Nothing was changed in AWS. Check the provider's region, endpoints and network access, then run the command again.",
        (_, Phase::Plan) => "Nothing was built. Fix the cause, then plan again.",
        (_, Phase::Read) => "Nothing was changed in AWS. Fix the cause, then run the command again.",
        (AwsError::Timeout { .. }, _) => "AWS did not finish in time. Raise the matching `timeouts` value or run the command again: it resumes where it stopped.",
        (_, Phase::Create) => AFTER_A_FAILED_CREATE,
        (_, Phase::Update) => "Every object created so far is tagged and tracked. Fix the cause and apply again; it resumes where it stopped.",
        (_, Phase::Destroy) => "What is left stays in state. Fix the cause and destroy again; it continues where it stopped.",
    };
    let message = error.to_string();
    let message = message.trim_end_matches('.');
    diags.root_error(summary.to_string(), format!("{message}.\n\n{advice}"));
}

/// How many times, and how far apart, the read after an apply is repeated
/// while AWS does not yet list all the apply made (about two seconds on AWS).
const SETTLING_READS: usize = 4;
const SETTLING_PAUSE: std::time::Duration = std::time::Duration::from_millis(750);

/// What deletion protection stops: (the noun for the summary, the verb for the fix).
const DESTROY: (&str, &str) = ("destroy", "destroy");
const REPLACEMENT: (&str, &str) = ("replacement", "replace");

/// The error that deletion protection stops `what` ([`DESTROY`] or
/// [`REPLACEMENT`]), on `load_balancer.deletion_protection`, with the way out.
fn report_deletion_protected(diags: &mut Diagnostics, (noun, verb): (&str, &str), why: &str) {
    diags.error(
        format!("Deletion protection forbids {noun}"),
        format!("{why} Nothing was deleted. To {verb} the environment, set `deletion_protection = false` in its `load_balancer` block and apply, then {verb} it."),
        AttributePath::new("load_balancer")
            .index(0)
            .attribute("deletion_protection"),
    );
}

/// The spec of `state`, with the provider's `default_tags` under its tags and
/// the tags it ignores; an invalid state is reported.
fn to_spec_or_report(
    state: &EnvironmentState,
    default_tags: &BTreeMap<String, String>,
    ignored_tags: &IgnoredTags,
    diags: &mut Diagnostics,
) -> Option<EnvironmentSpec> {
    match to_spec(state, default_tags) {
        Ok(spec) => Some(EnvironmentSpec {
            ignored_tags: ignored_tags.clone(),
            ..spec
        }),
        Err(error) => {
            diags.error(
                "Invalid environment configuration",
                error.to_string(),
                AttributePath::new(
                    error
                        .attribute
                        .split('.')
                        .next()
                        .unwrap_or("name")
                        .to_string(),
                ),
            );
            None
        }
    }
}

/// An environment found by its name, read as import records it.
pub(crate) struct Observed {
    pub state: EnvironmentState,
    /// whether its VPC is still marked as being created (a create running or interrupted)
    pub unfinished: bool,
}

/// The network interfaces of a VPC, and those of its NAT gateways in any state.
type VpcInterfaces = Result<ec2::VpcInterfaces, AwsError>;

/// Reads the network interfaces of `vpc` (see [`ec2::vpc_interfaces`]).
async fn vpc_interfaces(clients: &AwsClients, vpc: &str) -> VpcInterfaces {
    ec2::vpc_interfaces(&clients.ec2, &clients.batches, vpc).await
}

/// Another's network interfaces in the environment's VPC (a function's, a
/// database's, one made by hand), named as destroy names them. `early` is
/// what was read of the VPC in state while the inventory was discovered;
/// another VPC found (an unfinished create's) is read now. A read AWS
/// refuses is logged and left out: the refresh itself stands.
async fn foreign_interfaces_of(
    clients: &AwsClients,
    spec: &EnvironmentSpec,
    inv: &Inventory,
    early: Option<(&str, VpcInterfaces)>,
) -> Vec<String> {
    let Some(vpc) = &inv.vpc else {
        return Vec::new();
    };
    let read = match early {
        Some((read_of, read)) if read_of == vpc.id => read,
        _ => vpc_interfaces(clients, &vpc.id).await,
    };
    match read {
        Ok((interfaces, nat_interfaces)) => {
            let load_balancer = spec.names().load_balancer;
            foreign_interfaces(inv, &load_balancer, &interfaces, &nat_interfaces)
                .into_iter()
                .map(interface_in_words)
                .collect()
        }
        Err(error) => {
            tracing::warn!(%error, "could not list the network interfaces of the VPC");
            Vec::new()
        }
    }
}

/// Finds the environment `name` by its tags in the provider's region and reads
/// it as import records it: the inputs from what AWS runs, the outputs as a
/// refresh fills them, `tags` apart from `default_tags`. Only describes, so
/// nothing in AWS changes. `None` when no VPC is tagged for it.
pub(crate) async fn observe_by_name(
    clients: &AwsClients,
    name: &str,
    default_tags: &BTreeMap<String, String>,
) -> Result<Option<Observed>, AwsError> {
    // by name to find the VPC, then everything in it (what discovery by name
    // does): the target group's name carries a port not known yet
    let names = Names::new(name, AppSpec::default().port);
    let inv = Inventory::discover(clients, &names, Lookup::ByName).await?;
    let Some(vpc) = &inv.vpc else {
        return Ok(None);
    };
    let mut state = EnvironmentState {
        id: Value::Value(name.to_string()),
        name: Value::Value(name.to_string()),
        ..Default::default()
    };
    state.vpc_cidr = opt(vpc.detail.get("cidr").cloned());
    record_dhcp_options(&mut state, &inv);
    let zones: Vec<String> = inv
        .objects_of(SUBNET_KEYS)
        .map(|(_, s)| s)
        .filter_map(|s| s.detail.get("zone").cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    state.az_count = Value::Value(zones.len() as i64);
    state.availability_zones = string_list(zones.clone());
    for (tier, slot) in [
        (Tier::Public, &mut state.public_subnet_cidrs),
        (Tier::Private, &mut state.private_subnet_cidrs),
    ] {
        let prefix = format!("subnet/{}/", tier.as_str());
        *slot = string_map(inv.objects_of(SUBNET_KEYS).filter_map(|(k, s)| {
            Some((
                k.strip_prefix(&prefix)?.to_string(),
                s.detail.get("cidr")?.clone(),
            ))
        }));
    }
    let regional = inv
        .objects_of(NAT_GATEWAY_KEYS)
        .map(|(_, n)| n)
        .any(|n| n.detail.get("mode").map(String::as_str) == Some("regional"));
    let nat = match inv.objects_of(NAT_GATEWAY_KEYS).count() {
        _ if regional => "regional",
        0 => "none",
        1 if zones.len() > 1 => "single",
        _ => "one_per_az",
    };
    state.nat_gateways = Value::Value(nat.to_string());
    state.tags = user_tags(&inv, default_tags, &clients.ignored_tags);
    set_tags_all(&mut state, default_tags);
    import_blocks(&mut state, &inv);
    state.apply_defaults();
    fill_outputs(&mut state, &inv);
    state.drift = string_list(Vec::new());
    Ok(Some(Observed {
        unfinished: inv.is_unfinished(),
        state,
    }))
}

/// The instant `budget` from now; a budget too large to represent waits "forever"
/// (a century) instead of overflowing.
fn deadline_after(budget: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(budget)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// The deadline the waiters inside an operation bounded by `deadline` keep to:
/// a little earlier (a tenth of the budget, at most 5 s), so that a wait runs
/// out before the operation does even when a call of its last poll is slow to
/// answer, and the timeout says what it waited for and how far it got.
fn waiters_deadline(deadline: Instant, budget: Duration) -> Instant {
    let margin = (budget / 10).min(Duration::from_secs(5));
    deadline.checked_sub(margin).unwrap_or(deadline)
}

/// Bounds a whole operation, calls in flight included, by its deadline; the
/// waiters inside usually trip first and say what they waited for.
/// A timeout names what was pending (the waiter's object, or the AWS calls
/// still unanswered) and the whole budget that ran out, however late in the
/// operation its last wait began.
async fn within<T>(
    deadline: Instant,
    budget: Duration,
    work: impl std::future::Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    let in_flight = InFlight::default();
    match tokio::time::timeout_at(deadline, in_flight.tracking(work)).await {
        Ok(Err(AwsError::Timeout { what, .. }))
            if Instant::now() + Duration::from_secs(1) >= waiters_deadline(deadline, budget) =>
        {
            Err(AwsError::Timeout {
                what,
                waited: budget,
            })
        }
        Ok(outcome) => outcome,
        Err(_) => {
            let pending = in_flight.pending();
            Err(AwsError::Timeout {
                what: if pending.is_empty() {
                    "the operation's last step to finish".into()
                } else {
                    format!("AWS to answer {}", pending.join(", "))
                },
                waited: budget,
            })
        }
    }
}

#[async_trait]
impl Resource for EnvironmentResource {
    type State<'a> = EnvironmentState;
    /// what the last refresh found that the next plan must show (see [`Repairs`])
    type PrivateState<'a> = Repairs;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema::environment_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let problems = validate::check(&config);
        validate::report(&problems, diags);
        problems.is_empty().then_some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        // what the last refresh found: this one judges anew
        _private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        self.remember_managed(&state.name);
        let clients = self.clients(diags)?;
        // compared with what the last apply set: new default tags are a planned change
        let applied = applied_default_tags(&state, &clients.default_tags);
        let spec = to_spec_or_report(&state, &applied, &clients.ignored_tags, diags)?;
        // bound to the VPC in state; without one (a create interrupted before its
        // first answer) only an environment still being created is taken
        let lookup = match state.vpc_id.as_ref_option() {
            Some(vpc) => Lookup::InVpc(vpc),
            None => Lookup::ByName,
        };
        let hints = Hints {
            listener_arns: model::known_map(&state.listener_arns)
                .unwrap_or_default()
                .into_values()
                .collect(),
            components: component_ids(&state),
            ..Hints::default()
        };
        // the VPC's network interfaces are asked beside the inventory's first
        // reads: every environment of the configuration asks them at the same
        // moment, so they merge into one call, where asked after each
        // inventory (whose reads end at different times) they would not
        let vpc_in_state = state.vpc_id.as_ref_option().cloned();
        let names = spec.names();
        let (inv, early_interfaces) = futures::join!(
            Inventory::discover_hinted(&clients, &names, lookup, &hints),
            async {
                match &vpc_in_state {
                    Some(vpc) => Some((vpc.as_str(), vpc_interfaces(&clients, vpc).await)),
                    None => None,
                }
            }
        );
        let inv = match inv {
            Ok(inv) => inv,
            Err(error) => {
                report_aws(diags, "Could not read the environment", &error, Phase::Read);
                return None;
            }
        };
        if inv.vpc.is_none() || (state.vpc_id.is_null() && !inv.is_unfinished()) {
            // the whole environment is gone: Terraform plans to create it again
            tracing::warn!(environment = %spec.name, "VPC not found; removing the environment from state");
            return None;
        }
        let mut refreshed = state;
        // the region's hosted zone of every load balancer: a missing one's
        // successor has it too, so the repair plan keeps it known
        let alb_zone_id = refreshed.alb_zone_id.clone();
        fill_outputs(&mut refreshed, &inv);
        if refreshed.alb_zone_id.is_null() {
            refreshed.alb_zone_id = alb_zone_id;
        }
        // states written before these inputs existed lack them; AWS has them
        fill_missing_inputs(&mut refreshed, &inv);
        // and they predate this choice, whose default is what they did not record
        if let Some(app) = refreshed.app.as_mut_option().and_then(|a| a.first_mut()) {
            if app.wait_for_capacity.is_null() {
                app.wait_for_capacity = Value::Value(AppSpec::default().wait_for_capacity);
            }
        }
        // and these predate the load balancer settings: AWS shows what they are
        if let Some(lb) = refreshed
            .load_balancer
            .as_mut_option()
            .and_then(|b| b.first_mut())
        {
            // an absent access_logs block is a choice (logging off), not a gap
            let access_logs = lb.access_logs.clone();
            observe_load_balancer_settings(lb, &inv);
            lb.access_logs = access_logs;
        }
        if refreshed.tags_all.is_null() {
            set_tags_all(&mut refreshed, &clients.default_tags);
        }
        // judged against the inputs just filled, not the defaults of their absence
        let spec = to_spec_or_report(&refreshed, &applied, &clients.ignored_tags, diags)?;
        let zones = zones_of(&refreshed).unwrap_or_else(|| {
            inv.objects_of(SUBNET_KEYS)
                .map(|(_, s)| s)
                .filter_map(|s| s.detail.get("zone").cloned())
                .collect()
        });
        let (drift, repairs) = match blueprint(&spec, &zones) {
            Ok(bp) => {
                let findings = drift::findings(&spec, &bp, &inv);
                (
                    findings.iter().map(ToString::to_string).collect(),
                    Repairs::of(&findings),
                )
            }
            Err(error) => (vec![error.to_string()], Repairs::default()),
        };
        refreshed.drift = string_list(drift);
        let mut objects: Vec<String> = inv.foreign.iter().map(ToString::to_string).collect();
        objects.extend(foreign_interfaces_of(&clients, &spec, &inv, early_interfaces).await);
        if !objects.is_empty() {
            diags.root_warning(
                "Objects in the environment's VPC that are not its own",
                format!(
                    "{}. The environment never modifies or deletes them, and destroy refuses to start while they are there: remove them, or move them out of the VPC, before destroying the environment.",
                    objects.join(", ")
                ),
            );
        }
        if !inv.tagged_elsewhere.is_empty() {
            diags.root_warning(
                "Objects outside the environment that carry its tags",
                format!(
                    "{}. No NAT gateway of the environment holds them, its group does not run them and the state does not name them, so they are not the environment's: it never modifies or deletes them, a copy of its tags notwithstanding. If one is a leftover of an interrupted run, release or delete it by hand.",
                    inv.tagged_elsewhere.join(", ")
                ),
            );
        }
        // after drift is judged against the inputs as applied
        show_drift_on_inputs(&mut refreshed, &inv);
        Some((refreshed, repairs))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut planned = proposed;
        planned.apply_defaults();
        planned.id = planned.name.clone();
        unknown_outputs(&mut planned);
        planned.drift = string_list(Vec::new());
        set_tags_all(&mut planned, &self.default_tags());
        if planned.availability_zones.is_null() {
            planned.availability_zones = Value::Unknown;
        }
        if let Some(app) = planned.app.as_mut_option().and_then(|a| a.first_mut()) {
            if app.ami_id.is_null() {
                app.ami_id = Value::Unknown;
            }
        }
        let bastion_enabled = planned.bastion_enabled();
        if let Some(bastion) = planned.bastion.as_mut_option().and_then(|b| b.first_mut()) {
            if bastion.ami_id.is_null() && bastion_enabled {
                bastion.ami_id = Value::Unknown;
            }
        }
        let zones = self
            .check_against_region(diags, &planned, &[], &config)
            .await?;
        if let Some(name) = planned.name.as_ref_option() {
            self.check_name_is_free(diags, name).await?;
        }
        plan_zones(&mut planned, zones);
        // from nothing: every key the zones and blocks give is known, every ID unknown
        plan_outputs(
            &EnvironmentState::default(),
            &config,
            &mut planned,
            &Refreshed::default(),
        );
        plan_alb_zone(&mut planned, self.region().as_deref());
        Some((planned, Repairs::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        self.remember_managed(&prior.name);
        let mut planned = proposed;
        unset_inputs_at_defaults(&mut planned, &config);
        planned.apply_defaults();
        desired_within_bounds(&mut planned, &config);
        set_tags_all(&mut planned, &self.default_tags());
        let replace = schema::replacement_paths(&prior, &planned);
        if !replace.is_empty() && prior.deletion_protected() {
            let replacing = schema::REPLACING_ATTRIBUTES
                .map(|a| format!("`{a}`"))
                .join(" or ");
            report_deletion_protected(
                diags,
                REPLACEMENT,
                &format!("Changing {replacing} replaces the environment, which deletes its load balancer, and `load_balancer.deletion_protection` is true."),
            );
            return None;
        }
        for path in &replace {
            diags.warning(
                "The whole environment will be replaced",
                "This attribute cannot change in place: apply deletes every object of the environment (instances, load balancer, NAT gateways and their addresses, subnets, the VPC) and then builds it all anew. Nothing serves until the new load balancer does, and every ID, address and the load balancer's DNS name change. To keep the environment, restore the attribute's value.",
                path.clone(),
            );
        }
        // the zones follow az_count, and a create that failed early never chose them:
        // either way apply chooses
        if config.availability_zones.is_null()
            && (planned.az_count != prior.az_count || planned.availability_zones.is_null())
        {
            planned.availability_zones = Value::Unknown;
        }
        if let Some(app) = planned.app.as_mut_option().and_then(|a| a.first_mut()) {
            if app.ami_id.is_null() {
                app.ami_id = Value::Unknown;
            }
        }
        let drift = drift_of(&prior);
        let refreshed = Refreshed {
            drifted: !drift.is_empty(),
            repairs: private_state.clone(),
        };
        if inputs_of(&planned) != inputs_of(&prior) {
            let in_use = zones_of(&prior).unwrap_or_default();
            let zones = self
                .check_against_region(diags, &planned, &in_use, &config)
                .await?;
            plan_zones(&mut planned, zones);
        }
        if inputs_of(&planned) != inputs_of(&prior) || !drift.is_empty() {
            // apply settles the drift: what it leaves is known only then, and an
            // empty list would show every entry as a removal
            planned.drift = if drift.is_empty() {
                string_list(Vec::new())
            } else {
                Value::Unknown
            };
            plan_outputs(&prior, &config, &mut planned, &refreshed);
            plan_alb_zone(&mut planned, self.region().as_deref());
            for warning in disruptions(&prior, &planned, &refreshed) {
                diags.warning(warning.summary, warning.detail, warning.path);
            }
        }
        Some((planned, private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        if prior.deletion_protected() {
            report_deletion_protected(
                diags,
                DESTROY,
                "`load_balancer.deletion_protection` is true (as configured, or as the last refresh found it in AWS), and destroying the environment deletes its load balancer.",
            );
            return None;
        }
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        config: Self::State<'a>,
        _private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let planned = planned.with_write_only_of(&config);
        let state = self
            .converge(diags, planned, None, |s| s.timeouts.create, CREATE_FAILED)
            .await?;
        // what the apply leaves is read by the next refresh
        Some((state, Repairs::default()))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        config: Self::State<'a>,
        _private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let planned = planned.with_write_only_of(&config);
        let state = self
            .converge(
                diags,
                planned,
                Some(&prior),
                |s| s.timeouts.update,
                "Updating the environment failed",
            )
            .await?;
        // what the apply leaves is read by the next refresh
        Some((state, Repairs::default()))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        _private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let clients = self.clients(diags)?;
        let spec = to_spec_or_report(&prior, &clients.default_tags, &clients.ignored_tags, diags)?;
        let budget = spec.timeouts.delete;
        let deadline = deadline_after(budget);
        let vpc_id = prior.vpc_id.as_ref_option().cloned();
        match self
            .unless_stopped(within(
                deadline,
                budget,
                Box::pin(destroy::destroy(
                    &clients,
                    &spec.names(),
                    vpc_id.as_deref(),
                    &Hints {
                        components: component_ids(&prior),
                        ..Hints::default()
                    },
                    waiters_deadline(deadline, budget),
                )),
            ))
            .await
        {
            Ok(()) => Some(()),
            Err(AwsError::DeletionProtected { arn }) => {
                report_deletion_protected(
                    diags,
                    DESTROY,
                    &format!("The load balancer {arn} has deletion protection enabled in AWS."),
                );
                None
            }
            Err(error) => {
                report_aws(
                    diags,
                    "Deleting the environment failed",
                    &error,
                    Phase::Destroy,
                );
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let clients = self.clients(diags)?;
        let name = Value::Value(id.clone());
        if let Some(problem) = validate::check_name_only(&name).first() {
            diags.root_error(format!("Cannot import `{id}`"), problem.detail.clone());
            return None;
        }
        match observe_by_name(&clients, &id, &clients.default_tags).await {
            Ok(Some(observed)) => {
                self.remember_managed(&name);
                Some((observed.state, Repairs::default()))
            }
            Ok(None) => {
                diags.root_error(format!("No environment named `{id}`"), format!("No VPC tagged `prodvpc:environment = {id}` exists in this account and region. Check the name and the provider's region."));
                None
            }
            Err(error) => {
                report_aws(diags, "Could not read the environment", &error, Phase::Read);
                None
            }
        }
    }
}
