//! `health`: `grpc.health.v1.Health/Check` (or Watch), with an exit code for probes.

use std::io::Write as _;

use wirecall::codegen::PathAndQuery;
use wirecall::health::{HealthCheckRequest, HealthCheckResponse, ServingStatus};
use wirecall::Channel;

use crate::connect::ConnectOptions;
use crate::Failure;

/// The exit code of a service that answered but is not `SERVING`.
pub(crate) const NOT_SERVING_EXIT: u8 = 2;

fn name(status: i32) -> String {
    match ServingStatus::try_from(status) {
        Ok(ServingStatus::Unknown) => "UNKNOWN".into(),
        Ok(ServingStatus::Serving) => "SERVING".into(),
        Ok(ServingStatus::NotServing) => "NOT_SERVING".into(),
        Ok(ServingStatus::ServiceUnknown) => "SERVICE_UNKNOWN".into(),
        Err(_) => format!("UNKNOWN_STATUS_{status}"),
    }
}

/// Checks `service` (`""` for the server), printing its status; with `watch`, prints each
/// status the server streams until it ends the call. `Ok(true)` if the (last) status is
/// `SERVING`.
pub(crate) async fn check(
    channel: &Channel,
    connect: &ConnectOptions,
    service: &str,
    watch: bool,
) -> Result<bool, Failure> {
    let request = connect.request(HealthCheckRequest {
        service: service.to_owned(),
    })?;
    let serving = |status: i32| status == ServingStatus::Serving as i32;
    if !watch {
        let path = PathAndQuery::from_static("/grpc.health.v1.Health/Check");
        let response = channel
            .unary::<HealthCheckRequest, HealthCheckResponse>(request, path)
            .await
            .map_err(Failure::rpc)?;
        let status = response.get_ref().status;
        println!("{}", name(status));
        return Ok(serving(status));
    }
    let path = PathAndQuery::from_static("/grpc.health.v1.Health/Watch");
    let mut updates = channel
        .server_streaming::<HealthCheckRequest, HealthCheckResponse>(request, path)
        .await
        .map_err(Failure::rpc)?
        .into_inner();
    let mut last = ServingStatus::Unknown as i32;
    while let Some(update) = updates.message().await.map_err(Failure::rpc)? {
        last = update.status;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", name(last));
        let _ = stdout.flush();
    }
    Ok(serving(last))
}
