//! Generated code for the test protos, shared by the tests in `tests/`.

/// `package wirecall.test.echo`.
#[allow(missing_docs, clippy::all)]
pub mod echo {
    wirecall::include_proto!("wirecall.test.echo");
}

/// `package wirecall.test.common`, imported by `features`. prost-build refers to it from
/// `features` as `super::common`, so the modules nest as the package names do.
#[allow(missing_docs, clippy::all)]
pub mod wirecall {
    /// `package wirecall.test.*`.
    pub mod test {
        /// `package wirecall.test.common`.
        pub mod common {
            ::wirecall::include_proto!("wirecall.test.common");
        }
        /// `package wirecall.test.features`.
        pub mod features {
            ::wirecall::include_proto!("wirecall.test.features");
        }
    }
}
