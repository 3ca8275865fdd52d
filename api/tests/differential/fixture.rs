//! The data the differential test runs over, written straight to the database: users, profiles
//! and links whose sort keys tie and differ, times whose fractions need 0, 3 or 6 digits, null
//! and non-null account details, display names in several scripts, emails and names whose
//! folded keys differ from their lower-cased forms (`ß`, `Ä`, full-width, ligatures, IDNA
//! domains) or tie (`Straße`, `STRASSE`), roles granting each permission, pending and expired
//! invitations; and the callers who ask.

use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::{
    ProfileRole, folded, profile, profile_invitation, role, user, user_profile, user_role,
};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, EntityTrait, Set};
use serde_json::Value;

use super::generate::{Doc, Generator, Sel, Values};
use crate::helpers::{PASSWORD, TestApp};

const EMAILS: [&str; 24] = [
    "ann@example.com",
    "Anna.Berg@Example.com",
    "hannah@example.org",
    "BOB@example.com",
    "bobby@mail.example.net",
    "carl@example.com",
    "Carla@Example.com",
    "dave_x@example.com",
    "eve%s@example.com",
    "frank@example.com",
    "Grace@example.io",
    "heidi@example.com",
    "Иван@example.com",
    "JOSÉ@example.com",
    "mallory@example.com",
    "straße@example.com",
    "Strasse@example.de",
    "peggy@example.com",
    "ann@Bücher.de",
    "ｓｙｂｉｌ@example.com",
    "trent@example.com",
    "victor@example.com",
    "walter@example.com",
    "admin@example.com",
];

const PROFILES: [&str; 14] = [
    "Alpha team",
    "alpha Beta",
    "BETA",
    "Gamma_ray",
    "delta%",
    "Ärger",
    "äpfel",
    "Eta house",
    "Σίσυφος",
    "Straße",
    "ﬁle ｆｕｌｌ",
    "東京 Tower",
    "STRASSE",
    "Nu_",
];

/// Invitations: the profile and the address invited (by index; the address lower-cased for
/// odd profiles, so that it differs in case from the account's), the role offered, and
/// whether it has expired. The signed-in callers are users 3, 4, 8, 9 and 23.
const INVITATIONS: [(usize, usize, ProfileRole, bool); 10] = [
    (0, 3, ProfileRole::Manager, false),
    (1, 3, ProfileRole::Owner, false),
    (2, 3, ProfileRole::Manager, true),
    (3, 8, ProfileRole::Manager, false),
    (4, 8, ProfileRole::Owner, false),
    (5, 4, ProfileRole::Manager, false),
    (6, 9, ProfileRole::Owner, false),
    (7, 23, ProfileRole::Manager, false),
    (8, 0, ProfileRole::Manager, false),
    (9, 8, ProfileRole::Manager, true),
];

/// Fractions of a second whose RFC 3339 forms have 0, 3 and 6 digits.
const MICROS: [i64; 4] = [0, 120_000, 123_456, 999_999];

/// A caller: who, and their token (Roster) and key (the reference).
#[derive(Clone, Debug)]
pub struct Viewer {
    pub name: &'static str,
    pub key: i64,
    pub token: String,
}

pub struct Fixture {
    pub viewers: Vec<Viewer>,
    users: Vec<i64>,
    profiles: Vec<i64>,
    invitations: Vec<i64>,
    link_times: Vec<DateTime<Utc>>,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0)
        .single()
        .expect("a time")
}

fn micros(index: usize) -> Duration {
    Duration::microseconds(MICROS[index % MICROS.len()])
}

/// Writes the data and signs the callers in.
pub async fn load(app: &TestApp) -> Fixture {
    let conn = app.state.db.pool();
    let passwords = app.state.accounts.passwords();
    let admitted = passwords.admit().expect("a place for a hash");
    let hash = passwords
        .hash(admitted, PASSWORD.to_owned())
        .await
        .expect("a hash");
    let mut roles = Vec::new();
    for (name, permissions) in [
        ("auditor", "users:read"),
        ("librarian", "profiles:read"),
        ("nobody", ""),
    ] {
        let role = role::ActiveModel {
            id: NotSet,
            name: Set(name.to_owned()),
            description: Set(format!("The {name}s.")),
            permissions: Set(permissions.to_owned()),
        }
        .insert(conn)
        .await
        .expect("a role");
        roles.push(role.id);
    }
    let admin_role = role::Entity::find()
        .all(conn)
        .await
        .expect("roles")
        .into_iter()
        .find(|role| role.name == "admin")
        .expect("the admin role")
        .id;
    // Who signs in, by index: with the role they hold.
    let viewers: [(&'static str, usize, Option<i64>); 5] = [
        ("admin", 23, Some(admin_role)),
        ("auditor", 4, Some(roles[0])),
        ("librarian", 9, Some(roles[1])),
        ("manager", 3, Some(roles[2])),
        ("loner", 8, None),
    ];
    let mut users = Vec::new();
    for (index, email) in EMAILS.iter().enumerate() {
        let created =
            base() + Duration::hours(i64::try_from(index / 3).unwrap_or(0)) + micros(index / 3);
        let last_login = (index % 3 != 0).then(|| {
            base()
                + Duration::days(10)
                + Duration::minutes(i64::try_from(index % 5).unwrap_or(0))
                + micros(index)
        });
        let current_login =
            (index % 4 != 0).then(|| base() + Duration::days(11) + micros(index + 1));
        let signs_in = viewers.iter().any(|(_, at, _)| *at == index);
        let display_name = match index % 4 {
            0 => None,
            1 => Some(format!("User {index}")),
            2 => Some(format!("Zoë {index}")),
            _ => Some("李雷 👩\u{200D}💻".to_owned()),
        };
        let model = user::ActiveModel {
            id: NotSet,
            email: Set((*email).to_owned()),
            email_key: Set(folded::email_key(email)),
            created_at: Set(created),
            password_hash: Set(if signs_in {
                hash.clone()
            } else {
                String::new()
            }),
            active: Set(!matches!(index, 7 | 13)),
            fs_uniquifier: Set(format!("fixture-{index}")),
            confirmed_at: Set(None),
            last_login_at: Set(last_login),
            current_login_at: Set(current_login),
            last_login_ip: Set(last_login.map(|_| format!("10.0.0.{index}"))),
            current_login_ip: Set(current_login.map(|_| format!("10.0.1.{index}"))),
            login_count: Set(i64::try_from(index % 5).unwrap_or(0)),
            updated_at: Set(created),
            display_name: Set(display_name),
        }
        .insert(conn)
        .await
        .expect("a user");
        users.push(model.id);
    }
    let mut profiles = Vec::new();
    for (index, name) in PROFILES.iter().enumerate() {
        let created =
            base() + Duration::days(1) + Duration::hours(i64::try_from(index / 2).unwrap_or(0));
        let model = profile::ActiveModel {
            id: NotSet,
            name: Set((*name).to_owned()),
            name_key: Set(folded::fold(name)),
            created_at: Set(created),
            updated_at: Set(created
                + micros(index)
                + Duration::minutes(i64::try_from(index % 3).unwrap_or(0))),
        }
        .insert(conn)
        .await
        .expect("a profile");
        profiles.push(model.id);
    }
    let mut link_times = Vec::new();
    for (index, user) in users.iter().enumerate() {
        let count = if index == 3 { 4 } else { index % 4 };
        for link in 0..count {
            let profile = profiles[(index * 5 + link * 3) % profiles.len()];
            let at = base()
                + Duration::days(20)
                + Duration::minutes(i64::try_from((index + link) % 7).unwrap_or(0))
                + micros(index + link);
            link_times.push(at);
            user_profile::ActiveModel {
                user_id: Set(*user),
                profile_id: Set(profile),
                role: Set(if link == 0 {
                    ProfileRole::Owner
                } else {
                    ProfileRole::Manager
                }),
                created_at: Set(at),
            }
            .insert(conn)
            .await
            .expect("a link");
        }
    }
    for (_, index, role) in viewers {
        if let Some(role) = role {
            user_role::ActiveModel {
                user_id: Set(users[index]),
                role_id: Set(role),
            }
            .insert(conn)
            .await
            .expect("a grant");
        }
    }
    let mut invitations = Vec::new();
    for (index, (profile, email, role, expired)) in INVITATIONS.into_iter().enumerate() {
        let email = if profile % 2 == 1 {
            EMAILS[email].to_lowercase()
        } else {
            EMAILS[email].to_owned()
        };
        let sent = base() + Duration::days(30) + micros(index);
        let model = profile_invitation::ActiveModel {
            id: NotSet,
            profile_id: Set(profiles[profile]),
            inviter_id: Set(users[(profile * 5 + 2) % users.len()]),
            invitee: Set(api::auth::email::digest(&email)),
            email: Set(email),
            role: Set(role),
            created_at: Set(sent),
            expires_at: Set(if expired {
                base()
            } else {
                sent + Duration::days(36_500)
            }),
            token_digest: Set(None),
        }
        .insert(conn)
        .await
        .expect("an invitation");
        invitations.push(model.id);
    }
    app.sync_key_sequences().await;
    let mut signed_in = Vec::new();
    for (name, index, _) in viewers {
        let response = app.login(EMAILS[index], PASSWORD).await;
        let token = response.body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} signs in: {}", response.body))
            .to_owned();
        signed_in.push(Viewer {
            name,
            key: users[index],
            token,
        });
    }
    Fixture {
        viewers: signed_in,
        users,
        profiles,
        invitations,
        link_times,
    }
}

/// The global ID of a `kind` with key `key`.
fn global_id(kind: &str, key: i64) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    STANDARD.encode(format!("{kind}:{key}"))
}

impl Fixture {
    /// What the generator makes arguments of.
    pub fn values(&self) -> Values {
        let missing = 9_999;
        let mut times: Vec<String> = self.link_times.iter().map(DateTime::to_rfc3339).collect();
        times.extend(
            self.link_times
                .iter()
                .take(4)
                .map(|at| (*at + Duration::microseconds(1)).to_rfc3339()),
        );
        Values {
            user_ids: self
                .users
                .iter()
                .chain([&missing])
                .map(|key| global_id("User", *key))
                .chain([global_id("Profile", self.profiles[0])])
                .chain(
                    self.invitations
                        .iter()
                        .map(|key| global_id("ProfileInvitation", *key)),
                )
                .collect(),
            profile_ids: self
                .profiles
                .iter()
                .chain([&missing])
                .map(|key| global_id("Profile", *key))
                .chain([global_id("User", self.users[0])])
                .collect(),
            texts: EMAILS
                .iter()
                .chain(PROFILES.iter())
                .map(|text| (*text).to_owned())
                .collect(),
            times,
            role_names: ["admin", "auditor", "librarian", "nobody", "missing"]
                .map(str::to_owned)
                .to_vec(),
            cursors: Vec::new(),
        }
    }
}

/// A list to walk page by page: its field, and where it sits.
pub struct WalkList {
    /// `None` for a top-level list; otherwise the root field and its ID argument.
    parent: Option<(&'static str, String)>,
    field: &'static str,
    /// The value of its `orderBy`.
    order: String,
}

/// A random list to walk, with a random order and filter.
pub fn walk_list(generator: &mut Generator<'_>) -> WalkList {
    let orders = |fields: &[&str], rng: &mut super::generate::Rng| -> String {
        let field = rng.pick(fields);
        let direction = if rng.chance(50) { "ASC" } else { "DESC" };
        format!("{{ field: {field}, direction: {direction} }}")
    };
    let user_orders = ["ID", "EMAIL", "CREATED_AT", "LAST_LOGIN_AT"];
    let link_orders = ["ID", "CREATED_AT", "LINKED_AT", "ROLE"];
    let rng = &mut generator.rng;
    match rng.below(4) {
        0 => WalkList {
            parent: None,
            field: "users",
            order: orders(&user_orders, rng),
        },
        1 => WalkList {
            parent: None,
            field: "profiles",
            order: orders(&["ID", "NAME", "CREATED_AT", "UPDATED_AT"], rng),
        },
        2 => {
            let id = rng.pick(&generator.values.user_ids).clone();
            WalkList {
                parent: Some(("user", id)),
                field: "profiles",
                order: orders(&["ID", "NAME", "LINKED_AT", "ROLE", "UPDATED_AT"], rng),
            }
        }
        _ => {
            let id = rng.pick(&generator.values.profile_ids).clone();
            WalkList {
                parent: Some(("profile", id)),
                field: "users",
                order: orders(&link_orders, rng),
            }
        }
    }
}

impl WalkList {
    /// The document of one page of `size`, after (or, `backward`, before) `cursor`.
    pub fn page(&self, size: usize, backward: bool, cursor: Option<&str>) -> Doc {
        let (count, from) = if backward {
            ("last", "before")
        } else {
            ("first", "after")
        };
        let mut args = vec![
            (count.to_owned(), size.to_string()),
            ("orderBy".to_owned(), self.order.clone()),
        ];
        if let Some(cursor) = cursor {
            args.push((from.to_owned(), format!("{cursor:?}")));
        }
        let leaf = |name: &str| Sel::Field {
            alias: None,
            name: name.to_owned(),
            args: Vec::new(),
            directives: Vec::new(),
            sub: Vec::new(),
        };
        let node = Sel::Field {
            alias: None,
            name: "node".to_owned(),
            args: Vec::new(),
            directives: Vec::new(),
            sub: vec![leaf("id"), leaf("__typename")],
        };
        let list = Sel::Field {
            alias: None,
            name: self.field.to_owned(),
            args,
            directives: Vec::new(),
            sub: vec![
                Sel::Field {
                    alias: None,
                    name: "edges".to_owned(),
                    args: Vec::new(),
                    directives: Vec::new(),
                    sub: vec![leaf("cursor"), node],
                },
                Sel::Field {
                    alias: None,
                    name: "pageInfo".to_owned(),
                    args: Vec::new(),
                    directives: Vec::new(),
                    sub: ["hasPreviousPage", "hasNextPage", "startCursor", "endCursor"]
                        .map(leaf)
                        .to_vec(),
                },
                leaf("totalCount"),
            ],
        };
        let selections = match &self.parent {
            None => vec![list],
            Some((root, id)) => vec![Sel::Field {
                alias: None,
                name: (*root).to_owned(),
                args: vec![("id".to_owned(), format!("{id:?}"))],
                directives: Vec::new(),
                sub: vec![list],
            }],
        };
        Doc {
            selections,
            ..Doc::default()
        }
    }

    /// The `pageInfo` of an answer to `page`.
    pub fn page_info<'a>(&self, body: &'a Value) -> &'a Value {
        let data = &body["data"];
        let list = match &self.parent {
            None => &data[self.field],
            Some((root, _)) => &data[*root][self.field],
        };
        &list["pageInfo"]
    }
}
