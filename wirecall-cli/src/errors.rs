//! What a failed call prints: its code, message and rich error details as JSON.

use std::fmt::Write as _;

use prost_reflect::{DescriptorPool, DynamicMessage};
use wirecall::Status;

/// The standard detail types, for details the server's own descriptors do not describe.
fn standard_details() -> DescriptorPool {
    DescriptorPool::decode(wirecall::status::details::DESCRIPTOR_SET)
        .expect("the built-in google.rpc descriptors decode")
}

/// `ERROR:` with the status's code, message and each detail; `pool` (the server's
/// descriptors, if any were fetched) describes custom detail types.
pub(crate) fn render(status: &Status, pool: Option<&DescriptorPool>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ERROR:");
    let _ = writeln!(out, "  Code: {:?}", status.code());
    let _ = writeln!(out, "  Message: {}", status.message());
    let details = status.details_any();
    if details.is_empty() {
        return out;
    }
    let standard = standard_details();
    let _ = writeln!(out, "  Details:");
    for (i, any) in details.iter().enumerate() {
        let name = any.type_url.rsplit('/').next().unwrap_or_default();
        let descriptor = pool
            .and_then(|p| p.get_message_by_name(name))
            .or_else(|| standard.get_message_by_name(name));
        let text = match descriptor.map(|d| DynamicMessage::decode(d, any.value.as_slice())) {
            Some(Ok(message)) => crate::invoke::to_json(&message, false, false),
            Some(Err(e)) => format!("<does not decode: {e}>"),
            None => format!("<{} bytes of an undescribed type>", any.value.len()),
        };
        let text = text.replace('\n', "\n     ");
        let _ = writeln!(out, "  {}) {name} {text}", i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wirecall::status::details::{BadRequest, ErrorInfo, FieldViolation};

    #[test]
    fn code_message_and_standard_details() {
        let mut metadata = std::collections::HashMap::new();
        metadata.insert("id".to_owned(), "42".to_owned());
        let status = Status::not_found("no order 42")
            .with_detail(ErrorInfo {
                reason: "ORDER_NOT_FOUND".into(),
                domain: "orders.example.com".into(),
                metadata,
            })
            .with_detail(BadRequest {
                field_violations: vec![FieldViolation {
                    field: "id".into(),
                    description: "unknown".into(),
                }],
            });
        let text = render(&status, None);
        assert!(text.starts_with("ERROR:\n  Code: NotFound\n  Message: no order 42\n  Details:\n"));
        assert!(text.contains("  1) google.rpc.ErrorInfo {"), "{text}");
        assert!(text.contains("\"reason\": \"ORDER_NOT_FOUND\""), "{text}");
        assert!(text.contains("\"id\": \"42\""), "{text}");
        assert!(text.contains("  2) google.rpc.BadRequest {"), "{text}");
        assert!(text.contains("\"fieldViolations\""), "{text}");
    }

    #[test]
    fn no_details_no_details_section() {
        let text = render(&Status::unavailable("down"), None);
        assert_eq!(text, "ERROR:\n  Code: Unavailable\n  Message: down\n");
    }
}
