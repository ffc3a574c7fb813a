//! Polling and retrying without fixed sleeps: the first attempt is immediate,
//! later ones come at intervals proportional to the time waited so far (so a
//! wait ends shortly after AWS is done, whatever its length), within a floor and
//! a cap, all bounded by a deadline.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::{autoscaling, ec2, AwsClients};
use crate::error::{AwsError, ErrorClass};

const MAX_DELAY: Duration = Duration::from_secs(15);
/// How often a wait that lasts says, at INFO, what it is still waiting for.
const REPORT_EVERY: Duration = Duration::from_secs(20);

/// When a wait that lasts says what it is still waiting for: once it has lasted
/// [`REPORT_EVERY`], then every [`REPORT_EVERY`] after the last report.
#[derive(Debug)]
struct Reports {
    next: Duration,
}

impl Default for Reports {
    fn default() -> Self {
        Reports { next: REPORT_EVERY }
    }
}

impl Reports {
    fn due(&mut self, waited: Duration) -> bool {
        let due = waited >= self.next;
        if due {
            self.next = waited + REPORT_EVERY;
        }
        due
    }
}

/// How often to ask AWS again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// describes, which have generous quotas: a tenth of the time waited so far
    /// (at least 200 ms), so a wait ends at most about 10% after AWS is done
    Watch,
    /// calls that change something, whose quotas are tight and shared by every
    /// retry loop of a run: a fifth of the time waited so far, at least a second
    Retry,
    /// creates whose AWS bucket is small (a load balancer: 10, then one every
    /// 5 s; a NAT gateway, a gateway endpoint, an instance), asked again after
    /// an object they name was not known yet: each attempt spends a token the
    /// account's other environments wait for, so the next one comes only once
    /// the object has had time to be known (at least 2 s)
    Scarce,
}

impl Pace {
    fn share_and_floor(self) -> (u32, Duration) {
        match self {
            Pace::Watch => (10, Duration::from_millis(200)),
            Pace::Retry => (5, Duration::from_secs(1)),
            Pace::Scarce => (5, Duration::from_secs(2)),
        }
    }

    /// The pause before the next attempt, after `waited` in all.
    pub fn delay(self, waited: Duration) -> Duration {
        let (share, floor) = self.share_and_floor();
        (waited / share).clamp(floor, MAX_DELAY)
    }

    /// [`Pace::delay`] as actually slept: polls of describes end on the
    /// process's shared grid ([`aligned`]); retries of calls that change
    /// something merge with nothing, so they keep their own moment.
    fn pause(self, waited: Duration) -> Duration {
        let delay = self.delay(waited);
        match self {
            Pace::Watch => aligned(delay, self.share_and_floor().1),
            Pace::Retry | Pace::Scarce => delay,
        }
    }
}

/// The instant every [`Pace::Watch`] pause of this process is measured from.
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// The pause before the next poll of a wait whose pace asks for `delay`,
/// ending on a grid shared by every wait of the process: the largest step
/// `floor * 2^k` not above `delay`, counted from one epoch. Waits of different
/// environments (each started at its own moment) then poll at the same
/// instants, so their describes merge into one call (`crate::aws::batch`)
/// instead of each draining the account's request rate alone. Steps nest
/// (each is a multiple of the smaller ones), so waits at different paces meet
/// too. The pause is at least half a step and less than a step and a half:
/// never a burst of polls, and on average no longer than `delay`.
fn aligned(delay: Duration, floor: Duration) -> Duration {
    let epoch = *EPOCH.get_or_init(Instant::now);
    pause_on_grid(
        Instant::now().saturating_duration_since(epoch),
        delay,
        floor,
    )
}

/// [`aligned`], `since` the epoch.
fn pause_on_grid(since: Duration, delay: Duration, floor: Duration) -> Duration {
    let mut step = floor;
    while step * 2 <= delay {
        step *= 2;
    }
    let since = since.as_nanos();
    let step_ns = step.as_nanos().max(1);
    let to_next = step_ns - since % step_ns;
    let pause = Duration::from_nanos(u64::try_from(to_next).unwrap_or(u64::MAX));
    if pause < step / 2 {
        pause + step
    } else {
        pause
    }
}

/// Polls `check` until it returns `Some`, or the deadline passes.
pub async fn poll_until<T, F, Fut>(deadline: Instant, what: &str, check: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    poll_paced(deadline, what, Pace::Watch, check).await
}

/// [`poll_until`] at a chosen pace.
pub async fn poll_paced<T, F, Fut>(
    deadline: Instant,
    what: &str,
    pace: Pace,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    let started = Instant::now();
    let mut reports = Reports::default();
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) if e.class() == ErrorClass::Throttled => {}
            Err(e) => return Err(e),
        }
        let waited = started.elapsed();
        if reports.due(waited) {
            tracing::info!(
                pending = what,
                waited_s = waited.as_secs(),
                "still waiting for {what}"
            );
        }
        // measured once the check is done: the pause ends on the shared grid
        let pause = pace.pause(waited);
        if Instant::now() + pause > deadline {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    Err(AwsError::Timeout {
        what: what.to_string(),
        waited: started.elapsed(),
    })
}

/// Runs a delete (or detach) until it succeeds, treating not-found as done and
/// retrying while AWS reports the object still in use. Out of time, the error
/// gives AWS's last refusal, which names what still holds the object.
pub async fn delete_with_retry<F, Fut>(
    deadline: Instant,
    what: &str,
    mut attempt: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let last = std::sync::Mutex::new(None::<AwsError>);
    let outcome = poll_paced(deadline, what, Pace::Retry, || {
        let call = attempt();
        let last = &last;
        async move {
            match call.await {
                Ok(()) => Ok(Some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                Err(e) if matches!(e.class(), ErrorClass::Dependency | ErrorClass::Conflict) => {
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;
    match (outcome, last.into_inner().unwrap_or_else(|p| p.into_inner())) {
        (Err(AwsError::Timeout { what, waited }), Some(refusal)) => Err(AwsError::Timeout {
            what: format!(
                "{what}, which AWS still refuses ({refusal}); if what holds it is not the environment's, remove it first: running again will not help until then"
            ),
            waited,
        }),
        (outcome, _) => outcome,
    }
}

/// How long after answering a create AWS may still leave the new object out
/// of a listing: a create that finds no VPC, a destroy that finds something
/// left and a failed apply's read of what exists look (again) after it.
pub const LISTED_LATE: Duration = Duration::from_secs(2);

/// How long AWS may take to show a just-created object to every endpoint. Past
/// this, a not-found answer is taken at its word and reported, so a real mistake
/// surfaces in minutes rather than at the end of a long timeout.
pub const PROPAGATION_WINDOW: Duration = Duration::from_secs(120);

/// Runs a call that names objects created moments ago, retrying while AWS does not
/// see them yet (eventual consistency answers not-found or a validation error
/// naming the object) or while an object it needs is still held elsewhere (an
/// address a deleting NAT gateway releases), with backoff, bounded by the deadline.
pub async fn retry_propagation<T, F, Fut>(
    deadline: Instant,
    what: &str,
    attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    // propagation takes about a second: ask again soon, as a describe would
    retry_propagation_at(deadline, what, Pace::Watch, attempt).await
}

/// [`retry_propagation`] for a create whose AWS bucket is small
/// ([`Pace::Scarce`]).
pub async fn retry_scarce_create<T, F, Fut>(
    deadline: Instant,
    what: &str,
    attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry_propagation_at(deadline, what, Pace::Scarce, attempt).await
}

async fn retry_propagation_at<T, F, Fut>(
    deadline: Instant,
    what: &str,
    pace: Pace,
    mut attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let propagated_by = Instant::now() + PROPAGATION_WINDOW;
    let last = std::sync::Mutex::new(None);
    let result = poll_paced(deadline, what, pace, || {
        let call = attempt();
        let last = &last;
        async move {
            match call.await {
                Ok(value) => Ok(Some(value)),
                Err(e) if e.class() == ErrorClass::Dependency => {
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(None)
                }
                Err(e)
                    if matches!(e.class(), ErrorClass::NotFound | ErrorClass::Propagation)
                        && Instant::now() < propagated_by =>
                {
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;
    match (result, last.into_inner().unwrap_or_else(|p| p.into_inner())) {
        // the operation's time ran out: say so, with what AWS last answered
        (Err(AwsError::Timeout { what, waited }), Some(error)) => Err(AwsError::Timeout {
            what: format!("{what} (AWS last answered: {error})"),
            waited,
        }),
        (result, _) => result,
    }
}

/// Waits until AWS no longer lists the Auto Scaling group `name`: one being
/// deleted can be neither changed nor made again until then.
pub(super) async fn wait_group_deleted(
    clients: &AwsClients,
    name: &str,
    deadline: Instant,
) -> Result<(), AwsError> {
    poll_until(deadline, "the Auto Scaling Group to be deleted", || async {
        let group = autoscaling::find_group(&clients.autoscaling, &clients.batches, name).await?;
        Ok(group.is_none().then_some(()))
    })
    .await
}

/// Waits until none of the instances `ids` is running or shutting down.
pub(super) async fn wait_terminated(
    clients: &AwsClients,
    ids: &[String],
    deadline: Instant,
) -> Result<(), AwsError> {
    if ids.is_empty() {
        return Ok(());
    }
    poll_until(deadline, "instances to terminate", || async {
        Ok(ec2::live_instances(&clients.ec2, &clients.batches, ids)
            .await?
            .is_empty()
            .then_some(()))
    })
    .await
}

/// An instance profile EC2 still calls invalid once IAM's propagation window
/// has passed does not exist (or was deleted): said on the attribute of
/// `block` (`app`, `bastion`) that names it, with AWS's words.
pub fn unknown_profile(
    block: &str,
    profile: &crate::plan::spec::InstanceProfile,
    aws_said: &str,
) -> AwsError {
    AwsError::Unsatisfiable(format!(
        "{block}.iam_instance_profile `{}` is not known to EC2 after IAM's propagation window ({}s): check that the instance profile exists in this account (an IAM role alone is not an instance profile) and that its name or ARN is spelled right ({aws_said})",
        profile.as_str(),
        PROPAGATION_WINDOW.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unknown_profile_is_named_on_its_attribute_with_awss_words() {
        let profile = crate::plan::spec::InstanceProfile::new("app-typo");
        let text =
            unknown_profile("app", &profile, "Invalid IAM Instance Profile name").to_string();
        assert!(
            text.starts_with("app.iam_instance_profile `app-typo` is not known to EC2 after IAM's propagation window (")
                && text.ends_with("(Invalid IAM Instance Profile name)"),
            "{text}"
        );
    }

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn pauses_grow_with_the_wait_within_floor_and_cap() {
        let secs = Duration::from_secs;
        assert_eq!(
            Pace::Watch.delay(Duration::ZERO),
            Duration::from_millis(200)
        );
        assert_eq!(Pace::Watch.delay(secs(30)), secs(3));
        assert_eq!(Pace::Watch.delay(secs(3600)), MAX_DELAY);
        assert_eq!(Pace::Retry.delay(Duration::ZERO), secs(1));
        assert_eq!(Pace::Retry.delay(secs(30)), secs(6));
        assert_eq!(Pace::Scarce.delay(Duration::ZERO), secs(2));
        // a wait ends at most a tenth after AWS is done, once past the floor
        for waited in [secs(10), secs(90), secs(140)] {
            assert!(Pace::Watch.delay(waited) <= waited / 10);
        }
    }

    #[test]
    fn polls_of_waits_started_apart_land_on_the_same_instants() {
        let floor = Duration::from_millis(200);
        let ms = Duration::from_millis;
        // two waits at the same pace, polling 80 ms apart, meet at once
        let first = ms(1_010) + pause_on_grid(ms(1_010), ms(250), floor);
        let second = ms(1_090) + pause_on_grid(ms(1_090), ms(250), floor);
        assert_eq!(first, second);
        // 130 ms apart, the later one skips the grid point too close to it:
        // they meet at the next one
        let later = ms(1_140) + pause_on_grid(ms(1_140), ms(250), floor);
        assert_eq!(first + pause_on_grid(first, ms(250), floor), later);
        // a wait at a slower pace wakes on a point of the faster one's grid
        for delay in [500, 900, 1700, 4000, 15_000].map(ms) {
            for since in (0..40).map(|n| ms(n * 37)) {
                let pause = pause_on_grid(since, delay, floor);
                let at = since + pause;
                assert_eq!(at.as_nanos() % floor.as_nanos(), 0, "{delay:?}");
                // between half a step and a step and a half: no burst, no stall
                assert!(
                    pause >= delay / 4 && pause <= delay * 3 / 2,
                    "{delay:?}: {pause:?}"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn first_poll_is_immediate() {
        let started = Instant::now();
        let value = poll_until(started + Duration::from_secs(5), "x", || async {
            Ok(Some(7))
        })
        .await;
        assert_eq!(value.unwrap(), 7);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn dependency_violations_are_retried_until_success() {
        let calls = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        delete_with_retry(deadline, "subnet", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(AwsError::Api {
                    operation: "DeleteSubnet",
                    code: "DependencyViolation".into(),
                    message: String::new(),
                    class: ErrorClass::Dependency,
                    request_id: None,
                })
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    fn api_error(code: &str, class: ErrorClass) -> AwsError {
        AwsError::Api {
            operation: "CreateSubnet",
            code: code.into(),
            message: String::new(),
            class,
            request_id: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn propagation_answers_are_retried_until_the_object_is_seen() {
        let calls = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(600);
        let id = retry_propagation(deadline, "subnet", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(api_error("InvalidVpcID.NotFound", ErrorClass::NotFound)),
                1 => Err(api_error("ValidationError", ErrorClass::Propagation)),
                _ => Ok("subnet-1"),
            }
        })
        .await
        .unwrap();
        assert_eq!(id, "subnet-1");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_not_found_that_outlasts_propagation_is_reported_before_the_deadline() {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(3600);
        let result: Result<(), _> = retry_propagation(deadline, "subnet", || async {
            Err(api_error("InvalidVpcID.NotFound", ErrorClass::NotFound))
        })
        .await;
        assert!(
            matches!(result, Err(AwsError::Api { ref code, .. }) if code == "InvalidVpcID.NotFound")
        );
        assert!(started.elapsed() < PROPAGATION_WINDOW + MAX_DELAY * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn other_failures_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(600);
        let result: Result<(), _> = retry_propagation(deadline, "subnet", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(api_error("UnauthorizedOperation", ErrorClass::Other))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_long_wait_reports_every_twenty_seconds_from_the_twentieth() {
        // the pauses of a 50 s wait, as poll_until takes them
        let mut reports = Reports::default();
        let mut waited = Duration::ZERO;
        let mut at = Vec::new();
        while waited < Duration::from_secs(50) {
            if reports.due(waited) {
                at.push(waited.as_secs());
            }
            waited += Pace::Watch.delay(waited);
        }
        assert_eq!(at.len(), 2, "{at:?}");
        assert!(at[0] >= 20 && at[1] >= at[0] + 20, "{at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_turns_into_timeout() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let result: Result<(), _> =
            poll_until(deadline, "nat gateway", || async { Ok(None) }).await;
        assert!(matches!(result, Err(AwsError::Timeout { .. })));
    }
}
