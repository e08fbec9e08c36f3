//! Update masks: which fields of a resource an update touches (AIP-134 semantics).

use crate::error::Violations;

/// A field of a resource that an update mask can name.
pub trait MaskField: Copy + Eq + Sized + 'static {
    /// Every updatable field, in the resource's order.
    const ALL: &'static [Self];

    /// The field's path in an update mask: `title`, `author_ids`.
    fn path(self) -> &'static str;

    /// Parses the paths of an update mask. An empty mask means every field (a full
    /// replacement); an unknown path is refused, naming it and the known ones.
    fn parse_mask(paths: &[String]) -> Result<Vec<Self>, Violations> {
        if paths.is_empty() || paths.iter().any(|p| p == "*") {
            return Ok(Self::ALL.to_vec());
        }
        let mut fields = Vec::with_capacity(paths.len());
        let mut violations = Violations::new();
        for path in paths {
            match Self::ALL.iter().find(|f| f.path() == path) {
                Some(f) if !fields.contains(f) => fields.push(*f),
                Some(_) => {}
                None => violations.push(
                    "update_mask",
                    format!(
                        "'{}' is not an updatable field; use one of: {}",
                        crate::id::shorten(path),
                        Self::ALL
                            .iter()
                            .map(|f| f.path())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            }
        }
        violations.into_result(|| fields)
    }
}
