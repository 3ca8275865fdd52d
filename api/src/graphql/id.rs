//! Global object identifiers (Relay): base64 of `<Type>:<primary key>`.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::error::{AppError, AppResult};

/// The object types that have global IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeType {
    User,
    Profile,
    ProfileInvitation,
}

impl NodeType {
    fn name(self) -> &'static str {
        match self {
            NodeType::User => "User",
            NodeType::Profile => "Profile",
            NodeType::ProfileInvitation => "ProfileInvitation",
        }
    }
}

/// The longest `<Type>:<key>`: `ProfileInvitation:` and the 20 characters of `i64::MIN`.
const TEXT_MAX: usize = "ProfileInvitation:".len() + 20;
/// Its length in base64.
const ENCODED_MAX: usize = TEXT_MAX.div_ceil(3) * 4;

/// A decoded global ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeId {
    pub node_type: NodeType,
    pub key: i64,
}

impl From<NodeId> for ID {
    fn from(id: NodeId) -> ID {
        id.encode()
    }
}

impl NodeId {
    pub const fn new(node_type: NodeType, key: i64) -> Self {
        NodeId { node_type, key }
    }

    pub fn user(key: i64) -> ID {
        NodeId {
            node_type: NodeType::User,
            key,
        }
        .encode()
    }

    pub fn profile(key: i64) -> ID {
        NodeId {
            node_type: NodeType::Profile,
            key,
        }
        .encode()
    }

    pub fn invitation(key: i64) -> ID {
        NodeId {
            node_type: NodeType::ProfileInvitation,
            key,
        }
        .encode()
    }

    /// The global ID: base64 of `<Type>:<key>`.
    pub fn encode(self) -> ID {
        let mut encoded = Vec::with_capacity(ENCODED_MAX);
        self.write_encoded(&mut encoded);
        // base64 is ASCII.
        ID(String::from_utf8(encoded).unwrap_or_default())
    }

    /// Appends the global ID to `out`. Written without `format!` or a `String`: a page of a
    /// nested list encodes thousands of IDs, and formatting cost more than the rest of an
    /// item's answer.
    pub fn write_encoded(self, out: &mut Vec<u8>) {
        let mut digits = itoa::Buffer::new();
        let (name, key) = (self.node_type.name(), digits.format(self.key));
        let mut text = [0; TEXT_MAX];
        let length = name.len() + 1 + key.len();
        text[..name.len()].copy_from_slice(name.as_bytes());
        text[name.len()] = b':';
        text[name.len() + 1..length].copy_from_slice(key.as_bytes());
        let mut encoded = [0; ENCODED_MAX];
        if let Ok(written) = STANDARD.encode_slice(&text[..length], &mut encoded) {
            out.extend_from_slice(&encoded[..written]);
        }
    }

    /// Decodes any global ID of ours; a malformed one is `BAD_USER_INPUT`.
    pub fn decode(id: &ID) -> AppResult<Self> {
        let malformed = || AppError::bad_input(format!("`{}` is not a valid ID", truncate(id)));
        let bytes = STANDARD.decode(id.as_str()).map_err(|_| malformed())?;
        let text = String::from_utf8(bytes).map_err(|_| malformed())?;
        let (name, key) = text.split_once(':').ok_or_else(malformed)?;
        let node_type = match name {
            "User" => NodeType::User,
            "Profile" => NodeType::Profile,
            "ProfileInvitation" => NodeType::ProfileInvitation,
            _ => return Err(malformed()),
        };
        // Only the canonical spelling of a positive key: no sign, no leading zeros.
        let key = key
            .parse::<i64>()
            .ok()
            .filter(|parsed| *parsed > 0 && parsed.to_string() == key)
            .ok_or_else(malformed)?;
        Ok(NodeId { node_type, key })
    }

    /// Decodes an ID that must be of `expected` type; any other ID is `BAD_USER_INPUT`.
    pub fn decode_as(id: &ID, expected: NodeType) -> AppResult<i64> {
        let node = Self::decode(id)?;
        if node.node_type != expected {
            return Err(AppError::bad_input(format!(
                "`{}` is not the ID of a {}",
                truncate(id),
                expected.name()
            )));
        }
        Ok(node.key)
    }
}

/// Echoes at most 64 characters of client input back in messages.
fn truncate(id: &ID) -> String {
    id.as_str().chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let id = NodeId::user(42);
        assert_eq!(id.as_str(), STANDARD.encode("User:42"));
        let largest = NodeId::profile(i64::MAX);
        assert_eq!(
            largest.as_str(),
            STANDARD.encode(format!("Profile:{}", i64::MAX))
        );
        assert_eq!(
            NodeId::decode_as(&largest, NodeType::Profile).ok(),
            Some(i64::MAX)
        );
        // Never a key of ours, but no panic either.
        let smallest = NodeId::profile(i64::MIN).0;
        assert_eq!(smallest, STANDARD.encode(format!("Profile:{}", i64::MIN)));
        assert_eq!(NodeId::decode_as(&id, NodeType::User).ok(), Some(42));
        assert!(NodeId::decode_as(&id, NodeType::Profile).is_err());
        for bad in [
            "",
            "!!!",
            "VXNlcjo=",
            "VXNlcjotMQ==",
            "VXNlcjowNDI=",
            "Rm9vOjE=",
        ] {
            assert!(NodeId::decode(&ID(bad.into())).is_err(), "{bad}");
        }
    }
}
