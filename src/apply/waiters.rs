//! Polling and retrying without fixed sleeps: the first attempt is immediate,
//! later ones back off exponentially up to a cap, all bounded by a deadline.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{AwsError, ErrorClass};

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(15);

/// Backoff delays: 200ms, 400ms, 800ms ... capped at 15s.
pub fn backoff() -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(FIRST_DELAY), |d| Some((*d * 2).min(MAX_DELAY)))
}

/// Polls `check` until it returns `Some`, or the deadline passes.
pub async fn poll_until<T, F, Fut>(
    deadline: Instant,
    what: &str,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    let started = Instant::now();
    for delay in backoff() {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) if e.class() == ErrorClass::Throttled => {}
            Err(e) => return Err(e),
        }
        if Instant::now() + delay > deadline {
            break;
        }
        tokio::time::sleep(delay).await;
    }
    Err(AwsError::Timeout {
        what: what.to_string(),
        waited: started.elapsed(),
    })
}

/// Runs a delete (or detach) until it succeeds, treating not-found as done and
/// retrying while AWS reports the object still in use.
pub async fn delete_with_retry<F, Fut>(
    deadline: Instant,
    what: &str,
    mut attempt: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    poll_until(deadline, what, || {
        let call = attempt();
        async move {
            match call.await {
                Ok(()) => Ok(Some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                Err(e) if matches!(e.class(), ErrorClass::Dependency | ErrorClass::Conflict) => {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await
}

/// Runs a create-side call, retrying while a just-created dependency is not yet
/// visible (AWS's eventual consistency answers NotFound for a few seconds).
pub async fn retry_not_found<T, F, Fut>(
    deadline: Instant,
    what: &str,
    mut attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let last = std::sync::Mutex::new(None);
    let result = poll_until(deadline, what, || {
        let call = attempt();
        let last = &last;
        async move {
            match call.await {
                Ok(value) => Ok(Some(value)),
                Err(e) if e.is_not_found() || e.class() == ErrorClass::Dependency => {
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;
    match (result, last.into_inner().unwrap_or_else(|p| p.into_inner())) {
        (Err(AwsError::Timeout { .. }), Some(error)) => Err(error),
        (result, _) => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn backoff_grows_and_caps() {
        let delays: Vec<Duration> = backoff().take(10).collect();
        assert_eq!(delays[0], Duration::from_millis(200));
        assert_eq!(delays[1], Duration::from_millis(400));
        assert_eq!(delays[9], MAX_DELAY);
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
                })
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_turns_into_timeout() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let result: Result<(), _> =
            poll_until(deadline, "nat gateway", || async { Ok(None) }).await;
        assert!(matches!(result, Err(AwsError::Timeout { .. })));
    }
}
