//! One structured `tracing` event per call: method, peer, status and duration.

use std::time::Instant;

use super::{CallInfo, Interceptor};
use crate::{Code, Status};

/// Logs every finished call at `INFO` (failures with server-side codes — `UNKNOWN`,
/// `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`, `DEADLINE_EXCEEDED` — at `WARN`), target
/// `wirecall::call`.
#[derive(Debug, Default, Clone)]
pub struct Logging;

impl Logging {
    /// A logging interceptor.
    pub fn new() -> Self {
        Logging
    }
}

impl Interceptor for Logging {
    fn on_end(&self, call: &CallInfo, status: &Status) {
        let duration_us = Instant::now().duration_since(call.started()).as_micros() as u64;
        let peer = call
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let code = status.code().name();
        let server_fault = matches!(
            status.code(),
            Code::Unknown
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
                | Code::DeadlineExceeded
        );
        if server_fault {
            tracing::warn!(
                target: "wirecall::call",
                service = call.service(),
                method = call.method(),
                peer,
                code,
                message = status.message(),
                duration_us,
                "call failed"
            );
        } else {
            tracing::info!(
                target: "wirecall::call",
                service = call.service(),
                method = call.method(),
                peer,
                code,
                duration_us,
                "call finished"
            );
        }
    }
}
