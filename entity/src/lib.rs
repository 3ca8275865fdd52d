//! SeaORM entities of Roster: users and profiles, related many-to-many through `user_profile`,
//! and the account tables.

pub mod account_request;
pub mod account_token;
pub mod card_epoch;
pub mod folded;
pub mod login_attempt;
pub mod mail_outbox;
pub mod mail_request;
pub mod persisted_query;
pub mod profile;
pub mod profile_invitation;
pub mod recovery_code;
pub mod refresh_token;
pub mod role;
pub mod server_secret;
pub mod user;
pub mod user_profile;
pub mod user_role;
pub mod user_totp;

pub use user_profile::ProfileRole;
