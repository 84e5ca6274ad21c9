//! Which per-subscription listeners (`subscribe(filter, options, onMessage)`) a received
//! message goes to: a topic trie of listeners by filter, and the subscription identifier
//! each filter was last subscribed with (MQTT 5), which the client picks itself for a
//! listener's subscription when the application did not. It never calls a listener: it
//! returns them, for the driver to call after its borrow is released.

use js_sys::{Function, Object};

use crate::map::VecMap;
use crate::mqtt::codec::{Properties, Publish};
use crate::mqtt::topic::TopicTrie;

/// Subscription identifiers the client picks itself (for routing to listeners) count up
/// from here, well above the small numbers applications tend to choose.
const FIRST_AUTO_SUBSCRIPTION_ID: u32 = 0x0F00_0000;
/// The largest subscription identifier MQTT allows.
const MAX_SUBSCRIPTION_ID: u32 = 268_435_455;

pub(super) struct Routing {
    routes: TopicTrie<Vec<Function>>,
    /// The subscription identifier each filter was last subscribed with (v5): a PUBLISH
    /// carrying identifiers goes only to the listeners of those subscriptions.
    filter_ids: VecMap<String, u32>,
    next_subscription_id: u32,
}

impl Routing {
    pub fn new() -> Self {
        Routing {
            routes: TopicTrie::new(),
            filter_ids: VecMap::new(),
            next_subscription_id: FIRST_AUTO_SUBSCRIPTION_ID,
        }
    }

    /// Gives a listener's subscription an identifier when it has none, so the copies a
    /// broker sends for overlapping subscriptions reach only the listener they are for.
    /// Returns the identifier the subscription will carry, if any.
    pub fn identify(&mut self, properties: &mut Properties, has_listener: bool) -> Option<u32> {
        if has_listener && properties.subscription_identifiers.is_empty() {
            let id = self.next_subscription_id;
            self.next_subscription_id = if id >= MAX_SUBSCRIPTION_ID {
                FIRST_AUTO_SUBSCRIPTION_ID
            } else {
                id + 1
            };
            properties.subscription_identifiers.push(id);
        }
        properties.subscription_identifiers.first().copied()
    }

    /// SUBSCRIBE sent for `filters` with identifier `id`: `listener` gets their messages.
    pub fn subscribed(&mut self, filters: &[String], id: Option<u32>, listener: Option<&Function>) {
        for name in filters {
            match id {
                Some(id) => self.filter_ids.insert(name.clone(), id),
                None => self.filter_ids.remove(name),
            };
            if let Some(l) = listener {
                match self.routes.get_mut(name) {
                    Some(list) => list.push(l.clone()),
                    None => {
                        self.routes.insert(name, vec![l.clone()]);
                    }
                }
            }
        }
    }

    /// `listener` no longer gets the messages of `filter` (the broker refused it).
    pub fn remove(&mut self, filter: &str, listener: &Function) {
        let Some(list) = self.routes.get_mut(filter) else {
            return;
        };
        if let Some(i) = list.iter().position(|f| Object::is(f, listener)) {
            list.remove(i);
        }
        if list.is_empty() {
            self.routes.remove(filter);
        }
    }

    /// UNSUBSCRIBE sent: no listener gets the messages of `filters` any more.
    pub fn unsubscribed(&mut self, filters: &[String]) {
        for f in filters {
            self.routes.remove(f);
            self.filter_ids.remove(f);
        }
    }

    /// The listeners `p` goes to, each once even when several of its filters match. When
    /// the PUBLISH names the subscriptions it is for (v5 subscription identifiers; a
    /// broker may send one copy per matching subscription), only their listeners get it.
    pub fn listeners_for(&self, p: &Publish) -> Vec<Function> {
        let ids = &p.properties.subscription_identifiers;
        let mut seen: Vec<Function> = Vec::new();
        self.routes.for_each_match(&p.topic, |filter, fs| {
            if !ids.is_empty()
                && !self
                    .filter_ids
                    .get(filter)
                    .is_some_and(|id| ids.contains(id))
            {
                return;
            }
            for f in fs {
                if !seen.iter().any(|s| Object::is(s, f)) {
                    seen.push(f.clone());
                }
            }
        });
        seen
    }
}
