//! Who a call is made for, beyond who makes it: the gateway asks for rails and records
//! interactions on behalf of the partner whose key a public request carries, and the partner
//! is that, never what a request's fields say. The name travels in the `imprint-partner-bin`
//! metadata, which only Imprint's own clients set: the edge removes it from every call that
//! comes from outside ([`strip`]), so an editor's call is always first-party.
//!
//! Who made a change travels the same way: the edge, having authenticated a caller, says so in
//! `imprint-actor-bin` ([`set_actor`]), and the service that records the change reads it
//! ([`actor_of`]). A call without it comes from Imprint itself.

use imprint_domain::audit::{Actor, Role, SubjectError, UnknownRole};
use tonic::metadata::{MetadataMap, MetadataValue};

/// The metadata naming the partner a call is made for.
pub const PARTNER: &str = "imprint-partner-bin";

/// The metadata naming who makes a call: `<role>:<subject>` (roles hold no colon).
pub const ACTOR: &str = "imprint-actor-bin";

/// An actor metadata entry that Imprint's own edge cannot have written.
#[derive(Debug, thiserror::Error)]
pub enum BadActor {
    /// Not UTF-8, or without the `<role>:` prefix.
    #[error("the {ACTOR} metadata is not <role>:<subject>")]
    Shape,
    /// The role is unknown.
    #[error("the {ACTOR} metadata: {0}")]
    Role(#[from] UnknownRole),
    /// The subject cannot be recorded.
    #[error("the {ACTOR} metadata: {0}")]
    Subject(#[from] SubjectError),
}

/// Marks `request` as made for `partner` (`None` leaves it first-party).
pub fn for_partner<T>(request: &mut tonic::Request<T>, partner: Option<&str>) {
    if let Some(partner) = partner.filter(|p| !p.is_empty()) {
        request
            .metadata_mut()
            .insert_bin(PARTNER, MetadataValue::from_bytes(partner.as_bytes()));
    }
}

/// The partner `request` is made for; `None` for first-party callers (editors, the site).
pub fn partner_of<T>(request: &tonic::Request<T>) -> Option<String> {
    request
        .metadata()
        .get_bin(PARTNER)
        .and_then(|v| v.to_bytes().ok())
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|p| !p.is_empty())
}

/// Removes what only Imprint's own clients may say from a call that came from outside.
pub fn strip(headers: &mut http::HeaderMap) {
    headers.remove(PARTNER);
    headers.remove(ACTOR);
}

/// Says that the call with `headers` is made by `actor` (nothing for the system, which is what
/// a call without the entry means).
pub fn set_actor(headers: &mut http::HeaderMap, actor: &Actor) {
    let Some(role) = actor.role() else {
        headers.remove(ACTOR);
        return;
    };
    let mut metadata = MetadataMap::from_headers(std::mem::take(headers));
    let value = format!("{}:{}", role.name(), actor.subject());
    metadata.insert_bin(ACTOR, MetadataValue::from_bytes(value.as_bytes()));
    *headers = metadata.into_headers();
}

/// Who makes `request`, as a status for the caller when the entry is malformed (only a
/// client inside the cluster, past the edge, can have sent it).
pub fn actor<T>(request: &tonic::Request<T>) -> Result<Actor, tonic::Status> {
    actor_of(request).map_err(|e| tonic::Status::invalid_argument(e.to_string()))
}

/// Who makes `request`: the caller the edge authenticated, or the system.
pub fn actor_of<T>(request: &tonic::Request<T>) -> Result<Actor, BadActor> {
    let Some(value) = request.metadata().get_bin(ACTOR) else {
        return Ok(Actor::System);
    };
    let bytes = value.to_bytes().map_err(|_| BadActor::Shape)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| BadActor::Shape)?;
    let (role, subject) = text.split_once(':').ok_or(BadActor::Shape)?;
    let role: Role = role.parse()?;
    Ok(Actor::from_record(subject, Some(role))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_travel_in_metadata_and_are_stripped_at_the_edge() {
        let mut request = tonic::Request::new(());
        assert_eq!(partner_of(&request), None);
        for_partner(&mut request, Some("Партнёр.org"));
        assert_eq!(partner_of(&request).as_deref(), Some("Партнёр.org"));
        let mut headers = request.metadata().clone().into_headers();
        strip(&mut headers);
        let request = tonic::Request::from_parts(
            tonic::metadata::MetadataMap::from_headers(headers),
            Default::default(),
            (),
        );
        assert_eq!(partner_of(&request), None);
    }

    #[test]
    fn actors_travel_in_metadata_and_are_stripped_at_the_edge() {
        let alice = Actor::from_record("alice:ops@example.org", Some(Role::Publisher)).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", http::HeaderValue::from_static("Bearer x"));
        set_actor(&mut headers, &alice);
        let request = |headers: &http::HeaderMap| {
            tonic::Request::from_parts(
                MetadataMap::from_headers(headers.clone()),
                Default::default(),
                (),
            )
        };
        // The subject may hold colons; only the first one ends the role.
        assert_eq!(actor_of(&request(&headers)).unwrap(), alice);
        assert!(headers.contains_key("authorization"));
        strip(&mut headers);
        assert_eq!(actor_of(&request(&headers)).unwrap(), Actor::System);
        set_actor(&mut headers, &Actor::System);
        assert_eq!(actor_of(&request(&headers)).unwrap(), Actor::System);
        for bad in ["editor", "root:alice", "editor: "] {
            let mut request = request(&headers);
            request
                .metadata_mut()
                .insert_bin(ACTOR, MetadataValue::from_bytes(bad.as_bytes()));
            assert!(actor_of(&request).is_err(), "{bad}");
        }
    }
}
