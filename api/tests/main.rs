//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod access;
mod accounts;
mod bad_input;
mod batching;
mod clients;
mod concurrency;
mod confirmation;
mod connections;
mod dataset;
mod differential;
mod email_change;
mod exactness;
mod hardening;
mod http;
mod invitations;
mod memberships;
mod model;
mod outage;
mod persisted;
mod reads;
mod recovery;
mod schema;
mod seed;
mod slow_clients;
mod smtp;
mod standby;
mod subscriptions;
mod throttling;
mod transactions;
mod traversal;
mod two_factor;
mod unicode;
