//! Who a call is made for, beyond who makes it: the gateway asks for rails and records
//! interactions on behalf of the partner whose key a public request carries, and the partner
//! is that, never what a request's fields say. The name travels in the `imprint-partner-bin`
//! metadata, which only Imprint's own clients set: the edge removes it from every call that
//! comes from outside ([`strip`]), so an editor's call is always first-party.

use tonic::metadata::MetadataValue;

/// The metadata naming the partner a call is made for.
pub const PARTNER: &str = "imprint-partner-bin";

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
}
