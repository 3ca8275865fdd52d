//! A property test: random sequences of profile creation, linking, unlinking, role changes and
//! deletion by several users, one to three in a request, checked after every request against a
//! plain in-memory model — both directions of the relationship, the owner invariant, that
//! nobody sees what is not theirs, and that a request writes all of its operations or none.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicUsize, Ordering},
};

use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::{Value, json};

use crate::{
    db_tests,
    helpers::{Account, TestApp},
};

db_tests!(random_operations_agree_with_the_model);

const USERS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Create {
        actor: usize,
    },
    Set {
        actor: usize,
        profile: usize,
        target: usize,
        owner: bool,
    },
    Remove {
        actor: usize,
        profile: usize,
        target: usize,
    },
    Delete {
        actor: usize,
        profile: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    prop_oneof![
        user.clone().prop_map(|actor| Op::Create { actor }),
        (user.clone(), 0..4usize, user.clone(), any::<bool>()).prop_map(
            |(actor, profile, target, owner)| Op::Set {
                actor,
                profile,
                target,
                owner
            }
        ),
        (user.clone(), 0..4usize, user.clone()).prop_map(|(actor, profile, target)| Op::Remove {
            actor,
            profile,
            target
        }),
        (user, 0..4usize).prop_map(|(actor, profile)| Op::Delete { actor, profile }),
    ]
}

/// A profile of the model: its name, ID once created, and managers with whether they own it.
#[derive(Clone, Debug)]
struct Profile {
    name: String,
    id: String,
    managers: BTreeMap<usize, bool>,
    deleted: bool,
}

impl Op {
    fn actor(&self) -> usize {
        match self {
            Op::Create { actor }
            | Op::Set { actor, .. }
            | Op::Remove { actor, .. }
            | Op::Delete { actor, .. } => *actor,
        }
    }

    /// The same operation by `actor`.
    fn by(mut self, who: usize) -> Op {
        match &mut self {
            Op::Create { actor }
            | Op::Set { actor, .. }
            | Op::Remove { actor, .. }
            | Op::Delete { actor, .. } => *actor = who,
        }
        self
    }
}

impl Profile {
    fn owners(&self) -> usize {
        self.managers.values().filter(|owner| **owner).count()
    }
}

/// The users who share a profile outside the model from the start, so each sees the other;
/// the others are strangers to everyone until a profile of the model links them.
const ACQUAINTED: [usize; 2] = [0, 1];

/// What the model says an operation answers.
fn expected(profiles: &[Profile], op: &Op) -> &'static str {
    let (actor, index) = match op {
        Op::Create { .. } => return "OK",
        Op::Set { actor, profile, .. }
        | Op::Remove { actor, profile, .. }
        | Op::Delete { actor, profile } => (*actor, *profile),
    };
    let Some(profile) = profiles.get(index).filter(|p| !p.deleted) else {
        return "NOT_FOUND";
    };
    let Some(actor_owns) = profile.managers.get(&actor).copied() else {
        return "NOT_FOUND";
    };
    // A user the actor does not see (sharing no profile with them) is as missing as one who
    // does not exist.
    let sees = |target: usize| {
        target == actor
            || (ACQUAINTED.contains(&actor) && ACQUAINTED.contains(&target))
            || profiles.iter().any(|p| {
                !p.deleted && p.managers.contains_key(&actor) && p.managers.contains_key(&target)
            })
    };
    match op {
        Op::Set { target, owner, .. } => {
            if !actor_owns {
                "FORBIDDEN"
            } else if !sees(*target) {
                "NOT_FOUND"
            } else if profile.managers.get(target) == Some(&true) && !owner && profile.owners() == 1
            {
                "CONFLICT"
            } else {
                "OK"
            }
        }
        Op::Remove { target, .. } => {
            if !actor_owns && *target != actor {
                "FORBIDDEN"
            } else if !sees(*target) {
                "NOT_FOUND"
            } else if profile.managers.get(target) == Some(&true) && profile.owners() == 1 {
                "CONFLICT"
            } else {
                "OK"
            }
        }
        Op::Delete { .. } => {
            if actor_owns {
                "OK"
            } else {
                "FORBIDDEN"
            }
        }
        Op::Create { .. } => "OK",
    }
}

/// Applies a successful operation to the model.
fn apply(profiles: &mut Vec<Profile>, op: &Op, name: String, id: String) {
    match op {
        Op::Create { actor } => {
            profiles.push(Profile {
                name,
                id,
                managers: BTreeMap::from([(*actor, true)]),
                deleted: false,
            });
        }
        Op::Set {
            profile,
            target,
            owner,
            ..
        } => {
            profiles[*profile].managers.insert(*target, *owner);
        }
        Op::Remove {
            profile, target, ..
        } => {
            profiles[*profile].managers.remove(target);
        }
        Op::Delete { profile, .. } => profiles[*profile].deleted = true,
    }
}

/// The profile an operation names, if any.
fn target_profile(op: &Op) -> Option<usize> {
    match op {
        Op::Create { .. } => None,
        Op::Set { profile, .. } | Op::Remove { profile, .. } | Op::Delete { profile, .. } => {
            Some(*profile)
        }
    }
}

/// The field of a mutation document for operation `n` of a request, and its variables.
fn field(
    n: usize,
    op: &Op,
    users: &[Account],
    profile_id: impl Fn(&usize) -> String,
    name: &str,
) -> (String, String, Vec<(String, Value)>) {
    let var = |key: &str| format!("{key}{n}");
    match op {
        Op::Create { .. } => (
            format!("$n{n}: String!"),
            format!("f{n}: createProfile(name: $n{n}) {{ id }}"),
            vec![(var("n"), json!(name))],
        ),
        Op::Set {
            profile,
            target,
            owner,
            ..
        } => (
            format!("$p{n}: ID!, $u{n}: ID!, $r{n}: ProfileRole!"),
            format!(
                "f{n}: addProfileManager(profileId: $p{n}, userId: $u{n}, role: $r{n}) {{ role }}"
            ),
            vec![
                (var("p"), json!(profile_id(profile))),
                (var("u"), json!(users[*target].id)),
                (var("r"), json!(if *owner { "OWNER" } else { "MANAGER" })),
            ],
        ),
        Op::Remove {
            profile, target, ..
        } => (
            format!("$p{n}: ID!, $u{n}: ID!"),
            format!("f{n}: removeProfileManager(profileId: $p{n}, userId: $u{n}) {{ changed }}"),
            vec![
                (var("p"), json!(profile_id(profile))),
                (var("u"), json!(users[*target].id)),
            ],
        ),
        Op::Delete { profile, .. } => (
            format!("$p{n}: ID!"),
            format!("f{n}: deleteProfile(id: $p{n})"),
            vec![(var("p"), json!(profile_id(profile)))],
        ),
    }
}

/// Runs `requests`, each a mutation of one to three operations by one user: a request applies
/// all of its operations to the model, or none when one of them fails.
async fn run(app: &TestApp, users: &[Account], case: usize, requests: &[Vec<Op>]) {
    let mut profiles: Vec<Profile> = Vec::new();
    for (step, ops) in requests.iter().enumerate() {
        let actor = ops[0].actor();
        // What the model says: the first field that fails, and the model after the request.
        let known = profiles.len();
        let mut after = profiles.clone();
        let mut failure = None;
        let names: Vec<String> = (0..ops.len())
            .map(|n| format!("case{case}-{step}-{n}"))
            .collect();
        for (n, op) in ops.iter().enumerate() {
            // A profile created by this request has no ID to send yet.
            let want = match target_profile(op) {
                Some(index) if index >= known => "NOT_FOUND",
                _ => expected(&after, op),
            };
            if want != "OK" {
                failure = Some((n, want));
                break;
            }
            apply(&mut after, op, names[n].clone(), String::new());
        }

        let profile_id = |index: &usize| {
            profiles.get(*index).map_or_else(
                || api::graphql::NodeId::profile(9_999_999).to_string(),
                |p| p.id.clone(),
            )
        };
        let mut declarations = Vec::new();
        let mut fields = Vec::new();
        let mut variables = serde_json::Map::new();
        for (n, op) in ops.iter().enumerate() {
            let (declared, selected, values) = field(n, op, users, profile_id, &names[n]);
            declarations.push(declared);
            fields.push(selected);
            variables.extend(values);
        }
        let document = format!(
            "mutation({}) {{ {} }}",
            declarations.join(", "),
            fields.join(" ")
        );
        let response = app
            .gql_as(&users[actor].token, &document, Value::Object(variables))
            .await;
        let errors: Vec<(String, Value)> = response
            .errors()
            .iter()
            .map(|error| {
                (
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    error["path"].clone(),
                )
            })
            .collect();
        match failure {
            None => {
                assert_eq!(errors, [], "step {step} {ops:?}: {}", response.body);
                let mut created = ops
                    .iter()
                    .enumerate()
                    .filter(|(_, op)| matches!(op, Op::Create { .. }))
                    .map(|(n, _)| {
                        response.body["data"][format!("f{n}")]["id"]
                            .as_str()
                            .expect("an ID")
                            .to_owned()
                    });
                for profile in after.iter_mut().skip(known) {
                    profile.id = created.next().expect("created");
                }
                profiles = after;
            }
            Some((failed, code)) => {
                // That field's error, every later field not run, and nothing written.
                let mut want = vec![(code.to_owned(), json!([format!("f{failed}")]))];
                want.extend(
                    (failed + 1..ops.len())
                        .map(|n| ("ABORTED".to_owned(), json!([format!("f{n}")]))),
                );
                assert_eq!(errors, want, "step {step} {ops:?}: {}", response.body);
                assert_eq!(response.body["data"], Value::Null, "{}", response.body);
            }
        }
        check(app, users, case, &profiles).await;
    }
}

/// Both directions against the model, for every user.
async fn check(app: &TestApp, users: &[Account], case: usize, profiles: &[Profile]) {
    for (n, user) in users.iter().enumerate() {
        let data = app
            .data_as(
                &user.token,
                "query($c: String!) { me { profiles(filter: { nameContains: $c }) { edges { role node { name } } } } }",
                json!({ "c": format!("case{case}-") }),
            )
            .await;
        let seen: BTreeMap<String, bool> = data["me"]["profiles"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| {
                (
                    edge["node"]["name"].as_str().expect("name").to_owned(),
                    edge["role"] == "OWNER",
                )
            })
            .collect();
        let model: BTreeMap<String, bool> = profiles
            .iter()
            .filter(|p| !p.deleted)
            .filter_map(|p| p.managers.get(&n).map(|owner| (p.name.clone(), *owner)))
            .collect();
        assert_eq!(seen, model, "User.profiles of user {n}");
        for profile in profiles {
            let data = app
                .data_as(
                    &user.token,
                    "query($p: ID!) { profile(id: $p) { users { edges { role node { id } } } } }",
                    json!({ "p": profile.id }),
                )
                .await;
            let manages = !profile.deleted && profile.managers.contains_key(&n);
            if !manages {
                assert_eq!(
                    data["profile"],
                    Value::Null,
                    "user {n} sees profile {} they do not manage",
                    profile.name
                );
                continue;
            }
            assert!(
                profile.owners() >= 1,
                "profile {} has an owner",
                profile.name
            );
            let seen: BTreeMap<String, bool> = data["profile"]["users"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|edge| {
                    (
                        edge["node"]["id"].as_str().expect("id").to_owned(),
                        edge["role"] == "OWNER",
                    )
                })
                .collect();
            let model: BTreeMap<String, bool> = profile
                .managers
                .iter()
                .map(|(m, owner)| (users[*m].id.clone(), *owner))
                .collect();
            assert_eq!(seen, model, "Profile.users of {}", profile.name);
        }
    }
}

async fn random_operations_agree_with_the_model(app: &TestApp) {
    let mut users = Vec::new();
    for n in 0..USERS {
        users.push(app.register(&format!("model{n}@example.com")).await);
    }
    let [first, second] = ACQUAINTED;
    let common = app.create_profile(&users[first], "Common").await;
    app.add_manager(&users[first], &common, &users[second], "MANAGER")
        .await;
    let cases = AtomicUsize::new(0);
    let handle = tokio::runtime::Handle::current();
    let config = ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = tokio::task::block_in_place(|| {
        // One user's request of one to three operations.
        let request = (0..USERS, proptest::collection::vec(op(), 1..=3))
            .prop_map(|(actor, ops)| ops.into_iter().map(|op| op.by(actor)).collect::<Vec<_>>());
        runner.run(&proptest::collection::vec(request, 1..10), |requests| {
            let case = cases.fetch_add(1, Ordering::Relaxed);
            handle.block_on(run(app, &users, case, &requests));
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
