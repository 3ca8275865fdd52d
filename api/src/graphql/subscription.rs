//! Live changes of who manages which profile, and of the invitations sent to the subscriber,
//! delivered to subscribers on every replica.

use std::collections::HashSet;

use async_graphql::{Context, Enum, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use entity::user_profile;
use futures_util::{Stream, stream};
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{
    id::{NodeId, NodeType},
    invitation::{self, ProfileInvitation},
    loaders::{Batch, ProfileKey, UserKey},
    membership::ProfileRole,
    profile::Profile,
    state,
    user::User,
};
use crate::{
    auth::{guards::Authenticated, rules::ProfileAccess},
    error::AppError,
    events::{self, Event},
    store::memberships,
};

/// What happened to a user's link to a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::events::Change", name = "MembershipChange")]
pub enum MembershipChange {
    /// The user became a manager of the profile.
    Added,
    /// The user no longer manages the profile.
    Removed,
    /// The user's role on the profile changed.
    RoleChanged,
}

/// A change of who manages a profile.
#[derive(Debug)]
pub struct MembershipEvent(events::Membership);

#[Object]
impl MembershipEvent {
    /// What happened.
    async fn kind(&self) -> MembershipChange {
        self.0.change.into()
    }

    /// The ID of the profile.
    async fn profile_id(&self) -> ID {
        NodeId::profile(self.0.profile_id)
    }

    /// The ID of the user.
    async fn user_id(&self) -> ID {
        NodeId::user(self.0.user_id)
    }

    /// The profile, when the subscriber may still see it.
    async fn profile(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Profile>> {
        Ok(Batch::of(ctx)?
            .load_one(ProfileKey(self.0.profile_id))
            .await?
            .map(Profile::new))
    }

    /// The user, when the subscriber may see them (a user removed from the subscriber's only
    /// shared profile no longer is: see `userId`).
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(Batch::of(ctx)?
            .load_one(UserKey(self.0.user_id))
            .await?
            .map(User::new))
    }

    /// The user's role on the profile after the change; null when the user was removed.
    async fn role(&self) -> Option<ProfileRole> {
        self.0.role.map(Into::into)
    }

    /// When the change was made.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// The changes of membership a subscription still wants, and how to tell.
struct Follow {
    me: i64,
    /// The profiles followed; `None` follows one fixed profile.
    managed: HashSet<i64>,
    /// Follows every event of one profile, and ends when the subscriber leaves it (unless
    /// they may read every profile).
    single: Option<(i64, bool)>,
    done: bool,
}

type Events = Answers<MembershipEvent>;
/// The answers of a subscription.
type Answers<T> = std::pin::Pin<Box<dyn Stream<Item = async_graphql::Result<T>> + Send>>;

/// What a subscription delivers of the events of every replica.
trait Follows: Send + 'static {
    type Item: Send + 'static;
    /// The answer to deliver for `event`, if any, updating what is followed.
    fn accept(&mut self, event: Event) -> Option<Self::Item>;
    /// Whether the subscription has ended (after the last answer `accept` gave).
    fn done(&self) -> bool;
}

/// The answers of `follows`, from now on, until it is done. A replica that lost events, or a
/// subscriber that fell behind, ends the subscription with an error: the client subscribes
/// again and catches up.
fn follow<F: Follows>(events: Receiver<Event>, follows: F) -> Answers<F::Item> {
    Box::pin(stream::unfold(
        (events, follows, false),
        |(mut events, mut follows, mut ended)| async move {
            if ended || follows.done() {
                return None;
            }
            loop {
                let error = match events.recv().await {
                    Ok(Event::Missed) => AppError::Unavailable,
                    Ok(event) => match follows.accept(event) {
                        Some(answer) => return Some((Ok(answer), (events, follows, ended))),
                        None => continue,
                    },
                    // A subscriber that cannot keep up is dropped, not buffered without bound.
                    Err(RecvError::Lagged(_)) => AppError::bad_input(
                        "events came faster than this subscription read them; subscribe again",
                    ),
                    Err(RecvError::Closed) => return None,
                };
                ended = true;
                return Some((Err(error.into()), (events, follows, ended)));
            }
        },
    ))
}

impl Follows for Follow {
    type Item = MembershipEvent;

    fn done(&self) -> bool {
        self.done
    }

    fn accept(&mut self, event: Event) -> Option<MembershipEvent> {
        let Event::Membership(change) = event else {
            return None;
        };
        let mine = change.user_id == self.me;
        let removed = change.change == events::Change::Removed;
        match self.single {
            Some((profile, read_all)) => {
                if change.profile_id != profile {
                    return None;
                }
                if mine && removed && !read_all {
                    self.done = true;
                }
            }
            None => {
                if mine && removed {
                    self.managed.remove(&change.profile_id);
                } else if mine {
                    self.managed.insert(change.profile_id);
                } else if !self.managed.contains(&change.profile_id) {
                    return None;
                }
            }
        }
        Some(MembershipEvent(change))
    }
}

/// What happened to an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::events::InvitationChange", name = "InvitationChange")]
pub enum InvitationChange {
    /// The invitation was sent, or sent again with a new role or expiry.
    Sent,
    /// The invitee accepted it.
    Accepted,
    /// The invitee declined it.
    Declined,
    /// An owner of the profile revoked it.
    Revoked,
}

/// A change of an invitation sent to the subscriber's address.
#[derive(Debug)]
pub struct InvitationEvent(events::Invitation);

#[Object]
impl InvitationEvent {
    /// What happened.
    async fn kind(&self) -> InvitationChange {
        self.0.change.into()
    }

    /// The ID of the invitation.
    async fn invitation_id(&self) -> ID {
        NodeId::invitation(self.0.invitation_id)
    }

    /// The invitation as it is when the event is delivered; null once it is no longer pending.
    async fn invitation(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ProfileInvitation>> {
        invitation::node(ctx, self.0.invitation_id).await
    }

    /// When the change was made.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// Follows the invitations sent to one address (its `auth::email::digest`).
struct Invitee(String);

impl Follows for Invitee {
    type Item = InvitationEvent;

    fn done(&self) -> bool {
        false
    }

    fn accept(&mut self, event: Event) -> Option<InvitationEvent> {
        match event {
            Event::Invitation(change) if change.invitee == self.0 => Some(InvitationEvent(change)),
            _ => None,
        }
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every change of the managers of this profile, from now on. For its managers and
    /// `profiles:read` holders; a manager who is removed gets that event, then no more.
    #[graphql(guard = "Authenticated")]
    async fn profile_membership_changed(
        &self,
        ctx: &Context<'_>,
        profile_id: ID,
    ) -> async_graphql::Result<Events> {
        let key = NodeId::decode_as(&profile_id, NodeType::Profile)?;
        let viewer = super::viewer(ctx).await?;
        let db = state(ctx)?;
        // Subscribe first: no change slips between the check and the subscription.
        let events = db.events().subscribe();
        let access = ProfileAccess::of(&db.conn(), viewer, key)
            .await
            .map_err(AppError::from)?;
        if !access.visible() {
            return Err(AppError::not_found("no such profile").into());
        }
        let read_all = viewer.can(crate::auth::Permission::ProfilesRead);
        Ok(follow(
            events,
            Follow {
                me: viewer.id(),
                managed: HashSet::new(),
                single: Some((key, read_all)),
                done: false,
            },
        ))
    }

    /// Every change of the managers of the profiles the caller manages, from now on,
    /// including the caller being added to a profile or removed from one.
    #[graphql(guard = "Authenticated")]
    async fn my_profiles_changed(&self, ctx: &Context<'_>) -> async_graphql::Result<Events> {
        let viewer = super::viewer(ctx).await?;
        let db = state(ctx)?;
        let events = db.events().subscribe();
        let links = memberships::links_of(&db.conn(), user_profile::Column::UserId, viewer.id())
            .await
            .map_err(AppError::from)?;
        Ok(follow(
            events,
            Follow {
                me: viewer.id(),
                managed: links.into_iter().map(|link| link.profile_id).collect(),
                single: None,
                done: false,
            },
        ))
    }

    /// Every change of the invitations sent to the caller's address, from now on: one sent or
    /// sent again, revoked, accepted or declined (expiry is not announced: see `expiresAt`).
    #[graphql(guard = "Authenticated")]
    async fn my_invitations_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Answers<InvitationEvent>> {
        let viewer = super::viewer(ctx).await?;
        let events = state(ctx)?.events().subscribe();
        Ok(follow(
            events,
            Invitee(crate::auth::email::digest(&viewer.user.email)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::sync::broadcast;

    use super::*;
    use crate::events::{Change, Membership};

    fn following(events: Receiver<Event>) -> Events {
        follow(
            events,
            Follow {
                me: 1,
                managed: HashSet::from([7]),
                single: None,
                done: false,
            },
        )
    }

    fn added(user_id: i64) -> Event {
        Membership::now(
            Change::Added,
            7,
            user_id,
            Some(entity::ProfileRole::Manager),
        )
    }

    #[tokio::test]
    async fn a_subscriber_that_keeps_up_gets_every_event() {
        let (sender, events) = broadcast::channel(2);
        let mut stream = following(events);
        for user_id in 2..6 {
            sender.send(added(user_id)).expect("a receiver");
            let event = stream.next().await.expect("an event").expect("no error");
            assert_eq!(event.0.user_id, user_id);
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_dropped() {
        let (sender, events) = broadcast::channel(2);
        let mut stream = following(events);
        for user_id in 2..6 {
            sender.send(added(user_id)).expect("a receiver");
        }
        let error = stream
            .next()
            .await
            .expect("an answer")
            .expect_err("dropped");
        assert!(
            error.message.contains("subscribe again"),
            "{}",
            error.message
        );
        assert!(stream.next().await.is_none(), "the subscription ends");
    }
}
