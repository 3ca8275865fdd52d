//! A property test: random sequences of profile creation, linking, unlinking, role changes and
//! deletion by several users, checked after every step against a plain in-memory model — both
//! directions of the relationship, the owner invariant, and that nobody sees what is not theirs.

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

impl Profile {
    fn owners(&self) -> usize {
        self.managers.values().filter(|owner| **owner).count()
    }
}

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
    match op {
        Op::Set { target, owner, .. } => {
            if !actor_owns {
                "FORBIDDEN"
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

async fn run(app: &TestApp, users: &[Account], case: usize, ops: &[Op]) {
    let mut profiles: Vec<Profile> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let want = expected(&profiles, op);
        let profile_id = |index: &usize| {
            profiles.get(*index).map_or_else(
                || api::graphql::NodeId::profile(9_999_999).to_string(),
                |p| p.id.clone(),
            )
        };
        let name = format!("case{case}-{step}");
        let response = match op {
            Op::Create { actor } => {
                app.gql_as(&users[*actor].token, "mutation($n: String!) { createProfile(name: $n) { id } }", json!({ "n": name })).await
            }
            Op::Set { actor, profile, target, owner } => {
                let role = if *owner { "OWNER" } else { "MANAGER" };
                app.gql_as(
                    &users[*actor].token,
                    "mutation($p: ID!, $u: ID!, $r: ProfileRole!) { addProfileManager(profileId: $p, userId: $u, role: $r) { role } }",
                    json!({ "p": profile_id(profile), "u": users[*target].id, "r": role }),
                )
                .await
            }
            Op::Remove { actor, profile, target } => {
                app.gql_as(
                    &users[*actor].token,
                    "mutation($p: ID!, $u: ID!) { removeProfileManager(profileId: $p, userId: $u) { changed } }",
                    json!({ "p": profile_id(profile), "u": users[*target].id }),
                )
                .await
            }
            Op::Delete { actor, profile } => {
                app.gql_as(&users[*actor].token, "mutation($p: ID!) { deleteProfile(id: $p) }", json!({ "p": profile_id(profile) })).await
            }
        };
        let got = if response.errors().is_empty() {
            "OK"
        } else {
            response.code()
        };
        assert_eq!(got, want, "step {step} {op:?}: {}", response.body);
        if got == "OK" {
            let id = response.body["data"]["createProfile"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            apply(&mut profiles, op, name, id);
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
    let cases = AtomicUsize::new(0);
    let handle = tokio::runtime::Handle::current();
    let config = ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = tokio::task::block_in_place(|| {
        runner.run(&proptest::collection::vec(op(), 1..12), |ops| {
            let case = cases.fetch_add(1, Ordering::Relaxed);
            handle.block_on(run(app, &users, case, &ops));
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
