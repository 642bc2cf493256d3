//! The messages of `grpc.reflection.v1` (and `v1alpha`, which has the same ones), written
//! out by hand as prost messages: the crate has no build step for them.

/// One question on the reflection stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerReflectionRequest {
    /// Not used by wirecall (meant for virtual hosting).
    #[prost(string, tag = "1")]
    pub host: String,
    /// The question.
    #[prost(oneof = "MessageRequest", tags = "3, 4, 5, 6, 7")]
    pub message_request: Option<MessageRequest>,
}

/// The questions reflection answers.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MessageRequest {
    /// A file by its name, e.g. `user.proto`.
    #[prost(string, tag = "3")]
    FileByFilename(String),
    /// The file that defines a fully qualified symbol (package, service, method, message,
    /// field, enum, enum value or extension).
    #[prost(string, tag = "4")]
    FileContainingSymbol(String),
    /// The file that defines an extension of a message type by number.
    #[prost(message, tag = "5")]
    FileContainingExtension(ExtensionRequest),
    /// Every extension number known for a message type.
    #[prost(string, tag = "6")]
    AllExtensionNumbersOfType(String),
    /// The services served (the string is not looked at).
    #[prost(string, tag = "7")]
    ListServices(String),
}

/// A message type and an extension number of it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtensionRequest {
    /// The fully qualified message type, e.g. `pkg.Message`.
    #[prost(string, tag = "1")]
    pub containing_type: String,
    /// The extension's field number.
    #[prost(int32, tag = "2")]
    pub extension_number: i32,
}

/// One answer on the reflection stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerReflectionResponse {
    /// The request's `host`, echoed.
    #[prost(string, tag = "1")]
    pub valid_host: String,
    /// The question this answers.
    #[prost(message, optional, tag = "2")]
    pub original_request: Option<ServerReflectionRequest>,
    /// The answer.
    #[prost(oneof = "MessageResponse", tags = "4, 5, 6, 7")]
    pub message_response: Option<MessageResponse>,
}

/// The answers reflection gives.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MessageResponse {
    /// Files, for the three file questions.
    #[prost(message, tag = "4")]
    FileDescriptorResponse(FileDescriptorResponse),
    /// Extension numbers of a type.
    #[prost(message, tag = "5")]
    AllExtensionNumbersResponse(ExtensionNumberResponse),
    /// The services served.
    #[prost(message, tag = "6")]
    ListServicesResponse(ListServiceResponse),
    /// The question has no answer.
    #[prost(message, tag = "7")]
    ErrorResponse(ErrorResponse),
}

/// Encoded `google.protobuf.FileDescriptorProto`s: the file asked for first, then the
/// files it imports (directly or not) that this stream has not sent yet.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileDescriptorResponse {
    /// The encoded files.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub file_descriptor_proto: Vec<Vec<u8>>,
}

/// The extension numbers of a message type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtensionNumberResponse {
    /// The fully qualified message type.
    #[prost(string, tag = "1")]
    pub base_type_name: String,
    /// Its extensions' field numbers.
    #[prost(int32, repeated, tag = "2")]
    pub extension_number: Vec<i32>,
}

/// The services served.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListServiceResponse {
    /// One entry a service.
    #[prost(message, repeated, tag = "1")]
    pub service: Vec<ServiceResponse>,
}

/// One service served.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceResponse {
    /// The fully qualified name, e.g. `user.UserService`.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// Why a question has no answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorResponse {
    /// A gRPC status code, e.g. 5 (`NOT_FOUND`).
    #[prost(int32, tag = "1")]
    pub error_code: i32,
    /// What went wrong.
    #[prost(string, tag = "2")]
    pub error_message: String,
}
