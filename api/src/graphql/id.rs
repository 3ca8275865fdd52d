//! Global object identifiers (Relay): base64 of `<Type>:<primary key>`.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::error::{AppError, AppResult};

/// The object types that have global IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeType {
    User,
    Profile,
}

impl NodeType {
    fn name(self) -> &'static str {
        match self {
            NodeType::User => "User",
            NodeType::Profile => "Profile",
        }
    }
}

/// A decoded global ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeId {
    pub node_type: NodeType,
    pub key: i64,
}

impl NodeId {
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

    /// The global ID: base64 of `<Type>:<key>`. Written without `format!`: a page of a nested
    /// list encodes thousands of IDs, and formatting cost more than the rest of an item's answer.
    pub fn encode(self) -> ID {
        let mut digits = itoa::Buffer::new();
        let (name, key) = (self.node_type.name(), digits.format(self.key));
        let mut text = Vec::with_capacity(name.len() + 1 + key.len());
        text.extend_from_slice(name.as_bytes());
        text.push(b':');
        text.extend_from_slice(key.as_bytes());
        ID(STANDARD.encode(text))
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
