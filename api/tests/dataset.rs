//! A small dataset with ties, NULLs, case differences and LIKE metacharacters, seeded with SQL,
//! and its expected orders and filters computed here, independently of the server.

use entity::folded;

use crate::helpers::TestApp;

/// A seeded user: key, email, created day, last login hour (or none), active.
pub struct User {
    pub id: i64,
    pub email: &'static str,
    pub created_day: u32,
    pub last_login_hour: Option<u32>,
    pub active: bool,
    pub admin: bool,
}

/// A seeded profile: key, name, created day, updated day.
pub struct Profile {
    pub id: i64,
    pub name: &'static str,
    pub created_day: u32,
    pub updated_day: u32,
}

/// A seeded link.
pub struct Link {
    pub user: i64,
    pub profile: i64,
    pub owner: bool,
    pub linked_day: u32,
}

pub const USERS: [User; 12] = [
    user(2, "bob@example.com", 1, None, true, false),
    user(3, "Alice@example.com", 1, Some(5), true, false),
    user(4, "alice_2@example.com", 2, Some(5), false, false),
    user(5, "carol%1@example.com", 2, None, true, false),
    user(6, "Dave@example.com", 3, Some(1), true, false),
    user(7, "eve@example.com", 3, Some(9), false, false),
    user(8, "frank_x@example.com", 4, None, true, false),
    user(9, "Grace@example.com", 4, Some(2), true, true),
    user(10, "heidi@example.com", 5, Some(2), true, false),
    user(11, "ivan%@example.com", 5, None, true, false),
    user(12, "judy@example.com", 6, Some(7), true, false),
    user(13, "Mallory@example.com", 6, Some(3), false, false),
];

pub const PROFILES: [Profile; 8] = [
    profile(1, "alpha", 1, 4),
    profile(2, "Beta", 1, 2),
    profile(3, "gamma_1", 2, 2),
    profile(4, "100% pure", 3, 8),
    profile(5, "delta", 3, 1),
    profile(6, "Echo", 4, 6),
    profile(7, "50_50", 5, 6),
    profile(8, "foxtrot", 5, 3),
];

const fn user(
    id: i64,
    email: &'static str,
    created_day: u32,
    last_login_hour: Option<u32>,
    active: bool,
    admin: bool,
) -> User {
    User {
        id,
        email,
        created_day,
        last_login_hour,
        active,
        admin,
    }
}

const fn profile(id: i64, name: &'static str, created_day: u32, updated_day: u32) -> Profile {
    Profile {
        id,
        name,
        created_day,
        updated_day,
    }
}

/// Every link of the dataset: about a third of the pairs, with ties in role and date.
pub fn links() -> Vec<Link> {
    let mut links = Vec::new();
    for user in &USERS {
        for profile in &PROFILES {
            if (user.id * profile.id) % 3 == 1 || (user.id + profile.id) % 7 == 0 {
                links.push(Link {
                    user: user.id,
                    profile: profile.id,
                    owner: (user.id + profile.id) % 4 == 0,
                    linked_day: u32::try_from((user.id + profile.id) % 5 + 1).expect("small"),
                });
            }
        }
    }
    links
}

pub fn day(day: u32) -> String {
    format!("2026-01-{day:02}T00:00:00+00:00")
}

pub fn hour(hour: u32) -> String {
    format!("2026-02-01T{hour:02}:00:00+00:00")
}

/// Seeds the dataset (user keys 2 and up: register the first account before).
pub async fn seed(app: &TestApp) {
    let users: Vec<String> = USERS
        .iter()
        .map(|u| {
            let login = u
                .last_login_hour
                .map_or("NULL".to_owned(), |h| format!("'{}'", hour(h)));
            let created = day(u.created_day);
            let active = if u.active { "TRUE" } else { "FALSE" };
            format!(
                "({}, '{}', '{}', '{created}', '{created}', 'seed-{0}', {login}, {active}, 0)",
                u.id,
                u.email,
                folded::email_key(u.email)
            )
        })
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO \"user\" (id, email, email_key, created_at, updated_at, fs_uniquifier, last_login_at, active, login_count) VALUES {}",
        users.join(", ")
    ))
    .await;
    let profiles: Vec<String> = PROFILES
        .iter()
        .map(|p| {
            format!(
                "({}, '{}', '{}', '{}', '{}')",
                p.id,
                p.name,
                folded::fold(p.name),
                day(p.created_day),
                day(p.updated_day)
            )
        })
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO profile (id, name, name_key, created_at, updated_at) VALUES {}",
        profiles.join(", ")
    ))
    .await;
    let links: Vec<String> = links()
        .iter()
        .map(|l| {
            let role = if l.owner { "OWNER" } else { "MANAGER" };
            format!(
                "({}, {}, '{role}', '{}')",
                l.user,
                l.profile,
                day(l.linked_day)
            )
        })
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO user_profile (user_id, profile_id, role, created_at) VALUES {}",
        links.join(", ")
    ))
    .await;
    app.sync_key_sequences().await;
    for user in USERS.iter().filter(|u| u.admin) {
        app.execute_sql(&format!(
            "INSERT INTO user_role (user_id, role_id) SELECT {}, id FROM role WHERE name = 'admin'",
            user.id
        ))
        .await;
    }
}

/// Orders `items` by `key` (NULL smallest), ties by `id`, reversed when `descending`.
pub fn ordered<T, K: Ord>(
    items: Vec<T>,
    key: impl Fn(&T) -> K,
    id: impl Fn(&T) -> i64,
    descending: bool,
) -> Vec<T> {
    let mut items = items;
    items.sort_by(|a, b| {
        let order = key(a).cmp(&key(b)).then(id(a).cmp(&id(b)));
        if descending { order.reverse() } else { order }
    });
    items
}

/// The case-insensitive "contains" of the API, on ASCII text.
pub fn contains(text: &str, part: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&part.to_ascii_lowercase())
}
