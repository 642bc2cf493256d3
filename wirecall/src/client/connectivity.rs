//! Connectivity states of subchannels and channels (gRPC's connectivity-semantics doc).

/// Where a subchannel, or a whole channel, stands with its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectivityState {
    /// No connection and none being made; the next call starts one.
    Idle,
    /// A connection is being made.
    Connecting,
    /// Calls can be sent.
    Ready,
    /// Connecting failed; the next attempt waits out the backoff. Calls without
    /// `wait_for_ready` fail with `UNAVAILABLE` meanwhile.
    TransientFailure,
}

impl ConnectivityState {
    pub(crate) fn as_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            1 => ConnectivityState::Connecting,
            2 => ConnectivityState::Ready,
            3 => ConnectivityState::TransientFailure,
            _ => ConnectivityState::Idle,
        }
    }

    /// A channel's state from its subchannels': READY if any is, else CONNECTING if any is,
    /// else IDLE if any is, else TRANSIENT_FAILURE (also for no subchannels at all).
    pub(crate) fn aggregate(states: impl IntoIterator<Item = ConnectivityState>) -> Self {
        let (mut connecting, mut idle) = (false, false);
        for state in states {
            match state {
                ConnectivityState::Ready => return ConnectivityState::Ready,
                ConnectivityState::Connecting => connecting = true,
                ConnectivityState::Idle => idle = true,
                ConnectivityState::TransientFailure => {}
            }
        }
        if connecting {
            ConnectivityState::Connecting
        } else if idle {
            ConnectivityState::Idle
        } else {
            ConnectivityState::TransientFailure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectivityState::{self, *};

    #[test]
    fn aggregate_prefers_ready_then_connecting_then_idle() {
        assert_eq!(
            ConnectivityState::aggregate([TransientFailure, Ready, Idle]),
            Ready
        );
        assert_eq!(
            ConnectivityState::aggregate([Idle, TransientFailure, Connecting]),
            Connecting
        );
        assert_eq!(ConnectivityState::aggregate([TransientFailure, Idle]), Idle);
        assert_eq!(
            ConnectivityState::aggregate([TransientFailure]),
            TransientFailure
        );
        assert_eq!(ConnectivityState::aggregate([]), TransientFailure);
        for state in [Idle, Connecting, Ready, TransientFailure] {
            assert_eq!(ConnectivityState::from_u8(state.as_u8()), state);
        }
    }
}
