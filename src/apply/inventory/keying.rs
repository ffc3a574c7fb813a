//! Which component an object is: by the key the state records for its ID,
//! else by its component tag; duplicates and objects without a key are strays.

use super::*;

pub(super) fn component(tags: &BTreeMap<String, String>) -> String {
    tags.get(TAG_COMPONENT).cloned().unwrap_or_default()
}

/// What keying and ownership read of an EC2 object.
pub(super) trait Object {
    fn id(&self) -> &str;
    fn tags(&self) -> &BTreeMap<String, String>;
}

impl Object for Found {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

impl Object for RouteTable {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

impl Object for SecurityGroup {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

/// Keys objects by component: the key the state records for an object's ID
/// (`known`), else its component tag, so a component tag changed or removed out
/// of band is drift to retag, not a component missing and built twice. Objects
/// the state names are keyed first; then the first of each key wins, and the
/// rest, and objects with no key at all, are strays.
pub(super) fn key_by_component<T: Object>(
    items: Vec<T>,
    known: &BTreeMap<String, String>,
    strays: &mut Vec<T>,
) -> BTreeMap<String, T> {
    let (named, others): (Vec<T>, Vec<T>) =
        items.into_iter().partition(|i| known.contains_key(i.id()));
    let mut keyed = BTreeMap::new();
    for item in named.into_iter().chain(others) {
        let key = match known.get(item.id()) {
            Some(key) => key.clone(),
            None => component(item.tags()),
        };
        if key.is_empty() || keyed.contains_key(&key) {
            strays.push(item);
        } else {
            keyed.insert(key, item);
        }
    }
    keyed
}

/// Instances the provider launched itself: those of the Auto Scaling Group (launched
/// from the template, so tagged for the environment too) belong to the group, which
/// replaces them if they are terminated behind its back and removes them when deleted.
pub(super) fn standalone(instances: Vec<Found>) -> Vec<Found> {
    instances
        .into_iter()
        .filter(|i| !i.tags.contains_key("aws:autoscaling:groupName"))
        .filter(|i| !matches!(component(&i.tags).as_str(), "lt" | "asg"))
        .collect()
}

/// The one object of a singleton component; any other is a stray.
pub(super) fn single(
    items: Vec<Found>,
    key: &str,
    known: &BTreeMap<String, String>,
    strays: &mut Vec<Found>,
) -> Option<Found> {
    let mut keyed = key_by_component(items, known, strays);
    let found = keyed.remove(key);
    strays.extend(keyed.into_values());
    found
}

/// Whether `key` is a key of the shape `pattern`, in which `*` stands for one
/// segment (a zone, a role, ...).
pub fn key_matches(pattern: &str, key: &str) -> bool {
    let mut pattern = pattern.split('/');
    let mut segments = key.split('/');
    loop {
        match (pattern.next(), segments.next()) {
            (None, None) => return true,
            (Some("*"), Some(segment)) if !segment.is_empty() => {}
            (Some(expected), Some(segment)) if expected == segment => {}
            _ => return false,
        }
    }
}

/// Keys the objects each of the `kinds` listed (see [`key_by_component`]):
/// one whose key is not of its kind's shape, a duplicate, or one without a
/// key is a stray of its listing.
pub(super) fn key_listed(
    mut found: BTreeMap<&'static str, ec2::Listed>,
    kinds: &[ListedKind],
    known: &BTreeMap<String, String>,
    strays: &mut BTreeMap<&'static str, ec2::Listed>,
) -> BTreeMap<String, Found> {
    let mut keyed = BTreeMap::new();
    for kind in kinds {
        let operation = kind.listing.operation;
        let objects = found.remove(operation).unwrap_or_default().objects;
        let strays = &mut strays
            .entry(operation)
            .or_insert_with(|| ec2::Listed {
                noun: kind.listing.noun,
                objects: Vec::new(),
            })
            .objects;
        for (key, object) in key_by_component(objects, known, strays) {
            if kind.matches(&key) {
                keyed.insert(key, object);
            } else {
                strays.push(object);
            }
        }
    }
    keyed
}
