//! `wirecall`: grpcurl's job, shipped with the framework. Lists and describes a server's
//! services (through server reflection, or from `.proto` files), calls any method with
//! JSON in and JSON out (all four patterns; streams as whitespace- or newline-separated
//! JSON), and health-checks servers with an exit code for probes.
//!
//! ```text
//! wirecall --plaintext list 127.0.0.1:50051
//! wirecall --plaintext describe 127.0.0.1:50051 user.UserService
//! wirecall --plaintext call 127.0.0.1:50051 user.UserService/GetUser -d '{"id": 1}'
//! wirecall --plaintext health 127.0.0.1:50051
//! ```
//!
//! Exit codes: 0 success; 1 a local failure (cannot connect, unknown symbol); 2 bad usage
//! (or, for `health`, a status other than `SERVING`); 64 + the gRPC status code when a call
//! fails (as grpcurl does), e.g. 69 for `NOT_FOUND`.

mod connect;
mod describe;
mod errors;
mod health;
mod invoke;
mod source;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use prost_reflect::DescriptorPool;
use wirecall::Status;

use connect::ConnectOptions;
use invoke::CallOptions;
use source::{Source, SourceOptions};

/// List, describe and call gRPC services; health-check servers.
#[derive(Debug, Parser)]
#[command(name = "wirecall", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    connect: ConnectOptions,
    #[command(flatten)]
    source: SourceOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The services the server serves, or one service's methods.
    List {
        /// `host:port`, `http://host:port`, `https://host:port` or `unix:/path`.
        address: String,
        /// A service: list its methods instead.
        service: Option<String>,
    },
    /// A service, method, message, field or enum, as `.proto` text (every service without
    /// a symbol).
    Describe {
        /// Where the server is (as for `list`).
        address: String,
        /// The fully qualified symbol, e.g. `user.UserService` or `user.User`.
        symbol: Option<String>,
    },
    /// Calls a method with JSON requests and prints the JSON responses.
    Call {
        /// Where the server is (as for `list`).
        address: String,
        /// `pkg.Service/Method` (or `pkg.Service.Method`).
        method: String,
        #[command(flatten)]
        options: CallOptions,
    },
    /// Checks `grpc.health.v1.Health`: prints the status; exits 0 only when `SERVING`.
    Health {
        /// Where the server is (as for `list`).
        address: String,
        /// The service to check (default: the server as a whole).
        #[arg(default_value = "")]
        service: String,
        /// Follow the status (Health/Watch) until the server ends the call.
        #[arg(long)]
        watch: bool,
    },
}

/// Why the command failed, and so its exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: FailureKind,
    message: String,
}

#[derive(Debug)]
enum FailureKind {
    Usage,
    Local,
    Rpc(Box<Status>),
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Usage,
            message: message.into(),
        }
    }

    pub(crate) fn other(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Local,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Failure {
        Failure::other(format!("not found: {}", message.into()))
    }

    /// A call that ended with an error status.
    pub(crate) fn rpc(status: Status) -> Failure {
        Failure {
            message: status.message().to_owned(),
            kind: FailureKind::Rpc(Box::new(status)),
        }
    }

    /// A reflection call that failed: says so, keeps the status's exit code.
    pub(crate) fn reflection(status: Status) -> Failure {
        let mut failure = Failure::rpc(status);
        failure.message = format!("server reflection failed: {}", failure.message);
        failure
    }

    fn exit_code(&self) -> u8 {
        match &self.kind {
            FailureKind::Usage => 2,
            FailureKind::Local => 1,
            FailureKind::Rpc(status) => 64 + status.code() as u8,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("wirecall: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut pool = None;
    match runtime.block_on(run(cli, &mut pool)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            match &failure.kind {
                FailureKind::Rpc(status) if !failure.message.starts_with("server reflection") => {
                    eprint!("{}", errors::render(status, pool.as_ref()))
                }
                _ => eprintln!("wirecall: {}", failure.message),
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs the command; `pool` is left with the descriptors fetched (for printing errors).
async fn run(cli: Cli, pool: &mut Option<DescriptorPool>) -> Result<u8, Failure> {
    let Cli {
        connect,
        source,
        command,
    } = cli;
    // Bad `-H` flags are a usage error before anything is sent.
    connect.metadata()?;
    match command {
        Command::List { address, service } => {
            let channel = connect.connect(&address).await?;
            let mut source = Source::new(&source, &channel, &connect)?;
            match service {
                None => {
                    for name in source.services().await? {
                        println!("{name}");
                    }
                }
                Some(service) => {
                    let found = source.pool_with(&service).await?;
                    let service = found
                        .get_service_by_name(service.trim_start_matches('.'))
                        .ok_or_else(|| {
                            Failure::not_found(format!("{service:?} is not a service"))
                        })?;
                    for method in service.methods() {
                        println!("{}", method.full_name());
                    }
                }
            }
            Ok(0)
        }
        Command::Describe { address, symbol } => {
            let channel = connect.connect(&address).await?;
            let mut source = Source::new(&source, &channel, &connect)?;
            let symbols = match symbol {
                Some(symbol) => vec![symbol],
                None => source.services().await?,
            };
            for symbol in symbols {
                let found = source.pool_with(&symbol).await?;
                let described = describe::lookup(&found, &symbol)
                    .ok_or_else(|| Failure::not_found(format!("symbol {symbol:?}")))?;
                print!("{}", describe::describe(&described));
            }
            Ok(0)
        }
        Command::Call {
            address,
            method,
            options,
        } => {
            let channel = connect.connect(&address).await?;
            let mut source = Source::new(&source, &channel, &connect)?;
            let (service, name) = invoke::split_method(&method)?;
            let found = source.pool_with(service).await?;
            *pool = Some(found.clone());
            let service = found
                .get_service_by_name(service)
                .ok_or_else(|| Failure::not_found(format!("{service:?} is not a service")))?;
            let method = service
                .methods()
                .find(|m| m.name() == name)
                .ok_or_else(|| {
                    Failure::not_found(format!("{} has no method {name:?}", service.full_name()))
                })?;
            invoke::call(&channel, &connect, &method, &options).await?;
            Ok(0)
        }
        Command::Health {
            address,
            service,
            watch,
        } => {
            let channel = connect.connect(&address).await?;
            let serving = health::check(&channel, &connect, &service, watch).await?;
            Ok(if serving { 0 } else { health::NOT_SERVING_EXIT })
        }
    }
}
