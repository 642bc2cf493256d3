//! The wirecall interop client: `interop-client --server_host=H --server_port=N
//! --test_case=CASE [--use_tls=true --use_test_ca=true|--ca_file=F
//! --server_host_override=foo.test.google.fr]`. Exit 0 on pass, 1 on failure, 3 for an
//! unknown case.

use std::sync::OnceLock;
use std::time::Duration;

use wirecall_interop::client::{self, Outcome};
use wirecall_interop::flags::Flags;

#[tokio::main]
async fn main() {
    let flags = FLAGS.get_or_init(Flags::from_env);
    let case = flags.get("test_case").unwrap_or("large_unary").to_owned();
    let settings = client::Settings {
        soak_iterations: flags
            .get("soak_iterations")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000),
        iteration_interval: Duration::from_secs(
            flags
                .get("iteration_interval")
                .and_then(|n| n.parse().ok())
                .unwrap_or(10),
        ),
        new_channel: || channel(FLAGS.get().expect("flags parsed")).expect("channel settings"),
    };
    let channel = match channel(flags) {
        Ok(channel) => channel,
        Err(err) => {
            println!("FAIL {case}: {err}");
            std::process::exit(1);
        }
    };
    match client::run(&channel, &case, &settings).await {
        Ok(()) => println!("PASS {case}"),
        Err(Outcome::Fail(why)) => {
            println!("FAIL {case}: {why}");
            std::process::exit(1);
        }
        Err(Outcome::Unknown) => {
            println!("N/A: unknown test case {case}");
            std::process::exit(3);
        }
    }
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

fn channel(flags: &Flags) -> Result<wirecall::Channel, Box<dyn std::error::Error>> {
    let host = flags.get("server_host").unwrap_or("127.0.0.1");
    let port = flags.get("server_port").unwrap_or("10000");
    let mut endpoint = wirecall::Endpoint::new(format!("http://{host}:{port}"))?
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(10));
    if flags.bool("use_tls") {
        let ca = match flags.get("ca_file") {
            Some(file) => file.into(),
            None => flags.certs_dir().join("ca.pem"),
        };
        endpoint = endpoint.tls(wirecall::tls::client_config(&std::fs::read(ca)?)?)?;
        if let Some(name) = flags.get("server_host_override") {
            endpoint = endpoint.tls_server_name(name)?;
        }
    }
    Ok(endpoint.connect_lazy())
}
