//! Flow control (RFC 9113, section 5.2 and 6.9): one window per direction, for the
//! connection and for each stream. What we may send is [`SendWindow`]; what the peer may
//! send us, and when to tell it it may send more, is [`RecvWindow`].

use super::frame::MAX_WINDOW;

/// The initial window of a connection and of each stream, until SETTINGS say otherwise.
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;

/// A flow-control rule broken by the peer: FLOW_CONTROL_ERROR (of the stream or of the
/// connection, whichever the window belongs to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowError;

/// How much we may send: the peer's window for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendWindow {
    /// May go below zero when the peer lowers SETTINGS_INITIAL_WINDOW_SIZE (6.9.2).
    available: i64,
}

impl SendWindow {
    /// A window of `size` octets.
    pub(crate) fn new(size: u32) -> SendWindow {
        SendWindow {
            available: i64::from(size),
        }
    }

    /// The octets that may be sent now (none while the window is negative).
    pub(crate) fn available(&self) -> u32 {
        u32::try_from(self.available.max(0)).unwrap_or(MAX_WINDOW)
    }

    /// Takes `len` octets of the window for data being sent; the caller sends no more than
    /// [`SendWindow::available`].
    pub(crate) fn consume(&mut self, len: u32) {
        debug_assert!(len <= self.available(), "sent past the window");
        self.available -= i64::from(len);
    }

    /// A WINDOW_UPDATE of `increment`: an error if the window would pass 2^31 - 1.
    pub(crate) fn grow(&mut self, increment: u32) -> Result<(), FlowError> {
        let grown = self.available + i64::from(increment);
        if grown > i64::from(MAX_WINDOW) {
            return Err(FlowError);
        }
        self.available = grown;
        Ok(())
    }

    /// A new SETTINGS_INITIAL_WINDOW_SIZE: every stream window moves by the difference
    /// (6.9.2), and may pass 2^31 - 1 only as an error.
    pub(crate) fn resize(&mut self, old_initial: u32, new_initial: u32) -> Result<(), FlowError> {
        let moved = self.available + i64::from(new_initial) - i64::from(old_initial);
        if moved > i64::from(MAX_WINDOW) {
            return Err(FlowError);
        }
        self.available = moved;
        Ok(())
    }
}

/// What the peer may send us, and the credit we owe it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// The window we want to keep open.
    target: u32,
    /// What the peer may still send before it must wait for a WINDOW_UPDATE.
    available: u32,
    /// Octets the application has taken and not yet given back in a WINDOW_UPDATE.
    released: u32,
    /// Octets a widened window owes the peer: not batched, they go with the next update.
    widened: u32,
}

impl RecvWindow {
    /// A window of `size` octets, as the peer believes it to be.
    pub(crate) fn new(size: u32) -> RecvWindow {
        RecvWindow {
            target: size,
            available: size,
            released: 0,
            widened: 0,
        }
    }

    /// DATA of `len` octets (padding included) arrived: an error if it passes the window.
    pub(crate) fn receive(&mut self, len: u32) -> Result<(), FlowError> {
        self.available = self.available.checked_sub(len).ok_or(FlowError)?;
        Ok(())
    }

    /// The application took `len` octets (or they were dropped): the credit goes back.
    pub(crate) fn release(&mut self, len: u32) {
        self.released = self.released.saturating_add(len);
    }

    /// The WINDOW_UPDATE to send now, if any: updates are batched until half the window
    /// has been released, so a stream of small messages does not answer each with a frame;
    /// a widened window is announced at once.
    pub(crate) fn update(&mut self) -> Option<u32> {
        if self.widened == 0 && (self.released == 0 || self.released < self.target / 2) {
            return None;
        }
        let owed = self
            .released
            .saturating_add(std::mem::take(&mut self.widened));
        let increment = owed.min(MAX_WINDOW - self.available);
        self.released = owed - increment;
        self.available += increment;
        Some(increment).filter(|&i| i > 0)
    }

    /// A larger window than the peer was told: the difference is owed at once.
    pub(crate) fn widen(&mut self, target: u32) {
        if target > self.target {
            self.widened = self.widened.saturating_add(target - self.target);
            self.target = target;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_spends_the_window_and_updates_refill_it_up_to_the_limit() {
        let mut window = SendWindow::new(DEFAULT_WINDOW);
        window.consume(65_535);
        assert_eq!(window.available(), 0);
        window.grow(10).unwrap();
        assert_eq!(window.available(), 10);
        assert_eq!(window.grow(MAX_WINDOW), Err(FlowError));
        assert_eq!(window.available(), 10, "a refused update changes nothing");
    }

    #[test]
    fn a_lowered_initial_window_can_leave_a_stream_owing() {
        let mut window = SendWindow::new(DEFAULT_WINDOW);
        window.consume(60_000);
        window.resize(DEFAULT_WINDOW, 1_000).unwrap();
        assert_eq!(window.available(), 0, "now negative: nothing may be sent");
        window.grow(59_535).unwrap(); // it stood at 5,535 + 1,000 - 65,535 = -59,000
        assert_eq!(window.available(), 535);
        // 535 + (2^31 - 1) - 0 passes the limit.
        assert_eq!(window.resize(0, MAX_WINDOW), Err(FlowError));
    }

    #[test]
    fn the_peer_may_not_pass_our_window_and_credit_goes_back_in_batches() {
        let mut window = RecvWindow::new(100);
        window.receive(60).unwrap();
        assert_eq!(window.receive(41), Err(FlowError));
        window.release(30);
        assert_eq!(
            window.update(),
            None,
            "less than half the window: held back"
        );
        window.release(30);
        assert_eq!(window.update(), Some(60));
        window.receive(100).unwrap();
        assert_eq!(window.receive(1), Err(FlowError));
        // A bigger window is announced with the next update.
        window.widen(1_000);
        assert_eq!(window.update(), Some(900));
        window.receive(900).unwrap();
    }

    #[test]
    fn a_window_widened_by_less_than_half_is_announced_at_once_all_the_same() {
        let mut window = RecvWindow::new(DEFAULT_WINDOW);
        window.widen(DEFAULT_WINDOW + 1);
        assert_eq!(window.update(), Some(1));
        assert_eq!(window.update(), None);
        window.receive(DEFAULT_WINDOW + 1).unwrap();
        // What was released before goes with it.
        let mut window = RecvWindow::new(100);
        window.receive(100).unwrap();
        window.release(10);
        window.widen(120);
        assert_eq!(window.update(), Some(30));
        window.receive(30).unwrap();
        assert_eq!(window.receive(1), Err(FlowError));
    }
}
