//! The standard health service, `grpc.health.v1.Health` (Check and Watch), as Kubernetes'
//! `grpc` probes, grpc-health-probe and every gRPC load balancer call it.
//!
//! [`HealthReporter`] holds the status of the server as a whole (service name `""`) and of
//! each service; [`ServerBuilder::add_health`](crate::server::ServerBuilder::add_health)
//! serves it, marks every service it knows `SERVING`, and turns everything `NOT_SERVING`
//! when a graceful shutdown starts, so that probes and balancers stop sending calls while
//! the in-flight ones finish.
//!
//! Feature `health`, in the default set.
//!
//! ```no_run
//! # async fn f<S: wirecall::server::Service>(orders: S) -> Result<(), wirecall::Error> {
//! let health = wirecall::health::HealthReporter::new();
//! let server = wirecall::Server::builder().add_service(orders).add_health(&health);
//! // Later, e.g. when the database is gone:
//! health.set_status("order.OrderService", wirecall::health::ServingStatus::NotServing);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::server::{ServerCall, Service};
use crate::{message_stream, Request, Response, Status};

pub use crate::health_messages::{HealthCheckRequest, HealthCheckResponse, ServingStatus};

/// The statuses the health service reports; cheap to clone, clones share them.
#[derive(Debug, Clone, Default)]
pub struct HealthReporter {
    services: Arc<Mutex<HashMap<String, watch::Sender<ServingStatus>>>>,
    /// Set by [`shut_down`](Self::shut_down): Watch calls end after telling their client.
    stopping: Arc<AtomicBool>,
}

impl HealthReporter {
    /// A reporter in which the server as a whole (`""`) is `SERVING`.
    pub fn new() -> Self {
        let reporter = HealthReporter::default();
        reporter.set_status("", ServingStatus::Serving);
        reporter
    }

    /// Sets the status of `service` (`""` for the server as a whole); watchers see it.
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        let mut services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        match services.get(service) {
            Some(sender) => {
                sender.send_if_modified(|current| std::mem::replace(current, status) != status);
            }
            None => {
                services.insert(service.to_owned(), watch::channel(status).0);
            }
        }
    }

    /// The status of `service`, if it has one.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        services.get(service).map(|sender| *sender.borrow())
    }

    /// Marks every service, and the server, `NOT_SERVING` (a graceful shutdown started).
    /// Watch calls send that and end, so that they do not hold the shutdown up.
    pub fn shut_down(&self) {
        self.stopping.store(true, Ordering::Release);
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        for sender in services.values() {
            // Always a change notification, even for a service that was NOT_SERVING
            // already: its watchers must wake up to see `stopping` and end.
            sender.send_modify(|status| *status = ServingStatus::NotServing);
        }
    }

    /// Follows `service`: its status now and each change; a service not registered yet
    /// reads `SERVICE_UNKNOWN` until it is.
    fn subscribe(&self, service: &str) -> watch::Receiver<ServingStatus> {
        let mut services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        // Entries made only for watches of unknown services go with their last watcher, so
        // that clients watching made-up names cannot grow the map without bound.
        services.retain(|_, status| {
            *status.borrow() != ServingStatus::ServiceUnknown || status.receiver_count() > 0
        });
        services
            .entry(service.to_owned())
            .or_insert_with(|| watch::channel(ServingStatus::ServiceUnknown).0)
            .subscribe()
    }

    /// The service to add to a server; `ServerBuilder::add_health` does it for you.
    pub fn service(&self) -> HealthService {
        HealthService {
            reporter: self.clone(),
        }
    }
}

impl crate::server::Lifecycle for HealthReporter {
    /// Every service served is `SERVING`, unless its status was set before.
    fn serving(&self, services: &[&'static str]) {
        for name in services {
            if self.status(name).is_none() {
                self.set_status(name, ServingStatus::Serving);
            }
        }
    }

    fn shutting_down(&self) {
        self.shut_down();
    }
}

impl crate::server::ServerBuilder {
    /// Serves `grpc.health.v1.Health` from `health`: every service added (before or after
    /// this call) is marked `SERVING`, and a graceful shutdown marks everything
    /// `NOT_SERVING` before connections are asked to go away. Feature `health` (default).
    pub fn add_health(self, health: &HealthReporter) -> Self {
        self.add_service(health.service())
            .with_lifecycle(Arc::new(health.clone()))
    }
}

/// `grpc.health.v1.Health`, serving a [`HealthReporter`]'s statuses.
#[derive(Debug, Clone)]
pub struct HealthService {
    reporter: HealthReporter,
}

impl HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = &request.get_ref().service;
        match self.reporter.status(service) {
            Some(status) if status != ServingStatus::ServiceUnknown => {
                Ok(Response::new(HealthCheckResponse {
                    status: status.into(),
                }))
            }
            _ => Err(Status::not_found(format!("unknown service {service:?}"))),
        }
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<
        Response<
            impl futures_core::Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static,
        >,
        Status,
    > {
        let mut statuses = self.reporter.subscribe(&request.get_ref().service);
        let stopping = self.reporter.stopping.clone();
        let (tx, rx) = message_stream::channel(4);
        tokio::spawn(async move {
            let mut sent = None;
            loop {
                let status = *statuses.borrow_and_update();
                if sent != Some(status) {
                    let message = HealthCheckResponse {
                        status: status.into(),
                    };
                    if tx.send(Ok(message)).await.is_err() {
                        return;
                    }
                    sent = Some(status);
                }
                if stopping.load(Ordering::Acquire) && status == ServingStatus::NotServing {
                    return;
                }
                // The call is over when its response stream is dropped (the client went
                // away or cancelled): stop watching then, not at the next change.
                tokio::select! {
                    changed = statuses.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(rx))
    }
}

impl Service for HealthService {
    const NAME: &'static str = "grpc.health.v1.Health";
    const METHODS: &'static [&'static str] = &["Check", "Watch"];
    const DESCRIPTOR_SET: &'static [u8] = crate::descriptors::BUILTIN;

    async fn call(self: Arc<Self>, method: usize, call: ServerCall) {
        match method {
            0 => call.unary(|request| self.check(request)).await,
            1 => call.server_streaming(|request| self.watch(request)).await,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_change_and_shutdown_turns_everything_off() {
        let health = HealthReporter::new();
        assert_eq!(health.status(""), Some(ServingStatus::Serving));
        assert_eq!(health.status("a.A"), None);
        health.set_status("a.A", ServingStatus::Serving);
        let mut watcher = health.subscribe("a.A");
        assert_eq!(*watcher.borrow_and_update(), ServingStatus::Serving);
        health.set_status("a.A", ServingStatus::Serving);
        assert!(
            !watcher.has_changed().unwrap(),
            "the same status is no change"
        );
        health.set_status("b.B", ServingStatus::NotServing);
        let mut already_down = health.subscribe("b.B");
        already_down.borrow_and_update();
        health.shut_down();
        assert!(watcher.has_changed().unwrap());
        assert!(
            already_down.has_changed().unwrap(),
            "watchers of a service already NOT_SERVING wake up too, to end"
        );
        assert_eq!(*watcher.borrow_and_update(), ServingStatus::NotServing);
        assert_eq!(health.status(""), Some(ServingStatus::NotServing));
    }
}
