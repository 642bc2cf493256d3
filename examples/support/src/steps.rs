//! Checked client steps: what every example client records, and how it reports them (one
//! line per step, `FAILED <step>: ...` on stderr and exit 1 at the first wrong answer,
//! `all N steps passed` at the end).

use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use wirecall::message_stream::Sender;
use wirecall::{Code, Endpoint, MetadataMap, Request, Response, Status, Streaming};

/// Every call's deadline, unless a step sets its own.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The deadline of the calls that must run out.
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(200);

/// The metadata key a client sends to see it echoed in the response headers.
pub const ECHO_KEY: &str = "x-echo-check";
/// The value sent under [`ECHO_KEY`].
pub const ECHO_VALUE: &str = "wirecall";

/// One step that passed: its name and what came back, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What was called.
    pub name: String,
    /// What came back.
    pub got: String,
}

/// The first check that failed: its step and what was expected against what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step that failed.
    pub step: String,
    /// What was expected and what came back.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.detail)
    }
}

impl std::error::Error for Failure {}

/// The result of a check.
pub type Checked<T> = Result<T, Failure>;

/// The steps that passed so far.
#[derive(Debug, Default)]
pub struct Steps {
    passed: Vec<Step>,
}

impl Steps {
    /// No steps yet.
    pub fn new() -> Self {
        Steps::default()
    }

    /// Records that `name` passed with `got`, and prints it.
    pub fn pass(&mut self, name: impl Into<String>, got: impl Into<String>) {
        let step = Step {
            name: name.into(),
            got: got.into(),
        };
        println!("{:<44} {}", step.name, step.got);
        self.passed.push(step);
    }

    /// The step `name`, whose call must have failed with `code`: records it as passed with
    /// the status (`NOT_FOUND: user 999 not found`) and gives the status for more checks.
    pub fn refused<T: fmt::Debug>(
        &mut self,
        name: &str,
        result: Result<T, Status>,
        code: Code,
    ) -> Checked<Status> {
        let status = refused(name, result, code)?;
        self.pass(name, format!("{}: {}", code.name(), status.message()));
        Ok(status)
    }

    /// Every step that passed, in order.
    pub fn into_passed(self) -> Vec<Step> {
        self.passed
    }
}

/// Fails `step` with `detail` unless `ok`.
pub fn check(step: &str, ok: bool, detail: impl FnOnce() -> String) -> Checked<()> {
    if ok {
        Ok(())
    } else {
        Err(Failure {
            step: step.to_owned(),
            detail: detail(),
        })
    }
}

/// The answer of `step`, or a failure naming the status it got instead.
pub fn answer<T>(step: &str, result: Result<T, Status>) -> Checked<T> {
    result.map_err(|status| Failure {
        step: step.to_owned(),
        detail: format!("expected an answer, got status {status}"),
    })
}

/// The status of `step`, which must have failed with `code`.
pub fn refused<T: fmt::Debug>(
    step: &str,
    result: Result<T, Status>,
    code: Code,
) -> Checked<Status> {
    match result {
        Err(status) if status.code() == code => Ok(status),
        Err(status) => Err(Failure {
            step: step.to_owned(),
            detail: format!("expected {code:?}, got status {status}"),
        }),
        Ok(answer) => Err(Failure {
            step: step.to_owned(),
            detail: format!("expected {code:?}, got the answer {answer:?}"),
        }),
    }
}

/// `message` as a request carrying [`ECHO_KEY`], for a metadata check.
pub fn with_echo<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert(ECHO_KEY, ECHO_VALUE)
        .expect("a valid ASCII metadata entry");
    request
}

/// The metadata check: the headers echo [`ECHO_KEY`] and the trailers name `method`.
pub fn echoed(
    step: &str,
    headers: &MetadataMap,
    trailers: &MetadataMap,
    method: &str,
) -> Checked<()> {
    check(step, headers.get(ECHO_KEY) == Some(ECHO_VALUE), || {
        format!("expected the header {ECHO_KEY}: {ECHO_VALUE}, got headers {headers:?}")
    })?;
    check(step, trailers.get("x-method") == Some(method), || {
        format!("expected the trailer x-method: {method}, got trailers {trailers:?}")
    })
}

/// The metadata check of a streamed answer read to its end: its headers echo [`ECHO_KEY`]
/// and its trailers name `method`.
pub async fn stream_echoed<T: prost::Message + Default + 'static>(
    step: &str,
    stream: &mut Streaming<T>,
    method: &str,
) -> Checked<()> {
    let headers = answer(step, stream.headers().await)?.clone();
    let trailers = answer(step, stream.trailers().await)?.unwrap_or_default();
    echoed(step, &headers, &trailers, method)
}

/// Every message of a streamed answer, to its end.
pub async fn collect<T: prost::Message + Default + 'static>(
    step: &str,
    stream: &mut Streaming<T>,
) -> Checked<Vec<T>> {
    let mut messages = Vec::new();
    while let Some(message) = answer(step, stream.message().await)? {
        messages.push(message);
    }
    Ok(messages)
}

/// The status of a streamed `call` that must run out of time before any answer: it has to
/// end with `DEADLINE_EXCEEDED`, whether the call itself or its first message says so.
pub async fn runs_out<T: prost::Message + Default + fmt::Debug + 'static>(
    step: &str,
    call: impl Future<Output = Result<Response<Streaming<T>>, Status>>,
) -> Checked<Status> {
    let result = match call.await {
        Ok(response) => response.into_inner().message().await,
        Err(status) => Err(status),
    };
    refused(step, result, Code::DeadlineExceeded)
}

/// `message` as a request with the deadline [`SHORT_TIMEOUT`].
pub fn short<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(SHORT_TIMEOUT);
    request
}

/// The endpoint of `target` (`http://HOST:PORT`), or the failure of the step `connect`.
pub fn endpoint(target: &str) -> Checked<Endpoint> {
    Endpoint::new(target).map_err(|e| Failure {
        step: "connect".into(),
        detail: format!("{target}: {e}"),
    })
}

/// A ping-pong on a bidirectional call made with [`with_echo`]: sends each of `pings` on
/// `requests`, reading one answer after each; then ends the request stream and checks that
/// the answers end there too, with the metadata echo of `method`. The answers, in order.
pub async fn ping_pong<Req, Resp>(
    step: &str,
    requests: Sender<Req>,
    mut answers: Streaming<Resp>,
    pings: impl IntoIterator<Item = Req>,
    method: &str,
) -> Checked<Vec<Resp>>
where
    Resp: prost::Message + Default + fmt::Debug + 'static,
{
    let mut got = Vec::new();
    for (i, ping) in pings.into_iter().enumerate() {
        if requests.send(ping).await.is_err() {
            return fail(
                step,
                format!("the request stream closed before message {}", i + 1),
            );
        }
        match answer(step, answers.message().await)? {
            Some(pong) => got.push(pong),
            None => return fail(step, format!("the answers ended before answer {}", i + 1)),
        }
    }
    drop(requests);
    let extra = answer(step, answers.message().await)?;
    check(step, extra.is_none(), || {
        format!("expected the end, got {extra:?}")
    })?;
    stream_echoed(step, &mut answers, method).await?;
    Ok(got)
}

/// Fails `step` with `detail`.
pub fn fail<T>(step: &str, detail: impl Into<String>) -> Checked<T> {
    Err(Failure {
        step: step.to_owned(),
        detail: detail.into(),
    })
}

/// Prints `all N steps passed`, or the failure on stderr; the exit code says which.
pub fn report(result: Checked<Vec<Step>>) -> ExitCode {
    match result {
        Ok(steps) => {
            println!("all {} steps passed", steps.len());
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("FAILED {failure}");
            ExitCode::FAILURE
        }
    }
}
