//! Apply: runs reconcile within the operation's budget and turns what exists
//! afterwards, and any failure, into the state Terraform records.

use super::*;

impl EnvironmentResource {
    /// Runs reconcile and returns the resulting state; on failure the state of
    /// what exists is returned too, with the error. `prior` is the state before an
    /// update (`None` for a create): an update acts only on the VPC recorded there,
    /// and after a failed update every input whose change did not reach AWS keeps
    /// its prior value, so the next plan shows what is left.
    pub(super) async fn converge(
        &self,
        diags: &mut Diagnostics,
        planned: EnvironmentState,
        prior: Option<&EnvironmentState>,
        timeout_of: fn(&EnvironmentSpec) -> Duration,
        summary: &str,
    ) -> Option<EnvironmentState> {
        let clients = self.clients(diags)?;
        let spec = to_spec_or_report(
            &planned,
            &clients.default_tags,
            &clients.ignored_tags,
            diags,
        )?;
        let vpc_id = prior.and_then(|p| p.vpc_id.as_ref_option().cloned());
        let recorded = prior.map(component_ids).unwrap_or_default();
        let options = executor::Options {
            set_desired_capacity: prior.is_some_and(|p| sets_desired_capacity(p, &planned)),
            vpc_id: vpc_id.clone(),
            components: recorded.clone(),
            ..executor::Options::default()
        };
        let progress = options.progress.clone();
        let budget = timeout_of(&spec);
        let deadline = deadline_after(budget);
        // boxed: the whole graph is one large future, kept off the worker's stack
        let outcome = self
            .unless_stopped(within(
                deadline,
                budget,
                Box::pin(executor::reconcile(
                    &clients,
                    &spec,
                    options,
                    waiters_deadline(deadline, budget),
                )),
            ))
            .await;
        if let Err(AwsError::Owned { name, vpc_id }) = &outcome {
            // nothing was touched: no state, so no later destroy can reach the other environment
            diags.error(
                "An environment of this name already exists",
                format!("The environment `{name}` ({vpc_id}) exists and is managed by another configuration (or another resource in this one). Nothing was changed. To manage it here, import it: `terraform import <address> {name}` or an `import` block with `id = \"{name}\"`. Otherwise choose another `name`. (With `create_before_destroy`, a replacement cannot reuse the name of the environment it replaces.)"),
                AttributePath::new("name"),
            );
            return None;
        }
        if let (None, Err(error)) = (prior, &outcome) {
            if !progress.began_building() {
                // refused before anything was made: no state, so the next plan
                // is a plain create rather than the replacement of a tainted one
                report_aws(diags, summary, error, Phase::Update);
                return None;
            }
        }
        // a plan that changes nothing a control looks at promised the posture of the last refresh
        let promised_posture = planned.posture.clone();
        let mut state = planned;
        state.id = Value::Value(spec.name.clone());
        // bound to the VPC the apply made or found, which a listing by tag may
        // not show yet
        let made_vpc = progress.vpc();
        let lookup = match (&vpc_id, &outcome, &made_vpc) {
            (Some(vpc), _, _) => Lookup::InVpc(vpc),
            (None, Ok(done), _) => Lookup::InVpc(&done.vpc_id),
            // a failed create: what it built is in the VPC it made, which a
            // listing by tag may not show yet
            (None, Err(_), Some(vpc)) => Lookup::InVpc(vpc),
            (None, Err(_), None) => Lookup::ByName,
        };
        if matches!(&outcome, Err(error) if !matches!(error, AwsError::Interrupted))
            && (vpc_id.is_some() || made_vpc.is_some())
        {
            // what the run made just before it failed is listed only a moment
            // later: state must record it, or the next apply would not know it
            tokio::time::sleep(crate::apply::waiters::LISTED_LATE).await;
        }
        // what the state names and what the run made, bound to nothing yet
        // if it stopped early (an address before its NAT gateway)
        let hints = Hints {
            components: recorded.into_iter().chain(progress.made()).collect(),
            ..Hints::default()
        };
        let names = spec.names();
        let discover = || Inventory::discover_hinted(&clients, &names, lookup, &hints);
        let mut read = discover().await;
        if let Ok(done) = &outcome {
            // AWS lists what the apply made only a moment after answering its
            // creates: read again while something planned is not listed, rather
            // than record it as gone (Terraform refuses an output that vanishes)
            for _ in 0..SETTLING_READS {
                match &read {
                    Ok(inv) if !drift::drift(&spec, &done.blueprint, inv).is_empty() => {
                        tokio::time::sleep(SETTLING_PAUSE).await;
                        read = discover().await;
                    }
                    _ => break,
                }
            }
        }
        match read {
            Ok(inv) => {
                match &outcome {
                    Ok(done) => {
                        fill_inputs(&mut state, &done.blueprint, &done.ami_id);
                        // The plan promised no drift after apply; what AWS still reports
                        // differently (eventual consistency) shows up at the next refresh.
                        let left = drift::drift(&spec, &done.blueprint, &inv);
                        if !left.is_empty() {
                            tracing::warn!(environment = %spec.name, ?left, "differences remain right after apply");
                        }
                    }
                    Err(error) => match prior {
                        Some(prior) => {
                            report_aws(diags, summary, error, Phase::Update);
                            settle_failed_update(
                                &mut state,
                                prior,
                                &inv,
                                &clients.default_tags,
                                &clients.ignored_tags,
                            )
                        }
                        None if made_vpc.is_some() || !components::object_ids(&inv).is_empty() => {
                            report_aws(diags, summary, error, Phase::Create);
                            diags.root_warning(
                                "The environment is partly built",
                                "What exists is kept in state, so nothing is orphaned. See the error for what the next apply does.",
                            );
                        }
                        // nothing listed yet: the next apply continues what the
                        // create may have begun
                        None => report_aws(diags, summary, error, Phase::Update),
                    },
                }
                fill_outputs(&mut state, &inv);
                record_dhcp_options(&mut state, &inv);
                if let (Value::Null, Some(vpc)) = (&state.vpc_id, &made_vpc) {
                    // the VPC the run made binds the state to it, listed or not
                    state.vpc_id = Value::Value(vpc.clone());
                }
                if promised_posture.is_value() {
                    state.posture = promised_posture;
                }
                state.drift = string_list(Vec::new());
            }
            Err(error) => {
                match &outcome {
                    Err(first) => {
                        let phase = if prior.is_some() {
                            Phase::Update
                        } else {
                            Phase::Create
                        };
                        report_aws(diags, summary, first, phase);
                    }
                    // what apply built is bound to the state by its VPC, so the next
                    // refresh reads it back instead of losing it
                    Ok(done) => {
                        fill_inputs(&mut state, &done.blueprint, &done.ami_id);
                        state.vpc_id = Value::Value(done.vpc_id.clone());
                    }
                }
                report_aws(
                    diags,
                    "Could not read the environment back",
                    &error,
                    Phase::Read,
                );
            }
        }
        settle(&mut state);
        Some(state)
    }
}
