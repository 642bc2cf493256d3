//! Routes a request's `:path` (`/package.Service/Method`) to a service and method with one
//! hash lookup.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::service::{DynService, Erased, Service};
use crate::Status;

#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) service: Arc<dyn DynService>,
    pub(crate) method: usize,
}

/// The routing table of a server.
#[derive(Default, Clone)]
pub(crate) struct Router {
    routes: HashMap<Box<str>, Route>,
    services: HashSet<&'static str>,
    /// The services' descriptor sets, each once, for reflection and the gateway.
    #[cfg(any(feature = "reflection", feature = "web"))]
    descriptor_sets: Vec<&'static [u8]>,
}

impl Router {
    /// Adds every method of `service`. A later service with the same name replaces it.
    pub(crate) fn add<S: Service>(&mut self, service: S) {
        let erased: Arc<dyn DynService> = Arc::new(Erased(Arc::new(service)));
        self.services.insert(S::NAME);
        #[cfg(any(feature = "reflection", feature = "web"))]
        {
            let set = S::DESCRIPTOR_SET;
            if !set.is_empty() && !self.descriptor_sets.contains(&set) {
                self.descriptor_sets.push(set);
            }
        }
        for (method, name) in S::METHODS.iter().enumerate() {
            let path = format!("/{}/{}", S::NAME, name).into_boxed_str();
            self.routes.insert(
                path,
                Route {
                    service: erased.clone(),
                    method,
                },
            );
        }
    }

    /// The route for a path, or the `UNIMPLEMENTED` status to answer with.
    pub(crate) fn route(&self, path: &str) -> Result<&Route, Status> {
        if let Some(route) = self.routes.get(path) {
            return Ok(route);
        }
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        Err(match trimmed.split_once('/') {
            Some((service, method)) if self.services.contains(service) => {
                Status::unimplemented(format!("unknown method {method} for service {service}"))
            }
            Some((service, _)) => Status::unimplemented(format!("unknown service {service}")),
            None => Status::unimplemented(format!("malformed method name: {path:?}")),
        })
    }

    /// The descriptor sets of the services added.
    #[cfg(any(feature = "reflection", feature = "web"))]
    pub(crate) fn descriptor_sets(&self) -> &[&'static [u8]] {
        &self.descriptor_sets
    }

    /// The names of the services served.
    pub(crate) fn service_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.services.iter().copied()
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("services", &self.services)
            .finish()
    }
}
