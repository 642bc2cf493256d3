//! The UserService implementation: users in a map behind a mutex.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use wirecall::message_stream::{self, MessageStreamExt};
use wirecall::request::Parts;
use wirecall::status::details::ErrorInfo;
use wirecall::{MetadataMap, Request, Response, Status, Streaming};

use crate::pb::{
    ChatMessage, CreateUserRequest, CreateUsersResponse, GetUserRequest, ListUsersRequest,
    ListUsersResponse, StreamUsersRequest, User, UserService,
};

/// The `ErrorInfo` domain of this service's errors.
pub(crate) const DOMAIN: &str = "user.example.com";

/// The in-memory UserService, seeded with Alice, Bob and Carol.
#[derive(Debug)]
pub struct Users {
    store: Mutex<BTreeMap<i32, User>>,
}

impl Default for Users {
    fn default() -> Self {
        Users::new()
    }
}

fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(SystemTime::now())
}

/// A response carrying the `x-echo-*` request metadata and the `x-method` trailer.
fn reply<T>(message: T, request: &MetadataMap, method: &str) -> Response<T> {
    let mut response = Response::new(message);
    response
        .metadata_mut()
        .extend_with_prefix(request, "x-echo-");
    let _ = response.trailers_mut().insert("x-method", method);
    response
}

/// An error status carrying the `x-method` trailer.
/// NOT_FOUND "User not found", with an `ErrorInfo` saying which id (rich error details).
fn user_not_found(id: i32) -> Status {
    Status::not_found("User not found").with_detail(ErrorInfo {
        reason: "USER_NOT_FOUND".into(),
        domain: DOMAIN.into(),
        metadata: [("id".to_owned(), id.to_string())].into(),
    })
}

fn fail(mut status: Status, method: &str) -> Status {
    let _ = status.metadata_mut().insert("x-method", method);
    status
}

impl Users {
    /// A store with the three seed users.
    pub fn new() -> Self {
        let seed = [
            (1, "Alice", "alice@example.com", 30),
            (2, "Bob", "bob@example.com", 25),
            (3, "Carol", "carol@example.com", 35),
        ];
        let created_at = Some(now());
        let users = seed
            .into_iter()
            .map(|(id, name, email, age)| {
                let user = User {
                    id,
                    name: name.into(),
                    email: email.into(),
                    age,
                    created_at,
                };
                (id, user)
            })
            .collect();
        Users {
            store: Mutex::new(users),
        }
    }

    fn create(&self, request: CreateUserRequest) -> Result<User, Status> {
        if request.name.is_empty() {
            return Err(Status::invalid_argument("name is required"));
        }
        let mut store = self.store.lock().expect("store lock");
        let id = store.keys().next_back().map_or(1, |max| max + 1);
        let user = User {
            id,
            name: request.name,
            email: request.email,
            age: request.age,
            created_at: Some(now()),
        };
        store.insert(id, user.clone());
        Ok(user)
    }

    fn all(&self) -> Vec<User> {
        self.store
            .lock()
            .expect("store lock")
            .values()
            .cloned()
            .collect()
    }
}

impl UserService for Users {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = request.get_ref().id;
        let user = self.store.lock().expect("store lock").get(&id).cloned();
        match user {
            Some(user) => Ok(reply(user, request.metadata(), "GetUser")),
            None => Err(fail(user_not_found(id), "GetUser")),
        }
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let (Parts { metadata, .. }, message) = request.into_parts();
        match self.create(message) {
            Ok(user) => Ok(reply(user, &metadata, "CreateUser")),
            Err(status) => Err(fail(status, "CreateUser")),
        }
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let page = request.get_ref().page.max(0);
        let page = if page == 0 { 1 } else { page };
        let page_size = request.get_ref().page_size;
        let page_size = if page_size <= 0 { 10 } else { page_size };
        let all = self.all();
        let skip =
            usize::try_from(i64::from(page - 1) * i64::from(page_size)).unwrap_or(usize::MAX);
        let users = all
            .iter()
            .skip(skip)
            .take(page_size as usize)
            .cloned()
            .collect();
        let response = ListUsersResponse {
            users,
            total: i32::try_from(all.len()).unwrap_or(i32::MAX),
            page,
            page_size,
        };
        Ok(reply(response, request.metadata(), "ListUsers"))
    }

    async fn stream_users(
        &self,
        request: Request<StreamUsersRequest>,
    ) -> Result<Response<impl wirecall::Stream<Item = Result<User, Status>> + Send + 'static>, Status>
    {
        let users = message_stream::iter(self.all().into_iter().map(Ok));
        Ok(reply(users, request.metadata(), "StreamUsers"))
    }

    async fn create_users(
        &self,
        request: Request<Streaming<CreateUserRequest>>,
    ) -> Result<Response<CreateUsersResponse>, Status> {
        let (Parts { metadata, .. }, mut stream) = request.into_parts();
        let mut users = Vec::new();
        while let Some(next) = stream.message().await.map_err(|s| fail(s, "CreateUsers"))? {
            users.push(self.create(next).map_err(|s| fail(s, "CreateUsers"))?);
        }
        let count = users.len() as i32;
        Ok(reply(
            CreateUsersResponse { users, count },
            &metadata,
            "CreateUsers",
        ))
    }

    async fn chat(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<ChatMessage, Status>> + Send + 'static>,
        Status,
    > {
        let (Parts { metadata, .. }, incoming) = request.into_parts();
        let echoes = incoming.map(|message| ChatMessage {
            user: "server".into(),
            text: format!("echo: {}", message.text),
        });
        Ok(reply(echoes, &metadata, "Chat"))
    }
}
