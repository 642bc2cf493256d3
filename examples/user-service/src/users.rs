//! The UserService: users in memory, in the order they were created.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use wirecall::message_stream::{self, MessageStreamExt};
use wirecall::status::details::ErrorInfo;
use wirecall::{Request, Response, Status, Stream, Streaming};

use crate::pb::{
    ChatMessage, CreateUserRequest, CreateUsersResponse, GetUserRequest, ListUsersRequest,
    ListUsersResponse, StreamUsersRequest, User, UserService,
};

/// The `ErrorInfo` domain of this service's errors (wirecall's server adds the detail; the
/// contract only asks for the code).
pub const DOMAIN: &str = "user.example.com";

/// `ListUsers`' page size when the request says 0.
const DEFAULT_PAGE_SIZE: i32 = 10;
/// The largest page `ListUsers` returns.
const MAX_PAGE_SIZE: i32 = 100;

/// The in-memory UserService, seeded with Alice, Bob and Carol (ids `1` to `3`); new users
/// get the next number as their id.
#[derive(Debug)]
pub struct Users {
    store: Mutex<Vec<User>>,
}

impl Default for Users {
    fn default() -> Self {
        Users::new()
    }
}

/// Now, in milliseconds since the Unix epoch.
fn now_millis() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// NOT_FOUND, with an `ErrorInfo` naming the id.
fn user_not_found(id: &str) -> Status {
    Status::not_found(format!("user {id} not found")).with_detail(ErrorInfo {
        reason: "USER_NOT_FOUND".into(),
        domain: DOMAIN.into(),
        metadata: [("user_id".to_owned(), id.to_owned())].into(),
    })
}

/// INVALID_ARGUMENT unless `request` names a user with an email address.
fn validate(request: &CreateUserRequest) -> Result<(), Status> {
    if request.name.is_empty() {
        return Err(Status::invalid_argument("name is required"));
    }
    if !request.email.contains('@') {
        return Err(Status::invalid_argument(format!(
            "email {:?} is not an address",
            request.email
        )));
    }
    Ok(())
}

/// A page's bounds in a list of `len`: `page` counts from 1 (0 means 1), `page_size` 0 means
/// [`DEFAULT_PAGE_SIZE`] and is at most [`MAX_PAGE_SIZE`].
fn page_bounds(page: i32, page_size: i32, len: usize) -> Result<(usize, usize), Status> {
    if page < 0 || page_size < 0 {
        return Err(Status::invalid_argument(
            "page and page_size must not be negative",
        ));
    }
    let page = usize::try_from(page.max(1)).unwrap_or(1);
    let size = match page_size {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    };
    let size = usize::try_from(size).unwrap_or(0);
    let start = (page - 1).saturating_mul(size).min(len);
    Ok((start, (start + size).min(len)))
}

impl Users {
    /// A store holding the three seed users.
    pub fn new() -> Self {
        let seed = [
            ("1", "Alice", "alice@example.com", 1_700_000_000_000),
            ("2", "Bob", "bob@example.com", 1_700_000_060_000),
            ("3", "Carol", "carol@example.com", 1_700_000_120_000),
        ];
        let users = seed
            .into_iter()
            .map(|(id, name, email, created_at)| User {
                id: id.into(),
                name: name.into(),
                email: email.into(),
                created_at,
            })
            .collect();
        Users {
            store: Mutex::new(users),
        }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, Vec<User>> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores every request as a new user, or none if one of them is invalid.
    fn create_all(&self, requests: Vec<CreateUserRequest>) -> Result<Vec<User>, Status> {
        requests.iter().try_for_each(validate)?;
        let mut users = self.users();
        let created: Vec<User> = requests
            .into_iter()
            .map(|request| {
                let id = users
                    .iter()
                    .filter_map(|u| u.id.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0)
                    + 1;
                let user = User {
                    id: id.to_string(),
                    name: request.name,
                    email: request.email,
                    created_at: now_millis(),
                };
                users.push(user.clone());
                user
            })
            .collect();
        Ok(created)
    }
}

impl UserService for Users {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = &request.get_ref().user_id;
        if id.is_empty() {
            return Err(Status::invalid_argument("user_id is required"));
        }
        let user = self.users().iter().find(|u| &u.id == id).cloned();
        user.map(Response::new).ok_or_else(|| user_not_found(id))
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let mut created = self.create_all(vec![request.into_inner()])?;
        Ok(Response::new(created.remove(0)))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let ListUsersRequest { page, page_size } = *request.get_ref();
        let users = self.users();
        let (start, end) = page_bounds(page, page_size, users.len())?;
        Ok(Response::new(ListUsersResponse {
            users: users[start..end].to_vec(),
            total: i32::try_from(users.len()).unwrap_or(i32::MAX),
        }))
    }

    async fn stream_users(
        &self,
        request: Request<StreamUsersRequest>,
    ) -> Result<Response<impl Stream<Item = Result<User, Status>> + Send + 'static>, Status> {
        let filter = request.get_ref().filter.to_lowercase();
        let matching: Vec<User> = self
            .users()
            .iter()
            .filter(|u| u.name.to_lowercase().contains(&filter))
            .cloned()
            .collect();
        Ok(Response::new(message_stream::iter(
            matching.into_iter().map(Ok),
        )))
    }

    async fn create_users(
        &self,
        request: Request<Streaming<CreateUserRequest>>,
    ) -> Result<Response<CreateUsersResponse>, Status> {
        let mut stream = request.into_inner();
        let mut requests = Vec::new();
        while let Some(next) = stream.message().await? {
            requests.push(next);
        }
        let users = self.create_all(requests)?;
        let count = i32::try_from(users.len()).unwrap_or(i32::MAX);
        Ok(Response::new(CreateUsersResponse { users, count }))
    }

    async fn chat(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<Response<impl Stream<Item = Result<ChatMessage, Status>> + Send + 'static>, Status>
    {
        let echoes = request.into_inner().map(|message| ChatMessage {
            id: message.id,
            text: format!("Echo: {}", message.text),
            timestamp: now_millis(),
        });
        Ok(Response::new(echoes))
    }
}
