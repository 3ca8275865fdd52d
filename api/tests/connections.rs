//! Relay connections in full: every order and filter against an expectation computed here,
//! paging both ways while rows are added, aliases with mixed arguments, and foreign cursors.
//! (The statements each shape runs at 5 and 500 parents are in `batching`.)

use serde_json::{Value, json};

use crate::{
    dataset::{self, PROFILES, USERS, contains, day, links, ordered},
    db_tests,
    helpers::{Account, Backend, TestApp},
};

db_tests!(
    every_order_matches_the_expectation,
    every_filter_matches_the_expectation,
    paging_both_ways_skips_and_repeats_nothing_while_rows_are_added,
    aliases_with_mixed_arguments_are_batched_by_argument_set,
    cursors_of_other_lists_and_orders_are_refused,
);

/// A user as the expectations see it (the admin who queries included, created last).
struct Person {
    id: i64,
    email: String,
    created: String,
    last_login: Option<String>,
    active: bool,
    admin: bool,
}

fn people() -> Vec<Person> {
    let mut people = vec![Person {
        id: 1,
        email: "admin@example.com".into(),
        created: "9999".into(),
        last_login: None,
        active: true,
        admin: true,
    }];
    people.extend(USERS.iter().map(|u| Person {
        id: u.id,
        email: u.email.into(),
        created: day(u.created_day),
        last_login: u.last_login_hour.map(dataset::hour),
        active: u.active,
        admin: u.admin,
    }));
    people
}

fn values(connection: &Value, field: &str) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node[field].as_str().expect("a text field").to_owned())
        .collect()
}

fn direction(descending: bool) -> &'static str {
    if descending { "DESC" } else { "ASC" }
}

/// The emails of `people` ordered by `field`.
fn people_by(field: &str, descending: bool, people: Vec<Person>) -> Vec<String> {
    let sorted = match field {
        "ID" => ordered(people, |p| p.id, |p| p.id, descending),
        "EMAIL" => ordered(
            people,
            |p| p.email.to_ascii_lowercase(),
            |p| p.id,
            descending,
        ),
        "CREATED_AT" => ordered(people, |p| p.created.clone(), |p| p.id, descending),
        "LAST_LOGIN_AT" => ordered(people, |p| p.last_login.clone(), |p| p.id, descending),
        other => panic!("no user order {other}"),
    };
    sorted.into_iter().map(|p| p.email).collect()
}

fn profile_names_by(
    field: &str,
    descending: bool,
    profiles: Vec<&dataset::Profile>,
) -> Vec<String> {
    let sorted = match field {
        "ID" => ordered(profiles, |p| p.id, |p| p.id, descending),
        "NAME" => ordered(
            profiles,
            |p| p.name.to_ascii_lowercase(),
            |p| p.id,
            descending,
        ),
        "CREATED_AT" => ordered(profiles, |p| p.created_day, |p| p.id, descending),
        "UPDATED_AT" => ordered(profiles, |p| p.updated_day, |p| p.id, descending),
        other => panic!("no profile order {other}"),
    };
    sorted.into_iter().map(|p| p.name.to_owned()).collect()
}

async fn every_order_matches_the_expectation(app: &TestApp) {
    let admin = app.admin().await;
    dataset::seed(app).await;
    let links = links();
    for descending in [false, true] {
        let dir = direction(descending);
        for field in ["ID", "EMAIL", "CREATED_AT", "LAST_LOGIN_AT"] {
            let data = app
                .data_as(
                    &admin.token,
                    "query($o: UserOrder) { users(orderBy: $o) { nodes { email } } }",
                    json!({ "o": { "field": field, "direction": dir } }),
                )
                .await;
            assert_eq!(
                values(&data["users"], "email"),
                people_by(field, descending, people()),
                "users by {field} {dir}"
            );
        }
        for field in ["ID", "NAME", "CREATED_AT", "UPDATED_AT"] {
            let data = app
                .data_as(
                    &admin.token,
                    "query($o: ProfileOrder) { profiles(orderBy: $o) { nodes { name } } }",
                    json!({ "o": { "field": field, "direction": dir } }),
                )
                .await;
            let expected = profile_names_by(field, descending, PROFILES.iter().collect());
            assert_eq!(
                values(&data["profiles"], "name"),
                expected,
                "profiles by {field} {dir}"
            );
        }
        for field in [
            "ID",
            "EMAIL",
            "CREATED_AT",
            "LAST_LOGIN_AT",
            "LINKED_AT",
            "ROLE",
        ] {
            let data = app
                .data_as(
                    &admin.token,
                    "query($o: ProfileUserOrder) { profiles { nodes { name users(orderBy: $o) { nodes { email } } } } }",
                    json!({ "o": { "field": field, "direction": dir } }),
                )
                .await;
            for (profile, node) in PROFILES
                .iter()
                .zip(data["profiles"]["nodes"].as_array().expect("nodes"))
            {
                let members: Vec<(&dataset::Link, Person)> = links
                    .iter()
                    .filter(|l| l.profile == profile.id)
                    .filter_map(|l| {
                        people()
                            .into_iter()
                            .find(|p| p.id == l.user)
                            .map(|p| (l, p))
                    })
                    .collect();
                let sorted = match field {
                    "LINKED_AT" => {
                        ordered(members, |(l, _)| l.linked_day, |(_, p)| p.id, descending)
                    }
                    "ROLE" => ordered(members, |(l, _)| !l.owner, |(_, p)| p.id, descending),
                    _ => {
                        let people: Vec<Person> = members.into_iter().map(|(_, p)| p).collect();
                        let emails = people_by(field, descending, people);
                        assert_eq!(
                            values(&node["users"], "email"),
                            emails,
                            "{} users by {field} {dir}",
                            profile.name
                        );
                        continue;
                    }
                };
                let emails: Vec<String> = sorted.into_iter().map(|(_, p)| p.email).collect();
                assert_eq!(
                    values(&node["users"], "email"),
                    emails,
                    "{} users by {field} {dir}",
                    profile.name
                );
            }
        }
        for field in [
            "ID",
            "NAME",
            "CREATED_AT",
            "UPDATED_AT",
            "LINKED_AT",
            "ROLE",
        ] {
            let data = app
                .data_as(
                    &admin.token,
                    "query($o: UserProfileOrder) { users { nodes { email profiles(orderBy: $o) { nodes { name } } } } }",
                    json!({ "o": { "field": field, "direction": dir } }),
                )
                .await;
            for node in data["users"]["nodes"].as_array().expect("nodes") {
                let Some(user) = USERS.iter().find(|u| u.email == node["email"]) else {
                    continue;
                };
                let mine: Vec<(&dataset::Link, &dataset::Profile)> = links
                    .iter()
                    .filter(|l| l.user == user.id)
                    .filter_map(|l| PROFILES.iter().find(|p| p.id == l.profile).map(|p| (l, p)))
                    .collect();
                let names: Vec<String> = match field {
                    "LINKED_AT" => ordered(mine, |(l, _)| l.linked_day, |(_, p)| p.id, descending)
                        .into_iter()
                        .map(|(_, p)| p.name.to_owned())
                        .collect(),
                    "ROLE" => ordered(mine, |(l, _)| !l.owner, |(_, p)| p.id, descending)
                        .into_iter()
                        .map(|(_, p)| p.name.to_owned())
                        .collect(),
                    _ => profile_names_by(
                        field,
                        descending,
                        mine.into_iter().map(|(_, p)| p).collect(),
                    ),
                };
                assert_eq!(
                    values(&node["profiles"], "name"),
                    names,
                    "{} profiles by {field} {dir}",
                    user.email
                );
            }
        }
    }
}

/// A filter of users, and which users it should keep.
type UserCase = (Value, Box<dyn Fn(&Person) -> bool>);
/// A filter of a profile's users, and which links it should keep.
type LinkCase = (Value, Box<dyn Fn(&dataset::Link, &Person) -> bool>);

async fn every_filter_matches_the_expectation(app: &TestApp) {
    let admin = app.admin().await;
    dataset::seed(app).await;
    let links = links();
    let users_query = "query($f: UserFilter) { users(filter: $f) { totalCount nodes { email } } }";
    let user_cases: Vec<UserCase> = vec![
        (
            json!({ "emailContains": "ALICE" }),
            Box::new(|p| contains(&p.email, "alice")),
        ),
        (
            json!({ "emailContains": "_" }),
            Box::new(|p| p.email.contains('_')),
        ),
        (
            json!({ "emailContains": "%" }),
            Box::new(|p| p.email.contains('%')),
        ),
        (
            json!({ "emailContains": "l%1" }),
            Box::new(|p| p.email.contains("l%1")),
        ),
        (json!({ "active": false }), Box::new(|p| !p.active)),
        (json!({ "role": "admin" }), Box::new(|p| p.admin)),
        (
            json!({ "role": "admin", "emailContains": "a" }),
            Box::new(|p| p.admin && p.email.contains('a')),
        ),
        (json!({ "emailContains": "nobody" }), Box::new(|_| false)),
    ];
    for (filter, expected) in user_cases {
        let data = app
            .data_as(&admin.token, users_query, json!({ "f": filter }))
            .await;
        let emails: Vec<String> = people()
            .into_iter()
            .filter(|p| expected(p))
            .map(|p| p.email)
            .collect();
        assert_eq!(
            values(&data["users"], "email"),
            emails,
            "users filtered by {filter}"
        );
        assert_eq!(
            data["users"]["totalCount"],
            emails.len(),
            "total of users filtered by {filter}"
        );
    }
    let profiles_query =
        "query($f: ProfileFilter) { profiles(filter: $f) { totalCount nodes { name } } }";
    for (text, expected) in [
        ("_", vec!["gamma_1", "50_50"]),
        ("%", vec!["100% pure"]),
        ("ECHO", vec!["Echo"]),
        ("A", vec!["alpha", "Beta", "gamma_1", "delta"]),
    ] {
        let data = app
            .data_as(
                &admin.token,
                profiles_query,
                json!({ "f": { "nameContains": text } }),
            )
            .await;
        assert_eq!(
            values(&data["profiles"], "name"),
            expected,
            "profiles containing {text}"
        );
        assert_eq!(data["profiles"]["totalCount"], expected.len());
    }
    // Nested: the link's role and date, and the user's own fields.
    let nested = "query($f: ProfileUserFilter) { profiles { nodes { users(filter: $f) { totalCount nodes { email } } } } }";
    let link_cases: Vec<LinkCase> = vec![
        (json!({ "role": "OWNER" }), Box::new(|l, _| l.owner)),
        (json!({ "role": "MANAGER" }), Box::new(|l, _| !l.owner)),
        (
            json!({ "linkedAfter": day(2) }),
            Box::new(|l, _| l.linked_day > 2),
        ),
        (
            json!({ "linkedBefore": day(3) }),
            Box::new(|l, _| l.linked_day < 3),
        ),
        (
            json!({ "linkedAfter": day(1), "linkedBefore": day(5), "role": "MANAGER" }),
            Box::new(|l, _| l.linked_day > 1 && l.linked_day < 5 && !l.owner),
        ),
        (
            json!({ "emailContains": "E", "active": true }),
            Box::new(|_, p| contains(&p.email, "e") && p.active),
        ),
        (json!({ "accountRole": "admin" }), Box::new(|_, p| p.admin)),
    ];
    for (filter, expected) in link_cases {
        let data = app
            .data_as(&admin.token, nested, json!({ "f": filter }))
            .await;
        for (profile, node) in PROFILES
            .iter()
            .zip(data["profiles"]["nodes"].as_array().expect("nodes"))
        {
            let emails: Vec<String> = links
                .iter()
                .filter(|l| l.profile == profile.id)
                .filter_map(|l| {
                    people()
                        .into_iter()
                        .find(|p| p.id == l.user)
                        .map(|p| (l, p))
                })
                .filter(|(l, p)| expected(l, p))
                .map(|(_, p)| p.email)
                .collect();
            assert_eq!(
                values(&node["users"], "email"),
                emails,
                "{} users filtered by {filter}",
                profile.name
            );
            assert_eq!(
                node["users"]["totalCount"],
                emails.len(),
                "{} total filtered by {filter}",
                profile.name
            );
        }
    }
    let mine = "query($f: UserProfileFilter) { users { nodes { email profiles(filter: $f) { totalCount nodes { name } } } } }";
    let data = app
        .data_as(
            &admin.token,
            mine,
            json!({ "f": { "nameContains": "A", "role": "MANAGER" } }),
        )
        .await;
    for node in data["users"]["nodes"].as_array().expect("nodes") {
        let Some(user) = USERS.iter().find(|u| u.email == node["email"]) else {
            continue;
        };
        let names: Vec<String> = links
            .iter()
            .filter(|l| l.user == user.id && !l.owner)
            .filter_map(|l| PROFILES.iter().find(|p| p.id == l.profile))
            .filter(|p| contains(p.name, "a"))
            .map(|p| p.name.to_owned())
            .collect();
        assert_eq!(
            values(&node["profiles"], "name"),
            names,
            "{}'s managed profiles with an a",
            user.email
        );
    }
    // Private details are for users:read holders only, even as filters and orders.
    let manager = app.register("manager@example.com").await;
    let team = app.create_profile(&manager, "Team").await;
    for (filter, order) in [
        (json!({ "active": true }), Value::Null),
        (json!({ "accountRole": "admin" }), Value::Null),
        (Value::Null, json!({ "field": "LAST_LOGIN_AT" })),
    ] {
        let response = app
            .gql_as(
                &manager.token,
                "query($p: ID!, $f: ProfileUserFilter, $o: ProfileUserOrder) { profile(id: $p) { users(filter: $f, orderBy: $o) { totalCount } } }",
                json!({ "p": team, "f": filter, "o": order }),
            )
            .await;
        assert_eq!(response.code(), "FORBIDDEN", "{}", response.body);
    }
}

/// A connection to walk: the query (taking `$first`, `$after`, `$last`, `$before`), its other
/// variables, the path to the connection, and the node field to collect.
struct Walk<'a> {
    query: &'a str,
    vars: Value,
    path: &'a [&'a str],
    field: &'a str,
}

/// Walks a connection page by page (`first`/`after`, or `last`/`before` when `backward`),
/// calling `between` after each page, and returns the values of the field in list order.
async fn walk<F, Fut>(
    app: &TestApp,
    caller: &Account,
    list: &Walk<'_>,
    backward: bool,
    mut between: F,
) -> Vec<String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = Value::Null;
    for page in 0.. {
        let mut vars = list.vars.clone();
        if backward {
            vars["last"] = json!(3);
            vars["before"] = cursor.clone();
        } else {
            vars["first"] = json!(3);
            vars["after"] = cursor.clone();
        }
        let data = app.data_as(&caller.token, list.query, vars).await;
        let connection = list.path.iter().fold(&data, |value, key| &value[*key]);
        let mut items: Vec<String> = connection["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| edge["node"][list.field].as_str().expect("field").to_owned())
            .collect();
        let info = &connection["pageInfo"];
        if backward {
            items.extend(seen);
            seen = items;
            if info["hasPreviousPage"] == false {
                break;
            }
            cursor = info["startCursor"].clone();
        } else {
            seen.extend(items);
            if info["hasNextPage"] == false {
                break;
            }
            cursor = info["endCursor"].clone();
        }
        assert!(page < 100, "paging does not end: {seen:?}");
        between(page).await;
    }
    seen
}

/// Checks a walk: nothing twice, and every item that existed before in its order.
fn check_walk(seen: &[String], before: &[String], what: &str) {
    let mut unique = seen.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen.len(),
        "{what}: an item came twice: {seen:?}"
    );
    let kept: Vec<&String> = seen.iter().filter(|item| before.contains(item)).collect();
    let expected: Vec<&String> = before.iter().collect();
    assert_eq!(
        kept, expected,
        "{what}: an item was skipped or moved: {seen:?}"
    );
}

async fn paging_both_ways_skips_and_repeats_nothing_while_rows_are_added(app: &TestApp) {
    let admin = app.admin().await;
    dataset::seed(app).await;
    let mut next_id = 100;
    let shapes: [(&str, &str, &[&str], &str, Value); 4] = [
        (
            "users by email",
            "query($first: Int, $after: String, $last: Int, $before: String, $o: UserOrder) { users(first: $first, after: $after, last: $last, before: $before, orderBy: $o) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { email } } } }",
            &["users"],
            "email",
            json!({ "o": { "field": "EMAIL", "direction": "DESC" } }),
        ),
        (
            "users by last login",
            "query($first: Int, $after: String, $last: Int, $before: String, $o: UserOrder) { users(first: $first, after: $after, last: $last, before: $before, orderBy: $o) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { email } } } }",
            &["users"],
            "email",
            json!({ "o": { "field": "LAST_LOGIN_AT" } }),
        ),
        (
            "profiles by name",
            "query($first: Int, $after: String, $last: Int, $before: String, $o: ProfileOrder) { profiles(first: $first, after: $after, last: $last, before: $before, orderBy: $o) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { name } } } }",
            &["profiles"],
            "name",
            json!({ "o": { "field": "NAME" } }),
        ),
        (
            "the users of a profile by role",
            "query($first: Int, $after: String, $last: Int, $before: String, $o: ProfileUserOrder, $p: ID!) { profile(id: $p) { users(first: $first, after: $after, last: $last, before: $before, orderBy: $o) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { email } } } } }",
            &["profile", "users"],
            "email",
            json!({ "o": { "field": "ROLE", "direction": "DESC" }, "p": api::graphql::NodeId::profile(1) }),
        ),
    ];
    for (what, query, path, field, vars) in shapes {
        let list = Walk {
            query,
            vars,
            path,
            field,
        };
        for backward in [false, true] {
            let before = walk(app, &admin, &list, backward, |_| async {}).await;
            let seen = walk(app, &admin, &list, backward, |page| {
                // Rows are added between the first pages only, so that every walk ends.
                let add = page < 4;
                next_id += 1;
                let id = next_id;
                // New rows at both ends of every order: names and emails starting with 0 and
                // z, no login and a late one, owners and managers. Lower-case ASCII, so their
                // folded keys are themselves.
                let (email, name, login, role) = if page % 2 == 0 {
                    (format!("0new{id}@example.com"), format!("0new {id}"), "NULL".to_owned(), "OWNER")
                } else {
                    (format!("znew{id}@example.com"), format!("znew {id}"), "'2026-03-01T00:00:00+00:00'".to_owned(), "MANAGER")
                };
                async move {
                    if !add {
                        return;
                    }
                    app.execute_sql(&format!(
                        "INSERT INTO \"user\" (id, email, email_key, created_at, updated_at, fs_uniquifier, last_login_at) VALUES ({id}, '{email}', '{email}', '2026-01-02T00:00:00+00:00', '2026-01-02T00:00:00+00:00', 'new-{id}', {login})"
                    ))
                    .await;
                    app.execute_sql(&format!(
                        "INSERT INTO profile (id, name, name_key, created_at, updated_at) VALUES ({id}, '{name}', '{name}', '2026-01-02T00:00:00+00:00', '2026-01-02T00:00:00+00:00')"
                    ))
                    .await;
                    app.execute_sql(&format!(
                        "INSERT INTO user_profile (user_id, profile_id, role, created_at) VALUES ({id}, 1, '{role}', '2026-01-02T00:00:00+00:00')"
                    ))
                    .await;
                }
            })
            .await;
            check_walk(
                &seen,
                &before,
                &format!("{what}, {}", if backward { "backward" } else { "forward" }),
            );
            let again = walk(app, &admin, &list, backward, |_| async {}).await;
            let mut sorted_again = again.clone();
            let mut sorted_seen = seen.clone();
            sorted_again.retain(|item| seen.contains(item));
            sorted_seen.sort();
            sorted_again.sort();
            assert_eq!(
                sorted_again, sorted_seen,
                "{what}: a later walk holds what this one saw"
            );
        }
    }
}

async fn aliases_with_mixed_arguments_are_batched_by_argument_set(app: &TestApp) {
    let admin = app.admin().await;
    dataset::seed(app).await;
    let links = links();
    let response = app
        .gql_as(
            &admin.token,
            "{ profiles { nodes { name
                a: users(first: 2) { nodes { email } }
                b: users(last: 3, orderBy: { field: EMAIL, direction: DESC }) { totalCount nodes { email } }
                c: users(first: 2) { nodes { email } }
                d: users(filter: { role: OWNER }) { totalCount nodes { email } }
            } } }",
            json!({}),
        )
        .await;
    assert!(response.errors().is_empty(), "{}", response.body);
    for (profile, node) in PROFILES.iter().zip(
        response.body["data"]["profiles"]["nodes"]
            .as_array()
            .expect("nodes"),
    ) {
        let members: Vec<Person> = people()
            .into_iter()
            .filter(|p| {
                links
                    .iter()
                    .any(|l| l.profile == profile.id && l.user == p.id)
            })
            .collect();
        let by_id: Vec<String> = members.iter().map(|p| p.email.clone()).collect();
        let first_two: Vec<String> = by_id.iter().take(2).cloned().collect();
        assert_eq!(values(&node["a"], "email"), first_two);
        assert_eq!(values(&node["c"], "email"), first_two);
        let by_email_desc = people_by("EMAIL", true, members);
        let last_three: Vec<String> = by_email_desc
            .iter()
            .skip(by_email_desc.len().saturating_sub(3))
            .cloned()
            .collect();
        assert_eq!(values(&node["b"], "email"), last_three, "{}", profile.name);
        assert_eq!(node["b"]["totalCount"], by_email_desc.len());
        let owners: Vec<String> = people()
            .into_iter()
            .filter(|p| {
                links
                    .iter()
                    .any(|l| l.profile == profile.id && l.user == p.id && l.owner)
            })
            .map(|p| p.email)
            .collect();
        assert_eq!(values(&node["d"], "email"), owners);
        assert_eq!(node["d"]["totalCount"], owners.len());
    }
    // The caller; the profiles; a and c are one argument set, b and d two more; the totals of
    // b and d are two count statements (their filters differ). On PostgreSQL, a and c read the
    // link index alone, then the cards of users not read before: here, all of them.
    let cards = u32::from(app.backend == Backend::Postgres);
    assert_eq!(response.sql(), 1 + 1 + 3 + 2 + cards);
    // Asked again: the profiles and a's pages, the caller kept from the request before and,
    // on PostgreSQL, every card too.
    let again = app
        .gql_as(
            &admin.token,
            "{ profiles { nodes { a: users(first: 2) { nodes { email } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(again.sql(), 1 + 1, "{}", again.body);
}

async fn cursors_of_other_lists_and_orders_are_refused(app: &TestApp) {
    let admin = app.admin().await;
    dataset::seed(app).await;
    let cursor_of = |data: &Value, path: &[&str]| {
        path.iter().fold(data, |value, key| &value[*key])["pageInfo"]["endCursor"].clone()
    };
    let by_email = app
        .data_as(
            &admin.token,
            "{ users(first: 2, orderBy: { field: EMAIL }) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let by_email = cursor_of(&by_email, &["users"]);
    let by_id = app
        .data_as(
            &admin.token,
            "{ users(first: 2) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let by_id = cursor_of(&by_id, &["users"]);
    let nested = app
        .data_as(
            &admin.token,
            "{ profiles(first: 1) { nodes { users(first: 1) { pageInfo { endCursor } } } } }",
            json!({}),
        )
        .await;
    let nested = nested["profiles"]["nodes"][0]["users"]["pageInfo"]["endCursor"].clone();
    let refused = |query: &'static str, vars: Value| {
        let token = admin.token.clone();
        async move {
            let response = app.gql_as(&token, query, vars).await;
            assert_eq!(
                response.code(),
                "BAD_USER_INPUT",
                "{query}: {}",
                response.body
            );
        }
    };
    // The right list in another order, or direction; another list; a nested list's cursor.
    refused("query($c: String) { users(after: $c, orderBy: { field: EMAIL, direction: DESC }) { totalCount } }", json!({ "c": by_email })).await;
    refused(
        "query($c: String) { users(before: $c) { totalCount } }",
        json!({ "c": by_email }),
    )
    .await;
    refused(
        "query($c: String) { users(after: $c, orderBy: { field: EMAIL }) { totalCount } }",
        json!({ "c": by_id }),
    )
    .await;
    refused(
        "query($c: String) { profiles(after: $c) { totalCount } }",
        json!({ "c": by_id }),
    )
    .await;
    refused(
        "query($c: String) { users(after: $c) { totalCount } }",
        json!({ "c": nested }),
    )
    .await;
    refused(
        "query($c: String) { users { nodes { profiles(after: $c) { totalCount } } } }",
        json!({ "c": nested }),
    )
    .await;
    // first and last together, and sizes out of range.
    refused("{ users(first: 1, last: 1) { totalCount } }", json!({})).await;
    refused("{ users(last: 101) { totalCount } }", json!({})).await;
    refused("{ users(last: -1) { totalCount } }", json!({})).await;
    // Well-formed for this list and order, but with a value of the wrong type.
    use base64::Engine;
    let forged =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"["users","Email_ASC",42,3]"#);
    refused(
        "query($c: String) { users(after: $c, orderBy: { field: EMAIL }) { totalCount } }",
        json!({ "c": forged }),
    )
    .await;
    let sane = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"["users","Email_ASC","bob@example.com",2]"#);
    let data = app
        .data_as(&admin.token, "query($c: String) { users(first: 1, after: $c, orderBy: { field: EMAIL }) { nodes { email } } }", json!({ "c": sane }))
        .await;
    assert_eq!(values(&data["users"], "email"), ["carol%1@example.com"]);
}
