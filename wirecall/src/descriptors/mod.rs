//! Encoded `FileDescriptorSet`s of the `.proto` files under `wirecall/proto`, checked in as
//! bytes so that no build compiles them: `builtin.bin` (health and reflection, with source
//! info) and `google_rpc.bin` (`google.rpc.Status` and the error details, with imports).
//! The `checked_in_descriptors` test of `wirecall-tests` recompiles the protos and fails
//! when these files are stale; it also rewrites them (`WIRECALL_BLESS=1`).

/// The descriptors of the services wirecall itself provides (health, reflection).
#[cfg(any(feature = "health", feature = "reflection", all(test, feature = "web")))]
pub(crate) const BUILTIN: &[u8] = include_bytes!("builtin.bin");

/// `google.rpc.Status` and every detail type of `google/rpc/error_details.proto`, with
/// their imports.
pub(crate) const GOOGLE_RPC: &[u8] = include_bytes!("google_rpc.bin");
