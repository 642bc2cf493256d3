//! [`Timer`]: a call's deadline as something to wait on. The one place a deadline is
//! enforced: the server's call races its handler against one, the client's call its
//! attempts, and [`crate::Streaming`] its reads.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::time::Sleep;

use crate::Status;

/// A call's deadline timer; none for a call without a deadline (and then nothing is
/// allocated). The timer is made once, however often it is polled.
#[derive(Debug, Default)]
pub(crate) struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    /// A timer that fires at `deadline`, if there is one.
    pub(crate) fn new(deadline: Option<Instant>) -> Timer {
        Timer(deadline.map(|at| Box::pin(tokio::time::sleep_until(at.into()))))
    }

    /// Ready once the deadline has passed; never without one.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    /// Stops the timer: it never fires after this.
    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }

    /// Runs `call` until it ends or the deadline passes, which fails it with
    /// DEADLINE_EXCEEDED.
    pub(crate) async fn limit<T>(
        mut self,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let mut call = pin!(call);
        poll_fn(|cx| {
            if let Poll::Ready(result) = call.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            self.poll_expired(cx).map(|()| Err(exceeded()))
        })
        .await
    }
}

/// The status of a call whose deadline passed.
pub(crate) fn exceeded() -> Status {
    Status::deadline_exceeded("deadline exceeded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_deadline_fails_and_one_without_never_does() {
        let slow = tokio::time::sleep(Duration::from_secs(10));
        let at = Instant::now() + Duration::from_secs(1);
        let result = Timer::new(Some(at))
            .limit(async {
                slow.await;
                Ok(())
            })
            .await;
        assert_eq!(result.unwrap_err().code(), crate::Code::DeadlineExceeded);

        let quick = tokio::time::sleep(Duration::from_secs(10));
        let result = Timer::new(None)
            .limit(async {
                quick.await;
                Ok(7)
            })
            .await;
        assert_eq!(result.unwrap(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cleared_timer_never_fires() {
        let mut timer = Timer::new(Some(Instant::now()));
        timer.clear();
        let waker = std::task::Waker::noop();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(timer
            .poll_expired(&mut Context::from_waker(waker))
            .is_pending());
    }
}
