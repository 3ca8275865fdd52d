//! SeaORM entities of Roster: users and profiles, related many-to-many through `user_profile`.

pub mod profile;
pub mod user;
pub mod user_profile;

pub use user_profile::ProfileRole;
