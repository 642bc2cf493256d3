//! The seeds' UserService on wirecall: an in-memory implementation ([`Users`]), a client
//! walkthrough ([`walkthrough`]) shared by the client binary and the interop tests, and a
//! tiny argument parser for the binaries.

pub mod walkthrough;

mod users;

pub use users::Users;

/// The generated code for `package user;`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    wirecall::include_proto!("user");
}

/// The value of `--name VALUE` or `--name=VALUE` in the process arguments.
pub fn arg(name: &str) -> Option<String> {
    let flag = format!("--{name}");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == flag {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            return Some(v.to_owned());
        }
    }
    None
}
