//! The UserService: users in memory, in the order they were created, and the watchers told
//! about every change.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use prost_types::Timestamp;
use tokio::sync::broadcast;
use wirecall::message_stream::{self, MessageStreamExt, Sender};
use wirecall::{Request, Response, Status, Stream, Streaming};

use crate::pb::{
    ChatMessage, CreateUserRequest, DeleteUserRequest, Department, GetUserRequest,
    ListUsersRequest, ListUsersResponse, UploadSummary, User, UserEvent, UserService, WatchRequest,
};

/// How often `WatchUsers` sends a heartbeat (the first goes at once).
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// `ListUsers`' page size when the request says 0.
const DEFAULT_PAGE_SIZE: usize = 10;
/// The largest page `ListUsers` returns.
const MAX_PAGE_SIZE: usize = 100;
/// How many changes a watcher may fall behind before its watch ends.
const WATCH_BACKLOG: usize = 256;

/// What happened to a user, as `UserEvent.event_type` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    fn event_type(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
        }
    }
}

/// The in-memory UserService, seeded with three users (`usr-1` to `usr-3`); new users get
/// `usr-N` with the next number. Every change goes to the current watchers.
#[derive(Debug)]
pub struct Directory {
    store: Mutex<Store>,
    changes: broadcast::Sender<(Change, User)>,
}

#[derive(Debug)]
struct Store {
    users: Vec<User>,
    last_id: u64,
}

impl Default for Directory {
    fn default() -> Self {
        Directory::new()
    }
}

fn seconds(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

fn not_found(id: &str) -> Status {
    Status::not_found(format!("user {id} not found"))
}

/// INVALID_ARGUMENT unless the fields name a user with an email address and an age.
fn validate(name: &str, email: &str, age: i32) -> Result<(), Status> {
    if name.is_empty() {
        return Err(Status::invalid_argument("name is required"));
    }
    if !email.contains('@') {
        return Err(Status::invalid_argument(format!(
            "email {email:?} is not an address"
        )));
    }
    if age < 0 {
        return Err(Status::invalid_argument(format!(
            "age must not be negative, not {age}"
        )));
    }
    Ok(())
}

/// The department `name` (a `Department` value's name) stands for.
fn department(name: &str) -> Result<Department, Status> {
    Department::from_str_name(name)
        .ok_or_else(|| Status::invalid_argument(format!("unknown department {name:?}")))
}

/// Which users a `ListUsers` filter keeps: `""` every one, `department=NAME` those of one.
fn parse_filter(filter: &str) -> Result<Option<Department>, Status> {
    if filter.is_empty() {
        return Ok(None);
    }
    match filter.strip_prefix("department=") {
        Some(name) => department(name).map(Some),
        None => Err(Status::invalid_argument(format!(
            "filter {filter:?}: expected \"department=NAME\" or nothing"
        ))),
    }
}

/// The offset a page token stands for (the server writes offsets in decimal).
fn parse_page_token(token: &str) -> Result<usize, Status> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .parse()
        .map_err(|_| Status::invalid_argument(format!("page_token {token:?} is not one of ours")))
}

fn page_size(requested: i32) -> Result<usize, Status> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
        Err(_) => Err(Status::invalid_argument(format!(
            "page_size must not be negative, not {requested}"
        ))),
    }
}

fn heartbeat() -> UserEvent {
    UserEvent {
        event_type: "heartbeat".into(),
        user: Some(User {
            name: "system".into(),
            ..User::default()
        }),
    }
}

impl Directory {
    /// A directory holding the three seed users.
    pub fn new() -> Self {
        let seed = [
            (
                "Alice Johnson",
                "alice@example.com",
                34,
                Department::Engineering,
                &["admin", "developer"][..],
                1_705_309_200,
            ),
            (
                "Bob Smith",
                "bob@example.com",
                28,
                Department::Marketing,
                &["editor"][..],
                1_708_425_000,
            ),
            (
                "Carol Davis",
                "carol@example.com",
                41,
                Department::Engineering,
                &["developer"][..],
                1_709_648_100,
            ),
        ];
        let users: Vec<User> = seed
            .into_iter()
            .zip(1..)
            .map(|((name, email, age, department, roles, created), n)| User {
                id: format!("usr-{n}"),
                name: name.into(),
                email: email.into(),
                age,
                department: department.into(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                created_at: seconds(created),
            })
            .collect();
        let last_id = users.len() as u64;
        Directory {
            store: Mutex::new(Store { users, last_id }),
            changes: broadcast::channel(WATCH_BACKLOG).0,
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the watchers (if any) about a change.
    fn report(&self, change: Change, user: &User) {
        let _ = self.changes.send((change, user.clone()));
    }

    fn create(&self, request: CreateUserRequest) -> Result<User, Status> {
        validate(&request.name, &request.email, request.age)?;
        let user = {
            let mut store = self.store();
            store.last_id += 1;
            let user = User {
                id: format!("usr-{}", store.last_id),
                name: request.name,
                email: request.email,
                age: request.age,
                department: request.department,
                roles: Vec::new(),
                created_at: Some(SystemTime::now().into()),
            };
            store.users.push(user.clone());
            user
        };
        self.report(Change::Created, &user);
        Ok(user)
    }

    fn update(&self, changed: User) -> Result<User, Status> {
        validate(&changed.name, &changed.email, changed.age)?;
        let user = {
            let mut store = self.store();
            let stored = store
                .users
                .iter_mut()
                .find(|u| u.id == changed.id)
                .ok_or_else(|| not_found(&changed.id))?;
            *stored = User {
                created_at: stored.created_at,
                ..changed
            };
            stored.clone()
        };
        self.report(Change::Updated, &user);
        Ok(user)
    }

    fn delete(&self, id: &str) -> Result<User, Status> {
        let user = {
            let mut store = self.store();
            let at = store
                .users
                .iter()
                .position(|u| u.id == id)
                .ok_or_else(|| not_found(id))?;
            store.users.remove(at)
        };
        self.report(Change::Deleted, &user);
        Ok(user)
    }

    fn list(&self, request: &ListUsersRequest) -> Result<ListUsersResponse, Status> {
        let only = parse_filter(&request.filter)?;
        let size = page_size(request.page_size)?;
        let offset = parse_page_token(&request.page_token)?;
        let store = self.store();
        let matching: Vec<&User> = store
            .users
            .iter()
            .filter(|u| only.is_none_or(|d| u.department == i32::from(d)))
            .collect();
        let end = offset.saturating_add(size).min(matching.len());
        let users = matching
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(|u| (*u).clone())
            .collect();
        let next_page_token = if end < matching.len() {
            end.to_string()
        } else {
            String::new()
        };
        Ok(ListUsersResponse {
            users,
            next_page_token,
            total_count: i32::try_from(matching.len()).unwrap_or(i32::MAX),
        })
    }
}

/// Sends one watch's events until its client goes away: a heartbeat at once and every
/// [`HEARTBEAT`], and each change to a user of `departments` (all when empty).
async fn watch(
    departments: Vec<i32>,
    mut changes: broadcast::Receiver<(Change, User)>,
    events: Sender<Result<UserEvent, Status>>,
) {
    let mut heartbeats = tokio::time::interval(HEARTBEAT);
    loop {
        let event = tokio::select! {
            _ = events.closed() => return,
            _ = heartbeats.tick() => Ok(heartbeat()),
            change = changes.recv() => match change {
                Ok((change, user)) => {
                    if !departments.is_empty() && !departments.contains(&user.department) {
                        continue;
                    }
                    Ok(UserEvent { event_type: change.event_type().into(), user: Some(user) })
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => Err(Status::resource_exhausted(
                    format!("the watch fell {missed} changes behind; watch again"),
                )),
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        let ends = event.is_err();
        if events.send(event).await.is_err() || ends {
            return;
        }
    }
}

impl UserService for Directory {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = &request.get_ref().id;
        let user = self.store().users.iter().find(|u| &u.id == id).cloned();
        user.map(Response::new).ok_or_else(|| not_found(id))
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<User>, Status> {
        self.create(request.into_inner()).map(Response::new)
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        self.list(request.get_ref()).map(Response::new)
    }

    async fn watch_users(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<impl Stream<Item = Result<UserEvent, Status>> + Send + 'static>, Status>
    {
        let departments = request
            .get_ref()
            .departments
            .iter()
            .map(|name| department(name).map(i32::from))
            .collect::<Result<Vec<_>, _>>()?;
        // Subscribed before answering: every change after this call arrived is reported.
        let changes = self.changes.subscribe();
        let (events, stream) = message_stream::channel(16);
        tokio::spawn(watch(departments, changes, events));
        Ok(Response::new(stream))
    }

    async fn upload_users(
        &self,
        request: Request<Streaming<CreateUserRequest>>,
    ) -> Result<Response<UploadSummary>, Status> {
        let mut stream = request.into_inner();
        let mut summary = UploadSummary::default();
        while let Some(next) = stream.message().await? {
            match self.create(next) {
                Ok(_) => summary.created += 1,
                Err(_) => summary.failed += 1,
            }
        }
        Ok(Response::new(summary))
    }

    async fn chat(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<Response<impl Stream<Item = Result<ChatMessage, Status>> + Send + 'static>, Status>
    {
        let echoes = request.into_inner().map(|message| ChatMessage {
            sender: "server".into(),
            content: format!("Echo: {}", message.content),
        });
        Ok(Response::new(echoes))
    }

    async fn update_user(&self, request: Request<User>) -> Result<Response<User>, Status> {
        self.update(request.into_inner()).map(Response::new)
    }

    async fn delete_user(
        &self,
        request: Request<DeleteUserRequest>,
    ) -> Result<Response<User>, Status> {
        self.delete(&request.get_ref().id).map(Response::new)
    }
}
